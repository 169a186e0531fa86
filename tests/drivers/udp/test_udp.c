/*
 * test_udp.c — driver-level tests of drivers/udp: instances are opened
 * through tern_drv_udp's ops (no protocol core) and exchange datagrams over
 * loopback; contents, source addresses, counters and msgbuf references
 * (drv_shim) are checked.
 *
 * The transmit segmentation cases (gso=) are in udp_gso_cases.c.
 *
 * Modes (the other two live in udp_peer.c):
 *   test_udp                                  the test cases
 *   test_udp --netns-server BIND SECONDS      echo every datagram to its source
 *   test_udp --netns-client BIND DST COUNT ARGS|- [quit]
 *                                             send COUNT datagrams, verify echoes
 *                                             (driver args), then stop the server
 *   test_udp --bench                          a few measurements (not a test)
 * netns.sh runs the two netns modes in two network namespaces. A leading
 * "--mode MODE" (mmsg, uring) runs any of them with the driver in that mode
 * (meson registers the cases once per mode); cases that only mean something
 * in one mode run only there.
 *
 * Every loop is bounded in iterations and in time; no case asserts a timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "udp/udp.h"
#include "udp_test.h"

static const struct tern_drv_ops *const ops = &tern_drv_udp;

/* --- cases ------------------------------------------------------------- */

static void open__defaults(void)
{
	struct tern_drv *d = NULL;
	REQUIRE(drv_open(NULL, NULL, 0, 0, &d) == 0);
	CHECK(d->ops == ops);
	CHECK_EQ(d->info.mtu, 1472);
	CHECK(d->info.caps & TERN_DRV_CAP_MULTISEG);
	CHECK(d->info.caps & TERN_DRV_CAP_WAIT);
	CHECK(d->info.caps & TERN_DRV_CAP_ZC_TX);
	CHECK_EQ(d->info.local.family, AF_INET);
	CHECK(d->info.local.port != 0);
	CHECK(d->info.rto_min_ns > 0 && d->info.rto_min_ns <= d->info.rto_max_ns);
	CHECK(d->info.scan_ns > 0);
	CHECK_EQ(udp_of(d)->io, mode_mmsg() ? UDP_IO_MMSG : UDP_IO_URING);
	ops->close(d);
	/* Closed without ever polling: nothing to reap, nothing leaked. */
	CHECK_EQ(drv_shim_refs, 0);
}

static void open__port0_gives_real_port(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	char s[64];
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	CHECK_EQ(a->info.local.family, AF_INET);
	CHECK(a->info.local.port != 0);
	CHECK(memcmp(a->info.local.ip, "\x7f\0\0\x01", 4) == 0);
	/* The port is real: binding it again fails. */
	snprintf(s, sizeof(s), "127.0.0.1:%u", a->info.local.port);
	CHECK_EQ(drv_open(s, NULL, 0, 0, &b), -EADDRINUSE);
	ops->close(a);
}

static void open__bad_args(void)
{
	static const char *const bad_args[] = {
		"bogus=1", "mtu=0", "mtu=63", "mtu=65508", "mtu=abc", "mtu=-5", "mtu=", "mtu=1472x",
		"rcvbuf=x", "rcvbuf=3g", "sndbuf=-1", "uring=fast", "mode=", "mode=poll", "mode=mmsg2", "copy=257", "tx_ring=0",
		"tx_ring=100000", "rx_ring=0", "rx_ring=40000", "mtu=1000,,bogus", "=5",
	};
	static const char *const bad_bind[] = {
		"nonsense", "127.0.0.1", "127.0.0.1:99999", "[::1]", "::1:5", "127.0.0.1:-1", "",
	};
	struct tern_drv *d = (struct tern_drv *)(void *)&fake_msg_storage;
	int fds = count_fds();
	for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
		int rc = drv_open("127.0.0.1:0", bad_args[i], 0, 0, &d);
		if (rc != -EINVAL)
			fprintf(stderr, "  args '%s' -> %d\n", bad_args[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	for (size_t i = 0; i < sizeof(bad_bind) / sizeof(bad_bind[0]); i++) {
		int rc = drv_open(bad_bind[i], NULL, 0, 0, &d);
		if (rc != -EINVAL)
			fprintf(stderr, "  bind '%s' -> %d\n", bad_bind[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	CHECK_EQ(drv_open("127.0.0.1:0", NULL, 0, 65508, &d), -EINVAL);
	CHECK_EQ(ops->open(NULL, &d), -EINVAL);
	/* Failed opens left no instance behind and no descriptor open. */
	CHECK(d == (struct tern_drv *)(void *)&fake_msg_storage);
	CHECK_EQ(count_fds(), fds);

	/* Good values, and who wins: args over cfg->mtu over the default. */
	REQUIRE(drv_open("127.0.0.1:0", "mtu=9000,rcvbuf=1m,sndbuf=256k,rx_ring=100,tx_ring=10,copy=0,uring=auto",
			 0, 0, &d) == 0);
	CHECK_EQ(d->info.mtu, 9000);
	ops->close(d);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 2000, &d) == 0);
	CHECK_EQ(d->info.mtu, 2000);
	ops->close(d);
	REQUIRE(drv_open("127.0.0.1:0", "mtu=65507", 0, 2000, &d) == 0);
	CHECK_EQ(d->info.mtu, 65507);
	ops->close(d);
	CHECK_EQ(count_fds(), fds);
}

/* Two instances on 127.0.0.1, random sizes up to the MTU, every byte checked. */
static void run_exchange(const char *bind, const char *args, uint32_t busy, uint32_t mtu,
			 uint32_t count)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tx_plan p;
	struct rx_check c;
	long calls0 = drv_shim_ref_calls;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = drv_open(bind, args, busy, mtu, &a);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT ||
	    (rc == -EINVAL && args != NULL && strstr(args, "uring=") != NULL)) {
		SKIP("address family or ring mode not available here");
		return;
	}
	REQUIRE(rc == 0);
	if (drv_open(bind, args, busy, mtu, &b) != 0) {
		ops->close(a);
		REQUIRE(0);
	}
	REQUIRE(plan_init(&p, count, a->info.mtu) == 0);
	c.src = a->info.local;
	uint32_t got = exchange(a, b, &p, busy != 0, &c);
	CHECK_EQ(got, count);
	CHECK_EQ(c.bad, 0);
	CHECK_EQ(c.dup, 0);
	CHECK_EQ(c.misaligned, 0);
	CHECK_EQ(b->stats.rx_pkts, count);
	CHECK_EQ(b->stats.rx_bytes, p.bytes_expected);
	CHECK_EQ(a->stats.tx_pkts, count);
	CHECK_EQ(a->stats.tx_bytes, p.bytes_expected);
	CHECK_EQ(a->stats.tx_drop_error + a->stats.tx_drop_noroute, 0);
	CHECK_EQ(b->stats.rx_drop_trunc + b->stats.rx_drop_frame, 0);
	if (mode_mmsg()) {
		/* sendmmsg: the kernel copied every datagram before returning. */
		CHECK_EQ(a->stats.tx_copied_bytes, 0);
		CHECK_EQ(drv_shim_ref_calls, calls0);
		CHECK_EQ(udp_of(b)->rx_nfree, udp_of(b)->nbuf); /* every buffer back */
	} else {
		CHECK_EQ(a->stats.tx_copied_bytes, p.copied_expected);
		/* References were taken (payloads above the copy threshold). */
		CHECK(drv_shim_ref_calls > calls0);
	}
	CHECK_EQ(drv_shim_refs, 0);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
	rxc_free(&c);
	free(p.mem);
}

static void exchange__ipv4_random_sizes(void)
{
	run_exchange("127.0.0.1:0", NULL, 0, 0, 3000);
}

static void exchange__ipv4_jumbo_mtu(void)
{
	run_exchange("127.0.0.1:0", "mtu=16000", 0, 0, 300);
}

static void exchange__ipv6_loopback(void)
{
	run_exchange("[::1]:0", NULL, 0, 0, 1000);
}

static void exchange__busy_poll(void)
{
	run_exchange("127.0.0.1:0", NULL, 1, 0, 1000);
}

static void exchange__ring_coop(void)
{
	run_exchange("127.0.0.1:0", "uring=coop", 0, 0, 1000);
}

static void exchange__ring_plain(void)
{
	run_exchange("127.0.0.1:0", "uring=plain", 0, 0, 1000);
}

static void exchange__tiny_rings(void)
{
	/* Few buffers and contexts: the stash, re-arms and full-context path all run. */
	run_exchange("127.0.0.1:0", "rx_ring=8,tx_ring=4", 0, 0, 1000);
}

/* Poll d until pred holds, waiting in between; bounded by 5 s. */
#define POLL_UNTIL(d, c, pred)                                                          \
	do {                                                                            \
		uint64_t dl_ = now_ns() + 5000000000ull;                                \
		for (int it_ = 0; it_ < 100000 && !(pred) && now_ns() < dl_; it_++) {   \
			if (rxc_poll((d), (c)) == 0)                                    \
				ops->wait((d), 10000000);                               \
		}                                                                       \
	} while (0)

/* An IPv6 instance on [::] hears an IPv4 peer and answers it. */
static void exchange__dual_stack_reply(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_rx rx[BURST];
	struct tern_tx t;
	uint8_t hdr[64];
	int rc = drv_open("[::]:0", NULL, 0, 0, &b);
	if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) {
		SKIP("no IPv6");
		return;
	}
	REQUIRE(rc == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	struct tern_addr dst = addr_of("127.0.0.1:0");
	dst.port = b->info.local.port;
	memset(hdr, 0xab, sizeof(hdr));
	memset(&t, 0, sizeof(t));
	t.dst = &dst;
	t.hdr = hdr;
	t.hdr_len = sizeof(hdr);
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);

	unsigned n = 0;
	uint64_t dl = now_ns() + 5000000000ull;
	for (int i = 0; i < 1000 && n == 0 && now_ns() < dl; i++)
		if ((n = ops->rx_burst(b, rx, BURST)) == 0)
			ops->wait(b, 10000000);
	REQUIRE(n == 1);
	CHECK_EQ(rx[0].len, sizeof(hdr));
	CHECK_EQ(rx[0].src.family, AF_INET); /* not ::ffff:127.0.0.1 */
	CHECK(tern_addr_eq(&rx[0].src, &a->info.local));
	/* Reply to the source, from the IPv6 socket. */
	struct tern_addr back = rx[0].src;
	ops->rx_done(b, rx, n);
	t.dst = &back;
	CHECK_EQ(ops->tx_burst(b, &t, 1), 1);
	n = 0;
	for (int i = 0; i < 1000 && n == 0 && now_ns() < dl; i++)
		if ((n = ops->rx_burst(a, rx, BURST)) == 0)
			ops->wait(a, 10000000);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(rx[0].src.family, AF_INET);
		CHECK_EQ(rx[0].src.port, b->info.local.port);
	}
	ops->rx_done(a, rx, n);
	ops->close(a);
	ops->close(b);
}

/* An IPv4 socket cannot reach an IPv6 peer: accepted, dropped, counted. */
static void tx_burst__family_mismatch(void)
{
	struct tern_drv *a = NULL;
	uint8_t hdr[32] = {0};
	struct tern_addr dst = addr_of("[::1]:9");
	struct tern_tx t = {.dst = &dst, .hdr = hdr, .hdr_len = sizeof(hdr)};
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	CHECK_EQ(a->stats.tx_drop_noroute, 1);
	CHECK_EQ(a->stats.tx_pkts, 0);
	/* Over the MTU: tx_drop_error. A big payload lent without a msgbuf
	 * (the faults decorator's copies) goes out at once, copied. */
	static uint8_t big[2000];
	struct tern_addr lo = addr_of("127.0.0.1:9");
	struct tern_tx e[2] = {
		{.dst = &lo, .hdr = hdr, .hdr_len = 32, .payload = big, .len = 1441, .msg = FAKE_MSG},
		{.dst = &lo, .hdr = hdr, .hdr_len = 32, .payload = big, .len = 1000, .msg = NULL},
	};
	CHECK_EQ(ops->tx_burst(a, e, 2), 2);
	CHECK_EQ(a->stats.tx_drop_error, 1);
	CHECK_EQ(a->stats.tx_pkts, 1);
	CHECK_EQ(a->stats.tx_copied_bytes, mode_mmsg() ? 0 : 1000);
	CHECK_EQ(drv_shim_refs, 0);
	ops->close(a);
}

/* A loopback address where nothing listens: bound, noted, closed. */
static struct tern_addr closed_port(void)
{
	struct tern_drv *x = NULL;
	struct tern_addr a = addr_of("127.0.0.1:9");
	if (drv_open("127.0.0.1:0", NULL, 0, 0, &x) == 0) {
		a = x->info.local;
		ops->close(x);
	}
	return a;
}

/* Poll d for a port unreachable notice (bounded: ms); 1 and *out if one came.
 * busy: rx_burst only, never wait() (whose poll would see POLLERR itself). */
static int await_unreach_how(struct tern_drv *d, struct tern_rx *out, uint8_t *quote, uint32_t cap,
			     unsigned ms, bool busy)
{
	struct tern_rx rx[BURST];
	uint64_t end = now_ns() + ms * 1000000ull;
	int found = 0;
	while (!found && now_ns() < end) {
		unsigned n = ops->rx_burst(d, rx, BURST);
		for (unsigned i = 0; i < n; i++) {
			if (!(rx[i].flags & TERN_RX_UNREACH) || found)
				continue;
			*out = rx[i];
			out->len = rx[i].len < cap ? rx[i].len : cap;
			memcpy(quote, rx[i].data, out->len);
			found = 1;
		}
		ops->rx_done(d, rx, n);
		if (!found && !busy)
			ops->wait(d, 1000000);
	}
	return found;
}

static int await_unreach(struct tern_drv *d, struct tern_rx *out, uint8_t *quote, uint32_t cap,
			 unsigned ms)
{
	return await_unreach_how(d, out, quote, cap, ms, false);
}

/* Pump a's sends (its completions, a resend) and b's receives until b has
 * received a datagram: at most 2000 rounds of at most 1 ms each. */
static void pump_until_rx(struct tern_drv *a, struct tern_drv *b)
{
	for (int it = 0; it < 2000 && b->stats.rx_pkts == 0; it++) {
		ops->tx_burst(a, NULL, 0);
		struct tern_rx rx[BURST];
		unsigned n = ops->rx_burst(b, rx, BURST);
		ops->rx_done(b, rx, n);
		if (n == 0)
			ops->wait(b, 1000000);
	}
}

/*
 * recverr=1 (the default): a datagram to a closed port comes back as a
 * TERN_RX_UNREACH entry naming that address and quoting the datagram; a
 * send to a live peer right after the ICMP error arrived (pending on the
 * socket until the multishot receive or a send takes it: whichever does
 * fails with -ECONNREFUSED, and the driver re-arms or resends) still gets
 * there; recverr=0 reports nothing.
 */
static void rx_burst__port_unreachable_reported(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	uint8_t hdr[32], payload[100], quote[512];
	for (unsigned i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)(0xa0 + i);
	gen_bytes(7, payload, sizeof(payload));
	struct tern_addr dead = closed_port();
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	struct tern_tx t = {.dst = &dead, .hdr = hdr, .hdr_len = sizeof(hdr), .payload = payload,
			    .len = sizeof(payload), .msg = NULL};
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	struct tern_rx got;
	REQUIRE(await_unreach(a, &got, quote, sizeof(quote), 2000));
	CHECK(tern_addr_eq(&got.src, &dead));
	CHECK_EQ(got.len, sizeof(hdr) + sizeof(payload));
	CHECK(memcmp(quote, hdr, sizeof(hdr)) == 0 &&
	      memcmp(quote + sizeof(hdr), payload, sizeof(payload)) == 0);

	/* Again, and this time a send to b follows as soon as the error is
	 * seen on the socket: b still gets it. */
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	struct pollfd pf = {.fd = udp_of(a)->fd, .events = 0};
	CHECK_EQ(poll(&pf, 1, 2000), 1);
	CHECK(pf.revents & POLLERR);
	struct tern_tx tb = t;
	tb.dst = &b->info.local;
	CHECK_EQ(ops->tx_burst(a, &tb, 1), 1);
	settle(a);
	pump_until_rx(a, b);
	CHECK_EQ(b->stats.rx_pkts, 1);
	CHECK_EQ(a->stats.tx_drop_error, 0);
	CHECK(await_unreach(a, &got, quote, sizeof(quote), 2000));
	ops->close(a);
	ops->close(b);

	/* recverr=0: the kernel's default, nothing reported. */
	REQUIRE(drv_open("127.0.0.1:0", "recverr=0", 0, 0, &a) == 0);
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	settle(a);
	CHECK_EQ(await_unreach(a, &got, quote, sizeof(quote), 300), 0);
	CHECK_EQ(a->stats.tx_pkts, 1);
	ops->close(a);
	CHECK_EQ(drv_shim_refs, 0);
}

/*
 * Regression (mmsg mode): a send to a closed port, then one to a live peer,
 * in one tx_burst. On loopback the ICMP error comes back during the first
 * send and the second takes the socket's pending error: sendmmsg reports
 * only "1 sent", the driver sends the second again, and the error queue
 * must still be read, with the receiver busy-polling (no wait() to see
 * POLLERR). It was not: the notice stayed queued until another error came.
 */
static void tx_burst__unreach_taken_mid_burst(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	uint8_t hdr[32], quote[512];
	memset(hdr, 0x5c, sizeof(hdr));
	struct tern_addr dead = closed_port();
	REQUIRE(drv_open("127.0.0.1:0", NULL, 1, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 1, 0, &b) == 0);
	struct tern_tx t[2] = {
		{.dst = &dead, .hdr = hdr, .hdr_len = sizeof(hdr)},
		{.dst = &b->info.local, .hdr = hdr, .hdr_len = sizeof(hdr)},
	};
	CHECK_EQ(ops->tx_burst(a, t, 2), 2);
	settle(a);
	pump_until_rx(a, b);
	CHECK_EQ(b->stats.rx_pkts, 1);
	CHECK_EQ(a->stats.tx_pkts, 2);
	CHECK_EQ(a->stats.tx_drop_error, 0);
	struct tern_rx got;
	memset(&got, 0, sizeof(got));
	CHECK(await_unreach_how(a, &got, quote, sizeof(quote), 2000, true));
	CHECK(tern_addr_eq(&got.src, &dead));
	ops->close(a);
	ops->close(b);
}

/*
 * 100 datagrams in one tx_burst: more than one sendmmsg vector (32), with
 * an invalid descriptor (#40) and an unreachable family (#70) among them:
 * consumed and counted, the rest sent.
 */
static void tx_burst__more_than_vector(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tx_plan p;
	struct rx_check c;
	struct tern_tx tx[100];
	memset(&c, 0, sizeof(c));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	REQUIRE(plan_init(&p, 100, 1472) == 0);
	REQUIRE(rxc_init(&c, &p, &a->info.local) == 0);
	struct tern_addr dst = b->info.local;
	for (unsigned i = 0; i < 100; i++)
		plan_tx(&p, i, &dst, &tx[i]);
	uint64_t skipped = (uint64_t)tx[40].hdr_len + tx[40].len + tx[40].trailer_len +
			   tx[70].hdr_len + tx[70].len + tx[70].trailer_len;
	tx[40].hdr_len = TERN_TX_HDR_MAX + 1;
	const struct tern_addr v6 = addr_of("[::1]:9");
	tx[70].dst = &v6;
	CHECK_EQ(ops->tx_burst(a, tx, 100), 100);
	settle(a);
	CHECK_EQ(a->stats.tx_pkts, 98);
	CHECK_EQ(a->stats.tx_drop_error, 1);
	CHECK_EQ(a->stats.tx_drop_noroute, 1);
	CHECK_EQ(a->stats.tx_bytes, p.bytes_expected - skipped);
	POLL_UNTIL(b, &c, c.got == 98);
	CHECK_EQ(c.got, 98);
	CHECK(!c.seen[40] && !c.seen[70]);
	CHECK_EQ(c.bad + c.dup, 0);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
	rxc_free(&c);
	free(p.mem);
}

/*
 * rx_burst asked for 100 (more than a recvmmsg vector, 32) from an
 * instance with 64 buffers: no call hands out more than the buffers it
 * has, nothing is lost (what does not fit waits in the socket), every
 * buffer comes back.
 */
static void rx_burst__more_than_vector(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tx_plan p;
	struct rx_check c;
	struct tern_tx tx[BURST];
	struct tern_rx rx[100];
	unsigned most = 0;
	memset(&c, 0, sizeof(c));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", "rx_ring=64", 0, 0, &b) == 0);
	REQUIRE(plan_init(&p, 300, 1472) == 0);
	REQUIRE(rxc_init(&c, &p, &a->info.local) == 0);
	struct tern_addr dst = b->info.local;
	for (unsigned s = 0; s < 300; s += BURST) {
		unsigned k = 300 - s < BURST ? 300 - s : BURST;
		for (unsigned i = 0; i < k; i++)
			plan_tx(&p, s + i, &dst, &tx[i]);
		CHECK_EQ(ops->tx_burst(a, tx, k), k);
	}
	settle(a);
	uint64_t dl = now_ns() + 5000000000ull;
	for (int it = 0; it < 100000 && c.got < 300 && now_ns() < dl; it++) {
		unsigned n = ops->rx_burst(b, rx, 100);
		if (n > most)
			most = n;
		for (unsigned i = 0; i < n; i++)
			rxc_one(&c, &rx[i]);
		ops->rx_done(b, rx, n);
		if (n == 0)
			ops->wait(b, 10000000);
	}
	if (getenv("TERN_TEST_LOG") != NULL)
		fprintf(stderr, "  most in one rx_burst: %u\n", most);
	CHECK(most <= 64);
	CHECK_EQ(c.got, 300);
	CHECK_EQ(c.bad + c.dup, 0);
	if (mode_mmsg()) {
		CHECK_EQ(b->stats.rx_drop_nomem, 0); /* waited in the socket, not dropped */
		CHECK_EQ(udp_of(b)->rx_nfree, 64);
	}
	ops->close(a);
	ops->close(b);
	rxc_free(&c);
	free(p.mem);
}

/* More sends than contexts: the driver stops at the last free context. */
static void tx_burst__contexts_full(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	static uint8_t payload[1000];
	uint8_t hdr[32] = {0};
	struct tern_tx t[64];
	long refs_calls0 = drv_shim_ref_calls;
	REQUIRE(drv_open("127.0.0.1:0", "tx_ring=8", 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	struct tern_addr dst = b->info.local;
	for (int i = 0; i < 64; i++)
		t[i] = (struct tern_tx){.dst = &dst, .hdr = hdr, .hdr_len = 32, .payload = payload,
					.len = sizeof(payload), .msg = FAKE_MSG};
	CHECK_EQ(ops->tx_burst(a, t, 64), 8);
	CHECK_EQ(a->stats.tx_drop_full, 0); /* not consumed, not counted: the core offers them again */
	CHECK_EQ(drv_shim_ref_calls - refs_calls0, 8);
	settle(a);
	CHECK_EQ(drv_shim_refs, 0);
	/* Contexts come back: the next burst goes out too. */
	CHECK_EQ(ops->tx_burst(a, t, 8), 8);
	settle(a);
	CHECK_EQ(a->stats.tx_pkts, 16);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
}

/* Payloads up to copy= bytes are copied (counted), larger ones referenced. */
static void tx_burst__copy_threshold(void)
{
	struct tern_drv *a = NULL, *b = NULL, *z = NULL;
	static uint8_t payload[300];
	uint8_t hdr[32] = {0};
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", "copy=0", 0, 0, &z) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	struct tern_addr dst = b->info.local;
	struct tern_tx t[3] = {
		{.dst = &dst, .hdr = hdr, .hdr_len = 32, .payload = payload, .len = 256, .msg = FAKE_MSG},
		{.dst = &dst, .hdr = hdr, .hdr_len = 32, .payload = payload, .len = 257, .msg = FAKE_MSG},
		{.dst = &dst, .hdr = hdr, .hdr_len = 32, .payload = payload, .len = 1, .msg = FAKE_MSG},
	};
	long calls0 = drv_shim_ref_calls;
	CHECK_EQ(ops->tx_burst(a, t, 3), 3);
	CHECK_EQ(a->stats.tx_copied_bytes, 257);  /* 256 + 1 */
	CHECK_EQ(drv_shim_ref_calls - calls0, 1); /* the 257-byte one */
	calls0 = drv_shim_ref_calls;
	CHECK_EQ(ops->tx_burst(z, t, 3), 3);
	CHECK_EQ(z->stats.tx_copied_bytes, 0);
	CHECK_EQ(drv_shim_ref_calls - calls0, 3);
	settle(a);
	settle(z);
	CHECK_EQ(drv_shim_refs, 0);
	ops->close(a);
	ops->close(z);
	ops->close(b);
}

/* Buffers given back one at a time, newest first, across many rounds: the ring stays whole. */
static void rx_done__out_of_order(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tx_plan p;
	struct rx_check c;
	struct tern_tx tx[8];
	struct tern_rx rx[8];
	const uint32_t rounds = 60;

	memset(&c, 0, sizeof(c));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", "rx_ring=8", 0, 0, &b) == 0);
	REQUIRE(plan_init(&p, rounds * 8, 1472) == 0);
	REQUIRE(rxc_init(&c, &p, &a->info.local) == 0);
	struct tern_addr dst = b->info.local;
	uint64_t dl = now_ns() + 10000000000ull;
	for (uint32_t r = 0; r < rounds && now_ns() < dl; r++) {
		for (unsigned j = 0; j < 8; j++)
			plan_tx(&p, r * 8 + j, &dst, &tx[j]);
		CHECK_EQ(ops->tx_burst(a, tx, 8), 8);
		for (int i = 0; i < 1000 && c.got < (r + 1) * 8 && now_ns() < dl; i++) {
			unsigned n = ops->rx_burst(b, rx, 8);
			if (n == 0) {
				ops->wait(b, 10000000);
				continue;
			}
			for (unsigned j = 0; j < n; j++)
				rxc_one(&c, &rx[j]);
			/* Newest first, one call each. */
			for (unsigned j = n; j-- > 0;)
				ops->rx_done(b, &rx[j], 1);
		}
	}
	CHECK_EQ(c.got, rounds * 8);
	CHECK_EQ(c.bad + c.dup, 0);
	settle(a);
	ops->close(a);
	ops->close(b);
	rxc_free(&c);
	free(p.mem);
}

/*
 * A burst far larger than the receive ring while the receiver is not
 * polling: the ring runs dry, the socket overflows; both are counted, nothing
 * crashes, and the receive path re-arms and works afterwards.
 */
static void ring_overrun(const char *rx_args, bool exact_drops)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tx_plan p;
	struct rx_check c;
	struct tern_tx tx[BURST];
	const uint32_t total = 1000;

	memset(&c, 0, sizeof(c));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", rx_args, 0, 0, &b) == 0);
	REQUIRE(plan_init(&p, total + 8, 1472) == 0);
	REQUIRE(rxc_init(&c, &p, NULL) == 0);
	struct tern_addr dst = b->info.local;
	uint32_t sent = 0;
	uint64_t dl = now_ns() + 10000000000ull;
	for (int i = 0; i < 100000 && sent < total && now_ns() < dl; i++) {
		unsigned k = total - sent < BURST ? total - sent : BURST;
		for (unsigned j = 0; j < k; j++)
			plan_tx(&p, sent + j, &dst, &tx[j]);
		sent += ops->tx_burst(a, tx, k);
	}
	CHECK_EQ(sent, total);
	settle(a);
	/* Drain until 200 ms pass without a datagram. */
	uint64_t quiet = now_ns() + 200000000ull;
	for (int i = 0; i < 100000 && now_ns() < quiet && now_ns() < dl; i++) {
		if (rxc_poll(b, &c) != 0)
			quiet = now_ns() + 200000000ull;
		else
			ops->wait(b, 10000000);
	}
	uint32_t got = c.got;
	if (getenv("TERN_TEST_LOG") != NULL)
		fprintf(stderr, "  overrun: got %u of %u, nomem %llu\n", got, total,
			(unsigned long long)b->stats.rx_drop_nomem);
	CHECK(got >= 16);                 /* at least a full ring */
	CHECK(got < total);               /* 64 KiB of socket buffer cannot hold it all */
	CHECK(b->stats.rx_drop_nomem > 0);
	CHECK_EQ(c.bad, 0);
	/* Fresh datagrams get through (receive re-armed) and carry the kernel's drop count. */
	for (uint32_t j = 0; j < 8; j++)
		plan_tx(&p, total + j, &dst, &tx[j]);
	CHECK_EQ(ops->tx_burst(a, tx, 8), 8);
	/* (A stalled test thread may have left old ones queued: count the fresh ones by seq.) */
	POLL_UNTIL(b, &c, memchr(c.seen + total, 0, 8) == NULL);
	CHECK(memchr(c.seen + total, 0, 8) == NULL);
	/* Every datagram lost was lost at the socket, and counted there. */
	if (getenv("TERN_TEST_LOG") != NULL)
		fprintf(stderr, "  overrun: after fresh: nomem %llu\n", (unsigned long long)b->stats.rx_drop_nomem);
	if (exact_drops)
		CHECK(c.got - 8 + b->stats.rx_drop_nomem >= total);
	else
		CHECK(c.got - 8 < total && b->stats.rx_drop_nomem > 0);
	settle(a);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
	rxc_free(&c);
	free(p.mem);
}

static void rx_burst__ring_overrun(void)
{
	ring_overrun("rx_ring=16,rcvbuf=64k,gro=0", true);
	/*
	 * gro=1 (mmsg): the sender's runs arrive as one skb each, and the
	 * kernel's drop counter (SO_RXQ_OVFL) counts a dropped run once, not
	 * per datagram: rx_drop_nomem is then a lower bound.
	 */
	ring_overrun("rx_ring=16,rcvbuf=64k,gro=1", !mode_mmsg());
}

/* A datagram longer than the MTU, from a plain socket: dropped as truncated. */
static void rx_burst__oversize_truncated(void)
{
	struct tern_drv *b = NULL;
	struct rx_check c;
	uint8_t big[1000];
	REQUIRE(drv_open("127.0.0.1:0", "mtu=512", 0, 0, &b) == 0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(fd >= 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(b->info.local.port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in me = {.sin_family = AF_INET};
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t ml = sizeof(me);
	CHECK(bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&me, &ml) == 0);

	memset(&c, 0, sizeof(c));
	c.count = 1;
	c.mtu = 512;
	c.seen = calloc(1, 1);
	c.scratch = malloc(2048);
	REQUIRE(c.seen != NULL && c.scratch != NULL);
	/* seq 0's bytes, so a delivered datagram would be recognised. */
	struct gen g = gen_sizes(0, 512);
	uint32_t ok_len = g.hdr_len + g.len + g.trailer_len;
	gen_bytes(0, big, sizeof(big));
	CHECK(sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)sizeof(big));
	CHECK(sendto(fd, big, 513, 0, (struct sockaddr *)&to, sizeof(to)) == 513);
	POLL_UNTIL(b, &c, b->stats.rx_drop_trunc == 2);
	CHECK_EQ(b->stats.rx_drop_trunc, 2);
	CHECK_EQ(c.got + c.bad, 0);
	/* The buffers came back: a datagram that fits still arrives, intact, with its source. */
	gen_bytes(0, big, ok_len);
	c.src.family = AF_INET;
	c.src.port = ntohs(me.sin_port);
	memcpy(c.src.ip, &me.sin_addr, 4);
	CHECK(sendto(fd, big, ok_len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)ok_len);
	POLL_UNTIL(b, &c, c.got == 1);
	CHECK_EQ(c.got, 1);
	CHECK_EQ(c.bad, 0);
	/* Exactly the MTU fits. */
	uint8_t full[512];
	memset(full, 0x5a, sizeof(full));
	memcpy(full, "\x07\x00\x00\x00", 4); /* seq 7: not ours, lands in c.bad, but arrives */
	c.count = 1;
	CHECK(sendto(fd, full, sizeof(full), 0, (struct sockaddr *)&to, sizeof(to)) == 512);
	POLL_UNTIL(b, &c, c.bad == 1);
	CHECK_EQ(c.bad, 1);
	CHECK_EQ(b->stats.rx_drop_trunc, 2);
	close(fd);
	ops->close(b);
	rxc_free(&c);
}

/* wait() returns on a timeout and when data arrives; only that it returns is asserted. */
static void wait__data_and_timeout(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_rx rx[BURST];
	uint8_t hdr[40];
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	CHECK_EQ(ops->wait(b, 20000000), 0); /* idle: times out */
	CHECK_EQ(ops->wait(b, 0), 0);
	CHECK_EQ(ops->rx_burst(b, rx, BURST), 0);

	memset(hdr, 3, sizeof(hdr));
	struct tern_addr dst = b->info.local;
	struct tern_tx t = {.dst = &dst, .hdr = hdr, .hdr_len = sizeof(hdr)};
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	unsigned n = 0;
	for (int i = 0; i < 500 && n == 0; i++) {
		CHECK_EQ(ops->wait(b, 10000000000ull), 0); /* returns once the datagram is in */
		n = ops->rx_burst(b, rx, BURST);
	}
	CHECK_EQ(n, 1);
	ops->rx_done(b, rx, n);
	/* Data already waiting: wait returns at once (not timed, just returns). */
	CHECK_EQ(ops->tx_burst(a, &t, 1), 1);
	for (int i = 0; i < 500 && n == 1; i++) {
		CHECK_EQ(ops->wait(b, 10000000000ull), 0);
		if (ops->rx_burst(b, rx, BURST) == 1) {
			ops->rx_done(b, rx, 1);
			n = 2;
		}
	}
	CHECK_EQ(n, 2);
	ops->close(a);
	ops->close(b);
}

/* close() right after sending: it reaps or cancels, and drops every reference. */
static void close__drops_all_refs(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	static uint8_t payload[8000];
	uint8_t hdr[32] = {0};
	struct tern_tx t[BURST];
	long calls0 = drv_shim_ref_calls;
	/* Small socket buffer on the sender: some sends may wait for space. */
	REQUIRE(drv_open("127.0.0.1:0", "mtu=9000,sndbuf=16k", 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", "rcvbuf=16k", 0, 0, &b) == 0);
	struct tern_addr dst = b->info.local;
	for (unsigned i = 0; i < BURST; i++)
		t[i] = (struct tern_tx){.dst = &dst, .hdr = hdr, .hdr_len = 32, .payload = payload,
					.len = sizeof(payload), .msg = FAKE_MSG};
	unsigned sent = 0;
	for (int i = 0; i < 8; i++)
		sent += ops->tx_burst(a, t, BURST);
	CHECK(sent > 0);
	CHECK_EQ(drv_shim_ref_calls - calls0, mode_mmsg() ? 0 : sent);
	ops->close(a);
	CHECK_EQ(drv_shim_refs, 0);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
}

/*
 * Regression: the ring's fixed-file table kept the socket bound for ~40 ms
 * after close (the kernel tears rings down asynchronously), so a restarted
 * server could not bind its port again at once.
 */
static void close__port_free_at_once(void)
{
	struct tern_drv *a = NULL;
	char bind[64];
	uint8_t hdr[32] = {0};
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u", a->info.local.port);
	for (int i = 0; i < 20; i++) {
		/* Use the ring (activation, a send) before closing it. */
		struct tern_tx t = {.dst = &a->info.local, .hdr = hdr, .hdr_len = 32};
		ops->tx_burst(a, &t, 1);
		ops->close(a);
		a = NULL;
		int rc = drv_open(bind, NULL, 0, 0, &a);
		CHECK_EQ(rc, 0);
		if (rc != 0)
			return;
	}
	ops->close(a);
}

/* Opened on one thread, polled on another: the ring binds to the poller. */
struct thr_arg {
	struct tern_drv *a, *b;
	uint32_t got;
};
static void *thr_body(void *p)
{
	struct thr_arg *t = p;
	struct tx_plan plan;
	struct rx_check c;
	memset(&c, 0, sizeof(c));
	if (plan_init(&plan, 200, t->a->info.mtu) != 0)
		return NULL;
	c.src = t->a->info.local;
	t->got = exchange(t->a, t->b, &plan, false, &c);
	ops->close(t->a);
	ops->close(t->b);
	rxc_free(&c);
	free(plan.mem);
	return NULL;
}
static void open__other_thread_polls(void)
{
	struct thr_arg t = {0};
	pthread_t th;
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &t.a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &t.b) == 0);
	REQUIRE(pthread_create(&th, NULL, thr_body, &t) == 0);
	pthread_join(th, NULL);
	CHECK_EQ(t.got, 200);
	CHECK_EQ(drv_shim_refs, 0);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--mode") == 0) {
		test_mode = argv[2];
		argc -= 2;
		argv += 2;
		printf("# driver mode=%s\n", test_mode);
	}
	if (argc >= 4 && strcmp(argv[1], "--netns-server") == 0)
		return udp_netns_server(argv[2], (unsigned)atoi(argv[3]));
	if (argc >= 5 && strcmp(argv[1], "--netns-client") == 0)
		return udp_netns_client(argv[2], argv[3], (unsigned)atoi(argv[4]),
				    argc >= 6 && strcmp(argv[5], "-") != 0 ? argv[5] : NULL,
				    argc >= 7 && strcmp(argv[6], "quit") == 0);
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0)
		return udp_bench();

	RUN(open__defaults);
	RUN(open__port0_gives_real_port);
	RUN(open__bad_args);
	RUN(exchange__ipv4_random_sizes);
	RUN(exchange__ipv4_jumbo_mtu);
	RUN(exchange__ipv6_loopback);
	RUN(exchange__dual_stack_reply);
	RUN(exchange__busy_poll);
	if (!mode_mmsg()) {
		/* Ring setups, transmit contexts, the copy threshold: io_uring mode only. */
		RUN(exchange__ring_coop);
		RUN(exchange__ring_plain);
		RUN(tx_burst__contexts_full);
		RUN(tx_burst__copy_threshold);
	}
	RUN(exchange__tiny_rings);
	RUN(tx_burst__family_mismatch);
	RUN(tx_burst__more_than_vector);
	RUN(rx_burst__more_than_vector);
	RUN(tx_burst__unreach_taken_mid_burst);
	RUN(rx_done__out_of_order);
	RUN(rx_burst__ring_overrun);
	RUN(rx_burst__oversize_truncated);
	RUN(rx_burst__port_unreachable_reported);
	RUN(wait__data_and_timeout);
	RUN(close__drops_all_refs);
	RUN(close__port_free_at_once);
	RUN(open__other_thread_polls);
	udp_gso_cases();
	check_case = "no_warnings";
	CHECK_EQ(warnings, 0);
	return check_exit();
}
