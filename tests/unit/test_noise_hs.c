/*
 * test_noise_hs.c — lib/noise_hs.c, the Noise HandshakeState: the published
 * test vectors of the three patterns tern runs (vectors/cacophony.h), both
 * roles, byte for byte, the handshake hash and four transport messages
 * after Split; then what the vectors do not show: every bit of every
 * handshake message tampered, messages out of turn or cut short, a
 * low-order ephemeral key, the remote-static hook's veto, a precomputed
 * static-static DH, and the state wiped after an error and after Split.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "noise_hs.h"
#include "vectors/cacophony.h"

/* Decode hex into out (at most cap bytes); the length, or -1. */
static int unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

/* A prepared key (crypto.h) and its public key. */
struct kp {
	struct tern_x25519_key *k;
	uint8_t pub[32];
};

static int kp_new(struct kp *kp)
{
	return tern_x25519_key_generate(&kp->k, kp->pub);
}

static int kp_from(struct kp *kp, const uint8_t priv[32])
{
	return tern_x25519_key_new(&kp->k, priv, kp->pub);
}

static void kp_free(struct kp *kp)
{
	tern_x25519_key_free(kp->k);
	kp->k = NULL;
}

static enum noise_pattern pattern_of(const char *name)
{
	for (int p = NOISE_IK; p <= NOISE_NNPSK0; p++)
		if (strcmp(noise_pattern_name((enum noise_pattern)p), name) == 0)
			return (enum noise_pattern)p;
	return 0;
}

struct vec {
	enum noise_pattern p;
	uint8_t prologue[128], is[32], ie[32], irs[32], rs_[32], re[32], psk[32], hash[32];
	int plen, has_s, has_psk;
};

static int load(const struct cacophony_vector *v, struct vec *x)
{
	memset(x, 0, sizeof(*x));
	x->p = pattern_of(v->protocol_name);
	x->plen = unhex(v->prologue, x->prologue, sizeof(x->prologue));
	x->has_s = v->init_static[0] != '\0';
	x->has_psk = v->psk[0] != '\0';
	if (x->p == 0 || x->plen < 0 || unhex(v->init_ephemeral, x->ie, 32) != 32 ||
	    unhex(v->resp_ephemeral, x->re, 32) != 32 || unhex(v->handshake_hash, x->hash, 32) != 32)
		return -1;
	if (x->has_s && (unhex(v->init_static, x->is, 32) != 32 ||
			 unhex(v->init_remote_static, x->irs, 32) != 32 ||
			 unhex(v->resp_static, x->rs_, 32) != 32))
		return -1;
	if (x->has_psk && unhex(v->psk, x->psk, 32) != 32)
		return -1;
	return 0;
}

/* Both sides of vector x, their static keys made from its private keys. */
static int start(const struct vec *x, struct noise_hs *i, struct noise_hs *r, struct kp *ki,
		 struct kp *kr)
{
	if (x->has_s && (kp_from(ki, x->is) != 0 || kp_from(kr, x->rs_) != 0))
		return -1;
	if (noise_hs_init(i, x->p, 1, x->prologue, (size_t)x->plen, ki->k,
			  x->has_s ? ki->pub : NULL, x->has_s ? x->irs : NULL,
			  x->has_psk ? x->psk : NULL) != 0 ||
	    noise_hs_init(r, x->p, 0, x->prologue, (size_t)x->plen, kr->k,
			  x->has_s ? kr->pub : NULL, NULL, x->has_psk ? x->psk : NULL) != 0 ||
	    noise_hs_set_ephemeral(i, x->ie) != 0 || noise_hs_set_ephemeral(r, x->re) != 0)
		return -1;
	return 0;
}

/* One transport message with key k, nonce n: the vector's ciphertext, and back. */
static void transport(const uint8_t k[32], uint64_t n, const struct cacophony_msg *m)
{
	uint8_t pt[256], want[272], got[272], back[256];
	int pl = unhex(m->payload, pt, sizeof(pt)), cl = unhex(m->ciphertext, want, sizeof(want));
	REQUIRE(pl >= 0 && cl == pl + 16);
	struct tern_aead *e, *d;
	REQUIRE(tern_aead_new(&e, TERN_CIPHER_CHACHAPOLY, k, 1) == 0);
	REQUIRE(tern_aead_new(&d, TERN_CIPHER_CHACHAPOLY, k, 0) == 0);
	CHECK_EQ(tern_aead_seal(e, n, NULL, 0, NULL, 0, pt, (size_t)pl, got, got + pl), 0);
	CHECK(memcmp(got, want, (size_t)cl) == 0);
	CHECK_EQ(tern_aead_open(d, n, NULL, 0, want, (size_t)pl, back, want + pl), 0);
	CHECK(memcmp(back, pt, (size_t)pl) == 0);
	tern_aead_free(e);
	tern_aead_free(d);
}

static void noise_hs__cacophony_vectors(void)
{
	const size_t nv = sizeof(cacophony_vectors) / sizeof(cacophony_vectors[0]);
	CHECK_EQ(nv, 3);
	for (size_t vi = 0; vi < nv; vi++) {
		const struct cacophony_vector *v = &cacophony_vectors[vi];
		check_case = v->protocol_name;
		struct vec x;
		REQUIRE(load(v, &x) == 0);
		struct noise_hs i, r;
		struct kp ki = {0}, kr = {0};
		REQUIRE(start(&x, &i, &r, &ki, &kr) == 0);
		/* The handshake: message 0 from the initiator, 1 from the responder. */
		for (unsigned m = 0; m < 2; m++) {
			struct noise_hs *w = m == 0 ? &i : &r, *rd = m == 0 ? &r : &i;
			uint8_t pt[256], want[512], got[512], back[256];
			int pl = unhex(v->messages[m].payload, pt, sizeof(pt));
			int cl = unhex(v->messages[m].ciphertext, want, sizeof(want));
			REQUIRE(pl >= 0 && cl > pl);
			CHECK_EQ(noise_msg_len(x.p, m, (size_t)pl), (size_t)cl);
			size_t n = 0, bn = 0;
			CHECK_EQ(noise_hs_write(w, pt, (size_t)pl, got, sizeof(got), &n), 0);
			CHECK_EQ(n, (size_t)cl);
			CHECK(memcmp(got, want, (size_t)cl) == 0);
			CHECK_EQ(noise_hs_read(rd, want, (size_t)cl, back, sizeof(back), &bn), 0);
			CHECK_EQ(bn, (size_t)pl);
			CHECK(memcmp(back, pt, (size_t)pl) == 0);
		}
		if (x.has_s) /* the responder learnt the initiator's static key */
			CHECK(memcmp(r.rs, ki.pub, 32) == 0);
		CHECK(noise_hs_done(&i) && noise_hs_done(&r));
		uint8_t ik1[32], ik2[32], rk1[32], rk2[32], ih[32], rh[32];
		CHECK_EQ(noise_hs_split(&i, ik1, ik2, ih), 0);
		CHECK_EQ(noise_hs_split(&r, rk1, rk2, rh), 0);
		CHECK(memcmp(ih, x.hash, 32) == 0);
		CHECK(memcmp(rh, x.hash, 32) == 0);
		CHECK(memcmp(ik1, rk1, 32) == 0 && memcmp(ik2, rk2, 32) == 0);
		/* Transport: initiator with k1, responder with k2, nonces from 0. */
		for (unsigned m = 2; m < 6; m++)
			transport((m % 2) == 0 ? ik1 : ik2, (m - 2) / 2, &v->messages[m]);
		static const uint8_t zero[sizeof(struct noise_hs)];
		CHECK(memcmp(&i, zero, sizeof(i)) == 0); /* split wiped the state */
		CHECK(memcmp(&r, zero, sizeof(r)) == 0);
		kp_free(&ki);
		kp_free(&kr);
	}
}

/* The static keys of the pairs below (made in main). */
static struct kp pair_i, pair_r;

/* A fresh pair of states of pattern p (a random PSK). */
static void ik_pair(enum noise_pattern p, struct noise_hs *i, struct noise_hs *r)
{
	uint8_t psk[32];
	REQUIRE(tern_random(psk, 32) == 0);
	int st = p != NOISE_NNPSK0, ps = p != NOISE_IK;
	REQUIRE(noise_hs_init(i, p, 1, "pro", 3, st ? pair_i.k : NULL, st ? pair_i.pub : NULL,
			      st ? pair_r.pub : NULL, ps ? psk : NULL) == 0);
	REQUIRE(noise_hs_init(r, p, 0, "pro", 3, st ? pair_r.k : NULL, st ? pair_r.pub : NULL, NULL,
			      ps ? psk : NULL) == 0);
	tern_wipe(psk, sizeof(psk));
}

static int is_wiped(const struct noise_hs *hs)
{
	static const uint8_t zero[sizeof(struct noise_hs)];
	return memcmp(hs, zero, sizeof(*hs)) == 0;
}

/* Any bit of either handshake message flipped: the reader refuses it. */
static void noise_hs__every_bit_tampered(void)
{
	for (int p = NOISE_IK; p <= NOISE_NNPSK0; p++) {
		check_case = noise_pattern_name((enum noise_pattern)p);
		for (unsigned m = 0; m < 2; m++) {
			struct noise_hs i, r;
			ik_pair((enum noise_pattern)p, &i, &r);
			uint8_t msg[256], out[64];
			size_t n, on;
			if (m == 1) {
				REQUIRE(noise_hs_write(&i, "x", 1, msg, sizeof(msg), &n) == 0);
				REQUIRE(noise_hs_read(&r, msg, n, out, sizeof(out), &on) == 0);
			}
			struct noise_hs *w = m == 0 ? &i : &r, *rd = m == 0 ? &r : &i;
			REQUIRE(noise_hs_write(w, "payload", 7, msg, sizeof(msg), &n) == 0);
			struct noise_hs keep = *rd; /* the owner; rd is a borrowing copy from now on */
			int refused = 0;
			for (size_t bit = 0; bit < n * 8; bit++) {
				noise_hs_borrow(rd, &keep);
				msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				int rc = noise_hs_read(rd, msg, n, out, sizeof(out), &on);
				msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				/* a flipped e may be a low-order point (-EACCES) */
				refused += rc == -EBADMSG || rc == -EACCES;
				CHECK(rc != 0 && is_wiped(rd));
			}
			CHECK_EQ((size_t)refused, n * 8);
			noise_hs_borrow(rd, &keep);
			CHECK_EQ(noise_hs_read(rd, msg, n, out, sizeof(out), &on), 0);
			CHECK(on == 7 && memcmp(out, "payload", 7) == 0);
			noise_hs_wipe(&i);
			noise_hs_wipe(&r);
			noise_hs_wipe(&keep);
		}
	}
}

static void noise_hs__misuse(void)
{
	struct noise_hs i, r;
	uint8_t msg[256], out[64], k1[32], k2[32];
	size_t n, on;
	const struct tern_x25519_key *key = pair_i.k;
	const uint8_t *pub = pair_i.pub, *psk = pair_r.pub;
	/* keys the pattern does not take, or lacks */
	CHECK_EQ(noise_hs_init(&i, NOISE_IK, 1, NULL, 0, key, pub, NULL, NULL), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_IK, 0, NULL, 0, key, pub, pub, NULL), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_IK, 1, NULL, 0, key, pub, pub, psk), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_IK, 1, NULL, 0, key, NULL, pub, NULL), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_IKPSK1, 1, NULL, 0, key, pub, pub, NULL), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_NNPSK0, 1, NULL, 0, key, pub, NULL, psk), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, (enum noise_pattern)4, 1, NULL, 0, NULL, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(noise_hs_init(&i, NOISE_NNPSK0, 1, NULL, 3, NULL, NULL, NULL, psk), -EINVAL);
	/* out of turn: the responder writes first, the initiator reads first */
	ik_pair(NOISE_IK, &i, &r);
	CHECK_EQ(noise_hs_write(&r, "", 0, msg, sizeof(msg), &n), -EINVAL);
	CHECK(is_wiped(&r));
	CHECK_EQ(noise_hs_read(&i, msg, 96, out, sizeof(out), &on), -EINVAL);
	CHECK(is_wiped(&i));
	/* a buffer too small, a message cut short, a payload too big for cap */
	ik_pair(NOISE_IK, &i, &r);
	CHECK_EQ(noise_hs_write(&i, "abc", 3, msg, noise_msg_len(NOISE_IK, 0, 3) - 1, &n), -EINVAL);
	noise_hs_wipe(&r);
	ik_pair(NOISE_IK, &i, &r);
	REQUIRE(noise_hs_write(&i, "abc", 3, msg, sizeof(msg), &n) == 0);
	struct noise_hs keep = r;
	for (size_t len = 0; len < n; len++) {
		noise_hs_borrow(&r, &keep);
		CHECK(noise_hs_read(&r, msg, len, out, sizeof(out), &on) != 0);
		CHECK(is_wiped(&r));
	}
	noise_hs_borrow(&r, &keep);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, 2, &on), -EINVAL);
	noise_hs_borrow(&r, &keep);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, 3, &on), 0);
	/* split before the end; a third message */
	CHECK_EQ(noise_hs_split(&r, k1, k2, NULL), -EINVAL);
	noise_hs_wipe(&keep);
	noise_hs_wipe(&i);
	ik_pair(NOISE_NNPSK0, &i, &r);
	REQUIRE(noise_hs_write(&i, "", 0, msg, sizeof(msg), &n) == 0);
	REQUIRE(noise_hs_read(&r, msg, n, out, sizeof(out), &on) == 0);
	REQUIRE(noise_hs_write(&r, "", 0, msg, sizeof(msg), &n) == 0);
	REQUIRE(noise_hs_read(&i, msg, n, out, sizeof(out), &on) == 0);
	CHECK_EQ(noise_hs_write(&i, "", 0, msg, sizeof(msg), &n), -EINVAL);
	CHECK_EQ(noise_hs_split(&r, k1, k2, NULL), 0);
}

/* A remote ephemeral key of small order gives an all-zero DH: refused. */
static void noise_hs__low_order_ephemeral(void)
{
	static const uint8_t low[][32] = {
		{0},
		{1},
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	};
	for (size_t k = 0; k < sizeof(low) / sizeof(low[0]); k++) {
		struct noise_hs i, r;
		ik_pair(NOISE_IK, &i, &r);
		uint8_t msg[256], out[64];
		size_t n, on;
		REQUIRE(noise_hs_write(&i, "", 0, msg, sizeof(msg), &n) == 0);
		memcpy(msg, low[k], 32);
		CHECK_EQ(noise_hs_read(&r, msg, n, out, sizeof(out), &on), -EACCES);
		CHECK(is_wiped(&r));
		noise_hs_wipe(&i);
	}
}

struct veto {
	int calls, rc;
	uint8_t seen[32];
	const uint8_t *ss;
};

static int on_rs(struct noise_hs *hs, void *ctx)
{
	struct veto *v = ctx;
	v->calls++;
	memcpy(v->seen, hs->rs, 32);
	if (v->ss != NULL)
		noise_hs_set_ss(hs, v->ss);
	return v->rc;
}

/* The responder's hook sees the initiator's static key before the "ss" DH;
 * its veto ends the read; a precomputed ss gives the same handshake. */
static void noise_hs__remote_static_hook(void)
{
	const uint8_t *ip = pair_i.pub, *rp = pair_r.pub;
	uint8_t ss[32];
	REQUIRE(tern_x25519_key_dh(pair_r.k, ip, ss) == 0);
	for (int variant = 0; variant < 3; variant++) {
		struct noise_hs i, r;
		struct veto v = {.rc = variant == 0 ? -EACCES : 0, .ss = variant == 2 ? ss : NULL};
		REQUIRE(noise_hs_init(&i, NOISE_IK, 1, NULL, 0, pair_i.k, ip, rp, NULL) == 0);
		REQUIRE(noise_hs_init(&r, NOISE_IK, 0, NULL, 0, pair_r.k, rp, NULL, NULL) == 0);
		if (variant == 2)
			noise_hs_set_ss(&i, ss); /* both sides precomputed */
		r.on_rs = on_rs;
		r.on_rs_ctx = &v;
		uint8_t msg[256], out[64], k[4][32];
		size_t n, on;
		REQUIRE(noise_hs_write(&i, "hi", 2, msg, sizeof(msg), &n) == 0);
		int rc = noise_hs_read(&r, msg, n, out, sizeof(out), &on);
		CHECK_EQ(v.calls, 1);
		CHECK(memcmp(v.seen, ip, 32) == 0);
		if (variant == 0) {
			CHECK_EQ(rc, -EACCES);
			CHECK(is_wiped(&r));
			noise_hs_wipe(&i);
			continue;
		}
		REQUIRE(rc == 0);
		REQUIRE(noise_hs_write(&r, "", 0, msg, sizeof(msg), &n) == 0);
		REQUIRE(noise_hs_read(&i, msg, n, out, sizeof(out), &on) == 0);
		CHECK_EQ(noise_hs_split(&i, k[0], k[1], NULL), 0);
		CHECK_EQ(noise_hs_split(&r, k[2], k[3], NULL), 0);
		CHECK(memcmp(k[0], k[2], 32) == 0 && memcmp(k[1], k[3], 32) == 0);
	}
	/* A wrong precomputed ss on one side: the handshake does not authenticate. */
	struct noise_hs i, r;
	REQUIRE(noise_hs_init(&i, NOISE_IK, 1, NULL, 0, pair_i.k, ip, rp, NULL) == 0);
	REQUIRE(noise_hs_init(&r, NOISE_IK, 0, NULL, 0, pair_r.k, rp, NULL, NULL) == 0);
	ss[0] ^= 1;
	noise_hs_set_ss(&i, ss);
	uint8_t msg[256], out[64];
	size_t n, on;
	REQUIRE(noise_hs_write(&i, "hi", 2, msg, sizeof(msg), &n) == 0);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, sizeof(out), &on), -EBADMSG);
	noise_hs_wipe(&i);
	tern_wipe(ss, 32);
}

/* The prologue and the pattern are bound: a responder with another
 * prologue, or running another pattern on the same keys, refuses. */
static void noise_hs__prologue_and_name_bound(void)
{
	const struct tern_x25519_key *is = pair_i.k, *rs = pair_r.k;
	const uint8_t *ip = pair_i.pub, *rp = pair_r.pub;
	uint8_t psk[32];
	REQUIRE(tern_random(psk, 32) == 0);
	struct noise_hs i, r;
	uint8_t msg[256], out[64];
	size_t n, on;
	REQUIRE(noise_hs_init(&i, NOISE_IK, 1, "abc", 3, is, ip, rp, NULL) == 0);
	REQUIRE(noise_hs_init(&r, NOISE_IK, 0, "abd", 3, rs, rp, NULL, NULL) == 0);
	REQUIRE(noise_hs_write(&i, "x", 1, msg, sizeof(msg), &n) == 0);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, sizeof(out), &on), -EBADMSG);
	noise_hs_wipe(&i);
	/* IKpsk1 read as IK (same length but for nothing): refused */
	REQUIRE(noise_hs_init(&i, NOISE_IKPSK1, 1, "abc", 3, is, ip, rp, psk) == 0);
	REQUIRE(noise_hs_init(&r, NOISE_IK, 0, "abc", 3, rs, rp, NULL, NULL) == 0);
	REQUIRE(noise_hs_write(&i, "x", 1, msg, sizeof(msg), &n) == 0);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, sizeof(out), &on), -EBADMSG);
	noise_hs_wipe(&i);
	/* The responder's static key is in the hash ("<- s"): an initiator that
	 * pinned another key fails at the first DH-keyed field. */
	struct kp other = {0};
	REQUIRE(kp_new(&other) == 0);
	REQUIRE(noise_hs_init(&i, NOISE_IK, 1, "abc", 3, is, ip, other.pub, NULL) == 0);
	REQUIRE(noise_hs_init(&r, NOISE_IK, 0, "abc", 3, rs, rp, NULL, NULL) == 0);
	REQUIRE(noise_hs_write(&i, "x", 1, msg, sizeof(msg), &n) == 0);
	CHECK_EQ(noise_hs_read(&r, msg, n, out, sizeof(out), &on), -EBADMSG);
	noise_hs_wipe(&i);
	kp_free(&other);
	tern_wipe(psk, 32);
}

int main(void)
{
	if (kp_new(&pair_i) != 0 || kp_new(&pair_r) != 0) {
		fprintf(stderr, "cannot make keys\n");
		return 1;
	}
	RUN(noise_hs__cacophony_vectors);
	RUN(noise_hs__every_bit_tampered);
	RUN(noise_hs__misuse);
	RUN(noise_hs__low_order_ephemeral);
	RUN(noise_hs__remote_static_hook);
	RUN(noise_hs__prologue_and_name_bound);
	kp_free(&pair_i);
	kp_free(&pair_r);
	return check_exit();
}
