/*
 * bench.h — blkstore-cli's bench: random I/O of one block size at a fixed
 * queue depth against a blkstore server (remote) or straight at a file
 * through io_uring (local), latency into perf/hist.h's histogram.
 */
#ifndef BLKSTORE_BENCH_H
#define BLKSTORE_BENCH_H

#include <stdint.h>

#include "blkstore_client.h"
#include "hist.h"

enum bench_rw { RW_READ = 1, RW_WRITE, RW_MIX };

struct bench_opts {
	unsigned qd;          /* I/Os in flight */
	double duration_s;    /* measured time per run */
	double warmup_s;      /* unmeasured time before it */
	enum bench_rw rw;
	unsigned mix_read;    /* RW_MIX: percent reads */
	uint32_t bs;          /* I/O size */
	uint64_t range;       /* offsets in [0, range) (0: the whole export) */
	uint64_t seed;
	int busy;             /* spin instead of sleeping while waiting */
	int buffered;         /* local: never O_DIRECT */
	int progress;         /* a line on stderr about once a second */
};

struct bench_result {
	const char *target;   /* "remote" or "local" */
	uint64_t ops, errors, reads, writes;
	int first_error;
	double elapsed_s;
	int direct;           /* the file's I/O mode (local: ours; remote: the server's) */
	struct hist h;        /* latency in ns, successful I/Os */
};

/* Run against the server behind c (ep is c's endpoint; size: the export's,
 * direct: the server's mode from Stat). @return 0, or -errno if nothing
 * could be started. */
int bench_remote(struct blkstore_client *c, struct tern_ep *ep, uint64_t size, int direct,
		 const struct bench_opts *o, struct bench_result *r);

/* Run against path through a local io_uring. ep (may be NULL): an endpoint
 * to keep polling about once a millisecond meanwhile, so its sessions
 * stay alive (keepalives, ACKs) between remote runs. why gets a sentence
 * on error. */
int bench_local(const char *path, struct tern_ep *ep, const struct bench_opts *o,
		struct bench_result *r, char *why, size_t whylen);

/* One result: a human line, or a JSON object (one line), to stdout. label
 * names the run ("round 2", "all"). */
void bench_print(const struct bench_result *r, const struct bench_opts *o, const char *label,
		 int json);

#endif /* BLKSTORE_BENCH_H */
