/*
 * test_faults_link.c — the faults driver's bottleneck link (faults_link.c)
 * at the datagram level, on a virtual clock: plain loop instances send into
 * a faults-over-loop instance whose ingress is the link (or out of one
 * whose egress is), and release times are checked against the departure
 * times the model defines:
 *
 *     dep_i = max(arrival_i, dep_{i-1}) + wire_i * 8 / rate
 *
 * computed here independently, in exact integer nanoseconds.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "drv_shim.h"
#include "faults/faults.h"
#include "loop/loop.h"
#include "stub.h"
#include "vclock.h"

#define T0    1000000000000ull /* virtual start: 1000 s */
#define OVH   42u              /* the link's default per-packet overhead */
#define BURST 32u
#define MAXP  200000u

/* --- helpers --- */

static int open_over(const char *inner, const char *faults, uint32_t busy_poll,
		     struct tern_drv **out)
{
	struct tern_drv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = inner;
	cfg.faults = faults;
	cfg.args = strcmp(inner, "loop") == 0 ? "ring=8192" : NULL;
	cfg.busy_poll = busy_poll;
	return tern_drv_faults.open(&cfg, out);
}

/* A faults-over-loop instance, or a plain loop one when faults is NULL. */
static struct tern_drv *open_drv(const char *faults)
{
	struct tern_drv *d = NULL;
	int rc;
	if (faults != NULL) {
		rc = open_over("loop", faults, 1, &d);
	} else {
		struct tern_drv_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.args = "ring=8192";
		cfg.busy_poll = 1;
		rc = tern_drv_loop.open(&cfg, &d);
	}
	CHECK_EQ(rc, 0);
	return rc == 0 ? d : NULL;
}

static struct tern_faults_link_counts link_rx(const struct tern_drv *d)
{
	struct tern_faults_counts c;
	tern_faults_counts(d, &c);
	return c.link_rx;
}

static struct tern_faults_link_counts link_tx(const struct tern_drv *d)
{
	struct tern_faults_counts c;
	tern_faults_counts(d, &c);
	return c.link_tx;
}

static struct tern_msg *const fake_msg = (struct tern_msg *)&stub; /* never dereferenced */
static uint8_t payload[1500];

/* Send n datagrams of len bytes (>= 32): tags first.., the tag in the first 8. */
static void send_n(struct tern_drv *d, const struct tern_drv *to, uint64_t first, unsigned n,
		   uint32_t len)
{
	static uint8_t hdr[BURST][32];
	struct tern_tx tx[BURST];
	while (n > 0) {
		unsigned k = n < BURST ? n : BURST;
		for (unsigned i = 0; i < k; i++) {
			uint64_t tag = first + i;
			memset(hdr[i], 0, 32);
			memcpy(hdr[i], &tag, 8);
			tx[i] = (struct tern_tx){.dst = &to->info.local, .hdr = hdr[i], .hdr_len = 32,
						 .payload = len > 32 ? payload : NULL,
						 .len = len - 32, .msg = len > 32 ? fake_msg : NULL};
		}
		CHECK_EQ(d->ops->tx_burst(d, tx, k), k);
		first += k;
		n -= k;
	}
}

/* What a receiver got: tag, length and (virtual) time of each datagram. */
static struct got {
	uint64_t tag;
	uint32_t len;
	uint64_t at;
} got[MAXP];
static unsigned ngot;
static unsigned got_bad; /* datagrams whose payload is not what send_n() sent */
static uint64_t got_hash;

/* Everything d passes on now (until a burst comes back empty). */
static unsigned recv_now(struct tern_drv *d)
{
	struct tern_rx rx[BURST];
	unsigned before = ngot, k;
	do {
		k = d->ops->rx_burst(d, rx, BURST);
		for (unsigned i = 0; i < k; i++) {
			uint64_t tag = UINT64_MAX;
			if (rx[i].len >= 8)
				memcpy(&tag, rx[i].data, 8);
			if (rx[i].len < 32 ||
			    memcmp((const uint8_t *)rx[i].data + 32, payload, rx[i].len - 32) != 0)
				got_bad++;
			got_hash = (got_hash ^ tag ^ (vclock_now() << 20)) * 0x100000001b3ull;
			if (ngot < MAXP)
				got[ngot++] = (struct got){tag, rx[i].len, vclock_now()};
		}
		d->ops->rx_done(d, rx, k);
	} while (k != 0);
	return ngot - before;
}

static void got_reset(void)
{
	ngot = 0;
	got_bad = 0;
	got_hash = 0xcbf29ce484222325ull;
}

/* Departure of a packet whose busy period began at start and which ends
 * with cum wire bytes sent since then, at rate bits/s. */
static uint64_t dep_at(uint64_t start, uint64_t cum, uint64_t rate)
{
	return start + cum * 8u * 1000000000u / rate;
}

/* --- cases --- */

static void link_open__bad_strings(void)
{
	static const char *const bad[] = {
		"rate=0", "rate=abc", "rate=200x", "rate=200M", "rate=2t", "rate=999", "rate=-1",
		"rate=1001g", "rate=", "queue=64k", "qpkts=10", "prop_us=5", "overhead=0",
		"link_dir=rx", "rate=1g,queue=0", "rate=1g,queue=64q", "rate=1g,queue=2g",
		"rate=1g,queue=1.5k", "rate=1g,qpkts=0", "rate=1g,qpkts=70000",
		"rate=1g,overhead=2000", "rate=1g,prop_us=99999999999", "rate=1g,link_dir=up",
		"rate=1g,queue=100", /* smaller than one full packet: refused at open */
	};
	static const char *const good[] = {
		"rate=200m", "rate=10g,queue=64k",
		("rate=1.5g,queue=1m,qpkts=100,overhead=0,prop_us=50,"
		 "link_dir=both"),
		"rate=64000,link_dir=tx", "loss=0.1,rate=10g,seed=3",
		"rate=1g,queue=1g", /* more buffers than allowed: a warning, not an error */
	};
	struct tern_drv *d = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = open_over("loop", bad[i], 1, &d);
		if (rc != -EINVAL)
			fprintf(stderr, "faults \"%s\": %d\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = open_over("loop", good[i], 1, &d);
		if (rc != 0)
			fprintf(stderr, "faults \"%s\": %d\n", good[i], rc);
		CHECK_EQ(rc, 0);
		if (rc == 0)
			d->ops->close(d);
	}
	/* Without rate= there is no link: nothing counted. */
	struct tern_drv *a = open_drv("loss=0"), *b = open_drv(NULL);
	REQUIRE(a != NULL && b != NULL);
	send_n(b, a, 0, 10, 100);
	got_reset();
	CHECK_EQ(recv_now(a), 10);
	struct tern_faults_link_counts c = link_rx(a);
	CHECK_EQ(c.arrived + c.delivered + c.peak_pkts, 0);
	a->ops->close(a);
	b->ops->close(b);
}

/* Every packet is passed on exactly at its departure, in arrival order. */
static void link_rx__departures_exact(void)
{
	const uint64_t rate = 300000000; /* 8 * wire * 1e9 / rate is never whole here */
	struct tern_drv *r = open_drv("rate=300m,qpkts=1000"), *s = open_drv(NULL);
	uint64_t dep[200], cum = 0, bytes = 0;
	REQUIRE(r != NULL && s != NULL);
	vclock_start(T0);
	got_reset();
	for (unsigned i = 0; i < 200; i++) {
		uint32_t len = 64 + (i * 37) % 1400;
		send_n(s, r, i, 1, len);
		cum += len + OVH;
		bytes += len;
		dep[i] = dep_at(T0, cum, rate);
	}
	CHECK_EQ(recv_now(r), 0); /* all arrive now; none has departed */
	CHECK_EQ(link_rx(r).queued_pkts, 200);
	CHECK_EQ(link_rx(r).queued_bytes, cum);
	for (unsigned i = 0; i < 200; i++) {
		vclock_set(dep[i] - 1);
		CHECK_EQ(recv_now(r), 0);
		vclock_set(dep[i]);
		REQUIRE(recv_now(r) == 1);
		CHECK_EQ(got[i].tag, i);
		CHECK_EQ(got[i].len, 64 + (i * 37) % 1400);
	}
	CHECK_EQ(got_bad, 0);
	struct tern_faults_link_counts c = link_rx(r);
	CHECK_EQ(c.arrived, 200);
	CHECK_EQ(c.delivered, 200);
	CHECK_EQ(c.dropped + c.nobuf, 0);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.wire_bytes, cum);
	CHECK_EQ(c.peak_pkts, 200);
	CHECK_EQ(c.peak_bytes, cum);
	CHECK_EQ(c.queued_pkts, 0);
	CHECK_EQ(c.sojourn_max_ns, dep[199] - T0);
	vclock_stop();
	r->ops->close(r);
	s->ops->close(s);
}

/*
 * Queueing delay = backlog / rate: a packet arriving while 2.5 packets'
 * worth of bits are still to be sent departs 2.5 + 1 serialisation times
 * later. An idle link restarts at the arrival (no credit for idle time).
 */
static void link_rx__delay_is_backlog_over_rate(void)
{
	const uint64_t rate = 100000000, wire = 1000 + OVH, ser = wire * 8 * 1000000000 / rate;
	struct tern_drv *r = open_drv("rate=100m,queue=1m"), *s = open_drv(NULL);
	REQUIRE(r != NULL && s != NULL);
	REQUIRE(ser * rate == wire * 8 * 1000000000); /* 83360 ns exactly */
	vclock_start(T0);
	got_reset();
	send_n(s, r, 0, 5, 1000);
	CHECK_EQ(recv_now(r), 0);
	vclock_set(T0 + ser * 5 / 2); /* 2 departed, the 3rd half sent, 2 waiting */
	send_n(s, r, 5, 1, 1000);
	CHECK_EQ(recv_now(r), 2);
	CHECK_EQ(link_rx(r).queued_pkts, 4); /* 3 before it (one being sent) and itself */
	/* The first five waited 1..5 serialisation times; the sixth the
	 * backlog's drain time plus its own. */
	uint64_t backlog_bits = (5 * ser - ser * 5 / 2) * rate / 1000000000;
	CHECK_EQ(link_rx(r).sojourn_sum_ns, 15 * ser + backlog_bits * 1000000000 / rate + ser);
	vclock_set(T0 + 6 * ser - 1);
	CHECK_EQ(recv_now(r), 3);
	vclock_set(T0 + 6 * ser);
	CHECK_EQ(recv_now(r), 1);
	CHECK_EQ(got[5].tag, 5);
	/* Idle: the next packet takes one serialisation time from its arrival. */
	vclock_set(T0 + 100 * ser + 7);
	send_n(s, r, 6, 1, 1000);
	CHECK_EQ(recv_now(r), 0);
	vclock_advance(ser - 1);
	CHECK_EQ(recv_now(r), 0);
	vclock_advance(1);
	CHECK_EQ(recv_now(r), 1);
	vclock_stop();
	r->ops->close(r);
	s->ops->close(s);
}

/* Drop-tail at the byte bound, exactly at the boundary. */
static void link_queue__drop_tail_bytes(void)
{
	const uint64_t rate = 100000000, wire = 1000 + OVH, ser = wire * 8 * 1000000000 / rate;
	struct tern_drv *r = open_drv("rate=100m,queue=10k"), *s = open_drv(NULL);
	REQUIRE(r != NULL && s != NULL);
	vclock_start(T0);
	got_reset();
	send_n(s, r, 0, 20, 1000); /* 9 * 1042 = 9378 <= 10240 < 10 * 1042 */
	CHECK_EQ(recv_now(r), 0);
	struct tern_faults_link_counts c = link_rx(r);
	CHECK_EQ(c.arrived, 20);
	CHECK_EQ(c.dropped, 11);
	CHECK_EQ(c.peak_pkts, 9);
	CHECK_EQ(c.peak_bytes, 9 * wire);
	vclock_set(T0 + ser - 1); /* the first packet is still in the buffer */
	send_n(s, r, 100, 1, 1000);
	CHECK_EQ(recv_now(r), 0);
	CHECK_EQ(link_rx(r).dropped, 12);
	vclock_set(T0 + ser); /* it has left: room for one */
	send_n(s, r, 101, 1, 1000);
	CHECK_EQ(recv_now(r), 1);
	CHECK_EQ(link_rx(r).dropped, 12);
	CHECK_EQ(link_rx(r).queued_pkts, 9);
	vclock_set(T0 + 10 * ser);
	CHECK_EQ(recv_now(r), 9);
	REQUIRE(ngot == 10);
	for (unsigned i = 0; i < 9; i++)
		CHECK_EQ(got[i].tag, i);
	CHECK_EQ(got[9].tag, 101);
	CHECK_EQ(got[9].at, T0 + 10 * ser);
	c = link_rx(r);
	CHECK_EQ(c.arrived, c.dropped + c.delivered);
	r->ops->close(r);
	/* A queue that 8 packets fill exactly takes all 8. */
	r = open_drv("rate=100m,queue=8k");
	REQUIRE(r != NULL);
	send_n(s, r, 0, 10, 1024 - OVH);
	CHECK_EQ(recv_now(r), 0);
	CHECK_EQ(link_rx(r).peak_bytes, 8192);
	CHECK_EQ(link_rx(r).dropped, 2);
	vclock_stop();
	r->ops->close(r);
	s->ops->close(s);
}

/* Drop-tail at the packet bound; with both bounds the tighter one acts. */
static void link_queue__drop_tail_pkts(void)
{
	static const char *const f[] = {"rate=1g,qpkts=5", "rate=1g,qpkts=5,queue=1m",
					"rate=1g,qpkts=50,queue=6k"};
	for (unsigned t = 0; t < 3; t++) {
		struct tern_drv *r = open_drv(f[t]), *s = open_drv(NULL);
		REQUIRE(r != NULL && s != NULL);
		vclock_start(T0);
		got_reset();
		send_n(s, r, 0, 8, 1000);
		CHECK_EQ(recv_now(r), 0);
		CHECK_EQ(link_rx(r).dropped, 3);
		CHECK_EQ(link_rx(r).peak_pkts, 5);
		vclock_advance(1000000);
		CHECK_EQ(recv_now(r), 5);
		for (unsigned i = 0; i < ngot; i++)
			CHECK_EQ(got[i].tag, i);
		vclock_stop();
		r->ops->close(r);
		s->ops->close(s);
	}
}

/* The propagation delay follows the departure and holds no queue space. */
static void link_prop__after_departure(void)
{
	const uint64_t rate = 1000000000, wire = 1400 + OVH, prop = 100000;
	struct tern_drv *r = open_drv("rate=1g,qpkts=2,prop_us=100"), *s = open_drv(NULL);
	REQUIRE(r != NULL && s != NULL);
	vclock_start(T0);
	got_reset();
	send_n(s, r, 0, 2, 1400);
	CHECK_EQ(recv_now(r), 0);
	uint64_t d0 = dep_at(T0, wire, rate), d1 = dep_at(T0, 2 * wire, rate);
	vclock_set(d1); /* both departed, both still on the wire */
	send_n(s, r, 2, 2, 1400);
	CHECK_EQ(recv_now(r), 0);
	CHECK_EQ(link_rx(r).dropped, 0);
	uint64_t d2 = dep_at(d1, wire, rate), d3 = dep_at(d1, 2 * wire, rate);
	const uint64_t due[4] = {d0 + prop, d1 + prop, d2 + prop, d3 + prop};
	for (unsigned i = 0; i < 4; i++) {
		vclock_set(due[i] - 1);
		CHECK_EQ(recv_now(r), 0);
		vclock_set(due[i]);
		CHECK_EQ(recv_now(r), 1);
		CHECK_EQ(got[i].tag, i);
	}
	CHECK_EQ(link_rx(r).peak_pkts, 2);
	vclock_stop();
	r->ops->close(r);
	s->ops->close(s);
}

/*
 * Offered twice the rate for three virtual seconds, polled every 100 µs:
 * each second releases rate/8 wire bytes to within what one poll interval
 * and a packet or two can shift; the rest is dropped at the tail, and the
 * queue stays at its bound.
 */
static void link_rx__rate_per_second(void)
{
	const uint64_t rate = 200000000, wire = 1472 + OVH, q = 65536;
	const uint64_t step = 100000, per_s = 1000000000 / step;
	struct tern_drv *r = open_drv("rate=200m,queue=64k"), *s = open_drv(NULL);
	uint64_t sec_bytes[3] = {0, 0, 0}, sent = 0;
	REQUIRE(r != NULL && s != NULL);
	vclock_start(T0);
	got_reset();
	for (uint64_t k = 0; k < 3 * per_s; k++) {
		vclock_set(T0 + k * step);
		send_n(s, r, sent, 4, 1472); /* 4 * 1514 B per 100 µs: 484 Mbit/s */
		sent += 4;
		unsigned first = ngot, n = recv_now(r);
		for (unsigned i = first; i < first + n; i++)
			sec_bytes[(got[i].at - T0) / 1000000000] += got[i].len + OVH;
	}
	const uint64_t want = rate / 8, slack = 2 * wire + step * rate / 8 / 1000000000;
	for (unsigned i = 0; i < 3; i++) {
		printf("  second %u: %llu wire bytes (want %llu +- %llu)\n", i,
		       (unsigned long long)sec_bytes[i], (unsigned long long)want,
		       (unsigned long long)slack);
		CHECK(sec_bytes[i] + slack >= want && sec_bytes[i] <= want + slack);
	}
	struct tern_faults_link_counts c = link_rx(r);
	CHECK_EQ(c.arrived, sent);
	CHECK_EQ(c.nobuf, 0);
	CHECK(c.dropped > sent / 3);
	CHECK_EQ(c.arrived, c.dropped + c.delivered + c.queued_pkts);
	CHECK(c.peak_bytes <= q && c.peak_bytes > q - wire);
	/* The longest wait is a full queue's drain time. */
	CHECK(c.sojourn_max_ns <= q * 8 * 1000000000 / rate);
	CHECK(c.sojourn_max_ns >= (q - wire) * 8 * 1000000000 / rate);
	for (unsigned i = 1; i < ngot && i < MAXP; i++)
		if (got[i].tag <= got[i - 1].tag) {
			CHECK(got[i].tag > got[i - 1].tag); /* FIFO */
			break;
		}
	vclock_stop();
	r->ops->close(r);
	s->ops->close(s);
}

/* The sender's egress link: the caller's packets are copied (no msgbuf
 * reference), accepted at once, and sent at the rate as polls come. */
static void link_tx__egress_rate(void)
{
	const uint64_t rate = 100000000, wire = 500 + OVH;
	struct tern_drv *s = open_drv("rate=100m,qpkts=50,link_dir=tx"), *r = open_drv(NULL);
	struct tern_rx rx[4];
	REQUIRE(s != NULL && r != NULL);
	vclock_start(T0);
	got_reset();
	send_n(s, r, 0, 60, 500);
	CHECK_EQ(drv_shim_ref_calls, 0);
	CHECK_EQ(link_tx(s).dropped, 10);
	CHECK_EQ(link_rx(s).arrived, 0);
	CHECK_EQ(recv_now(r), 0);
	for (unsigned i = 0; i < 50; i++) {
		vclock_set(dep_at(T0, (i + 1) * wire, rate) - 1);
		CHECK_EQ(s->ops->rx_burst(s, rx, 4), 0); /* the core's poll flushes TX */
		CHECK_EQ(recv_now(r), 0);
		vclock_set(dep_at(T0, (i + 1) * wire, rate));
		CHECK_EQ(s->ops->rx_burst(s, rx, 4), 0);
		CHECK_EQ(recv_now(r), 1);
	}
	REQUIRE(ngot == 50);
	for (unsigned i = 0; i < 50; i++)
		CHECK(got[i].tag == i && got[i].len == 500);
	CHECK_EQ(got_bad, 0); /* the copies carry the caller's bytes */
	struct tern_faults_link_counts c = link_tx(s);
	CHECK_EQ(c.delivered, 50);
	CHECK_EQ(c.wire_bytes, 50 * wire);
	CHECK_EQ(drv_shim_refs, 0);
	vclock_stop();
	s->ops->close(s);
	r->ops->close(r);
}

/* Queued RX copies, and copies lent and never returned, are freed at close. */
static void link_close__frees_queued(void)
{
	struct tern_drv *r = open_drv("rate=1m,qpkts=100,dup=0.5,seed=3,dir=rx");
	struct tern_drv *s = open_drv(NULL), *t = open_drv("rate=1m,link_dir=tx");
	struct tern_rx rx[BURST];
	REQUIRE(r != NULL && s != NULL && t != NULL);
	vclock_start(T0);
	send_n(s, r, 0, 40, 200);
	send_n(t, r, 100, 40, 200); /* queued on t's egress */
	CHECK_EQ(r->ops->rx_burst(r, rx, BURST), 0);
	vclock_advance(1000000000);
	CHECK(r->ops->rx_burst(r, rx, BURST) > 0); /* lent, not returned */
	CHECK(link_rx(r).queued_pkts == 0 && link_rx(r).delivered < 40);
	vclock_stop();
	r->ops->close(r); /* ASan / valgrind: nothing leaks */
	s->ops->close(s);
	t->ops->close(t);
	CHECK_EQ(drv_shim_refs, 0);
}

/* wait() is cut short when the link's oldest packet falls due. */
static void link_wait__until_due(void)
{
	struct tern_drv *f = NULL;
	struct tern_rx rx[4];
	REQUIRE(open_over("stub", "rate=1m,qpkts=10", 0, &f) == 0);
	vclock_start(T0);
	stub.pending = 1;
	CHECK_EQ(f->ops->rx_burst(f, rx, 4), 0);
	const uint64_t due = (sizeof(stub.pkt) + OVH) * 8 * 1000; /* ns at 1 Mbit/s */
	CHECK_EQ(f->ops->wait(f, 1000000000), 0);
	CHECK_EQ(stub.waited, due);
	vclock_advance(due / 2);
	CHECK_EQ(f->ops->wait(f, 1000000000), 0);
	CHECK_EQ(stub.waited, due - due / 2);
	CHECK_EQ(f->ops->wait(f, 1000), 0);
	CHECK_EQ(stub.waited, 1000); /* the caller's shorter timeout stands */
	stub.waited = 7;
	vclock_advance(due);
	CHECK_EQ(f->ops->wait(f, 1000000000), 0);
	CHECK_EQ(stub.waited, 7); /* due now: returns without waiting */
	CHECK_EQ(f->ops->rx_burst(f, rx, 4), 1);
	f->ops->rx_done(f, rx, 1);
	vclock_stop();
	f->ops->close(f);
}

/*
 * The link with every injected fault, on the sender's TX and after the
 * link on the receiver's RX: the counters of each stage add up to the
 * next's, and the whole run is a function of the seeds.
 */
struct mixed {
	struct tern_faults_counts snd, rcv;
	unsigned received;
	uint64_t hash;
};

static void run_mixed(uint64_t seed, struct mixed *m)
{
	char fs[128], fr[256];
	snprintf(fs, sizeof(fs), "loss=0.05,dup=0.05,seed=%llu,dir=tx", (unsigned long long)seed);
	snprintf(fr, sizeof(fr),
		 "rate=300m,qpkts=64,loss=0.05,dup=0.05,reorder=0.1,reorder_depth=4,reorder_us=50,"
		 "delay=0.05,delay_us=100,corrupt=0.01,hold=1024,seed=%llu,dir=rx",
		 (unsigned long long)seed + 1);
	struct tern_drv *s = open_drv(fs), *r = open_drv(fr);
	memset(m, 0, sizeof(*m));
	if (s == NULL || r == NULL)
		return;
	vclock_start(T0);
	got_reset();
	for (unsigned k = 0; k < 20000; k++) { /* 1042 B per 20 µs: 417 Mbit/s offered */
		vclock_set(T0 + k * 20000ull);
		send_n(s, r, k, 1, 1000);
		recv_now(r);
	}
	for (unsigned k = 0; k < 1000; k++) { /* drain: 10 ms */
		vclock_advance(10000);
		recv_now(r);
	}
	tern_faults_counts(s, &m->snd);
	tern_faults_counts(r, &m->rcv);
	m->received = ngot;
	m->hash = got_hash;
	vclock_stop();
	s->ops->close(s);
	r->ops->close(r);
}

static void link__with_injected_faults(void)
{
	struct mixed a, b, c;
	run_mixed(41, &a);
	const struct tern_faults_dir_counts *t = &a.snd.tx, *x = &a.rcv.rx;
	const struct tern_faults_link_counts *l = &a.rcv.link_rx;
	printf("  tx seen %llu drop %llu dup %llu | link arrived %llu dropped %llu delivered %llu "
	       "| rx seen %llu drop %llu dup %llu reord %llu delay %llu corr %llu | recv %u\n",
	       (unsigned long long)t->seen, (unsigned long long)t->dropped,
	       (unsigned long long)t->duplicated, (unsigned long long)l->arrived,
	       (unsigned long long)l->dropped, (unsigned long long)l->delivered,
	       (unsigned long long)x->seen, (unsigned long long)x->dropped,
	       (unsigned long long)x->duplicated, (unsigned long long)x->reordered,
	       (unsigned long long)x->delayed, (unsigned long long)x->corrupted, a.received);
	CHECK_EQ(t->seen, 20000);
	CHECK_EQ(l->arrived, t->seen - t->dropped + t->duplicated);
	CHECK_EQ(l->arrived, l->dropped + l->nobuf + l->delivered);
	CHECK(l->dropped > 0 && l->nobuf == 0 && l->queued_pkts == 0);
	CHECK_EQ(x->seen, l->delivered); /* every packet the link passes meets the injector */
	CHECK_EQ(a.received, x->seen - x->dropped + x->duplicated);
	CHECK_EQ(x->held, 0);
	CHECK(x->dropped > 0 && x->duplicated > 0 && x->reordered > 0 && x->delayed > 0 &&
	      x->corrupted > 0 && x->pool_empty == 0);
	run_mixed(41, &b);
	CHECK(memcmp(&a.snd, &b.snd, sizeof(a.snd)) == 0);
	CHECK(memcmp(&a.rcv, &b.rcv, sizeof(a.rcv)) == 0);
	CHECK_EQ(a.received, b.received);
	CHECK_EQ(a.hash, b.hash);
	run_mixed(42, &c);
	CHECK(a.hash != c.hash);
	CHECK_EQ(drv_shim_refs, 0);
}

int main(void)
{
	/* loop and faults registered themselves (TERN_DRIVER_REGISTER); the stub is ours. */
	if (tern_drv_register(&stub_ops) != 0)
		return 1;
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	RUN(link_open__bad_strings);
	RUN(link_rx__departures_exact);
	RUN(link_rx__delay_is_backlog_over_rate);
	RUN(link_queue__drop_tail_bytes);
	RUN(link_queue__drop_tail_pkts);
	RUN(link_prop__after_departure);
	RUN(link_rx__rate_per_second);
	RUN(link_tx__egress_rate);
	RUN(link_close__frees_queued);
	RUN(link_wait__until_due);
	RUN(link__with_injected_faults);
	return check_exit();
}
