/*
 * noise.c — the authenticated handshake: CONNECT / CONNECT_OK with the
 * TERN_WF_SECURE flag, after the Noise framework (the IK pattern, as in
 * WireGuard), with SHA-256, HMAC-SHA256 HKDF, X25519 and
 * ChaCha20-Poly1305 for the handshake's own payloads.
 *
 *   IK:      -> e, es, s, ss, {payload}      <- e, ee, se, {payload}
 *   NNpsk0:  -> psk, e, {payload}            <- e, ee, {payload}
 *   IKpsk0:  -> psk, e, es, s, ss, {payload} <- e, ee, se, {payload}
 *
 * The client knows (pins) the server's static public key; its own static
 * key travels encrypted, and the server checks it against its allow-list.
 * The payloads carry tern's session parameters (both epochs, session ids,
 * tokens, slots, credits, MTU) plus the protection level and cipher, and
 * the handshake hash covers the cleartext fields that mean something (type,
 * both session ids, pattern, cid; the header's other fields are ignored by
 * a secure handshake), so the session keys derived at the end (one per
 * direction) are bound to all of them.
 *
 * Before any Diffie-Hellman work the server checks mac1 (an HMAC keyed by
 * its public key or the PSK: only a sender who knows it passes) and a
 * per-source-address rate limit; it allocates a session only once a
 * handshake has authenticated and passed the allow-list, so forged
 * CONNECTs cost no state beyond the bounded rate-limit table. Replays: a
 * CONNECT is accepted once; the ephemeral key of each accepted one is
 * remembered (bounded cache; refused ones are not, so they cannot fill it)
 * and its timestamp must be within 60 s of the server's clock and newer
 * than anything the cache has forgotten. A retransmitted
 * CONNECT (same bytes, same cid) gets the cached CONNECT_OK again, with no
 * DH work. Every secret is wiped on every path.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "session.h"
#include "tx.h"

#define NOISE_NAME "tern-noise-1 25519 ChaChaPoly SHA256"
#define REPLAY_WINDOW_NS (60ull * 1000000000ull)

/* --- the symmetric state -------------------------------------------------- */

#define sym tern_sym /* struct tern_sym: tern_internal.h */

static void mix_hash(struct sym *y, const void *d, size_t n)
{
	tern_sha256(y->h, y->h, 32, d, n);
}

static void sym_init(struct sym *y, const void *prologue, size_t n)
{
	tern_sha256(y->ck, NOISE_NAME, sizeof(NOISE_NAME) - 1, NULL, 0);
	memcpy(y->h, y->ck, 32);
	memset(y->k, 0, 32);
	mix_hash(y, prologue, n);
}

static void mix_key(struct sym *y, const uint8_t *ikm, size_t n)
{
	tern_hkdf(y->ck, ikm, n, y->ck, y->k, NULL);
}

static void mix_key_and_hash(struct sym *y, const uint8_t psk[32])
{
	uint8_t th[32];
	tern_hkdf(y->ck, psk, 32, y->ck, th, y->k);
	mix_hash(y, th, 32);
	tern_wipe(th, sizeof(th));
}

/* mix_key(DH(priv, pub)); -EACCES for a bad (low-order) key. */
static int mix_dh(struct sym *y, const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t dh[32];
	int rc = tern_x25519(dh, priv, pub);
	if (rc == 0)
		mix_key(y, dh, 32);
	tern_wipe(dh, sizeof(dh));
	return rc == 0 ? 0 : -EACCES;
}

static int seal_hash(struct sym *y, const void *pt, size_t n, uint8_t *out)
{
	struct tern_aead *a;
	int rc = tern_aead_new(&a, TERN_CIPHER_CHACHAPOLY, y->k, 1);
	if (rc != 0)
		return rc;
	rc = tern_aead_seal(a, 0, y->h, 32, NULL, 0, pt, n, out, out + n);
	tern_aead_free(a);
	if (rc == 0)
		mix_hash(y, out, n + 16);
	return rc;
}

static int open_hash(struct sym *y, const uint8_t *ct, size_t n, uint8_t *out)
{
	struct tern_aead *a;
	int rc = tern_aead_new(&a, TERN_CIPHER_CHACHAPOLY, y->k, 0);
	if (rc != 0)
		return rc;
	rc = tern_aead_open(a, 0, y->h, 32, ct, n, out, ct + n);
	tern_aead_free(a);
	if (rc == 0)
		mix_hash(y, ct, n + 16);
	return rc == 0 ? 0 : -EACCES;
}

/* The two transport keys: initiator->responder, responder->initiator. */
static void split(struct sym *y, uint8_t i2r[32], uint8_t r2i[32])
{
	tern_hkdf(y->ck, "", 0, i2r, r2i, NULL);
}

static void sym_wipe(struct sym *y)
{
	tern_wipe(y, sizeof(*y));
}

/* --- packet layout ------------------------------------------------------------- */

#define OFF_PATTERN 0
#define OFF_CID     8
#define OFF_E       16
#define OFF_STATIC  48                                    /* CONNECT only */
#define OFF_PAYLOAD_C (OFF_STATIC + TERN_SHS_STATIC_CT_LEN) /* 96 */
#define OFF_MAC1      (OFF_PAYLOAD_C + TERN_SHS_CT_LEN)     /* 168 */
#define OFF_PAYLOAD_A OFF_STATIC                             /* CONNECT_OK: 48 */

/* The prologue: what the handshake hash starts from, cleartext included. */
static void prologue(struct sym *y, const uint8_t *pkt)
{
	/* header fields that identify the exchange (type, session ids) and the
	 * cleartext part of the body (pattern, cid) */
	uint8_t p[2 + 4 + 16];
	p[0] = 't';
	p[1] = pkt[1];     /* type */
	memcpy(p + 2, pkt + 6, 4); /* dst and src session (CONNECT: NONE, client id) */
	memcpy(p + 6, pkt + TERN_HDR_LEN, 16);
	sym_init(y, p, sizeof(p));
}

static void mac1_key(const struct tern_ep *ep, unsigned pattern, const uint8_t server_pub[32],
		     uint8_t key[32])
{
	if (pattern == TERN_PAT_NNPSK0)
		tern_sha256(key, "mac1----", 8, ep->sec->psk, 32);
	else
		tern_sha256(key, "mac1----", 8, server_pub, 32);
}

static void mac1(const uint8_t key[32], const uint8_t *pkt, size_t len, uint8_t out[16])
{
	uint8_t full[32];
	tern_hmac(full, key, 32, pkt, len, NULL, 0);
	memcpy(out, full, 16);
}

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

/* Handshake payload: struct tern_wire_hs then struct tern_wire_sx. */
static void payload_put(uint8_t *pt, const struct tern_wire_hs *hs, const struct tern_wire_sx *sx)
{
	tern_wire_hs_put(pt, hs);
	memset(pt + TERN_HS_LEN, 0, TERN_SX_LEN);
	put64(pt + TERN_HS_LEN, sx->timestamp);
	pt[TERN_HS_LEN + 8] = sx->protection;
	pt[TERN_HS_LEN + 9] = sx->cipher;
}

static void payload_get(const uint8_t *pt, struct tern_wire_hs *hs, struct tern_wire_sx *sx)
{
	tern_wire_hs_get(pt, hs);
	memset(sx, 0, sizeof(*sx));
	sx->timestamp = get64(pt + TERN_HS_LEN);
	sx->protection = pt[TERN_HS_LEN + 8];
	sx->cipher = pt[TERN_HS_LEN + 9];
}

/* --- rate limiting and replay memory (server) ------------------------------------- */

/*
 * Per-source-address rate limit (GCRA): a fixed table, an address hashed to
 * one entry, so a flood from many addresses costs no more memory.
 */
static int rate_ok(struct tern_ep *ep, const struct tern_addr *a)
{
	struct tern_sec *sec = ep->sec;
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ a->ip[i]) * 1099511628211ull;
	struct rate_entry *e = &sec->rate[h & (TERN_RATE_ENTRIES - 1)];
	uint64_t now = ep->now, interval = sec->rate_interval_ns;
	if (memcmp(e->ip, a->ip, 16) != 0) {
		memcpy(e->ip, a->ip, 16);
		e->tat = now;
	}
	uint64_t tat = e->tat > now ? e->tat : now;
	if (tat - now > interval * sec->rate_burst)
		return 0;
	e->tat = tat + interval;
	return 1;
}

static uint64_t fingerprint(const uint8_t e[32])
{
	uint64_t v;
	memcpy(&v, e, 8);
	return v | 1; /* 0 marks an empty slot */
}

static int replay_seen(const struct tern_sec *sec, uint64_t fp)
{
	for (uint32_t i = (uint32_t)(fp >> 17) & (TERN_REPLAY_SLOTS - 1);;
	     i = (i + 1) & (TERN_REPLAY_SLOTS - 1)) {
		if (sec->rp_set[i] == 0)
			return 0;
		if (sec->rp_set[i] == fp)
			return 1;
	}
}

static void replay_set_del(struct tern_sec *sec, uint64_t fp)
{
	uint32_t m = TERN_REPLAY_SLOTS - 1, i = (uint32_t)(fp >> 17) & m;
	while (sec->rp_set[i] != fp) {
		if (sec->rp_set[i] == 0)
			return;
		i = (i + 1) & m;
	}
	sec->rp_set[i] = 0;
	for (uint32_t j = (i + 1) & m; sec->rp_set[j] != 0; j = (j + 1) & m) {
		uint32_t home = (uint32_t)(sec->rp_set[j] >> 17) & m;
		if (((j - home) & m) >= ((j - i) & m)) {
			sec->rp_set[i] = sec->rp_set[j];
			sec->rp_set[j] = 0;
			i = j;
		}
	}
}

/* Remember a handshake; the oldest is forgotten when the ring is full, and
 * nothing older than it is accepted from then on. */
static void replay_add(struct tern_sec *sec, uint64_t fp, uint64_t ts)
{
	struct replay_ent *r = &sec->rp_ring[sec->rp_head];
	if (r->fp != 0) {
		replay_set_del(sec, r->fp);
		if (r->ts > sec->rp_floor)
			sec->rp_floor = r->ts;
	}
	r->fp = fp;
	r->ts = ts;
	sec->rp_head = (sec->rp_head + 1) & (TERN_REPLAY_RING - 1);
	uint32_t m = TERN_REPLAY_SLOTS - 1, i = (uint32_t)(fp >> 17) & m;
	while (sec->rp_set[i] != 0)
		i = (i + 1) & m;
	sec->rp_set[i] = fp;
}

/* --- configuration -------------------------------------------------------------- */

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
	sec->rate_interval_ns = 1000000000ull / (cfg->handshake_rate ? cfg->handshake_rate : 200);
	sec->rate_burst = 64;
	if (cfg->key_file != NULL) {
		if ((rc = tern_key_read(cfg->key_file, sec->s_priv)) != 0 ||
		    (rc = tern_x25519_public(sec->s_priv, sec->s_pub)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read private key %s", cfg->key_file);
			return rc < 0 ? rc : -EINVAL;
		}
		sec->have_static = 1;
	}
	if (cfg->peer_key_file != NULL) {
		if ((rc = tern_key_read(cfg->peer_key_file, sec->peer_pub)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read peer key %s", cfg->peer_key_file);
			return rc;
		}
		sec->have_peer = 1;
	}
	if (cfg->psk_file != NULL) {
		if ((rc = tern_key_read(cfg->psk_file, sec->psk)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read pre-shared key %s", cfg->psk_file);
			return rc;
		}
		sec->have_psk = 1;
	}
	if (cfg->allow_file != NULL) {
		if ((rc = tern_keys_read(cfg->allow_file, &sec->allow, &sec->nallow)) != 0) {
			tern_log(ep, TERN_LOG_ERR, "cannot read allow-list %s", cfg->allow_file);
			return rc;
		}
		if (!sec->have_static) {
			tern_log(ep, TERN_LOG_ERR, "an allow-list needs a key (key_file)");
			return -EINVAL;
		}
	}
	if (sec->have_peer && !sec->have_static) {
		/* A client with no identity of its own: an anonymous static key. */
		if ((rc = tern_x25519_keypair(sec->s_priv, sec->s_pub)) != 0)
			return rc;
		sec->have_static = 1;
	}
	if (cfg->protection != TERN_PROT_NONE && !sec->have_peer && !sec->have_psk &&
	    !sec->have_static) {
		tern_log(ep, TERN_LOG_ERR, "protection needs keys (key_file, peer_key_file or psk_file)");
		return -EINVAL;
	}
	return 0;
}

void tern_sec_fini(struct tern_ep *ep)
{
	struct tern_sec *sec = ep->sec;
	if (sec == NULL)
		return;
	free(sec->allow);
	tern_wipe(sec, sizeof(*sec));
	free(sec);
	ep->sec = NULL;
}

/* A client's handshake runs only when it has something to authenticate. */
int tern_sec_client_secure(const struct tern_ep *ep)
{
	return ep->sec != NULL && (ep->sec->have_peer || ep->sec->have_psk);
}

/* The server refuses plain handshakes when it requires authentication. */
int tern_sec_plain_allowed(const struct tern_ep *ep)
{
	const struct tern_sec *sec = ep->sec;
	return sec == NULL || (sec->nallow == 0 && !sec->have_psk && sec->protection == TERN_PROT_NONE);
}

void tern_sec_session_wipe(struct tern_session *s)
{
	tern_aead_free(s->tx_aead);
	tern_aead_free(s->rx_aead);
	s->tx_aead = s->rx_aead = NULL;
	s->prot = TERN_PROT_NONE;
	s->tx_ctr = 0;
	memset(&s->rxwin, 0, sizeof(s->rxwin));
	if (s->hs != NULL) {
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
	if (rc != 0) {
		tern_aead_free(s->tx_aead);
		s->tx_aead = NULL;
		return rc;
	}
	s->prot = (uint8_t)prot;
	s->cipher = (uint8_t)cipher;
	s->tx_ctr = 0;
	memset(&s->rxwin, 0, sizeof(s->rxwin));
	return 0;
}

/* --- client ------------------------------------------------------------------------ */

int tern_noise_connect(struct tern_session *s, const struct tern_wire_hs *hs)
{
	struct tern_ep *ep = s->ep;
	struct tern_sec *sec = ep->sec;
	struct sym y;
	int rc;
	if (s->hs == NULL && (s->hs = calloc(1, sizeof(*s->hs))) == NULL)
		return -ENOMEM;
	struct hs_client *c = s->hs;
	unsigned pattern = sec->have_peer ? (sec->have_psk ? TERN_PAT_IKPSK0 : TERN_PAT_IK)
					  : TERN_PAT_NNPSK0;
	uint8_t *pkt = c->pkt, *b = pkt + TERN_HDR_LEN;
	memset(pkt, 0, sizeof(c->pkt));
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = s->id;
	tern_wire_put(pkt, &h);
	if ((rc = tern_random(&c->cid, 8)) != 0 || (rc = tern_x25519_keypair(c->e_priv, c->e_pub)) != 0)
		return rc;
	b[OFF_PATTERN] = (uint8_t)pattern;
	put64(b + OFF_CID, c->cid);
	memcpy(b + OFF_E, c->e_pub, 32);

	prologue(&y, pkt);
	if (pattern != TERN_PAT_IK)
		mix_key_and_hash(&y, sec->psk);
	mix_hash(&y, c->e_pub, 32);
	if (pattern != TERN_PAT_IK)
		mix_key(&y, c->e_pub, 32);
	if (pattern != TERN_PAT_NNPSK0) {
		if ((rc = mix_dh(&y, c->e_priv, sec->peer_pub)) != 0 ||
		    (rc = seal_hash(&y, sec->s_pub, 32, b + OFF_STATIC)) != 0 ||
		    (rc = mix_dh(&y, sec->s_priv, sec->peer_pub)) != 0)
			goto out;
	}
	uint8_t pt[TERN_SHS_PT_LEN];
	struct tern_wire_sx sx = {.timestamp = realtime_ns(), .protection = (uint8_t)sec->protection,
				  .cipher = (uint8_t)sec->ciphers};
	payload_put(pt, hs, &sx);
	rc = seal_hash(&y, pt, sizeof(pt), b + OFF_PAYLOAD_C);
	tern_wipe(pt, sizeof(pt));
	if (rc != 0)
		goto out;
	/* The header checksum first (it does not cover mac1), then mac1 over
	 * everything before it, checksum included, as the server sees it. */
	tern_wire_seal(pkt, TERN_HDR_LEN + TERN_SHS_CONNECT_LEN);
	uint8_t mk[32];
	mac1_key(ep, pattern, sec->peer_pub, mk);
	mac1(mk, pkt, TERN_HDR_LEN + OFF_MAC1, b + OFF_MAC1);
	tern_wipe(mk, sizeof(mk));
	c->pattern = (uint8_t)pattern;
	memcpy(&c->y, &y, sizeof(y));
out:
	sym_wipe(&y);
	return rc;
}

/*
 * CONNECT_OK for a secure CONNECT of ours. 0 and *hs, *prot filled when it
 * authenticates; -EACCES etc. for a refusal (status set, matched by cid);
 * -EAGAIN when it is not ours or does not authenticate (dropped: a forgery
 * must not end the attempt).
 */
int tern_noise_connect_ok(struct tern_session *s, const struct tern_rx *rx,
			  const struct tern_hdr *h, struct tern_wire_hs *hs)
{
	struct tern_ep *ep = s->ep;
	struct tern_sec *sec = ep->sec;
	struct hs_client *c = s->hs;
	const uint8_t *pkt = rx->data, *b = pkt + TERN_HDR_LEN;
	if (c == NULL || !(h->flags & TERN_WF_SECURE) || get64(b + OFF_CID) != c->cid ||
	    b[OFF_PATTERN] != c->pattern)
		return -EAGAIN;
	if (h->status != 0)
		return -(int)h->status;
	struct sym y;
	uint8_t pt[TERN_SHS_PT_LEN], i2r[32], r2i[32];
	int rc;
	memcpy(&y, &c->y, sizeof(y));
	/* The answer's prologue hashes the CONNECT's transcript first. */
	uint8_t p[2 + 4 + 16];
	p[0] = 't';
	p[1] = pkt[1];
	memcpy(p + 2, pkt + 6, 4);
	memcpy(p + 6, b, 16);
	mix_hash(&y, p, sizeof(p));
	const uint8_t *re = b + OFF_E;
	mix_hash(&y, re, 32);
	if (c->pattern != TERN_PAT_IK)
		mix_key(&y, re, 32);
	if ((rc = mix_dh(&y, c->e_priv, re)) != 0 ||
	    (c->pattern != TERN_PAT_NNPSK0 && (rc = mix_dh(&y, sec->s_priv, re)) != 0) ||
	    (rc = open_hash(&y, b + OFF_PAYLOAD_A, TERN_SHS_PT_LEN, pt)) != 0) {
		rc = -EAGAIN;
		goto out;
	}
	struct tern_wire_sx sx;
	payload_get(pt, hs, &sx);
	if (hs->nonce != s->hs_nonce || hs->peer_epoch != ep->epoch) {
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
	split(&y, i2r, r2i);
	rc = install_keys(s, sx.cipher, i2r, r2i, sx.protection);
	if (rc == 0 && c->pattern != TERN_PAT_NNPSK0)
		memcpy(s->peer_static, sec->peer_pub, 32);
out:
	sym_wipe(&y);
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

static int allowed(const struct tern_sec *sec, const uint8_t key[32])
{
	if (sec->nallow == 0)
		return 1;
	for (uint32_t i = 0; i < sec->nallow; i++)
		if (CRYPTO_memcmp(sec->allow[i], key, 32) == 0)
			return 1;
	return 0;
}

void tern_noise_accept(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
		       struct tern_noise_result *res)
{
	struct tern_sec *sec = ep->sec;
	const uint8_t *pkt = rx->data, *b = pkt + TERN_HDR_LEN;
	unsigned pattern = b[OFF_PATTERN];
	res->session = NULL;
	res->ok = 0;
	if (pattern != TERN_PAT_IK && pattern != TERN_PAT_NNPSK0 && pattern != TERN_PAT_IKPSK0) {
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	if (sec == NULL) {
		/* No keys here: the client pinned a key (or PSK) this server does
		 * not hold. Say so (no larger than the CONNECT) rather than let it
		 * time out. */
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		tern_noise_refuse(ep, rx, h, EACCES);
		return;
	}
	/* Cheap checks first: the rate limit, then mac1, before any DH. */
	if (!rate_ok(ep, &rx->src)) {
		tern_rx_drop(ep, TERN_DROP_RATELIMIT);
		return;
	}
	int have = pattern == TERN_PAT_IK ? sec->have_static && !sec->have_psk
		   : pattern == TERN_PAT_NNPSK0 ? sec->have_psk
						  : sec->have_static && sec->have_psk;
	uint8_t mk[32], m[16];
	if (have) {
		mac1_key(ep, pattern, sec->s_pub, mk);
		mac1(mk, pkt, TERN_HDR_LEN + OFF_MAC1, m);
		tern_wipe(mk, sizeof(mk));
	}
	if (!have || CRYPTO_memcmp(m, b + OFF_MAC1, 16) != 0) {
		/* Not our key or PSK (or not our pattern): the client cannot
		 * authenticate this server. */
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		tern_noise_refuse(ep, rx, h, EACCES);
		return;
	}
	/* A retransmission of a CONNECT we answered: the same answer again. */
	uint64_t cid = get64(b + OFF_CID);
	uint8_t digest[32];
	tern_sha256(digest, b, TERN_SHS_CONNECT_LEN, NULL, 0);
	struct tern_session *old = tern_hs_find(ep, &rx->src, cid, h->src_session, 1);
	if (old != NULL) {
		if (old->hs_reply != NULL && memcmp(old->hs_digest, digest, 32) == 0) {
			tern_tx_raw(ep, &old->peer, old->hs_reply, old->hs_reply_len);
			return;
		}
		tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
		return;
	}
	struct sym y;
	uint8_t s_i[32], pt[TERN_SHS_PT_LEN];
	const uint8_t *e_i = b + OFF_E;
	int rc;
	memset(s_i, 0, sizeof(s_i));
	prologue(&y, pkt);
	if (pattern != TERN_PAT_IK)
		mix_key_and_hash(&y, sec->psk);
	mix_hash(&y, e_i, 32);
	if (pattern != TERN_PAT_IK)
		mix_key(&y, e_i, 32);
	if (pattern != TERN_PAT_NNPSK0) {
		if ((rc = mix_dh(&y, sec->s_priv, e_i)) != 0 ||
		    (rc = open_hash(&y, b + OFF_STATIC, 32, s_i)) != 0 ||
		    (rc = mix_dh(&y, sec->s_priv, s_i)) != 0)
			goto bad;
	}
	if ((rc = open_hash(&y, b + OFF_PAYLOAD_C, TERN_SHS_PT_LEN, pt)) != 0)
		goto bad;
	struct tern_wire_sx sx;
	payload_get(pt, &res->hs, &sx);
	/* Replays: fresh enough, and this ephemeral key never seen. */
	uint64_t now = realtime_ns(), fp = fingerprint(e_i);
	if (sx.timestamp + REPLAY_WINDOW_NS < now || sx.timestamp > now + REPLAY_WINDOW_NS ||
	    sx.timestamp <= sec->rp_floor || replay_seen(sec, fp)) {
		tern_rx_drop(ep, TERN_DROP_REPLAY);
		goto out;
	}
	if (pattern != TERN_PAT_NNPSK0 && !allowed(sec, s_i)) {
		tern_noise_refuse(ep, rx, h, EACCES);
		goto out;
	}
	if (sx.protection < sec->protection || sx.protection > TERN_PROT_PRIVACY) {
		tern_noise_refuse(ep, rx, h, EACCES);
		goto out;
	}
	unsigned cipher = (sx.cipher & sec->cipher_pref) ? sec->cipher_pref
			  : (sx.cipher & TERN_CIPHER_AES256GCM) ? TERN_CIPHER_AES256GCM
			  : (sx.cipher & TERN_CIPHER_CHACHAPOLY) ? TERN_CIPHER_CHACHAPOLY
								 : 0;
	if (cipher == 0) {
		tern_noise_refuse(ep, rx, h, EPROTO);
		goto out;
	}
	/* Remembered only once it is accepted: a client this server refuses
	 * (anyone who knows its public key gets this far) must not fill the
	 * cache, or it could push the floor up to 60 s into the future with
	 * future-stamped handshakes and lock every client out. A refused
	 * CONNECT replayed gets the same refusal again, and no state. */
	replay_add(sec, fp, sx.timestamp);
	/* Authenticated: the session layer validates the parameters, allocates
	 * the session and asks for the answer (tern_noise_answer). */
	res->ok = 1;
	res->pattern = (uint8_t)pattern;
	res->cid = cid;
	res->protection = sx.protection;
	res->cipher = (uint8_t)cipher;
	memcpy(res->digest, digest, 32);
	memcpy(res->client_static, s_i, 32);
	memcpy(&res->y, &y, sizeof(y));
	goto out;
bad:
	tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
	tern_noise_refuse(ep, rx, h, EACCES);
out:
	sym_wipe(&y);
	tern_wipe(s_i, sizeof(s_i));
	tern_wipe(pt, sizeof(pt));
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
	uint8_t e_priv[32], e_pub[32], pt[TERN_SHS_PT_LEN], i2r[32], r2i[32];
	struct sym y;
	int rc;
	memcpy(&y, &res->y, sizeof(y));
	memset(pkt, 0, sizeof(pkt));
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.flags = TERN_WF_SECURE;
	h.dst_session = rq->src_session;
	h.src_session = s->id;
	h.token = res->hs.token;
	tern_wire_put(pkt, &h);
	b[OFF_PATTERN] = res->pattern;
	put64(b + OFF_CID, res->cid);
	if ((rc = tern_x25519_keypair(e_priv, e_pub)) != 0)
		goto out;
	memcpy(b + OFF_E, e_pub, 32);
	uint8_t p[2 + 4 + 16];
	p[0] = 't';
	p[1] = pkt[1];
	memcpy(p + 2, pkt + 6, 4);
	memcpy(p + 6, b, 16);
	mix_hash(&y, p, sizeof(p));
	mix_hash(&y, e_pub, 32);
	if (res->pattern != TERN_PAT_IK)
		mix_key(&y, e_pub, 32);
	const uint8_t *e_i = (const uint8_t *)rx->data + TERN_HDR_LEN + OFF_E;
	if ((rc = mix_dh(&y, e_priv, e_i)) != 0 ||
	    (res->pattern != TERN_PAT_NNPSK0 && (rc = mix_dh(&y, e_priv, res->client_static)) != 0))
		goto out;
	struct tern_wire_sx sx = {.protection = res->protection, .cipher = res->cipher};
	payload_put(pt, hs, &sx);
	if ((rc = seal_hash(&y, pt, sizeof(pt), b + OFF_PAYLOAD_A)) != 0)
		goto out;
	tern_wire_seal(pkt, sizeof(pkt));
	split(&y, i2r, r2i);
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
	sym_wipe(&y);
	tern_wipe(&res->y, sizeof(res->y));
	tern_wipe(res->client_static, sizeof(res->client_static));
	tern_wipe(e_priv, sizeof(e_priv));
	tern_wipe(pt, sizeof(pt));
	tern_wipe(i2r, sizeof(i2r));
	tern_wipe(r2i, sizeof(r2i));
	return rc;
}
