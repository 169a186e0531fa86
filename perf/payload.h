/*
 * payload.h — what tern-perf puts in requests and responses, so the echo
 * server can size its answer and the client can verify every byte.
 *
 * A request of at least PERF_HDR_LEN bytes starts with a header:
 *
 *   0      4           8                 16
 *   +------+-----------+-----------------+------------------------
 *   | magic| resp_size |       seq       | pattern(seq) ...
 *   +------+-----------+-----------------+------------------------
 *   little-endian; magic = "tprf"
 *
 * and the rest is pattern(seq). A shorter request is pattern(seq) from its
 * first byte, with no header (the server then echoes it at its own size).
 * The response is the request's bytes up to its length, then pattern(seq)
 * (seq 0 without a header) up to the response size. The pattern is keyed by
 * absolute offset — its 8-byte word k is seq * golden + k — so any shifted,
 * misplaced, stale (other seq) or truncated data is caught, and filling it
 * runs at memset-like speed.
 */
#ifndef TERN_PERF_PAYLOAD_H
#define TERN_PERF_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PERF_HDR_LEN 16u
#define PERF_MAGIC   0x66727074u /* "tprf" little-endian */

struct perf_hdr {
	uint32_t resp_size;
	uint64_t seq;
};

/* Fill buf with bytes [off, off + len) of pattern(seq). */
void perf_pattern_fill(void *buf, size_t off, size_t len, uint64_t seq);

/* Build a request of len bytes for call seq, asking for resp_size bytes back.
 * full: the whole request is pattern(seq), as perf_resp_check() expects;
 * otherwise only the header is written (at most PERF_HDR_LEN bytes) and the
 * rest is whatever the buffer held: producing the data is not measured. */
void perf_req_build(void *buf, size_t len, uint64_t seq, uint32_t resp_size, bool full);

/* Decode a request's header. @return true if it has one. */
bool perf_req_parse(const void *buf, size_t len, struct perf_hdr *h);

/* Build the response (resp_len bytes) to a request (req, req_len). */
void perf_resp_build(void *resp, size_t resp_len, const void *req, size_t req_len);

/* Check a response to the request perf_req_build(len = req_len, seq,
 * resp_size) made. @return 0, or the first wrong offset + 1 (a length
 * mismatch reports the shorter length + 1). */
size_t perf_resp_check(const void *resp, size_t resp_len, size_t req_len, uint64_t seq,
		       uint32_t resp_size);

#endif
