/*
 * test_noise.c — lib/noise.c: the authenticated handshake, driven packet by
 * packet between two inject endpoints (secpair.h). Every handshake packet
 * is built by a real endpoint; the test holds, copies, replays, truncates
 * and garbles them, and forges the rest.
 *
 * Server role: the good paths (IK, NNpsk0, IKpsk0, anonymous clients) and
 * the fields of CONNECT_OK; refusals (wrong pinned key, PSK or pattern,
 * client not allowed, level too low, plain client) with -EACCES at the
 * client; retransmitted and replayed CONNECTs (the cached answer while the
 * session lives, a replay drop after); the 60 s timestamp window; every
 * length and garbled field (with and without a valid mac1); floods from
 * many addresses and from one beyond the rate limit, with no session, no
 * memory and no replay-cache state left behind, and no answer larger than
 * what provoked it. Client role: garbled, truncated, downgraded and forged
 * CONNECT_OKs are dropped and the attempt survives them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "crypto.h"
#include "secpair.h"

#define MS  1000000ull
#define SEC 1000000000ull

/* Body offsets of the secure handshake (wire.h, noise.c). */
#define B_PATTERN 0
#define B_CID     8
#define B_E       16
#define B_STATIC  48  /* CONNECT */
#define B_PAYLOAD 96  /* CONNECT */
#define B_MAC1    168 /* CONNECT */
#define B_PAYLOAD_OK 48 /* CONNECT_OK */
#define CONNECT_LEN (TERN_HDR_LEN + TERN_SHS_CONNECT_LEN) /* 216 */
#define OK_LEN      (TERN_HDR_LEN + TERN_SHS_OK_LEN)      /* 152 */

static struct tern_ep *srv, *cli;
static int handled;

static int up(const struct sp_sec *ss, const struct sp_sec *cs)
{
	handled = 0;
	srv = sp_ep(ss, SP_SRV_ADDR);
	cli = sp_ep(cs, SP_CLI_ADDR);
	if (srv == NULL || cli == NULL)
		return -1;
	tern_handle(srv, 1, sp_echo, &handled, TERN_RRA);
	return 0;
}

static void down(void)
{
	if (srv != NULL) {
		CHECK_EQ(inj_tx_bad(inj_of(srv)), 0);
		tern_ep_destroy(srv);
	}
	if (cli != NULL) {
		CHECK_EQ(inj_tx_bad(inj_of(cli)), 0);
		tern_ep_destroy(cli);
	}
	srv = cli = NULL;
	sp_realtime_shift(0);
}

static struct sp_sec sec_of(const char *key, const char *peer, const char *allow, const char *psk,
			    uint32_t prot)
{
	struct sp_sec s = {.key = key, .peer = peer, .allow = allow, .psk = psk, .protection = prot};
	return s;
}

/* One echo call of len bytes over s, pumped between the pair; 0 if verified. */
static int roundtrip(struct tern_session *s, size_t len)
{
	static uint8_t want[16384];
	struct inj_result r;
	inj_result_reset(&r);
	if (len > sizeof(want))
		return -1;
	inj_fill(want, len, (uint32_t)len + 3);
	struct tern_msg *m = inj_msg(cli, len, (uint32_t)len + 3);
	if (tern_call(s, 1, m, inj_cont, &r, 0) != 0) {
		tern_msg_free(m);
		return -1;
	}
	for (int i = 0; i < 100 && r.calls == 0; i++)
		sp_settle(cli, srv);
	if (r.calls != 1 || r.status != 0 || r.len != len || memcmp(r.data, want, len) != 0) {
		fprintf(stderr, "  roundtrip %zu: calls %d status %d len %zu\n", len, r.calls, r.status,
			r.len);
		return -1;
	}
	return 0;
}

static int contains(const uint8_t *hay, size_t n, const void *needle, size_t k)
{
	return memmem(hay, n, needle, k) != NULL;
}

/* Occupied entries of the server's replay cache. */
static unsigned replay_entries(const struct tern_ep *ep)
{
	unsigned n = 0;
	for (unsigned i = 0; i < TERN_REPLAY_SLOTS; i++)
		n += ep->sec->rp_set[i] != 0;
	return n;
}

/* Pop every packet ep sent; each must be a refusal (a CONNECT_OK with a
 * status, or a plain one), at most max_len bytes. How many, or -1. */
static int refusals(struct tern_ep *ep, uint32_t max_len)
{
	struct sp_pkt p;
	int n = 0;
	while (inj_tx_count(inj_of(ep)) != 0) {
		if (sp_take(ep, 0, &p) != 0 || p.h.type != TERN_PKT_CONNECT_OK || p.h.status == 0 ||
		    p.len > max_len) {
			fprintf(stderr, "  not a refusal: type %u status %u len %u (max %u)\n", p.h.type,
				p.h.status, p.len, max_len);
			return -1;
		}
		n++;
	}
	return n;
}

/* --- good paths ---------------------------------------------------------------- */

static void handshake__ik_fields_and_keys(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	struct sp_pkt c, k;
	REQUIRE(sp_connect(cli, srv, &s, &c, &k) == 0);

	/* CONNECT: header, clear fields; the identity and parameters are not in clear. */
	CHECK_EQ(c.len, CONNECT_LEN);
	CHECK_EQ(c.h.flags, TERN_WF_SECURE);
	CHECK_EQ(c.h.dst_session, TERN_SESSION_NONE);
	CHECK_EQ(c.h.src_session, s->id);
	const uint8_t *cb = c.data + TERN_HDR_LEN;
	CHECK_EQ(cb[B_PATTERN], TERN_PAT_IK);
	static const uint8_t zero[32];
	CHECK(memcmp(cb + 1, zero, 7) == 0);      /* reserved */
	CHECK(memcmp(cb + B_CID, zero, 8) != 0);  /* cid */
	CHECK(!contains(c.data, c.len, sp_keys.cli_pub_raw, 32)); /* static key encrypted */
	CHECK(!contains(c.data, c.len, &cli->epoch, 8));
	CHECK(!contains(c.data, c.len, &s->token, 4));

	/* CONNECT_OK */
	CHECK_EQ(k.len, OK_LEN);
	CHECK_EQ(k.h.flags, TERN_WF_SECURE);
	CHECK_EQ(k.h.status, 0);
	CHECK_EQ(k.h.dst_session, s->id);
	CHECK(k.h.src_session < srv->cfg.max_sessions);
	CHECK_EQ(k.h.token, s->token);
	CHECK(memcmp(k.data + TERN_HDR_LEN, cb, 16) == 0); /* pattern, cid echoed */
	CHECK(memcmp(k.data + TERN_HDR_LEN + B_E, cb + B_E, 32) != 0);
	CHECK(tern_addr_eq(&k.dst, sp_addr(cli)));
	CHECK(!contains(k.data, k.len, &srv->epoch, 8));

	/* Both sides: keys, level, identities; the handshake's secrets gone. */
	struct tern_session *t = sp_server_session(srv, s);
	REQUIRE(t != NULL);
	CHECK_EQ(tern_session_protection(s), TERN_PROT_PRIVACY);
	CHECK_EQ(tern_session_protection(t), TERN_PROT_PRIVACY);
	CHECK_EQ(s->cipher, t->cipher);
	CHECK(s->tx_aead != NULL && s->rx_aead != NULL && t->tx_aead != NULL && t->rx_aead != NULL);
	CHECK(s->hs == NULL);
	CHECK(t->hs_reply != NULL);
	uint8_t key[32];
	CHECK_EQ(tern_session_peer_key(s, key), 0);
	CHECK(memcmp(key, sp_keys.srv_pub_raw, 32) == 0);
	CHECK_EQ(tern_session_peer_key(t, key), 0);
	CHECK(memcmp(key, sp_keys.cli_pub_raw, 32) == 0);
	CHECK_EQ(s->dpp, INJ_MTU - TERN_HDR_LEN - TERN_PROT_OVERHEAD);
	CHECK_EQ(t->dpp, INJ_MTU - TERN_HDR_LEN - TERN_PROT_OVERHEAD);
	struct tern_stats a = sp_stats(srv), b = sp_stats(cli);
	CHECK_EQ(a.hs_ok, 1);
	CHECK_EQ(a.hs_refused, 0);
	CHECK_EQ(a.sessions_open, 1);
	CHECK_EQ(a.sessions_accepted, 1);
	CHECK_EQ(b.sessions_connected, 1);
	CHECK_EQ(sp_drops(srv) + sp_drops(cli), 0);

	/* The session keys work: a call whose request is encrypted on the wire. */
	uint8_t text[100];
	inj_fill(text, sizeof(text), 5);
	struct tern_msg *m = inj_msg(cli, sizeof(text), 5);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(s, 1, m, inj_cont, &r, 0) == 0);
	tern_poll(cli);
	struct sp_pkt q;
	REQUIRE(sp_take(cli, TERN_PKT_REQ, &q) == 0);
	CHECK(q.h.flags & TERN_WF_PROTECTED);
	CHECK_EQ(q.len, TERN_HDR_LEN + TERN_PROT_OVERHEAD + sizeof(text));
	CHECK(!contains(q.data, q.len, text, 16));
	sp_inject(srv, &q, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(handled, 1);
	sp_settle(srv, cli);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == sizeof(text) && memcmp(r.data, text, sizeof(text)) == 0);
	CHECK_EQ(roundtrip(s, 5000), 0); /* several packets each way */
	CHECK_EQ(sp_drops(srv) + sp_drops(cli), 0);
	down();
}

static void run_good(const char *name, const struct sp_sec *ss, const struct sp_sec *cs,
		     unsigned pattern, uint32_t prot, int peer_key)
{
	check_case = name;
	REQUIRE(up(ss, cs) == 0);
	struct tern_session *s;
	struct sp_pkt c, k;
	CHECK_EQ(sp_connect(cli, srv, &s, &c, &k), 0);
	CHECK_EQ(c.data[TERN_HDR_LEN + B_PATTERN], pattern);
	CHECK_EQ(k.data[TERN_HDR_LEN + B_PATTERN], pattern);
	CHECK_EQ(tern_session_protection(s), prot);
	struct tern_session *t = sp_server_session(srv, s);
	REQUIRE(t != NULL);
	CHECK_EQ(tern_session_protection(t), prot);
	uint8_t key[32];
	CHECK_EQ(tern_session_peer_key(s, key) == 0, peer_key);
	CHECK_EQ(tern_session_peer_key(t, key) == 0, peer_key);
	CHECK_EQ(roundtrip(s, 10), 0);
	CHECK_EQ(roundtrip(s, 3000), 0);
	CHECK_EQ(sp_stats(srv).hs_ok, 1);
	CHECK_EQ(sp_drops(srv) + sp_drops(cli), 0);
	down();
}

static void handshake__every_pattern(void)
{
	struct sp_sec ps = sec_of(NULL, NULL, NULL, sp_keys.psk, 0);
	struct sp_sec pc = sec_of(NULL, NULL, NULL, sp_keys.psk, TERN_PROT_INTEGRITY);
	run_good("handshake__every_pattern/nnpsk0", &ps, &pc, TERN_PAT_NNPSK0, TERN_PROT_INTEGRITY, 0);
	struct sp_sec kps = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, sp_keys.psk, 0);
	struct sp_sec kpc = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, sp_keys.psk, 0);
	run_good("handshake__every_pattern/ikpsk0_none", &kps, &kpc, TERN_PAT_IKPSK0, TERN_PROT_NONE,
		 1);
	struct sp_sec open = sec_of(sp_keys.srv_key, NULL, NULL, NULL, 0);
	struct sp_sec anon = sec_of(NULL, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	run_good("handshake__every_pattern/ik_anonymous", &open, &anon, TERN_PAT_IK,
		 TERN_PROT_PRIVACY, 1);
	/* An open server still takes plain clients. */
	struct sp_sec plain = sec_of(NULL, NULL, NULL, NULL, 0);
	check_case = "handshake__every_pattern/plain_at_open_server";
	REQUIRE(up(&open, &plain) == 0);
	struct tern_session *s;
	struct sp_pkt c;
	CHECK_EQ(sp_connect(cli, srv, &s, &c, NULL), 0);
	CHECK_EQ(c.len, TERN_HDR_LEN + TERN_HS_LEN);
	CHECK_EQ(tern_session_protection(s), TERN_PROT_NONE);
	CHECK_EQ(roundtrip(s, 10), 0);
	down();
}

/* --- refusals ----------------------------------------------------------------- */

/* Connect and expect a refusal with err at the client, nothing kept by the server. */
static void run_refused(const char *name, const struct sp_sec *ss, const struct sp_sec *cs, int err)
{
	check_case = name;
	REQUIRE(up(ss, cs) == 0);
	struct tern_session *s;
	struct tern_session *sp = NULL;
	CHECK_EQ(tern_connect(cli, SP_SRV_ADDR, &sp), 0);
	s = sp;
	REQUIRE(s != NULL);
	tern_poll(cli);
	struct sp_pkt c, k;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	unsigned before = srv->sec != NULL ? replay_entries(srv) : 0;
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
	CHECK_EQ(k.h.status, (unsigned)-err);
	CHECK_EQ(k.h.src_session, TERN_SESSION_NONE);
	CHECK_EQ(k.h.dst_session, s->id);
	CHECK(k.len <= c.len); /* no amplification */
	if (c.h.flags & TERN_WF_SECURE) {
		CHECK_EQ(k.len, OK_LEN);
		CHECK(memcmp(k.data + TERN_HDR_LEN, c.data + TERN_HDR_LEN, 16) == 0); /* cid */
		static const uint8_t zero[TERN_SHS_OK_LEN - 16];
		CHECK(memcmp(k.data + TERN_HDR_LEN + 16, zero, sizeof(zero)) == 0); /* nothing else */
		if (srv->sec != NULL)
			CHECK_EQ(replay_entries(srv), before); /* a refused client leaves nothing */
	}
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	struct tern_stats a = sp_stats(srv);
	CHECK_EQ(a.hs_refused, 1);
	CHECK_EQ(a.hs_ok, 0);
	CHECK_EQ(a.sessions_open, 0);
	CHECK_EQ(a.sessions_accepted, 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	CHECK_EQ(s->err, err);
	CHECK_EQ(tern_session_close(s), 0);
	down();
}

static void handshake__refusals(void)
{
	struct sp_sec srvs = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec wrong = sec_of(sp_keys.cli_key, sp_keys.other_pub, NULL, NULL, TERN_PROT_PRIVACY);
	run_refused("handshake__refusals/wrong_server_key", &srvs, &wrong, -EACCES);
	struct sp_sec stranger = sec_of(sp_keys.other_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	run_refused("handshake__refusals/not_on_allow_list", &srvs, &stranger, -EACCES);
	struct sp_sec anon = sec_of(NULL, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	run_refused("handshake__refusals/anonymous_at_allow_list", &srvs, &anon, -EACCES);
	struct sp_sec plain = sec_of(NULL, NULL, NULL, NULL, 0);
	run_refused("handshake__refusals/plain_client", &srvs, &plain, -EACCES);
	struct sp_sec strict = sec_of(sp_keys.srv_key, NULL, NULL, NULL, TERN_PROT_PRIVACY);
	struct sp_sec weak = sec_of(NULL, sp_keys.srv_pub, NULL, NULL, TERN_PROT_INTEGRITY);
	run_refused("handshake__refusals/below_minimum_level", &strict, &weak, -EACCES);
	struct sp_sec ps = sec_of(NULL, NULL, NULL, sp_keys.psk, 0);
	struct sp_sec bad = sec_of(NULL, NULL, NULL, sp_keys.psk2, TERN_PROT_PRIVACY);
	run_refused("handshake__refusals/wrong_psk", &ps, &bad, -EACCES);
	/* The pattern the server does not run: IK at a PSK-only server, and
	 * NNpsk0 at a server without a PSK. */
	run_refused("handshake__refusals/ik_at_psk_server", &ps, &anon, -EACCES);
	struct sp_sec pc = sec_of(NULL, NULL, NULL, sp_keys.psk, 0);
	run_refused("handshake__refusals/psk_at_key_server", &srvs, &pc, -EACCES);
	/* A server with no keys at all holds no key the client pinned. */
	run_refused("handshake__refusals/keyless_server", &plain, &anon, -EACCES);
}

/* --- retransmission and replay ------------------------------------------------- */

static void handshake__replayed_connect(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	struct sp_pkt c, k, again;
	REQUIRE(sp_connect(cli, srv, &s, &c, &k) == 0);
	CHECK_EQ(roundtrip(s, 100), 0); /* the session is used */
	struct tern_session *t = sp_server_session(srv, s);
	REQUIRE(t != NULL);
	struct tern_aead *keys = t->rx_aead;

	/* While the session lives, the same CONNECT (a retransmission) gets the
	 * same CONNECT_OK, byte for byte, and nothing else happens. */
	for (int i = 0; i < 10; i++) {
		sp_inject(srv, &c, sp_addr(cli));
		inj_poll(srv);
		REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &again) == 0);
		CHECK(again.len == k.len && memcmp(again.data, k.data, k.len) == 0);
		CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	}
	struct tern_stats a = sp_stats(srv);
	CHECK_EQ(a.hs_ok, 1);
	CHECK_EQ(a.sessions_open, 1);
	CHECK_EQ(a.sessions_accepted, 1);
	CHECK(sp_server_session(srv, s) == t && t->rx_aead == keys);
	/* The client takes the repeated answer for a duplicate. */
	uint64_t dup = sp_stats(cli).drops[TERN_DROP_DUP];
	sp_inject(cli, &again, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_stats(cli).drops[TERN_DROP_DUP], dup + 1);
	CHECK_EQ(roundtrip(s, 100), 0);

	/* The same bytes from another address are a replay: no answer. */
	struct tern_addr elsewhere;
	REQUIRE(tern_addr_parse("10.0.0.9:5000", &elsewhere) == 0);
	sp_inject(srv, &c, &elsewhere);
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], 1);
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);

	/* The session ends: now the CONNECT is only a replay, and costs nothing. */
	CHECK_EQ(tern_session_close(s), 0);
	sp_settle(cli, srv);
	CHECK_EQ(sp_stats(srv).sessions_open, 0);
	inj_tx_clear(inj_of(srv));
	a = sp_stats(srv);
	unsigned entries = replay_entries(srv);
	for (int i = 0; i < 5; i++) {
		sp_inject(srv, &c, sp_addr(cli));
		inj_poll(srv);
	}
	struct tern_stats b = sp_stats(srv);
	CHECK_EQ(b.drops[TERN_DROP_REPLAY], a.drops[TERN_DROP_REPLAY] + 5);
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	CHECK_EQ(b.sessions_open, 0);
	CHECK_EQ(b.hs_ok, 1);
	CHECK_EQ(b.hs_refused, a.hs_refused);
	CHECK_EQ(b.msgs_in_use, a.msgs_in_use);
	CHECK_EQ(b.msg_bytes_reserved, a.msg_bytes_reserved);
	CHECK_EQ(replay_entries(srv), entries);
	down();
}

/* Build the client's CONNECT with the library's wall clock shifted by ns. */
static int shifted_connect(int64_t ns, struct sp_pkt *c)
{
	struct tern_session *s;
	sp_realtime_shift(ns);
	int rc = tern_connect(cli, SP_SRV_ADDR, &s);
	sp_realtime_shift(0);
	if (rc != 0)
		return rc;
	tern_poll(cli);
	return sp_take(cli, TERN_PKT_CONNECT, c);
}

static void handshake__timestamp_window(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	static const struct {
		int64_t shift;
		int ok;
	} cases[] = {{-61 * (int64_t)SEC, 0}, {61 * (int64_t)SEC, 0}, {-3600 * (int64_t)SEC, 0},
		     {-58 * (int64_t)SEC, 1}, {58 * (int64_t)SEC, 1}, {0, 1}};
	uint64_t replays = 0, ok = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sp_pkt c;
		REQUIRE(shifted_connect(cases[i].shift, &c) == 0);
		sp_inject(srv, &c, sp_addr(cli));
		inj_poll(srv);
		replays += !cases[i].ok;
		ok += cases[i].ok;
		CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], replays);
		CHECK_EQ(sp_stats(srv).hs_ok, ok);
		CHECK_EQ(sp_stats(srv).sessions_open, ok);
		CHECK_EQ(inj_tx_count(inj_of(srv)), (unsigned)cases[i].ok);
		inj_tx_clear(inj_of(srv));
	}
	/* Nothing at or below the floor (what the cache forgot) is accepted. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	srv->sec->rp_floor = (uint64_t)now.tv_sec * SEC + (uint64_t)now.tv_nsec + 10 * SEC;
	struct sp_pkt c;
	REQUIRE(shifted_connect(0, &c) == 0);
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_REPLAY], replays + 1);
	REQUIRE(shifted_connect(20 * (int64_t)SEC, &c) == 0);
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).hs_ok, ok + 1);
	down();
}

/* --- malformed handshake packets ----------------------------------------------------- */

/* Inject len bytes; the server must drop it (one drop), keep no session and
 * answer at most with a refusal no larger than it. The refusals sent. */
static int expect_dropped(const uint8_t *pkt, size_t len, const struct tern_addr *src)
{
	uint64_t drops = sp_drops(srv);
	inj_clock_advance(10 * MS); /* under the rate limit: each one is examined */
	sp_inject_raw(srv, pkt, len, src);
	inj_poll(srv);
	CHECK_EQ(sp_drops(srv), drops + 1);
	CHECK_EQ(sp_stats(srv).sessions_open, 0);
	int n = refusals(srv, (uint32_t)len);
	CHECK(n >= 0);
	return n;
}

static void handshake__connect_every_length(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	tern_poll(cli);
	struct sp_pkt c;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	uint8_t buf[CONNECT_LEN + 64];
	int answered = 0;
	for (size_t len = 0; len <= sizeof(buf); len++) {
		if (len == CONNECT_LEN)
			continue;
		memcpy(buf, c.data, len < CONNECT_LEN ? len : CONNECT_LEN);
		if (len > CONNECT_LEN)
			sp_rand_fill(buf + CONNECT_LEN, len - CONNECT_LEN);
		if (len >= TERN_HDR_LEN)
			tern_wire_seal(buf, len);
		answered += expect_dropped(buf, len, sp_addr(cli));
	}
	CHECK_EQ(answered, 0); /* a malformed packet gets no answer at all */
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_LENGTH], CONNECT_LEN + 64 - TERN_HDR_LEN);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_SHORT], TERN_HDR_LEN);
	/* The real one still works. */
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	struct sp_pkt k;
	REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	down();
}

struct field {
	const char *name;
	unsigned off, len; /* in the packet */
};

static void handshake__connect_garbled_fields(void)
{
	static const struct field fields[] = {
		{"src_session", 8, 2},
		{"pattern", TERN_HDR_LEN + B_PATTERN, 1},
		{"reserved", TERN_HDR_LEN + 1, 7},
		{"cid", TERN_HDR_LEN + B_CID, 8},
		{"e", TERN_HDR_LEN + B_E, 32},
		{"static", TERN_HDR_LEN + B_STATIC, 48},
		{"payload", TERN_HDR_LEN + B_PAYLOAD, 72},
		{"payload_tag", TERN_HDR_LEN + B_PAYLOAD + 56, 16},
		{"mac1", TERN_HDR_LEN + B_MAC1, 16},
	};
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	tern_poll(cli);
	struct sp_pkt c;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	uint8_t buf[CONNECT_LEN];
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		/* with_mac1: garbled by someone who knows the server's public key
		 * (it is public) and so can make mac1 right: the Noise crypto,
		 * not mac1, must catch it. */
		for (int with_mac1 = 0; with_mac1 < 2; with_mac1++) {
			if (with_mac1 && fields[f].off == TERN_HDR_LEN + B_MAC1)
				continue;
			for (int i = 0; i < 40; i++) {
				memcpy(buf, c.data, CONNECT_LEN);
				sp_rand_fill(buf + fields[f].off, fields[f].len);
				if (fields[f].off == 8 && buf[8] == 0xff && buf[9] == 0xff)
					buf[8] = 0; /* src NONE is another drop reason; keep it a session id */
				tern_wire_seal(buf, CONNECT_LEN);
				if (with_mac1)
					sp_mac1_stamp(buf, sp_keys.srv_pub_raw);
				if (memcmp(buf, c.data, CONNECT_LEN) == 0)
					continue;
				check_case = fields[f].name;
				expect_dropped(buf, CONNECT_LEN, sp_addr(cli));
			}
		}
	}
	check_case = "handshake__connect_garbled_fields";
	/* Every bit of mac1, and of the bytes it covers past the checksum. */
	for (unsigned bit = (TERN_HDR_LEN + TERN_HS_LEN) * 8; bit < CONNECT_LEN * 8; bit++) {
		memcpy(buf, c.data, CONNECT_LEN);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_dropped(buf, CONNECT_LEN, sp_addr(cli));
	}
	/* An unknown pattern: dropped without an answer. */
	for (unsigned p = 0; p < 256; p++) {
		if (p == TERN_PAT_IK || p == TERN_PAT_NNPSK0 || p == TERN_PAT_IKPSK0)
			continue;
		memcpy(buf, c.data, CONNECT_LEN);
		buf[TERN_HDR_LEN + B_PATTERN] = (uint8_t)p;
		tern_wire_seal(buf, CONNECT_LEN);
		sp_mac1_stamp(buf, sp_keys.srv_pub_raw);
		CHECK_EQ(expect_dropped(buf, CONNECT_LEN, sp_addr(cli)), 0);
	}
	struct tern_stats a = sp_stats(srv);
	CHECK_EQ(a.hs_ok, 0);
	CHECK_EQ(a.sessions_accepted, 0);
	CHECK_EQ(a.drops[TERN_DROP_RATELIMIT], 0);
	CHECK_EQ(a.drops[TERN_DROP_HANDSHAKE], sp_drops(srv));
	CHECK(a.hs_refused > 0);
	CHECK_EQ(replay_entries(srv), 0); /* nothing unauthenticated is remembered */
	/* The real one, after all that. */
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	struct sp_pkt k;
	REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
	CHECK_EQ(k.h.status, 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(roundtrip(s, 64), 0);
	down();
}

/* Client role: answers that are not the server's are dropped; the attempt goes on. */
static void handshake__connect_ok_garbled(void)
{
	static const struct field fields[] = {
		{"src_session", 8, 2},
		{"pattern", TERN_HDR_LEN + B_PATTERN, 1},
		{"reserved", TERN_HDR_LEN + 1, 7},
		{"cid", TERN_HDR_LEN + B_CID, 8},
		{"e", TERN_HDR_LEN + B_E, 32},
		{"payload", TERN_HDR_LEN + B_PAYLOAD_OK, 56},
		{"payload_tag", TERN_HDR_LEN + B_PAYLOAD_OK + 56, 16},
	};
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	tern_poll(cli);
	struct sp_pkt c, k;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
	uint8_t buf[OK_LEN + 64];
	uint64_t drops = sp_drops(cli);
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		check_case = fields[f].name;
		for (int i = 0; i < 40; i++) {
			memcpy(buf, k.data, OK_LEN);
			sp_rand_fill(buf + fields[f].off, fields[f].len);
			tern_wire_seal(buf, OK_LEN);
			if (memcmp(buf, k.data, OK_LEN) == 0)
				continue;
			sp_inject_raw(cli, buf, OK_LEN, sp_addr(srv));
			inj_poll(cli);
			CHECK_EQ(sp_drops(cli), ++drops);
			CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
			CHECK(s->tx_aead == NULL && s->rx_aead == NULL); /* no keys from a forgery */
		}
	}
	check_case = "handshake__connect_ok_garbled";
	for (size_t len = 0; len <= sizeof(buf); len++) {
		if (len == OK_LEN)
			continue;
		memcpy(buf, k.data, len < OK_LEN ? len : OK_LEN);
		if (len > OK_LEN)
			sp_rand_fill(buf + OK_LEN, len - OK_LEN);
		if (len >= TERN_HDR_LEN)
			tern_wire_seal(buf, len);
		sp_inject_raw(cli, buf, len, sp_addr(srv));
		inj_poll(cli);
		CHECK_EQ(sp_drops(cli), ++drops);
		CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	}
	/* A downgrade: a plain CONNECT_OK with everything right that a plain
	 * handshake checks (token, nonce, epoch; read from the client's state). */
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.dst_session = s->id;
	h.src_session = 3;
	h.token = s->token;
	struct tern_wire_hs hs;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = 42;
	hs.peer_epoch = cli->epoch;
	hs.token = 77;
	hs.max_msg_size = 1 << 20;
	hs.slots = 8;
	hs.credits = 8;
	hs.mtu = 1400;
	hs.nonce = s->hs_nonce;
	tern_wire_put(buf, &h);
	tern_wire_hs_put(buf + TERN_HDR_LEN, &hs);
	tern_wire_seal(buf, TERN_HDR_LEN + TERN_HS_LEN);
	sp_inject_raw(cli, buf, TERN_HDR_LEN + TERN_HS_LEN, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_drops(cli), ++drops);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	/* A refusal naming another attempt (cid) is not ours. */
	memset(buf, 0, OK_LEN);
	memcpy(buf, k.data, TERN_HDR_LEN + 16);
	buf[3] = EACCES;
	buf[TERN_HDR_LEN + B_CID] ^= 1;
	tern_wire_seal(buf, OK_LEN);
	sp_inject_raw(cli, buf, OK_LEN, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_drops(cli), ++drops);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK_EQ(sp_stats(cli).drops[TERN_DROP_HANDSHAKE] + sp_stats(cli).drops[TERN_DROP_LENGTH] +
			 sp_stats(cli).drops[TERN_DROP_SHORT] + sp_stats(cli).drops[TERN_DROP_SESSION] +
			 sp_stats(cli).drops[TERN_DROP_TYPE] + sp_stats(cli).drops[TERN_DROP_TOKEN],
		 drops);
	CHECK_EQ(inj_tx_count(inj_of(cli)), 0); /* no answer to any of it */
	/* The server's answer still connects. */
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(tern_session_protection(s), TERN_PROT_PRIVACY);
	CHECK_EQ(roundtrip(s, 64), 0);
	down();
}

/* --- floods --------------------------------------------------------------------------- */

/* A forged secure CONNECT: random body, valid header checksum; mac1 right
 * (its sender knows the server's public key) when with_mac1. Mostly IK, the
 * other patterns, and (any_pattern) unknown ones. */
static void forge_connect(uint8_t *buf, int with_mac1, int any_pattern)
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = (uint16_t)(sp_rand() % TERN_SESSION_NONE);
	tern_wire_put(buf, &h);
	sp_rand_fill(buf + TERN_HDR_LEN, TERN_SHS_CONNECT_LEN);
	unsigned r = (unsigned)sp_rand() % 16;
	buf[TERN_HDR_LEN + B_PATTERN] = r < 13 ? TERN_PAT_IK : r < 14 ? TERN_PAT_NNPSK0
						      : r < 15 || !any_pattern ? TERN_PAT_IKPSK0
										       : (uint8_t)sp_rand();
	tern_wire_seal(buf, CONNECT_LEN);
	if (with_mac1)
		sp_mac1_stamp(buf, sp_keys.srv_pub_raw);
}

static void random_addr(struct tern_addr *a)
{
	char s[64];
	uint64_t r = sp_rand();
	snprintf(s, sizeof(s), "10.%u.%u.%u:%u", (unsigned)(r >> 8) & 255, (unsigned)(r >> 16) & 255,
		 (unsigned)(r >> 24) & 255, 1024 + (unsigned)(r >> 32) % 60000);
	tern_addr_parse(s, a);
}

static void handshake__flood_many_addresses(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_stats a = sp_stats(srv);
	uint8_t buf[CONNECT_LEN];
	const unsigned total = 100000, keyed = 3000; /* the last `keyed` with a valid mac1 */
	long answers = 0;
	for (unsigned i = 0; i < total; i++) {
		struct tern_addr from;
		random_addr(&from);
		forge_connect(buf, i >= total - keyed, 1);
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
		if (i % TERN_RX_BURST == TERN_RX_BURST - 1 || i == total - 1) {
			inj_poll(srv);
			int n = refusals(srv, CONNECT_LEN);
			if (n < 0) {
				check_failures++;
				break;
			}
			answers += n;
		}
	}
	struct tern_stats b = sp_stats(srv);
	CHECK_EQ(sp_drops(srv), total);
	CHECK_EQ(b.drops[TERN_DROP_HANDSHAKE], total);
	CHECK_EQ(b.sessions_open, 0);
	CHECK_EQ(b.sessions_accepted, 0);
	CHECK_EQ(b.hs_ok, 0);
	CHECK_EQ(b.hs_refused, (uint64_t)answers);
	CHECK(answers > 0 && answers <= (long)total);
	CHECK_EQ(b.msgs_in_use, a.msgs_in_use);
	CHECK_EQ(b.msg_bytes_reserved, a.msg_bytes_reserved);
	CHECK_EQ(replay_entries(srv), 0);
	CHECK_EQ(srv->sec->rp_head, 0);
	CHECK_EQ(srv->sec->rp_floor, 0);
	CHECK_EQ(srv->nfree, srv->cfg.max_sessions);
	/* A real client gets through afterwards. */
	struct tern_session *s;
	CHECK_EQ(sp_connect(cli, srv, &s, NULL, NULL), 0);
	CHECK_EQ(roundtrip(s, 64), 0);
	down();
}

static void handshake__flood_one_address_rate_limited(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	ss.handshake_rate = 100; /* one per 10 ms, burst of 64 */
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_ep *cli2 = sp_ep(&cs, "10.0.0.3:5000");
	REQUIRE(cli2 != NULL);
	/* 1000 forgeries claiming the client's IP (any port) at one instant. */
	uint8_t buf[CONNECT_LEN];
	long answers = 0;
	const unsigned total = 1000, burst = 64 + 1;
	for (unsigned i = 0; i < total; i++) {
		struct tern_addr from = *sp_addr(cli);
		from.port = (uint16_t)(2000 + i);
		forge_connect(buf, 1, 0);
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
		if (i % 16 == 15 || i == total - 1) {
			inj_poll(srv);
			answers += refusals(srv, CONNECT_LEN);
		}
	}
	struct tern_stats b = sp_stats(srv);
	CHECK_EQ(b.drops[TERN_DROP_RATELIMIT], total - burst);
	CHECK_EQ(b.drops[TERN_DROP_HANDSHAKE] + b.drops[TERN_DROP_RATELIMIT], total);
	CHECK(answers <= (long)burst);
	CHECK_EQ(b.sessions_open, 0);
	/* Another address is not affected. */
	struct tern_session *s2;
	CHECK_EQ(sp_connect(cli2, srv, &s2, NULL, NULL), 0);
	/* The limited address is, for as long as its budget lasts: its CONNECT
	 * is dropped... */
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	inj_poll(cli);
	sp_pump(cli, srv);
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_RATELIMIT], total - burst + 1);
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	/* ...and a retransmission once time has passed gets through. */
	for (int i = 0; i < 40 && tern_session_state(s) == TERN_SS_CONNECTING; i++) {
		inj_clock_advance(50 * MS);
		sp_settle(cli, srv);
	}
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(roundtrip(s, 64), 0);
	CHECK_EQ(sp_stats(srv).sessions_open, 2);
	tern_ep_destroy(cli2);
	down();
}

/* Clients the server refuses (authenticated, but not allowed) must not fill
 * the replay cache: it would let anyone who knows the server's public key
 * push the cache's floor (up to 60 s into the future) and lock every client
 * out. */
static void handshake__refused_clients_leave_no_replay_state(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.other_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	for (int i = 0; i < 20; i++) {
		struct sp_pkt c, k;
		REQUIRE(shifted_connect(i % 2 ? 59 * (int64_t)SEC : 0, &c) == 0);
		sp_inject(srv, &c, sp_addr(cli));
		inj_poll(srv);
		REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
		CHECK_EQ(k.h.status, EACCES);
		sp_inject(cli, &k, sp_addr(srv));
		inj_poll(cli);
		uint16_t id = k.h.dst_session;
		REQUIRE(id < cli->cfg.max_sessions);
		CHECK_EQ(cli->sessions[id]->err, -EACCES);
		tern_session_close(cli->sessions[id]);
	}
	CHECK_EQ(sp_stats(srv).hs_refused, 20);
	CHECK_EQ(replay_entries(srv), 0);
	CHECK_EQ(srv->sec->rp_head, 0);
	CHECK_EQ(srv->sec->rp_floor, 0);
	down();
}

/* A plain CONNECT must not replace an authenticated session, even one that
 * copies its clear fields (address, session id, and the cid as its epoch:
 * the CONNECT dedup table keys both kinds). */
static void handshake__plain_connect_cannot_replace_secure_session(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, NULL, NULL, 0); /* takes plain clients too */
	struct sp_sec cs = sec_of(NULL, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	struct sp_pkt c;
	REQUIRE(sp_connect(cli, srv, &s, &c, NULL) == 0);
	struct tern_session *t = sp_server_session(srv, s);
	REQUIRE(t != NULL);
	uint64_t cid;
	memcpy(&cid, c.data + TERN_HDR_LEN + B_CID, 8);
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = s->id;
	struct tern_wire_hs hs;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = tern_le64(cid);
	hs.token = 99;
	hs.max_msg_size = 1 << 20;
	hs.slots = 8;
	hs.credits = 8;
	hs.mtu = 1400;
	hs.nonce = 12345;
	uint8_t buf[TERN_HDR_LEN + TERN_HS_LEN];
	tern_wire_put(buf, &h);
	tern_wire_hs_put(buf + TERN_HDR_LEN, &hs);
	tern_wire_seal(buf, sizeof(buf));
	sp_inject_raw(srv, buf, sizeof(buf), sp_addr(cli));
	inj_poll(srv);
	inj_tx_clear(inj_of(srv));
	CHECK(sp_server_session(srv, s) == t);
	CHECK_EQ(t->state, SESS_CONNECTED);
	CHECK_EQ(t->prot, TERN_PROT_PRIVACY);
	CHECK_EQ(roundtrip(s, 64), 0);
	down();
}

/* An answer that authenticates but is not for this attempt (its nonce or
 * our epoch does not match) installs no keys, and the right one still
 * connects (keys installed once: no context leaks under ASan). */
static void handshake__stale_answer_installs_no_keys(void)
{
	struct sp_sec ss = sec_of(sp_keys.srv_key, NULL, sp_keys.allow, NULL, 0);
	struct sp_sec cs = sec_of(sp_keys.cli_key, sp_keys.srv_pub, NULL, NULL, TERN_PROT_PRIVACY);
	REQUIRE(up(&ss, &cs) == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	tern_poll(cli);
	struct sp_pkt c, k;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	REQUIRE(sp_take(srv, TERN_PKT_CONNECT_OK, &k) == 0);
	uint64_t nonce = s->hs_nonce;
	s->hs_nonce = nonce + 1; /* as if the server had answered another attempt */
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK(s->tx_aead == NULL && s->rx_aead == NULL);
	CHECK_EQ(s->prot, TERN_PROT_NONE);
	CHECK_EQ(sp_stats(cli).drops[TERN_DROP_HANDSHAKE], 1);
	s->hs_nonce = nonce;
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(roundtrip(s, 64), 0);
	down();
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(handshake__ik_fields_and_keys);
	RUN(handshake__every_pattern);
	RUN(handshake__refusals);
	RUN(handshake__replayed_connect);
	RUN(handshake__timestamp_window);
	RUN(handshake__connect_every_length);
	RUN(handshake__connect_garbled_fields);
	RUN(handshake__connect_ok_garbled);
	RUN(handshake__flood_many_addresses);
	RUN(handshake__flood_one_address_rate_limited);
	RUN(handshake__refused_clients_leave_no_replay_state);
	RUN(handshake__plain_connect_cannot_replace_secure_session);
	RUN(handshake__stale_answer_installs_no_keys);
	sp_keys_fini();
	return check_exit();
}
