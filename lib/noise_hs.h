/*
 * noise_hs.h — a Noise HandshakeState (the Noise Protocol Framework,
 * revision 34) for 25519 / ChaChaPoly / SHA256 and the three patterns tern
 * uses, with nothing of tern's packet layout in it (lib/noise.c puts the
 * messages into CONNECT / CONNECT_OK). Private to the core; tests check it
 * against the published test vectors (tests/unit/test_noise_hs.c).
 *
 *   Noise_IK_25519_ChaChaPoly_SHA256       <- s  ...  -> e, es, s, ss       <- e, ee, se
 *   Noise_IKpsk1_25519_ChaChaPoly_SHA256   <- s  ...  -> e, es, s, ss, psk  <- e, ee, se
 *   Noise_NNpsk0_25519_ChaChaPoly_SHA256              -> psk, e             <- e, ee
 *
 * Use: noise_hs_init (pattern, role, prologue, the keys the pattern
 * needs), then noise_hs_write / noise_hs_read for each handshake message in
 * turn, then noise_hs_split for the two transport keys. Functions return 0
 * or a negative errno: -EINVAL for misuse (a message out of turn, a buffer
 * too small), -EBADMSG for a message that does not authenticate, -EACCES for
 * a low-order public key, -ENOMEM. After any error the state is wiped and
 * unusable. Every secret the state holds is wiped by noise_hs_wipe (and by
 * split), its ephemeral key freed. The static key is a prepared key
 * (crypto.h) the caller owns; the ephemeral one is made and owned here.
 * One thread at a time per state.
 */
#ifndef TERN_NOISE_HS_H
#define TERN_NOISE_HS_H

#include <stddef.h>
#include <stdint.h>

enum noise_pattern {
	NOISE_IK = 1,
	NOISE_IKPSK1 = 2,
	NOISE_NNPSK0 = 3,
};

#define NOISE_KEY_LEN  32u
#define NOISE_HASH_LEN 32u
#define NOISE_TAG_LEN  16u

struct noise_hs;
/* Called by noise_hs_read once the "s" token has given the remote static
 * key (hs->rs), before any Diffie-Hellman with it: 0 to go on (it may set
 * hs->ss to a precomputed DH(s, rs)), or a negative errno that ends the
 * read (the state is wiped). */
typedef int (*noise_rs_fn)(struct noise_hs *hs, void *ctx);

struct tern_x25519_key;
struct tern_x25519_pub;
struct noise_hs {
	uint8_t ck[32], h[32]; /* SymmetricState */
	uint8_t k[32];         /* CipherState: k (if has_k) and n */
	uint64_t n;
	uint8_t has_k;
	uint8_t pattern; /* enum noise_pattern */
	uint8_t initiator;
	uint8_t msg;     /* index of the next handshake message */
	uint8_t has_rs, has_re, has_psk, has_ss;
	uint8_t e_borrowed; /* a copy (noise_hs_borrow): e belongs to another state */
	const struct tern_x25519_key *s; /* local static key (the caller's), or NULL */
	struct tern_x25519_key *e;       /* local ephemeral key, once made */
	struct tern_x25519_pub *re_key;  /* re imported (for two DH), once used; never borrowed */
	const struct tern_x25519_pub *rs_key; /* rs imported by the caller (noise_hs_set_rs_key) */
	uint8_t s_pub[32], e_pub[32];
	uint8_t rs[32], re[32];
	uint8_t psk[32];
	uint8_t ss[32]; /* DH(s, rs), if has_ss: used for the "ss" token */
	noise_rs_fn on_rs;
	void *on_rs_ctx;
};

/* The protocol name of a pattern ("Noise_IK_25519_ChaChaPoly_SHA256"), NULL if unknown. */
const char *noise_pattern_name(enum noise_pattern p);
/* The length of handshake message i (0 or 1) carrying plen payload bytes. */
size_t noise_msg_len(enum noise_pattern p, unsigned i, size_t plen);

/*
 * Start a handshake. s: the local static key (either role of IK and
 * IKpsk1; NULL for NNpsk0), s_pub its public key; it must outlive the
 * state. rs: the responder's static public key, for an IK/IKpsk1 initiator
 * (NULL otherwise); psk: for IKpsk1 and NNpsk0 (NULL for IK). The prologue
 * is hashed first (both sides must agree on it).
 */
int noise_hs_init(struct noise_hs *hs, enum noise_pattern p, int initiator, const void *prologue,
		  size_t plen, const struct tern_x25519_key *s, const uint8_t *s_pub,
		  const uint8_t *rs, const uint8_t *psk);
/* dst = a copy of src that uses src's ephemeral key without owning it (to
 * try a message on a copy, keeping src for the next one); src must outlive
 * dst; wipe dst as usual. (src's imported re, if any, is not shared: dst
 * imports its own when it needs one.) */
void noise_hs_borrow(struct noise_hs *dst, const struct noise_hs *src);
/* A precomputed DH(s, rs) for the "ss" token (the initiator knows rs at init). */
void noise_hs_set_ss(struct noise_hs *hs, const uint8_t ss[32]);
/* rs imported once by the caller (tern_x25519_pub of the same key, kept
 * alive until the state's last DH with rs: es for an initiator, se for a
 * responder), so that DH skips the import. */
void noise_hs_set_rs_key(struct noise_hs *hs, const struct tern_x25519_pub *p);
/* Use this ephemeral private key instead of a random one (tests: vectors). */
int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[32]);

/* Write the next message with plen payload bytes into out (cap bytes);
 * *outlen = its length. */
int noise_hs_write(struct noise_hs *hs, const void *payload, size_t plen, uint8_t *out, size_t cap,
		   size_t *outlen);
/* Read the next message (len bytes); its payload into payload (cap bytes), *plen. */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		  size_t cap, size_t *plen);
/* Is the handshake complete (every message written or read)? */
int noise_hs_done(const struct noise_hs *hs);
/* The two transport keys (initiator->responder, responder->initiator), and
 * the handshake hash if h is not NULL; wipes the state. -EINVAL if not done. */
int noise_hs_split(struct noise_hs *hs, uint8_t k1[32], uint8_t k2[32], uint8_t h[32]);
void noise_hs_wipe(struct noise_hs *hs);

#endif
