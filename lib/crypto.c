/*
 * crypto.c — tern's cryptographic primitives, every one from a maintained,
 * Debian-packaged library; tern writes protocols (noise.c, protect.c),
 * never primitives. This file owns the choice of provider, the per-key
 * contexts, and the wiping of what they hold.
 *
 *   AES-256-GCM                libgcrypt 1.10  (per-packet AEAD, the default)
 *   SHA-256, HMAC-SHA256       libgcrypt 1.10  (handshake; HKDF is Noise's, on HMAC)
 *   ChaCha20-Poly1305          OpenSSL 3.0 EVP (AEAD where the CPU lacks AES-NI;
 *                                               the handshake's AEAD)
 *   X25519 DH, random, base64  OpenSSL 3.0
 *   X25519 public keys         nettle 3.8 (hogweed: curve25519_mul_g)
 *
 * Why (perf/micro/providers.c: `TERN_PROVIDERS_SIZES=32,64,1440
 * tern-providers 15`, tern's packet shape: 40 bytes of AAD, one context per
 * key set up once, the nonce set per packet; median CPU time per seal /
 * open over 15 interleaved rounds; AMD EPYC with AVX-512 and VAES, a
 * shared machine):
 *
 *   AES-256-GCM, ns    32 B        64 B        1440 B
 *   libgcrypt 1.10     139 / 145   117 / 115   432 / 449
 *   nettle 3.8          83 / 124    96 / 135   839 / 913
 *   libsodium 1.0.18   169 / 177   194 / 214   905 / 1079
 *   OpenSSL 3.0 EVP    239 / 226   239 / 227   541 / 518
 *
 * libgcrypt is the fastest from 64-byte payloads up, where the bulk of the
 * bytes go: 15-20% ahead of OpenSSL and twice nettle and libsodium at MTU
 * size. It takes the AAD in pieces of any length (tern authenticates
 * header+counter, then at the integrity level the payload: nettle needs
 * every piece but the last in whole 16-byte blocks, libsodium takes one
 * piece), works in place and out of place, and its handle holds the key
 * schedule and GHASH tables, computed once and wiped by gcry_cipher_close.
 * nettle seals a payload under 64 bytes ~55 ns faster and loses everywhere
 * else; OpenSSL 3.0 spends ~150 ns per call in provider dispatch. The
 * in-tree code this replaced ran 59 / 60 ns at 32 B and 416 / 432 at 1440.
 *
 *   ChaCha20-Poly1305  32 B        1440 B
 *   OpenSSL 3.0 EVP    534 / 555   1016 / 1095
 *   libgcrypt 1.10     497 / 519   1365 / 1218
 *   libsodium 1.0.18   486 / 477   2019 / 2029
 *   nettle 3.8         545 / 597   5658 / 5820
 *
 *   X25519, us         DH     public key of a private key
 *   OpenSSL, imported  35.6   31.6   (EVP_PKEY made once: tern_x25519_key)
 *   OpenSSL, per use   70.0          (the import computes the public key)
 *   libsodium 1.0.18   35.4   32.3
 *   nettle 3.8         55.0   24.8
 *   libgcrypt 1.10    137.2  134.6
 *
 * and again for finding 8 of issue 10 (`TERN_PROVIDERS_ONLY=x25519
 * tern-providers 9`, 9 interleaved rounds, medians, the machine shared
 * with a load average of 15 on 2 cores):
 *
 *   OpenSSL DH: peer imported and validated, context per DH    34.6
 *               peer imported and validated, context reused    33.5
 *               peer imported once, context per key (tern)     28.8
 *   public key: OpenSSL import of the private key              31.3
 *               nettle curve25519_mul_g alone                   23.7
 *               nettle, then both halves into OpenSSL (tern)    26.9
 *   libsodium DH 33.5, public key 30.6; nettle DH 53.8
 *
 *   SHA-256 of 64 B: libgcrypt 104 ns, libsodium 404, OpenSSL 417.
 *   Noise HKDF (3 HMAC): libgcrypt 1.16 us, libsodium 2.46, OpenSSL 2.83.
 *
 * So hashing moves to libgcrypt; X25519's DH stays on OpenSSL with the key
 * imported once, its derive context made once per key and a peer's key
 * imported once per peer (tern_x25519_pub: the import and OpenSSL's
 * validation of it, a length check for X25519, cost ~5 us a DH); public
 * keys come from nettle's fixed-base multiplication, handed to OpenSSL
 * with the private key so its import does not compute them again
 * (libsodium is no faster at either; nettle's DH is slower);
 * ChaCha20-Poly1305 stays on OpenSSL for its bulk speed (tern_cipher_local
 * picks it only where AES-NI is missing). SHA-256 goes through
 * gcry_md_hash_buffers (no handle: 0.12 us for 64 B, 0.2 with one) and
 * the HKDF keeps one keyed HMAC handle for its outputs (1.0 us, 1.27 with
 * a handle per HMAC).
 *
 * Neither provider can check a tag before decrypting (GCM and Poly1305 are
 * computed in the same pass), so tern_aead_open decrypts, checks, and
 * zeroes its output on a mismatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>
#include <nettle/curve25519.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "tern_internal.h"

void tern_wipe(void *p, size_t len)
{
	if (p != NULL && len != 0)
		OPENSSL_cleanse(p, len);
}

int tern_random(void *p, size_t len)
{
	return len <= INT_MAX && RAND_bytes(p, (int)len) == 1 ? 0 : -EIO;
}

/* --- libgcrypt, loaded once --------------------------------------------------- */

#define GCRYPT_MIN "1.10.0"

static int gcrypt_rc = -EIO;
static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;

/* A library using libgcrypt checks its version; the initialisation proper
 * belongs to the application, so tern completes it only if the application
 * has not (without secure memory: tern's secrets live in its own memory and
 * in libgcrypt handles, which are wiped when closed). */
static void gcrypt_init(void)
{
	if (gcry_check_version(GCRYPT_MIN) == NULL)
		return;
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	gcrypt_rc = 0;
}

static int gcrypt_ready(void)
{
	pthread_once(&gcrypt_once, gcrypt_init);
	return gcrypt_rc;
}

/* --- X25519 ------------------------------------------------------------------- */

struct tern_x25519_key {
	EVP_PKEY *pkey;     /* OpenSSL keeps the private key in secure heap, cleared on free */
	EVP_PKEY_CTX *ctx;  /* its derive context, made and initialised once */
};

/*
 * Import priv into OpenSSL with its public key computed by nettle's
 * fixed-base multiplication (curve25519_mul_g: clamps as RFC 7748 does,
 * side-channel silent, ~25 us) and handed to OpenSSL with it, so the
 * import does not compute it again on OpenSSL's slower fixed-base path
 * (~31 us; see the table above). Only the DH itself then runs in OpenSSL.
 */
int tern_x25519_key_new(struct tern_x25519_key **out, const uint8_t priv[32], uint8_t pub[32])
{
	if (out == NULL || priv == NULL)
		return -EINVAL;
	struct tern_x25519_key *k = malloc(sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	uint8_t p[32];
	curve25519_mul_g(p, priv);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)(uintptr_t)priv,
						  32),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, p, 32),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	k->pkey = NULL;
	k->ctx = NULL;
	int ok = c != NULL && EVP_PKEY_fromdata_init(c) == 1 &&
		 EVP_PKEY_fromdata(c, &k->pkey, EVP_PKEY_KEYPAIR, params) == 1;
	EVP_PKEY_CTX_free(c);
	/* The derive context is made here once: per DH it would cost ~2 us
	 * (a method fetch by name) on top of the ~30 us multiplication. */
	if (!ok || (k->ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL ||
	    EVP_PKEY_derive_init(k->ctx) != 1) {
		tern_x25519_key_free(k);
		return -ENOMEM;
	}
	if (pub != NULL)
		memcpy(pub, p, 32);
	*out = k;
	return 0;
}

int tern_x25519_key_generate(struct tern_x25519_key **out, uint8_t pub[32])
{
	uint8_t priv[32];
	int rc = tern_random(priv, sizeof(priv));
	if (rc == 0)
		rc = tern_x25519_key_new(out, priv, pub);
	tern_wipe(priv, sizeof(priv));
	return rc;
}

void tern_x25519_key_free(struct tern_x25519_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_CTX_free(k->ctx);
	EVP_PKEY_free(k->pkey);
	free(k);
}

struct tern_x25519_pub {
	EVP_PKEY *pkey;
};

int tern_x25519_pub_new(struct tern_x25519_pub **out, const uint8_t pub[32])
{
	if (out == NULL || pub == NULL)
		return -EINVAL;
	struct tern_x25519_pub *p = malloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	if (p->pkey == NULL) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void tern_x25519_pub_free(struct tern_x25519_pub *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->pkey);
	free(p);
}

int tern_x25519_key_dh_pub(const struct tern_x25519_key *k, const struct tern_x25519_pub *p,
			   uint8_t out[32])
{
	size_t n = 32;
	int rc = -EINVAL;
	/* The peer is not "validated" by OpenSSL (for X25519 that is a length
	 * check, at the cost of a context per call): a low-order key gives an
	 * all-zero result, which OpenSSL refuses and which is checked again
	 * here, in constant time, so the rule does not rest on one provider's
	 * behaviour. The context keeps a reference to p's key until the next
	 * DH or its free (reference-counted: p may be freed before). */
	if (EVP_PKEY_derive_set_peer_ex(k->ctx, p->pkey, 0) == 1 &&
	    EVP_PKEY_derive(k->ctx, out, &n) == 1 && n == 32) {
		uint8_t acc = 0;
		for (int i = 0; i < 32; i++)
			acc |= out[i];
		rc = acc != 0 ? 0 : -EINVAL;
	}
	if (rc != 0)
		tern_wipe(out, 32);
	return rc;
}

int tern_x25519_key_dh(const struct tern_x25519_key *k, const uint8_t pub[32], uint8_t out[32])
{
	struct tern_x25519_pub *p;
	int rc = tern_x25519_pub_new(&p, pub);
	if (rc != 0) {
		tern_wipe(out, 32);
		return rc;
	}
	rc = tern_x25519_key_dh_pub(k, p, out);
	tern_x25519_pub_free(p);
	return rc;
}

int tern_x25519_public(const uint8_t priv[32], uint8_t pub[32])
{
	struct tern_x25519_key *k;
	int rc = tern_x25519_key_new(&k, priv, pub);
	if (rc == 0)
		tern_x25519_key_free(k);
	return rc;
}

int tern_x25519_keypair(uint8_t priv[32], uint8_t pub[32])
{
	int rc = tern_random(priv, 32);
	if (rc == 0)
		rc = tern_x25519_public(priv, pub);
	if (rc != 0)
		tern_wipe(priv, 32);
	return rc;
}

int tern_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	struct tern_x25519_key *k;
	int rc = tern_x25519_key_new(&k, priv, NULL);
	if (rc != 0)
		return rc;
	rc = tern_x25519_key_dh(k, pub, out);
	tern_x25519_key_free(k);
	return rc;
}

/* --- hashing --------------------------------------------------------------------- */

/* An HMAC-SHA256 handle keyed with key (libgcrypt keeps the keyed state, so
 * gcry_md_reset returns to it: several MACs under one key pay for one open
 * and one key setup), or NULL. gcry_md_close wipes it, key pads included. */
static gcry_md_hd_t hmac_open(const uint8_t *key, size_t klen)
{
	gcry_md_hd_t h = NULL;
	if (gcrypt_ready() != 0 || gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC) != 0)
		return NULL;
	if (gcry_md_setkey(h, key, klen) != 0) {
		gcry_md_close(h);
		return NULL;
	}
	return h;
}

/* The MAC of a || b (b may be NULL) under h's key into out (zeros if h is
 * NULL: see crypto.h), and h back to its keyed state. */
static void hmac_put(gcry_md_hd_t h, uint8_t out[32], const void *a, size_t alen, const void *b,
		     size_t blen)
{
	const unsigned char *d = NULL;
	if (h != NULL) {
		gcry_md_write(h, a, alen);
		if (b != NULL)
			gcry_md_write(h, b, blen);
		d = gcry_md_read(h, GCRY_MD_SHA256);
	}
	if (d != NULL)
		memcpy(out, d, 32);
	else
		memset(out, 0, 32);
	if (h != NULL)
		gcry_md_reset(h);
}

/* SHA-256 in one call on the caller's stack: no handle to allocate. */
void tern_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	gcry_buffer_t iov[2] = {
		{.size = alen, .len = alen, .data = (void *)(uintptr_t)a},
		{.size = blen, .len = blen, .data = (void *)(uintptr_t)b},
	};
	if (gcrypt_ready() != 0 ||
	    gcry_md_hash_buffers(GCRY_MD_SHA256, 0, out, iov, b != NULL ? 2 : 1) != 0)
		memset(out, 0, 32); /* see crypto.h: no session can be keyed then */
}

void tern_hmac(uint8_t out[32], const uint8_t *key, size_t klen, const void *a, size_t alen,
	       const void *b, size_t blen)
{
	gcry_md_hd_t h = hmac_open(key, klen);
	hmac_put(h, out, a, alen, b, blen);
	gcry_md_close(h);
}

/* Two handles rather than one per HMAC: the outputs share the key temp. */
void tern_hkdf(const uint8_t ck[32], const void *ikm, size_t ilen, uint8_t out1[32],
	       uint8_t out2[32], uint8_t *out3)
{
	uint8_t temp[32], one = 1, two = 2, three = 3;
	tern_hmac(temp, ck, 32, ikm, ilen, NULL, 0); /* ck is not read after this: outputs may alias it */
	gcry_md_hd_t h = hmac_open(temp, sizeof(temp));
	hmac_put(h, out1, &one, 1, NULL, 0);
	hmac_put(h, out2, out1, 32, &two, 1);
	if (out3 != NULL)
		hmac_put(h, out3, out2, 32, &three, 1);
	gcry_md_close(h);
	tern_wipe(temp, sizeof(temp));
}

/* --- AEAD ------------------------------------------------------------------------ */

unsigned tern_cipher_local(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") && gcrypt_ready() == 0 &&
	    !gcry_fips_mode_active())
		return TERN_CIPHER_AES256GCM;
#endif
	return TERN_CIPHER_CHACHAPOLY;
}

struct tern_aead {
	unsigned cipher;
	int encrypt;
	gcry_cipher_hd_t gcm; /* AES-256-GCM: libgcrypt */
	EVP_CIPHER_CTX *evp;  /* ChaCha20-Poly1305: OpenSSL */
};

int tern_aead_new(struct tern_aead **out, unsigned cipher, const uint8_t key[32], int encrypt)
{
	if (cipher != TERN_CIPHER_AES256GCM && cipher != TERN_CIPHER_CHACHAPOLY)
		return -EINVAL;
	if (gcrypt_ready() != 0)
		return -EIO;
	struct tern_aead *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->cipher = cipher;
	a->encrypt = encrypt != 0;
	int rc = 0;
	if (cipher == TERN_CIPHER_AES256GCM) {
		if (gcry_cipher_open(&a->gcm, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) != 0)
			rc = -ENOMEM;
		else if (gcry_cipher_setkey(a->gcm, key, 32) != 0)
			rc = -EIO;
	} else {
		a->evp = EVP_CIPHER_CTX_new();
		if (a->evp == NULL)
			rc = -ENOMEM;
		else if (EVP_CipherInit_ex(a->evp, EVP_chacha20_poly1305(), NULL, key, NULL,
					   a->encrypt) != 1)
			rc = -EIO;
	}
	if (rc != 0) {
		tern_aead_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void tern_aead_free(struct tern_aead *a)
{
	if (a == NULL)
		return;
	gcry_cipher_close(a->gcm);   /* wipes the key schedule and GHASH tables */
	EVP_CIPHER_CTX_free(a->evp); /* cleanses the key */
	free(a);
}

/* In place (in == out) or apart; a partial overlap is refused. */
static int buffers_ok(const void *in, const void *out, size_t len)
{
	if (len == 0)
		return 1;
	if (in == NULL || out == NULL || len > INT_MAX) /* EVP takes int lengths */
		return 0;
	uintptr_t i = (uintptr_t)in, o = (uintptr_t)out;
	return i == o || i + len <= o || o + len <= i;
}

static void make_iv(uint8_t iv[12], uint64_t ctr)
{
	uint64_t le = tern_le64(ctr);
	memset(iv, 0, 4);
	memcpy(iv + 4, &le, 8);
}

static int gcm_seal(gcry_cipher_hd_t h, const uint8_t iv[12], const void *ad, size_t adlen,
		    const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
		    uint8_t tag[16])
{
	if (gcry_cipher_setiv(h, iv, 12) != 0 ||
	    (adlen != 0 && gcry_cipher_authenticate(h, ad, adlen) != 0) ||
	    (ad2len != 0 && gcry_cipher_authenticate(h, ad2, ad2len) != 0) ||
	    (len != 0 && gcry_cipher_encrypt(h, out, len, in == out ? NULL : in,
					     in == out ? 0 : len) != 0) ||
	    gcry_cipher_gettag(h, tag, 16) != 0)
		return -EIO;
	return 0;
}

static int gcm_open(gcry_cipher_hd_t h, const uint8_t iv[12], const void *ad, size_t adlen,
		    const void *in, size_t len, void *out, const uint8_t tag[16])
{
	if (gcry_cipher_setiv(h, iv, 12) != 0 ||
	    (adlen != 0 && gcry_cipher_authenticate(h, ad, adlen) != 0) ||
	    (len != 0 && gcry_cipher_decrypt(h, out, len, in == out ? NULL : in,
					     in == out ? 0 : len) != 0))
		return -EIO;
	gcry_error_t e = gcry_cipher_checktag(h, tag, 16);
	return e == 0 ? 0 : gcry_err_code(e) == GPG_ERR_CHECKSUM ? -EBADMSG : -EIO;
}

static int evp_seal(EVP_CIPHER_CTX *c, const uint8_t iv[12], const void *ad, size_t adlen,
		    const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
		    uint8_t tag[16])
{
	int n;
	uint8_t none[16]; /* ChaCha20-Poly1305 writes nothing at the end */
	if (adlen > INT_MAX || ad2len > INT_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, 1) != 1 ||
	    (adlen != 0 && EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen) != 1) ||
	    (ad2len != 0 && EVP_EncryptUpdate(c, NULL, &n, ad2, (int)ad2len) != 1) ||
	    (len != 0 && EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(c, len != 0 ? (uint8_t *)out + len : none, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		return -EIO;
	return 0;
}

static int evp_open(EVP_CIPHER_CTX *c, const uint8_t iv[12], const void *ad, size_t adlen,
		    const void *in, size_t len, void *out, const uint8_t tag[16])
{
	int n;
	uint8_t none[16];
	if (adlen > INT_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, 0) != 1 ||
	    (adlen != 0 && EVP_DecryptUpdate(c, NULL, &n, ad, (int)adlen) != 1) ||
	    (len != 0 && EVP_DecryptUpdate(c, out, &n, in, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(uintptr_t)tag) != 1)
		return -EIO;
	return EVP_DecryptFinal_ex(c, len != 0 ? (uint8_t *)out + len : none, &n) == 1 ? 0 : -EBADMSG;
}

int tern_aead_seal_iv(struct tern_aead *a, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
		      uint8_t tag[16])
{
	if (!a->encrypt || !buffers_ok(in, out, len))
		return -EINVAL;
	if (a->gcm != NULL)
		return gcm_seal(a->gcm, iv, ad, adlen, ad2, ad2len, in, len, out, tag);
	return evp_seal(a->evp, iv, ad, adlen, ad2, ad2len, in, len, out, tag);
}

int tern_aead_open_iv(struct tern_aead *a, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *in, size_t len, void *out, const uint8_t tag[16])
{
	if (a->encrypt || !buffers_ok(in, out, len))
		return -EINVAL;
	int rc = a->gcm != NULL ? gcm_open(a->gcm, iv, ad, adlen, in, len, out, tag)
				: evp_open(a->evp, iv, ad, adlen, in, len, out, tag);
	if (rc != 0)
		tern_wipe(out, len); /* never unauthenticated plaintext */
	return rc;
}

int tern_aead_seal(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *ad2,
		   size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	return tern_aead_seal_iv(a, iv, ad, adlen, ad2, ad2len, in, len, out, tag);
}

int tern_aead_open(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *in,
		   size_t len, void *out, const uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	return tern_aead_open_iv(a, iv, ad, adlen, in, len, out, tag);
}

/* --- key files ----------------------------------------------------------------- */

#define B64_KEY_LEN 44 /* 32 bytes: 43 characters and one '=' */

/* A key file read line by line with read(2) into a buffer wiped on close:
 * stdio would keep the file's bytes in a buffer that fclose frees unwiped. */
struct key_file {
	int fd;
	int eof;
	size_t have, pos; /* bytes in buf; start of the next line */
	char buf[4096];
};

static int key_file_open(struct key_file *f, const char *path)
{
	if (path == NULL)
		return -EINVAL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	f->eof = 0;
	f->have = f->pos = 0;
	return f->fd < 0 ? -errno : 0;
}

static void key_file_close(struct key_file *f)
{
	tern_wipe(f->buf, sizeof(f->buf));
	close(f->fd);
}

/* The next line, NUL-terminated without its '\n', or NULL at the end of
 * the file or on an error (*rc: -EINVAL for a line longer than the buffer,
 * -errno for a read error). */
static char *key_file_line(struct key_file *f, int *rc)
{
	for (;;) {
		char *start = f->buf + f->pos;
		char *nl = memchr(start, '\n', f->have - f->pos);
		if (nl != NULL || (f->eof && f->pos < f->have)) {
			size_t end = nl != NULL ? (size_t)(nl - f->buf) : f->have;
			f->buf[end] = '\0'; /* buf keeps one byte spare for this */
			f->pos = nl != NULL ? end + 1 : end;
			return start;
		}
		if (f->eof)
			return NULL;
		memmove(f->buf, start, f->have - f->pos); /* the partial line to the front */
		f->have -= f->pos;
		f->pos = 0;
		if (f->have >= sizeof(f->buf) - 1) {
			*rc = -EINVAL;
			return NULL;
		}
		ssize_t n = read(f->fd, f->buf + f->have, sizeof(f->buf) - 1 - f->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*rc = -errno;
			return NULL;
		}
		f->eof = n == 0;
		f->have += (size_t)n;
	}
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A line holding one key: blanks around it, optionally a '#' comment after
 * it; only the canonical base64 encoding of 32 bytes is a key. */
static int decode_key(const char *line, uint8_t key[32])
{
	uint8_t raw[36];
	char back[B64_KEY_LEN + 4];
	while (is_space(*line))
		line++;
	if (strnlen(line, B64_KEY_LEN) < B64_KEY_LEN)
		return -EINVAL;
	for (const char *p = line + B64_KEY_LEN; *p != '\0' && *p != '#'; p++)
		if (!is_space(*p))
			return -EINVAL;
	int rc = -EINVAL;
	/* 44 characters decode to 33 bytes, the last from the '=' pad; the
	 * encoding of the 32 bytes must give the same 44 characters back
	 * (no stray bits, no other padding). */
	if (EVP_DecodeBlock(raw, (const uint8_t *)line, B64_KEY_LEN) == 33 &&
	    EVP_EncodeBlock((uint8_t *)back, raw, 32) == B64_KEY_LEN &&
	    memcmp(back, line, B64_KEY_LEN) == 0) {
		memcpy(key, raw, 32);
		rc = 0;
	}
	tern_wipe(raw, sizeof(raw));
	tern_wipe(back, sizeof(back));
	return rc;
}

int tern_key_read(const char *path, uint8_t key[32])
{
	struct key_file f;
	int rc = key_file_open(&f, path);
	if (rc != 0)
		return rc;
	rc = -EINVAL;
	const char *line = key_file_line(&f, &rc);
	if (line != NULL)
		rc = decode_key(line, key);
	key_file_close(&f);
	return rc;
}

int tern_key_write(const char *path, const uint8_t key[32], int private_mode)
{
	char b64[B64_KEY_LEN + 4];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_mode ? 0600 : 0644);
	if (fd < 0)
		return -errno;
	if (private_mode && fchmod(fd, 0600) != 0) { /* an existing file keeps its mode otherwise */
		int e = -errno;
		close(fd);
		return e;
	}
	int n = EVP_EncodeBlock((uint8_t *)b64, key, 32);
	b64[n++] = '\n';
	int rc = write(fd, b64, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -EIO;
	tern_wipe(b64, sizeof(b64));
	return rc;
}

int tern_keys_read(const char *path, uint8_t (**keys)[32], uint32_t *n)
{
	struct key_file f;
	*keys = NULL;
	*n = 0;
	int rc = key_file_open(&f, path);
	if (rc != 0)
		return rc;
	uint32_t cap = 0;
	const char *line;
	while ((line = key_file_line(&f, &rc)) != NULL) {
		while (is_space(*line))
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		if (*n == cap) {
			uint32_t ncap = cap ? 2 * cap : 16;
			void *k = ncap > cap ? realloc(*keys, ncap * sizeof(**keys)) : NULL;
			if (k == NULL) {
				rc = -ENOMEM;
				break;
			}
			*keys = k;
			cap = ncap;
		}
		if ((rc = decode_key(line, (*keys)[*n])) != 0)
			break;
		(*n)++;
	}
	key_file_close(&f);
	if (rc != 0) {
		free(*keys);
		*keys = NULL;
		*n = 0;
	}
	return rc;
}

int tern_keygen(const char *name)
{
	uint8_t priv[32], pub[32];
	char path[4096];
	if (name == NULL || name[0] == '\0' || strlen(name) > sizeof(path) - 8)
		return -EINVAL;
	int rc = tern_x25519_keypair(priv, pub);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s.key", name);
		rc = tern_key_write(path, priv, 1);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s.pub", name);
		rc = tern_key_write(path, pub, 0);
	}
	tern_wipe(priv, sizeof(priv));
	return rc;
}
