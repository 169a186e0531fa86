/*
 * cookie.c — the handshake's defence against floods, after WireGuard
 * (whitepaper section 5.4.7): mac2, the cookie reply, the load meter and
 * the per-address rate limit of a server, and the cookies of a client.
 *
 * mac1 (checked by noise.c before anything else) proves only that the
 * sender knows the server's public key, which is no secret; nor is the
 * source address of a datagram. So while the server is under load — more
 * than load_per_s well-formed secure CONNECTs in a second (valid mac1 or
 * not), measured over 1/8 s windows, and for one second after — a CONNECT
 * must also carry a valid mac2, a MAC keyed by a cookie only the holder of
 * its source address can know; one without gets a COOKIE reply instead of
 * any Diffie-Hellman work (and one with a wrong mac1, no answer at all):
 *
 *   cookie = MAC(secret, source IP and port)     secret: random, new every 120 s
 *   reply  = cid | salt | counter | AEAD(HMAC(SHA256("cookie--" || server
 *            public key (or PSK)), salt), counter, cookie, ad = the CONNECT's mac1)
 *
 * The reply goes to the claimed source (no larger than the CONNECT: no
 * amplification); the client there decrypts it, keeps the cookie for 115 s
 * (per server address) and sends its CONNECT again with mac2 =
 * MAC(cookie, packet up to mac2). A spoofed flood thus costs the server two
 * MACs and a small seal per packet, and gets nothing but cookie replies
 * sent to the addresses it claimed. Only CONNECTs whose source address
 * mac2 proves count against the per-address rate limit (GCRA per IP): a
 * spoofer cannot spend a victim's budget. Not under load, no mac2 is asked
 * for and no limit applies (the load meter is the bound).
 *
 * The cookie-reply AEAD is ChaCha20-Poly1305 under a key derived from a
 * salt drawn with each secret, its 64-bit nonce a counter: (key, nonce)
 * never repeats (WireGuard uses XChaCha20-Poly1305 with a random nonce,
 * which crypto.h does not offer). MAC is HMAC-SHA256 cut to 16 bytes.
 */
#include <string.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "session.h"
#include "tx.h"

#define SEC               1000000000ull
#define SECRET_LIFE_NS    (120 * SEC)
#define JAR_LIFE_NS       (115 * SEC) /* a client's cookie, short of the secret's life */
#define LOAD_WINDOW_NS    (SEC / 8)
#define LOAD_HOLD_NS      SEC
#define LOAD_DEFAULT      1000u /* handshakes per second */
#define RATE_DEFAULT      200u  /* per proven address, per second */
#define RATE_BURST        64u

void tern_mac(uint8_t out[TERN_MAC_LEN], const uint8_t *key, size_t klen, const void *d, size_t n)
{
	uint8_t full[32];
	tern_hmac(full, key, klen, d, n, NULL, 0);
	memcpy(out, full, TERN_MAC_LEN);
	tern_wipe(full, sizeof(full));
}

int tern_cookie_init(struct tern_ep *ep, const struct tern_ep_config *cfg)
{
	struct tern_cookie *ck = &ep->sec->ck;
	ck->load_per_s = cfg->handshake_load != 0 ? cfg->handshake_load : LOAD_DEFAULT;
	uint32_t rate = cfg->handshake_rate != 0 ? cfg->handshake_rate : RATE_DEFAULT;
	ck->rate_interval_ns = SEC / rate;
	ck->rate_burst = RATE_BURST;
	return 0;
}

void tern_cookie_fini(struct tern_sec *sec)
{
	struct tern_cookie *ck = &sec->ck;
	tern_aead_free(ck->enc[0]);
	tern_aead_free(ck->enc[1]);
	ck->enc[0] = ck->enc[1] = NULL;
	tern_wipe(ck, sizeof(*ck));
}

/* --- server: load, secret, rate ------------------------------------------------ */

int tern_cookie_under_load(const struct tern_ep *ep)
{
	return ep->sec != NULL && ep->now < ep->sec->ck.load_until;
}

/* Count one secure CONNECT (noise.c, before mac1). */
void tern_cookie_load(struct tern_ep *ep)
{
	struct tern_cookie *ck = &ep->sec->ck;
	if (ep->now - ck->win_start >= LOAD_WINDOW_NS) {
		ck->win_start = ep->now;
		ck->win_count = 0;
	}
	if (++ck->win_count > (ck->load_per_s + 7) / 8)
		ck->load_until = ep->now + LOAD_HOLD_NS;
}

/* A fresh secret (and the reply keys of its salt) when the last is too old. */
static int secret_fresh(struct tern_ep *ep)
{
	struct tern_sec *sec = ep->sec;
	struct tern_cookie *ck = &sec->ck;
	if (ck->secret_set && ep->now - ck->secret_at < SECRET_LIFE_NS)
		return 0;
	ck->secret_set = 0;
	int rc;
	if ((rc = tern_random(ck->secret, sizeof(ck->secret))) != 0 ||
	    (rc = tern_random(ck->salt, sizeof(ck->salt))) != 0)
		return rc;
	for (int i = 0; i < 2; i++) {
		tern_aead_free(ck->enc[i]);
		ck->enc[i] = NULL;
		if (i == 0 ? !sec->serve_static : !sec->have_psk)
			continue;
		uint8_t k[32];
		tern_hmac(k, sec->cookie_key[i == 0 ? TERN_K_OWN : TERN_K_PSK], 32, ck->salt,
			  sizeof(ck->salt), NULL, 0);
		rc = tern_aead_new(&ck->enc[i], TERN_CIPHER_CHACHAPOLY, k, 1);
		tern_wipe(k, sizeof(k));
		if (rc != 0)
			return rc;
	}
	ck->ctr = 0;
	ck->secret_at = ep->now;
	ck->secret_set = 1;
	return 0;
}

/* The cookie of a source address under the current secret. */
static void cookie_of(const struct tern_cookie *ck, const struct tern_addr *a, uint8_t out[16])
{
	uint8_t m[18];
	memcpy(m, a->ip, 16);
	m[16] = (uint8_t)a->port;
	m[17] = (uint8_t)(a->port >> 8);
	tern_mac(out, ck->secret, sizeof(ck->secret), m, sizeof(m));
}

/* GCRA per IP over a fixed table (a flood costs no memory). */
static int rate_ok(struct tern_ep *ep, const struct tern_addr *a)
{
	struct tern_cookie *ck = &ep->sec->ck;
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ a->ip[i]) * 1099511628211ull;
	struct rate_entry *e = &ck->rate[h & (TERN_RATE_ENTRIES - 1)];
	uint64_t now = ep->now, interval = ck->rate_interval_ns;
	if (memcmp(e->ip, a->ip, 16) != 0) {
		memcpy(e->ip, a->ip, 16);
		e->tat = now;
	}
	uint64_t tat = e->tat > now ? e->tat : now;
	if (tat - now > interval * ck->rate_burst)
		return 0;
	e->tat = tat + interval;
	return 1;
}

static void put64(uint8_t *p, uint64_t v)
{
	v = tern_le64(v);
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return tern_le64(v);
}

static void send_cookie(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *rq,
			unsigned pattern)
{
	struct tern_cookie *ck = &ep->sec->ck;
	struct tern_aead *enc = ck->enc[pattern == TERN_PAT_NNPSK0];
	const uint8_t *cb = (const uint8_t *)rx->data + TERN_HDR_LEN;
	uint8_t pkt[TERN_HDR_LEN + TERN_COOKIE_BODY_LEN], *b = pkt + TERN_HDR_LEN, cookie[16];
	struct tern_hdr h;
	if (enc == NULL || ck->ctr == UINT64_MAX) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_COOKIE;
	h.flags = TERN_WF_SECURE;
	h.dst_session = rq->src_session;
	h.src_session = TERN_SESSION_NONE;
	tern_wire_put(pkt, &h);
	memcpy(b, cb + 8, 8); /* cid */
	memcpy(b + 8, ck->salt, 16);
	put64(b + 24, ck->ctr);
	cookie_of(ck, &rx->src, cookie);
	int rc = tern_aead_seal(enc, ck->ctr, cb + TERN_SHS_OFF_MAC1, TERN_MAC_LEN, NULL, 0, cookie,
				16, b + 32, b + 48);
	tern_wipe(cookie, sizeof(cookie));
	if (rc != 0) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	ck->ctr++;
	tern_wire_seal(pkt, sizeof(pkt));
	tern_tx_raw(ep, &rx->src, pkt, sizeof(pkt));
	ep->st.hs_cookies_sent++;
}

/*
 * The gate between a CONNECT whose mac1 is right (and that is no
 * retransmission) and the Diffie-Hellman work: 0 to go on; -1 when it was
 * answered with a cookie reply, or dropped over its address's rate (counted).
 */
int tern_cookie_gate(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
		     unsigned pattern)
{
	struct tern_cookie *ck = &ep->sec->ck;
	if (!tern_cookie_under_load(ep))
		return 0;
	if (secret_fresh(ep) != 0) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return -1;
	}
	const uint8_t *pkt = rx->data, *mac2 = pkt + TERN_HDR_LEN + TERN_SHS_OFF_MAC2;
	static const uint8_t zero[TERN_MAC_LEN];
	int proven = 0;
	if (memcmp(mac2, zero, TERN_MAC_LEN) != 0) {
		uint8_t cookie[16], m[TERN_MAC_LEN];
		cookie_of(ck, &rx->src, cookie);
		tern_mac(m, cookie, sizeof(cookie), pkt, TERN_HDR_LEN + TERN_SHS_OFF_MAC2);
		proven = CRYPTO_memcmp(m, mac2, TERN_MAC_LEN) == 0;
		tern_wipe(cookie, sizeof(cookie));
	}
	if (!proven) {
		send_cookie(ep, rx, h, pattern);
		return -1;
	}
	if (!rate_ok(ep, &rx->src)) {
		tern_rx_drop(ep, TERN_DROP_RATELIMIT);
		return -1;
	}
	return 0;
}

/* --- client ----------------------------------------------------------------------- */

static struct cookie_jar_ent *jar_find(struct tern_cookie *ck, const struct tern_addr *a)
{
	for (unsigned i = 0; i < TERN_JAR; i++)
		if (ck->jar[i].at != 0 && tern_addr_eq(&ck->jar[i].addr, a))
			return &ck->jar[i];
	return NULL;
}

/* mac2 of a CONNECT to `to`: with a cookie from there younger than its
 * life, else zero. pkt is the whole CONNECT, mac1 written. */
void tern_cookie_mac2(struct tern_ep *ep, const struct tern_addr *to, uint8_t *pkt)
{
	struct tern_cookie *ck = &ep->sec->ck;
	uint8_t *mac2 = pkt + TERN_HDR_LEN + TERN_SHS_OFF_MAC2;
	struct cookie_jar_ent *j = jar_find(ck, to);
	if (j != NULL && ep->now - j->at < JAR_LIFE_NS)
		tern_mac(mac2, j->cookie, sizeof(j->cookie), pkt, TERN_HDR_LEN + TERN_SHS_OFF_MAC2);
	else
		memset(mac2, 0, TERN_MAC_LEN);
}

/* A COOKIE for a secure CONNECT of ours (rx.c: every COOKIE comes here). */
void tern_on_cookie(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	struct tern_sec *sec = ep->sec;
	const uint8_t *b = (const uint8_t *)rx->data + TERN_HDR_LEN;
	if (sec == NULL || h->dst_session >= ep->cfg.max_sessions) {
		tern_rx_drop(ep, TERN_DROP_SESSION);
		return;
	}
	struct tern_session *s = ep->sessions[h->dst_session];
	struct hs_client *c = s != NULL ? s->hs : NULL;
	if (c == NULL || s->state != SESS_CONNECTING || get64(b) != c->cid ||
	    !tern_addr_same(&rx->src, &s->peer)) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	uint8_t k[32], cookie[16];
	struct tern_aead *a = NULL;
	tern_hmac(k, sec->cookie_key[c->pattern == TERN_PAT_NNPSK0 ? TERN_K_PSK : TERN_K_PEER], 32,
		  b + 8, 16, NULL, 0);
	int rc = tern_aead_new(&a, TERN_CIPHER_CHACHAPOLY, k, 0);
	if (rc == 0)
		rc = tern_aead_open(a, get64(b + 24), c->pkt + TERN_HDR_LEN + TERN_SHS_OFF_MAC1,
				    TERN_MAC_LEN, b + 32, 16, cookie, b + 48);
	tern_aead_free(a);
	tern_wipe(k, sizeof(k));
	if (rc != 0) {
		tern_wipe(cookie, sizeof(cookie));
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	/* Keep it for this server (its own entry, or the oldest). */
	struct tern_cookie *ck = &sec->ck;
	struct cookie_jar_ent *j = jar_find(ck, &s->peer);
	if (j == NULL) {
		j = &ck->jar[0]; /* an empty entry has at == 0: the oldest */
		for (unsigned i = 1; i < TERN_JAR; i++)
			if (ck->jar[i].at < j->at)
				j = &ck->jar[i];
	}
	j->addr = s->peer;
	memcpy(j->cookie, cookie, sizeof(cookie));
	j->at = ep->now != 0 ? ep->now : 1;
	tern_wipe(cookie, sizeof(cookie));
	ep->st.hs_cookies_rx++;
	/* The same CONNECT with mac2, at once (once per attempt: a replayed
	 * cookie reply makes no storm); later retransmissions carry it too. */
	tern_cookie_mac2(ep, &s->peer, c->pkt);
	if (!c->cookied) {
		c->cookied = 1;
		tern_connect_resend(s);
	}
}
