/*
 * bench.c — random-I/O benchmark for blkstore-cli (bench.h).
 *
 * Both targets run the same closed loop: qd slots, each issues an I/O of
 * bs bytes at a uniformly random aligned offset, records its latency from
 * issue to completion, and issues the next. Warm-up I/Os are not recorded.
 * Remote I/Os go through blkstore_client (the raw data path unless the
 * client was made with BLKSTORE_CLIENT_PB); local ones through an io_uring
 * on the file, opened the way the server opens it (O_DIRECT when the file
 * system has it), so the two differ by the network and the server only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "disk.h"

#define DRAIN_NS 10000000000ull /* after the run: wait this long for stragglers */
#define WAIT_NS  1000000ull     /* non-busy: sleep at most this long per wait */
#define TERN_POLL_NS 1000000ull /* local runs: poll the endpoint this often */

struct slot {
	struct brun *run;
	uint64_t start;
	uint8_t is_read;
	uint8_t busy;
	uint8_t *buf;
};

/* One run's state, shared by both targets. */
struct brun {
	const struct bench_opts *o;
	struct bench_result *r;
	struct slot *slots;
	uint64_t rng;
	uint64_t blocks;       /* offsets: [0, blocks) * bs */
	uint64_t t0, t_measure, t_end, t_tick;
	int stopping;
	unsigned inflight;
	struct hist tick;      /* this second's latencies, for the progress line */
	uint64_t tick_ops;
	/* the target */
	struct blkstore_client *c;
	struct disk *d;
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s; /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int next_is_read(struct brun *b)
{
	switch (b->o->rw) {
	case RW_READ: return 1;
	case RW_WRITE: return 0;
	default: return rnd(&b->rng) % 100 < b->o->mix_read;
	}
}

static int issue(struct brun *b, struct slot *s);

static void progress(struct brun *b, uint64_t now)
{
	if (!b->o->progress || now < b->t_tick)
		return;
	double t = (double)(now - b->t0) / 1e9;
	if (now < b->t_measure) {
		fprintf(stderr, "%s: %5.1fs warm-up\n", b->r->target, t);
	} else {
		fprintf(stderr,
			"%s: %5.1fs %9" PRIu64 " IOPS  p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  errors %" PRIu64 "\n",
			b->r->target, t, b->tick_ops, (double)hist_quantile(&b->tick, 0.5) / 1e3,
			(double)hist_quantile(&b->tick, 0.99) / 1e3,
			(double)hist_quantile(&b->tick, 0.999) / 1e3, b->r->errors);
	}
	hist_init(&b->tick);
	b->tick_ops = 0;
	b->t_tick += 1000000000ull;
}

/* One I/O of slot s ended with status at now. */
static void complete(struct brun *b, struct slot *s, int status)
{
	uint64_t now = tern_now_ns();
	s->busy = 0;
	b->inflight--;
	if (s->start >= b->t_measure && s->start < b->t_end) {
		if (status == 0) {
			uint64_t lat = now - s->start;
			hist_add(&b->r->h, lat);
			hist_add(&b->tick, lat);
			b->r->ops++;
			b->tick_ops++;
			if (s->is_read)
				b->r->reads++;
			else
				b->r->writes++;
		} else {
			if (b->r->errors++ == 0)
				b->r->first_error = status;
		}
	}
	progress(b, now);
	if (now >= b->t_end)
		b->stopping = 1;
	if (!b->stopping)
		(void)issue(b, s);
}

/* --- remote -------------------------------------------------------------- */

static void remote_done(int status, void *ctx)
{
	struct slot *s = ctx;
	complete(s->run, s, status);
}

/* --- local --------------------------------------------------------------- */

static void local_done(void *user_data, int res, void *arg)
{
	(void)arg;
	struct slot *s = user_data;
	struct brun *b = s->run;
	int status = res < 0 ? res : (uint32_t)res == b->o->bs ? 0 : -EIO; /* short: counted as an error */
	complete(b, s, status);
}

static int issue(struct brun *b, struct slot *s)
{
	uint64_t off = (rnd(&b->rng) % b->blocks) * b->o->bs;
	s->is_read = (uint8_t)next_is_read(b);
	s->start = tern_now_ns();
	int rc;
	if (b->c != NULL) {
		rc = s->is_read ? blkstore_read(b->c, off, s->buf, b->o->bs, remote_done, s)
				: blkstore_write(b->c, off, s->buf, b->o->bs, 0, remote_done, s);
	} else {
		struct io_uring_sqe *sqe = disk_sqe(b->d);
		rc = -EBUSY;
		if (sqe != NULL) {
			if (s->is_read)
				disk_prep_read(b->d, sqe, s->buf, b->o->bs, off, s);
			else
				disk_prep_write(b->d, sqe, s->buf, b->o->bs, off, 0, s);
			rc = 0;
		}
	}
	if (rc != 0) {
		if (b->r->errors++ == 0)
			b->r->first_error = rc;
		return rc;
	}
	s->busy = 1;
	b->inflight++;
	return 0;
}

static int run_setup(struct brun *b, const struct bench_opts *o, struct bench_result *r,
		     uint64_t size, const char *target)
{
	memset(b, 0, sizeof(*b));
	hist_init(&b->tick);
	/* Field by field, not memset(r) then hist_init(&r->h): gcc 12 with
	 * -fsanitize=address,undefined sees the second memset out of bounds. */
	hist_init(&r->h);
	r->ops = r->errors = r->reads = r->writes = 0;
	r->first_error = 0;
	r->elapsed_s = 0;
	r->direct = 0;
	r->target = target;
	b->o = o;
	b->r = r;
	b->rng = o->seed != 0 ? o->seed : 0x9e3779b97f4a7c15ull;
	uint64_t range = o->range != 0 && o->range < size ? o->range : size;
	b->blocks = range / o->bs;
	if (o->qd == 0 || o->bs == 0 || b->blocks == 0)
		return -EINVAL;
	b->slots = calloc(o->qd, sizeof(*b->slots));
	if (b->slots == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < o->qd; i++) {
		b->slots[i].run = b;
		if (posix_memalign((void **)&b->slots[i].buf, 4096, o->bs) != 0)
			return -ENOMEM;
		memset(b->slots[i].buf, 0x5a ^ (int)i, o->bs);
	}
	return 0;
}

static void run_free(struct brun *b)
{
	for (unsigned i = 0; b->slots != NULL && i < b->o->qd; i++)
		free(b->slots[i].buf);
	free(b->slots);
	b->slots = NULL;
}

static void run_start(struct brun *b)
{
	b->t0 = tern_now_ns();
	b->t_measure = b->t0 + (uint64_t)(b->o->warmup_s * 1e9);
	b->t_end = b->t_measure + (uint64_t)(b->o->duration_s * 1e9);
	b->t_tick = b->t0 + 1000000000ull;
	for (unsigned i = 0; i < b->o->qd; i++)
		(void)issue(b, &b->slots[i]);
}

int bench_remote(struct blkstore_client *c, struct tern_ep *ep, uint64_t size, int direct,
		 const struct bench_opts *o, struct bench_result *r)
{
	struct brun b;
	int rc = run_setup(&b, o, r, size, "remote");
	if (rc != 0) {
		run_free(&b);
		return rc;
	}
	r->direct = direct;
	b.c = c;
	run_start(&b);
	if (b.inflight == 0) {
		run_free(&b);
		return r->first_error != 0 ? r->first_error : -EIO;
	}
	uint64_t drain_end = b.t_end + DRAIN_NS;
	while (b.inflight != 0) {
		uint64_t now = tern_now_ns();
		if (now >= b.t_end)
			b.stopping = 1;
		if (now >= drain_end)
			break; /* cannot happen: tern ends every call by its deadline */
		rc = o->busy ? tern_poll(ep) : tern_poll_wait(ep, WAIT_NS);
		if (rc < 0)
			break;
	}
	r->elapsed_s = (double)(b.t_end - b.t_measure) / 1e9;
	if (b.inflight != 0)
		return -ETIMEDOUT; /* calls still out hold the slots: leave them be */
	run_free(&b);
	return 0;
}

int bench_local(const char *path, struct tern_ep *ep, const struct bench_opts *o,
		struct bench_result *r, char *why, size_t whylen)
{
	struct disk d;
	struct disk_opts dopt = {.path = path, .buffered = o->buffered, .depth = o->qd};
	int rc = disk_open(&d, &dopt, why, whylen);
	if (rc != 0)
		return rc;
	struct brun b;
	rc = run_setup(&b, o, r, d.size, "local");
	if (rc != 0) {
		snprintf(why, whylen, "bad options or no memory");
		goto out;
	}
	r->direct = d.direct;
	b.d = &d;
	run_start(&b);
	uint64_t next_tern = 0;
	while (b.inflight != 0) {
		uint64_t now = tern_now_ns();
		if (now >= b.t_end)
			b.stopping = 1;
		if (ep != NULL && now >= next_tern) { /* rare enough not to show in the numbers */
			(void)tern_poll(ep);
			next_tern = now + TERN_POLL_NS;
		}
		rc = disk_poll(&d, o->busy ? 0 : WAIT_NS, local_done, NULL);
		if (rc < 0) {
			snprintf(why, whylen, "io_uring: %s", strerror(-rc));
			break;
		}
	}
	r->elapsed_s = (double)(b.t_end - b.t_measure) / 1e9;
	rc = rc < 0 ? rc : 0;
out:
	disk_close(&d); /* waits for anything left before the buffers go */
	run_free(&b);
	return rc;
}

static const char *rw_name(enum bench_rw rw)
{
	return rw == RW_READ ? "read" : rw == RW_WRITE ? "write" : "mix";
}

void bench_print(const struct bench_result *r, const struct bench_opts *o, const char *label,
		 int json)
{
	double iops = r->elapsed_s > 0 ? (double)r->ops / r->elapsed_s : 0;
	double mbps = iops * o->bs / 1e6;
	const struct hist *h = &r->h;
	if (json) {
		printf("{\"run\":\"%s\",\"target\":\"%s\",\"rw\":\"%s\",\"qd\":%u,\"bs\":%u,"
		       "\"direct\":%s,\"duration_s\":%.3f,\"ops\":%" PRIu64 ",\"reads\":%" PRIu64
		       ",\"writes\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"iops\":%.0f,\"mb_s\":%.1f,"
		       "\"lat_ns\":{\"mean\":%.0f,\"min\":%" PRIu64 ",\"p50\":%" PRIu64
		       ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}}\n",
		       label, r->target, rw_name(o->rw), o->qd, o->bs, r->direct ? "true" : "false",
		       r->elapsed_s, r->ops, r->reads, r->writes, r->errors, iops, mbps, hist_mean(h),
		       h->count ? h->min : 0, hist_quantile(h, 0.5), hist_quantile(h, 0.99),
		       hist_quantile(h, 0.999), h->max);
	} else {
		printf("%-8s %-6s %-5s qd %-3u bs %-7u %-8s %10.0f IOPS %8.1f MB/s  p50 %7.1f us  "
		       "p99 %7.1f us  p99.9 %7.1f us  max %8.1f us  errors %" PRIu64 "\n",
		       label, r->target, rw_name(o->rw), o->qd, o->bs,
		       r->direct ? "O_DIRECT" : "buffered", iops, mbps,
		       (double)hist_quantile(h, 0.5) / 1e3, (double)hist_quantile(h, 0.99) / 1e3,
		       (double)hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3, r->errors);
	}
	fflush(stdout);
}
