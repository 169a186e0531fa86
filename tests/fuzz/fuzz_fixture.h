/*
 * fuzz_fixture.h — what the libFuzzer harnesses (fuzz_rx, fuzz_secure)
 * share: the endpoint limits and timers they fuzz with, the table of calls
 * they issue and the check that each got exactly one continuation, the
 * TERN_FUZZ_TRACE counters dump, and little-endian stores for the packets
 * they stamp. Each harness keeps its own endpoints, handlers and records.
 */
#ifndef TERN_FUZZ_FIXTURE_H
#define TERN_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "inject.h"

#define FZ_MS        1000000ull
#define FZ_MAX_CALLS 512

/*
 * inj_config() with the small limits and short timers both harnesses use
 * (4 slots, 8 credits, 8 sessions, 64 KiB messages, 16 MiB, backlog 16,
 * server queue 8, 4 retries, call timeout 500 ms, keepalive 20 ms, session
 * timeout 100 ms), and the given MTU and connect timeout.
 */
void fz_config(struct tern_ep_config *cfg, uint32_t mtu, uint64_t connect_timeout_ns);

/* One call a harness issued: its continuation count (must end at 1) and,
 * for fuzz_rx, whether its continuation closes its session. */
struct fz_call {
	int done;
	int closing;
	struct tern_session *s;
};

/*
 * A call of type 1 (oneway: a one-way send of type 4) on s from ep, with
 * len bytes of inj_fill() data and tern_call_ex flags, tracked in the
 * table with cont as its continuation (ctx: the struct fz_call). Returns
 * the call, or NULL when s is NULL, the table is full, or the library
 * refused it (the message freed).
 */
struct fz_call *fz_issue(struct tern_ep *ep, struct tern_session *s, size_t len, int oneway,
			 unsigned flags, tern_cont_fn cont);
/* A continuation's first step: traps on a second continuation for c. */
void fz_call_done(struct fz_call *c);
/* After the endpoints are destroyed: traps if an accepted call never got
 * its continuation; empties the table. */
void fz_calls_finish(void);

/* TERN_FUZZ_TRACE is set (read once). */
int fz_trace(void);
/* With TERN_FUZZ_TRACE: ep's counters to stderr. */
void fz_trace_stats(struct tern_ep *ep);

static inline void fz_put16(uint8_t *p, uint16_t v)
{
	v = tern_le16(v);
	memcpy(p, &v, 2);
}

static inline void fz_put32(uint8_t *p, uint32_t v)
{
	v = tern_le32(v);
	memcpy(p, &v, 4);
}

static inline void fz_put64(uint8_t *p, uint64_t v)
{
	v = tern_le64(v);
	memcpy(p, &v, 8);
}

#endif
