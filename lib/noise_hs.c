/*
 * noise_hs.c — the Noise HandshakeState (noise_hs.h): SymmetricState,
 * CipherState and the token processing of revision 34 of the Noise
 * Protocol Framework (sections 5.1-5.3, 9 for the psk modifiers), for
 * X25519, ChaCha20-Poly1305 and SHA-256 from crypto.h. It owns the order
 * of hashing and key mixing and nothing else: no packet layout, no policy.
 */
#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "noise_hs.h"

enum tok { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

struct pattern_def {
	const char *name;
	uint8_t pre_rs; /* "<- s": the responder's static key is a pre-message */
	uint8_t psk;    /* a psk pattern: "e" also does MixKey(e.pub) */
	uint8_t tok[2][6];
};

static const struct pattern_def patterns[] = {
	[NOISE_IK] = {"Noise_IK_25519_ChaChaPoly_SHA256", 1, 0,
		      {{T_E, T_ES, T_S, T_SS}, {T_E, T_EE, T_SE}}},
	[NOISE_IKPSK1] = {"Noise_IKpsk1_25519_ChaChaPoly_SHA256", 1, 1,
			  {{T_E, T_ES, T_S, T_SS, T_PSK}, {T_E, T_EE, T_SE}}},
	[NOISE_NNPSK0] = {"Noise_NNpsk0_25519_ChaChaPoly_SHA256", 0, 1,
			  {{T_PSK, T_E}, {T_E, T_EE}}},
};

static const struct pattern_def *pattern(unsigned p)
{
	return p >= NOISE_IK && p <= NOISE_NNPSK0 ? &patterns[p] : NULL;
}

const char *noise_pattern_name(enum noise_pattern p)
{
	const struct pattern_def *d = pattern(p);
	return d != NULL ? d->name : NULL;
}

size_t noise_msg_len(enum noise_pattern p, unsigned i, size_t plen)
{
	const struct pattern_def *d = pattern(p);
	if (d == NULL || i > 1)
		return 0;
	/* In these three patterns a key is set before every "s" and every
	 * payload, so each carries a tag. */
	size_t n = plen + NOISE_TAG_LEN;
	for (const uint8_t *t = d->tok[i]; *t != T_END; t++)
		n += *t == T_E ? 32 : *t == T_S ? 32 + NOISE_TAG_LEN : 0;
	return n;
}

/* --- SymmetricState ------------------------------------------------------------- */

static void mix_hash(struct noise_hs *hs, const void *d, size_t n)
{
	tern_sha256(hs->h, hs->h, 32, d, n);
}

static void mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t n)
{
	tern_hkdf(hs->ck, ikm, n, hs->ck, hs->k, NULL);
	hs->n = 0;
	hs->has_k = 1;
}

static void mix_key_and_hash(struct noise_hs *hs, const uint8_t psk[32])
{
	uint8_t th[32];
	tern_hkdf(hs->ck, psk, 32, hs->ck, th, hs->k);
	mix_hash(hs, th, 32);
	tern_wipe(th, sizeof(th));
	hs->n = 0;
	hs->has_k = 1;
}

/* EncryptAndHash: out gets n + 16 bytes (n without a key). */
static int encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t n, uint8_t *out)
{
	if (!hs->has_k) {
		memmove(out, pt, n);
		mix_hash(hs, out, n);
		return 0;
	}
	if (hs->n == UINT64_MAX)
		return -EINVAL; /* the nonce is spent (cannot happen in a handshake) */
	struct tern_aead *a;
	int rc = tern_aead_new(&a, TERN_CIPHER_CHACHAPOLY, hs->k, 1);
	if (rc != 0)
		return rc;
	rc = tern_aead_seal(a, hs->n, hs->h, 32, NULL, 0, pt, n, out, out + n);
	tern_aead_free(a);
	if (rc != 0)
		return rc;
	hs->n++;
	mix_hash(hs, out, n + NOISE_TAG_LEN);
	return 0;
}

/* DecryptAndHash of n bytes of plaintext (n + 16 of ciphertext with a key). */
static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t n, uint8_t *out)
{
	if (!hs->has_k) {
		memmove(out, ct, n);
		mix_hash(hs, ct, n);
		return 0;
	}
	if (hs->n == UINT64_MAX)
		return -EINVAL;
	struct tern_aead *a;
	int rc = tern_aead_new(&a, TERN_CIPHER_CHACHAPOLY, hs->k, 0);
	if (rc != 0)
		return rc;
	rc = tern_aead_open(a, hs->n, hs->h, 32, ct, n, out, ct + n);
	tern_aead_free(a);
	if (rc != 0) {
		tern_wipe(out, n);
		return -EBADMSG;
	}
	hs->n++;
	/* the hash takes the ciphertext: ct is intact (out may not alias it) */
	mix_hash(hs, ct, n + NOISE_TAG_LEN);
	return 0;
}

/* --- HandshakeState ------------------------------------------------------------- */

void noise_hs_wipe(struct noise_hs *hs)
{
	if (!hs->e_borrowed)
		tern_x25519_key_free(hs->e);
	tern_x25519_pub_free(hs->re_key);
	tern_wipe(hs, sizeof(*hs));
}

void noise_hs_borrow(struct noise_hs *dst, const struct noise_hs *src)
{
	memcpy(dst, src, sizeof(*dst));
	dst->e_borrowed = 1;
	dst->re_key = NULL;
}

int noise_hs_init(struct noise_hs *hs, enum noise_pattern p, int initiator, const void *prologue,
		  size_t plen, const struct tern_x25519_key *s, const uint8_t *s_pub,
		  const uint8_t *rs, const uint8_t *psk)
{
	const struct pattern_def *d = pattern(p);
	memset(hs, 0, sizeof(*hs));
	if (d == NULL || (prologue == NULL && plen != 0))
		return -EINVAL;
	int need_s = d->pre_rs; /* IK, IKpsk1: both sides have a static key */
	if ((need_s && (s == NULL || s_pub == NULL)) || (!need_s && (s != NULL || s_pub != NULL)) ||
	    (need_s && initiator && rs == NULL) || (rs != NULL && !(need_s && initiator)) ||
	    ((psk != NULL) != (d->psk != 0)))
		return -EINVAL;
	hs->pattern = (uint8_t)p;
	hs->initiator = initiator != 0;
	if (s != NULL) {
		hs->s = s;
		memcpy(hs->s_pub, s_pub, 32);
	}
	if (rs != NULL) {
		memcpy(hs->rs, rs, 32);
		hs->has_rs = 1;
	}
	if (psk != NULL) {
		memcpy(hs->psk, psk, 32);
		hs->has_psk = 1;
	}
	/* InitializeSymmetric: a name of at most HASHLEN bytes is used as is
	 * (zero-padded), a longer one hashed. */
	size_t nl = strlen(d->name);
	if (nl <= 32)
		memcpy(hs->h, d->name, nl);
	else
		tern_sha256(hs->h, d->name, nl, NULL, 0);
	memcpy(hs->ck, hs->h, 32);
	mix_hash(hs, prologue, plen);
	if (d->pre_rs) /* "<- s": the responder's static public key */
		mix_hash(hs, initiator ? hs->rs : hs->s_pub, 32);
	return 0;
}

void noise_hs_set_ss(struct noise_hs *hs, const uint8_t ss[32])
{
	memcpy(hs->ss, ss, 32);
	hs->has_ss = 1;
}

void noise_hs_set_rs_key(struct noise_hs *hs, const struct tern_x25519_pub *p)
{
	hs->rs_key = p;
}

int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[32])
{
	if (hs->e != NULL && !hs->e_borrowed)
		return -EINVAL;
	hs->e_borrowed = 0;
	return tern_x25519_key_new(&hs->e, e_priv, hs->e_pub);
}

int noise_hs_done(const struct noise_hs *hs)
{
	return hs->pattern != 0 && hs->msg == 2;
}

/* The DH of a token: which local key and remote public key it uses. */
static int dh_token(struct noise_hs *hs, uint8_t t)
{
	const struct tern_x25519_key *priv;
	const uint8_t *pub;
	int local_e, remote_e;
	switch (t) {
	case T_EE:
		local_e = remote_e = 1;
		break;
	case T_ES: /* initiator's e, responder's s */
		local_e = hs->initiator;
		remote_e = !hs->initiator;
		break;
	case T_SE: /* initiator's s, responder's e */
		local_e = !hs->initiator;
		remote_e = hs->initiator;
		break;
	default: /* T_SS */
		local_e = remote_e = 0;
		if (hs->has_ss) {
			mix_key(hs, hs->ss, 32);
			return 0;
		}
		break;
	}
	priv = local_e ? hs->e : hs->s;
	if (priv == NULL || (remote_e ? !hs->has_re : !hs->has_rs))
		return -EINVAL;
	pub = remote_e ? hs->re : hs->rs;
	uint8_t dh[32];
	int rc;
	if (remote_e) { /* re takes part in two DH (es and ee, or ee and se): imported once */
		rc = hs->re_key == NULL ? tern_x25519_pub_new(&hs->re_key, pub) : 0;
		if (rc == 0)
			rc = tern_x25519_key_dh_pub(priv, hs->re_key, dh);
	} else if (hs->rs_key != NULL) {
		rc = tern_x25519_key_dh_pub(priv, hs->rs_key, dh);
	} else {
		rc = tern_x25519_key_dh(priv, pub, dh);
	}
	if (rc == 0)
		mix_key(hs, dh, 32);
	tern_wipe(dh, sizeof(dh));
	return rc == 0 ? 0 : rc == -ENOMEM ? -ENOMEM : -EACCES;
}

int noise_hs_write(struct noise_hs *hs, const void *payload, size_t plen, uint8_t *out, size_t cap,
		   size_t *outlen)
{
	const struct pattern_def *d = pattern(hs->pattern);
	int rc = -EINVAL;
	*outlen = 0;
	/* message 0 is the initiator's, message 1 the responder's */
	if (d == NULL || hs->msg > 1 || (hs->msg == 0) != hs->initiator ||
	    noise_msg_len(hs->pattern, hs->msg, plen) > cap)
		goto fail;
	size_t off = 0;
	for (const uint8_t *t = d->tok[hs->msg]; *t != T_END; t++) {
		switch (*t) {
		case T_E:
			if (hs->e == NULL && (rc = tern_x25519_key_generate(&hs->e, hs->e_pub)) != 0)
				goto fail;
			memcpy(out + off, hs->e_pub, 32);
			off += 32;
			mix_hash(hs, hs->e_pub, 32);
			if (d->psk)
				mix_key(hs, hs->e_pub, 32);
			break;
		case T_S:
			if ((rc = encrypt_and_hash(hs, hs->s_pub, 32, out + off)) != 0)
				goto fail;
			off += 32 + (hs->has_k ? NOISE_TAG_LEN : 0);
			break;
		case T_PSK:
			mix_key_and_hash(hs, hs->psk);
			break;
		default:
			if ((rc = dh_token(hs, *t)) != 0)
				goto fail;
			break;
		}
	}
	if ((rc = encrypt_and_hash(hs, payload, plen, out + off)) != 0)
		goto fail;
	off += plen + (hs->has_k ? NOISE_TAG_LEN : 0);
	*outlen = off;
	hs->msg++;
	return 0;
fail:
	noise_hs_wipe(hs);
	return rc;
}

int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		  size_t cap, size_t *plen)
{
	const struct pattern_def *d = pattern(hs->pattern);
	int rc = -EINVAL;
	*plen = 0;
	if (d == NULL || hs->msg > 1 || (hs->msg == 1) != hs->initiator)
		goto fail;
	size_t off = 0;
	for (const uint8_t *t = d->tok[hs->msg]; *t != T_END; t++) {
		switch (*t) {
		case T_E:
			if (len - off < 32) { /* off <= len throughout */
				rc = -EINVAL;
				goto fail;
			}
			memcpy(hs->re, msg + off, 32);
			hs->has_re = 1;
			off += 32;
			mix_hash(hs, hs->re, 32);
			if (d->psk)
				mix_key(hs, hs->re, 32);
			break;
		case T_S: {
			size_t n = 32 + (hs->has_k ? NOISE_TAG_LEN : 0);
			if (len - off < n) {
				rc = -EINVAL;
				goto fail;
			}
			if ((rc = decrypt_and_hash(hs, msg + off, 32, hs->rs)) != 0)
				goto fail;
			hs->has_rs = 1;
			off += n;
			if (hs->on_rs != NULL && (rc = hs->on_rs(hs, hs->on_rs_ctx)) != 0)
				goto fail;
			break;
		}
		case T_PSK:
			mix_key_and_hash(hs, hs->psk);
			break;
		default:
			if ((rc = dh_token(hs, *t)) != 0)
				goto fail;
			break;
		}
	}
	size_t tag = hs->has_k ? NOISE_TAG_LEN : 0;
	if (len < off + tag || len - off - tag > cap) {
		rc = -EINVAL;
		goto fail;
	}
	size_t n = len - off - tag;
	if ((rc = decrypt_and_hash(hs, msg + off, n, payload)) != 0)
		goto fail;
	*plen = n;
	hs->msg++;
	return 0;
fail:
	noise_hs_wipe(hs);
	return rc;
}

int noise_hs_split(struct noise_hs *hs, uint8_t k1[32], uint8_t k2[32], uint8_t h[32])
{
	if (!noise_hs_done(hs)) {
		noise_hs_wipe(hs);
		return -EINVAL;
	}
	tern_hkdf(hs->ck, "", 0, k1, k2, NULL);
	if (h != NULL)
		memcpy(h, hs->h, 32);
	noise_hs_wipe(hs);
	return 0;
}
