/*
 * payload.c — request/response contents (layout in payload.h).
 *
 * Fills and checks work a word at a time with explicit little-endian byte
 * order, so a big-endian peer would produce the same bytes; the compiler
 * turns the word loops into vector stores on x86.
 */
#include <endian.h>
#include <string.h>

#include "payload.h"

#define GOLDEN 0x9e3779b97f4a7c15ull /* 2^64 / phi: seeds differ in every byte */

static inline uint64_t pat_word(uint64_t seq, uint64_t k)
{
	return htole64(seq * GOLDEN + k);
}

void perf_pattern_fill(void *buf, size_t off, size_t len, uint64_t seq)
{
	uint8_t *p = buf;
	/* Head: bytes up to the next word boundary of the absolute offset. */
	while (len != 0 && (off & 7) != 0) {
		uint64_t w = pat_word(seq, off >> 3);
		*p++ = ((const uint8_t *)&w)[off & 7];
		off++;
		len--;
	}
	uint64_t k = off >> 3;
	for (; len >= 8; len -= 8, p += 8, k++) {
		uint64_t w = pat_word(seq, k);
		memcpy(p, &w, 8);
	}
	if (len != 0) {
		uint64_t w = pat_word(seq, k);
		memcpy(p, &w, len);
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static void hdr_put(uint8_t *p, uint64_t seq, uint32_t resp_size)
{
	put_le32(p, PERF_MAGIC);
	put_le32(p + 4, resp_size);
	put_le64(p + 8, seq);
}

void perf_req_build(void *buf, size_t len, uint64_t seq, uint32_t resp_size, bool full)
{
	uint8_t *p = buf;
	if (len < PERF_HDR_LEN) {
		perf_pattern_fill(p, 0, len, seq);
		return;
	}
	hdr_put(p, seq, resp_size);
	if (full)
		perf_pattern_fill(p + PERF_HDR_LEN, PERF_HDR_LEN, len - PERF_HDR_LEN, seq);
}

bool perf_req_parse(const void *buf, size_t len, struct perf_hdr *h)
{
	const uint8_t *p = buf;
	if (len < PERF_HDR_LEN || get_le32(p) != PERF_MAGIC)
		return false;
	h->resp_size = get_le32(p + 4);
	h->seq = get_le64(p + 8);
	return true;
}

void perf_resp_build(void *resp, size_t resp_len, const void *req, size_t req_len)
{
	struct perf_hdr h = {0, 0};
	size_t n = req_len < resp_len ? req_len : resp_len;
	memcpy(resp, req, n);
	if (n < resp_len) {
		(void)perf_req_parse(req, req_len, &h); /* no header: seq 0 */
		perf_pattern_fill((uint8_t *)resp + n, n, resp_len - n, h.seq);
	}
}

/* 0, or the first offset in [off, off + len) where buf differs from pattern(seq), + 1. */
static size_t pattern_check(const uint8_t *buf, size_t off, size_t len, uint64_t seq)
{
	uint8_t want[256];
	while (len != 0) {
		size_t n = len < sizeof(want) ? len : sizeof(want);
		perf_pattern_fill(want, off, n, seq);
		if (memcmp(buf, want, n) != 0) {
			for (size_t i = 0; i < n; i++)
				if (buf[i] != want[i])
					return off + i + 1;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

size_t perf_resp_check(const void *resp, size_t resp_len, size_t req_len, uint64_t seq,
		       uint32_t resp_size)
{
	const uint8_t *r = resp;
	size_t want_len = req_len < PERF_HDR_LEN ? req_len : resp_size;
	size_t n = resp_len < want_len ? resp_len : want_len;
	size_t bad;
	if (req_len < PERF_HDR_LEN) {
		/* No header: an echo of pattern(seq). */
		bad = pattern_check(r, 0, n, seq);
	} else {
		/* The header is echoed only as far as the response reaches. */
		uint8_t h[PERF_HDR_LEN];
		hdr_put(h, seq, resp_size);
		size_t hn = n < PERF_HDR_LEN ? n : PERF_HDR_LEN;
		for (size_t i = 0; i < hn; i++)
			if (r[i] != h[i])
				return i + 1;
		bad = n > hn ? pattern_check(r + hn, hn, n - hn, seq) : 0;
	}
	if (bad != 0)
		return bad;
	return resp_len == want_len ? 0 : n + 1;
}
