/*
 * crypto.h — the primitives tern's security uses, over OpenSSL's libcrypto:
 * X25519, SHA-256, HMAC-SHA256, the Noise HKDF, and AEAD contexts
 * (AES-256-GCM, ChaCha20-Poly1305) with 64-bit counter nonces. Private to
 * the core. Every function returns 0 or a negative errno; secrets passed in
 * or out are the caller's to wipe (tern_wipe).
 */
#ifndef TERN_CRYPTO_H
#define TERN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define TERN_KEY_LEN  32u
#define TERN_HASH_LEN 32u

/* Ciphers (bits in a handshake's offer; one value once chosen). */
#define TERN_CIPHER_AES256GCM 0x1u
#define TERN_CIPHER_CHACHAPOLY 0x2u

void tern_wipe(void *p, size_t len);
int tern_random(void *p, size_t len);

/* A fresh X25519 key pair. */
int tern_x25519_keypair(uint8_t priv[32], uint8_t pub[32]);
/* The public key of priv. */
int tern_x25519_public(const uint8_t priv[32], uint8_t pub[32]);
/* out = DH(priv, pub); -EINVAL for a low-order pub (all-zero result). */
int tern_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

/* SHA-256 of the concatenation of a and b (b may be NULL). */
void tern_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen);
/* HMAC-SHA256(key, a || b). */
void tern_hmac(uint8_t out[32], const uint8_t *key, size_t klen, const void *a, size_t alen,
	       const void *b, size_t blen);
/* Noise's HKDF with SHA-256: out1, out2 (and out3 if not NULL) from ck and ikm. */
void tern_hkdf(const uint8_t ck[32], const void *ikm, size_t ilen, uint8_t out1[32],
	       uint8_t out2[32], uint8_t *out3);

/* The cipher tern prefers on this CPU: AES-256-GCM where AES-NI runs it. */
unsigned tern_cipher_local(void);

/*
 * A one-direction AEAD context: the key is set once, each packet gives its
 * 64-bit counter (the nonce is 4 zero bytes || counter, little-endian).
 */
struct tern_aead;
int tern_aead_new(struct tern_aead **out, unsigned cipher, const uint8_t key[32], int encrypt);
void tern_aead_free(struct tern_aead *a);
/* Encrypt len bytes of in into out (in == out allowed; len 0: authenticate
 * only), authenticating ad then ad2 (ad2 may be NULL); writes the tag. */
int tern_aead_seal(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *ad2,
		   size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16]);
/* Verify and decrypt (in place allowed). -EBADMSG if the tag does not match
 * (out is then unspecified). */
int tern_aead_open(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *in,
		   size_t len, void *out, const uint8_t tag[16]);

/*
 * AES-256-GCM with AES-NI/PCLMULQDQ (gcm.c), used by the AEAD contexts for
 * packets up to TERN_GCM_SMALL bytes, and for every size where the CPU has
 * VAES and VPCLMULQDQ on AVX-512 (k->wide); the same output as OpenSSL's.
 */
#define TERN_GCM_SMALL 384u
struct tern_gcm {
	uint8_t rk[15 * 16] __attribute__((aligned(16))); /* round keys */
	uint8_t h[16] __attribute__((aligned(16)));       /* hash subkey, reflected */
	uint8_t hp[16 * 16];                              /* H^16 .. H^1, reflected (wide) */
	int wide;                                         /* 4 blocks per instruction */
};
int tern_gcm_available(void);
/* tern_gcm_init sets k->wide when the CPU allows; tests clear it. */
void tern_gcm_init(struct tern_gcm *k, const uint8_t key[32]);
int tern_gcm_seal(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		  const void *ad2, size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16]);
int tern_gcm_open(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		  const void *in, size_t len, void *out, const uint8_t tag[16]);
/* Tests: force the EVP path (0) or allow the in-tree one (1, default). */
void tern_aead_use_gcm(struct tern_aead *a, int on);

/* Key files: one base64 line of 32 bytes (WireGuard's format). */
int tern_key_read(const char *path, uint8_t key[32]);
int tern_key_write(const char *path, const uint8_t key[32], int private_mode);
/* An allow-list file: public keys one per line ('#' comments, blank lines). */
int tern_keys_read(const char *path, uint8_t (**keys)[32], uint32_t *n);

#endif
