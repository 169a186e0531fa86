/*
 * test_crypto.c — lib/crypto.c.
 *
 * Known answers from the standards, through tern's own entry points (the
 * providers' glue is what is tested: nonce layout, AAD in two pieces, in
 * place and out of place): AES-256-GCM (McGrew & Viega test cases 13-16,
 * the 256-bit ones), ChaCha20-Poly1305 (RFC 8439 2.8.2), X25519 (RFC 7748
 * 5.2 and 6.1), HMAC-SHA256 (RFC 4231), SHA-256 (FIPS 180-2 examples), the
 * Noise HKDF (RFC 5869 case 3, which is Noise's HKDF with a zero chaining
 * key). Then every tamper refused with the output zeroed, low-order X25519
 * points refused, OpenSSL's EVP as an independent reference over random
 * shapes, and key files: round trip, malformed ones refused, and the file's
 * bytes wiped from the buffer they were read into (finding 7 of issue 10).
 *
 * Linked with -Wl,--wrap=read,--wrap=close (tests/unit/meson.build): the
 * wrappers below watch the buffers crypto.c reads key files into.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "crypto.h"
#include "tern_internal.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* --- AEAD known answers ------------------------------------------------------- */

struct aead_kat {
	const char *name;
	unsigned cipher;
	const char *key, *iv, *ad, *pt, *ct, *tag;
};

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases
 * 13-16 (AES-256); RFC 8439 section 2.8.2. */
static const struct aead_kat aead_kats[] = {
	{"gcm 13", TERN_CIPHER_AES256GCM,
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	{"gcm 14", TERN_CIPHER_AES256GCM,
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "00000000000000000000000000000000",
	 "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	{"gcm 15", TERN_CIPHER_AES256GCM,
	 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	 "cafebabefacedbaddecaf888", "",
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	 "b094dac5d93471bdec1a502270e3cc6c"},
	{"gcm 16", TERN_CIPHER_AES256GCM,
	 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	 "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	 "76fc6ece0f4e1768cddf8853bb2d551b"},
	{"rfc8439 2.8.2", TERN_CIPHER_CHACHAPOLY,
	 "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
	 "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
	 /* "Ladies and Gentlemen of the class of '99: If I could offer you only
	  * one tip for the future, sunscreen would be it." */
	 "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
	 "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
	 "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
	 "637265656e20776f756c642062652069742e",
	 "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	 "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	 "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	 "3ff4def08e4b7a9de576d26586cec64b6116",
	 "1ae10b594f09e26a7e902ecbd0600691"},
};

static void aead_kat_run(const struct aead_kat *v)
{
	uint8_t key[32], iv[12], ad[64], pt[128], ct[128], want_ct[128], tag[16], want_tag[16],
		back[128];
	size_t adlen = strlen(v->ad) / 2, len = strlen(v->pt) / 2;
	unhex(v->key, key, 32);
	unhex(v->iv, iv, 12);
	unhex(v->ad, ad, adlen);
	unhex(v->pt, pt, len);
	unhex(v->ct, want_ct, len);
	unhex(v->tag, want_tag, 16);
	struct tern_aead *e, *d;
	REQUIRE(tern_aead_new(&e, v->cipher, key, 1) == 0);
	REQUIRE(tern_aead_new(&d, v->cipher, key, 0) == 0);
	/* out of place, the AAD in one piece */
	CHECK_EQ(tern_aead_seal_iv(e, iv, ad, adlen, NULL, 0, pt, len, ct, tag), 0);
	CHECK(memcmp(ct, want_ct, len) == 0);
	CHECK(memcmp(tag, want_tag, 16) == 0);
	CHECK_EQ(tern_aead_open_iv(d, iv, ad, adlen, ct, len, back, tag), 0);
	CHECK(memcmp(back, pt, len) == 0);
	/* in place, the AAD split at an odd point */
	size_t cut = adlen / 3;
	memcpy(back, pt, len);
	memset(tag, 0, 16);
	CHECK_EQ(tern_aead_seal_iv(e, iv, ad, cut, ad + cut, adlen - cut, back, len, back, tag), 0);
	CHECK(memcmp(back, want_ct, len) == 0);
	CHECK(memcmp(tag, want_tag, 16) == 0);
	CHECK_EQ(tern_aead_open_iv(d, iv, ad, adlen, back, len, back, tag), 0);
	CHECK(memcmp(back, pt, len) == 0);
	if (check_failures)
		fprintf(stderr, "  (vector %s)\n", v->name);
	tern_aead_free(e);
	tern_aead_free(d);
}

static void aes256gcm__mcgrew_viega_vectors(void)
{
	for (size_t i = 0; i < 4; i++)
		aead_kat_run(&aead_kats[i]);
}

static void chachapoly__rfc8439_vector(void)
{
	aead_kat_run(&aead_kats[4]);
}

/* --- AEAD behaviour ----------------------------------------------------------- */

/* OpenSSL's EVP, one-shot with a fresh context: an independent reference. */
static void evp_seal_ref(unsigned cipher, const uint8_t key[32], const uint8_t iv[12],
			 const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
			 uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;
	EVP_EncryptInit_ex(c, cipher == TERN_CIPHER_AES256GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305(),
			   NULL, key, iv);
	if (adlen)
		EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen);
	if (len)
		EVP_EncryptUpdate(c, out, &n, in, (int)len);
	EVP_EncryptFinal_ex(c, out + len, &n);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

/* The nonce is 4 zero bytes || the counter, little-endian. */
static void aead__nonce_layout(void)
{
	uint8_t key[32], iv[12] = {0}, ad[40], pt[100], ct[100], ref[116], tag[16], reftag[16];
	fill(key, 32);
	fill(ad, 40);
	fill(pt, 100);
	unhex("0807060504030201", iv + 4, 8);
	for (unsigned cipher = TERN_CIPHER_AES256GCM; cipher <= TERN_CIPHER_CHACHAPOLY; cipher++) {
		struct tern_aead *e;
		REQUIRE(tern_aead_new(&e, cipher, key, 1) == 0);
		CHECK_EQ(tern_aead_seal(e, 0x0102030405060708ull, ad, 40, NULL, 0, pt, 100, ct, tag), 0);
		evp_seal_ref(cipher, key, iv, ad, 40, pt, 100, ref, reftag);
		CHECK(memcmp(ct, ref, 100) == 0);
		CHECK(memcmp(tag, reftag, 16) == 0);
		tern_aead_free(e);
	}
}

/* Random shapes against OpenSSL: lengths across block boundaries up to
 * jumbo frames, the AAD cut in two anywhere (integrity mode authenticates
 * the payload as the second piece), in place and out of place. */
static void aead__random_against_openssl(void)
{
	static uint8_t key[32], ad[3200], in[9100], out[9100], ref[9116], back[9100];
	uint8_t tag[16], reftag[16], iv[12] = {0};
	int bad = 0;
	for (int t = 0; t < 3000 && bad < 5; t++) {
		unsigned cipher = t & 1 ? TERN_CIPHER_CHACHAPOLY : TERN_CIPHER_AES256GCM;
		fill(key, 32);
		uint64_t ctr = rnd();
		uint64_t le = tern_le64(ctr);
		memcpy(iv + 4, &le, 8);
		size_t a1 = rnd() % (t % 4 == 3 ? 1600 : 70), a2 = rnd() % (t % 4 == 3 ? 1600 : 70);
		size_t len = rnd() % (t < 1000 ? 80 : t < 2900 ? 1500 : 9100);
		fill(ad, a1 + a2);
		fill(in, len);
		struct tern_aead *e, *d;
		if (tern_aead_new(&e, cipher, key, 1) != 0 || tern_aead_new(&d, cipher, key, 0) != 0) {
			bad++;
			break;
		}
		evp_seal_ref(cipher, key, iv, ad, a1 + a2, in, len, ref, reftag);
		int in_place = (t >> 1) & 1;
		if (in_place)
			memcpy(out, in, len);
		if (tern_aead_seal(e, ctr, ad, a1, ad + a1, a2, in_place ? out : in, len, out, tag) != 0 ||
		    memcmp(out, ref, len) != 0 || memcmp(tag, reftag, 16) != 0) {
			fprintf(stderr, "seal mismatch: cipher %u ad %zu+%zu len %zu in place %d\n",
				cipher, a1, a2, len, in_place);
			bad++;
		}
		if (in_place)
			memcpy(back, out, len);
		if (tern_aead_open(d, ctr, ad, a1 + a2, in_place ? back : out, len, back, tag) != 0 ||
		    memcmp(back, in, len) != 0) {
			fprintf(stderr, "open failed: cipher %u ad %zu+%zu len %zu in place %d\n", cipher,
				a1, a2, len, in_place);
			bad++;
		}
		tern_aead_free(e);
		tern_aead_free(d);
	}
	CHECK_EQ(bad, 0);
}

/* Integrity level: nothing encrypted, everything authenticated; and a
 * packet with neither AAD nor payload. */
static void aead__empty_payload(void)
{
	uint8_t key[32], ad[100], tag[16];
	fill(key, 32);
	fill(ad, 100);
	for (unsigned cipher = TERN_CIPHER_AES256GCM; cipher <= TERN_CIPHER_CHACHAPOLY; cipher++) {
		struct tern_aead *e, *d;
		REQUIRE(tern_aead_new(&e, cipher, key, 1) == 0);
		REQUIRE(tern_aead_new(&d, cipher, key, 0) == 0);
		CHECK_EQ(tern_aead_seal(e, 5, ad, 40, ad + 40, 60, NULL, 0, NULL, tag), 0);
		CHECK_EQ(tern_aead_open(d, 5, ad, 100, NULL, 0, NULL, tag), 0);
		ad[70] ^= 0x10;
		CHECK_EQ(tern_aead_open(d, 5, ad, 100, NULL, 0, NULL, tag), -EBADMSG);
		ad[70] ^= 0x10;
		CHECK_EQ(tern_aead_open(d, 6, ad, 100, NULL, 0, NULL, tag), -EBADMSG);
		CHECK_EQ(tern_aead_seal(e, 0, NULL, 0, NULL, 0, NULL, 0, NULL, tag), 0);
		CHECK_EQ(tern_aead_open(d, 0, NULL, 0, NULL, 0, NULL, tag), 0);
		tag[15] ^= 0x80;
		CHECK_EQ(tern_aead_open(d, 0, NULL, 0, NULL, 0, NULL, tag), -EBADMSG);
		tern_aead_free(e);
		tern_aead_free(d);
	}
}

/* Every byte of the AAD, the ciphertext and the tag, and the counter:
 * changed, the packet is refused and the output holds zeros, in place and
 * out of place. */
static void aead_open__every_tamper_refused(void)
{
	enum { AD = 40, LEN = 48 };
	uint8_t key[32], ad[AD], pt[LEN], ct[LEN], tag[16], out[LEN], buf[LEN];
	fill(key, 32);
	fill(ad, AD);
	fill(pt, LEN);
	for (unsigned cipher = TERN_CIPHER_AES256GCM; cipher <= TERN_CIPHER_CHACHAPOLY; cipher++) {
		struct tern_aead *e, *d;
		REQUIRE(tern_aead_new(&e, cipher, key, 1) == 0);
		REQUIRE(tern_aead_new(&d, cipher, key, 0) == 0);
		REQUIRE(tern_aead_seal(e, 77, ad, AD, NULL, 0, pt, LEN, ct, tag) == 0);
		int refused = 0, zeroed = 0, cases = 0;
		for (size_t where = 0; where < AD + LEN + 16 + 1; where++) {
			uint8_t bit = (uint8_t)(1u << (where % 8));
			uint8_t *p = where < AD ? &ad[where]
				     : where < AD + LEN ? &ct[where - AD]
				     : where < AD + LEN + 16 ? &tag[where - AD - LEN]
							       : NULL;
			uint64_t ctr = p == NULL ? 78 : 77;
			if (p != NULL)
				*p ^= bit;
			for (int in_place = 0; in_place < 2; in_place++) {
				uint8_t *dst = in_place ? buf : out;
				memcpy(buf, ct, LEN);
				memset(out, 0xa5, LEN);
				cases++;
				refused += tern_aead_open(d, ctr, ad, AD, buf, LEN, dst, tag) == -EBADMSG;
				zeroed += all_zero(dst, LEN);
			}
			if (p != NULL)
				*p ^= bit;
		}
		CHECK_EQ(refused, cases);
		CHECK_EQ(zeroed, cases);
		CHECK_EQ(tern_aead_open(d, 77, ad, AD, ct, LEN, out, tag), 0); /* untouched: fine */
		CHECK(memcmp(out, pt, LEN) == 0);
		tern_aead_free(e);
		tern_aead_free(d);
	}
}

static void aead__bad_arguments(void)
{
	uint8_t key[32] = {1}, buf[64] = {0}, tag[16];
	struct tern_aead *e, *d, *x;
	CHECK_EQ(tern_aead_new(&x, 0, key, 1), -EINVAL);
	CHECK_EQ(tern_aead_new(&x, 3, key, 1), -EINVAL);
	REQUIRE(tern_aead_new(&e, TERN_CIPHER_AES256GCM, key, 1) == 0);
	REQUIRE(tern_aead_new(&d, TERN_CIPHER_AES256GCM, key, 0) == 0);
	/* the wrong direction */
	CHECK_EQ(tern_aead_open(e, 1, buf, 8, buf + 8, 16, buf + 8, tag), -EINVAL);
	CHECK_EQ(tern_aead_seal(d, 1, buf, 8, NULL, 0, buf + 8, 16, buf + 8, tag), -EINVAL);
	/* overlapping but not the same buffer */
	CHECK_EQ(tern_aead_seal(e, 1, NULL, 0, NULL, 0, buf, 32, buf + 1, tag), -EINVAL);
	CHECK_EQ(tern_aead_seal(e, 1, NULL, 0, NULL, 0, buf + 31, 32, buf, tag), -EINVAL);
	CHECK_EQ(tern_aead_seal(e, 1, NULL, 0, NULL, 0, buf + 32, 32, buf, tag), 0); /* adjacent */
	CHECK_EQ(tern_aead_open(d, 1, NULL, 0, buf, 32, buf + 16, tag), -EINVAL);
	CHECK_EQ(tern_aead_seal(e, 1, NULL, 0, NULL, 0, NULL, 32, buf, tag), -EINVAL);
	tern_aead_free(e);
	tern_aead_free(d);
	tern_aead_free(NULL);
}

/* --- X25519 -------------------------------------------------------------------- */

static void x25519__rfc7748_5_2(void)
{
	static const char *v[][3] = {
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		 "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		 "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		/* the u-coordinate's top bit is set: it must be ignored */
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		 "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		 "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	};
	uint8_t k[32], u[32], out[32], want[32];
	for (int i = 0; i < 2; i++) {
		unhex(v[i][0], k, 32);
		unhex(v[i][1], u, 32);
		unhex(v[i][2], want, 32);
		CHECK_EQ(tern_x25519(out, k, u), 0);
		CHECK(memcmp(out, want, 32) == 0);
		struct tern_x25519_key *key;
		REQUIRE(tern_x25519_key_new(&key, k, NULL) == 0);
		memset(out, 0, 32);
		CHECK_EQ(tern_x25519_key_dh(key, u, out), 0);
		CHECK(memcmp(out, want, 32) == 0);
		tern_x25519_key_free(key);
	}
	/* k = u = 9, then (k, u) = (X25519(k, u), k): after 1 and 1000 rounds */
	uint8_t next[32];
	memset(k, 0, 32);
	k[0] = 9;
	memcpy(u, k, 32);
	for (int i = 1; i <= 1000; i++) {
		REQUIRE(tern_x25519(next, k, u) == 0);
		memcpy(u, k, 32);
		memcpy(k, next, 32);
		if (i == 1) {
			unhex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", want, 32);
			CHECK(memcmp(k, want, 32) == 0);
		}
	}
	unhex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", want, 32);
	CHECK(memcmp(k, want, 32) == 0);
}

static void x25519__rfc7748_6_1(void)
{
	uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32], want[32];
	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
	CHECK_EQ(tern_x25519_public(a, apub), 0);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
	CHECK(memcmp(apub, want, 32) == 0);
	struct tern_x25519_key *bk;
	REQUIRE(tern_x25519_key_new(&bk, b, bpub) == 0);
	unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want, 32);
	CHECK(memcmp(bpub, want, 32) == 0);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
	CHECK_EQ(tern_x25519(s1, a, bpub), 0);
	CHECK_EQ(tern_x25519_key_dh(bk, apub, s2), 0);
	CHECK(memcmp(s1, want, 32) == 0);
	CHECK(memcmp(s2, want, 32) == 0);
	tern_x25519_key_free(bk);
}

/* Points of small order give an all-zero secret with any clamped scalar:
 * refused, by both entry points, with nothing left in out. */
static void x25519__low_order_refused(void)
{
	static const char *points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
		"0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p */
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 */
	};
	uint8_t priv[32], pub[32], p[32], out[32];
	struct tern_x25519_key *k;
	REQUIRE(tern_x25519_keypair(priv, pub) == 0);
	REQUIRE(tern_x25519_key_new(&k, priv, NULL) == 0);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		unhex(points[i], p, 32);
		memset(out, 0xa5, 32);
		CHECK_EQ(tern_x25519(out, priv, p), -EINVAL);
		CHECK(all_zero(out, 32));
		memset(out, 0xa5, 32);
		CHECK_EQ(tern_x25519_key_dh(k, p, out), -EINVAL);
		CHECK(all_zero(out, 32));
	}
	tern_x25519_key_free(k);
}

/* Generated keys agree with each other and with the raw-key functions. */
static void x25519_key__generate_agrees(void)
{
	struct tern_x25519_key *a, *b;
	uint8_t apub[32], bpub[32], s1[32], s2[32], priv[32], pub[32], s3[32];
	REQUIRE(tern_x25519_key_generate(&a, apub) == 0);
	REQUIRE(tern_x25519_key_generate(&b, bpub) == 0);
	CHECK(memcmp(apub, bpub, 32) != 0);
	CHECK_EQ(tern_x25519_key_dh(a, bpub, s1), 0);
	CHECK_EQ(tern_x25519_key_dh(b, apub, s2), 0);
	CHECK(memcmp(s1, s2, 32) == 0);
	REQUIRE(tern_x25519_keypair(priv, pub) == 0);
	CHECK_EQ(tern_x25519(s1, priv, apub), 0);
	CHECK_EQ(tern_x25519_key_dh(a, pub, s3), 0);
	CHECK(memcmp(s1, s3, 32) == 0);
	tern_x25519_key_free(a);
	tern_x25519_key_free(b);
	tern_x25519_key_free(NULL);
	CHECK_EQ(tern_x25519_key_new(NULL, priv, NULL), -EINVAL);
}

/* The public key a key is made with (nettle's fixed-base) is the one its
 * private key (held by OpenSSL) makes: DH with the base point gives it back. */
static void x25519_key__public_key_matches_private(void)
{
	static const uint8_t nine[32] = {9};
	for (int i = 0; i < 8; i++) {
		struct tern_x25519_key *k;
		uint8_t pub[32], back[32], priv[32], pub2[32];
		REQUIRE(tern_x25519_key_generate(&k, pub) == 0);
		CHECK_EQ(tern_x25519_key_dh(k, nine, back), 0);
		CHECK(memcmp(pub, back, 32) == 0);
		tern_x25519_key_free(k);
		REQUIRE(tern_random(priv, 32) == 0);
		REQUIRE(tern_x25519_key_new(&k, priv, pub2) == 0);
		CHECK_EQ(tern_x25519_key_dh(k, nine, back), 0);
		CHECK(memcmp(pub2, back, 32) == 0);
		tern_x25519_key_free(k);
		tern_wipe(priv, sizeof(priv));
	}
}

/* An imported public key serves several keys and several DH, each as
 * tern_x25519_key_dh would; a key's DH after another peer's uses the new
 * one (its derive context is reused); low-order keys are refused. */
static void x25519_pub__reused_agrees(void)
{
	struct tern_x25519_key *a, *b, *c;
	uint8_t apub[32], bpub[32], cpub[32], want[32], got[32];
	REQUIRE(tern_x25519_key_generate(&a, apub) == 0);
	REQUIRE(tern_x25519_key_generate(&b, bpub) == 0);
	REQUIRE(tern_x25519_key_generate(&c, cpub) == 0);
	struct tern_x25519_pub *pc, *pb;
	REQUIRE(tern_x25519_pub_new(&pc, cpub) == 0);
	REQUIRE(tern_x25519_pub_new(&pb, bpub) == 0);
	for (int round = 0; round < 2; round++) {
		CHECK_EQ(tern_x25519_key_dh(c, apub, want), 0);
		CHECK_EQ(tern_x25519_key_dh_pub(a, pc, got), 0);
		CHECK(memcmp(want, got, 32) == 0);
		CHECK_EQ(tern_x25519_key_dh(c, bpub, want), 0);
		CHECK_EQ(tern_x25519_key_dh_pub(b, pc, got), 0);
		CHECK(memcmp(want, got, 32) == 0);
		CHECK_EQ(tern_x25519_key_dh(b, apub, want), 0);
		CHECK_EQ(tern_x25519_key_dh_pub(a, pb, got), 0); /* a: another peer now */
		CHECK(memcmp(want, got, 32) == 0);
	}
	tern_x25519_pub_free(pb); /* a's context may still refer to it */
	CHECK_EQ(tern_x25519_key_dh(c, apub, want), 0);
	CHECK_EQ(tern_x25519_key_dh_pub(a, pc, got), 0);
	CHECK(memcmp(want, got, 32) == 0);
	static const uint8_t one[32] = {1};
	struct tern_x25519_pub *low;
	REQUIRE(tern_x25519_pub_new(&low, one) == 0);
	memset(got, 0xa5, 32);
	CHECK_EQ(tern_x25519_key_dh_pub(a, low, got), -EINVAL);
	CHECK(all_zero(got, 32));
	CHECK_EQ(tern_x25519_key_dh_pub(a, pc, got), 0); /* and the key still works */
	CHECK(memcmp(want, got, 32) == 0);
	tern_x25519_pub_free(low);
	tern_x25519_pub_free(pc);
	tern_x25519_pub_free(NULL);
	CHECK_EQ(tern_x25519_pub_new(NULL, apub), -EINVAL);
	tern_x25519_key_free(a);
	tern_x25519_key_free(b);
	tern_x25519_key_free(c);
}

/* --- hashing ------------------------------------------------------------------- */

static void sha256__fips180_examples(void)
{
	uint8_t out[32], want[32];
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	tern_sha256(out, "abc", 3, NULL, 0);
	CHECK(memcmp(out, want, 32) == 0);
	tern_sha256(out, "a", 1, "bc", 2); /* two pieces hash as one */
	CHECK(memcmp(out, want, 32) == 0);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
	tern_sha256(out, "", 0, NULL, 0);
	CHECK(memcmp(out, want, 32) == 0);
	unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, 32);
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	tern_sha256(out, m, 20, m + 20, strlen(m) - 20);
	CHECK(memcmp(out, want, 32) == 0);
}

static void hmac__rfc4231(void)
{
	uint8_t out[32], want[32], key[131];
	/* test case 1 */
	memset(key, 0x0b, 20);
	unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want, 32);
	tern_hmac(out, key, 20, "Hi There", 8, NULL, 0);
	CHECK(memcmp(out, want, 32) == 0);
	/* test case 2, the data in two pieces */
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
	tern_hmac(out, (const uint8_t *)"Jefe", 4, "what do ya want ", 16, "for nothing?", 12);
	CHECK(memcmp(out, want, 32) == 0);
	/* test case 6: a key longer than the block */
	memset(key, 0xaa, 131);
	unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want, 32);
	const char *d = "Test Using Larger Than Block-Size Key - Hash Key First";
	tern_hmac(out, key, 131, d, strlen(d), NULL, 0);
	CHECK(memcmp(out, want, 32) == 0);
}

/* Noise's HKDF(ck, ikm) is RFC 5869's with salt ck, empty info; RFC 5869
 * test case 3 has an empty salt, which HMAC pads to 32 zero bytes. */
static void hkdf__rfc5869_case3(void)
{
	uint8_t ck[32] = {0}, ikm[22], o1[32], o2[32], o3[32], okm[42];
	memset(ikm, 0x0b, 22);
	unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	      "9d201395faa4b61a96c8",
	      okm, 42);
	tern_hkdf(ck, ikm, 22, o1, o2, o3);
	CHECK(memcmp(o1, okm, 32) == 0);
	CHECK(memcmp(o2, okm + 32, 10) == 0);
	/* out3 = HMAC(prk, out2 || 3) */
	uint8_t prk[32], t3[32], three = 3;
	unhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", prk, 32);
	tern_hmac(t3, prk, 32, o2, 32, &three, 1);
	CHECK(memcmp(o3, t3, 32) == 0);
	/* the first output may be the chaining key itself (noise.c does so) */
	uint8_t ck2[32] = {0}, o2b[32];
	tern_hkdf(ck2, ikm, 22, ck2, o2b, NULL);
	CHECK(memcmp(ck2, okm, 32) == 0);
	CHECK(memcmp(o2b, o2, 32) == 0);
}

/* --- key files ----------------------------------------------------------------- */

/* The wrappers: while watching, remember the last buffer crypto.c read a
 * file into, and at close(2) whether that buffer still held file bytes. */
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
int __real_close(int fd);
int __wrap_close(int fd);
static int watch_fd = -1;
static uint8_t *watch_buf;
static size_t watch_len;
static int watch_reads, watch_unwiped_at_close;

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	ssize_t r = __real_read(fd, buf, n);
	if (watch_fd == -2 && r > 0) { /* watching: the next fd read from */
		watch_fd = fd;
	}
	if (fd == watch_fd && r > 0) {
		watch_reads++;
		/* the bytes so far start at the buffer's start (crypto.c reads a
		 * line into the front of its buffer) */
		if (watch_buf == NULL || (uint8_t *)buf < watch_buf ||
		    (uint8_t *)buf > watch_buf + watch_len)
			watch_buf = buf;
		watch_len = (size_t)((uint8_t *)buf + r - watch_buf);
	}
	return r;
}

int __wrap_close(int fd)
{
	if (fd == watch_fd && watch_buf != NULL)
		watch_unwiped_at_close = !all_zero(watch_buf, watch_len);
	if (fd == watch_fd)
		watch_fd = -1;
	return __real_close(fd);
}

static void watch_start(void)
{
	watch_fd = -2;
	watch_buf = NULL;
	watch_len = 0;
	watch_reads = 0;
	watch_unwiped_at_close = -1;
}

static char keydir[] = "/tmp/tern-keys-XXXXXX";

static void put_file(const char *name, const char *text, char path[256])
{
	snprintf(path, 256, "%s/%s", keydir, name);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void key_write__round_trip(void)
{
	char path[256];
	uint8_t k[32], back[32];
	struct stat st;
	fill(k, 32);
	snprintf(path, sizeof(path), "%s/priv", keydir);
	CHECK_EQ(tern_key_write(path, k, 1), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ(tern_key_read(path, back), 0);
	CHECK(memcmp(k, back, 32) == 0);
	snprintf(path, sizeof(path), "%s/pub", keydir);
	CHECK_EQ(tern_key_write(path, k, 0), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_EQ(tern_key_write(path, k, 1), 0); /* rewritten private: the mode follows */
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* tern-keygen's pair */
	char name[200], pub[256];
	uint8_t priv[32], p2[32], derived[32];
	snprintf(name, sizeof(name), "%s/gen", keydir);
	CHECK_EQ(tern_keygen(name), 0);
	snprintf(path, sizeof(path), "%s.key", name);
	snprintf(pub, sizeof(pub), "%s.pub", name);
	CHECK_EQ(tern_key_read(path, priv), 0);
	CHECK_EQ(tern_key_read(pub, p2), 0);
	CHECK_EQ(tern_x25519_public(priv, derived), 0);
	CHECK(memcmp(p2, derived, 32) == 0);
}

static void key_read__malformed_refused(void)
{
	/* a valid key: 32 bytes of 0..31 */
	const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	static const char *bad[] = {
		"",
		"\n",
		"not a key\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",    /* no pad */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==\n",  /* 45 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",   /* stray low bits */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=\n",   /* not base64 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= x\n", /* trailing junk */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd==\n",     /* 30 bytes */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4fIA==\n", /* 33 bytes */
	};
	char path[256], text[128];
	uint8_t key[32], want[32];
	for (int i = 0; i < 32; i++)
		want[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file("bad", bad[i], path);
		if (tern_key_read(path, key) != -EINVAL)
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		CHECK_EQ(tern_key_read(path, key), -EINVAL);
	}
	/* accepted forms: blanks around, CRLF, no final newline, a comment */
	static const char *around[][2] = {
		{"", "\n"}, {"  ", " \t\r\n"}, {"", ""}, {"", " # alice\nrest ignored\n"}};
	for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s", around[i][0], good, around[i][1]);
		put_file("ok", text, path);
		memset(key, 0, 32);
		CHECK_EQ(tern_key_read(path, key), 0);
		CHECK(memcmp(key, want, 32) == 0);
	}
	CHECK_EQ(tern_key_read("/nonexistent/key", key), -ENOENT);
	CHECK_EQ(tern_key_read(NULL, key), -EINVAL);
}

static void keys_read__allow_list(void)
{
	char path[256], text[512];
	uint8_t (*keys)[32];
	uint32_t n;
	const char *k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	const char *k2 = "HxwdGhsYGRYXFBUSExAREA4PDA0KCwgJBgcEBQIDAAE=";
	snprintf(text, sizeof(text), "# clients\n\n  %s\r\n\t# bob:\n%s # bob", k1, k2);
	put_file("allow", text, path);
	REQUIRE(tern_keys_read(path, &keys, &n) == 0);
	CHECK_EQ(n, 2);
	CHECK(n == 2 && keys[0][0] == 0 && keys[0][31] == 31 && keys[1][0] == 0x1f);
	free(keys);
	/* one bad line refuses the whole list */
	snprintf(text, sizeof(text), "%s\nnot a key\n%s\n", k1, k2);
	put_file("allow", text, path);
	CHECK_EQ(tern_keys_read(path, &keys, &n), -EINVAL);
	CHECK(keys == NULL && n == 0);
	/* a line longer than the reader's buffer */
	static char big[6000];
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big + sizeof(big) - 46, k1, 44);
	put_file("allow", big, path);
	CHECK_EQ(tern_keys_read(path, &keys, &n), -EINVAL);
	/* many keys: the list grows */
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL);
	for (int i = 0; i < 100; i++)
		fprintf(f, "%s\n", i & 1 ? k1 : k2);
	fclose(f);
	REQUIRE(tern_keys_read(path, &keys, &n) == 0);
	CHECK_EQ(n, 100);
	free(keys);
	CHECK_EQ(tern_keys_read("/nonexistent/allow", &keys, &n), -ENOENT);
}

/* Issue 10, finding 7: the buffer a private key file is read into is wiped
 * before the file is closed (stdio's buffer was freed with the key in it). */
static void key_read__file_buffer_wiped(void)
{
	char path[256];
	uint8_t k[32], back[32];
	fill(k, 32);
	snprintf(path, sizeof(path), "%s/wiped", keydir);
	REQUIRE(tern_key_write(path, k, 1) == 0);
	watch_start();
	CHECK_EQ(tern_key_read(path, back), 0);
	CHECK(memcmp(k, back, 32) == 0);
	CHECK(watch_reads > 0); /* the file went through read(2) into tern's buffer */
	CHECK_EQ(watch_unwiped_at_close, 0);
	/* and the allow-list reader */
	uint8_t (*keys)[32];
	uint32_t n;
	watch_start();
	CHECK_EQ(tern_keys_read(path, &keys, &n), 0);
	CHECK(watch_reads > 0);
	CHECK_EQ(watch_unwiped_at_close, 0);
	free(keys);
	watch_fd = -1;
}

int main(void)
{
	if (mkdtemp(keydir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(aes256gcm__mcgrew_viega_vectors);
	RUN(chachapoly__rfc8439_vector);
	RUN(aead__nonce_layout);
	RUN(aead__random_against_openssl);
	RUN(aead__empty_payload);
	RUN(aead_open__every_tamper_refused);
	RUN(aead__bad_arguments);
	RUN(x25519__rfc7748_5_2);
	RUN(x25519__rfc7748_6_1);
	RUN(x25519__low_order_refused);
	RUN(x25519_key__generate_agrees);
	RUN(x25519_key__public_key_matches_private);
	RUN(x25519_pub__reused_agrees);
	RUN(sha256__fips180_examples);
	RUN(hmac__rfc4231);
	RUN(hkdf__rfc5869_case3);
	RUN(key_write__round_trip);
	RUN(key_read__malformed_refused);
	RUN(keys_read__allow_list);
	RUN(key_read__file_buffer_wiped);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", keydir);
	return check_exit();
}
