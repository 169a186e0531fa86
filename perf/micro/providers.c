/*
 * providers.c — tern-providers: the measurement behind lib/crypto.c's choice
 * of cryptographic provider. Runs tern's per-packet AEAD shape (40 bytes of
 * header and counter as associated data, 32 or 1440 bytes encrypted, 4 zero
 * bytes || 64-bit LE counter as the nonce, one context per key set up once)
 * and its handshake primitives (X25519, HKDF) on each Debian 12 library:
 * OpenSSL 3.0 EVP, libgcrypt 1.10, nettle 3.8 and libsodium 1.0.18.
 *
 *   tern-providers [ROUNDS]        interleaved timing: every candidate once per
 *                                  round (A B C D A B C D ...), ~20 ms of CPU
 *                                  time each (thread CPU time, so a shared
 *                                  machine's other work is not counted);
 *                                  prints the median, min and max per op
 *   TERN_PROVIDERS_SIZES=32,64,1440  the AEAD payload sizes (default 32,1440)
 *   TERN_PROVIDERS_ONLY=x25519     time only the benchmarks whose names start
 *                                  so (all are still cross-checked)
 *   tern-providers count NAME N    run benchmark NAME N times and nothing else
 *                                  (for instruction counts: callgrind twice with
 *                                  two N, the difference over the N difference)
 *   tern-providers list            the benchmark names
 *
 * Before timing, every AEAD candidate's ciphertext and tag are checked equal
 * to OpenSSL's, and every X25519 candidate's shared secret equal, so the
 * figures compare the same computation. perf/micro's meson.build builds it
 * when all four libraries are found (ci/deps installs them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/curve25519.h>
#include <nettle/gcm.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#define AD_LEN 40

static void die(const char *what)
{
	fprintf(stderr, "tern-providers: %s failed\n", what);
	exit(1);
}

static void make_iv(uint8_t iv[12], uint64_t ctr)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(ctr >> (8 * i));
}

/* ---- AEAD candidates: a context per key and direction, set up once -------- */

enum aead_kind { GCM, CHACHA };

struct aead {
	enum aead_kind kind;
	EVP_CIPHER_CTX *evp;
	gcry_cipher_hd_t gc;
	struct gcm_aes256_ctx ng;
	struct chacha_poly1305_ctx nc;
	crypto_aead_aes256gcm_state ss;
	uint8_t key[32];
};

static const uint8_t key0[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* OpenSSL EVP: per packet only the IV is set. */
static void evp_setup(struct aead *a, int enc)
{
	a->evp = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *c = a->kind == GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
	if (a->evp == NULL || EVP_CipherInit_ex(a->evp, c, NULL, key0, NULL, enc) != 1)
		die("EVP setup");
}

static int evp_seal(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		    uint8_t *out, uint8_t tag[16])
{
	uint8_t iv[12];
	int n;
	make_iv(iv, ctr);
	if (EVP_CipherInit_ex(a->evp, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_EncryptUpdate(a->evp, NULL, &n, ad, AD_LEN) != 1 ||
	    (len && EVP_EncryptUpdate(a->evp, out, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(a->evp, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->evp, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		return -1;
	return 0;
}

static int evp_open(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		    uint8_t *out, const uint8_t tag[16])
{
	uint8_t iv[12];
	int n;
	make_iv(iv, ctr);
	if (EVP_CipherInit_ex(a->evp, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_DecryptUpdate(a->evp, NULL, &n, ad, AD_LEN) != 1 ||
	    (len && EVP_DecryptUpdate(a->evp, out, &n, in, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(a->evp, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) != 1)
		return -1;
	return EVP_DecryptFinal_ex(a->evp, out + len, &n) == 1 ? 0 : -1;
}

/* libgcrypt: one handle per key; setiv, authenticate, en/decrypt, tag. */
static void gcry_setup(struct aead *a, int enc)
{
	(void)enc;
	int algo = a->kind == GCM ? GCRY_CIPHER_AES256 : GCRY_CIPHER_CHACHA20;
	int mode = a->kind == GCM ? GCRY_CIPHER_MODE_GCM : GCRY_CIPHER_MODE_POLY1305;
	if (gcry_cipher_open(&a->gc, algo, mode, 0) != 0 || gcry_cipher_setkey(a->gc, key0, 32) != 0)
		die("gcrypt setup");
}

static int gcry_seal(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		     uint8_t *out, uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	if (gcry_cipher_setiv(a->gc, iv, 12) || gcry_cipher_authenticate(a->gc, ad, AD_LEN) ||
	    gcry_cipher_final(a->gc) || gcry_cipher_encrypt(a->gc, out, len, in, len) ||
	    gcry_cipher_gettag(a->gc, tag, 16))
		return -1;
	return 0;
}

static int gcry_open(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		     uint8_t *out, const uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	if (gcry_cipher_setiv(a->gc, iv, 12) || gcry_cipher_authenticate(a->gc, ad, AD_LEN) ||
	    gcry_cipher_final(a->gc) || gcry_cipher_decrypt(a->gc, out, len, in, len))
		return -1;
	return gcry_cipher_checktag(a->gc, tag, 16) == 0 ? 0 : -1;
}

/* nettle: the context holds the key schedule; the AAD is one 40-byte piece
 * here (tern's second piece would need the first's tail re-blocked). */
static void nettle_setup(struct aead *a, int enc)
{
	(void)enc;
	if (a->kind == GCM)
		gcm_aes256_set_key(&a->ng, key0);
	else
		chacha_poly1305_set_key(&a->nc, key0);
}

static int nettle_seal(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		       uint8_t *out, uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	if (a->kind == GCM) {
		gcm_aes256_set_iv(&a->ng, 12, iv);
		gcm_aes256_update(&a->ng, AD_LEN, ad);
		gcm_aes256_encrypt(&a->ng, len, out, in);
		gcm_aes256_digest(&a->ng, 16, tag);
	} else {
		chacha_poly1305_set_nonce(&a->nc, iv);
		chacha_poly1305_update(&a->nc, AD_LEN, ad);
		chacha_poly1305_encrypt(&a->nc, len, out, in);
		chacha_poly1305_digest(&a->nc, 16, tag);
	}
	return 0;
}

static int nettle_open(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		       uint8_t *out, const uint8_t tag[16])
{
	uint8_t iv[12], t[16];
	make_iv(iv, ctr);
	if (a->kind == GCM) {
		gcm_aes256_set_iv(&a->ng, 12, iv);
		gcm_aes256_update(&a->ng, AD_LEN, ad);
		gcm_aes256_decrypt(&a->ng, len, out, in);
		gcm_aes256_digest(&a->ng, 16, t);
	} else {
		chacha_poly1305_set_nonce(&a->nc, iv);
		chacha_poly1305_update(&a->nc, AD_LEN, ad);
		chacha_poly1305_decrypt(&a->nc, len, out, in);
		chacha_poly1305_digest(&a->nc, 16, t);
	}
	return sodium_memcmp(t, tag, 16) == 0 ? 0 : -1;
}

/* libsodium: AES-GCM with its precomputed state; ChaCha20-Poly1305 (IETF)
 * takes the key per call (its key setup is nothing but a load). */
static void sodium_setup(struct aead *a, int enc)
{
	(void)enc;
	memcpy(a->key, key0, 32);
	if (a->kind == GCM && crypto_aead_aes256gcm_beforenm(&a->ss, key0) != 0)
		die("sodium beforenm");
}

static int sodium_seal(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		       uint8_t *out, uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	if (a->kind == GCM)
		return crypto_aead_aes256gcm_encrypt_detached_afternm(out, tag, NULL, in, len, ad, AD_LEN,
								      NULL, iv, &a->ss);
	return crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, tag, NULL, in, len, ad, AD_LEN,
								  NULL, iv, a->key);
}

static int sodium_open(struct aead *a, uint64_t ctr, const uint8_t *ad, const uint8_t *in, size_t len,
		       uint8_t *out, const uint8_t tag[16])
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	if (a->kind == GCM)
		return crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, len, tag, ad, AD_LEN,
								      iv, &a->ss);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, ad, AD_LEN,
								  iv, a->key);
}

struct provider {
	const char *name;
	void (*setup)(struct aead *, int enc);
	int (*seal)(struct aead *, uint64_t, const uint8_t *, const uint8_t *, size_t, uint8_t *,
		    uint8_t *);
	int (*open)(struct aead *, uint64_t, const uint8_t *, const uint8_t *, size_t, uint8_t *,
		    const uint8_t *);
};

static const struct provider providers[] = {
	{"openssl", evp_setup, evp_seal, evp_open},
	{"gcrypt", gcry_setup, gcry_seal, gcry_open},
	{"nettle", nettle_setup, nettle_seal, nettle_open},
	{"sodium", sodium_setup, sodium_seal, sodium_open},
};
#define NPROV (sizeof(providers) / sizeof(providers[0]))

/* ---- X25519 candidates ---------------------------------------------------- */

static uint8_t x_priv[32], x_peer[32];
static EVP_PKEY *x_pkey;     /* the prepared private key (EVP) */
static EVP_PKEY_CTX *x_pctx; /* and its derive context */

static int x_evp_import(uint8_t out[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, x_priv, 32);
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x_peer, 32);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	size_t n = 32;
	int rc = EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, p) == 1 &&
			 EVP_PKEY_derive(c, out, &n) == 1
		     ? 0
		     : -1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(p);
	EVP_PKEY_free(k);
	return rc;
}

static int x_evp_prepared(uint8_t out[32])
{
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x_peer, 32);
	size_t n = 32;
	int rc = p != NULL && EVP_PKEY_derive_set_peer(x_pctx, p) == 1 &&
			 EVP_PKEY_derive(x_pctx, out, &n) == 1
		     ? 0
		     : -1;
	EVP_PKEY_free(p);
	return rc;
}

/* the prepared key, a derive context made per DH (the key object stays
 * const, so several threads could share it) and the peer not validated
 * again (its length is all X25519 checks) */
static int x_evp_prepared_ctx(uint8_t out[32])
{
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x_peer, 32);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(x_pkey, NULL);
	size_t n = 32;
	int rc = p != NULL && c != NULL && EVP_PKEY_derive_init(c) == 1 &&
			 EVP_PKEY_derive_set_peer_ex(c, p, 0) == 1 && EVP_PKEY_derive(c, out, &n) == 1
		     ? 0
		     : -1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(p);
	return rc;
}

/* tern's shape (lib/crypto.c): the key's derive context made once, the
 * peer imported once for its DH (tern_x25519_pub) and not validated again */
static EVP_PKEY *x_peer_pkey;
static int x_evp_key_ctx_peer_once(uint8_t out[32])
{
	size_t n = 32;
	return EVP_PKEY_derive_set_peer_ex(x_pctx, x_peer_pkey, 0) == 1 &&
			       EVP_PKEY_derive(x_pctx, out, &n) == 1
		       ? 0
		       : -1;
}

static int x_sodium(uint8_t out[32])
{
	return crypto_scalarmult_curve25519(out, x_priv, x_peer);
}

static int x_gcrypt(uint8_t out[32])
{
	return gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out, x_priv, x_peer) == 0 ? 0 : -1;
}

static int x_nettle(uint8_t out[32])
{
	curve25519_mul(out, x_priv, x_peer);
	return 0;
}

/* Key pairs: a fresh private key's public key (the random bytes excluded:
 * every candidate is given the same priv). */
static int kp_evp(uint8_t out[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, x_priv, 32);
	size_t n = 32;
	int rc = k != NULL && EVP_PKEY_get_raw_public_key(k, out, &n) == 1 ? 0 : -1;
	EVP_PKEY_free(k);
	return rc;
}

static int kp_sodium(uint8_t out[32])
{
	return crypto_scalarmult_curve25519_base(out, x_priv);
}

static const uint8_t base9[32] = {9};

static int kp_gcrypt(uint8_t out[32])
{
	return gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out, x_priv, base9) == 0 ? 0 : -1;
}

static int kp_nettle(uint8_t out[32])
{
	curve25519_mul_g(out, x_priv);
	return 0;
}

/* A prepared key (an EVP_PKEY usable for DH, as tern_x25519_key) made from a
 * private key whose public key is computed elsewhere: given both, OpenSSL's
 * import does not compute the public key again. */
static EVP_PKEY *evp_from_pair(EVP_PKEY_CTX *c, uint8_t pub[32])
{
	EVP_PKEY *k = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, x_priv, 32),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 32),
		OSSL_PARAM_construct_end(),
	};
	if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR, params) != 1)
		return NULL;
	return k;
}

/* the public key by nettle's fixed-base, both into OpenSSL through context c */
static int kp_nettle_into(EVP_PKEY_CTX *c, uint8_t out[32])
{
	curve25519_mul_g(out, x_priv);
	EVP_PKEY *k = evp_from_pair(c, out);
	EVP_PKEY_CTX_free(c);
	size_t n = 32;
	int rc = k != NULL && EVP_PKEY_get_raw_public_key(k, out, &n) == 1 ? 0 : -1;
	EVP_PKEY_free(k);
	return rc;
}

/* ... with a context per key fetched by name */
static int kp_nettle_evp(uint8_t out[32])
{
	return kp_nettle_into(EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL), out);
}

/* the same from an EVP_PKEY_CTX made by id (no fetch by name) */
static int kp_nettle_evp_id(uint8_t out[32])
{
	return kp_nettle_into(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL), out);
}

/* ---- HKDF (Noise's, two outputs: three HMAC-SHA256) ----------------------- */

static uint8_t h_ck[32], h_ikm[32];
static EVP_MAC *h_mac;

static void hmac_evp_mac(uint8_t out[32], const uint8_t *k, const uint8_t *d, size_t n)
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(h_mac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t len = 32;
	if (c == NULL || EVP_MAC_init(c, k, 32, params) != 1 || EVP_MAC_update(c, d, n) != 1 ||
	    EVP_MAC_final(c, out, &len, 32) != 1)
		die("EVP_MAC");
	EVP_MAC_CTX_free(c);
}

static void hmac_oneshot(uint8_t out[32], const uint8_t *k, const uint8_t *d, size_t n)
{
	unsigned len = 32;
	if (HMAC(EVP_sha256(), k, 32, d, n, out, &len) == NULL)
		die("HMAC");
}

static void hmac_sodium(uint8_t out[32], const uint8_t *k, const uint8_t *d, size_t n)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, k, 32);
	crypto_auth_hmacsha256_update(&st, d, n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static void hmac_gcrypt(uint8_t out[32], const uint8_t *k, const uint8_t *d, size_t n)
{
	gcry_md_hd_t h;
	if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC) || gcry_md_setkey(h, k, 32))
		die("gcry_md");
	gcry_md_write(h, d, n);
	memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
}

static void hmac_gcrypt_iov(uint8_t out[32], const uint8_t *k, const uint8_t *d, size_t n)
{
	gcry_buffer_t iov[2] = {{.size = 32, .len = 32, .data = (void *)k},
				{.size = n, .len = n, .data = (void *)d}};
	if (gcry_md_hash_buffers(GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC, out, iov, 2) != 0)
		die("gcry_md_hash_buffers");
}

static void hkdf(void (*hmac)(uint8_t *, const uint8_t *, const uint8_t *, size_t), uint8_t o1[32],
		 uint8_t o2[32])
{
	uint8_t t[32], b[33];
	hmac(t, h_ck, h_ikm, 32);
	b[0] = 1;
	hmac(o1, t, b, 1);
	memcpy(b, o1, 32);
	b[32] = 2;
	hmac(o2, t, b, 33);
}

static int hkdf_evp_mac(uint8_t out[32])
{
	uint8_t o2[32];
	hkdf(hmac_evp_mac, out, o2);
	return 0;
}
static int hkdf_oneshot(uint8_t out[32])
{
	uint8_t o2[32];
	hkdf(hmac_oneshot, out, o2);
	return 0;
}
static int hkdf_gcrypt_iov(uint8_t out[32])
{
	uint8_t o2[32];
	hkdf(hmac_gcrypt_iov, out, o2);
	return 0;
}
static int hkdf_sodium(uint8_t out[32])
{
	uint8_t o2[32];
	hkdf(hmac_sodium, out, o2);
	return 0;
}
static int hkdf_gcrypt(uint8_t out[32])
{
	uint8_t o2[32];
	hkdf(hmac_gcrypt, out, o2);
	return 0;
}

/* ---- handshake-time AEAD: a context made, one 48-byte message sealed, freed */

static int once_openssl(uint8_t out[32])
{
	struct aead a = {.kind = CHACHA};
	uint8_t big[64];
	evp_setup(&a, 1);
	int rc = evp_seal(&a, 0, h_ck, h_ikm, 32, big, out);
	EVP_CIPHER_CTX_free(a.evp);
	return rc;
}

static int once_gcrypt(uint8_t out[32])
{
	struct aead a = {.kind = CHACHA};
	uint8_t big[64];
	gcry_setup(&a, 1);
	int rc = gcry_seal(&a, 0, h_ck, h_ikm, 32, big, out);
	gcry_cipher_close(a.gc);
	return rc;
}

static int once_sodium(uint8_t out[32])
{
	struct aead a = {.kind = CHACHA};
	uint8_t big[64];
	sodium_setup(&a, 1);
	return sodium_seal(&a, 0, h_ck, h_ikm, 32, big, out);
}

/* ---- SHA-256 of 64 bytes (Noise's MixHash) ---------------------------------- */

static int sha_openssl(uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 32;
	int rc = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestUpdate(c, h_ck, 32) == 1 && EVP_DigestUpdate(c, h_ikm, 32) == 1 &&
			 EVP_DigestFinal_ex(c, out, &n) == 1
		     ? 0
		     : -1;
	EVP_MD_CTX_free(c);
	return rc;
}

static int sha_gcrypt(uint8_t out[32])
{
	gcry_buffer_t iov[2] = {{.size = 32, .len = 32, .data = h_ck},
				{.size = 32, .len = 32, .data = h_ikm}};
	return gcry_md_hash_buffers(GCRY_MD_SHA256, 0, out, iov, 2) == 0 ? 0 : -1;
}

static int sha_sodium(uint8_t out[32])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, h_ck, 32);
	crypto_hash_sha256_update(&st, h_ikm, 32);
	return crypto_hash_sha256_final(&st, out);
}

/* ---- the benchmark table -------------------------------------------------- */

struct bench {
	char name[48];
	int kind;      /* 0 AEAD seal, 1 AEAD open, 2 one-shot function */
	int prov;      /* AEAD: index into providers */
	enum aead_kind cipher;
	size_t len;
	int (*fn)(uint8_t out[32]);
	double scale; /* ns per unit printed */
	const char *group; /* results in one group must be equal */
	struct aead a;
	uint8_t ct[2048], tag[16];
};

static struct bench benches[160];
static int nbench;
static uint8_t ad[AD_LEN], pt[2048], out[2048];

static void add_aead(int prov, enum aead_kind c, int open, size_t len)
{
	struct bench *b = &benches[nbench++];
	snprintf(b->name, sizeof(b->name), "%s/%s/%s/%zu", c == GCM ? "gcm" : "chacha",
		 open ? "open" : "seal", providers[prov].name, len);
	b->kind = open;
	b->prov = prov;
	b->cipher = c;
	b->len = len;
	b->scale = 1;
	b->a.kind = c;
	providers[prov].setup(&b->a, !open);
	if (open) { /* the packet it opens, sealed by a separate context */
		struct aead e = {.kind = c};
		providers[prov].setup(&e, 1);
		if (providers[prov].seal(&e, 7, ad, pt, len, b->ct, b->tag) != 0)
			die(b->name);
	}
}

static void add_fn(const char *name, const char *group, int (*fn)(uint8_t *), double scale)
{
	struct bench *b = &benches[nbench++];
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->kind = 2;
	b->fn = fn;
	b->scale = scale;
	b->group = group;
}

static int run_once(struct bench *b, uint64_t i)
{
	const struct provider *p = &providers[b->prov];
	switch (b->kind) {
	case 0:
		return p->seal(&b->a, i, ad, pt, b->len, out, b->tag);
	case 1:
		return p->open(&b->a, 7, ad, b->ct, b->len, out, b->tag);
	default:
		return b->fn(out);
	}
}

/* payload sizes: tern's smallest and MTU-sized packets; TERN_PROVIDERS_SIZES
 * (comma-separated) for others */
static size_t lens[8] = {32, 1440};
static size_t nlens = 2;

static void setup_all(void)
{
	const char *env = getenv("TERN_PROVIDERS_SIZES");
	if (env != NULL) {
		nlens = 0;
		for (char *e; *env != '\0' && nlens < 8; env = *e == ',' ? e + 1 : e) {
			unsigned long v = strtoul(env, &e, 10);
			if (e == env || v > 2000)
				die("TERN_PROVIDERS_SIZES (numbers up to 2000, comma-separated)");
			lens[nlens++] = v;
		}
	}
	for (size_t i = 0; i < sizeof(ad); i++)
		ad[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 13 + 5);
	for (int i = 0; i < 32; i++) {
		x_priv[i] = (uint8_t)(i * 29 + 3);
		h_ck[i] = (uint8_t)i;
		h_ikm[i] = (uint8_t)(i + 100);
	}
	/* the peer: a real public key */
	uint8_t pp[32];
	for (int i = 0; i < 32; i++)
		pp[i] = (uint8_t)(i * 31 + 11);
	crypto_scalarmult_curve25519_base(x_peer, pp);
	x_pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, x_priv, 32);
	x_pctx = x_pkey != NULL ? EVP_PKEY_CTX_new(x_pkey, NULL) : NULL;
	if (x_pctx == NULL || EVP_PKEY_derive_init(x_pctx) != 1)
		die("EVP X25519 setup");
	x_peer_pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x_peer, 32);
	if (x_peer_pkey == NULL)
		die("EVP X25519 peer");
	h_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

	for (enum aead_kind c = GCM; c <= CHACHA; c++)
		for (size_t li = 0; li < nlens; li++)
			for (int open = 0; open < 2; open++)
				for (int p = 0; p < (int)NPROV; p++)
					add_aead(p, c, open, lens[li]);
	add_fn("x25519/dh/openssl-import", "dh", x_evp_import, 1e-3);
	add_fn("x25519/dh/openssl-prepared", "dh", x_evp_prepared, 1e-3);
	add_fn("x25519/dh/openssl-prepared-ctx", "dh", x_evp_prepared_ctx, 1e-3);
	add_fn("x25519/dh/openssl-key-ctx-peer-once", "dh", x_evp_key_ctx_peer_once, 1e-3);
	add_fn("x25519/dh/gcrypt", "dh", x_gcrypt, 1e-3);
	add_fn("x25519/dh/nettle", "dh", x_nettle, 1e-3);
	add_fn("x25519/dh/sodium", "dh", x_sodium, 1e-3);
	add_fn("x25519/pub/openssl", "pub", kp_evp, 1e-3);
	add_fn("x25519/pub/gcrypt", "pub", kp_gcrypt, 1e-3);
	add_fn("x25519/pub/nettle", "pub", kp_nettle, 1e-3);
	add_fn("x25519/pub/sodium", "pub", kp_sodium, 1e-3);
	add_fn("x25519/pub/nettle+openssl-key", "pub", kp_nettle_evp, 1e-3);
	add_fn("x25519/pub/nettle+openssl-key-id", "pub", kp_nettle_evp_id, 1e-3);
	add_fn("hkdf2/openssl-evp_mac", "hkdf", hkdf_evp_mac, 1);
	add_fn("hkdf2/openssl-HMAC", "hkdf", hkdf_oneshot, 1);
	add_fn("hkdf2/gcrypt", "hkdf", hkdf_gcrypt, 1);
	add_fn("hkdf2/gcrypt-hash_buffers", "hkdf", hkdf_gcrypt_iov, 1);
	add_fn("hkdf2/sodium", "hkdf", hkdf_sodium, 1);
	add_fn("sha256-64/openssl", "sha", sha_openssl, 1);
	add_fn("sha256-64/gcrypt", "sha", sha_gcrypt, 1);
	add_fn("sha256-64/sodium", "sha", sha_sodium, 1);
	add_fn("chacha-new-seal32-free/openssl", "once", once_openssl, 1);
	add_fn("chacha-new-seal32-free/gcrypt", "once", once_gcrypt, 1);
	add_fn("chacha-new-seal32-free/sodium", "once", once_sodium, 1);
}

/* Every candidate computes the same thing as the first of its group. */
static void cross_check(void)
{
	uint8_t ref_ct[2048], ref_tag[16], ref32[32];
	const char *group = NULL;
	for (int i = 0; i < nbench; i++) {
		struct bench *b = &benches[i];
		memset(out, 0, sizeof(out));
		if (run_once(b, 1) != 0)
			die(b->name);
		int first = b->kind == 2 ? (group == NULL || strcmp(group, b->group) != 0)
					 : b->prov == 0;
		if (b->kind == 0 && first) {
			memcpy(ref_ct, out, b->len);
			memcpy(ref_tag, b->tag, 16);
		} else if (b->kind == 0 && (memcmp(ref_ct, out, b->len) || memcmp(ref_tag, b->tag, 16))) {
			fprintf(stderr, "%s differs from openssl\n", b->name);
			exit(1);
		} else if (b->kind == 1 && memcmp(out, pt, b->len) != 0) {
			fprintf(stderr, "%s: wrong plaintext\n", b->name);
			exit(1);
		} else if (b->kind == 2 && first) {
			memcpy(ref32, out, 32);
			group = b->group;
		} else if (b->kind == 2 && memcmp(ref32, out, 32) != 0) {
			fprintf(stderr, "%s differs from the first of its group\n", b->name);
			exit(1);
		}
		if (b->kind == 1) { /* a flipped tag bit is refused */
			b->tag[3] ^= 4;
			if (run_once(b, 1) == 0) {
				fprintf(stderr, "%s accepted a bad tag\n", b->name);
				exit(1);
			}
			b->tag[3] ^= 4;
		}
	}
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine may be shared */
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (!gcry_check_version(GCRYPT_VERSION))
		die("gcry_check_version");
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	if (sodium_init() < 0)
		die("sodium_init");
	if (!crypto_aead_aes256gcm_is_available())
		die("libsodium AES-GCM (needs AES-NI)");
	setup_all();
	cross_check();

	if (argc > 1 && strcmp(argv[1], "list") == 0) {
		for (int i = 0; i < nbench; i++)
			printf("%s\n", benches[i].name);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "count") == 0) {
		long n = atol(argv[3]);
		for (int i = 0; i < nbench; i++)
			if (strcmp(benches[i].name, argv[2]) == 0) {
				for (long k = 0; k < n; k++)
					if (run_once(&benches[i], (uint64_t)k) != 0)
						die(argv[2]);
				return 0;
			}
		fprintf(stderr, "no benchmark %s (tern-providers list)\n", argv[2]);
		return 2;
	}
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	if (rounds < 1 || rounds > 99)
		rounds = 7;
	const char *only = getenv("TERN_PROVIDERS_ONLY");
	if (only != NULL) {
		int k = 0;
		for (int i = 0; i < nbench; i++)
			if (strncmp(benches[i].name, only, strlen(only)) == 0)
				benches[k++] = benches[i];
		nbench = k;
	}
	static double res[160][99];
	long iters[160];
	for (int i = 0; i < nbench; i++) { /* ~20 ms per round */
		double t0 = now_ns();
		long n = 0;
		while (now_ns() - t0 < 5e6)
			run_once(&benches[i], (uint64_t)n++);
		iters[i] = n * 4;
	}
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < nbench; i++) {
			double t0 = now_ns();
			for (long k = 0; k < iters[i]; k++)
				run_once(&benches[i], (uint64_t)k);
			res[i][r] = (now_ns() - t0) / iters[i];
		}
	printf("%-34s %10s %10s %10s   (%d interleaved rounds)\n", "benchmark", "median", "min", "max",
	       rounds);
	for (int i = 0; i < nbench; i++) {
		qsort(res[i], (size_t)rounds, sizeof(double), cmp_double);
		double s = benches[i].scale;
		printf("%-34s %10.1f %10.1f %10.1f %s\n", benches[i].name, res[i][rounds / 2] * s,
		       res[i][0] * s, res[i][rounds - 1] * s, s == 1 ? "ns" : "us");
	}
	return 0;
}
