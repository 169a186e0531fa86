/*
 * test_faults.c — drivers/faults over loop (and over a stub driver that
 * accepts a limited number of packets per call), at the datagram level.
 *
 * With a fixed seed the injector is deterministic, so the rate checks below
 * cannot flake: they prove the observed rates of 100k packets sit within
 * generous bounds of the configured ones, and the receiver's view agrees
 * with the injector's counters packet for packet. Time is the driver's
 * tern_now_ns() from vclock.c, virtual wherever a test depends on it, so no
 * case asserts on or waits for the wall clock.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "check.h"
#include "drv_shim.h"
#include "faults/faults.h"
#include "loop/loop.h"
#include "stub.h"
#include "vclock.h"

#define NPKT  100000u
#define BURST 32u

/* --- helpers --- */

/* The driver's clock (vclock.c): virtual while a stream runs. */
static uint64_t now_ns(void)
{
	return tern_now_ns();
}

static int open_cfg(const char *inner, const char *faults, const char *args, uint32_t busy_poll,
		    struct tern_drv **out)
{
	struct tern_drv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = inner;
	cfg.faults = faults;
	cfg.args = args;
	cfg.busy_poll = busy_poll;
	return tern_drv_faults.open(&cfg, out);
}

/* A faults-over-loop instance, or a plain loop one when faults is NULL. */
static struct tern_drv *open_drv(const char *faults)
{
	struct tern_drv *d = NULL;
	struct tern_drv_config cfg;
	int rc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "loop";
	cfg.faults = faults;
	cfg.args = "ring=4096";
	cfg.busy_poll = 1;
	rc = (faults != NULL ? &tern_drv_faults : &tern_drv_loop)->open(&cfg, &d);
	CHECK_EQ(rc, 0);
	return rc == 0 ? d : NULL;
}

static struct tern_faults_counts counts(const struct tern_drv *d)
{
	struct tern_faults_counts c;
	tern_faults_counts(d, &c);
	return c;
}

/* Test packet s: header (seq, ~seq, pattern), payload and trailer, all
 * sizes a function of s, so the receiver can rebuild what was sent. */
static uint32_t gen_sizes(uint64_t s, uint32_t *hl, uint32_t *len, uint32_t *tl)
{
	*hl = 32 + (uint32_t)(s % 4) * 16;
	*len = (uint32_t)((s * 7919u) % 700);
	*tl = (uint32_t)(s % 3) * 8;
	return *hl + *len + *tl;
}

/*
 * Payloads are windows into one arena that never changes, the way a msgbuf
 * stays put while the transport holds it: held packets keep pointing at it
 * for as long as they are held.
 */
#define ARENA 8192u
static uint8_t arena[ARENA + 700];

static uint8_t arena_byte(uint32_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void arena_fill(void)
{
	for (uint32_t i = 0; i < sizeof(arena); i++)
		arena[i] = arena_byte(i);
}

static bool arena_intact(void)
{
	for (uint32_t i = 0; i < sizeof(arena); i++)
		if (arena[i] != arena_byte(i))
			return false;
	return true;
}

static const uint8_t *gen_payload(uint64_t s)
{
	return arena + (uint32_t)((s * 40503u) % ARENA);
}

static void gen_parts(uint64_t s, uint8_t *hdr, uint8_t *tr)
{
	uint32_t hl, len, tl;
	uint64_t inv = ~s;
	gen_sizes(s, &hl, &len, &tl);
	memcpy(hdr, &s, 8);
	memcpy(hdr + 8, &inv, 8);
	for (uint32_t i = 16; i < hl; i++)
		hdr[i] = (uint8_t)(s * 13 + i);
	for (uint32_t i = 0; i < tl; i++)
		tr[i] = (uint8_t)((s * 17 + i) ^ 0x5a);
}

static uint32_t gen_packet(uint64_t s, uint8_t *buf)
{
	uint32_t hl, len, tl, total = gen_sizes(s, &hl, &len, &tl);
	gen_parts(s, buf, buf + hl + len);
	memcpy(buf + hl, gen_payload(s), len);
	return total;
}

static unsigned hamming(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	unsigned d = 0;
	for (uint32_t i = 0; i < n; i++)
		d += (unsigned)__builtin_popcount(a[i] ^ b[i]);
	return d;
}

/* --- a stream of test packets from one instance to another --- */

struct result {
	struct tern_faults_counts snd, rcv; /* counters of the sender / receiver */
	uint32_t received;   /* datagrams the receiver got */
	uint32_t matched;    /* ...identical to a packet that was sent */
	uint32_t mismatched; /* ...that were not (corrupted) */
	uint32_t bad_bits;   /* mismatched ones with other than 1-3 flipped bits */
	uint32_t unknown;    /* mismatched ones whose sequence number was lost too */
	uint32_t distinct;   /* sequence numbers received */
	uint32_t twice;      /* sequence numbers received more than once */
	uint32_t displaced;  /* packets overtaken by at least one later packet */
	uint32_t max_disp;   /* most later packets that overtook one packet */
	uint32_t late;       /* packets that arrived late_ns or more after sending */
	uint64_t hash;       /* of the arrival order */
	bool intact;         /* the sender's buffers were never modified */
};

static uint32_t fen[NPKT + 1];
static uint8_t seen_cnt[NPKT];
static uint64_t sent_at[NPKT];

static void fen_add(uint32_t i)
{
	for (i++; i <= NPKT; i += i & -i)
		fen[i]++;
}

static uint32_t fen_sum(uint32_t i) /* received sequence numbers <= i */
{
	uint32_t s = 0;
	for (i++; i > 0; i -= i & -i)
		s += fen[i];
	return s;
}

static void on_rx(struct result *r, const struct tern_rx *p, uint32_t n, uint64_t late_ns)
{
	static uint8_t exp[1024];
	uint64_t s = UINT64_MAX, inv = 0;
	r->received++;
	if (p->len >= 16) {
		memcpy(&s, p->data, 8);
		memcpy(&inv, (const uint8_t *)p->data + 8, 8);
	}
	bool ok = s < n && gen_packet(s, exp) == p->len && memcmp(exp, p->data, p->len) == 0;
	r->hash = (r->hash ^ (s + ok)) * 0x100000001b3ull;
	if (!ok) {
		/*
		 * Flipped bits may sit in either copy of the sequence number:
		 * the sender's is s with some of the bits where the copies
		 * differ (at most 3) taken from the other copy.
		 */
		uint64_t diff = s ^ ~inv;
		unsigned best = UINT32_MAX;
		r->mismatched++;
		if (__builtin_popcountll(diff) <= 3) {
			uint64_t bits[3];
			unsigned nb = 0;
			for (uint64_t d = diff; d != 0; d &= d - 1)
				bits[nb++] = d & -d;
			for (unsigned m = 0; m < (1u << nb); m++) {
				uint64_t c = s;
				for (unsigned b = 0; b < nb; b++)
					if (m & (1u << b))
						c ^= bits[b];
				if (c < n && gen_packet(c, exp) == p->len) {
					unsigned h = hamming(exp, p->data, p->len);
					best = h < best ? h : best;
				}
			}
		}
		if (best == UINT32_MAX)
			r->unknown++;
		else if (best < 1 || best > 3)
			r->bad_bits++;
		return;
	}
	r->matched++;
	if (seen_cnt[s]++ != 0) {
		r->twice += seen_cnt[s] == 2;
		return;
	}
	uint32_t disp = r->distinct - fen_sum((uint32_t)s);
	fen_add((uint32_t)s);
	r->distinct++;
	r->displaced += disp > 0;
	if (disp > r->max_disp)
		r->max_disp = disp;
	if (now_ns() - sent_at[s] >= late_ns)
		r->late++;
}

/* Receive bursts: BURST like the core, or (small_bursts) 1, 2, 3, 1, ... */
static bool small_bursts;
static unsigned burst_i;

static unsigned rx_want(void)
{
	return small_bursts ? 1 + burst_i++ % 3 : BURST;
}

static void pump(struct tern_drv *snd, struct tern_drv *rcv, struct result *r, uint32_t n,
		 uint64_t late_ns)
{
	struct tern_rx rx[BURST];
	unsigned k = snd->ops->rx_burst(snd, rx, BURST); /* lets the sender flush held TX */
	if (k != 0)
		snd->ops->rx_done(snd, rx, k);
	/* Until the receiving ring is empty (a burst may bring nothing out
	 * while held or dropped packets are taken), so it never overflows. */
	for (unsigned idle = 0; idle < 1000;) {
		k = rcv->ops->rx_burst(rcv, rx, rx_want());
		for (unsigned i = 0; i < k; i++)
			on_rx(r, &rx[i], n, late_ns);
		rcv->ops->rx_done(rcv, rx, k);
		if (k != 0)
			idle = 0;
		else if (rcv->stats.rx_pkts >= snd->stats.tx_pkts)
			break;
		else
			idle++;
	}
}

static uint64_t held(const struct tern_drv *d)
{
	struct tern_faults_counts c = counts(d);
	return c.tx.held + c.rx.held;
}

static struct tern_msg *const fake_msg = (struct tern_msg *)&fen; /* never dereferenced */

/*
 * Send n test packets from an instance with faults sf (NULL: plain loop) to
 * one with faults rf, in bursts; drain the receiver as it goes, and at the
 * end until nothing is held or in flight. Time is virtual (vclock.h): each
 * packet sent moves the clock STREAM_PKT_NS, and the final drain moves it
 * STREAM_DRAIN_NS a round, so delays and reorder windows are exact and a run
 * is the same on a loaded machine.
 */
#define STREAM_PKT_NS   1000u
#define STREAM_DRAIN_NS 100000u
static void run_stream(const char *sf, const char *rf, uint32_t n, bool with_msg,
		       uint64_t late_ns, struct result *r)
{
	static uint8_t hdr[BURST][96], tr[BURST][16], chk[1024];
	struct tern_tx tx[BURST];
	struct tern_drv *snd = open_drv(sf), *rcv = open_drv(rf);

	memset(r, 0, sizeof(*r));
	memset(fen, 0, sizeof(fen));
	memset(seen_cnt, 0, sizeof(seen_cnt));
	r->intact = true;
	r->hash = 0xcbf29ce484222325ull;
	if (snd == NULL || rcv == NULL)
		return;
	vclock_start(1000000000000ull);
	for (uint32_t s = 0; s < n;) {
		unsigned k = small_bursts ? 1 + s % 3 : BURST;
		k = n - s < k ? n - s : k;
		uint64_t t = now_ns();
		for (unsigned i = 0; i < k; i++) {
			uint32_t hl, len, tl;
			gen_sizes(s + i, &hl, &len, &tl);
			gen_parts(s + i, hdr[i], tr[i]);
			tx[i] = (struct tern_tx){
				.dst = &rcv->info.local, .hdr = hdr[i],
				.payload = len ? gen_payload(s + i) : NULL,
				.trailer = tr[i], .msg = with_msg && len ? fake_msg : NULL,
				.hdr_len = hl, .len = len, .trailer_len = tl,
			};
			sent_at[s + i] = t;
		}
		CHECK_EQ(snd->ops->tx_burst(snd, tx, k), k);
		for (unsigned i = 0; i < k; i++) { /* the injector never writes our memory */
			uint32_t hl = tx[i].hdr_len, len = tx[i].len, tl = tx[i].trailer_len;
			gen_packet(s + i, chk);
			(void)len;
			if (memcmp(hdr[i], chk, hl) != 0 || memcmp(tr[i], chk + hl + len, tl) != 0)
				r->intact = false;
		}
		s += k;
		vclock_advance((uint64_t)k * STREAM_PKT_NS);
		pump(snd, rcv, r, n, late_ns);
	}
	/* At most 20 s of virtual time: everything held falls due long before. */
	for (unsigned i = 0; i < 200000 && (held(snd) + held(rcv) != 0 ||
					    rcv->stats.rx_pkts < snd->stats.tx_pkts); i++) {
		vclock_advance(STREAM_DRAIN_NS);
		pump(snd, rcv, r, n, late_ns);
	}
	pump(snd, rcv, r, n, late_ns);
	r->snd = counts(snd);
	r->rcv = counts(rcv);
	r->intact = r->intact && arena_intact();
	CHECK_EQ(held(snd) + held(rcv), 0);
	CHECK_EQ(rcv->stats.rx_pkts, snd->stats.tx_pkts);
	snd->ops->close(snd);
	rcv->ops->close(rcv);
	vclock_stop();
}

static bool near(uint64_t got, uint64_t of, double rate)
{
	double r = of ? (double)got / (double)of : 0.0;
	return r >= rate * 0.85 && r <= rate * 1.15;
}

static void report(const char *what, const struct result *r)
{
	printf("  %s: recv %u match %u mism %u distinct %u twice %u displaced %u max_disp %u "
	       "late %u | tx seen %llu drop %llu dup %llu reord %llu delay %llu corr %llu | "
	       "rx seen %llu drop %llu dup %llu reord %llu delay %llu corr %llu\n",
	       what, r->received, r->matched, r->mismatched, r->distinct, r->twice, r->displaced,
	       r->max_disp, r->late, (unsigned long long)r->snd.tx.seen,
	       (unsigned long long)r->snd.tx.dropped, (unsigned long long)r->snd.tx.duplicated,
	       (unsigned long long)r->snd.tx.reordered, (unsigned long long)r->snd.tx.delayed,
	       (unsigned long long)r->snd.tx.corrupted, (unsigned long long)r->rcv.rx.seen,
	       (unsigned long long)r->rcv.rx.dropped, (unsigned long long)r->rcv.rx.duplicated,
	       (unsigned long long)r->rcv.rx.reordered, (unsigned long long)r->rcv.rx.delayed,
	       (unsigned long long)r->rcv.rx.corrupted);
}

/* The counters of the direction under test: the sender's TX or the receiver's RX. */
static const struct tern_faults_dir_counts *dirc(const struct result *r, bool rx)
{
	return rx ? &r->rcv.rx : &r->snd.tx;
}

static struct result res;

/* Run one fault kind on the TX side (sender) or the RX side (receiver). */
static void stream_one(const char *faults, bool rx, bool with_msg, uint64_t late_ns)
{
	char f[256];
	snprintf(f, sizeof(f), "%s,dir=%s", faults, rx ? "rx" : "tx");
	run_stream(rx ? NULL : f, rx ? f : NULL, NPKT, with_msg, late_ns, &res);
	report(f, &res);
	CHECK_EQ(dirc(&res, rx)->seen, NPKT);
	CHECK(res.intact);
	CHECK_EQ(drv_shim_refs, 0);
}

/* --- cases --- */

static void faults_open__bad_strings(void)
{
	static const char *const bad[] = {
		"loss=1.5", "loss=-0.1", "loss=abc", "loss=", "loss", "loss=0.1x", "loss= 0.1",
		"loss=nan", "loss=inf", "loss=1e-400", "dup=2", "reorder=+0.1", "corrupt=0.5.1",
		"delay=-1", "bogus=1", "Loss=0.1", "dir=up", "dir=", "reorder_depth=0",
		"reorder_depth=70000", "reorder_depth=-1", "reorder_depth=8x", "seed=-1",
		"seed=abc", "seed=18446744073709551616", "delay_us=abc", "delay_us=99999999999",
		"reorder_us=1.5", "hold=0", "hold=100000", "loss=0.1,,=3", "=0.1",
	};
	struct tern_drv *d = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = open_cfg("loop", bad[i], NULL, 1, &d);
		if (rc != -EINVAL)
			fprintf(stderr, "faults \"%s\": %d\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	/* Good ones, including every key, odd spacing of pairs, and none. */
	static const char *const good[] = {
		"", "loss=0", "loss=1", "loss=.5", "dup=0.01,seed=18446744073709551615",
		("loss=0.05,dup=0.01,reorder=0.1,reorder_depth=8,delay=0.01,delay_us=200,"
		 "corrupt=0.001,seed=7,dir=both"),
		"dir=tx,reorder_us=0,hold=1", "dir=rx", ",loss=0.1,",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = open_cfg("loop", good[i], NULL, 1, &d);
		if (rc != 0)
			fprintf(stderr, "faults \"%s\": %d\n", good[i], rc);
		CHECK_EQ(rc, 0);
		if (rc == 0)
			d->ops->close(d);
	}
	REQUIRE(open_cfg("loop", NULL, NULL, 1, &d) == 0);
	d->ops->close(d);
}

static void faults_open__inner(void)
{
	struct tern_drv *d = NULL, *e = NULL;
	CHECK_EQ(open_cfg(NULL, "", NULL, 1, &d), -EINVAL);
	CHECK_EQ(open_cfg("nope", "", NULL, 1, &d), -ENOENT);
	CHECK_EQ(open_cfg("faults", "", NULL, 1, &d), -EINVAL);
	CHECK_EQ(tern_drv_faults.open(NULL, &d), -EINVAL);
	/* The inner driver's errors come through. */
	CHECK_EQ(open_cfg("loop", "", "ring=3", 1, &d), -EINVAL);

	/* Its info is taken over. */
	REQUIRE(open_cfg("loop", "loss=0.1", "mtu=1000", 1, &d) == 0);
	CHECK_EQ(d->ops, &tern_drv_faults);
	CHECK_EQ(strcmp(d->ops->name, "faults"), 0);
	CHECK_EQ(d->info.mtu, 1000);
	CHECK_EQ(d->info.local.family, AF_INET);
	CHECK(d->info.local.port != 0);
	CHECK_EQ(d->info.rto_min_ns, 200000);
	CHECK(d->info.caps & TERN_DRV_CAP_MULTISEG);
	CHECK(!(d->info.caps & TERN_DRV_CAP_WAIT));
	REQUIRE(open_cfg("loop", "", NULL, 0, &e) == 0);
	CHECK(e->info.caps & TERN_DRV_CAP_WAIT);
	e->ops->close(e);
	/* Binding the same address again fails in the inner driver. */
	struct tern_drv_config cfg;
	char bind[64];
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "loop";
	cfg.bind = tern_addr_str(&d->info.local, bind, sizeof(bind));
	CHECK_EQ(tern_drv_faults.open(&cfg, &e), -EADDRINUSE);
	/* Counters of something else are zeroes. */
	struct tern_faults_counts c;
	memset(&c, 0xff, sizeof(c));
	tern_faults_counts(NULL, &c);
	CHECK_EQ(c.tx.seen + c.rx.dropped, 0);
	d->ops->close(d);
}

static void faults_none__passthrough(void)
{
	run_stream("", NULL, NPKT, true, UINT64_MAX, &res);
	CHECK_EQ(res.received, NPKT);
	CHECK_EQ(res.matched, NPKT);
	CHECK_EQ(res.displaced, 0);
	CHECK_EQ(res.snd.tx.seen, NPKT);
	CHECK_EQ(res.snd.tx.dropped + res.snd.tx.duplicated + res.snd.tx.corrupted, 0);
	CHECK_EQ(drv_shim_ref_calls, 0); /* nothing held: no references */
	CHECK(res.intact);
}

static void check_loss(bool rx)
{
	stream_one("loss=0.05,seed=11", rx, true, UINT64_MAX);
	const struct tern_faults_dir_counts *c = dirc(&res, rx);
	CHECK(near(c->dropped, NPKT, 0.05));
	CHECK_EQ(res.received, NPKT - c->dropped);
	CHECK_EQ(res.matched, res.received);
	CHECK_EQ(res.displaced, 0);
	CHECK_EQ(c->duplicated + c->reordered + c->delayed + c->corrupted, 0);
}

static void faults_loss__rate_tx(void)
{
	check_loss(false);
}

static void faults_loss__rate_rx(void)
{
	check_loss(true);
}

static void check_dup(bool rx)
{
	stream_one("dup=0.02,seed=12", rx, true, UINT64_MAX);
	const struct tern_faults_dir_counts *c = dirc(&res, rx);
	CHECK(near(c->duplicated, NPKT, 0.02));
	CHECK_EQ(res.received, NPKT + c->duplicated);
	CHECK_EQ(res.distinct, NPKT);
	CHECK_EQ(res.twice, c->duplicated);
	CHECK_EQ(res.mismatched, 0);
	CHECK_EQ(c->dropped + c->reordered + c->delayed + c->corrupted + c->pool_empty, 0);
}

static void faults_dup__rate_tx(void)
{
	check_dup(false);
}

static void faults_dup__rate_rx(void)
{
	check_dup(true);
}

static void check_corrupt(bool rx)
{
	stream_one("corrupt=0.01,seed=13", rx, true, UINT64_MAX);
	const struct tern_faults_dir_counts *c = dirc(&res, rx);
	CHECK(near(c->corrupted, NPKT, 0.01));
	CHECK_EQ(res.received, NPKT);
	CHECK_EQ(res.mismatched, c->corrupted); /* every corruption shows, nothing else */
	CHECK_EQ(res.matched, NPKT - c->corrupted);
	CHECK_EQ(res.bad_bits, 0);             /* 1-3 bits each */
	CHECK_EQ(res.unknown, 0);
	CHECK(res.intact);                     /* on copies only */
	CHECK_EQ(c->dropped + c->duplicated + c->reordered + c->delayed + c->pool_empty, 0);
}

static void faults_corrupt__rate_tx(void)
{
	check_corrupt(false);
}

static void faults_corrupt__rate_rx(void)
{
	check_corrupt(true);
}

static void check_reorder(bool rx)
{
	stream_one("reorder=0.1,reorder_depth=8,reorder_us=20000,seed=14", rx, true, UINT64_MAX);
	const struct tern_faults_dir_counts *c = dirc(&res, rx);
	CHECK(near(c->reordered, NPKT, 0.1));
	CHECK_EQ(res.received, NPKT);
	CHECK_EQ(res.distinct, NPKT);
	CHECK_EQ(res.mismatched, 0);
	CHECK(res.max_disp <= 8);      /* the promise */
	CHECK(res.max_disp >= 4);      /* and it really reorders */
	CHECK(res.displaced >= c->reordered / 2);
	CHECK_EQ(c->pool_empty, 0);
}

static void faults_reorder__bounded_tx(void)
{
	check_reorder(false);
}

static void faults_reorder__bounded_rx(void)
{
	check_reorder(true);
}

static void check_delay(bool rx)
{
	stream_one("delay=0.05,delay_us=2000,hold=4096,seed=15", rx, true, 2000000);
	const struct tern_faults_dir_counts *c = dirc(&res, rx);
	CHECK(near(c->delayed, NPKT, 0.05));
	CHECK_EQ(res.received, NPKT);
	CHECK_EQ(res.distinct, NPKT);
	CHECK(res.late >= c->delayed); /* each one took delay_us at least */
	CHECK(res.displaced >= c->delayed / 2);
	CHECK_EQ(c->pool_empty, 0);
}

/* Bursts of 1-3 packets, with duplicates and losses: the bound still holds. */
static void faults_reorder__small_bursts(void)
{
	for (int rx = 0; rx < 2; rx++) {
		small_bursts = true;
		stream_one("reorder=0.2,reorder_depth=4,reorder_us=20000,dup=0.1,loss=0.05,seed=16",
			   rx, true, UINT64_MAX);
		small_bursts = false;
		const struct tern_faults_dir_counts *c = dirc(&res, rx);
		CHECK(near(c->reordered, NPKT - c->dropped, 0.2));
		CHECK(near(c->duplicated, NPKT - c->dropped - c->reordered, 0.1));
		CHECK_EQ(res.distinct, NPKT - c->dropped);
		CHECK_EQ(res.received, NPKT - c->dropped + c->duplicated);
		CHECK(res.max_disp <= 4);
		CHECK(res.max_disp >= 2);
		CHECK_EQ(c->pool_empty, 0);
	}
}

static void faults_delay__rate_tx(void)
{
	check_delay(false);
}

static void faults_delay__rate_rx(void)
{
	check_delay(true);
}

/* Faults on the sender's TX and the receiver's RX at once: the counters add up. */
static void faults_mixed__accounting(void)
{
	const char *f = "loss=0.03,dup=0.03,reorder=0.05,delay=0.02,delay_us=300,corrupt=0.01,"
			"hold=4096,seed=21";
	run_stream(f, f, NPKT, true, UINT64_MAX, &res);
	report("mixed", &res);
	const struct tern_faults_dir_counts *t = &res.snd.tx, *r = &res.rcv.rx;
	CHECK_EQ(t->seen, NPKT);
	CHECK_EQ(r->seen, NPKT - t->dropped + t->duplicated);
	CHECK_EQ(res.received, r->seen - r->dropped + r->duplicated);
	CHECK(near(t->dropped, NPKT, 0.03) && near(r->dropped, r->seen, 0.03));
	CHECK(t->corrupted > 0 && r->corrupted > 0 && t->reordered > 0 && r->delayed > 0);
	CHECK(res.mismatched <= t->corrupted * 2 + r->corrupted * 2);
	/* the sender's and receiver's RX / TX sides were not asked to act */
	CHECK_EQ(res.snd.rx.seen, 0);
	CHECK_EQ(res.rcv.tx.seen, 0);
	CHECK(res.intact);
	CHECK_EQ(drv_shim_refs, 0);
}

/* dir=rx on the sender / dir=tx on the receiver: nothing happens. */
static void faults_dir__tx_vs_rx(void)
{
	run_stream("loss=0.2,dup=0.2,corrupt=0.2,dir=rx", "loss=0.2,dup=0.2,corrupt=0.2,dir=tx",
		   10000, false, UINT64_MAX, &res);
	CHECK_EQ(res.received, 10000);
	CHECK_EQ(res.matched, 10000);
	CHECK_EQ(res.snd.tx.seen + res.snd.rx.seen + res.rcv.tx.seen, 0);
	CHECK_EQ(res.rcv.rx.seen, 0);
	/* dir=both acts on both sides */
	run_stream("loss=0.2,dir=both", "loss=0.2,dir=both", 10000, false, UINT64_MAX, &res);
	CHECK(res.snd.tx.dropped > 0 && res.rcv.rx.dropped > 0);
	CHECK_EQ(res.snd.rx.seen, 0);
}

/* A seed fixes everything; another seed gives other faults. */
static void faults__deterministic(void)
{
	const char *f = "loss=0.05,dup=0.05,corrupt=0.01,seed=99";
	struct result a;
	run_stream(f, f, 20000, false, UINT64_MAX, &a);
	run_stream(f, f, 20000, false, UINT64_MAX, &res);
	CHECK(memcmp(&a.snd, &res.snd, sizeof(a.snd)) == 0);
	CHECK(memcmp(&a.rcv, &res.rcv, sizeof(a.rcv)) == 0);
	CHECK_EQ(a.hash, res.hash);
	CHECK_EQ(a.received, res.received);
	run_stream("loss=0.05,dup=0.05,corrupt=0.01,seed=100", f, 20000, false, UINT64_MAX, &res);
	CHECK(a.snd.tx.dropped != res.snd.tx.dropped || a.hash != res.hash);
}

static unsigned send_tags(struct tern_drv *d, struct tern_addr *dst, uint64_t first, unsigned n,
			  struct tern_msg *msg)
{
	static uint8_t hdr[BURST][32], pl[16];
	struct tern_tx tx[BURST];
	for (unsigned i = 0; i < n; i++) {
		uint64_t tag = first + i;
		memset(hdr[i], 0, 32);
		memcpy(hdr[i], &tag, 8);
		tx[i] = (struct tern_tx){.dst = dst, .hdr = hdr[i], .hdr_len = 32,
					 .payload = pl, .len = sizeof(pl), .msg = msg};
	}
	return d->ops->tx_burst(d, tx, n);
}

/* Held packets are freed at close: references dropped, buffers released. */
static void faults_close__frees_held(void)
{
	struct tern_drv *f = open_drv("reorder=1,reorder_us=10000000,dir=tx");
	struct tern_drv *b = open_drv(NULL);
	struct tern_rx rx[BURST];
	REQUIRE(f != NULL && b != NULL);
	/* Every TX packet held, each under a msgbuf reference. */
	CHECK_EQ(send_tags(f, &b->info.local, 0, 20, fake_msg), 20);
	CHECK_EQ(counts(f).tx.held, 20);
	CHECK_EQ(drv_shim_refs, 20);
	CHECK_EQ(f->ops->rx_burst(f, rx, BURST), 0);
	CHECK_EQ(b->ops->rx_burst(b, rx, BURST), 0);
	f->ops->close(f);
	CHECK_EQ(drv_shim_refs, 0);

	/* RX: held copies, and copies lent to the core and never returned. */
	f = open_drv("reorder=0.5,dup=0.5,reorder_us=10000000,dir=rx,seed=3");
	REQUIRE(f != NULL);
	CHECK_EQ(send_tags(b, &f->info.local, 0, 30, NULL), 30);
	unsigned got = f->ops->rx_burst(f, rx, BURST);
	CHECK(got > 0);
	CHECK(counts(f).rx.held > 0);
	CHECK(counts(f).rx.duplicated > 0);
	f->ops->close(f); /* without rx_done: valgrind / ASan prove nothing leaks */
	b->ops->close(b);
}

/* With every hold buffer in use, faults that need one are skipped. */
static void faults_hold__pool_full(void)
{
	struct tern_drv *f = open_drv("reorder=1,reorder_us=10000000,hold=4,dir=tx");
	struct tern_drv *b = open_drv(NULL);
	REQUIRE(f != NULL && b != NULL);
	CHECK_EQ(send_tags(f, &b->info.local, 0, 10, fake_msg), 10);
	struct tern_faults_counts c = counts(f);
	CHECK_EQ(c.tx.reordered, 4);
	CHECK_EQ(c.tx.pool_empty, 6);
	CHECK_EQ(drv_shim_refs, (long)c.tx.held);
	/* The six that found no buffer passed at once, in order; held ones
	 * went out as the packets behind them passed. */
	struct tern_rx rx[BURST];
	unsigned n = b->ops->rx_burst(b, rx, BURST), next = 4;
	CHECK_EQ(n, 10 - c.tx.held);
	for (unsigned i = 0; i < n; i++) {
		uint64_t tag;
		memcpy(&tag, rx[i].data, 8);
		if (tag >= 4)
			CHECK_EQ(tag, next++);
	}
	b->ops->rx_done(b, rx, n);
	f->ops->close(f);
	b->ops->close(b);
	CHECK_EQ(drv_shim_refs, 0);
}

/* tx_burst returns the caller's packets accepted, in order, whatever the
 * inner driver took of the duplicates and held packets. */
static void faults_tx__partial_accept(void)
{
	struct tern_drv *f = NULL;
	struct tern_addr dst;
	REQUIRE(tern_addr_parse("127.0.0.1:9", &dst) == 0);

	/* Every packet twice; the inner takes 5 of 8 entries: 0 0 1 1 2. */
	REQUIRE(open_cfg("stub", "dup=1,dir=tx", NULL, 1, &f) == 0);
	stub.budget = 5;
	CHECK_EQ(send_tags(f, &dst, 0, 4, NULL), 3);
	CHECK_EQ(stub.n, 5);
	CHECK(stub.tags[0] == 0 && stub.tags[1] == 0 && stub.tags[2] == 1 && stub.tags[3] == 1 &&
	      stub.tags[4] == 2);
	CHECK_EQ(counts(f).tx.seen, 3);
	CHECK_EQ(counts(f).tx.duplicated, 2);
	f->ops->close(f);

	/* All held; released later as far as the inner takes them. */
	REQUIRE(open_cfg("stub", "reorder=1,reorder_us=0,dir=tx", NULL, 1, &f) == 0);
	stub.budget = 100;
	CHECK_EQ(send_tags(f, &dst, 0, 4, fake_msg), 4);
	CHECK_EQ(stub.n, 0);
	CHECK_EQ(drv_shim_refs, 4);
	stub.budget = 2;
	CHECK_EQ(f->ops->tx_burst(f, NULL, 0), 0);
	CHECK_EQ(stub.n, 2);
	CHECK_EQ(counts(f).tx.held, 2);
	CHECK_EQ(drv_shim_refs, 2);
	stub.budget = 2;
	CHECK_EQ(f->ops->tx_burst(f, NULL, 0), 0);
	CHECK(stub.n == 4 && stub.tags[0] == 0 && stub.tags[1] == 1 && stub.tags[2] == 2 &&
	      stub.tags[3] == 3);
	CHECK_EQ(drv_shim_refs, 0);
	f->ops->close(f);

	/* The inner takes nothing: the held packets before the first refused
	 * one count as accepted, those after it are undone. */
	REQUIRE(open_cfg("stub", "reorder=0.5,reorder_us=0,dir=tx,seed=5", NULL, 1, &f) == 0);
	stub.budget = 0;
	unsigned acc = send_tags(f, &dst, 0, 16, fake_msg);
	CHECK(acc < 16);
	CHECK_EQ(counts(f).tx.held, acc);
	CHECK_EQ(counts(f).tx.seen, acc);
	CHECK_EQ(counts(f).tx.reordered, acc);
	CHECK_EQ(drv_shim_refs, (long)acc);
	stub.budget = 100;
	CHECK_EQ(f->ops->tx_burst(f, NULL, 0), 0);
	CHECK_EQ(stub.n, acc);
	for (unsigned i = 0; i < acc && i < stub.n; i++)
		CHECK_EQ(stub.tags[i], i);
	CHECK_EQ(drv_shim_refs, 0);
	f->ops->close(f);
}

/* wait() returns when a held packet falls due, not at the inner timeout:
 * the inner driver is asked to wait exactly that long (on the virtual
 * clock), and the packet comes at the next rx_burst, not before. */
static void faults_wait__held_due(void)
{
	struct tern_drv *f = NULL;
	struct tern_rx rx[4];
	vclock_start(1000000000000ull);
	REQUIRE(open_cfg("stub", "delay=1,delay_us=5000,dir=rx", NULL, 0, &f) == 0);
	stub.pending = 1;
	stub.wait_moves_clock = true;
	CHECK_EQ(f->ops->rx_burst(f, rx, 4), 0);
	CHECK_EQ(counts(f).rx.held, 1);
	vclock_advance(1000000); /* 1 ms of the 5 gone: 4 to wait */
	CHECK_EQ(f->ops->rx_burst(f, rx, 4), 0);
	unsigned n = 0;
	for (int k = 0; k < 3 && n == 0; k++) {
		CHECK_EQ(f->ops->wait(f, 2000000000ull), 0);
		n = f->ops->rx_burst(f, rx, 4);
	}
	CHECK_EQ(n, 1);
	CHECK_EQ(stub.waits, 1);
	CHECK_EQ(stub.wait_ns[0], 4000000);
	/* Nothing held: the caller's timeout goes to the inner driver as is. */
	f->ops->rx_done(f, rx, n);
	CHECK_EQ(f->ops->wait(f, 2000000000ull), 0);
	CHECK_EQ(stub.waits, 2);
	CHECK_EQ(stub.wait_ns[1], 2000000000ull);
	f->ops->close(f);
	vclock_stop();
}

/* Memory for msgbufs: the inner's, or mmap when it has none (loop). */
static void faults_mem__regions(void)
{
	struct tern_drv *f = open_drv("");
	REQUIRE(f != NULL);
	void *p = f->ops->mem_alloc(f, 1 << 16), *q = f->ops->mem_alloc(f, 4096);
	REQUIRE(p != NULL && q != NULL);
	memset(p, 0xab, 1 << 16);
	f->ops->close(f);
	tern_drv_faults.mem_free(q, 4096); /* after close, as the core does */
	tern_drv_faults.mem_free(p, 1 << 16);
	tern_drv_faults.mem_free(p, 1 << 16); /* unknown now: ignored */
}

int main(void)
{
	arena_fill();
	/* loop and faults registered themselves (TERN_DRIVER_REGISTER); the stub is ours. */
	if (tern_drv_register(&stub_ops) != 0)
		return 1;
	RUN(faults_open__bad_strings);
	RUN(faults_open__inner);
	RUN(faults_none__passthrough);
	RUN(faults_loss__rate_tx);
	RUN(faults_loss__rate_rx);
	RUN(faults_dup__rate_tx);
	RUN(faults_dup__rate_rx);
	RUN(faults_corrupt__rate_tx);
	RUN(faults_corrupt__rate_rx);
	RUN(faults_reorder__bounded_tx);
	RUN(faults_reorder__bounded_rx);
	RUN(faults_reorder__small_bursts);
	RUN(faults_delay__rate_tx);
	RUN(faults_delay__rate_rx);
	RUN(faults_mixed__accounting);
	RUN(faults_dir__tx_vs_rx);
	RUN(faults__deterministic);
	RUN(faults_close__frees_held);
	RUN(faults_hold__pool_full);
	RUN(faults_tx__partial_accept);
	RUN(faults_wait__held_due);
	RUN(faults_mem__regions);
	return check_exit();
}
