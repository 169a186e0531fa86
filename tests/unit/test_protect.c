/*
 * test_protect.c — lib/protect.c: the data path of protected sessions,
 * between two inject endpoints joined by hand (secpair.h), at both levels
 * (integrity, privacy).
 *
 * Replayed packets (once, many times, in both directions, from elsewhere)
 * are dropped (replay), never reach a handler or a continuation and do not
 * move the peer's address; the replay window
 * takes reordering up to its depth and refuses what is older, with exact
 * boundaries; a bit flipped anywhere in a request or a response is dropped
 * (header: checksum, or, with the checksum recomputed by the attacker,
 * auth/session/token; counter, payload, tag: auth or replay) and no handler
 * runs; unprotected packets on a protected session are dropped (auth) and
 * do not end it; a retransmission is a new packet with a fresh counter;
 * counters stop before a nonce could repeat; keys are wiped when a session
 * ends (close, DISCONNECT, dead peer).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "secpair.h"
#include "rekey.h"
#include "session.h"
#include "tx.h"

#define MS 1000000ull
/* The replay window holds the newest WINDOW counters: the 2048-bit ring
 * minus the word being filled. */
#define WINDOW (TERN_RXWIN_WORDS * 64u - 64u)

static struct tern_ep *srv, *cli;
static struct tern_session *cs, *ss; /* the client's session and the server's */
static int handled;
static const char *const level_name[] = {"none", "integrity", "privacy"};

static int up(uint32_t prot)
{
	struct sp_sec s = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct sp_sec c = {.key = sp_keys.cli_key, .peer = sp_keys.srv_pub, .protection = prot};
	handled = 0;
	srv = sp_ep(&s, SP_SRV_ADDR);
	cli = sp_ep(&c, SP_CLI_ADDR);
	if (srv == NULL || cli == NULL)
		return -1;
	tern_handle(srv, 1, sp_echo, &handled, TERN_RRA);
	if (sp_connect(cli, srv, &cs, NULL, NULL) != 0)
		return -1;
	ss = sp_server_session(srv, cs);
	if (ss == NULL || tern_session_protection(cs) != (int)prot ||
	    tern_session_protection(ss) != (int)prot)
		return -1;
	return 0;
}

static void down(void)
{
	CHECK_EQ(inj_tx_bad(inj_of(srv)), 0);
	CHECK_EQ(inj_tx_bad(inj_of(cli)), 0);
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	srv = cli = NULL;
	cs = ss = NULL;
}

/* The counter of a protected packet (the field's top 4 bits are the key
 * epoch: rekey.h). */
static uint64_t ctr_of(const struct sp_pkt *p)
{
	uint64_t v;
	memcpy(&v, p->data + TERN_HDR_LEN, 8);
	return tern_le64(v) & TERN_CTR_MASK;
}

/* Start a call of len bytes on the client session and capture its first
 * request packet (not delivered). */
static int start_call(size_t len, struct inj_result *r, struct sp_pkt *q)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(cli, len, 11);
	if (tern_call(cs, 1, m, inj_cont, r, 0) != 0) {
		tern_msg_free(m);
		return -1;
	}
	tern_poll(cli);
	return sp_take(cli, TERN_PKT_REQ, q);
}

static int received_ok(const struct inj_result *r, size_t len)
{
	uint8_t want[4096];
	inj_fill(want, len, 11);
	return r->calls == 1 && r->status == 0 && r->len == len && memcmp(r->data, want, len) == 0;
}

/* --- replay ---------------------------------------------------------------------- */

static void protect__replayed_packets_dropped(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		struct inj_result r;
		struct sp_pkt q, resp;
		REQUIRE(start_call(100, &r, &q) == 0);
		sp_inject(srv, &q, sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(handled, 1);
		REQUIRE(sp_take(srv, TERN_PKT_RESP, &resp) == 0);
		sp_inject(cli, &resp, sp_addr(srv));
		inj_poll(cli);
		CHECK(received_ok(&r, 100));
		/* The request again, once and then many times: never the slot's
		 * duplicate logic (which would resend the cached answer). */
		struct tern_stats a = sp_stats(srv);
		for (int i = 0; i < 100; i++) {
			sp_inject(srv, &q, sp_addr(cli));
			inj_poll(srv);
			CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], a.drops[TERN_DROP_REPLAY] + i + 1);
		}
		struct tern_stats b = sp_stats(srv);
		CHECK_EQ(handled, 1);
		CHECK_EQ(b.requests_executed, 1);
		CHECK_EQ(b.requests_dup, a.requests_dup);
		CHECK_EQ(sp_drops(srv), a.drops[TERN_DROP_REPLAY] + 100);
		CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
		/* From another address: still a replay, and the server's idea of
		 * where its client is does not move (only authenticated packets
		 * move it). */
		struct tern_addr elsewhere;
		REQUIRE(tern_addr_parse("10.0.0.9:7000", &elsewhere) == 0);
		sp_inject(srv, &q, &elsewhere);
		inj_poll(srv);
		CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], a.drops[TERN_DROP_REPLAY] + 101);
		CHECK(tern_addr_eq(&ss->peer, sp_addr(cli)));
		/* The response again: the continuation does not run twice. */
		for (int i = 0; i < 10; i++) {
			sp_inject(cli, &resp, sp_addr(srv));
			inj_poll(cli);
		}
		CHECK_EQ(sp_stats(cli).drops[TERN_DROP_REPLAY], 10);
		CHECK_EQ(r.calls, 1);
		/* Still a working session. */
		struct sp_pkt q2;
		REQUIRE(start_call(200, &r, &q2) == 0);
		CHECK(ctr_of(&q2) > ctr_of(&q));
		sp_inject(srv, &q2, sp_addr(cli));
		sp_settle(srv, cli);
		CHECK(received_ok(&r, 200));
		down();
	}
}

/* --- the replay window ----------------------------------------------------------- */

#define NPING 5000
static uint8_t pings[NPING][TERN_HDR_LEN + TERN_PROT_OVERHEAD];

/* Deliver ping i to the server: accepted (answered with a PONG) or dropped
 * as a replay, as expected. */
static void deliver(unsigned i, int ok)
{
	uint64_t replays = sp_stats(srv).drops[TERN_DROP_REPLAY];
	sp_inject_raw(srv, pings[i], sizeof(pings[i]), sp_addr(cli));
	inj_poll(srv);
	unsigned pongs = 0;
	struct sp_pkt p;
	while (inj_tx_count(inj_of(srv)) != 0 && sp_take(srv, TERN_PKT_PONG, &p) == 0)
		pongs++;
	if (pongs != (unsigned)ok || sp_stats(srv).drops[TERN_DROP_REPLAY] != replays + !ok) {
		fprintf(stderr, "  ping %u: wanted %s, got %u pongs, %llu replay drops\n", i,
			ok ? "accepted" : "replay", pongs,
			(unsigned long long)(sp_stats(srv).drops[TERN_DROP_REPLAY] - replays));
		check_failures++;
	}
}

static void protect__replay_window_reordering(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		/* NPING keepalives from the client, counters consecutive. */
		uint64_t first = cs->tx_ctr;
		for (unsigned i = 0; i < NPING; i++) {
			tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
			if (i % 32 == 31)
				tern_poll(cli);
		}
		tern_poll(cli);
		for (unsigned i = 0; i < NPING; i++) {
			struct sp_pkt p;
			REQUIRE(sp_take(cli, TERN_PKT_PING, &p) == 0);
			REQUIRE(p.len == sizeof(pings[i]));
			CHECK_EQ(ctr_of(&p), first + i);
			memcpy(pings[i], p.data, p.len);
		}
		/* Backwards from 2047: c is new while top - c < WINDOW. */
		unsigned top = 2047;
		deliver(top, 1);
		for (unsigned i = top; i-- > 0;)
			deliver(i, top + 1 - i <= WINDOW);
		deliver(top, 0);          /* seen */
		deliver(1000, 0);         /* seen */
		deliver(top + 53, 1);     /* a little ahead: the holes behind it */
		for (unsigned i = top + 1; i < top + 53; i++)
			deliver(i, 1);    /* ...are still open */
		deliver(top + 20, 0);
		/* A jump beyond the window clears it. */
		deliver(NPING - 1, 1);
		deliver(NPING - WINDOW, 1);     /* the oldest the window holds */
		deliver(NPING - WINDOW - 1, 0); /* one older */
		deliver(top + 60, 0);
		deliver(NPING - 2, 1);
		deliver(NPING - 2, 0);
		deliver(NPING - 1, 0);
		for (unsigned i = NPING - 3; i >= NPING - WINDOW; i -= 97)
			deliver(i, 1);
		/* Nothing but replays was dropped, and the session is fine. */
		CHECK_EQ(sp_drops(srv), sp_stats(srv).drops[TERN_DROP_REPLAY]);
		CHECK_EQ(ss->state, SESS_CONNECTED);
		down();
	}
}

/* Record NPING keepalives of the client (consecutive counters) in pings[]. */
static int record_pings(void)
{
	uint64_t first = cs->tx_ctr;
	for (unsigned i = 0; i < NPING; i++) {
		tern_tx_session_ctrl(cli, cs, TERN_PKT_PING);
		if (i % 32 == 31)
			tern_poll(cli);
	}
	tern_poll(cli);
	for (unsigned i = 0; i < NPING; i++) {
		struct sp_pkt p;
		if (sp_take(cli, TERN_PKT_PING, &p) != 0 || p.len != sizeof(pings[i]) ||
		    ctr_of(&p) != first + i)
			return -1;
		memcpy(pings[i], p.data, p.len);
	}
	return 0;
}

/* Regression: the window indexed the highest counter's word from highest+1,
 * so after the first lap in-order traffic met stale bits (20,000 privacy
 * calls through a reordering proxy: ~3,000 valid packets dropped). */
static void protect__replay_window_after_first_lap(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		REQUIRE(record_pings() == 0);
		for (unsigned i = 0; i <= 2100; i++)
			deliver(i, 1);
		deliver(2102, 1);
		deliver(2101, 1);
		deliver(2101, 0);
		/* Reordered by up to 1000 for several laps: all accepted once. */
		for (unsigned base = 2103; base + 1000 <= NPING; base += 1000) {
			for (unsigned i = base + 999;; i--) {
				deliver(i, 1);
				if (i == base)
					break;
			}
		}
		CHECK_EQ(sp_drops(srv), sp_stats(srv).drops[TERN_DROP_REPLAY]);
		CHECK_EQ(ss->state, SESS_CONNECTED);
		down();
	}
}

/* --- tampering ----------------------------------------------------------------------- */

/* Inject a tampered packet into ep: exactly one drop, and the reason. */
static int tampered(struct tern_ep *ep, const uint8_t *pkt, size_t len, const struct tern_addr *src)
{
	struct tern_stats a = sp_stats(ep);
	sp_inject_raw(ep, pkt, len, src);
	inj_poll(ep);
	struct tern_stats b = sp_stats(ep);
	int why = -1, n = 0;
	for (int i = 0; i < TERN_DROP_MAX; i++)
		if (b.drops[i] != a.drops[i]) {
			why = i;
			n += (int)(b.drops[i] - a.drops[i]);
		}
	if (n != 1) {
		fprintf(stderr, "  tampered packet: %d drops\n", n);
		check_failures++;
	}
	inj_tx_clear(inj_of(ep)); /* RESETs for a session id or token it changed */
	return why;
}

static void protect__bit_flips_never_reach_handler(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		struct inj_result r;
		struct sp_pkt q, resp;
		REQUIRE(start_call(40, &r, &q) == 0);
		uint8_t buf[256];
		REQUIRE(q.len <= sizeof(buf));
		const unsigned ctr_end = TERN_HDR_LEN + TERN_PROT_CTR_LEN, tag_at = q.len - 16;
		for (unsigned bit = 0; bit < q.len * 8; bit++) {
			unsigned at = bit / 8;
			memcpy(buf, q.data, q.len);
			buf[at] ^= (uint8_t)(1u << (bit % 8));
			int why = tampered(srv, buf, q.len, sp_addr(cli));
			if (at < TERN_HDR_LEN)
				CHECK(why == TERN_DROP_CHECKSUM || why == TERN_DROP_VERSION ||
				      why == TERN_DROP_TYPE);
			else if (at < ctr_end)
				CHECK(why == TERN_DROP_AUTH || why == TERN_DROP_REPLAY);
			else
				CHECK_EQ(why, TERN_DROP_AUTH); /* payload (at < tag_at) or tag */
			(void)tag_at;
			if (at >= TERN_HDR_LEN)
				continue;
			/* An attacker recomputes the header checksum: the tag still
			 * covers the header. */
			if (at == 10 || at == 11)
				continue; /* the checksum itself */
			memcpy(buf, q.data, q.len);
			buf[at] ^= (uint8_t)(1u << (bit % 8));
			tern_wire_seal(buf, q.len);
			why = tampered(srv, buf, q.len, sp_addr(cli));
			CHECK(why >= 0);
		}
		CHECK_EQ(handled, 0);
		CHECK_EQ(sp_stats(srv).requests_executed, 0);
		/* The true request, then the response tampered on its way back. */
		sp_inject(srv, &q, sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(handled, 1);
		REQUIRE(sp_take(srv, TERN_PKT_RESP, &resp) == 0);
		REQUIRE(resp.len <= sizeof(buf));
		for (unsigned bit = 0; bit < resp.len * 8; bit++) {
			memcpy(buf, resp.data, resp.len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			tampered(cli, buf, resp.len, sp_addr(srv));
		}
		CHECK_EQ(r.calls, 0);
		sp_inject(cli, &resp, sp_addr(srv));
		inj_poll(cli);
		CHECK(received_ok(&r, 40));
		down();
	}
}

/* A packet from the peer with the right ids and token but no protection. */
static void plain_to_server(uint8_t type, uint64_t req_num, const void *payload, uint32_t len)
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.dst_session = ss->id;
	h.src_session = ss->peer_id;
	h.token = ss->token;
	h.req_type = 1;
	h.req_num = req_num;
	h.msg_size = type == TERN_PKT_REQ ? len : 0;
	uint8_t buf[TERN_HDR_LEN + 64];
	tern_wire_put(buf, &h);
	if (len != 0)
		memcpy(buf + TERN_HDR_LEN, payload, len);
	tern_wire_seal(buf, TERN_HDR_LEN + len);
	sp_inject_raw(srv, buf, TERN_HDR_LEN + len, sp_addr(cli));
	inj_poll(srv);
}

static void protect__unprotected_packets_dropped(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		static const uint8_t text[16] = "not authentic!!";
		uint64_t auth = 0;
		plain_to_server(TERN_PKT_REQ, cs->nslots, text, sizeof(text));
		CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], ++auth);
		static const uint8_t types[] = {TERN_PKT_PING, TERN_PKT_ACK, TERN_PKT_CR, TERN_PKT_RFR,
						TERN_PKT_PONG, TERN_PKT_DISCONNECT};
		for (size_t i = 0; i < sizeof(types); i++) {
			plain_to_server(types[i], 0, NULL, 0);
			CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], ++auth);
		}
		/* The flag alone, with a made-up counter and tag. */
		uint8_t fake[TERN_PROT_CTR_LEN + sizeof(text) + TERN_PROT_TAG_LEN];
		sp_rand_fill(fake, sizeof(fake));
		fake[0] = 5; /* a counter the window would take */
		memset(fake + 1, 0, 7);
		struct tern_hdr h;
		memset(&h, 0, sizeof(h));
		h.type = TERN_PKT_REQ;
		h.flags = TERN_WF_PROTECTED;
		h.dst_session = ss->id;
		h.src_session = ss->peer_id;
		h.token = ss->token;
		h.req_type = 1;
		h.req_num = cs->nslots;
		h.msg_size = sizeof(text);
		uint8_t buf[TERN_HDR_LEN + sizeof(fake)];
		tern_wire_put(buf, &h);
		memcpy(buf + TERN_HDR_LEN, fake, sizeof(fake));
		tern_wire_seal(buf, sizeof(buf));
		sp_inject_raw(srv, buf, sizeof(buf), sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], ++auth);
		CHECK_EQ(handled, 0);
		CHECK_EQ(sp_drops(srv), auth);
		CHECK_EQ(inj_tx_count(inj_of(srv)), 0); /* not even a PONG */
		/* The unauthenticated DISCONNECT ended nothing. */
		CHECK_EQ(ss->state, SESS_CONNECTED);
		CHECK_EQ(sp_stats(srv).sessions_open, 1);
		struct inj_result r;
		struct sp_pkt q;
		REQUIRE(start_call(64, &r, &q) == 0);
		sp_inject(srv, &q, sp_addr(cli));
		sp_settle(srv, cli);
		CHECK(received_ok(&r, 64));
		down();
	}
	/* And the other way round: a protected packet on a session without
	 * protection (authenticated handshake, level none) is refused too. */
	check_case = "level_none";
	REQUIRE(up(TERN_PROT_NONE) == 0);
	struct inj_result r;
	struct sp_pkt q;
	REQUIRE(start_call(64, &r, &q) == 0);
	CHECK_EQ(q.h.flags & TERN_WF_PROTECTED, 0);
	uint8_t buf[TERN_HDR_LEN + 64 + TERN_PROT_OVERHEAD];
	memcpy(buf, q.data, q.len);
	memset(buf + q.len, 0, TERN_PROT_OVERHEAD);
	buf[2] |= TERN_WF_PROTECTED;
	tern_wire_seal(buf, sizeof(buf));
	sp_inject_raw(srv, buf, sizeof(buf), sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], 1);
	CHECK_EQ(handled, 0);
	sp_inject(srv, &q, sp_addr(cli));
	sp_settle(srv, cli);
	CHECK(received_ok(&r, 64));
	down();
}

/* --- privacy: decrypted straight into reassembly -------------------------------------- */

/* A privacy message of several packets: every packet after the first to
 * arrive is decrypted into its place in the reassembly buffer (no copy);
 * a tampered packet is dropped, zeroes only its own unfilled place, and
 * the genuine one fills it afterwards. */
static void protect__privacy_decrypts_into_reassembly(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY) == 0);
	const uint32_t dpp = cs->dpp;
	const size_t len = 2 * (size_t)dpp + 10; /* 3 packets each way */
	REQUIRE(len <= 4096);
	struct inj_result r;
	inj_result_reset(&r);
	struct tern_msg *m = inj_msg(cli, len, 11);
	REQUIRE(tern_call(cs, 1, m, inj_cont, &r, 0) == 0);
	tern_poll(cli);
	struct sp_pkt q[3];
	for (int i = 0; i < 3; i++)
		REQUIRE(sp_take(cli, TERN_PKT_REQ, &q[i]) == 0);
	CHECK_EQ(q[2].h.pkt_num, 2);
	uint64_t copied0 = sp_stats(srv).copied_bytes;
	/* Packet 0: the buffer is made, the payload copied into it. */
	sp_inject(srv, &q[0], sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).copied_bytes, copied0 + dpp);
	/* Packet 2 with its ciphertext changed: dropped. */
	struct sp_pkt bad = q[2];
	bad.data[TERN_HDR_LEN + TERN_PROT_CTR_LEN + 5] ^= 0x40;
	sp_inject(srv, &bad, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], 1);
	/* The genuine packet 2 fills its place; then a forged packet 1 longer
	 * than packet 1 is: not decrypted into the buffer (it would reach into
	 * packet 2's place, and a bad tag zeroes what it covers). */
	sp_inject(srv, &q[2], sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).copied_bytes, copied0 + dpp); /* decrypted in place */
	struct sp_pkt big = q[1];
	big.len = q[1].len + 8;
	sp_inject(srv, &big, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_AUTH], 2);
	CHECK_EQ(handled, 0);
	/* Packet 1: the handler sees the whole message intact (the server's
	 * copied bytes now also count its answer's ciphertext). */
	sp_inject(srv, &q[1], sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(handled, 1);
	uint64_t ccopied0 = sp_stats(cli).copied_bytes;
	sp_settle(srv, cli);
	CHECK(received_ok(&r, len));
	CHECK_EQ(sp_stats(cli).copied_bytes, ccopied0 + dpp); /* response packets 1, 2: none */
	down();
}

/* --- counters ------------------------------------------------------------------------- */

static void protect__retransmission_has_fresh_counter(void)
{
	for (uint32_t prot = TERN_PROT_INTEGRITY; prot <= TERN_PROT_PRIVACY; prot++) {
		check_case = level_name[prot];
		REQUIRE(up(prot) == 0);
		struct inj_result r;
		struct sp_pkt q1, q2, resp;
		REQUIRE(start_call(300, &r, &q1) == 0);
		/* Lost: after an RTO the client sends it again. */
		for (int i = 0; i < 200 && inj_tx_count(inj_of(cli)) == 0; i++)
			inj_tick(cli, 1 * MS);
		REQUIRE(sp_take(cli, TERN_PKT_REQ, &q2) == 0);
		CHECK(sp_stats(cli).retransmits >= 1);
		CHECK_EQ(q2.h.req_num, q1.h.req_num);
		CHECK_EQ(q2.h.pkt_num, q1.h.pkt_num);
		CHECK_EQ(q2.len, q1.len);
		CHECK(ctr_of(&q2) > ctr_of(&q1));
		CHECK(memcmp(q1.data + q1.len - 16, q2.data + q2.len - 16, 16) != 0); /* tags */
		size_t body = q1.len - TERN_HDR_LEN - TERN_PROT_OVERHEAD;
		const uint8_t *b1 = q1.data + TERN_HDR_LEN + TERN_PROT_CTR_LEN;
		const uint8_t *b2 = q2.data + TERN_HDR_LEN + TERN_PROT_CTR_LEN;
		if (prot == TERN_PROT_PRIVACY)
			CHECK(memcmp(b1, b2, body) != 0); /* a fresh nonce: fresh ciphertext */
		else
			CHECK(memcmp(b1, b2, body) == 0); /* the payload in clear, zero copy */
		/* Both copies authenticate; the second is the slot's duplicate. */
		sp_inject(srv, &q1, sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(handled, 1);
		REQUIRE(sp_take(srv, TERN_PKT_RESP, &resp) == 0);
		sp_inject(srv, &q2, sp_addr(cli));
		inj_poll(srv);
		CHECK_EQ(handled, 1);
		CHECK_EQ(sp_stats(srv).requests_dup, 1);
		CHECK_EQ(sp_drops(srv), sp_stats(srv).drops[TERN_DROP_DUP]); /* not replay, not auth */
		struct sp_pkt resp2;
		REQUIRE(sp_take(srv, TERN_PKT_RESP, &resp2) == 0); /* the cached answer, resealed */
		CHECK(ctr_of(&resp2) > ctr_of(&resp));
		sp_inject(cli, &resp, sp_addr(srv));
		sp_inject(cli, &resp2, sp_addr(srv));
		inj_poll(cli);
		CHECK(received_ok(&r, 300));
		down();
	}
}

static void protect__counter_never_wraps(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY) == 0);
	const uint64_t limit = 1ull << 60;
	cs->tx_ctr = limit - 1;
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING); /* the last counter there is */
	tern_tx_session_ctrl(cli, cs, TERN_PKT_PING); /* refused: no packet */
	tern_poll(cli);
	struct sp_pkt p;
	REQUIRE(sp_take(cli, TERN_PKT_PING, &p) == 0);
	CHECK_EQ(ctr_of(&p), limit - 1);
	CHECK_EQ(inj_tx_count(inj_of(cli)), 0);
	CHECK_EQ(cs->tx_ctr, limit);
	sp_inject(srv, &p, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_drops(srv), 0);
	CHECK(sp_take(srv, TERN_PKT_PONG, &p) == 0);
	/* A receiver refuses counters from 2^60 on, whatever the tag. */
	CHECK_EQ(ss->rxwin.next, limit);
	down();
}

/* --- keys at the end of a session ------------------------------------------------------ */

static int wiped(const struct tern_session *s)
{
	static const uint8_t zero[32];
	return s->tx_aead == NULL && s->rx_aead == NULL && s->prot == TERN_PROT_NONE && s->hs == NULL &&
	       s->hs_reply == NULL && s->tx_ctr == 0 && s->rxwin.next == 0 && s->rk == NULL &&
	       s->rx_prev == NULL &&
	       memcmp(s->peer_static, zero, 32) == 0;
}

/* Sessions freed, and whether each was wiped first (the hook runs just
 * before the memory goes). */
static const struct tern_session *freed[8];
static int freed_wiped[8];
static unsigned nfreed;

static void on_free(const struct tern_session *s)
{
	if (nfreed < 8) {
		freed[nfreed] = s;
		freed_wiped[nfreed] = wiped(s);
	}
	nfreed++;
}

/* Was s freed since the last reset of the record, wiped? */
static int freed_and_wiped(const struct tern_session *s)
{
	for (unsigned i = 0; i < nfreed && i < 8; i++)
		if (freed[i] == s)
			return freed_wiped[i];
	return 0;
}

static void protect__keys_wiped_when_sessions_end(void)
{
	tern_session_free_hook = on_free;
	/* Closed by the client: DISCONNECT releases the server's session. */
	check_case = "close";
	REQUIRE(up(TERN_PROT_PRIVACY) == 0);
	struct inj_result r;
	struct sp_pkt q;
	REQUIRE(start_call(10, &r, &q) == 0);
	sp_inject(srv, &q, sp_addr(cli));
	sp_settle(srv, cli);
	CHECK(received_ok(&r, 10));
	CHECK(!wiped(cs) && !wiped(ss));
	struct tern_session *c = cs, *t = ss;
	nfreed = 0;
	CHECK_EQ(tern_session_close(cs), 0);
	CHECK(freed_and_wiped(c)); /* the handle is gone, its memory wiped first */
	sp_settle(cli, srv);
	CHECK(freed_and_wiped(t));
	CHECK_EQ(nfreed, 2);
	down();

	/* Closed by the server. */
	check_case = "server_close";
	REQUIRE(up(TERN_PROT_INTEGRITY) == 0);
	c = cs;
	t = ss;
	nfreed = 0;
	CHECK_EQ(tern_session_close(ss), 0);
	CHECK(freed_and_wiped(t));
	sp_settle(srv, cli);
	CHECK_EQ(tern_session_state(c), TERN_SS_FAILED);
	CHECK_EQ(tern_session_close(c), 0);
	CHECK(freed_and_wiped(c));
	down();

	/* A silent peer: the server closes the idle session after its idle
	 * timeout (the client would have kept it alive). */
	check_case = "dead_peer";
	REQUIRE(up(TERN_PROT_PRIVACY) == 0);
	t = ss;
	nfreed = 0;
	for (int i = 0; i < 100 && nfreed == 0; i++)
		inj_tick(srv, srv->idle_timeout_ns / 10);
	CHECK(freed_and_wiped(t));
	CHECK_EQ(sp_stats(srv).sessions_dead, 1);
	down();
	tern_session_free_hook = NULL;
}

/* --- RESET on a protected session -------------------------------------------------- */

/* A RESET naming the client's session, as an on-path attacker could forge it. */
static void forge_reset(void)
{
	struct tern_hdr h = {.type = TERN_PKT_RESET, .dst_session = cs->id,
			     .src_session = cs->peer_id, .token = cs->peer_token};
	uint8_t pkt[TERN_HDR_LEN + TERN_RESET_LEN] = {0};
	tern_wire_put(pkt, &h);
	tern_wire_seal(pkt, sizeof(pkt));
	sp_inject_raw(cli, pkt, sizeof(pkt), sp_addr(srv));
	tern_poll(cli);
}

/*
 * An unauthenticated RESET is only a hint on a protected session: the
 * client probes with an authenticated PING and keeps the session when the
 * server answers; only silence makes it believe the RESET.
 */
static void protect__forged_reset_is_only_a_hint(void)
{
	REQUIRE(up(TERN_PROT_PRIVACY) == 0);
	forge_reset();
	CHECK_EQ(tern_session_state(cs), TERN_SS_CONNECTED);
	struct sp_pkt ping;
	REQUIRE(sp_take(cli, TERN_PKT_PING, &ping) == 0);
	CHECK(ping.h.flags & TERN_WF_PROTECTED);
	sp_inject(srv, &ping, sp_addr(cli));
	sp_settle(cli, srv); /* the PONG comes back, authenticated */
	for (int i = 0; i < 30; i++) {
		inj_clock_advance(100 * MS);
		sp_settle(cli, srv);
	}
	CHECK_EQ(tern_session_state(cs), TERN_SS_CONNECTED);
	struct inj_result r;
	struct sp_pkt q;
	REQUIRE(start_call(100, &r, &q) == 0);
	sp_inject(srv, &q, sp_addr(cli));
	sp_settle(cli, srv);
	CHECK(received_ok(&r, 100));

	/* Now the peer really lost us: the probe goes unanswered. */
	REQUIRE(start_call(100, &r, &q) == 0); /* in flight, never delivered */
	forge_reset();
	REQUIRE(sp_take(cli, TERN_PKT_PING, &ping) == 0); /* dropped by the test */
	for (int i = 0; i < 30 && r.calls == 0; i++) {
		inj_clock_advance(100 * MS);
		tern_poll(cli);
		while (sp_take(cli, 0, &q) == 0) /* the network eats everything */
			;
	}
	CHECK_EQ(tern_session_state(cs), TERN_SS_FAILED);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECONNRESET);
	down();
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(protect__replayed_packets_dropped);
	RUN(protect__replay_window_reordering);
	RUN(protect__replay_window_after_first_lap);
	RUN(protect__bit_flips_never_reach_handler);
	RUN(protect__unprotected_packets_dropped);
	RUN(protect__retransmission_has_fresh_counter);
	RUN(protect__counter_never_wraps);
	RUN(protect__privacy_decrypts_into_reassembly);
	RUN(protect__keys_wiped_when_sessions_end);
	RUN(protect__forged_reset_is_only_a_hint);
	sp_keys_fini();
	return check_exit();
}
