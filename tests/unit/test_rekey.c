/*
 * test_rekey.c — lib/rekey.c: key epochs of protected sessions, between two
 * inject endpoints joined by hand (secpair.h), on the virtual clock, at
 * both levels (integrity, privacy).
 *
 * Keys turn over after rekey_ns and after rekey_pkts, in both directions,
 * with calls running across many turnovers, under loss, duplication and
 * reordering (every call answered once, executed once); a packet of the
 * previous epoch that arrives late is accepted while it could still be
 * new, and its key is dropped after that; whole epochs lost are followed;
 * a packet stamped with another epoch by an attacker is dropped and moves
 * nothing; the old keys are not kept (forward secrecy within a session).
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "rekey.h"
#include "secpair.h"
#include "session.h"
#include "tx.h"

#define MS 1000000ull

static struct tern_ep *srv, *cli;
static struct tern_session *cs, *ss;
static int handled;
static const char *const level_name[] = {"none", "integrity", "privacy"};

static int up(uint32_t prot, uint64_t rekey_ns, uint64_t rekey_pkts)
{
	struct sp_sec s = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct sp_sec c = {.key = sp_keys.cli_key, .peer = sp_keys.srv_pub, .protection = prot};
	struct tern_ep_config sc, cc;
	inj_config(&sc);
	inj_config(&cc);
	sc.rekey_ns = cc.rekey_ns = rekey_ns;
	sc.rekey_pkts = cc.rekey_pkts = rekey_pkts;
	handled = 0;
	srv = sp_ep_cfg(&sc, &s, SP_SRV_ADDR);
	cli = sp_ep_cfg(&cc, &c, SP_CLI_ADDR);
	if (srv == NULL || cli == NULL)
		return -1;
	tern_handle(srv, 1, sp_echo, &handled, TERN_RRA);
	if (sp_connect(cli, srv, &cs, NULL, NULL) != 0)
		return -1;
	ss = sp_server_session(srv, cs);
	if (ss == NULL || tern_session_protection(cs) != (int)prot)
		return -1;
	return 0;
}

static void down(void)
{
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	srv = cli = NULL;
	cs = ss = NULL;
}

static unsigned epoch_of(const struct sp_pkt *p)
{
	uint64_t v;
	memcpy(&v, p->data + TERN_HDR_LEN, 8);
	return (unsigned)(tern_le64(v) >> TERN_EPOCH_SHIFT);
}

/* One call of len bytes, delivered without loss. */
static int call_ok(size_t len, uint32_t seed)
{
	struct inj_result r;
	inj_result_reset(&r);
	struct tern_msg *m = inj_msg(cli, len, seed);
	if (tern_call(cs, 1, m, inj_cont, &r, 0) != 0) {
		tern_msg_free(m);
		return 0;
	}
	sp_settle(cli, srv);
	uint8_t want[4096];
	inj_fill(want, len, seed);
	return r.calls == 1 && r.status == 0 && r.len == len && memcmp(r.data, want, len) == 0;
}

/* --- turnover by time and by count --------------------------------------------- */

static void rekey__keys_turn_over_after_rekey_ns(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot, 10 * MS, 0) == 0);
		/* The first send key, known by what it seals (its memory may be
		 * reused by a later key: no pointer comparison). */
		uint8_t tag0[16], tag1[16];
		REQUIRE(tern_aead_seal(cs->tx_aead, 1, "k", 1, NULL, 0, NULL, 0, NULL, tag0) == 0);
		CHECK(call_ok(100, 1));
		CHECK_EQ(sp_stats(cli).rekeys, 0);
		/* 25 turnovers of the time limit, a call in each, across the
		 * epochs' 16-value wrap on the wire. */
		for (int i = 0; i < 25; i++) {
			inj_clock_advance(10 * MS);
			CHECK(call_ok(100 + (size_t)i, (uint32_t)i + 2));
		}
		CHECK_EQ(sp_stats(cli).rekeys, 25);
		CHECK_EQ(sp_stats(srv).rekeys, 25);
		CHECK_EQ(cs->tx_epoch, 25 % TERN_EPOCHS);
		CHECK_EQ(ss->rx_epoch, 25 % TERN_EPOCHS);
		CHECK_EQ(ss->tx_epoch, 25 % TERN_EPOCHS);
		CHECK_EQ(cs->rx_epoch, 25 % TERN_EPOCHS);
		REQUIRE(tern_aead_seal(cs->tx_aead, 1, "k", 1, NULL, 0, NULL, 0, NULL, tag1) == 0);
		CHECK(memcmp(tag0, tag1, sizeof(tag0)) != 0);
		CHECK_EQ(sp_drops(srv), 0);
		CHECK_EQ(sp_drops(cli), 0);
		CHECK_EQ(handled, 26);
		down();
	}
}

static void rekey__keys_turn_over_after_rekey_pkts(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY, 0, 8) == 0);
	uint64_t ctr0 = cs->tx_ctr;
	for (int i = 0; i < 200; i++)
		CHECK(call_ok(64, (uint32_t)i));
	uint64_t sent = cs->tx_ctr - ctr0;
	/* Every 8 packets sent the key turns over (the first epoch began at
	 * counter 0). */
	CHECK_EQ(sp_stats(cli).rekeys, (cs->tx_ctr - 1) / 8);
	CHECK_EQ(sp_stats(srv).rekeys, (ss->tx_ctr - 1) / 8);
	CHECK(sent >= 200);
	CHECK(sp_stats(srv).rekeys >= 10);
	CHECK_EQ(sp_drops(srv), 0);
	CHECK_EQ(sp_drops(cli), 0);
	CHECK_EQ(handled, 200);
	down();
}

static void rekey__default_limits(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY, 0, 0) == 0);
	CHECK_EQ(cs->tx_rekey_ctr, TERN_REKEY_PKTS_DEFAULT); /* from counter 0 */
	CHECK(cs->tx_rekey_ns > inj_clock() + TERN_REKEY_NS_DEFAULT - 100 * MS);
	CHECK(call_ok(10, 1));
	inj_clock_advance(TERN_REKEY_NS_DEFAULT - MS);
	CHECK(call_ok(10, 2));
	CHECK_EQ(sp_stats(cli).rekeys, 0);
	inj_clock_advance(2 * MS);
	CHECK(call_ok(10, 3));
	CHECK_EQ(sp_stats(cli).rekeys, 1);
	CHECK_EQ(sp_stats(srv).rekeys, 1);
	down();
	/* More than 2^40 packets per epoch is refused. */
	struct sp_sec s = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.rekey_pkts = (1ull << 40) + 1;
	struct tern_ep *ep = sp_ep_cfg(&cfg, &s, SP_SRV_ADDR);
	CHECK(ep == NULL);
	tern_ep_destroy(ep);
}

/* --- packets across a turnover ------------------------------------------------- */

static void rekey__late_packet_of_previous_epoch_accepted(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY, 0, 4) == 0);
	/* Ping the server until the client's next packet is the last of its
	 * epoch, hold it, send the next (a new epoch) first. */
	while ((cs->tx_ctr + 1) % 4 != 0) {
		tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
		tern_poll(cli);
		sp_settle(cli, srv);
	}
	struct sp_pkt late, first;
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
	tern_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_PING, &late) == 0);
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
	tern_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_PING, &first) == 0);
	CHECK_EQ((epoch_of(&late) + 1) % TERN_EPOCHS, epoch_of(&first));
	unsigned e0 = ss->rx_epoch;
	sp_inject(srv, &first, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(ss->rx_epoch, (e0 + 1) % TERN_EPOCHS);
	CHECK(ss->rx_prev != NULL);
	sp_inject(srv, &late, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_drops(srv), 0);
	CHECK_EQ(inj_skip_tx(inj_of(srv), TERN_PKT_PONG), 2);
	/* Once: replayed, it is a replay. */
	sp_inject(srv, &late, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], 1);
	down();
}

static void rekey__previous_key_dropped_after_the_window(void)
{
	/* One epoch long enough for the window to slide past its start. */
	REQUIRE(up(TERN_PROT_INTEGRITY, 0, 4 * TERN_REPLAY_WINDOW) == 0);
	while (cs->tx_epoch == 0) {
		tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
		sp_settle(cli, srv);
	}
	CHECK(ss->rx_prev != NULL);
	uint64_t first = cs->tx_ctr - 1;
	while (cs->tx_ctr <= first + TERN_REPLAY_WINDOW) {
		CHECK(ss->rx_prev != NULL);
		tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
		sp_settle(cli, srv);
	}
	CHECK(ss->rx_prev == NULL);
	CHECK_EQ(sp_drops(srv), 0);
	down();
}

static void rekey__whole_epochs_lost_are_followed(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY, 0, 2) == 0);
	CHECK(call_ok(10, 1));
	for (unsigned lost = 1; lost <= TERN_REKEY_MAX_AHEAD - 1; lost++) {
		check_case = "lost within the bound";
		unsigned e0 = ss->rx_epoch;
		/* Lose everything the client sends for `lost` whole epochs. */
		while ((cs->tx_epoch - e0) % TERN_EPOCHS != lost + 1 || cs->tx_ctr % 2 != 1) {
			tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
			tern_poll(cli);
			inj_tx_clear(inj_of(cli));
		}
		CHECK(call_ok(10, lost));
		CHECK_EQ(ss->rx_epoch, cs->tx_epoch);
		CHECK_EQ(sp_drops(srv), 0);
	}
	/* Further ahead than the receiver follows: dropped (the peer's
	 * session then dies of silence, as it would of any other loss). */
	check_case = "beyond the bound";
	unsigned e0 = ss->rx_epoch;
	while ((cs->tx_epoch - e0) % TERN_EPOCHS != TERN_REKEY_MAX_AHEAD + 1) {
		tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
		tern_poll(cli);
		inj_tx_clear(inj_of(cli));
	}
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
	tern_poll(cli);
	sp_pump(cli, srv);
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], 1);
	CHECK_EQ(ss->rx_epoch, e0);
	down();
}

/* --- an attacker's epochs ---------------------------------------------------------- */

static void rekey__forged_epoch_dropped_moves_nothing(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY, 0, 0) == 0);
	CHECK(call_ok(10, 1));
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
	tern_poll(cli);
	struct sp_pkt p;
	REQUIRE(sp_take(cli, TERN_PKT_PING, &p) == 0);
	/* The same packet stamped with every other epoch: none opens (the
	 * epoch is authenticated), none moves the receiver's epoch, and the
	 * real one is still accepted afterwards. */
	for (unsigned e = 1; e < TERN_EPOCHS; e++) {
		struct sp_pkt f = p;
		f.data[TERN_HDR_LEN + 7] = (uint8_t)((f.data[TERN_HDR_LEN + 7] & 0x0f) | e << 4);
		sp_inject(srv, &f, sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(ss->rx_epoch, 0);
	}
	struct tern_stats st = sp_stats(srv);
	/* Ahead 1..7: a failed open (auth); previous (15) with no key and
	 * 8..14: no key at all (replay). */
	CHECK_EQ(st.drops[TERN_DROP_AUTH], TERN_REKEY_MAX_AHEAD);
	CHECK_EQ(st.drops[TERN_DROP_REPLAY], TERN_EPOCHS - 1 - TERN_REKEY_MAX_AHEAD);
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	sp_inject(srv, &p, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(inj_skip_tx(inj_of(srv), TERN_PKT_PONG), 1);
	CHECK(call_ok(20, 2));
	down();
}

/* --- calls under loss across turnovers -------------------------------------------- */

/* Move what a sent to b: each packet lost with probability loss/100,
 * duplicated with dup/100, and the batch reversed with rev/100. */
static void lossy(struct tern_ep *a, struct tern_ep *b, unsigned loss, unsigned dup, unsigned rev)
{
	static struct sp_pkt q[256];
	unsigned n = 0;
	const struct inj_pkt *p;
	while ((p = inj_pop_tx(inj_of(a))) != NULL) {
		if (sp_rand() % 100 < loss || n == 256)
			continue;
		memcpy(q[n].data, p->data, p->len);
		q[n++].len = p->len;
	}
	int back = sp_rand() % 100 < rev;
	for (unsigned i = 0; i < n; i++) {
		const struct sp_pkt *x = &q[back ? n - 1 - i : i];
		inj_push_raw(inj_of(b), x->data, x->len, sp_addr(a), 0);
		if (sp_rand() % 100 < dup)
			inj_push_raw(inj_of(b), x->data, x->len, sp_addr(a), 0);
	}
}

#define NCALLS 3000
static struct inj_result res[NCALLS];

static void rekey__calls_under_loss_across_turnovers(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		/* A turnover every 16 packets and every 5 ms of virtual time;
		 * 20% of packets lost each way (36% of round trips fail), 5%
		 * duplicated, 20% of batches reversed. */
		REQUIRE(up(prot, 5 * MS, 16) == 0);
		unsigned issued = 0, done = 0;
		for (unsigned i = 0; i < NCALLS; i++)
			inj_result_reset(&res[i]);
		for (int round = 0; round < 200000 && done < NCALLS; round++) {
			while (issued < NCALLS && issued - done < 8) {
				struct tern_msg *m = inj_msg(cli, 48, issued);
				if (tern_call(cs, 1, m, inj_cont, &res[issued], 0) != 0) {
					tern_msg_free(m);
					break;
				}
				issued++;
			}
			inj_clock_advance(MS / 4);
			tern_poll(cli);
			lossy(cli, srv, 20, 5, 20);
			tern_poll(srv);
			lossy(srv, cli, 20, 5, 20);
			tern_poll(cli);
			done = 0;
			for (unsigned i = 0; i < issued; i++)
				done += res[i].calls != 0;
		}
		REQUIRE(done == NCALLS);
		unsigned ok = 0, twice = 0;
		for (unsigned i = 0; i < NCALLS; i++) {
			ok += res[i].calls == 1 && res[i].status == 0 && res[i].len == 48;
			twice += res[i].calls > 1;
		}
		CHECK_EQ(ok, NCALLS);
		CHECK_EQ(twice, 0);
		CHECK_EQ(handled, NCALLS); /* executed once each */
		CHECK(sp_stats(cli).rekeys > 100);
		CHECK(sp_stats(srv).rekeys > 100);
		CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], 0);
		CHECK_EQ(sp_stats(cli).drops[TERN_DROP_AUTH], 0);
		CHECK_EQ(tern_session_state(cs), TERN_SS_CONNECTED);
		down();
	}
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(rekey__keys_turn_over_after_rekey_ns);
	RUN(rekey__keys_turn_over_after_rekey_pkts);
	RUN(rekey__default_limits);
	RUN(rekey__late_packet_of_previous_epoch_accepted);
	RUN(rekey__previous_key_dropped_after_the_window);
	RUN(rekey__whole_epochs_lost_are_followed);
	RUN(rekey__forged_epoch_dropped_moves_nothing);
	RUN(rekey__calls_under_loss_across_turnovers);
	sp_keys_fini();
	return check_exit();
}
