/*
 * udp_gso_cases.c — test_udp's cases of transmit segmentation (gso=,
 * drivers/udp/udp_mmsg.c): runs of datagrams to one destination with one
 * length leave as one UDP_SEGMENT message, and the receivers still get
 * every datagram, intact and in order, with exact counters on both sides.
 * Each case runs with gso=1 (checking how many segmented messages the
 * kernel took) and gso=0 (none, same datagrams). In mode=uring gso does not
 * apply: the same cases check that nothing changes there.
 *
 * Datagram s of a case has the length the case gives it, is gathered from
 * a 32-byte header, a payload and (from 64 bytes on) a 16-byte trailer, and
 * its bytes derive from s (its first 4 bytes are s), so the receiver can
 * tell which one it got and check every byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "udp/udp.h"
#include "udp_test.h"

static const struct tern_drv_ops *const ops = &tern_drv_udp;

#define GSO_MAX_N 256u

/* A case: n datagrams, datagram s of len[s] bytes to receiver to[s] (0 or 1). */
struct gso_case {
	unsigned n;
	uint32_t len[GSO_MAX_N];
	uint8_t to[GSO_MAX_N];
	uint32_t mtu;     /* driver MTU (0 = default) */
	const char *bind; /* NULL = 127.0.0.1:0 */
};

static uint8_t byte_of(uint32_t s, uint32_t j)
{
	return (uint8_t)(s * 131u + j * 7u + (j >> 8));
}

static void fill_bytes(uint32_t s, uint8_t *p, uint32_t len)
{
	for (uint32_t j = 0; j < len; j++)
		p[j] = byte_of(s, j);
	memcpy(p, &s, sizeof(s));
}

/* Datagram s of the case, from its bytes at b, as a three-part descriptor. */
static void gso_tx(const struct gso_case *cs, uint32_t s, const uint8_t *b, const struct tern_addr *dst,
		   struct tern_tx *t)
{
	uint32_t len = cs->len[s];
	memset(t, 0, sizeof(*t));
	t->dst = dst;
	t->hdr = b;
	t->hdr_len = 32;
	t->trailer_len = len >= 64 ? 16 : 0;
	t->len = len - t->hdr_len - t->trailer_len;
	t->payload = t->len != 0 ? b + 32 : NULL;
	t->msg = t->len != 0 ? FAKE_MSG : NULL;
	t->trailer = t->trailer_len != 0 ? b + 32 + t->len : NULL;
}

static struct gso_case gc; /* a case is too big for the stack of every case */

/* What a receiver saw: the next datagram it expects is the next one sent to it. */
struct gso_rx {
	unsigned got, bad, order;
	uint32_t next; /* index into the case of the next datagram for this receiver */
	uint64_t bytes;
};

static void gso_check(const struct gso_case *cs, unsigned who, struct gso_rx *r, const struct tern_rx *rx,
		      uint8_t *scratch)
{
	uint32_t s;
	while (r->next < cs->n && cs->to[r->next] != who)
		r->next++;
	if (rx->len < 4 || r->next >= cs->n) {
		r->bad++;
		return;
	}
	memcpy(&s, rx->data, sizeof(s));
	if (s != r->next) {
		if (r->order++ < 3)
			fprintf(stderr, "  receiver %u: got %u, expected %u\n", who, s, r->next);
		if (s >= cs->n)
			return;
	}
	fill_bytes(s, scratch, cs->len[s]);
	if (rx->len != cs->len[s] || memcmp(rx->data, scratch, rx->len) != 0) {
		if (r->bad++ < 3)
			fprintf(stderr, "  receiver %u: datagram %u: len %u want %u\n", who, s, rx->len, cs->len[s]);
		return;
	}
	r->got++;
	r->bytes += rx->len;
	r->next = s + 1;
}

/* Receive at b (receiver 0 of gc) until want datagrams came (bounded). */
static void gso_drain(struct tern_drv *b, struct gso_rx *r, unsigned want, uint8_t *scratch)
{
	uint64_t dl = now_ns() + 5000000000ull;
	for (int it = 0; it < 100000 && r->got < want && now_ns() < dl; it++) {
		struct tern_rx rx[BURST];
		unsigned m = ops->rx_burst(b, rx, BURST);
		for (unsigned i = 0; i < m; i++)
			gso_check(&gc, 0, r, &rx[i], scratch);
		ops->rx_done(b, rx, m);
		if (m == 0)
			ops->wait(b, 1000000);
	}
}

/* How the receivers of an exchange are opened and read. */
struct gso_rxopt {
	const char *args; /* the receivers' driver arguments (NULL: defaults, gro=1) */
	unsigned n;       /* rx_burst's n (0: BURST) */
	uint64_t gro_msgs; /* out: coalesced messages both receivers got (mmsg, gro=1) */
};

/*
 * Send the case from one instance to two (args for the sender), in bursts of
 * burst descriptors; check both receivers and every counter. Returns the
 * segmented messages the sender's kernel took, or -1 if the case failed.
 * The receivers give their buffers back in reverse order.
 */
static long gso_exchange_rx(const struct gso_case *cs, const char *args, unsigned burst, struct gso_rxopt *ro)
{
	struct tern_drv *a = NULL, *b[2] = {NULL, NULL};
	const char *bind = cs->bind != NULL ? cs->bind : "127.0.0.1:0";
	uint32_t mtu = cs->mtu != 0 ? cs->mtu : 1472;
	struct tern_tx tx[GSO_MAX_N];
	struct gso_rx r[2];
	unsigned want[2] = {0, 0};
	uint64_t bytes = 0, want_bytes[2] = {0, 0};
	long sends = -1;
	uint8_t *mem = malloc((size_t)cs->n * mtu), *scratch = malloc(mtu);

	memset(r, 0, sizeof(r));
	if (mem == NULL || scratch == NULL || drv_open(bind, args, 0, mtu, &a) != 0 ||
	    drv_open(bind, ro->args, 0, mtu, &b[0]) != 0 || drv_open(bind, ro->args, 0, mtu, &b[1]) != 0) {
		CHECK(!"open");
		goto out;
	}
	for (uint32_t s = 0; s < cs->n; s++) {
		uint8_t *p = mem + (size_t)s * mtu;
		fill_bytes(s, p, cs->len[s]);
		gso_tx(cs, s, p, &b[cs->to[s]]->info.local, &tx[s]);
		want[cs->to[s]]++;
		want_bytes[cs->to[s]] += cs->len[s];
		bytes += cs->len[s];
	}
	/* Every descriptor is taken (the socket buffers hold a case, 4 MiB). */
	for (unsigned s = 0; s < cs->n; s += burst) {
		unsigned k = cs->n - s < burst ? cs->n - s : burst;
		CHECK_EQ(ops->tx_burst(a, tx + s, k), k);
	}
	settle(a);
	uint64_t dl = now_ns() + 5000000000ull;
	for (int it = 0; it < 100000 && (r[0].got < want[0] || r[1].got < want[1]) && now_ns() < dl; it++) {
		unsigned seen = 0;
		for (unsigned w = 0; w < 2; w++) {
			struct tern_rx rx[BURST];
			unsigned m = ops->rx_burst(b[w], rx, ro->n != 0 ? ro->n : BURST);
			for (unsigned i = 0; i < m; i++)
				gso_check(cs, w, &r[w], &rx[i], scratch);
			for (unsigned i = m; i-- > 0;)
				ops->rx_done(b[w], &rx[i], 1);
			seen += m;
		}
		if (seen == 0)
			ops->wait(r[0].got < want[0] ? b[0] : b[1], 1000000);
	}
	for (unsigned w = 0; w < 2; w++) {
		CHECK_EQ(r[w].got, want[w]);
		CHECK_EQ(r[w].bad + r[w].order, 0);
		CHECK_EQ(b[w]->stats.rx_pkts, want[w]);
		CHECK_EQ(b[w]->stats.rx_bytes, want_bytes[w]);
		CHECK_EQ(b[w]->stats.rx_drop_trunc + b[w]->stats.rx_drop_frame + b[w]->stats.rx_drop_nomem, 0);
		if (mode_mmsg())
			CHECK_EQ(udp_of(b[w])->rx_nfree, udp_of(b[w])->nbuf);
		const struct udp_gro *g = udp_of(b[w])->gro;
		CHECK(g == NULL || g->cur == g->msgs); /* nothing left staged */
		ro->gro_msgs += udp_of(b[w])->gro_msgs;
	}
	CHECK_EQ(a->stats.tx_pkts, cs->n);
	CHECK_EQ(a->stats.tx_bytes, bytes);
	CHECK_EQ(a->stats.tx_drop_error + a->stats.tx_drop_noroute + a->stats.tx_drop_full, 0);
	CHECK_EQ(a->stats.tx_copied_bytes, mode_mmsg() ? 0 : a->stats.tx_copied_bytes);
	sends = (long)udp_of(a)->gso_sends;
out:
	for (unsigned w = 0; w < 2; w++)
		if (b[w] != NULL)
			ops->close(b[w]);
	if (a != NULL)
		ops->close(a);
	CHECK_EQ(drv_shim_refs, 0);
	free(mem);
	free(scratch);
	return sends;
}

static long gso_exchange(const struct gso_case *cs, const char *args, unsigned burst, const char *rx_args)
{
	struct gso_rxopt ro = {.args = rx_args};
	long sends = gso_exchange_rx(cs, args, burst, &ro);
	/* gro=1 receivers (mmsg) get each segmented send whole; gro=0 ones never coalesce. */
	bool gro = mode_mmsg() && (rx_args == NULL || strstr(rx_args, "gro=0") == NULL);
	CHECK_EQ(ro.gro_msgs, gro && sends > 0 ? (uint64_t)sends : 0);
	return sends;
}

/*
 * The case with gso=1 (expecting segs segmented messages in mmsg mode) and
 * gso=0 (none), each to gro=1 (default) and gro=0 receivers.
 */
static void gso_both(const struct gso_case *cs, unsigned burst, long segs)
{
	CHECK_EQ(gso_exchange(cs, NULL, burst, NULL), mode_mmsg() ? segs : 0);
	CHECK_EQ(gso_exchange(cs, "gso=0", burst, NULL), 0);
	CHECK_EQ(gso_exchange(cs, NULL, burst, "gro=0"), mode_mmsg() ? segs : 0);
	CHECK_EQ(gso_exchange(cs, "gso=0", burst, "gro=0"), 0);
}

static void gso_equal(unsigned n, uint32_t len)
{
	memset(&gc, 0, sizeof(gc));
	gc.n = n;
	for (unsigned s = 0; s < n; s++)
		gc.len[s] = len;
}

/* 32 equal datagrams to one receiver: one message of 32 segments. */
static void gso__equal_burst(void)
{
	gso_equal(32, 1000);
	gso_both(&gc, 32, 1);
}

/* A shorter datagram ends a run (and belongs to it): 10 x 1200 + 500 | 5 x 1200. */
static void gso__short_last(void)
{
	gso_equal(16, 1200);
	gc.len[10] = 500;
	gso_both(&gc, 16, 2);
	/* A longer one ends it too, without joining: 4 x 600 | 1300 x 4. */
	gso_equal(8, 600);
	for (unsigned s = 4; s < 8; s++)
		gc.len[s] = 1300;
	gso_both(&gc, 8, 2);
}

/* Two receivers and two lengths, interleaved in runs of 4: 10 runs, each one message. */
static void gso__two_dests_two_lengths(void)
{
	gso_equal(40, 0);
	for (unsigned s = 0; s < 40; s++) {
		gc.to[s] = (uint8_t)((s / 4) % 2);
		gc.len[s] = (s / 8) % 2 ? 700 : 1300;
	}
	gso_both(&gc, 40, 10);
	/* Alternating receivers: no run at all, every datagram its own message. */
	for (unsigned s = 0; s < 40; s++)
		gc.to[s] = (uint8_t)(s % 2);
	gso_both(&gc, 40, 0);
}

/*
 * More than 64 in one burst: 200 small datagrams go as runs of 64 (the
 * kernel's segment limit), 64 + 64 + 64 + 8; full-size ones as runs of 44
 * (65507 bytes a send): 100 x 1472 = 44 + 44 + 12.
 */
static void gso__more_than_64(void)
{
	gso_equal(200, 200);
	gso_both(&gc, 200, 4);
	gso_equal(100, 1472);
	gso_both(&gc, 100, 3);
}

/*
 * Large datagrams: at MTU 9000, 7 make a send (63000 bytes), 10 = 7 + 3;
 * at the largest MTU, 65507, each is its own message, intact.
 */
static void gso__max_size(void)
{
	gso_equal(10, 9000);
	gc.mtu = 9000;
	gso_both(&gc, 10, 2);
	gso_equal(3, 65507);
	gc.mtu = 65507;
	gso_both(&gc, 3, 0);
	gso_equal(6, 32000); /* two make a send (64000): 2 + 2 + 2 */
	gc.mtu = 32000;
	gso_both(&gc, 6, 3);
}

static void gso__ipv6(void)
{
	struct tern_drv *d = NULL;
	if (drv_open("[::1]:0", NULL, 0, 0, &d) != 0) {
		SKIP("no IPv6 loopback");
		return;
	}
	ops->close(d);
	gso_equal(64, 1400);
	gc.bind = "[::1]:0";
	gso_both(&gc, 64, 2); /* 46 x 1400 = 64400 bytes a send: 46 + 18 */
}

/*
 * The kernel refuses segmentation on a socket with SO_NO_CHECK (no UDP
 * checksum: nothing to offload it to), EINVAL: the sender turns gso off
 * and sends the refused run and the rest one by one. Nothing is lost,
 * counters stay exact, and later bursts go unsegmented.
 */
static void gso__refused_falls_back(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_tx tx[GSO_MAX_N];
	uint8_t *mem = NULL, *scratch = NULL;
	struct gso_rx r;
	int one = 1;

	if (!mode_mmsg())
		return;
	gso_equal(100, 1000);
	memset(&r, 0, sizeof(r));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	REQUIRE(setsockopt(udp_of(a)->fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)) == 0);
	mem = malloc(100 * 1000);
	scratch = malloc(1472);
	REQUIRE(mem != NULL && scratch != NULL);
	for (uint32_t s = 0; s < 100; s++) {
		fill_bytes(s, mem + s * 1000, 1000);
		gso_tx(&gc, s, mem + s * 1000, &b->info.local, &tx[s]);
	}
	/* One lone datagram first: sent as ever, gso still on. */
	CHECK_EQ(ops->tx_burst(a, tx, 1), 1);
	CHECK_EQ(udp_of(a)->gso_max, 65507);
	CHECK_EQ(ops->tx_burst(a, tx + 1, 60), 60);
	CHECK_EQ(udp_of(a)->gso_max, 0);
	CHECK_EQ(ops->tx_burst(a, tx + 61, 39), 39);
	CHECK_EQ(udp_of(a)->gso_sends, 0);
	CHECK_EQ(a->stats.tx_pkts, 100);
	CHECK_EQ(a->stats.tx_bytes, 100000);
	CHECK_EQ(a->stats.tx_drop_error, 0);
	gso_drain(b, &r, 100, scratch);
	CHECK_EQ(r.got, 100);
	CHECK_EQ(r.bad + r.order, 0);
	CHECK_EQ(b->stats.rx_pkts, 100);
	ops->close(a);
	ops->close(b);
	free(mem);
	free(scratch);
}

/*
 * An invalid descriptor (#7) and an unreachable family (#12) inside a run
 * of 20 equal datagrams: each ends the run before it, is consumed and
 * counted once, and the rest go as runs 0-6, 8-11, 13-19.
 */
static void gso__invalid_in_run(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_tx tx[20];
	uint8_t *mem = NULL, *scratch = NULL;
	struct gso_rx r;

	gso_equal(20, 1000);
	gc.to[7] = gc.to[12] = 1; /* not for b */
	memset(&r, 0, sizeof(r));
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &b) == 0);
	mem = malloc(20 * 1000);
	scratch = malloc(1472);
	REQUIRE(mem != NULL && scratch != NULL);
	for (uint32_t s = 0; s < 20; s++) {
		fill_bytes(s, mem + s * 1000, 1000);
		gso_tx(&gc, s, mem + s * 1000, &b->info.local, &tx[s]);
	}
	tx[7].hdr_len = TERN_TX_HDR_MAX + 1;
	struct tern_addr v6 = addr_of("[::1]:9");
	tx[12].dst = &v6;
	CHECK_EQ(ops->tx_burst(a, tx, 20), 20);
	CHECK_EQ(a->stats.tx_pkts, 18);
	CHECK_EQ(a->stats.tx_bytes, 18000);
	CHECK_EQ(a->stats.tx_drop_error, 1);
	CHECK_EQ(a->stats.tx_drop_noroute, 1);
	CHECK_EQ(udp_of(a)->gso_sends, mode_mmsg() ? 3 : 0);
	gso_drain(b, &r, 18, scratch);
	CHECK_EQ(r.got, 18);
	CHECK_EQ(r.bad + r.order, 0);
	CHECK_EQ(b->stats.rx_pkts, 18);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
	free(mem);
	free(scratch);
}

static void gso__bad_arg(void)
{
	struct tern_drv *d = NULL;
	CHECK_EQ(drv_open("127.0.0.1:0", "gso=2", 0, 0, &d), -EINVAL);
	CHECK_EQ(drv_open("127.0.0.1:0", "gso=", 0, 0, &d), -EINVAL);
	REQUIRE(drv_open("127.0.0.1:0", "gso=0", 0, 0, &d) == 0);
	CHECK_EQ(udp_of(d)->gso_max, 0);
	ops->close(d);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &d) == 0);
	CHECK_EQ(udp_of(d)->gso_max, mode_mmsg() ? 65507 : 0);
	ops->close(d);
}

/* --- receive coalescing (gro=) ----------------------------------------- */

/* Bursts of N equal datagrams from gso=1 to gro=1: one coalesced message per run. */
static void gro__bursts(void)
{
	static const unsigned ns[] = {1, 32, 64, 200};
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		gso_equal(ns[i], 1000);
		long runs = ns[i] == 1 ? 0 : (long)((ns[i] + 63) / 64); /* 200: 64 + 64 + 64 + 8 */
		CHECK_EQ(gso_exchange(&gc, NULL, ns[i] < GSO_MAX_N ? ns[i] : GSO_MAX_N, "gro=1"),
			 mode_mmsg() ? runs : 0);
	}
	/* Short last and two lengths in one burst: 10 x 1200 + 500 | 5 x 1300 | 7 x 300. */
	gso_equal(23, 1200);
	gc.len[10] = 500;
	for (unsigned s = 11; s < 16; s++)
		gc.len[s] = 1300;
	for (unsigned s = 16; s < 23; s++)
		gc.len[s] = 300;
	CHECK_EQ(gso_exchange(&gc, NULL, 23, "gro=1"), mode_mmsg() ? 3 : 0);
}

static void gro__ipv6(void)
{
	struct tern_drv *d = NULL;
	if (drv_open("[::1]:0", NULL, 0, 0, &d) != 0) {
		SKIP("no IPv6 loopback");
		return;
	}
	ops->close(d);
	gso_equal(120, 1400);
	gc.len[119] = 99;
	gc.bind = "[::1]:0";
	/* 46 x 1400 a send: 46 + 46 + 27 and the short one, which ends the third run */
	CHECK_EQ(gso_exchange(&gc, NULL, 120, "gro=1"), mode_mmsg() ? 3 : 0);
}

/*
 * rx_burst of 3 entries against runs of 64: each coalesced message is handed
 * out over 22 bursts, staged in between; none lost, order kept, and the
 * buffers all back (checked by the exchange).
 */
static void gro__small_rx_burst(void)
{
	struct gso_rxopt ro = {.args = "gro=1", .n = 3};
	gso_equal(128, 700);
	CHECK_EQ(gso_exchange_rx(&gc, NULL, 128, &ro), mode_mmsg() ? 2 : 0);
	CHECK_EQ(ro.gro_msgs, mode_mmsg() ? 2 : 0);
	ro.n = 1;
	ro.gro_msgs = 0;
	gso_equal(64, 64);
	CHECK_EQ(gso_exchange_rx(&gc, NULL, 64, &ro), mode_mmsg() ? 1 : 0);
	CHECK_EQ(ro.gro_msgs, mode_mmsg() ? 1 : 0);
}

/*
 * The core holds every buffer but one (rx_ring=64): a coalesced run of 64
 * waits staged, one datagram per rx_burst as buffers come back, none lost.
 */
static void gro__buffers_held(void)
{
	struct tern_drv *a = NULL, *b = NULL;
	struct tern_tx tx[64];
	struct tern_rx held[64], rx[BURST];
	uint8_t *mem = malloc(64 * 500), *scratch = malloc(1472);
	struct gso_rx r;
	unsigned nheld = 0;

	if (!mode_mmsg()) {
		free(mem);
		free(scratch);
		return;
	}
	gso_equal(64, 500);
	memset(&r, 0, sizeof(r));
	REQUIRE(mem != NULL && scratch != NULL);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
	REQUIRE(drv_open("127.0.0.1:0", "gro=1,rx_ring=64", 0, 0, &b) == 0);
	REQUIRE(udp_of(b)->nbuf == 64);
	for (uint32_t s = 0; s < 64; s++) {
		fill_bytes(s, mem + s * 500, 500);
		gso_tx(&gc, s, mem + s * 500, &b->info.local, &tx[s]);
	}
	CHECK_EQ(ops->tx_burst(a, tx, 64), 64);
	CHECK_EQ(udp_of(a)->gso_sends, 1);
	settle(a);
	/* Take 63 and keep them. */
	uint64_t dl = now_ns() + 5000000000ull;
	for (int it = 0; it < 100000 && nheld < 63 && now_ns() < dl; it++) {
		unsigned m = ops->rx_burst(b, held + nheld, 63 - nheld);
		for (unsigned i = 0; i < m; i++)
			gso_check(&gc, 0, &r, &held[nheld + i], scratch);
		nheld += m;
		if (m == 0)
			ops->wait(b, 1000000);
	}
	REQUIRE(nheld == 63);
	CHECK_EQ(udp_of(b)->rx_nfree, 1);
	/* One buffer free: one datagram a burst; then none free: nothing. */
	CHECK_EQ(ops->rx_burst(b, rx, BURST), 1);
	gso_check(&gc, 0, &r, &rx[0], scratch);
	CHECK_EQ(ops->rx_burst(b, rx + 1, BURST), 0);
	ops->rx_done(b, rx, 1);
	ops->rx_done(b, held, nheld);
	CHECK_EQ(r.got, 64);
	CHECK_EQ(r.bad + r.order, 0);
	CHECK_EQ(b->stats.rx_pkts, 64);
	CHECK_EQ(b->stats.rx_bytes, 64 * 500);
	CHECK_EQ(udp_of(b)->gro_msgs, 1);
	CHECK_EQ(udp_of(b)->rx_nfree, 64);
	CHECK_EQ(ops->rx_burst(b, rx, BURST), 0);
	ops->close(a);
	ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
	free(mem);
	free(scratch);
}

/*
 * Datagrams longer than the receiver's MTU (1200 > 1000) are dropped as
 * truncated, one count each, with gro=1 (a coalesced run) as with gro=0
 * (MSG_TRUNC); the shorter ones around them arrive.
 */
static void gro__over_mtu_dropped(void)
{
	static const char *const rx_args[] = {"gro=1", "gro=0"};
	for (unsigned v = 0; v < 2; v++) {
		struct tern_drv *a = NULL, *b = NULL;
		struct tern_tx tx[40];
		uint8_t *mem = malloc(40 * 1200), *scratch = malloc(1472);
		struct gso_rx r;
		REQUIRE(mem != NULL && scratch != NULL);
		gso_equal(40, 1200);
		for (unsigned s = 30; s < 40; s++)
			gc.len[s] = 900;
		memset(&r, 0, sizeof(r));
		REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &a) == 0);
		REQUIRE(drv_open("127.0.0.1:0", rx_args[v], 0, 1000, &b) == 0);
		for (uint32_t s = 0; s < 40; s++) {
			fill_bytes(s, mem + s * 1200, gc.len[s]);
			gso_tx(&gc, s, mem + s * 1200, &b->info.local, &tx[s]);
		}
		CHECK_EQ(ops->tx_burst(a, tx, 40), 40);
		settle(a);
		r.next = 30; /* the first 30 do not arrive */
		gso_drain(b, &r, 10, scratch);
		CHECK_EQ(r.got, 10);
		CHECK_EQ(r.bad + r.order, 0);
		CHECK_EQ(b->stats.rx_pkts, 10);
		CHECK_EQ(b->stats.rx_bytes, 9000);
		CHECK_EQ(b->stats.rx_drop_trunc, 30);
		CHECK_EQ(udp_of(b)->rx_nfree, mode_mmsg() ? udp_of(b)->nbuf : udp_of(b)->rx_nfree);
		ops->close(a);
		ops->close(b);
		free(mem);
		free(scratch);
	}
}

static void gro__bad_arg(void)
{
	struct tern_drv *d = NULL;
	CHECK_EQ(drv_open("127.0.0.1:0", "gro=2", 0, 0, &d), -EINVAL);
	CHECK_EQ(drv_open("127.0.0.1:0", "gro=", 0, 0, &d), -EINVAL);
	CHECK_EQ(drv_open("127.0.0.1:0", "gro=yes", 0, 0, &d), -EINVAL);
	REQUIRE(drv_open("127.0.0.1:0", "gro=0", 0, 0, &d) == 0);
	CHECK(udp_of(d)->gro == NULL);
	ops->close(d);
	REQUIRE(drv_open("127.0.0.1:0", NULL, 0, 0, &d) == 0);
	CHECK(mode_mmsg() ? udp_of(d)->gro != NULL : udp_of(d)->gro == NULL);
	ops->close(d);
}

void udp_gso_cases(void)
{
	RUN(gro__bad_arg);
	RUN(gro__bursts);
	RUN(gro__ipv6);
	RUN(gro__small_rx_burst);
	RUN(gro__buffers_held);
	RUN(gro__over_mtu_dropped);
	RUN(gso__bad_arg);
	RUN(gso__equal_burst);
	RUN(gso__short_last);
	RUN(gso__two_dests_two_lengths);
	RUN(gso__more_than_64);
	RUN(gso__max_size);
	RUN(gso__ipv6);
	RUN(gso__invalid_in_run);
	RUN(gso__refused_falls_back);
}
