/*
 * crypto.c — tern's security primitives over OpenSSL 3's libcrypto (EVP).
 *
 * Handshake-time primitives (X25519, SHA-256, HMAC, HKDF, key files) run on
 * the control path. The AEAD contexts run per packet: the key schedule is
 * done once per session and direction, and a packet only sets its nonce,
 * feeds associated data and payload, and reads or checks the tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	return RAND_bytes(p, (int)len) == 1 ? 0 : -EIO;
}

/* --- X25519 ---------------------------------------------------------------- */

int tern_x25519_public(const uint8_t priv[32], uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t n = 32;
	int rc = (k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32) ? 0 : -EINVAL;
	EVP_PKEY_free(k);
	return rc;
}

int tern_x25519_keypair(uint8_t priv[32], uint8_t pub[32])
{
	if (tern_random(priv, 32) != 0)
		return -EIO;
	return tern_x25519_public(priv, pub);
}

int tern_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	size_t n = 32;
	int rc = -EINVAL;
	if (c != NULL && p != NULL && EVP_PKEY_derive_init(c) == 1 &&
	    EVP_PKEY_derive_set_peer(c, p) == 1 && EVP_PKEY_derive(c, out, &n) == 1 && n == 32) {
		/* A low-order peer key gives all zeros: refuse it. */
		uint8_t acc = 0;
		for (int i = 0; i < 32; i++)
			acc |= out[i];
		rc = acc != 0 ? 0 : -EINVAL;
	}
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(p);
	EVP_PKEY_free(k);
	return rc;
}

/* --- hashing ------------------------------------------------------------------- */

void tern_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 32;
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, a, alen) != 1 || (b != NULL && EVP_DigestUpdate(c, b, blen) != 1) ||
	    EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, 32); /* cannot happen with the default provider */
	EVP_MD_CTX_free(c);
}

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_init(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

void tern_hmac(uint8_t out[32], const uint8_t *key, size_t klen, const void *a, size_t alen,
	       const void *b, size_t blen)
{
	pthread_once(&hmac_once, hmac_init);
	EVP_MAC_CTX *c = hmac_alg != NULL ? EVP_MAC_CTX_new(hmac_alg) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t n = 32;
	if (c == NULL || EVP_MAC_init(c, key, klen, params) != 1 || EVP_MAC_update(c, a, alen) != 1 ||
	    (b != NULL && EVP_MAC_update(c, b, blen) != 1) || EVP_MAC_final(c, out, &n, 32) != 1)
		memset(out, 0, 32);
	EVP_MAC_CTX_free(c);
}

void tern_hkdf(const uint8_t ck[32], const void *ikm, size_t ilen, uint8_t out1[32],
	       uint8_t out2[32], uint8_t *out3)
{
	uint8_t temp[32], buf[33];
	tern_hmac(temp, ck, 32, ikm, ilen, NULL, 0);
	buf[0] = 1;
	tern_hmac(out1, temp, 32, buf, 1, NULL, 0);
	memcpy(buf, out1, 32);
	buf[32] = 2;
	tern_hmac(out2, temp, 32, buf, 33, NULL, 0);
	if (out3 != NULL) {
		memcpy(buf, out2, 32);
		buf[32] = 3;
		tern_hmac(out3, temp, 32, buf, 33, NULL, 0);
	}
	tern_wipe(temp, sizeof(temp));
	tern_wipe(buf, sizeof(buf));
}

/* --- AEAD ------------------------------------------------------------------------ */

unsigned tern_cipher_local(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul"))
		return TERN_CIPHER_AES256GCM;
#endif
	return TERN_CIPHER_CHACHAPOLY;
}

struct tern_aead {
	EVP_CIPHER_CTX *ctx;
	int encrypt;
	int gcm; /* small packets (all, if k.wide) through gcm.c */
	struct tern_gcm k;
};

static int gcm_ok = -1;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_probe(void)
{
	gcm_ok = tern_gcm_available();
}

void tern_aead_use_gcm(struct tern_aead *a, int on)
{
	pthread_once(&gcm_once, gcm_probe);
	if (a->gcm >= 0) /* -1: not an AES-GCM context, stays EVP */
		a->gcm = on && gcm_ok;
}

int tern_aead_new(struct tern_aead **out, unsigned cipher, const uint8_t key[32], int encrypt)
{
	const EVP_CIPHER *c = cipher == TERN_CIPHER_AES256GCM ? EVP_aes_256_gcm()
			      : cipher == TERN_CIPHER_CHACHAPOLY ? EVP_chacha20_poly1305()
								 : NULL;
	if (c == NULL)
		return -EINVAL;
	struct tern_aead *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->encrypt = encrypt;
	a->ctx = EVP_CIPHER_CTX_new();
	if (a->ctx == NULL || EVP_CipherInit_ex(a->ctx, c, NULL, key, NULL, encrypt) != 1) {
		tern_aead_free(a);
		return -ENOMEM;
	}
	pthread_once(&gcm_once, gcm_probe);
	if (cipher == TERN_CIPHER_AES256GCM && gcm_ok) {
		tern_gcm_init(&a->k, key);
		a->gcm = 1;
	} else {
		a->gcm = -1; /* never */
	}
	*out = a;
	return 0;
}

void tern_aead_free(struct tern_aead *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
	tern_wipe(&a->k, sizeof(a->k));
	free(a);
}

static void make_iv(uint8_t iv[12], uint64_t ctr)
{
	uint64_t le = tern_le64(ctr);
	memset(iv, 0, 4);
	memcpy(iv + 4, &le, 8);
}

static int set_nonce(struct tern_aead *a, uint64_t ctr)
{
	uint8_t iv[12];
	make_iv(iv, ctr);
	return EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, iv, a->encrypt) == 1 ? 0 : -EIO;
}

int tern_aead_seal(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *ad2,
		   size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16])
{
	int n;
	if (a->gcm > 0 && (a->k.wide || adlen + ad2len + len <= TERN_GCM_SMALL) && a->encrypt) {
		uint8_t iv[12];
		make_iv(iv, ctr);
		return tern_gcm_seal(&a->k, iv, ad, adlen, ad2, ad2len, in, len, out, tag);
	}
	if (!a->encrypt || set_nonce(a, ctr) != 0)
		return -EINVAL;
	if (adlen != 0 && EVP_EncryptUpdate(a->ctx, NULL, &n, ad, (int)adlen) != 1)
		return -EIO;
	if (ad2len != 0 && EVP_EncryptUpdate(a->ctx, NULL, &n, ad2, (int)ad2len) != 1)
		return -EIO;
	if (len != 0 && EVP_EncryptUpdate(a->ctx, out, &n, in, (int)len) != 1)
		return -EIO;
	uint8_t none[16]; /* GCM and ChaCha20-Poly1305 write nothing at the end */
	if (EVP_EncryptFinal_ex(a->ctx, out != NULL ? (uint8_t *)out + len : none, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		return -EIO;
	return 0;
}

int tern_aead_open(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *in,
		   size_t len, void *out, const uint8_t tag[16])
{
	int n;
	if (a->gcm > 0 && (a->k.wide || adlen + len <= TERN_GCM_SMALL) && !a->encrypt) {
		uint8_t iv[12];
		make_iv(iv, ctr);
		return tern_gcm_open(&a->k, iv, ad, adlen, in, len, out, tag);
	}
	if (a->encrypt || set_nonce(a, ctr) != 0)
		return -EINVAL;
	if (adlen != 0 && EVP_DecryptUpdate(a->ctx, NULL, &n, ad, (int)adlen) != 1)
		return -EBADMSG;
	if (len != 0 && EVP_DecryptUpdate(a->ctx, out, &n, in, (int)len) != 1)
		return -EBADMSG;
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(uintptr_t)tag) != 1)
		return -EIO;
	uint8_t none[16];
	return EVP_DecryptFinal_ex(a->ctx, out != NULL ? (uint8_t *)out + len : none, &n) == 1 ? 0
											      : -EBADMSG;
}

/* --- key files ----------------------------------------------------------------- */

static int decode_key(const char *line, uint8_t key[32])
{
	char b64[64];
	size_t n = 0;
	while (*line == ' ' || *line == '\t')
		line++;
	while (line[n] != '\0' && line[n] != '\n' && line[n] != '\r' && line[n] != ' ' &&
	       line[n] != '\t' && n < sizeof(b64) - 1) {
		b64[n] = line[n];
		n++;
	}
	b64[n] = '\0';
	if (n != 44 || b64[43] != '=')
		return -EINVAL;
	uint8_t raw[33];
	if (EVP_DecodeBlock(raw, (const uint8_t *)b64, 44) != 33) /* 32 bytes + the '=' pad */
		return -EINVAL;
	memcpy(key, raw, 32);
	tern_wipe(raw, sizeof(raw));
	tern_wipe(b64, sizeof(b64));
	return 0;
}

int tern_key_read(const char *path, uint8_t key[32])
{
	char line[256];
	if (path == NULL)
		return -EINVAL;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	int rc = fgets(line, sizeof(line), f) != NULL ? decode_key(line, key) : -EINVAL;
	fclose(f);
	tern_wipe(line, sizeof(line));
	return rc;
}

int tern_key_write(const char *path, const uint8_t key[32], int private_mode)
{
	char b64[48];
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
	char line[256];
	*keys = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	uint32_t cap = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (*n == cap) {
			uint32_t ncap = cap ? 2 * cap : 16;
			void *k = realloc(*keys, ncap * sizeof(**keys));
			if (k == NULL) {
				rc = -ENOMEM;
				break;
			}
			*keys = k;
			cap = ncap;
		}
		if (decode_key(p, (*keys)[*n]) != 0) {
			rc = -EINVAL;
			break;
		}
		(*n)++;
	}
	fclose(f);
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
