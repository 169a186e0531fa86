/*
 * udp_peer.c — test_udp's other modes: the echo server and verifying client
 * that netns.sh runs in two network namespaces, and --bench, a few
 * measurements of the driver (not a test: nothing is asserted).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udp_test.h"

static const struct tern_drv_ops *const ops = &tern_drv_udp;

/* --- netns modes --------------------------------------------------------- */

/* Echo every datagram to its source until told "quit" or the time runs out. */
int udp_netns_server(const char *bind, unsigned seconds)
{
	struct tern_drv *d = NULL;
	struct tern_rx rx[BURST];
	struct tern_tx tx[BURST];
	uint8_t *copies;
	uint64_t dl = now_ns() + (uint64_t)seconds * 1000000000ull;
	unsigned long echoed = 0;
	int quit = 0, rc;

	rc = drv_open(bind, "mtu=9000", 0, 0, &d);
	if (rc != 0) {
		fprintf(stderr, "server: open %s: %s\n", bind, strerror(-rc));
		return 1;
	}
	copies = malloc((size_t)BURST * 9000);
	if (copies == NULL)
		return 1;
	while (!quit && now_ns() < dl) {
		unsigned n = ops->rx_burst(d, rx, BURST);
		if (n == 0) {
			ops->wait(d, 50000000);
			continue;
		}
		unsigned m = 0;
		for (unsigned i = 0; i < n; i++) {
			if (rx[i].len == 4 && memcmp(rx[i].data, "quit", 4) == 0) {
				quit = 1;
				continue;
			}
			/* Payload from app memory (a msgbuf stand-in), header = the first 32 bytes. */
			uint8_t *cp = copies + (size_t)m * 9000;
			uint32_t h = rx[i].len < 32 ? rx[i].len : 32;
			memcpy(cp, rx[i].data, rx[i].len);
			tx[m++] = (struct tern_tx){.dst = &rx[i].src, .hdr = cp, .hdr_len = h,
						   .payload = rx[i].len > h ? cp + h : NULL,
						   .len = rx[i].len - h, .msg = rx[i].len > h ? FAKE_MSG : NULL};
		}
		echoed += ops->tx_burst(d, tx, m);
		ops->rx_done(d, rx, n);
		settle(d); /* copies[] is reused next round: the driver must be done with it */
		if (drv_shim_refs != 0) {
			fprintf(stderr, "server: sends never completed\n");
			break;
		}
	}
	fprintf(stderr, "server: echoed %lu, quit %d, rx %llu drops trunc %llu nomem %llu\n", echoed, quit,
		(unsigned long long)d->stats.rx_pkts, (unsigned long long)d->stats.rx_drop_trunc,
		(unsigned long long)d->stats.rx_drop_nomem);
	ops->close(d);
	free(copies);
	return quit && drv_shim_refs == 0 ? 0 : 1;
}

/*
 * Send count datagrams (window of 16, each resent after 200 ms without its
 * echo, 25 tries at most), verify every echo's bytes, then tell the server
 * to quit if asked.
 */
int udp_netns_client(const char *bind, const char *to, unsigned count, const char *args,
			bool quit)
{
	struct tern_drv *d = NULL;
	struct tx_plan p;
	struct rx_check c;
	struct tern_tx tx[BURST];
	struct tern_addr dst;
	uint64_t *sent_at;
	uint8_t *tries;
	uint64_t dl = now_ns() + 25000000000ull;
	unsigned next = 0, lo = 0, resent = 0;
	int rc;

	if (tern_addr_parse(to, &dst) != 0)
		return 1;
	rc = drv_open(bind, args, 0, 0, &d);
	if (rc != 0) {
		fprintf(stderr, "client: open %s: %s\n", bind, strerror(-rc));
		return 1;
	}
	memset(&c, 0, sizeof(c));
	if (plan_init(&p, count, d->info.mtu) != 0)
		return 1;
	c.count = count;
	c.mtu = p.mtu;
	c.src = dst;
	c.seen = calloc(count, 1);
	c.scratch = malloc(p.mtu);
	sent_at = calloc(count, sizeof(*sent_at));
	tries = calloc(count, 1);
	if (c.seen == NULL || c.scratch == NULL || sent_at == NULL || tries == NULL)
		return 1;
	for (unsigned iter = 0; iter < 10000000 && c.got < count && now_ns() < dl; iter++) {
		unsigned k = 0;
		uint64_t t = now_ns();
		/* Resend the oldest outstanding ones that timed out, then new ones. */
		while (lo < next && c.seen[lo])
			lo++;
		for (unsigned s = lo; s < next && k < BURST; s++)
			if (!c.seen[s] && t - sent_at[s] > 200000000ull && tries[s] < 25) {
				plan_tx(&p, s, &dst, &tx[k++]);
				sent_at[s] = t;
				tries[s]++;
				resent++;
			}
		while (k < BURST && next < count && next - c.got < 16) {
			sent_at[next] = t;
			tries[next] = 1;
			plan_tx(&p, next++, &dst, &tx[k++]);
		}
		if (k != 0)
			ops->tx_burst(d, tx, k);
		if (rxc_poll(d, &c) == 0)
			ops->wait(d, 20000000);
	}
	settle(d);
	/* Tell the server to stop; it may miss one, so a few. */
	for (int i = 0; quit && i < 3; i++) {
		struct tern_tx q = {.dst = &dst, .hdr = "quit", .hdr_len = 4};
		ops->tx_burst(d, &q, 1);
	}
	settle(d);
	fprintf(stderr, "client: mtu %u, %u/%u verified, %u bad, %u resent, %u port unreachable, %llu rx\n",
		p.mtu, c.got, count, c.bad, resent, c.unreach, (unsigned long long)d->stats.rx_pkts);
	ops->close(d);
	rc = c.got == count && c.bad == 0 && drv_shim_refs == 0 ? 0 : 1;
	rxc_free(&c);
	free(p.mem);
	free(sent_at);
	free(tries);
	return rc;
}

/* --- measurements (not a test) ---------------------------------------- */

static void bench_idle(const char *args)
{
	struct tern_drv *d = NULL;
	struct tern_rx rx[BURST];
	if (drv_open("127.0.0.1:0", args, 1, 0, &d) != 0)
		return;
	ops->rx_burst(d, rx, BURST); /* activate */
	const unsigned n = 1000000;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		ops->rx_burst(d, rx, BURST);
	printf("idle rx_burst (%s): %.1f ns/call\n", args, (double)(now_ns() - t0) / n);
	ops->close(d);
}

/* This thread's CPU time (user + system, softirqs run on its behalf included). */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bench_pps(const char *args, uint32_t size)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_tx tx[BURST];
	struct tern_rx rx[BURST];
	uint8_t *buf = calloc(1, 65536);
	if (buf == NULL || drv_open("127.0.0.1:0", args, 1, 16000, &a) != 0 ||
	    drv_open("127.0.0.1:0", args, 1, 16000, &b) != 0)
		return;
	struct tern_addr dst = b->info.local;
	for (unsigned i = 0; i < BURST; i++)
		tx[i] = (struct tern_tx){.dst = &dst, .hdr = buf, .hdr_len = 32, .payload = buf + 64,
					 .len = size - 32, .msg = FAKE_MSG};
	uint64_t got = 0, t0 = now_ns(), sent = 0, c0 = cpu_ns();
	while (now_ns() - t0 < 1000000000ull) {
		sent += ops->tx_burst(a, tx, BURST);
		for (int j = 0; j < 4; j++) {
			unsigned n = ops->rx_burst(b, rx, BURST);
			ops->rx_done(b, rx, n);
			got += n;
		}
	}
	double s = (double)(now_ns() - t0) / 1e9, cpu = (double)(cpu_ns() - c0) / 1e9;
	/* Per CPU-second too: on a shared host the thread's own time is the steadier figure. */
	printf("one thread, a->b, %5u B (%s): sent %.0f kpps, received %.0f kpps (%.2f Gbit/s), %.0f k per CPU-s\n",
	       size, args, sent / s / 1e3, got / s / 1e3, got * size * 8 / s / 1e9, got / cpu / 1e3);
	settle(a);
	ops->close(a);
	ops->close(b);
	free(buf);
}

/* Round trips between two threads, each with its own instance (echo server). */
struct rtt_arg {
	struct tern_drv *d;
	int busy;
	volatile int stop;
};

static void *rtt_server(void *p)
{
	struct rtt_arg *a = p;
	struct tern_rx rx[BURST];
	struct tern_tx tx[BURST];
	uint64_t dl = now_ns() + 30000000000ull;
	while (!a->stop && now_ns() < dl) {
		unsigned n = ops->rx_burst(a->d, rx, BURST);
		if (n == 0) {
			if (!a->busy)
				ops->wait(a->d, 10000000);
			continue;
		}
		for (unsigned i = 0; i < n; i++)
			tx[i] = (struct tern_tx){.dst = &rx[i].src, .hdr = rx[i].data, .hdr_len = rx[i].len};
		ops->tx_burst(a->d, tx, n);
		ops->rx_done(a->d, rx, n);
	}
	ops->close(a->d); /* on the thread that polled it */
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static void bench_rtt(int busy)
{
	struct rtt_arg srv = {.busy = busy};
	struct tern_drv *c = NULL;
	struct tern_rx rx[BURST];
	uint8_t hdr[32] = {1};
	enum { N = 20000 };
	static uint64_t lat[N];
	pthread_t th;
	unsigned done = 0;
	if (drv_open("127.0.0.1:0", NULL, (uint32_t)busy, 0, &srv.d) != 0 ||
	    drv_open("127.0.0.1:0", NULL, (uint32_t)busy, 0, &c) != 0)
		return;
	struct tern_addr dst = srv.d->info.local;
	struct tern_tx t = {.dst = &dst, .hdr = hdr, .hdr_len = sizeof(hdr)};
	pthread_create(&th, NULL, rtt_server, &srv);
	uint64_t dl = now_ns() + 20000000000ull;
	for (unsigned i = 0; i < N && now_ns() < dl; i++) {
		uint64_t t0 = now_ns();
		unsigned n = 0;
		ops->tx_burst(c, &t, 1);
		while (n == 0 && now_ns() < dl) {
			n = ops->rx_burst(c, rx, BURST);
			if (n == 0 && !busy)
				ops->wait(c, 100000000);
		}
		ops->rx_done(c, rx, n);
		lat[done++] = now_ns() - t0;
	}
	srv.stop = 1;
	pthread_join(th, NULL);
	qsort(lat, done, sizeof(lat[0]), cmp_u64);
	if (done != 0)
		printf("round trip, 32 B, two threads, %s: p50 %.1f us, p99 %.1f us, p99.9 %.1f us (%u)\n",
		       busy ? "busy-poll" : "wait()", lat[done / 2] / 1e3, lat[done * 99 / 100] / 1e3,
		       lat[done * 999 / 1000] / 1e3, done);
	ops->close(c);
}

int udp_bench(void)
{
	bench_rtt(1);
	bench_rtt(0);
	bench_idle("uring=defer");
	bench_idle("uring=coop");
	bench_idle("uring=plain");
	bench_pps("uring=defer", 64);
	bench_pps("uring=defer", 1472);
	bench_pps("uring=defer", 8192);
	bench_pps("uring=plain", 64);
	bench_pps("uring=plain", 1472);
	/* mmsg mode (what mode= the bench runs in decides the rows above): gso and gro on and off. */
	bench_pps("mode=mmsg", 64);
	bench_pps("mode=mmsg,gro=0", 64);
	bench_pps("mode=mmsg,gso=0", 64);
	bench_pps("mode=mmsg", 1472);
	bench_pps("mode=mmsg,gro=0", 1472);
	bench_pps("mode=mmsg,gso=0", 1472);
	return 0;
}
