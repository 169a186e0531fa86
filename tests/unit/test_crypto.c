/*
 * test_crypto.c — lib/crypto.c and lib/gcm.c.
 *
 * The in-tree AES-256-GCM (gcm.c) must be bit-for-bit OpenSSL's: the
 * standard test vector, then random keys, nonces, split associated data and
 * lengths across every block boundary, compared with EVP in both
 * directions, and every single-bit tamper rejected. Plus the handshake
 * primitives against their RFC vectors, key files, and the AEAD contexts
 * interoperating across both paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* OpenSSL's AES-256-GCM, the reference. */
static void evp_seal(const uint8_t key[32], const uint8_t iv[12], const uint8_t *ad, size_t adlen,
		     const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;
	EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv);
	if (adlen)
		EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen);
	if (len)
		EVP_EncryptUpdate(c, out, &n, in, (int)len);
	EVP_EncryptFinal_ex(c, out + len, &n);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

static void gcm__nist_vector(void)
{
	if (!tern_gcm_available()) {
		SKIP("no AES-NI/PCLMULQDQ");
		return;
	}
	/* GCM spec (McGrew & Viega) test case 16: AES-256, 96-bit IV, AAD. */
	uint8_t key[32], iv[12], pt[60], ad[20], ct[60], tag[16], want_ct[60], want_tag[16];
	unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
	unhex("cafebabefacedbaddecaf888", iv, 12);
	unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	      pt, 60);
	unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", ad, 20);
	unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	      want_ct, 60);
	unhex("76fc6ece0f4e1768cddf8853bb2d551b", want_tag, 16);
	struct tern_gcm k;
	tern_gcm_init(&k, key);
	CHECK_EQ(tern_gcm_seal(&k, iv, ad, 20, NULL, 0, pt, 60, ct, tag), 0);
	CHECK(memcmp(ct, want_ct, 60) == 0);
	CHECK(memcmp(tag, want_tag, 16) == 0);
	uint8_t back[60];
	CHECK_EQ(tern_gcm_open(&k, iv, ad, 20, ct, 60, back, tag), 0);
	CHECK(memcmp(back, pt, 60) == 0);
	/* Test case 13: all-zero key, no data, no AAD. */
	memset(key, 0, 32);
	memset(iv, 0, 12);
	tern_gcm_init(&k, key);
	CHECK_EQ(tern_gcm_seal(&k, iv, NULL, 0, NULL, 0, NULL, 0, NULL, tag), 0);
	unhex("530f8afbc74536b9a963b4f1c4cb738b", want_tag, 16);
	CHECK(memcmp(tag, want_tag, 16) == 0);
}

static void gcm__random_against_openssl(void)
{
	if (!tern_gcm_available()) {
		SKIP("no AES-NI/PCLMULQDQ");
		return;
	}
	/* Lengths: short ones first, then up to jumbo frames; associated data
	 * up to 2 x 1600 bytes (integrity mode authenticates the payload as
	 * associated data). Odd t run the narrow path even where the CPU has
	 * the wide one, so both are checked against OpenSSL on such CPUs. */
	static uint8_t key[32], iv[12], ad[3200], in[9100], out[9100], ref[9100], back[9100];
	uint8_t tag[16], reftag[16];
	int bad = 0, wide = 0;
	for (int t = 0; t < 20000 && bad < 5; t++) {
		fill(key, 32);
		fill(iv, 12);
		size_t amax = t % 4 == 3 ? 1600 : 120;
		size_t a1 = rnd() % amax, a2 = rnd() % amax;
		size_t len = rnd() % (t < 2000 ? 80 : t < 12000 ? 1100 : t < 19000 ? 4200 : 9100);
		fill(ad, a1 + a2);
		fill(in, len);
		struct tern_gcm k;
		tern_gcm_init(&k, key);
		wide |= k.wide;
		if (t & 1)
			k.wide = 0;
		/* associated data split in two at a random point */
		tern_gcm_seal(&k, iv, ad, a1, ad + a1, a2, in, len, out, tag);
		evp_seal(key, iv, ad, a1 + a2, in, len, ref, reftag);
		if (memcmp(out, ref, len) != 0 || memcmp(tag, reftag, 16) != 0) {
			fprintf(stderr, "mismatch: ad %zu+%zu len %zu\n", a1, a2, len);
			bad++;
			continue;
		}
		if (tern_gcm_open(&k, iv, ad, a1 + a2, out, len, back, tag) != 0 ||
		    memcmp(back, in, len) != 0)
			bad++;
		/* a flipped bit anywhere (AAD, ciphertext, tag) is refused */
		size_t where = rnd() % (a1 + a2 + len + 16 + 1);
		uint8_t bit = (uint8_t)(1u << (rnd() % 8));
		if (where < a1 + a2)
			ad[where] ^= bit;
		else if (where < a1 + a2 + len)
			out[where - a1 - a2] ^= bit;
		else if (where < a1 + a2 + len + 16)
			tag[where - a1 - a2 - len] ^= bit;
		else
			iv[0] ^= bit;
		if (tern_gcm_open(&k, iv, ad, a1 + a2, out, len, back, tag) != -EBADMSG)
			bad++;
	}
	CHECK_EQ(bad, 0);
	if (!wide)
		fprintf(stderr, "note: no VAES/VPCLMULQDQ here: only the narrow path was checked\n");
}

/* The AEAD contexts: both paths, sealed by one and opened by the other. */
static void aead__paths_interoperate(void)
{
	uint8_t key[32], hdr[40], pl[2000], ct[2000], back[2000], tag[16];
	fill(key, 32);
	for (unsigned cipher = TERN_CIPHER_AES256GCM; cipher <= TERN_CIPHER_CHACHAPOLY; cipher++) {
		struct tern_aead *e, *d;
		REQUIRE(tern_aead_new(&e, cipher, key, 1) == 0);
		REQUIRE(tern_aead_new(&d, cipher, key, 0) == 0);
		for (int t = 0; t < 400; t++) {
			size_t len = rnd() % 2000;
			fill(hdr, 40);
			fill(pl, len);
			tern_aead_use_gcm(e, t & 1);
			tern_aead_use_gcm(d, (t >> 1) & 1);
			/* privacy: encrypt the payload */
			CHECK_EQ(tern_aead_seal(e, (uint64_t)t, hdr, 40, NULL, 0, pl, len, ct, tag), 0);
			CHECK_EQ(tern_aead_open(d, (uint64_t)t, hdr, 40, ct, len, back, tag), 0);
			CHECK(memcmp(back, pl, len) == 0);
			CHECK_EQ(tern_aead_open(d, (uint64_t)t + 1, hdr, 40, ct, len, back, tag), -EBADMSG);
			/* integrity: the payload authenticated, not encrypted */
			uint8_t ad[2040];
			memcpy(ad, hdr, 40);
			memcpy(ad + 40, pl, len);
			CHECK_EQ(tern_aead_seal(e, (uint64_t)t, hdr, 40, pl, len, NULL, 0, NULL, tag), 0);
			CHECK_EQ(tern_aead_open(d, (uint64_t)t, ad, 40 + len, NULL, 0, NULL, tag), 0);
			ad[rnd() % (40 + len)] ^= 1;
			CHECK_EQ(tern_aead_open(d, (uint64_t)t, ad, 40 + len, NULL, 0, NULL, tag), -EBADMSG);
		}
		tern_aead_free(e);
		tern_aead_free(d);
	}
	struct tern_aead *x;
	CHECK_EQ(tern_aead_new(&x, 0, key, 1), -EINVAL);
}

static void x25519__rfc7748(void)
{
	/* RFC 7748 section 6.1 */
	uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32], want[32];
	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
	CHECK_EQ(tern_x25519_public(a, apub), 0);
	CHECK_EQ(tern_x25519_public(b, bpub), 0);
	CHECK_EQ(tern_x25519(s1, a, bpub), 0);
	CHECK_EQ(tern_x25519(s2, b, apub), 0);
	CHECK(memcmp(s1, want, 32) == 0);
	CHECK(memcmp(s2, want, 32) == 0);
	uint8_t zero[32] = {0};
	CHECK_EQ(tern_x25519(s1, a, zero), -EINVAL); /* a low-order point */
}

static void hmac__rfc4231(void)
{
	/* RFC 4231 test case 2 */
	uint8_t out[32], want[32];
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
	tern_hmac(out, (const uint8_t *)"Jefe", 4, "what do ya want ", 16, "for nothing?", 12);
	CHECK(memcmp(out, want, 32) == 0);
	uint8_t ck[32] = {0}, o1[32], o2[32], o3[32];
	tern_hkdf(ck, "ikm", 3, o1, o2, o3);
	CHECK(memcmp(o1, o2, 32) != 0 && memcmp(o2, o3, 32) != 0);
}

static void keys__files(void)
{
	char dir[] = "/tmp/tern-keys-XXXXXX", path[128];
	REQUIRE(mkdtemp(dir) != NULL);
	uint8_t k[32], back[32];
	fill(k, 32);
	snprintf(path, sizeof(path), "%s/k", dir);
	CHECK_EQ(tern_key_write(path, k, 1), 0);
	CHECK_EQ(tern_key_read(path, back), 0);
	CHECK(memcmp(k, back, 32) == 0);
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	CHECK_EQ(tern_key_read(path, back), -EINVAL);
	CHECK_EQ(tern_key_read("/nonexistent/key", back), -ENOENT);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(gcm__nist_vector);
	RUN(gcm__random_against_openssl);
	RUN(aead__paths_interoperate);
	RUN(x25519__rfc7748);
	RUN(hmac__rfc4231);
	RUN(keys__files);
	return check_exit();
}
