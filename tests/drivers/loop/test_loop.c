/*
 * test_loop.c — drivers/loop at the datagram level: contents of gathered
 * packets, addressing and the registry, ring limits, closing with packets in
 * flight, multi-producer threads, and the wait op. No protocol core: the
 * msgbuf reference services come from drv_shim.c.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "check.h"
#include "drv_shim.h"
#include "loop/loop.h"

static const struct tern_drv_ops *ops = &tern_drv_loop;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The wait op sleeps in futex(2), through syscall(): this program links
 * with -Wl,--wrap=syscall, so the driver's futex calls pass here and are
 * counted — whether it slept, how long it asked to, and whether the sleep
 * ended by a wake-up or ran to its timeout. The tests assert on those, not
 * on elapsed time.
 */
static struct {
	_Atomic unsigned waits;    /* FUTEX_WAIT calls */
	_Atomic unsigned timeouts; /* ... that ran to their timeout */
	_Atomic uint64_t last_wait_ns;
} fx;

long __real_syscall(long number, ...);
long __wrap_syscall(long number, ...);
long __wrap_syscall(long number, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long); /* syscall(2) itself reads six */
	va_end(ap);
	if (number != SYS_futex)
		return __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	int op = (int)a[1] & ~FUTEX_PRIVATE_FLAG;
	if (op == FUTEX_WAIT) {
		const struct timespec *ts = (const struct timespec *)a[3];
		fx.waits++;
		fx.last_wait_ns =
			ts != NULL ? (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec : 0;
	}
	long rc = __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (op == FUTEX_WAIT && rc != 0 && errno == ETIMEDOUT)
		fx.timeouts++;
	return rc;
}

static uint64_t rnd_state = 0x1234567;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

static int open_cfg(const char *bind, const char *args, uint32_t busy_poll, struct tern_drv **out)
{
	struct tern_drv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = bind;
	cfg.args = args;
	cfg.busy_poll = busy_poll;
	return ops->open(&cfg, out);
}

static struct tern_drv *open_loop(const char *bind, const char *args)
{
	struct tern_drv *d = NULL;
	int rc = open_cfg(bind, args, 1, &d);
	CHECK_EQ(rc, 0);
	return rc == 0 ? d : NULL;
}

/* Send one datagram of three parts. */
static unsigned send3(struct tern_drv *d, struct tern_addr *dst, const void *hdr, uint32_t hl,
		      const void *pl, uint32_t len, const void *tr, uint32_t tl)
{
	struct tern_tx t = {
		.dst = dst, .hdr = hdr, .payload = pl, .trailer = tr,
		.hdr_len = hl, .len = len, .trailer_len = tl,
	};
	return d->ops->tx_burst(d, &t, 1);
}

/* A 32-byte header carrying a tag; returns what send3 returns. */
static unsigned send_tag(struct tern_drv *d, struct tern_addr *dst, uint64_t tag)
{
	uint8_t hdr[32] = {0};
	memcpy(hdr, &tag, sizeof(tag));
	return send3(d, dst, hdr, sizeof(hdr), NULL, 0, NULL, 0);
}

static uint64_t tag_of(const struct tern_rx *r)
{
	uint64_t tag;
	memcpy(&tag, r->data, sizeof(tag));
	return tag;
}

/* Receive and release everything pending; returns the count. */
static unsigned drain(struct tern_drv *d)
{
	struct tern_rx rx[32];
	unsigned total = 0, n;
	while ((n = d->ops->rx_burst(d, rx, 32)) != 0) {
		d->ops->rx_done(d, rx, n);
		total += n;
	}
	return total;
}

static void loop_open__defaults(void)
{
	struct tern_drv *d = NULL, *w = NULL;
	REQUIRE(open_cfg(NULL, NULL, 0, &d) == 0);
	CHECK_EQ(d->ops, &tern_drv_loop);
	CHECK_EQ(d->info.local.family, AF_INET);
	CHECK(memcmp(d->info.local.ip, "\x7f\x00\x00\x01", 4) == 0);
	CHECK(d->info.local.port >= 49152);
	CHECK_EQ(d->info.mtu, 1472);
	CHECK(d->info.caps & TERN_DRV_CAP_MULTISEG);
	CHECK(d->info.caps & TERN_DRV_CAP_WAIT);
	CHECK_EQ(d->info.rto_min_ns, 200000);
	CHECK_EQ(d->info.rto_max_ns, 50000000);
	CHECK_EQ(d->info.scan_ns, 20000);
	CHECK(ops->mem_alloc == NULL && ops->mem_free == NULL);
	CHECK_EQ(strcmp(ops->name, "loop"), 0);

	/* busy_poll: no wait capability, and wait never sleeps. */
	REQUIRE(open_cfg(NULL, "mtu=9000,ring=2", 1, &w) == 0);
	CHECK_EQ(w->info.mtu, 9000);
	CHECK(!(w->info.caps & TERN_DRV_CAP_WAIT));
	CHECK(w->info.local.port != d->info.local.port);
	unsigned waits = fx.waits;
	CHECK_EQ(w->ops->wait(w, 2000000000ull), 0);
	CHECK_EQ(fx.waits, waits);
	ops->close(w);
	ops->close(d);
}

static void loop_open__bad_args(void)
{
	static const char *const bad[] = {
		"ring=1000", "ring=0", "ring=1", "ring=", "ring=-8", "ring=4x",
		"mtu=100", "mtu=70000", "mtu=abc", "mtu", "bogus=1", "ring=2097152",
	};
	struct tern_drv *d = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = open_cfg(NULL, bad[i], 1, &d);
		if (rc != -EINVAL)
			fprintf(stderr, "args \"%s\": %d\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	CHECK_EQ(open_cfg("nonsense", NULL, 1, &d), -EINVAL);
	CHECK_EQ(open_cfg("127.0.0.1:99999", NULL, 1, &d), -EINVAL);
	CHECK_EQ(ops->open(NULL, NULL), -EINVAL);

	/* The generic cfg->rx_ring is rounded up, not refused. */
	struct tern_drv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.rx_ring = 1000;
	cfg.mtu = 512;
	REQUIRE(ops->open(&cfg, &d) == 0);
	CHECK_EQ(d->info.mtu, 512);
	ops->close(d);
	/* NULL cfg: all defaults. */
	REQUIRE(ops->open(NULL, &d) == 0);
	ops->close(d);
}

static void loop_open__addr_in_use(void)
{
	struct tern_drv *a = NULL, *b = NULL, *c = NULL;
	REQUIRE(open_cfg("127.0.0.1:7000", NULL, 1, &a) == 0);
	CHECK_EQ(a->info.local.port, 7000);
	CHECK_EQ(open_cfg("127.0.0.1:7000", NULL, 1, &b), -EADDRINUSE);
	CHECK_EQ(open_cfg("0.0.0.0:7000", NULL, 1, &b), -EADDRINUSE);
	/* Another IP or port, or the other family, is free. */
	REQUIRE(open_cfg("127.0.0.2:7000", NULL, 1, &b) == 0);
	REQUIRE(open_cfg("[::1]:7000", NULL, 1, &c) == 0);
	CHECK_EQ(c->info.local.family, AF_INET6);
	ops->close(b);
	ops->close(c);
	ops->close(a);
	REQUIRE(open_cfg("127.0.0.1:7000", NULL, 1, &a) == 0);
	ops->close(a);
	/* A wildcard bind blocks specific ones on its port. */
	REQUIRE(open_cfg("0.0.0.0:7001", NULL, 1, &a) == 0);
	CHECK_EQ(open_cfg("127.0.0.1:7001", NULL, 1, &b), -EADDRINUSE);
	ops->close(a);
}

/* Random sizes of all three parts; every byte and the source checked. */
static void loop_tx__contents(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, "ring=64");
	REQUIRE(a != NULL && b != NULL);
	static uint8_t hdr[32][TERN_TX_HDR_MAX], pl[32][1472], tr[32][TERN_TX_TRAILER_MAX];
	struct tern_tx tx[32];
	struct tern_rx rx[32];
	uint64_t bytes = 0, pkts = 0;
	long refs_before = drv_shim_ref_calls;

	for (int round = 0; round < 500; round++) {
		unsigned n = 1 + rnd() % 32;
		for (unsigned i = 0; i < n; i++) {
			uint32_t hl = 32 + rnd() % (TERN_TX_HDR_MAX - 31);
			uint32_t tl = rnd() % (TERN_TX_TRAILER_MAX + 1);
			uint32_t len = rnd() % (1472 - hl - tl + 1);
			if (rnd() % 8 == 0)
				len = 1472 - hl - tl; /* exactly the MTU */
			for (uint32_t k = 0; k < hl; k++)
				hdr[i][k] = (uint8_t)rnd();
			for (uint32_t k = 0; k < len; k++)
				pl[i][k] = (uint8_t)rnd();
			for (uint32_t k = 0; k < tl; k++)
				tr[i][k] = (uint8_t)rnd();
			tx[i] = (struct tern_tx){
				.dst = &b->info.local, .hdr = hdr[i], .payload = len ? pl[i] : NULL,
				.trailer = tr[i], .hdr_len = hl, .len = len, .trailer_len = tl,
			};
			bytes += hl + len + tl;
		}
		pkts += n;
		CHECK_EQ(a->ops->tx_burst(a, tx, n), n);
		unsigned got = b->ops->rx_burst(b, rx, 32);
		CHECK_EQ(got, n);
		for (unsigned i = 0; i < got && i < n; i++) {
			const uint8_t *p = rx[i].data;
			CHECK_EQ(rx[i].len, tx[i].hdr_len + tx[i].len + tx[i].trailer_len);
			CHECK_EQ(rx[i].flags, 0);
			CHECK(tern_addr_eq(&rx[i].src, &a->info.local));
			CHECK(memcmp(p, hdr[i], tx[i].hdr_len) == 0);
			CHECK(memcmp(p + tx[i].hdr_len, pl[i], tx[i].len) == 0);
			CHECK(memcmp(p + tx[i].hdr_len + tx[i].len, tr[i], tx[i].trailer_len) == 0);
		}
		b->ops->rx_done(b, rx, got);
	}
	CHECK_EQ(a->stats.tx_pkts, pkts);
	CHECK_EQ(a->stats.tx_bytes, bytes);
	CHECK_EQ(b->stats.rx_pkts, pkts);
	CHECK_EQ(b->stats.rx_bytes, bytes);
	CHECK_EQ(a->stats.tx_copied_bytes, 0); /* the copy is the wire */
	CHECK_EQ(a->stats.tx_drop_full + a->stats.tx_drop_noroute + a->stats.tx_drop_error, 0);
	CHECK_EQ(drv_shim_ref_calls, refs_before); /* loop never keeps payloads */
	ops->close(a);
	ops->close(b);
}

/* An instance may send to itself. */
static void loop_tx__self(void)
{
	struct tern_drv *a = open_loop(NULL, NULL);
	struct tern_rx rx[4];
	REQUIRE(a != NULL);
	CHECK_EQ(send_tag(a, &a->info.local, 42), 1);
	REQUIRE(a->ops->rx_burst(a, rx, 4) == 1);
	CHECK_EQ(tag_of(&rx[0]), 42);
	a->ops->rx_done(a, rx, 1);
	ops->close(a);
}

#define MANY 64
static void loop_tx__many_endpoints(void)
{
	struct tern_drv *ep[MANY];
	unsigned seen[MANY][MANY];
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < MANY; i++) {
		ep[i] = open_loop(NULL, "ring=64,mtu=256");
		REQUIRE(ep[i] != NULL);
	}
	/* Every endpoint to every endpoint, round robin: the per-sender
	 * destination cache (16 entries) misses and refills all the time. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < MANY; i++)
			for (int j = 0; j < MANY; j++)
				CHECK_EQ(send_tag(ep[i], &ep[j]->info.local,
						  (uint64_t)i << 32 | (uint64_t)j << 16 | (uint64_t)round), 1);
		for (int j = 0; j < MANY; j++) {
			struct tern_rx rx[MANY];
			unsigned got = ep[j]->ops->rx_burst(ep[j], rx, MANY);
			CHECK_EQ(got, MANY);
			for (unsigned k = 0; k < got; k++) {
				uint64_t tag = tag_of(&rx[k]);
				unsigned from = (unsigned)(tag >> 32), to = (unsigned)(tag >> 16) & 0xffff;
				CHECK(from < MANY && to == (unsigned)j && (tag & 0xffff) == (unsigned)round);
				if (from < MANY) {
					CHECK(tern_addr_eq(&rx[k].src, &ep[from]->info.local));
					seen[from][j]++;
				}
			}
			ep[j]->ops->rx_done(ep[j], rx, got);
		}
	}
	for (int i = 0; i < MANY; i++)
		for (int j = 0; j < MANY; j++)
			CHECK_EQ(seen[i][j], 3);
	for (int i = 0; i < MANY; i++) {
		CHECK_EQ(ep[i]->stats.tx_drop_full + ep[i]->stats.tx_drop_noroute, 0);
		ops->close(ep[i]);
	}
}

static void loop_tx__ring_full(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, "ring=8");
	struct tern_rx rx[16];
	REQUIRE(a != NULL && b != NULL);
	for (uint64_t i = 0; i < 20; i++)
		CHECK_EQ(send_tag(a, &b->info.local, i), 1); /* like UDP: never refused */
	CHECK_EQ(a->stats.tx_drop_full, 12);
	CHECK_EQ(a->stats.tx_pkts, 8);

	/* Slots lent to the core stay taken until rx_done. */
	REQUIRE(b->ops->rx_burst(b, rx, 16) == 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(tag_of(&rx[i]), i);
	CHECK_EQ(send_tag(a, &b->info.local, 100), 1);
	CHECK_EQ(a->stats.tx_drop_full, 13);

	/* Out-of-order release: the ring reopens slot by slot, in ring order. */
	b->ops->rx_done(b, rx + 4, 4);
	CHECK_EQ(send_tag(a, &b->info.local, 101), 1);
	CHECK_EQ(a->stats.tx_drop_full, 14); /* slot 0 is still lent */
	b->ops->rx_done(b, rx, 4);
	for (uint64_t i = 0; i < 8; i++)
		CHECK_EQ(send_tag(a, &b->info.local, 200 + i), 1);
	CHECK_EQ(a->stats.tx_drop_full, 14);
	CHECK_EQ(send_tag(a, &b->info.local, 300), 1);
	CHECK_EQ(a->stats.tx_drop_full, 15);
	REQUIRE(b->ops->rx_burst(b, rx, 16) == 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(tag_of(&rx[i]), 200 + i);
	b->ops->rx_done(b, rx, 8);
	CHECK_EQ(drain(b), 0);
	ops->close(a);
	ops->close(b);
}

static void loop_tx__unknown_dst(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, NULL);
	struct tern_addr nowhere;
	REQUIRE(a != NULL && b != NULL);
	REQUIRE(tern_addr_parse("127.0.0.1:1", &nowhere) == 0);
	uint8_t hdr[32] = {0};
	struct tern_tx tx[4];
	for (int i = 0; i < 4; i++)
		tx[i] = (struct tern_tx){.dst = (i & 1) ? &b->info.local : &nowhere,
					 .hdr = hdr, .hdr_len = 32};
	CHECK_EQ(a->ops->tx_burst(a, tx, 4), 4); /* dropped, not refused */
	CHECK_EQ(a->stats.tx_drop_noroute, 2);
	CHECK_EQ(a->stats.tx_pkts, 2);
	CHECK_EQ(drain(b), 2);
	/* The same IP on another family does not match. */
	struct tern_addr v6 = b->info.local;
	v6.family = AF_INET6;
	CHECK_EQ(send_tag(a, &v6, 1), 1);
	CHECK_EQ(a->stats.tx_drop_noroute, 3);
	ops->close(a);
	ops->close(b);
}

static void loop_tx__oversize_and_trunc(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, "mtu=256");
	static uint8_t big[2000];
	struct tern_rx rx[2];
	REQUIRE(a != NULL && b != NULL);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	/* Larger than the sender's MTU: an error, counted. */
	CHECK_EQ(send3(a, &b->info.local, big, 32, big + 32, 1472 - 32, NULL, 0), 1);
	CHECK_EQ(send3(a, &b->info.local, big, 32, big + 32, 1472 - 31, NULL, 0), 1);
	CHECK_EQ(send3(a, &b->info.local, big, 32, big + 32, UINT32_MAX - 16, NULL, 0), 1);
	CHECK_EQ(a->stats.tx_drop_error, 2);
	/* Larger than the receiver's: truncated, as a UDP socket would. */
	REQUIRE(b->ops->rx_burst(b, rx, 2) == 1);
	CHECK_EQ(rx[0].len, 256);
	CHECK_EQ(rx[0].flags, TERN_RX_TRUNC);
	CHECK(memcmp(rx[0].data, big, 256) == 0);
	b->ops->rx_done(b, rx, 1);
	ops->close(a);
	ops->close(b);
}

static void loop_tx__wildcard(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop("0.0.0.0:7100", NULL);
	struct tern_addr dst;
	REQUIRE(a != NULL && b != NULL);
	REQUIRE(tern_addr_parse("127.0.0.9:7100", &dst) == 0);
	CHECK_EQ(send_tag(a, &dst, 5), 1);
	CHECK_EQ(drain(b), 1);
	/* A specific bind on another IP wins over the wildcard for its own IP
	 * only (it cannot be bound while the wildcard holds the port). */
	CHECK_EQ(a->stats.tx_drop_noroute, 0);
	ops->close(a);
	ops->close(b);
}

/* One burst of runs to several destinations: each run claims its slots at
 * once. Payloads of every short length arrive whole; an oversize packet
 * inside a run is dropped alone; a run larger than the free slots sends
 * what fits, in order. */
static void loop_tx__runs(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, "ring=64"),
			*c = open_loop(NULL, "ring=8");
	REQUIRE(a != NULL && b != NULL && c != NULL);
	static uint8_t pl[48][48], big[1500];
	uint8_t hdr[48][32];
	struct tern_tx tx[48];
	struct tern_rx rx[64];
	/* b gets lengths 0..40 in runs of 5 split by one packet to c each. */
	unsigned n = 0, to_b = 0;
	for (uint32_t len = 0; len <= 40; len++) {
		for (uint32_t k = 0; k < len; k++)
			pl[n][k] = (uint8_t)(len * 7 + k);
		memset(hdr[n], (int)len, sizeof(hdr[n]));
		int c_turn = len % 6 == 5;
		tx[n] = (struct tern_tx){.dst = c_turn ? &c->info.local : &b->info.local,
					 .hdr = hdr[n], .hdr_len = 32,
					 .payload = len ? pl[n] : NULL, .len = len};
		to_b += !c_turn;
		n++;
	}
	/* An oversize one in the middle of a run to b. */
	memmove(tx + 3, tx + 2, (n - 2) * sizeof(tx[0]));
	tx[2].payload = big;
	tx[2].len = sizeof(big);
	n++;
	CHECK_EQ(a->ops->tx_burst(a, tx, n), n);
	CHECK_EQ(a->stats.tx_drop_error, 1);
	CHECK_EQ(a->stats.tx_drop_full, 0);
	unsigned got = b->ops->rx_burst(b, rx, 64);
	CHECK_EQ(got, to_b);
	unsigned k = 0;
	for (unsigned i = 0; i < n && k < got; i++) {
		if (i == 2 || !tern_addr_eq(tx[i].dst, &b->info.local))
			continue;
		CHECK_EQ(rx[k].len, 32 + tx[i].len);
		CHECK(memcmp(rx[k].data, tx[i].hdr, 32) == 0);
		if (tx[i].len != 0) /* payload NULL: nothing to compare */
			CHECK(memcmp((uint8_t *)rx[k].data + 32, tx[i].payload, tx[i].len) == 0);
		k++;
	}
	CHECK_EQ(k, to_b);
	b->ops->rx_done(b, rx, got);
	CHECK_EQ(drain(c), (n - 1) - to_b);
	/* A run of 12 into a ring of 8 with 3 taken: the first 5 go. */
	for (uint64_t i = 0; i < 3; i++)
		CHECK_EQ(send_tag(a, &c->info.local, i), 1);
	uint64_t full = a->stats.tx_drop_full;
	uint8_t th[12][32];
	for (unsigned i = 0; i < 12; i++) {
		memset(th[i], 0, 32);
		th[i][0] = (uint8_t)(100 + i);
		tx[i] = (struct tern_tx){.dst = &c->info.local, .hdr = th[i], .hdr_len = 32};
	}
	CHECK_EQ(a->ops->tx_burst(a, tx, 12), 12);
	CHECK_EQ(a->stats.tx_drop_full, full + 7);
	got = c->ops->rx_burst(c, rx, 16);
	CHECK_EQ(got, 8);
	for (unsigned i = 0; i < got; i++)
		CHECK_EQ(((uint8_t *)rx[i].data)[0], i < 3 ? i : 100 + (i - 3));
	c->ops->rx_done(c, rx, got);
	ops->close(a);
	ops->close(b);
	ops->close(c);
}

/* A peer that closes is noticed through the cache, and a new one reached. */
static void loop_tx__peer_closed(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop("127.0.0.1:7200", NULL);
	struct tern_addr dst;
	struct tern_rx rx[4];
	REQUIRE(a != NULL && b != NULL);
	dst = b->info.local;
	CHECK_EQ(send_tag(a, &dst, 1), 1);
	CHECK_EQ(drain(b), 1);
	ops->close(b); /* a's cache still references b's memory */
	CHECK_EQ(send_tag(a, &dst, 2), 1);
	CHECK_EQ(a->stats.tx_drop_noroute, 1);
	b = open_loop("127.0.0.1:7200", NULL);
	REQUIRE(b != NULL);
	CHECK_EQ(send_tag(a, &dst, 3), 1);
	REQUIRE(b->ops->rx_burst(b, rx, 4) == 1);
	CHECK_EQ(tag_of(&rx[0]), 3);
	b->ops->rx_done(b, rx, 1);
	ops->close(b);
	ops->close(a); /* drops its reference to the first b: freed now (valgrind) */
}

/* Closing with datagrams queued, lent to the core, or sent by a closed peer. */
static void loop_close__in_flight(void)
{
	struct tern_drv *a = open_loop(NULL, NULL), *b = open_loop(NULL, NULL);
	struct tern_rx rx[8];
	REQUIRE(a != NULL && b != NULL);
	for (uint64_t i = 0; i < 10; i++)
		send_tag(a, &b->info.local, i);
	CHECK_EQ(b->ops->rx_burst(b, rx, 5), 5); /* lent, never returned */
	ops->close(b);
	CHECK_EQ(send_tag(a, &rx[0].src, 0), 1); /* a still works */

	/* The sender closes first: its datagrams were copied, b reads them. */
	b = open_loop(NULL, NULL);
	REQUIRE(b != NULL);
	for (uint64_t i = 0; i < 3; i++)
		send_tag(a, &b->info.local, i);
	ops->close(a);
	REQUIRE(b->ops->rx_burst(b, rx, 8) == 3);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(tag_of(&rx[i]), i);
	b->ops->rx_done(b, rx, 3);
	ops->close(b);
}

/* --- threads --- */

#define PRODUCERS 3
#define PER_PRODUCER 100000u

struct prod_arg {
	struct tern_drv *d;
	struct tern_addr dst;
	unsigned id;
	uint64_t deadline;
	unsigned sent;
};

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i);
}

static void *producer(void *argp)
{
	struct prod_arg *a = argp;
	uint8_t hdr[32], pl[512];
	for (uint32_t seq = 0; seq < PER_PRODUCER;) {
		uint32_t len = (seq * 7u + a->id) % sizeof(pl);
		uint32_t w[3] = {a->id, seq, len};
		memset(hdr, 0, sizeof(hdr));
		memcpy(hdr, w, sizeof(w));
		fill(pl, len, seq ^ a->id);
		uint64_t full = a->d->stats.tx_drop_full;
		send3(a->d, &a->dst, hdr, sizeof(hdr), pl, len, NULL, 0);
		if (a->d->stats.tx_drop_full == full) {
			seq++; /* delivered */
		} else if (now_ns() > a->deadline) {
			break;
		} else {
			sched_yield(); /* the consumer is behind: retry this one */
		}
	}
	a->sent = PER_PRODUCER;
	return NULL;
}

/* Several producer threads into one ring; per-producer order and contents. */
static void loop_thread__producer_consumer(void)
{
	struct tern_drv *c = open_loop(NULL, "ring=256");
	struct prod_arg pa[PRODUCERS];
	pthread_t th[PRODUCERS];
	uint32_t next[PRODUCERS] = {0};
	uint64_t deadline = now_ns() + 60ull * 1000000000u, got = 0;
	unsigned bad = 0;
	REQUIRE(c != NULL);

	for (unsigned i = 0; i < PRODUCERS; i++) {
		pa[i] = (struct prod_arg){.d = open_loop(NULL, NULL), .dst = c->info.local, .id = i,
					  .deadline = deadline};
		REQUIRE(pa[i].d != NULL);
		REQUIRE(pthread_create(&th[i], NULL, producer, &pa[i]) == 0);
	}
	while (got < (uint64_t)PRODUCERS * PER_PRODUCER && now_ns() < deadline) {
		struct tern_rx rx[32];
		unsigned n = c->ops->rx_burst(c, rx, 32);
		for (unsigned k = 0; k < n; k++) {
			uint32_t w[3];
			uint8_t exp[512];
			memcpy(w, rx[k].data, sizeof(w));
			if (w[0] >= PRODUCERS || w[1] != next[w[0]] || rx[k].len != 32 + w[2]) {
				bad++;
				continue;
			}
			fill(exp, w[2], w[1] ^ w[0]);
			if (memcmp((uint8_t *)rx[k].data + 32, exp, w[2]) != 0 ||
			    !tern_addr_eq(&rx[k].src, &pa[w[0]].d->info.local))
				bad++;
			next[w[0]]++;
		}
		c->ops->rx_done(c, rx, n);
		got += n;
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(next[i], PER_PRODUCER);
		ops->close(pa[i].d);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(got, (uint64_t)PRODUCERS * PER_PRODUCER);
	ops->close(c);
}

struct waker_arg {
	struct tern_drv *d;
	struct tern_addr dst;
	uint64_t delay_ns;
};

static void *waker(void *argp)
{
	struct waker_arg *w = argp;
	struct timespec ts = {0, (long)w->delay_ns};
	nanosleep(&ts, NULL);
	send_tag(w->d, &w->dst, 7);
	return NULL;
}

static void loop_wait__wakeup(void)
{
	struct tern_drv *c = NULL, *a = open_loop(NULL, NULL);
	pthread_t th;
	REQUIRE(a != NULL);
	REQUIRE(open_cfg(NULL, NULL, 0, &c) == 0);

	/* Nothing comes: one sleep of the whole timeout, which runs out. */
	unsigned waits = fx.waits, timeouts = fx.timeouts;
	CHECK_EQ(c->ops->wait(c, 30000000ull), 0);
	CHECK_EQ(fx.waits, waits + 1);
	CHECK_EQ(fx.last_wait_ns, 30000000ull);
	CHECK_EQ(fx.timeouts, timeouts + 1);

	/* Something is already there: no sleep. */
	send_tag(a, &c->info.local, 1);
	waits = fx.waits;
	CHECK_EQ(c->ops->wait(c, 5000000000ull), 0);
	CHECK_EQ(fx.waits, waits);
	CHECK_EQ(drain(c), 1);

	/* A sender on another thread wakes the sleeper: no sleep runs to its
	 * timeout (a lost wake-up would sleep the whole 5 s), and each datagram
	 * arrives. */
	timeouts = fx.timeouts;
	for (int i = 0; i < 20; i++) {
		struct waker_arg w = {.d = a, .dst = c->info.local, .delay_ns = 2000000};
		REQUIRE(pthread_create(&th, NULL, waker, &w) == 0);
		unsigned got = drain(c);
		for (int k = 0; k < 4 && got == 0; k++) {
			c->ops->wait(c, 5000000000ull);
			got = drain(c);
		}
		CHECK_EQ(got, 1);
		pthread_join(th, NULL);
	}
	CHECK_EQ(fx.timeouts, timeouts);
	CHECK_EQ(c->ops->wait(c, 0), 0);
	ops->close(c);
	ops->close(a);
}

int main(void)
{
	RUN(loop_open__defaults);
	RUN(loop_open__bad_args);
	RUN(loop_open__addr_in_use);
	RUN(loop_tx__contents);
	RUN(loop_tx__self);
	RUN(loop_tx__many_endpoints);
	RUN(loop_tx__ring_full);
	RUN(loop_tx__unknown_dst);
	RUN(loop_tx__oversize_and_trunc);
	RUN(loop_tx__runs);
	RUN(loop_tx__wildcard);
	RUN(loop_tx__peer_closed);
	RUN(loop_close__in_flight);
	RUN(loop_thread__producer_consumer);
	RUN(loop_wait__wakeup);
	return check_exit();
}
