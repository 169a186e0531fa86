/*
 * test_cookie.c — lib/cookie.c: mac2, the COOKIE reply, the load meter and
 * the per-address rate limit (server), the cookie jar (client), driven by
 * injected packets between two inject endpoints (secpair.h) on the virtual
 * clock.
 *
 * Not under load: no cookie is asked for, mac2 is ignored. Under load: a
 * CONNECT without a valid mac2 gets a COOKIE and no Diffie-Hellman work;
 * the client takes it and sends the same CONNECT with mac2 at once, and
 * its later CONNECTs carry mac2 from the start; a wrong mac2, a cookie of
 * an expired secret, a cookie of another address each get a new COOKIE;
 * only sources proven by mac2 count against the rate limit, so a spoofed
 * flood cannot lock a victim out; a flood without a valid mac1 is load too
 * and gets no answers past the threshold; forged or stray COOKIEs are
 * dropped by the client; the load ends a second after the flood does.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "secpair.h"

#define MS  1000000ull
#define SEC 1000000000ull
#define CONNECT_LEN (TERN_HDR_LEN + TERN_SHS_CONNECT_LEN)
#define COOKIE_LEN  (TERN_HDR_LEN + TERN_COOKIE_BODY_LEN)
#define MAC2_OFF    (TERN_HDR_LEN + TERN_SHS_OFF_MAC2)

static struct tern_ep *srv, *cli;
static int handled;
static const uint8_t zero16[16];

/* Server: key pair and allow-list; load threshold `load` a second (its
 * 1/8 s window then holds load/8), rate `rate` per proven address. */
static int up(uint32_t load, uint32_t rate)
{
	struct sp_sec ss = {.key = sp_keys.srv_key, .allow = sp_keys.allow, .handshake_load = load,
			    .handshake_rate = rate};
	struct sp_sec cs = {.key = sp_keys.cli_key, .peer = sp_keys.srv_pub,
			    .protection = TERN_PROT_PRIVACY};
	handled = 0;
	srv = sp_ep(&ss, SP_SRV_ADDR);
	cli = sp_ep(&cs, SP_CLI_ADDR);
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
}

static void random_addr(struct tern_addr *a)
{
	char s[64];
	uint64_t r = sp_rand();
	snprintf(s, sizeof(s), "10.%u.%u.%u:%u", (unsigned)(r >> 8) & 255, (unsigned)(r >> 16) & 255,
		 (unsigned)(r >> 24) & 255, 1024 + (unsigned)(r >> 32) % 60000);
	tern_addr_parse(s, a);
}

/* n forged CONNECTs with a valid mac1 from random addresses: load. */
static void load_up(unsigned n)
{
	uint8_t buf[CONNECT_LEN];
	for (unsigned i = 0; i < n; i++) {
		struct tern_addr from;
		random_addr(&from);
		sp_forge_connect(buf, TERN_PAT_IK, sp_keys.srv_pub_raw);
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
	}
	inj_poll(srv);
	inj_tx_clear(inj_of(srv));
}

/* A new session of cli, its CONNECT taken into *c (what else cli sends,
 * retransmissions of older attempts, is lost). */
static struct tern_session *start(struct sp_pkt *c)
{
	struct tern_session *s = NULL;
	if (tern_connect(cli, SP_SRV_ADDR, &s) != 0)
		return NULL;
	tern_poll(cli);
	while (sp_take(cli, TERN_PKT_CONNECT, c) == 0)
		if (c->h.src_session == s->id) {
			inj_tx_clear(inj_of(cli));
			return s;
		}
	return NULL;
}

/* Inject p into srv from src; what srv sent back into *out (type t). */
static int ask(const struct sp_pkt *p, const struct tern_addr *src, uint8_t t, struct sp_pkt *out)
{
	sp_inject(srv, p, src);
	inj_poll(srv);
	int rc = sp_take(srv, t, out);
	if (inj_tx_count(inj_of(srv)) != 0)
		return -1; /* one answer, no more */
	return rc;
}

static uint64_t server_work(void)
{
	struct tern_stats st = sp_stats(srv);
	return st.hs_ok + st.hs_refused + st.drops[TERN_DROP_HANDSHAKE] + st.drops[TERN_DROP_REPLAY];
}

/* --- not under load ------------------------------------------------------------------- */

static void cookie__not_under_load_no_cookie(void)
{
	REQUIRE(up(0, 0) == 0);
	struct sp_pkt c, k;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	CHECK(memcmp(c.data + MAC2_OFF, zero16, 16) == 0); /* no cookie: mac2 zero */
	/* mac2 means nothing here: garbage in it changes nothing. */
	sp_rand_fill(c.data + MAC2_OFF, 16);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_CONNECT_OK, &k) == 0);
	CHECK_EQ(k.h.status, 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK(!tern_cookie_under_load(srv));
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, 0);
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 0);
	down();
}

/* --- under load ------------------------------------------------------------------------ */

static void cookie__under_load_reply_then_mac2(void)
{
	REQUIRE(up(8, 0) == 0); /* one CONNECT per 1/8 s window */
	load_up(2); /* the second is over the threshold: it gets a COOKIE */
	CHECK(tern_cookie_under_load(srv));
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, 1);
	uint64_t work = server_work();
	struct sp_pkt c, k, c2, ok;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	/* The COOKIE: smaller than the CONNECT, for the client's session and
	 * attempt; no work, no state. */
	CHECK_EQ(k.len, COOKIE_LEN);
	CHECK(k.len < c.len);
	CHECK_EQ(k.h.flags, TERN_WF_SECURE);
	CHECK_EQ(k.h.dst_session, s->id);
	CHECK_EQ(k.h.src_session, TERN_SESSION_NONE);
	CHECK(tern_addr_eq(&k.dst, sp_addr(cli)));
	CHECK(memcmp(k.data + TERN_HDR_LEN, c.data + TERN_HDR_LEN + 8, 8) == 0); /* cid */
	CHECK_EQ(server_work(), work);
	CHECK_EQ(sp_stats(srv).sessions_open, 0);
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, 2);
	/* The client takes it and sends the same CONNECT with mac2, at once. */
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 1);
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	CHECK(memcmp(c2.data, c.data, MAC2_OFF) == 0);
	CHECK(memcmp(c2.data + MAC2_OFF, zero16, 16) != 0);
	REQUIRE(ask(&c2, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	CHECK_EQ(ok.h.status, 0);
	sp_inject(cli, &ok, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	/* A repeated COOKIE reply makes the client send nothing more. */
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(inj_tx_count(inj_of(cli)), 0);
	/* Its next session carries mac2 from the start: no COOKIE round. */
	load_up(2);
	CHECK(tern_cookie_under_load(srv));
	struct tern_session *s2 = start(&c);
	REQUIRE(s2 != NULL);
	CHECK(memcmp(c.data + MAC2_OFF, zero16, 16) != 0);
	uint64_t sent = sp_stats(srv).hs_cookies_sent;
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	CHECK_EQ(ok.h.status, 0);
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, sent);
	CHECK_EQ(sp_stats(srv).hs_ok, 2);
	down();
}

/* Under load, mac2 garbled, or keyed by a cookie of another address, or of
 * a secret that expired: a COOKIE again, and no work. */
static void cookie__wrong_mac2(void)
{
	REQUIRE(up(8, 0) == 0);
	load_up(2);
	struct sp_pkt c, k, c2, again;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	uint64_t work = server_work();
	for (int bit = 0; bit < 128; bit++) {
		struct sp_pkt bad = c2;
		bad.data[MAC2_OFF + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		REQUIRE(ask(&bad, sp_addr(cli), TERN_PKT_COOKIE, &again) == 0);
	}
	CHECK_EQ(server_work(), work);
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, 1 + 1 + 128); /* load_up's, c's, the bad ones */
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_RATELIMIT], 0);
	/* The right one still connects. */
	REQUIRE(ask(&c2, sp_addr(cli), TERN_PKT_CONNECT_OK, &again) == 0);
	CHECK_EQ(again.h.status, 0);
	down();
}

static void cookie__for_another_address(void)
{
	REQUIRE(up(8, 0) == 0);
	load_up(2);
	struct sp_pkt c, k, c2, again;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	/* The CONNECT with the client's mac2, from another port or host. */
	static const char *const other[] = {"10.0.0.2:5001", "10.0.0.3:5000"};
	uint64_t work = server_work();
	for (int i = 0; i < 2; i++) {
		struct tern_addr a;
		REQUIRE(tern_addr_parse(other[i], &a) == 0);
		REQUIRE(ask(&c2, &a, TERN_PKT_COOKIE, &again) == 0);
		CHECK(tern_addr_eq(&again.dst, &a));
	}
	CHECK_EQ(server_work(), work);
	/* From the client's own address it is accepted. */
	REQUIRE(ask(&c2, sp_addr(cli), TERN_PKT_CONNECT_OK, &again) == 0);
	CHECK_EQ(again.h.status, 0);
	down();
}

static void cookie__expired_secret(void)
{
	REQUIRE(up(8, 0) == 0);
	load_up(2);
	struct sp_pkt c, k, c2, again;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	uint8_t old_cookie[16];
	memcpy(old_cookie, cli->sec->ck.jar[0].cookie, 16);
	/* 114 s later the cookie is still good for both. */
	inj_clock_advance(114 * SEC);
	load_up(2);
	struct sp_pkt c3, ok;
	REQUIRE(start(&c3) != NULL);
	CHECK(memcmp(c3.data + MAC2_OFF, zero16, 16) != 0);
	REQUIRE(ask(&c3, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	CHECK_EQ(ok.h.status, 0);
	/* At 121 s the server's secret has changed: the old cookie is worth
	 * nothing there (a CONNECT stamped with it gets a new COOKIE) ... */
	inj_clock_advance(7 * SEC);
	load_up(2);
	uint64_t work = server_work();
	struct sp_pkt c4;
	REQUIRE(start(&c4) != NULL);
	sp_mac2_stamp(c4.data, old_cookie);
	REQUIRE(ask(&c4, sp_addr(cli), TERN_PKT_COOKIE, &again) == 0);
	CHECK_EQ(server_work(), work);
	/* ... the client no longer uses it (older than 115 s) ... */
	struct sp_pkt c5;
	REQUIRE(start(&c5) != NULL);
	CHECK(memcmp(c5.data + MAC2_OFF, zero16, 16) == 0);
	/* ... and the new COOKIE brings a new cookie, which works. */
	sp_inject(cli, &again, sp_addr(srv));
	inj_poll(cli);
	CHECK(memcmp(cli->sec->ck.jar[0].cookie, old_cookie, 16) != 0);
	struct sp_pkt c6;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c6) == 0);
	REQUIRE(ask(&c6, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	CHECK_EQ(ok.h.status, 0);
	down();
}

/* --- floods and the rate limit -------------------------------------------------------- */

/*
 * Finding 4 (issue 10): the per-address rate limit ran before mac1 and
 * trusted the unproven source address, so CONNECTs spoofing a victim's
 * address locked the victim out. CONNECTs with a valid mac1 (the server's
 * public key is all it takes) claiming the victim's IP (any port) arrive
 * at 2,000 a second; the victim must still connect within one second of
 * trying.
 */
static void cookie__spoofed_flood_does_not_lock_out_victim(void)
{
	REQUIRE(up(0, 0) == 0); /* default load threshold and rate */
	uint8_t buf[CONNECT_LEN];
	struct tern_session *s = NULL;
	uint64_t start_ns = 0;
	for (unsigned round = 0; round < 300; round++) { /* 10 ms each */
		for (unsigned i = 0; i < 20; i++) {
			sp_forge_connect(buf, TERN_PAT_IK, sp_keys.srv_pub_raw);
			struct tern_addr from = *sp_addr(cli);
			from.port = (uint16_t)(2000 + (sp_rand() % 50000));
			sp_inject_raw(srv, buf, CONNECT_LEN, &from);
		}
		if (round == 100) {
			REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
			start_ns = tern_now_ns();
		}
		inj_poll(cli);
		sp_deliver(cli, srv); /* the victim's packets after the forged ones */
		inj_poll(srv);
		sp_deliver(srv, cli); /* answers to the forged ports are lost */
		inj_poll(cli);
		if (s != NULL && tern_session_state(s) != TERN_SS_CONNECTING)
			break;
		inj_clock_advance(10 * MS);
	}
	REQUIRE(s != NULL);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK(tern_now_ns() - start_ns <= 1000 * MS);
	CHECK(sp_stats(srv).hs_cookies_sent > 1000);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_RATELIMIT], 0);
	CHECK_EQ(sp_stats(srv).sessions_open, 1);
	down();
}

/* Only sources proven by mac2 spend their address's budget. */
static void cookie__rate_limit_counts_only_proven(void)
{
	REQUIRE(up(8, 100) == 0); /* 100 a second per address, burst 64 */
	load_up(2);
	struct sp_pkt c, k, c2;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	const uint8_t *cookie = cli->sec->ck.jar[0].cookie;
	/* 1,000 spoofed from the client's IP without mac2: cookies only. */
	uint8_t buf[CONNECT_LEN];
	for (unsigned i = 0; i < 1000; i++) {
		struct tern_addr from = *sp_addr(cli);
		from.port = (uint16_t)(6000 + i);
		sp_forge_connect(buf, TERN_PAT_IK, sp_keys.srv_pub_raw);
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
		if (i % 16 == 15) {
			inj_poll(srv);
			inj_tx_clear(inj_of(srv));
		}
	}
	inj_poll(srv);
	inj_tx_clear(inj_of(srv));
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_RATELIMIT], 0);
	/* 70 forged from the client's own address, with mac2 made from its
	 * cookie (its holder can), at one instant: 65 pass the limit (GCRA:
	 * the burst of 64 beyond the first) and fail the Noise message, 5 are
	 * dropped by it. */
	uint64_t failed = sp_stats(srv).drops[TERN_DROP_HANDSHAKE];
	for (unsigned i = 0; i < 70; i++) {
		sp_forge_connect(buf, TERN_PAT_IK, sp_keys.srv_pub_raw);
		sp_mac2_stamp(buf, cookie);
		sp_inject_raw(srv, buf, CONNECT_LEN, sp_addr(cli));
		inj_poll(srv);
		inj_tx_clear(inj_of(srv));
	}
	uint64_t limited = sp_stats(srv).drops[TERN_DROP_RATELIMIT];
	CHECK_EQ(limited, 5);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_HANDSHAKE], failed + 65);
	/* ... and the client itself waits its turn (10 ms a token). */
	sp_inject(srv, &c2, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_RATELIMIT], limited + 1);
	inj_clock_advance(10 * MS);
	struct sp_pkt ok;
	REQUIRE(ask(&c2, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	CHECK_EQ(ok.h.status, 0);
	down();
}

/* CONNECTs that do not even carry a valid mac1 count as load too: past the
 * threshold they get no answer at all (no refusal reflected to a spoofed
 * address), and an honest client still connects (through a cookie). */
static void cookie__bad_mac1_flood_gets_no_answer(void)
{
	REQUIRE(up(80, 0) == 0); /* 10 per 1/8 s window */
	uint8_t buf[CONNECT_LEN];
	unsigned answered = 0;
	for (unsigned i = 0; i < 200; i++) {
		struct tern_addr from;
		random_addr(&from);
		sp_forge_connect(buf, TERN_PAT_IK, NULL); /* mac1 random */
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
		inj_poll(srv);
		answered += inj_tx_count(inj_of(srv));
		inj_tx_clear(inj_of(srv));
	}
	CHECK(tern_cookie_under_load(srv));
	CHECK_EQ(answered, 10); /* refusals while below the threshold only */
	CHECK_EQ(sp_stats(srv).hs_refused, 10);
	CHECK_EQ(sp_stats(srv).drops[TERN_DROP_HANDSHAKE], 200);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	for (int i = 0; i < 5 && tern_session_state(s) == TERN_SS_CONNECTING; i++)
		sp_settle(cli, srv);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 1);
	down();
}

/* The load ends a second after the last window over the threshold. */
static void cookie__load_ends(void)
{
	REQUIRE(up(8, 0) == 0);
	load_up(2);
	CHECK(tern_cookie_under_load(srv));
	inj_clock_advance(999 * MS);
	CHECK(tern_cookie_under_load(srv));
	inj_clock_advance(2 * MS);
	inj_poll(srv);
	CHECK(!tern_cookie_under_load(srv));
	uint64_t sent = sp_stats(srv).hs_cookies_sent;
	struct tern_session *s;
	CHECK_EQ(sp_connect(cli, srv, &s, NULL, NULL), 0);
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, sent);
	/* One CONNECT per window is below the threshold: no load. */
	for (int i = 0; i < 20; i++) {
		inj_clock_advance(125 * MS);
		load_up(1);
	}
	CHECK(!tern_cookie_under_load(srv));
	down();
}

/* --- client: stray and forged COOKIEs ----------------------------------------------------- */

static void cookie__client_drops_forged_replies(void)
{
	REQUIRE(up(8, 0) == 0);
	load_up(2);
	struct sp_pkt c, k;
	struct tern_session *s = start(&c);
	REQUIRE(s != NULL);
	REQUIRE(ask(&c, sp_addr(cli), TERN_PKT_COOKIE, &k) == 0);
	static const struct {
		const char *name;
		unsigned off, len;
	} fields[] = {
		{"dst_session", 6, 2},     {"cid", TERN_HDR_LEN, 8},
		{"salt", TERN_HDR_LEN + 8, 16}, {"counter", TERN_HDR_LEN + 24, 8},
		{"cookie", TERN_HDR_LEN + 32, 16}, {"tag", TERN_HDR_LEN + 48, 16},
	};
	uint64_t drops = sp_drops(cli);
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		check_case = fields[f].name;
		for (int i = 0; i < 20; i++) {
			struct sp_pkt bad = k;
			sp_rand_fill(bad.data + fields[f].off, fields[f].len);
			tern_wire_seal(bad.data, bad.len);
			if (memcmp(bad.data, k.data, k.len) == 0)
				continue;
			sp_inject(cli, &bad, sp_addr(srv));
			inj_poll(cli);
			CHECK_EQ(sp_drops(cli), ++drops);
		}
	}
	check_case = "cookie__client_drops_forged_replies";
	/* From another address; every other length. */
	struct tern_addr elsewhere;
	REQUIRE(tern_addr_parse("10.0.0.1:4001", &elsewhere) == 0);
	sp_inject(cli, &k, &elsewhere);
	inj_poll(cli);
	CHECK_EQ(sp_drops(cli), ++drops);
	uint8_t buf[COOKIE_LEN + 32];
	for (size_t len = TERN_HDR_LEN; len < sizeof(buf); len++) {
		if (len == COOKIE_LEN)
			continue;
		memcpy(buf, k.data, len < COOKIE_LEN ? len : COOKIE_LEN);
		tern_wire_seal(buf, len);
		sp_inject_raw(cli, buf, len, sp_addr(srv));
		inj_poll(cli);
		CHECK_EQ(sp_drops(cli), ++drops);
	}
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 0);
	CHECK_EQ(inj_tx_count(inj_of(cli)), 0); /* no CONNECT went out for any of them */
	static const struct cookie_jar_ent empty;
	CHECK(memcmp(&cli->sec->ck.jar[0], &empty, sizeof(empty)) == 0);
	/* The real one is taken; once the session is connected, it is a stray. */
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 1);
	struct sp_pkt c2, ok;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c2) == 0);
	REQUIRE(ask(&c2, sp_addr(cli), TERN_PKT_CONNECT_OK, &ok) == 0);
	sp_inject(cli, &ok, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	drops = sp_drops(cli);
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	CHECK_EQ(sp_drops(cli), drops + 1);
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 1);
	/* A server (no handshake of its own in progress) drops any COOKIE. */
	drops = sp_drops(srv);
	sp_inject(srv, &k, sp_addr(cli));
	inj_poll(srv);
	CHECK_EQ(sp_drops(srv), drops + 1);
	CHECK_EQ(inj_tx_count(inj_of(srv)), 0);
	down();
}

/* A PSK-only server under load: the COOKIE is keyed from the PSK. */
static void cookie__psk_pattern(void)
{
	struct sp_sec ss = {.psk = sp_keys.psk, .handshake_load = 8};
	struct sp_sec cs = {.psk = sp_keys.psk, .protection = TERN_PROT_PRIVACY};
	srv = sp_ep(&ss, SP_SRV_ADDR);
	cli = sp_ep(&cs, SP_CLI_ADDR);
	REQUIRE(srv != NULL && cli != NULL);
	uint8_t buf[CONNECT_LEN];
	for (int i = 0; i < 2; i++) {
		struct tern_addr from;
		random_addr(&from);
		sp_forge_connect(buf, TERN_PAT_NNPSK0, sp_keys.psk_raw);
		sp_inject_raw(srv, buf, CONNECT_LEN, &from);
	}
	inj_poll(srv);
	inj_tx_clear(inj_of(srv));
	CHECK(tern_cookie_under_load(srv));
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	for (int i = 0; i < 5 && tern_session_state(s) == TERN_SS_CONNECTING; i++)
		sp_settle(cli, srv);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(sp_stats(srv).hs_cookies_sent, 2); /* the second forged one's, the client's */
	CHECK_EQ(sp_stats(cli).hs_cookies_rx, 1);
	down();
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(cookie__not_under_load_no_cookie);
	RUN(cookie__under_load_reply_then_mac2);
	RUN(cookie__wrong_mac2);
	RUN(cookie__for_another_address);
	RUN(cookie__expired_secret);
	RUN(cookie__spoofed_flood_does_not_lock_out_victim);
	RUN(cookie__rate_limit_counts_only_proven);
	RUN(cookie__bad_mac1_flood_gets_no_answer);
	RUN(cookie__load_ends);
	RUN(cookie__client_drops_forged_replies);
	RUN(cookie__psk_pattern);
	sp_keys_fini();
	return check_exit();
}
