/*
 * crypto.h — the primitives tern's security uses, all from maintained
 * libraries (crypto.c says which and why): X25519, SHA-256, HMAC-SHA256, the
 * Noise HKDF, and AEAD contexts (AES-256-GCM, ChaCha20-Poly1305) with 64-bit
 * counter nonces. Private to the core. Every function returns 0 or a
 * negative errno; secrets passed in or out are the caller's to wipe
 * (tern_wipe); secrets the functions hold themselves (key schedules, key
 * objects, temporaries) are wiped when freed or on return.
 *
 * Threading: the hash functions and the tern_x25519* functions that take
 * no struct tern_x25519_key may be used from any number of threads at once;
 * a struct tern_x25519_key and a struct tern_aead by one thread at a time.
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

/* --- X25519 (RFC 7748) ---
 * Every DH refuses a low-order peer key (all-zero result) with -EINVAL. */

/* A fresh X25519 key pair (raw private key out). */
int tern_x25519_keypair(uint8_t priv[32], uint8_t pub[32]);
/* The public key of priv. */
int tern_x25519_public(const uint8_t priv[32], uint8_t pub[32]);
/* out = DH(priv, pub). Imports priv on every call (which costs as much as
 * the DH itself): a key used more than once belongs in a tern_x25519_key. */
int tern_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

/*
 * A private key imported once, for repeated DH at the cost of the scalar
 * multiplication alone: a static key for the life of an endpoint, or an
 * ephemeral one made by tern_x25519_key_generate (its raw bytes wiped once
 * imported). The key never changes, but it holds the provider's derive
 * context, which each DH uses: one thread at a time (an endpoint's keys are
 * its thread's). Freed, and its secret wiped, by tern_x25519_key_free.
 */
struct tern_x25519_key;
/* Import priv; write its public key to pub unless pub is NULL. -EINVAL
 * without an out pointer, -ENOMEM. */
int tern_x25519_key_new(struct tern_x25519_key **out, const uint8_t priv[32], uint8_t pub[32]);
/* A fresh random key and its public key (one fixed-base multiplication). */
int tern_x25519_key_generate(struct tern_x25519_key **out, uint8_t pub[32]);
/* out = DH(k, pub): -EINVAL for a low-order pub, -ENOMEM. */
int tern_x25519_key_dh(const struct tern_x25519_key *k, const uint8_t pub[32], uint8_t out[32]);
/* NULL is allowed. */
void tern_x25519_key_free(struct tern_x25519_key *k);

/* A peer's public key imported once, for a key used in more than one DH
 * (importing costs ~4 us, a tenth of the DH). Immutable once made (any
 * thread may use it); a public key: nothing to wipe. */
struct tern_x25519_pub;
/* -EINVAL without an out pointer, -ENOMEM. */
int tern_x25519_pub_new(struct tern_x25519_pub **out, const uint8_t pub[32]);
/* NULL is allowed. */
void tern_x25519_pub_free(struct tern_x25519_pub *p);
/* out = DH(k, p), as tern_x25519_key_dh. */
int tern_x25519_key_dh_pub(const struct tern_x25519_key *k, const struct tern_x25519_pub *p,
			   uint8_t out[32]);

/* --- hashing ---
 * These cannot fail once the provider is loaded; if it could not be (a
 * libgcrypt older than the one built against), they write zeros and every
 * tern_aead_new fails too, so no session is ever keyed from such output. */

/* SHA-256 of the concatenation of a and b (b may be NULL). */
void tern_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen);
/* HMAC-SHA256(key, a || b). */
void tern_hmac(uint8_t out[32], const uint8_t *key, size_t klen, const void *a, size_t alen,
	       const void *b, size_t blen);
/* Noise's HKDF with SHA-256: out1, out2 (and out3 if not NULL) from ck and
 * ikm. The outputs may alias ck. */
void tern_hkdf(const uint8_t ck[32], const void *ikm, size_t ilen, uint8_t out1[32],
	       uint8_t out2[32], uint8_t *out3);

/* The cipher tern prefers on this CPU: AES-256-GCM where AES-NI and
 * PCLMULQDQ run it (and the provider is not in FIPS mode, which refuses
 * caller-chosen GCM nonces), else ChaCha20-Poly1305. */
unsigned tern_cipher_local(void);

/*
 * A one-direction AEAD context: the key is set once (tern_aead_new: the key
 * schedule and any hash-key tables are computed there and nowhere else);
 * each packet gives its 64-bit counter, and the nonce is 4 zero bytes ||
 * counter, little-endian. Nothing is allocated or keyed per packet.
 *
 * Buffers: out == in (in place) or out and in not overlapping at all
 * (out of place, e.g. decrypting straight into a reassembly buffer);
 * anything in between is -EINVAL. len 0: in and out may be NULL.
 */
struct tern_aead;
/* encrypt: 1 for a sealing context, 0 for an opening one. -EINVAL for an
 * unknown cipher, -ENOMEM, -EIO if the provider refused the key. */
int tern_aead_new(struct tern_aead **out, unsigned cipher, const uint8_t key[32], int encrypt);
/* Wipes the key schedule. NULL is allowed. */
void tern_aead_free(struct tern_aead *a);
/* Encrypt len bytes of in into out, authenticating ad then ad2 (ad2 may be
 * NULL; the two pieces may have any lengths: they are hashed as one), and
 * write the tag. len 0: authenticate only. -EINVAL on an opening context or
 * overlapping buffers, -EIO if the provider failed. */
int tern_aead_seal(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *ad2,
		   size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16]);
/* Verify and decrypt len bytes of in into out. -EBADMSG if the tag does not
 * match: out (len bytes) is then zeroed, never left holding unauthenticated
 * plaintext, so a caller that decrypts straight into its destination must
 * only do so where zeros may land (the providers decrypt and check in one
 * pass; neither can check the tag first). -EINVAL on a sealing context or
 * overlapping buffers. */
int tern_aead_open(struct tern_aead *a, uint64_t ctr, const void *ad, size_t adlen, const void *in,
		   size_t len, void *out, const uint8_t tag[16]);
/* The same with the whole 12-byte nonce given (standard test vectors;
 * protocols whose nonce is not tern's counter layout). */
int tern_aead_seal_iv(struct tern_aead *a, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
		      uint8_t tag[16]);
int tern_aead_open_iv(struct tern_aead *a, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *in, size_t len, void *out, const uint8_t tag[16]);

/* --- key files: one base64 line of 32 bytes (WireGuard's format) ---
 * Read with read(2) into buffers wiped before return (no stdio buffer keeps
 * a copy); only the canonical base64 form of a 32-byte key is accepted. */
/* The first line of path. -EINVAL if it is not a key, -errno if unreadable. */
int tern_key_read(const char *path, uint8_t key[32]);
/* Mode 0600 if private_mode (also for an existing file), else 0644. */
int tern_key_write(const char *path, const uint8_t key[32], int private_mode);
/* An allow-list file: public keys one per line ('#' comments, blank lines).
 * *keys is malloc'd (free it); -EINVAL for a malformed line. */
int tern_keys_read(const char *path, uint8_t (**keys)[32], uint32_t *n);

#endif
