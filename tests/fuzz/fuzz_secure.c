/*
 * fuzz_secure.c — libFuzzer harness on the authenticated handshake and the
 * protected receive path (lib/noise.c, lib/protect.c and what they guard).
 *
 * Each input runs against a fresh pair of endpoints on the inject driver:
 * E, under test, and P, a real peer holding the keys E trusts, with secure
 * sessions open in both roles and one held half-open (fuzz_secure_format.h).
 * A fuzzer cannot forge AEAD tags or mac1, so the harness lends it P's
 * real keys: it seals packets with fuzzer-chosen headers and payloads
 * under P's session keys, mutates P's real CONNECT, CONNECT_OK and COOKIE
 * (mac1 recomputed on request, as anyone knowing E's public key can),
 * makes up handshake bodies with the right pattern and cid, loads either
 * side with made-up CONNECTs so that cookies are asked for, and replays
 * P's real traffic. Keys turn over every 6 packets (rekey.c), so packets
 * of other epochs are part of every input. The patterns: IK, IKpsk1,
 * NNpsk0 (SX_CFG_*). Built with -DTERN_FUZZING (no header checksum on receive).
 *
 * Besides the sanitizers (leaks included), the harness traps when:
 *   - a continuation runs twice, or never ran for an accepted call once the
 *     endpoints are destroyed;
 *   - E transmits a malformed packet;
 *   - a packet changed after P sealed it, or a replay of P's protected
 *     traffic, has an effect an application sees on E (a handler, a
 *     continuation, a session event, a new session);
 *   - a handshake packet whose body was changed, or made up, opens a
 *     session on E or connects E's half-open one;
 *   - a COOKIE whose body, type or session was changed, or made up, is
 *     taken by E.
 *
 * TERN_FUZZ_TRACE=1 prints E's counters at the end of each input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_secure_format.h"
#include "inject.h"
#include "rekey.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS 1000000ull
#define E_ADDR "10.0.0.1:4000"
#define P_ADDR "10.0.0.2:5000"
#define MOVED_ADDR "10.0.0.9:5000"
#define MAX_CALLS 256
#define CONNECT_LEN (TERN_HDR_LEN + TERN_SHS_CONNECT_LEN)
#define OK_LEN (TERN_HDR_LEN + TERN_SHS_OK_LEN)
#define COOKIE_LEN (TERN_HDR_LEN + TERN_COOKIE_BODY_LEN)

/* --- key files, made once ------------------------------------------------------------ */

static char kdir[64];
static char a_key[128], a_pub[128], b_key[128], b_pub[128], psk[128], allow_a[128], allow_b[128];
static uint8_t a_pub_raw[32], b_pub_raw[32], psk_raw[32];

static void keys_remove(void)
{
	const char *files[] = {a_key, a_pub, b_key, b_pub, psk, allow_a, allow_b};
	char pub[160];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	snprintf(pub, sizeof(pub), "%s/psk.pub", kdir);
	unlink(pub);
	rmdir(kdir);
}

static int copy_line(const char *from, const char *to)
{
	char line[128];
	FILE *f = fopen(from, "r"), *t = fopen(to, "w");
	int rc = f != NULL && t != NULL && fgets(line, sizeof(line), f) != NULL &&
			 fputs(line, t) >= 0
		 ? 0
		 : -1;
	if (f != NULL)
		fclose(f);
	if (t != NULL && fclose(t) != 0)
		rc = -1;
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(kdir, sizeof(kdir), "%s/tern-fzsec-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(kdir) == NULL)
		abort();
	char base[96];
	snprintf(base, sizeof(base), "%s/a", kdir);
	int rc = tern_keygen(base);
	snprintf(base, sizeof(base), "%s/b", kdir);
	rc |= tern_keygen(base);
	snprintf(base, sizeof(base), "%s/psk", kdir);
	rc |= tern_keygen(base);
	snprintf(a_key, sizeof(a_key), "%s/a.key", kdir);
	snprintf(a_pub, sizeof(a_pub), "%s/a.pub", kdir);
	snprintf(b_key, sizeof(b_key), "%s/b.key", kdir);
	snprintf(b_pub, sizeof(b_pub), "%s/b.pub", kdir);
	snprintf(psk, sizeof(psk), "%s/psk.key", kdir);
	snprintf(allow_a, sizeof(allow_a), "%s/allow_a", kdir); /* E allows P */
	snprintf(allow_b, sizeof(allow_b), "%s/allow_b", kdir); /* P allows E */
	atexit(keys_remove);
	if (rc != 0 || copy_line(b_pub, allow_a) != 0 || copy_line(a_pub, allow_b) != 0 ||
	    tern_key_read(a_pub, a_pub_raw) != 0 || tern_key_read(b_pub, b_pub_raw) != 0 ||
	    tern_key_read(psk, psk_raw) != 0)
		abort();
	return 0;
}

/* --- the fixture -------------------------------------------------------------------------- */

struct fz_call {
	int done;
};

static struct tern_ep *E, *P;
static struct tern_addr e_addr, p_addr, moved_addr;
/* E's sessions, and P's peers of the first two */
static struct tern_session *e_srv, *e_cli, *e_conn;
static struct tern_session *p_cli, *p_srv;
static struct fz_call calls[MAX_CALLS];
static unsigned ncalls, nfresh;
static uint64_t handled, conts, events; /* what an application on E sees */
static uint8_t connect_pkt[CONNECT_LEN], pending_ok[OK_LEN], held_cookie[COOKIE_LEN];
static int have_ok, have_cookie, nn;
static uint8_t pattern; /* of the fixture's handshakes */
static struct {
	uint8_t data[SX_PKT_MAX];
	uint32_t len;
} ring[SX_RING];
static unsigned ring_next;

static void cont(const struct tern_result *res, void *ctx)
{
	struct fz_call *c = ctx;
	(void)res;
	if (++c->done > 1)
		__builtin_trap(); /* a second continuation for one call */
	conts++;
}

static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)err;
	(void)ctx;
	events++;
	/* Server-side sessions go away by themselves: forget them. */
	if (ev != TERN_SESSION_ACCEPTED && ev != TERN_SESSION_CONNECTED && s == e_srv)
		e_srv = NULL;
}

static void on_session_peer(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)err;
	(void)ctx;
	if (ev != TERN_SESSION_ACCEPTED && ev != TERN_SESSION_CONNECTED && s == p_srv)
		p_srv = NULL;
}

static void h_echo(struct tern_req *req, void *ctx)
{
	if (ctx != NULL)
		handled++;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	if (tern_req_len(req) != 0)
		memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

static void h_oneway(struct tern_req *req, void *ctx)
{
	(void)req;
	(void)ctx;
	handled++;
}

static void issue(struct tern_ep *ep, struct tern_session *s, size_t len, int oneway)
{
	if (s == NULL || ncalls == MAX_CALLS)
		return;
	struct tern_msg *m = tern_msg_alloc(ep, len);
	if (m == NULL)
		return;
	inj_fill(tern_msg_data(m), len, (uint32_t)len);
	struct fz_call *c = &calls[ncalls];
	memset(c, 0, sizeof(*c));
	int rc = oneway ? tern_send(s, 4, m, cont, c, 0) : tern_call(s, 1, m, cont, c, 0);
	if (rc == 0)
		ncalls++;
	else
		tern_msg_free(m);
}

static struct tern_ep *make(const char *bind, const char *key, const char *peer,
			    const char *allow, uint8_t cfgb)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.bind = bind;
	cfg.mtu = 256;
	cfg.slots = 4;
	cfg.credits = 8;
	cfg.max_sessions = 8;
	cfg.max_msg_size = 1u << 16;
	cfg.mem_limit = 16u << 20;
	cfg.backlog_limit = 16;
	cfg.server_queue_limit = 8;
	cfg.max_retries = 4;
	cfg.call_timeout_ns = 500 * MS;
	cfg.connect_timeout_ns = 200 * MS;
	cfg.keepalive_ns = 20 * MS;
	cfg.session_timeout_ns = 100 * MS;
	int nnc = (cfgb & SX_CFG_NN) != 0;
	cfg.key_file = nnc ? NULL : key;
	cfg.peer_key_file = nnc ? NULL : peer;
	cfg.allow_file = nnc ? NULL : allow;
	cfg.psk_file = (cfgb & (SX_CFG_PSK | SX_CFG_NN)) ? psk : NULL;
	cfg.protection = (cfgb & SX_CFG_PRIVACY) ? TERN_PROT_PRIVACY : TERN_PROT_INTEGRITY;
	cfg.handshake_load = (cfgb & SX_CFG_LOAD) ? 8 : 0;
	cfg.handshake_rate = 100000; /* the fuzzer's own CONNECTs come from P's address */
	cfg.rekey_pkts = 6;          /* keys turn over within an input: epochs are fuzzed too */
	return inj_ep_create(&cfg);
}

/* Move what from sent to to (packets for to's address only), keeping P's in the ring. */
static void move(struct tern_ep *from, struct tern_ep *to, const struct tern_addr *to_addr)
{
	struct inj *d = inj_of(from);
	const struct inj_pkt *p;
	if (from == E && inj_tx_bad(d) != 0)
		__builtin_trap(); /* E sent a malformed packet */
	while ((p = inj_pop_tx(d)) != NULL) {
		if (!tern_addr_same(&p->dst, to_addr))
			continue; /* refusals and RESETs to made-up addresses */
		inj_push_raw(inj_of(to), p->data, p->len, &from->drv->info.local, 0);
		if (from == P && p->len <= SX_PKT_MAX) {
			memcpy(ring[ring_next].data, p->data, p->len);
			ring[ring_next].len = p->len;
			ring_next = (ring_next + 1) % SX_RING;
		}
	}
}

static void pump(unsigned rounds)
{
	for (unsigned r = 0; r < rounds; r++) {
		tern_poll(E);
		move(E, P, &p_addr);
		tern_poll(P);
		move(P, E, &e_addr);
	}
	tern_poll(E);
}

/* Pop P's next packet of type into buf (its length, or 0). */
static uint32_t take(struct tern_ep *ep, uint8_t type, uint8_t *buf, uint32_t cap)
{
	const struct inj_pkt *p;
	while ((p = inj_pop_tx(inj_of(ep))) != NULL)
		if (p->len >= TERN_HDR_LEN && p->data[1] == type && p->len <= cap) {
			memcpy(buf, p->data, p->len);
			return p->len;
		}
	return 0;
}

/* P's answer to E's last CONNECT: a CONNECT_OK into pending_ok (1), or a
 * COOKIE (P under load) into held_cookie (2); 0 if neither. */
static int peer_answer(void)
{
	const struct inj_pkt *p;
	int got = 0;
	while ((p = inj_pop_tx(inj_of(P))) != NULL) {
		if (p->len == OK_LEN && p->data[1] == TERN_PKT_CONNECT_OK) {
			memcpy(pending_ok, p->data, OK_LEN);
			have_ok = 1;
			got = 1;
		} else if (p->len == COOKIE_LEN && p->data[1] == TERN_PKT_COOKIE) {
			memcpy(held_cookie, p->data, COOKIE_LEN);
			have_cookie = 1;
			got = got != 0 ? got : 2;
		}
	}
	return got;
}

static int setup(uint8_t cfgb)
{
	nn = (cfgb & SX_CFG_NN) != 0;
	pattern = nn ? TERN_PAT_NNPSK0 : (cfgb & SX_CFG_PSK) ? TERN_PAT_IKPSK1 : TERN_PAT_IK;
	E = make(E_ADDR, a_key, b_pub, allow_a, cfgb);
	P = make(P_ADDR, b_key, a_pub, allow_b, cfgb);
	if (E == NULL || P == NULL)
		return -1;
	E->cfg.on_session = on_session;
	P->cfg.on_session = on_session_peer;
	if (cfgb & SX_CFG_CHACHA)
		E->sec->cipher_pref = TERN_CIPHER_CHACHAPOLY;
	tern_addr_parse(E_ADDR, &e_addr);
	tern_addr_parse(P_ADDR, &p_addr);
	tern_addr_parse(MOVED_ADDR, &moved_addr);
	tern_handle(E, 1, h_echo, &handled, TERN_RRA);
	tern_handle(E, 3, h_echo, &handled, TERN_RR);
	tern_handle(E, 4, h_oneway, NULL, TERN_R);
	tern_handle(P, 1, h_echo, NULL, TERN_RRA);
	/* P -> E: E's server session; P's CONNECT kept for SX_CONNECT. */
	if (tern_connect(P, E_ADDR, &p_cli) != 0)
		return -1;
	tern_poll(P);
	if (take(P, TERN_PKT_CONNECT, connect_pkt, sizeof(connect_pkt)) != CONNECT_LEN)
		return -1;
	inj_push_raw(inj_of(E), connect_pkt, CONNECT_LEN, &p_addr, 0);
	pump(2);
	/* E -> P: E's client session. */
	if (tern_connect(E, P_ADDR, &e_cli) != 0)
		return -1;
	pump(2);
	if (tern_session_state(p_cli) != TERN_SS_CONNECTED ||
	    tern_session_state(e_cli) != TERN_SS_CONNECTED)
		return -1;
	e_srv = E->sessions[p_cli->peer_id];
	p_srv = P->sessions[e_cli->peer_id];
	if (e_srv->state != SESS_CONNECTED || p_srv->state != SESS_CONNECTED)
		return -1;
	/* E -> P again, P's answer held back (a loaded P answers with a
	 * COOKIE first: E takes it and sends its CONNECT again). */
	if (tern_connect(E, P_ADDR, &e_conn) != 0)
		return -1;
	for (int i = 0; i < 2 && !have_ok; i++) {
		tern_poll(E);
		move(E, P, &p_addr);
		tern_poll(P);
		if (peer_answer() == 2) {
			inj_push_raw(inj_of(E), held_cookie, COOKIE_LEN, &p_addr, 0);
			tern_poll(E);
		}
	}
	inj_tx_clear(inj_of(P));
	/* A call in flight each way. */
	issue(E, e_cli, 100, 0);
	issue(P, p_cli, 300, 0);
	tern_poll(E);
	tern_poll(P);
	return have_ok ? 0 : -1;
}

static int trace = -1;

static void finish(void)
{
	if (trace < 0)
		trace = getenv("TERN_FUZZ_TRACE") != NULL;
	if (trace > 0 && E != NULL) {
		char buf[4096];
		struct tern_stats st;
		tern_ep_stats(E, &st);
		tern_stats_format(&st, buf, sizeof(buf));
		fprintf(stderr, "%s", buf);
	}
	if (E != NULL && inj_tx_bad(inj_of(E)) != 0)
		__builtin_trap();
	tern_ep_destroy(E);
	tern_ep_destroy(P);
	E = P = NULL;
	for (unsigned i = 0; i < ncalls; i++)
		if (calls[i].done != 1)
			__builtin_trap(); /* an accepted call without its continuation */
	ncalls = nfresh = 0;
	handled = conts = events = 0;
	e_srv = e_cli = e_conn = p_cli = p_srv = NULL;
	have_ok = have_cookie = 0;
	memset(ring, 0, sizeof(ring));
	ring_next = 0;
}

/* --- oracles ------------------------------------------------------------------------------ */

struct snap {
	uint64_t handled, conts, events, accepted, connected, hs_ok;
	int conn_state;
};

static void snap(struct snap *s)
{
	for (int i = 0; i < 4 && inj_rx_pending(inj_of(E)) != 0; i++)
		tern_poll(E);
	memset(s, 0, sizeof(*s)); /* padding too: snapshots are compared with memcmp */
	s->handled = handled;
	s->conts = conts;
	s->events = events;
	s->accepted = E->st.sessions_accepted;
	s->connected = E->st.sessions_connected;
	s->hs_ok = E->st.hs_ok;
	s->conn_state = e_conn != NULL ? e_conn->state : -1;
}

/* Deliver pkt to E, alone, and trap if it had an effect an application sees. */
static void deliver_inert(const uint8_t *pkt, size_t len, const struct tern_addr *src)
{
	struct snap a, b;
	tern_poll(E);
	tern_poll(E);
	snap(&a);
	inj_push_raw(inj_of(E), pkt, len, src, 0);
	tern_poll(E);
	snap(&b);
	if (memcmp(&a, &b, sizeof(a)) != 0) {
		fprintf(stderr, "inert packet had an effect: handled %llu->%llu conts %llu->%llu "
				"events %llu->%llu accepted %llu->%llu connected %llu->%llu hs_ok "
				"%llu->%llu conn %d->%d (type %u flags %#x len %zu)\n",
			(unsigned long long)a.handled, (unsigned long long)b.handled,
			(unsigned long long)a.conts, (unsigned long long)b.conts,
			(unsigned long long)a.events, (unsigned long long)b.events,
			(unsigned long long)a.accepted, (unsigned long long)b.accepted,
			(unsigned long long)a.connected, (unsigned long long)b.connected,
			(unsigned long long)a.hs_ok, (unsigned long long)b.hs_ok, a.conn_state,
			b.conn_state, pkt[1], pkt[2], len);
		__builtin_trap(); /* a forgery or a replay got through */
	}
}

/* Deliver a handshake packet whose body is not what P made: no session may come of it. */
static void deliver_no_session(const uint8_t *pkt, size_t len, const struct tern_addr *src)
{
	struct snap a, b;
	snap(&a);
	inj_push_raw(inj_of(E), pkt, len, src, 0);
	tern_poll(E);
	snap(&b);
	if (b.accepted != a.accepted || b.hs_ok != a.hs_ok || b.connected != a.connected ||
	    (a.conn_state == SESS_CONNECTING && b.conn_state == SESS_CONNECTED))
		__builtin_trap(); /* a changed or made-up handshake opened a session */
}

/* --- records -------------------------------------------------------------------------------- */

static const uint8_t *in_p;
static size_t in_left;

static int need(size_t n)
{
	return in_left >= n;
}

static uint8_t u8(void)
{
	in_left--;
	return *in_p++;
}

static uint16_t u16(void)
{
	uint16_t v = (uint16_t)(in_p[0] | in_p[1] << 8);
	in_p += 2;
	in_left -= 2;
	return v;
}

/* Read a mutation list and apply it to pkt; 1 if the packet changed (two
 * mutations of one byte may cancel out: the bytes are compared). */
static int mutate(uint8_t *pkt, size_t len, size_t from)
{
	static uint8_t before[SX_PKT_MAX + TERN_PROT_OVERHEAD];
	if (!need(1))
		return 0;
	unsigned n = u8() % (SX_MUT_MAX + 1);
	if (len > sizeof(before))
		return 0;
	memcpy(before, pkt, len);
	for (unsigned i = 0; i < n && need(3); i++) {
		uint16_t off = u16();
		uint8_t x = u8();
		if (len <= from)
			continue;
		pkt[from + off % (len - from)] ^= x;
	}
	return memcmp(before, pkt, len) != 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	v = tern_le16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = tern_le32(v);
	memcpy(p, &v, 4);
}

/* mac1 as anyone who knows E's public key (or, NNpsk0, holds the PSK)
 * can make it. */
static void mac1_stamp(uint8_t *pkt)
{
	const size_t off = TERN_HDR_LEN + TERN_SHS_OFF_MAC1;
	uint8_t key[32], full[32];
	tern_sha256(key, "mac1----", 8, pkt[TERN_HDR_LEN] == TERN_PAT_NNPSK0 ? psk_raw : a_pub_raw,
		    32);
	tern_hmac(full, key, 32, pkt, off, NULL, 0);
	memcpy(pkt + off, full, 16);
}

static void rec_seal(uint8_t arg)
{
	static uint8_t pkt[SX_PKT_MAX + TERN_PROT_OVERHEAD];
	if (!need(2))
		return;
	size_t len = u16();
	if (len > SX_PKT_MAX)
		len = SX_PKT_MAX;
	if (len > in_left)
		len = in_left;
	const uint8_t *src = in_p;
	in_p += len;
	in_left -= len;
	if (!need(1))
		return;
	int8_t delta = (int8_t)u8();
	struct tern_session *ps = (arg & SX_T_CLIENT) ? p_srv : p_cli;
	if (len < TERN_HDR_LEN || ps == NULL || ps->state != SESS_CONNECTED || ps->tx_aead == NULL)
		return;
	/* header | counter | payload | tag, as P's tern_seal() makes it */
	size_t body = len - TERN_HDR_LEN, total = TERN_HDR_LEN + TERN_PROT_OVERHEAD + body;
	memcpy(pkt, src, TERN_HDR_LEN);
	put16(pkt + 6, ps->peer_id);
	put16(pkt + 8, ps->id);
	put32(pkt + 12, ps->peer_token);
	if (!(arg & SX_KEEP_FLAGS))
		pkt[2] |= TERN_WF_PROTECTED;
	tern_wire_seal(pkt, TERN_HDR_LEN);
	uint64_t ctr = (uint64_t)((int64_t)ps->tx_ctr + delta);
	if ((int64_t)ps->tx_ctr + delta < 0)
		ctr = 0;
	if (ctr >= ps->tx_ctr)
		ps->tx_ctr = ctr + 1; /* P never reuses it for its own packets */
	uint64_t le = tern_le64(ctr | (uint64_t)ps->tx_epoch << TERN_EPOCH_SHIFT);
	memcpy(pkt + TERN_HDR_LEN, &le, 8);
	uint8_t *pl = pkt + TERN_HDR_LEN + TERN_PROT_CTR_LEN, *tag = pl + body;
	int rc;
	if (ps->prot == TERN_PROT_INTEGRITY || body == 0)
		rc = tern_aead_seal(ps->tx_aead, ctr, pkt, TERN_HDR_LEN + TERN_PROT_CTR_LEN,
				    src + TERN_HDR_LEN, body, NULL, 0, NULL, tag);
	else
		rc = tern_aead_seal(ps->tx_aead, ctr, pkt, TERN_HDR_LEN + TERN_PROT_CTR_LEN, NULL, 0,
				    src + TERN_HDR_LEN, body, pl, tag);
	if (rc != 0)
		return;
	if (ps->prot == TERN_PROT_INTEGRITY && body != 0)
		memcpy(pl, src + TERN_HDR_LEN, body);
	if (arg & SX_TAMPER) {
		if (mutate(pkt, total, 0))
			deliver_inert(pkt, total, &p_addr);
		return;
	}
	inj_push_raw(inj_of(E), pkt, total, &p_addr, 0);
	if (inj_rx_pending(inj_of(E)) >= TERN_RX_BURST)
		tern_poll(E);
}

static void rec_connect(uint8_t arg)
{
	uint8_t pkt[CONNECT_LEN], orig[CONNECT_LEN];
	memcpy(orig, connect_pkt, CONNECT_LEN);
	if ((arg & SX_FRESH) && nfresh < 3) {
		struct tern_session *s;
		if (tern_connect(P, E_ADDR, &s) == 0) {
			nfresh++;
			tern_poll(P);
			if (take(P, TERN_PKT_CONNECT, orig, sizeof(orig)) != CONNECT_LEN)
				memcpy(orig, connect_pkt, CONNECT_LEN);
		}
	}
	memcpy(pkt, orig, CONNECT_LEN);
	mutate(pkt, CONNECT_LEN, 0);
	if (arg & SX_MAC1)
		mac1_stamp(pkt);
	const struct tern_addr *src = (arg & SX_MOVED) ? &moved_addr : &p_addr;
	/* mac1 and mac2 aside (a changed header changes mac1; mac2 is only
	 * asked for under load): the header fields a secure CONNECT ignores
	 * (token, req_num, ...) are not what this is about. */
	if (memcmp(pkt + TERN_HDR_LEN, orig + TERN_HDR_LEN, TERN_SHS_OFF_MAC1) != 0)
		deliver_no_session(pkt, CONNECT_LEN, src);
	else
		inj_push_raw(inj_of(E), pkt, CONNECT_LEN, src, 0);
}

static void rec_connect_body(uint8_t arg)
{
	uint8_t pkt[CONNECT_LEN];
	if (!need(2 + TERN_SHS_CONNECT_LEN))
		return;
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = u16();
	tern_wire_put(pkt, &h);
	memcpy(pkt + TERN_HDR_LEN, in_p, TERN_SHS_CONNECT_LEN);
	in_p += TERN_SHS_CONNECT_LEN;
	in_left -= TERN_SHS_CONNECT_LEN;
	tern_wire_seal(pkt, CONNECT_LEN);
	if (arg & SX_MAC1)
		mac1_stamp(pkt);
	deliver_no_session(pkt, CONNECT_LEN, (arg & SX_MOVED) ? &moved_addr : &p_addr);
}

/* A COOKIE for E: changed (or made up) it must not be taken. */
static void deliver_cookie(const uint8_t *pkt, int changed)
{
	uint64_t taken = E->st.hs_cookies_rx;
	inj_push_raw(inj_of(E), pkt, COOKIE_LEN, &p_addr, 0);
	tern_poll(E);
	if (changed && E->st.hs_cookies_rx != taken)
		__builtin_trap(); /* a forged cookie was believed */
}

static void rec_held_cookie(void)
{
	uint8_t pkt[COOKIE_LEN];
	memcpy(pkt, held_cookie, COOKIE_LEN);
	int changed = mutate(pkt, COOKIE_LEN, 0);
	if (!have_cookie)
		return;
	/* what E checks: type, dst_session, the body */
	changed = changed && (pkt[1] != held_cookie[1] || memcmp(pkt + 6, held_cookie + 6, 2) != 0 ||
			      memcmp(pkt + TERN_HDR_LEN, held_cookie + TERN_HDR_LEN,
				     TERN_COOKIE_BODY_LEN) != 0);
	deliver_cookie(pkt, changed);
}

static void rec_ok(void)
{
	uint8_t pkt[OK_LEN];
	memcpy(pkt, pending_ok, OK_LEN);
	int changed = mutate(pkt, OK_LEN, 0);
	if (changed && memcmp(pkt + TERN_HDR_LEN, pending_ok + TERN_HDR_LEN, TERN_SHS_OK_LEN) != 0)
		deliver_no_session(pkt, OK_LEN, &p_addr);
	else
		inj_push_raw(inj_of(E), pkt, OK_LEN, &p_addr, 0);
}

static void rec_cookie_body(void)
{
	uint8_t pkt[COOKIE_LEN];
	if (!need(TERN_COOKIE_BODY_LEN))
		return;
	memcpy(pkt + TERN_HDR_LEN, in_p, TERN_COOKIE_BODY_LEN);
	in_p += TERN_COOKIE_BODY_LEN;
	in_left -= TERN_COOKIE_BODY_LEN;
	if (e_conn == NULL || e_conn->state != SESS_CONNECTING || e_conn->hs == NULL)
		return;
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_COOKIE;
	h.flags = TERN_WF_SECURE;
	h.dst_session = e_conn->id;
	h.src_session = TERN_SESSION_NONE;
	tern_wire_put(pkt, &h);
	uint64_t cid = tern_le64(e_conn->hs->cid);
	memcpy(pkt + TERN_HDR_LEN, &cid, 8);
	tern_wire_seal(pkt, COOKIE_LEN);
	deliver_cookie(pkt, 1);
}

/* v % 16 + 1 made-up CONNECTs with a valid mac1, from made-up addresses,
 * into ep: at a low load threshold, ep is under load after them. */
static void load(struct tern_ep *ep, uint8_t v)
{
	uint8_t pkt[CONNECT_LEN];
	uint32_t x = 0x9e3779b9u * (v + 1u);
	for (unsigned i = 0; i <= v % 16u; i++) {
		struct tern_hdr h;
		memset(&h, 0, sizeof(h));
		h.type = TERN_PKT_CONNECT;
		h.flags = TERN_WF_SECURE;
		h.dst_session = TERN_SESSION_NONE;
		h.src_session = (uint16_t)i;
		tern_wire_put(pkt, &h);
		for (unsigned j = 0; j < TERN_SHS_CONNECT_LEN; j++) {
			x = x * 1103515245u + 12345u;
			pkt[TERN_HDR_LEN + j] = (uint8_t)(x >> 16);
		}
		memset(pkt + TERN_HDR_LEN, 0, 8);
		pkt[TERN_HDR_LEN] = pattern;
		if (nn)
			memset(pkt + TERN_HDR_LEN + TERN_SHS_OFF_MSG + TERN_SHS_MSG1_NN, 0,
			       TERN_SHS_MSG1_LEN - TERN_SHS_MSG1_NN);
		memset(pkt + TERN_HDR_LEN + TERN_SHS_OFF_MAC2, 0, 16);
		tern_wire_seal(pkt, CONNECT_LEN);
		if (ep == E) {
			mac1_stamp(pkt);
			struct tern_addr from = moved_addr;
			from.port = (uint16_t)(1000 + i + (v << 4));
			deliver_no_session(pkt, CONNECT_LEN, &from);
		} else { /* keyed for P: its public key is b's */
			const size_t off = TERN_HDR_LEN + TERN_SHS_OFF_MAC1;
			uint8_t key[32], full[32];
			tern_sha256(key, "mac1----", 8, nn ? psk_raw : b_pub_raw, 32);
			tern_hmac(full, key, 32, pkt, off, NULL, 0);
			memcpy(pkt + off, full, 16);
			inj_push_raw(inj_of(P), pkt, CONNECT_LEN, &moved_addr, 0);
		}
	}
	if (ep == P) {
		tern_poll(P);
		inj_tx_clear(inj_of(P));
	}
}

static void rec_ok_body(uint8_t arg)
{
	uint8_t pkt[OK_LEN];
	if (arg & SX_AS_COOKIE) {
		rec_cookie_body();
		return;
	}
	if (!need(1 + TERN_SHS_OK_LEN))
		return;
	uint8_t status = u8();
	memcpy(pkt + TERN_HDR_LEN, in_p, TERN_SHS_OK_LEN);
	in_p += TERN_SHS_OK_LEN;
	in_left -= TERN_SHS_OK_LEN;
	if (e_conn == NULL || e_conn->state != SESS_CONNECTING || e_conn->hs == NULL)
		return;
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.flags = TERN_WF_SECURE;
	h.status = status;
	h.dst_session = e_conn->id;
	h.src_session = 1;
	h.token = e_conn->token;
	tern_wire_put(pkt, &h);
	pkt[TERN_HDR_LEN] = e_conn->hs->pattern;
	uint64_t cid = tern_le64(e_conn->hs->cid);
	memcpy(pkt + TERN_HDR_LEN + 8, &cid, 8);
	tern_wire_seal(pkt, OK_LEN);
	if (status != 0)
		inj_push_raw(inj_of(E), pkt, OK_LEN, &p_addr, 0); /* a refusal: believed, by design */
	else
		deliver_no_session(pkt, OK_LEN, &p_addr);
}

static void rec_replay(uint8_t arg)
{
	uint8_t pkt[SX_PKT_MAX];
	unsigned i = arg % SX_RING;
	uint32_t len = ring[i].len;
	if (len == 0)
		return;
	memcpy(pkt, ring[i].data, len);
	mutate(pkt, len, 0);
	/* P's protected packets were all delivered once already: a second
	 * time, changed or not, they must do nothing. (Handshake packets may
	 * have been dropped the first time, by the rate limit: not those.) */
	if (len >= TERN_HDR_LEN && (ring[i].data[2] & TERN_WF_PROTECTED))
		deliver_inert(pkt, len, &p_addr);
	else
		inj_push_raw(inj_of(E), pkt, len, &p_addr, 0);
}

static void rec_ctl(uint8_t action)
{
	if (!need(1))
		return;
	uint8_t v = u8();
	switch (action) {
	case SX_A_TIME:
		inj_clock_advance(((uint64_t)v + 1) * 250000ull);
		tern_poll(E);
		tern_poll(P);
		break;
	case SX_A_CALL:
		issue(E, e_cli, (size_t)v * 8, 0);
		break;
	case SX_A_CALL_SERVER:
		issue(E, e_srv != NULL && e_srv->state == SESS_CONNECTED ? e_srv : NULL, (size_t)v * 8, 0);
		break;
	case SX_A_PEER_CALL:
		issue(P, p_cli, (size_t)v * 8, 0);
		break;
	case SX_A_CLOSE_CLIENT:
		if (e_cli != NULL) {
			tern_session_close(e_cli);
			e_cli = NULL;
		}
		break;
	case SX_A_CLOSE_SERVER:
		if (e_srv != NULL && e_srv->state == SESS_CONNECTED) {
			struct tern_session *s = e_srv;
			e_srv = NULL;
			tern_session_close(s);
		}
		break;
	case SX_A_PEER_CLOSE:
		if (p_cli != NULL) {
			tern_session_close(p_cli);
			p_cli = NULL;
		}
		break;
	case SX_A_RECONNECT:
		if (e_conn == NULL || e_conn->state != SESS_CONNECTING) {
			struct tern_session *s;
			if (tern_connect(E, P_ADDR, &s) != 0)
				break;
			e_conn = s;
			tern_poll(E);
			move(E, P, &p_addr);
			tern_poll(P);
			peer_answer(); /* held: a CONNECT_OK or a COOKIE */
		}
		break;
	case SX_A_SEND:
		issue(E, e_cli, (size_t)v * 8, 1);
		break;
	case SX_A_LOAD:
		load(E, v);
		break;
	case SX_A_PEER_LOAD:
		load(P, v);
		break;
	default:
		tern_poll(E);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (setup(data[0]) != 0)
		__builtin_trap(); /* the fixture itself must work */
	in_p = data + 1;
	in_left = size - 1;
	while (in_left > 0) {
		uint8_t op = u8();
		switch (SX_KIND(op)) {
		case SX_SEAL: rec_seal(op & 0x1f); break;
		case SX_CONNECT: rec_connect(op & 0x1f); break;
		case SX_CONNECT_BODY: rec_connect_body(op & 0x1f); break;
		case SX_OK:
			if (op & SX_HELD_COOKIE)
				rec_held_cookie();
			else
				rec_ok();
			break;
		case SX_OK_BODY: rec_ok_body(op & 0x1f); break;
		case SX_PUMP: pump((op & 0x1fu) + 1); break;
		case SX_REPLAY: rec_replay(op & 0x1f); break;
		default: rec_ctl(op & 0x1f); break;
		}
		if (inj_tx_count(inj_of(E)) > 256) {
			if (inj_tx_bad(inj_of(E)) != 0)
				__builtin_trap();
			inj_tx_clear(inj_of(E));
		}
		if (inj_tx_count(inj_of(P)) > 256)
			inj_tx_clear(inj_of(P));
	}
	pump(4);
	finish();
	return 0;
}
