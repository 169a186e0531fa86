/*
 * noise.c — tern's authenticated handshake: CONNECT / CONNECT_OK with the
 * TERN_WF_SECURE flag carry the two messages of a Noise handshake
 * (noise_hs.c), whose payloads carry tern's session parameters (both
 * epochs, session ids, tokens, slots, credits, MTU) plus the protection
 * level and cipher, so the keys derived at the end (one per direction) are
 * bound to all of them. This file owns the packet layout (wire.h), which
 * pattern a client runs, and the server's acceptance rules; peers.c keeps
 * the client keys and replay memory, cookie.c the flood defences.
 *
 * Patterns (the protocol names of Noise revision 34):
 *   client pins the server key (--peer-key)        IK       -> e, es, s, ss   <- e, ee, se
 *   ... and holds a PSK too                         IKpsk1   -> e, es, s, ss, psk  <- e, ee, se
 *   client holds a PSK only                         NNpsk0   -> psk, e   <- e, ee
 * A client that pins the server key and has no key of its own makes up an
 * anonymous static key. IKpsk1 rather than WireGuard's IKpsk2: tern's
 * handshake has no third message, and the server accepts (allocates the
 * session, maybe at level none, where no transport key is ever used) on
 * message 1, so the PSK must authenticate message 1.
 *
 * Acceptance (server): a factor the server has configured is required of
 * every client; nothing replaces one.
 *   - an allow-list: the client proves a listed static key (IK, IKpsk1);
 *   - a PSK: the client proves it (IKpsk1, NNpsk0); with a key pair and
 *     no allow-list, a PSK-only client (NNpsk0) is accepted;
 *   - a key pair alone: any static key (IK), anonymous ones included;
 *   - the minimum level: the level asked is at least it (privacy at most);
 *   - a plain (unauthenticated) CONNECT only with none of the above.
 * Refusals carry EACCES (EPROTO: no common cipher; ECONNREFUSED: no free
 * session) and no authentication: a client matches them by cid.
 *
 * Order of the server's checks on a secure CONNECT, cheapest first: the
 * pattern byte and padding (then it counts as load); whether the server
 * serves that pattern; mac1;
 * a retransmission of a CONNECT already answered (the cached CONNECT_OK,
 * no Diffie-Hellman); the cookie gate under load (cookie.c); then the
 * Noise message (es; the allow-list lookup of the client's static key
 * before any DH with it, its ss precomputed per key); the replay rules
 * (peers.c); the level and cipher. A session is allocated only after all
 * of that, so a forged CONNECT costs no state. Every secret is wiped on
 * every path.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "rekey.h"
#include "session.h"
#include "tx.h"

#define PROLOGUE     "tern handshake 1"
#define PROLOGUE_LEN 16u

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static enum noise_pattern noise_of(unsigned pattern)
{
	return pattern == TERN_PAT_IK ? NOISE_IK : pattern == TERN_PAT_IKPSK1 ? NOISE_IKPSK1
										: NOISE_NNPSK0;
}

static int known(unsigned pattern)
{
	return pattern == TERN_PAT_IK || pattern == TERN_PAT_IKPSK1 || pattern == TERN_PAT_NNPSK0;
}

/* The Noise prologue: a label and the attempt's cid (echoed in clear). */
static void prologue(uint8_t p[PROLOGUE_LEN + 8], uint64_t cid)
{
	memcpy(p, PROLOGUE, PROLOGUE_LEN);
	put64(p + PROLOGUE_LEN, cid);
}

/* Handshake payload: struct tern_wire_hs then struct tern_wire_sx. */
static void payload_put(uint8_t *pt, const struct tern_wire_hs *hs, const struct tern_wire_sx *sx)
{
	tern_wire_hs_put(pt, hs);
	uint8_t *x = pt + TERN_HS_LEN;
	memset(x, 0, TERN_SX_LEN);
	put64(x, sx->timestamp);
	x[8] = sx->protection;
	x[9] = sx->cipher;
	x[10] = (uint8_t)sx->session;
	x[11] = (uint8_t)(sx->session >> 8);
}

/* 0, or -1 if the reserved bytes are not zero. */
static int payload_get(const uint8_t *pt, struct tern_wire_hs *hs, struct tern_wire_sx *sx)
{
	const uint8_t *x = pt + TERN_HS_LEN;
	tern_wire_hs_get(pt, hs);
	memset(sx, 0, sizeof(*sx));
	sx->timestamp = get64(x);
	sx->protection = x[8];
	sx->cipher = x[9];
	sx->session = (uint16_t)(x[10] | x[11] << 8);
	return (x[12] | x[13] | x[14] | x[15]) == 0 ? 0 : -1;
}

/* The mac1 of a CONNECT (pkt: header and body), keyed for its pattern. */
static void mac1(const struct tern_sec *sec, int server, unsigned pattern, const uint8_t *pkt,
		 uint8_t out[TERN_MAC_LEN])
{
	int k = pattern == TERN_PAT_NNPSK0 ? TERN_K_PSK : server ? TERN_K_OWN : TERN_K_PEER;
	tern_mac(out, sec->mac1_key[k], 32, pkt, TERN_HDR_LEN + TERN_SHS_OFF_MAC1);
}

/* --- configuration -------------------------------------------------------------- */

static void derive(uint8_t mac1_key[32], uint8_t cookie_key[32], const uint8_t k[32])
{
	tern_sha256(mac1_key, "mac1----", 8, k, 32);
	tern_sha256(cookie_key, "cookie--", 8, k, 32);
}

int tern_sec_init(struct tern_ep *ep, const struct tern_ep_config *cfg)
{
	int rc;
	if (cfg->key_file == NULL && cfg->peer_key_file == NULL && cfg->allow_file == NULL &&
	    cfg->psk_file == NULL && cfg->protection == TERN_PROT_NONE)
		return 0; /* no security: plain handshakes only */
	if (cfg->protection > TERN_PROT_PRIVACY)
		return -EINVAL;
	struct tern_sec *sec = calloc(1, sizeof(*sec));
	if (sec == NULL)
		return -ENOMEM;
	ep->sec = sec;
	sec->protection = cfg->protection;
	sec->ciphers = TERN_CIPHER_AES256GCM | TERN_CIPHER_CHACHAPOLY;
	sec->cipher_pref = tern_cipher_local();
	if (cfg->rekey_pkts > (1ull << 40)) {
		tern_log(ep, TERN_LOG_ERR, "rekey_pkts %llu is over 2^40",
			 (unsigned long long)cfg->rekey_pkts);
		return -EINVAL;
	}
	sec->rekey_ns = cfg->rekey_ns != 0 ? cfg->rekey_ns : TERN_REKEY_NS_DEFAULT;
	sec->rekey_pkts = cfg->rekey_pkts != 0 ? cfg->rekey_pkts : TERN_REKEY_PKTS_DEFAULT;
	if (cfg->key_file != NULL) {
		uint8_t priv[32];
		if ((rc = tern_key_read(cfg->key_file, priv)) == 0)
			rc = tern_x25519_key_new(&sec->s_key, priv, sec->s_pub);
		tern_wipe(priv, sizeof(priv));
		if (rc != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read private key %s", cfg->key_file);
			return rc < 0 ? rc : -EINVAL;
		}
		sec->have_static = sec->serve_static = 1;
		derive(sec->mac1_key[TERN_K_OWN], sec->cookie_key[TERN_K_OWN], sec->s_pub);
	}
	if (cfg->peer_key_file != NULL) {
		if ((rc = tern_key_read(cfg->peer_key_file, sec->peer_pub)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read peer key %s", cfg->peer_key_file);
			return rc;
		}
		sec->have_peer = 1;
		derive(sec->mac1_key[TERN_K_PEER], sec->cookie_key[TERN_K_PEER], sec->peer_pub);
	}
	if (cfg->psk_file != NULL) {
		if ((rc = tern_key_read(cfg->psk_file, sec->psk)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read pre-shared key %s", cfg->psk_file);
			return rc;
		}
		sec->have_psk = 1;
		derive(sec->mac1_key[TERN_K_PSK], sec->cookie_key[TERN_K_PSK], sec->psk);
	}
	if (cfg->allow_file != NULL && !sec->serve_static) {
		tern_log(ep, TERN_LOG_ERR, "an allow-list needs a key (key_file)");
		return -EINVAL;
	}
	sec->have_allow = cfg->allow_file != NULL;
	if (sec->have_peer && !sec->have_static) {
		/* A client with no identity of its own: an anonymous static key. */
		if ((rc = tern_x25519_key_generate(&sec->s_key, sec->s_pub)) != 0)
			return rc;
		sec->have_static = 1;
	}
	if (cfg->protection != TERN_PROT_NONE && !sec->have_peer && !sec->have_psk &&
	    !sec->serve_static) {
		tern_log(ep, TERN_LOG_ERR,
			 "protection needs keys (key_file, peer_key_file or psk_file)");
		return -EINVAL;
	}
	/* The client's static-static DH with the pinned server key, once; the
	 * key imported once too (each handshake's es uses it). */
	if (sec->have_peer) {
		if ((rc = tern_x25519_pub_new(&sec->peer_key, sec->peer_pub)) != 0)
			return rc;
		if (tern_x25519_key_dh_pub(sec->s_key, sec->peer_key, sec->ss_peer) != 0) {
			tern_log(ep, TERN_LOG_ERR, "peer key %s is not a usable X25519 key",
				 cfg->peer_key_file);
			return -EINVAL;
		}
	}
	if (sec->serve_static && (rc = tern_peers_init(ep, cfg->allow_file)) != 0)
		return rc;
	return tern_cookie_init(ep, cfg);
}

void tern_sec_fini(struct tern_ep *ep)
{
	struct tern_sec *sec = ep->sec;
	if (sec == NULL)
		return;
	tern_peers_fini(sec);
	tern_cookie_fini(sec);
	tern_x25519_key_free(sec->s_key);
	tern_x25519_pub_free(sec->peer_key);
	tern_wipe(sec, sizeof(*sec));
	free(sec);
	ep->sec = NULL;
}

/* A client's handshake runs only when it has something to authenticate
 * (1; 0: a plain CONNECT); a level above none without a pinned key or a
 * PSK cannot be had: -EINVAL rather than a session with less than asked. */
int tern_sec_client_secure(const struct tern_ep *ep)
{
	const struct tern_sec *sec = ep->sec;
	if (sec == NULL)
		return 0;
	if (sec->have_peer || sec->have_psk)
		return 1;
	if (sec->protection != TERN_PROT_NONE) {
		tern_log(ep, TERN_LOG_ERR, "protection needs the server's key (peer_key_file) or a "
					   "PSK to connect with");
		return -EINVAL;
	}
	return 0;
}

/* The server refuses plain handshakes when it requires authentication. */
int tern_sec_plain_allowed(const struct tern_ep *ep)
{
	const struct tern_sec *sec = ep->sec;
	return sec == NULL ||
	       (!sec->have_allow && !sec->have_psk && sec->protection == TERN_PROT_NONE);
}

/* Does this server run the pattern? (The acceptance rules, before crypto.) */
static int served(const struct tern_sec *sec, unsigned pattern)
{
	switch (pattern) {
	case TERN_PAT_IK:
		return sec->serve_static && !sec->have_psk;
	case TERN_PAT_IKPSK1:
		return sec->serve_static && sec->have_psk;
	case TERN_PAT_NNPSK0:
		return sec->have_psk && !sec->have_allow;
	default:
		return 0;
	}
}

void tern_sec_session_wipe(struct tern_session *s)
{
	tern_aead_free(s->tx_aead);
	tern_aead_free(s->rx_aead);
	s->tx_aead = s->rx_aead = NULL;
	tern_rekey_free(s);
	s->prot = TERN_PROT_NONE;
	s->tx_ctr = 0;
	memset(&s->rxwin, 0, sizeof(s->rxwin));
	if (s->hs != NULL) {
		noise_hs_wipe(&s->hs->hs); /* frees its ephemeral key */
		tern_wipe(s->hs, sizeof(*s->hs));
		free(s->hs);
		s->hs = NULL;
	}
	free(s->hs_reply);
	s->hs_reply = NULL;
	s->hs_reply_len = 0;
	tern_wipe(s->peer_static, sizeof(s->peer_static));
}

static int install_keys(struct tern_session *s, unsigned cipher, const uint8_t tx[32],
			const uint8_t rx[32], unsigned prot)
{
	int rc = tern_aead_new(&s->tx_aead, cipher, tx, 1);
	if (rc == 0)
		rc = tern_aead_new(&s->rx_aead, cipher, rx, 0);
	s->tx_ctr = 0;
	if (rc == 0)
		rc = tern_rekey_init(s->ep, s, cipher, tx, rx);
	if (rc != 0) {
		tern_aead_free(s->tx_aead);
		tern_aead_free(s->rx_aead);
		s->tx_aead = s->rx_aead = NULL;
		return rc;
	}
	s->prot = (uint8_t)prot;
	s->cipher = (uint8_t)cipher;
	memset(&s->rxwin, 0, sizeof(s->rxwin));
	return 0;
}

/* --- client ------------------------------------------------------------------------ */

int tern_noise_connect(struct tern_session *s, const struct tern_wire_hs *hs)
{
	struct tern_ep *ep = s->ep;
	struct tern_sec *sec = ep->sec;
	int rc;
	if (s->hs == NULL && (s->hs = calloc(1, sizeof(*s->hs))) == NULL)
		return -ENOMEM;
	struct hs_client *c = s->hs;
	unsigned pattern = sec->have_peer ? (sec->have_psk ? TERN_PAT_IKPSK1 : TERN_PAT_IK)
					  : TERN_PAT_NNPSK0;
	uint8_t *pkt = c->pkt, *b = pkt + TERN_HDR_LEN;
	noise_hs_wipe(&c->hs); /* a state from before (none: calloc'd) */
	memset(c, 0, sizeof(*c));
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = s->id;
	tern_wire_put(pkt, &h);
	if ((rc = tern_random(&c->cid, 8)) != 0)
		return rc;
	b[0] = (uint8_t)pattern;
	put64(b + 8, c->cid);
	uint8_t pro[PROLOGUE_LEN + 8];
	prologue(pro, c->cid);
	int st = pattern != TERN_PAT_NNPSK0, ps = pattern != TERN_PAT_IK;
	if ((rc = noise_hs_init(&c->hs, noise_of(pattern), 1, pro, sizeof(pro),
				st ? sec->s_key : NULL, st ? sec->s_pub : NULL,
				st ? sec->peer_pub : NULL, ps ? sec->psk : NULL)) != 0)
		return rc;
	if (st) {
		noise_hs_set_ss(&c->hs, sec->ss_peer);
		noise_hs_set_rs_key(&c->hs, sec->peer_key);
	}
	uint8_t pt[TERN_SHS_PT_LEN];
	struct tern_wire_sx sx = {.timestamp = realtime_ns(),
				  .protection = (uint8_t)sec->protection,
				  .cipher = (uint8_t)sec->ciphers,
				  .session = s->id};
	payload_put(pt, hs, &sx);
	size_t n;
	rc = noise_hs_write(&c->hs, pt, sizeof(pt), b + TERN_SHS_OFF_MSG, TERN_SHS_MSG1_LEN, &n);
	c->hs.rs_key = NULL; /* es was its only use */
	tern_wipe(pt, sizeof(pt));
	if (rc != 0)
		return rc;
	c->pattern = (uint8_t)pattern;
	/* The header checksum first (it does not cover the macs), then mac1
	 * over everything before it, then mac2 (with a cookie from there). */
	tern_wire_seal(pkt, TERN_HDR_LEN + TERN_SHS_CONNECT_LEN);
	mac1(sec, 0, pattern, pkt, b + TERN_SHS_OFF_MAC1);
	tern_cookie_mac2(ep, &s->peer, pkt);
	return 0;
}

/*
 * CONNECT_OK for a secure CONNECT of ours. 0 and *hs filled when it
 * authenticates (keys installed); -EACCES etc. for a refusal (matched by
 * cid) or an answer we cannot take (-EPROTO); -EAGAIN when it is not ours
 * or does not authenticate (dropped: a forgery must not end the attempt).
 */
int tern_noise_connect_ok(struct tern_session *s, const struct tern_rx *rx,
			  const struct tern_hdr *h, struct tern_wire_hs *hs)
{
	struct tern_sec *sec = s->ep->sec;
	struct hs_client *c = s->hs;
	const uint8_t *b = (const uint8_t *)rx->data + TERN_HDR_LEN;
	static const uint8_t zero[7];
	if (c == NULL || !(h->flags & TERN_WF_SECURE) || get64(b + 8) != c->cid ||
	    b[0] != c->pattern || memcmp(b + 1, zero, 7) != 0)
		return -EAGAIN;
	if (h->status != 0)
		return -(int)h->status;
	struct noise_hs y;
	uint8_t pt[TERN_SHS_PT_LEN], i2r[32], r2i[32];
	struct tern_wire_sx sx;
	size_t n;
	int rc;
	noise_hs_borrow(&y, &c->hs); /* a forgery must leave the attempt's state */
	if (noise_hs_read(&y, b + TERN_SHS_OFF_MSG, TERN_SHS_MSG2_LEN, pt, sizeof(pt), &n) != 0 ||
	    n != sizeof(pt)) {
		rc = -EAGAIN;
		goto out;
	}
	if (payload_get(pt, hs, &sx) != 0) {
		rc = -EPROTO; /* the server's own words: it runs something else */
		goto out;
	}
	if (sx.session != h->src_session) {
		rc = -EAGAIN; /* the header was changed on the way: wait for the real one */
		goto out;
	}
	if (hs->nonce != s->hs_nonce || hs->peer_epoch != s->ep->epoch) {
		/* Not the answer to this attempt: no keys from it (install_keys
		 * would otherwise run again for the right one, and leak). */
		rc = -EAGAIN;
		goto out;
	}
	if (sx.protection < sec->protection || sx.protection > TERN_PROT_PRIVACY ||
	    (sx.cipher != TERN_CIPHER_AES256GCM && sx.cipher != TERN_CIPHER_CHACHAPOLY)) {
		rc = -EPROTO;
		goto out;
	}
	if ((rc = noise_hs_split(&y, i2r, r2i, NULL)) != 0 ||
	    (rc = install_keys(s, sx.cipher, i2r, r2i, sx.protection)) != 0)
		goto out;
	if (c->pattern != TERN_PAT_NNPSK0)
		memcpy(s->peer_static, sec->peer_pub, 32);
	noise_hs_wipe(&c->hs); /* done: the ephemeral key goes now */
out:
	noise_hs_wipe(&y);
	tern_wipe(pt, sizeof(pt));
	tern_wipe(i2r, sizeof(i2r));
	tern_wipe(r2i, sizeof(r2i));
	return rc;
}

/* --- server -------------------------------------------------------------------------- */

/* An unauthenticated refusal: matched by the client with the cid it chose. */
void tern_noise_refuse(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *rq,
		       int err)
{
	uint8_t pkt[TERN_HDR_LEN + TERN_SHS_OK_LEN];
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	memset(pkt, 0, sizeof(pkt));
	h.type = TERN_PKT_CONNECT_OK;
	h.flags = TERN_WF_SECURE;
	h.status = (uint8_t)err;
	h.dst_session = rq->src_session;
	h.src_session = TERN_SESSION_NONE;
	tern_wire_put(pkt, &h);
	memcpy(pkt + TERN_HDR_LEN, (const uint8_t *)rx->data + TERN_HDR_LEN, 16); /* pattern, cid */
	tern_wire_seal(pkt, sizeof(pkt));
	tern_tx_raw(ep, &rx->src, pkt, sizeof(pkt));
	ep->st.hs_refused++;
}

/* A refusal before any authentication: not to unproven addresses under load. */
static void refuse_early(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
	if (!tern_cookie_under_load(ep))
		tern_noise_refuse(ep, rx, h, EACCES);
}

struct rs_ctx {
	struct tern_ep *ep;
	struct tern_peer *peer; /* the key's entry, if it has one yet */
	int not_allowed;
	uint8_t ss[32];         /* an open server's DH with a key it has no entry for */
	struct tern_x25519_pub *pub; /* and the key imported (for se) */
};

/*
 * The client's static key, before any DH with it: listed? its ss, from the
 * key's entry (computed there once). A key not yet known to an open server
 * gets its ss computed here and an entry only once the handshake has
 * authenticated (tern_noise_accept): until then it is a claim.
 */
static int on_rs(struct noise_hs *y, void *arg)
{
	struct rs_ctx *x = arg;
	struct tern_sec *sec = x->ep->sec;
	struct tern_peer *p = tern_peer_find(x->ep, y->rs);
	if (p == NULL && !sec->peers.open) {
		x->not_allowed = 1;
		return -EACCES;
	}
	if (p == NULL) {
		int rc = tern_x25519_pub_new(&x->pub, y->rs);
		if (rc != 0)
			return rc;
		if (tern_x25519_key_dh_pub(sec->s_key, x->pub, x->ss) != 0)
			return -EACCES; /* a low-order key */
		noise_hs_set_ss(y, x->ss);
		noise_hs_set_rs_key(y, x->pub);
		return 0;
	}
	if (tern_peer_ss(sec, p) != 0)
		return -EACCES;
	noise_hs_set_ss(y, p->ss);
	noise_hs_set_rs_key(y, p->pub); /* the entry outlives the state (tern_noise_answer) */
	x->peer = p;
	return 0;
}

static unsigned choose_cipher(const struct tern_sec *sec, unsigned offered)
{
	return (offered & sec->cipher_pref) ? sec->cipher_pref
	       : (offered & TERN_CIPHER_AES256GCM) ? TERN_CIPHER_AES256GCM
	       : (offered & TERN_CIPHER_CHACHAPOLY) ? TERN_CIPHER_CHACHAPOLY
						    : 0;
}

void tern_noise_accept(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
		       struct tern_noise_result *res)
{
	struct tern_sec *sec = ep->sec;
	const uint8_t *pkt = rx->data, *b = pkt + TERN_HDR_LEN;
	unsigned pattern = b[0];
	static const uint8_t zero[48];
	memset(res, 0, sizeof(*res));
	/* Stateless checks: the pattern, reserved bytes and NNpsk0's padding. */
	if (!known(pattern) || memcmp(b + 1, zero, 7) != 0 ||
	    (pattern == TERN_PAT_NNPSK0 &&
	     memcmp(b + TERN_SHS_OFF_MSG + TERN_SHS_MSG1_NN, zero,
		    TERN_SHS_MSG1_LEN - TERN_SHS_MSG1_NN) != 0)) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	if (sec != NULL)
		tern_cookie_load(ep); /* every well-formed secure CONNECT is load */
	if (sec == NULL || !served(sec, pattern)) {
		/* The client pinned a key (or PSK) this server does not hold, or
		 * lacks a factor the server requires. Say so (no larger than the
		 * CONNECT) rather than let it time out. */
		if (sec == NULL) {
			tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
			tern_noise_refuse(ep, rx, h, EACCES);
		} else {
			refuse_early(ep, rx, h);
		}
		return;
	}
	uint8_t m[TERN_MAC_LEN];
	mac1(sec, 1, pattern, pkt, m);
	if (CRYPTO_memcmp(m, b + TERN_SHS_OFF_MAC1, TERN_MAC_LEN) != 0) {
		refuse_early(ep, rx, h); /* not our key or PSK */
		return;
	}
	/* A retransmission of a CONNECT we answered: the same answer again. */
	uint64_t cid = get64(b + 8);
	struct tern_session *old = tern_hs_find(ep, &rx->src, cid, h->src_session, 1);
	if (old != NULL) {
		uint8_t digest[32];
		tern_sha256(digest, b, TERN_SHS_OFF_MAC1, NULL, 0);
		if (old->hs_reply != NULL && CRYPTO_memcmp(old->hs_digest, digest, 32) == 0)
			tern_tx_raw(ep, &old->peer, old->hs_reply, old->hs_reply_len);
		else
			tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	if (tern_cookie_gate(ep, rx, h, pattern) != 0)
		return; /* under load: a cookie reply, or over its address's rate */

	struct noise_hs *y = &res->y;
	struct rs_ctx x = {.ep = ep};
	uint8_t pro[PROLOGUE_LEN + 8], pt[TERN_SHS_PT_LEN];
	size_t mlen = pattern == TERN_PAT_NNPSK0 ? TERN_SHS_MSG1_NN : TERN_SHS_MSG1_LEN, n = 0;
	int st = pattern != TERN_PAT_NNPSK0, ps = pattern != TERN_PAT_IK, rc;
	prologue(pro, cid);
	if ((rc = noise_hs_init(y, noise_of(pattern), 0, pro, sizeof(pro), st ? sec->s_key : NULL,
				st ? sec->s_pub : NULL, NULL, ps ? sec->psk : NULL)) != 0) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	y->on_rs = on_rs;
	y->on_rs_ctx = &x;
	rc = noise_hs_read(y, b + TERN_SHS_OFF_MSG, mlen, pt, sizeof(pt), &n);
	y->on_rs = NULL;
	y->on_rs_ctx = NULL;
	if (rc != 0 || n != sizeof(pt)) {
		if (x.not_allowed) {
			tern_noise_refuse(ep, rx, h, EACCES); /* not on the allow-list */
		} else {
			tern_rx_drop(ep, TERN_DROP_HANDSHAKE); /* wrong PSK, or forged */
			tern_noise_refuse(ep, rx, h, EACCES);
		}
		goto out;
	}
	struct tern_wire_sx sx;
	if (payload_get(pt, &res->hs, &sx) != 0 || sx.session != h->src_session) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		goto out;
	}
	/* Replays: fresh enough, newer than the key's floor, not seen. */
	if (tern_hs_replay_check(sec, x.peer, y->re, sx.timestamp, realtime_ns()) != 0) {
		tern_rx_drop(ep, TERN_DROP_REPLAY);
		goto out;
	}
	if (sx.protection < sec->protection || sx.protection > TERN_PROT_PRIVACY) {
		tern_noise_refuse(ep, rx, h, EACCES);
		goto out;
	}
	unsigned cipher = choose_cipher(sec, sx.cipher);
	if (cipher == 0) {
		tern_noise_refuse(ep, rx, h, EPROTO);
		goto out;
	}
	/* An open server's new key: its holder has proved it, so it is
	 * remembered now, with the ss and import of this handshake (the entry
	 * takes the import, which the state still uses for se). */
	if (st && x.peer == NULL && (x.peer = tern_peer_get(ep, y->rs)) != NULL) {
		tern_peer_keep(x.peer, x.pub, x.ss);
		x.pub = NULL;
	}
	/* Remembered only once it is accepted: a refused CONNECT replayed gets
	 * the same refusal again, and leaves no state. */
	tern_hs_replay_add(sec, x.peer, y->re, sx.timestamp);
	/* Authenticated: the session layer validates the parameters, allocates
	 * the session and asks for the answer (tern_noise_answer). */
	res->ok = 1;
	res->pattern = (uint8_t)pattern;
	res->cid = cid;
	res->protection = sx.protection;
	res->cipher = (uint8_t)cipher;
	tern_sha256(res->digest, b, TERN_SHS_OFF_MAC1, NULL, 0);
	if (st)
		memcpy(res->client_static, y->rs, 32);
	tern_wipe(pt, sizeof(pt));
	tern_wipe(x.ss, sizeof(x.ss));
	return;
out:
	noise_hs_wipe(y);
	tern_x25519_pub_free(x.pub); /* after the state that refers to it */
	tern_wipe(pt, sizeof(pt));
	tern_wipe(x.ss, sizeof(x.ss));
}

/*
 * Build and send the CONNECT_OK of an accepted handshake (res from
 * tern_noise_accept) for session s with parameters hs; keep it for
 * retransmitted CONNECTs; install the session keys.
 */
int tern_noise_answer(struct tern_session *s, const struct tern_rx *rx, const struct tern_hdr *rq,
		      struct tern_noise_result *res, const struct tern_wire_hs *hs)
{
	struct tern_ep *ep = s->ep;
	uint8_t pkt[TERN_HDR_LEN + TERN_SHS_OK_LEN], *b = pkt + TERN_HDR_LEN;
	uint8_t pt[TERN_SHS_PT_LEN], i2r[32], r2i[32];
	size_t n;
	int rc;
	memset(pkt, 0, sizeof(pkt));
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.flags = TERN_WF_SECURE;
	h.dst_session = rq->src_session;
	h.src_session = s->id;
	h.token = res->hs.token;
	tern_wire_put(pkt, &h);
	b[0] = res->pattern;
	put64(b + 8, res->cid);
	struct tern_wire_sx sx = {.protection = res->protection, .cipher = res->cipher,
				  .session = s->id};
	payload_put(pt, hs, &sx);
	if ((rc = noise_hs_write(&res->y, pt, sizeof(pt), b + TERN_SHS_OFF_MSG, TERN_SHS_MSG2_LEN,
				 &n)) != 0 ||
	    (rc = noise_hs_split(&res->y, i2r, r2i, NULL)) != 0)
		goto out;
	tern_wire_seal(pkt, sizeof(pkt));
	if ((rc = install_keys(s, res->cipher, r2i, i2r, res->protection)) != 0)
		goto out;
	s->hs_reply = malloc(sizeof(pkt));
	if (s->hs_reply == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(s->hs_reply, pkt, sizeof(pkt));
	s->hs_reply_len = sizeof(pkt);
	memcpy(s->hs_digest, res->digest, 32);
	memcpy(s->peer_static, res->client_static, 32);
	tern_tx_raw(ep, &rx->src, pkt, sizeof(pkt));
	ep->st.hs_ok++;
out:
	noise_hs_wipe(&res->y);
	tern_wipe(res->client_static, sizeof(res->client_static));
	tern_wipe(pt, sizeof(pt));
	tern_wipe(i2r, sizeof(i2r));
	tern_wipe(r2i, sizeof(r2i));
	return rc;
}
