/*
 * gcm.c — AES-256-GCM with AES-NI and PCLMULQDQ, for small packets.
 *
 * Why not OpenSSL for everything: OpenSSL 3.0's EVP layer spends ~300 ns
 * per packet in provider dispatch (setting the IV, reading the tag) before
 * any cryptography, which is more than a whole memif round trip's budget.
 * For packets up to TERN_GCM_SMALL bytes tern runs GCM itself: the same
 * algorithm (NIST SP 800-38D), so its output is bit-for-bit OpenSSL's —
 * tests/unit/test_crypto.c checks exactly that over random keys, nonces,
 * associated data and lengths, and against the standard test vectors.
 * Larger packets go to EVP, whose fixed cost is then amortised.
 *
 * Constant time: AES rounds are AES-NI instructions, GHASH is carry-less
 * multiplication, tags are compared with CRYPTO_memcmp. Key material lives
 * in struct tern_gcm, wiped by the owner.
 *
 * GHASH uses the bit-reflected representation of Intel's white paper
 * ("Intel Carry-Less Multiplication Instruction and its Usage for Computing
 * the GCM Mode", Gueron and Kounavis): blocks are byte-swapped and
 * multiplied by H with one reduction each.
 */
#include <string.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "tern_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("aes,pclmul,ssse3,sse4.1")))

TGT static inline __m128i bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* AES-256 key expansion (FIPS 197), the AES-NI way. */
TGT static inline __m128i expand_a(__m128i k, __m128i t)
{
	t = _mm_shuffle_epi32(t, 0xff);
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, t);
}

TGT static inline __m128i expand_b(__m128i k1, __m128i k2)
{
	__m128i t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k1, 0), 0xaa);
	k2 = _mm_xor_si128(k2, _mm_slli_si128(k2, 4));
	k2 = _mm_xor_si128(k2, _mm_slli_si128(k2, 4));
	k2 = _mm_xor_si128(k2, _mm_slli_si128(k2, 4));
	return _mm_xor_si128(k2, t);
}

#define EXP(i, rcon)                                                                     \
	do {                                                                             \
		rk[i] = expand_a(rk[i - 2], _mm_aeskeygenassist_si128(rk[i - 1], rcon)); \
		if (i + 1 < 15)                                                          \
			rk[i + 1] = expand_b(rk[i], rk[i - 1]);                          \
	} while (0)

TGT static void aes256_expand(const uint8_t key[32], __m128i rk[15])
{
	rk[0] = _mm_loadu_si128((const __m128i *)key);
	rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
	EXP(2, 0x01);
	EXP(4, 0x02);
	EXP(6, 0x04);
	EXP(8, 0x08);
	EXP(10, 0x10);
	EXP(12, 0x20);
	EXP(14, 0x40);
}

TGT static inline __m128i aes256(const __m128i *rk, __m128i b)
{
	b = _mm_xor_si128(b, rk[0]);
	for (int i = 1; i < 14; i++)
		b = _mm_aesenc_si128(b, rk[i]);
	return _mm_aesenclast_si128(b, rk[14]);
}

/* a * b in GF(2^128), reflected representation (Intel white paper, fig. 5). */
TGT static inline __m128i gfmul(__m128i a, __m128i b)
{
	__m128i t2, t3, t4, t5, t6, t7, t8, t9;
	t3 = _mm_clmulepi64_si128(a, b, 0x00);
	t4 = _mm_clmulepi64_si128(a, b, 0x10);
	t5 = _mm_clmulepi64_si128(a, b, 0x01);
	t6 = _mm_clmulepi64_si128(a, b, 0x11);
	t4 = _mm_xor_si128(t4, t5);
	t5 = _mm_slli_si128(t4, 8);
	t4 = _mm_srli_si128(t4, 8);
	t3 = _mm_xor_si128(t3, t5);
	t6 = _mm_xor_si128(t6, t4);
	/* shift the 256-bit product left by one bit */
	t7 = _mm_srli_epi32(t3, 31);
	t8 = _mm_srli_epi32(t6, 31);
	t3 = _mm_slli_epi32(t3, 1);
	t6 = _mm_slli_epi32(t6, 1);
	t9 = _mm_srli_si128(t7, 12);
	t8 = _mm_slli_si128(t8, 4);
	t7 = _mm_slli_si128(t7, 4);
	t3 = _mm_or_si128(t3, t7);
	t6 = _mm_or_si128(t6, t8);
	t6 = _mm_or_si128(t6, t9);
	/* reduce modulo x^128 + x^7 + x^2 + x + 1 */
	t7 = _mm_slli_epi32(t3, 31);
	t8 = _mm_slli_epi32(t3, 30);
	t9 = _mm_slli_epi32(t3, 25);
	t7 = _mm_xor_si128(t7, t8);
	t7 = _mm_xor_si128(t7, t9);
	t8 = _mm_srli_si128(t7, 4);
	t7 = _mm_slli_si128(t7, 12);
	t3 = _mm_xor_si128(t3, t7);
	t2 = _mm_srli_epi32(t3, 1);
	t4 = _mm_srli_epi32(t3, 2);
	t5 = _mm_srli_epi32(t3, 7);
	t2 = _mm_xor_si128(t2, t4);
	t2 = _mm_xor_si128(t2, t5);
	t2 = _mm_xor_si128(t2, t8);
	t3 = _mm_xor_si128(t3, t2);
	return _mm_xor_si128(t6, t3);
}

struct ghash {
	__m128i x, h;
	uint8_t buf[16];
	unsigned n; /* bytes buffered */
};

/* Absorb len bytes (any split: partial blocks are carried over). */
TGT static void ghash_update(struct ghash *g, const uint8_t *p, size_t len)
{
	if (len == 0)
		return; /* p may be NULL then */
	if (g->n != 0) {
		while (g->n < 16 && len != 0) {
			g->buf[g->n++] = *p++;
			len--;
		}
		if (g->n < 16)
			return;
		g->x = gfmul(_mm_xor_si128(g->x, bswap128(_mm_loadu_si128((const __m128i *)g->buf))), g->h);
		g->n = 0;
	}
	for (; len >= 16; p += 16, len -= 16)
		g->x = gfmul(_mm_xor_si128(g->x, bswap128(_mm_loadu_si128((const __m128i *)p))), g->h);
	memcpy(g->buf, p, len);
	g->n = (unsigned)len;
}

/* Zero-pad what is buffered (end of the AAD or of the ciphertext). */
TGT static void ghash_pad(struct ghash *g)
{
	if (g->n == 0)
		return;
	memset(g->buf + g->n, 0, 16 - g->n);
	g->x = gfmul(_mm_xor_si128(g->x, bswap128(_mm_loadu_si128((const __m128i *)g->buf))), g->h);
	g->n = 0;
}

void tern_gcm_init(struct tern_gcm *k, const uint8_t key[32])
{
	__m128i rk[15];
	aes256_expand(key, rk);
	memcpy(k->rk, rk, sizeof(rk));
	__m128i h = bswap128(aes256(rk, _mm_setzero_si128()));
	memcpy(k->h, &h, 16);
	tern_wipe(rk, sizeof(rk));
}

TGT static __m128i ctr_block(__m128i j, uint32_t ctr)
{
	return _mm_insert_epi32(j, (int)__builtin_bswap32(ctr), 3);
}

/* CTR-encrypt len bytes from counter 2 on (GCM's data counters). */
TGT static void ctr_xor(const __m128i *rk, __m128i j, const uint8_t *in, uint8_t *out, size_t len)
{
	uint32_t ctr = 2;
	while (len >= 64) {
		__m128i b0 = ctr_block(j, ctr), b1 = ctr_block(j, ctr + 1), b2 = ctr_block(j, ctr + 2),
			b3 = ctr_block(j, ctr + 3);
		b0 = _mm_xor_si128(b0, rk[0]);
		b1 = _mm_xor_si128(b1, rk[0]);
		b2 = _mm_xor_si128(b2, rk[0]);
		b3 = _mm_xor_si128(b3, rk[0]);
		for (int i = 1; i < 14; i++) {
			b0 = _mm_aesenc_si128(b0, rk[i]);
			b1 = _mm_aesenc_si128(b1, rk[i]);
			b2 = _mm_aesenc_si128(b2, rk[i]);
			b3 = _mm_aesenc_si128(b3, rk[i]);
		}
		b0 = _mm_aesenclast_si128(b0, rk[14]);
		b1 = _mm_aesenclast_si128(b1, rk[14]);
		b2 = _mm_aesenclast_si128(b2, rk[14]);
		b3 = _mm_aesenclast_si128(b3, rk[14]);
		_mm_storeu_si128((__m128i *)out, _mm_xor_si128(b0, _mm_loadu_si128((const __m128i *)in)));
		_mm_storeu_si128((__m128i *)(out + 16),
				 _mm_xor_si128(b1, _mm_loadu_si128((const __m128i *)(in + 16))));
		_mm_storeu_si128((__m128i *)(out + 32),
				 _mm_xor_si128(b2, _mm_loadu_si128((const __m128i *)(in + 32))));
		_mm_storeu_si128((__m128i *)(out + 48),
				 _mm_xor_si128(b3, _mm_loadu_si128((const __m128i *)(in + 48))));
		ctr += 4;
		in += 64;
		out += 64;
		len -= 64;
	}
	while (len != 0) {
		__m128i ks = aes256(rk, ctr_block(j, ctr++));
		if (len >= 16) {
			_mm_storeu_si128((__m128i *)out,
					 _mm_xor_si128(ks, _mm_loadu_si128((const __m128i *)in)));
			in += 16;
			out += 16;
			len -= 16;
		} else {
			uint8_t k[16];
			_mm_storeu_si128((__m128i *)k, ks);
			for (size_t i = 0; i < len; i++)
				out[i] = in[i] ^ k[i];
			tern_wipe(k, sizeof(k));
			len = 0;
		}
	}
}

TGT static void finish(const __m128i *rk, struct ghash *g, __m128i j, uint64_t adlen,
		       uint64_t len, uint8_t tag[16])
{
	uint64_t lens[2] = {__builtin_bswap64(adlen * 8), __builtin_bswap64(len * 8)};
	ghash_update(g, (const uint8_t *)lens, 16);
	__m128i t = _mm_xor_si128(aes256(rk, ctr_block(j, 1)), bswap128(g->x));
	_mm_storeu_si128((__m128i *)tag, t);
}

TGT int tern_gcm_seal(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
		      uint8_t tag[16])
{
	const __m128i *rk = (const __m128i *)k->rk; /* 16-byte aligned */
	uint8_t jb[16] = {0};
	memcpy(jb, iv, 12);
	__m128i j = _mm_loadu_si128((const __m128i *)jb);
	struct ghash g = {.x = _mm_setzero_si128(), .n = 0};
	memcpy(&g.h, k->h, 16);
	ghash_update(&g, ad, adlen);
	if (ad2len != 0)
		ghash_update(&g, ad2, ad2len);
	ghash_pad(&g);
	if (len != 0) {
		ctr_xor(rk, j, in, out, len);
		ghash_update(&g, out, len);
		ghash_pad(&g);
	}
	finish(rk, &g, j, adlen + ad2len, len, tag);
	return 0;
}

TGT int tern_gcm_open(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		      const void *in, size_t len, void *out, const uint8_t tag[16])
{
	const __m128i *rk = (const __m128i *)k->rk;
	uint8_t jb[16] = {0}, want[16];
	memcpy(jb, iv, 12);
	__m128i j = _mm_loadu_si128((const __m128i *)jb);
	struct ghash g = {.x = _mm_setzero_si128(), .n = 0};
	memcpy(&g.h, k->h, 16);
	ghash_update(&g, ad, adlen);
	ghash_pad(&g);
	if (len != 0) {
		ghash_update(&g, in, len); /* over the ciphertext, before it is overwritten */
		ghash_pad(&g);
	}
	finish(rk, &g, j, adlen, len, want);
	int ok = CRYPTO_memcmp(want, tag, 16) == 0;
	if (ok && len != 0)
		ctr_xor(rk, j, in, out, len);
	tern_wipe(want, sizeof(want));
	return ok ? 0 : -EBADMSG;
}

int tern_gcm_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") &&
	       __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1");
}

#else /* not x86-64: EVP does everything */

int tern_gcm_available(void)
{
	return 0;
}

void tern_gcm_init(struct tern_gcm *k, const uint8_t key[32])
{
	(void)k;
	(void)key;
}

int tern_gcm_seal(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		  const void *ad2, size_t ad2len, const void *in, size_t len, void *out, uint8_t tag[16])
{
	(void)k, (void)iv, (void)ad, (void)adlen, (void)ad2, (void)ad2len, (void)in, (void)len;
	(void)out, (void)tag;
	return -ENOTSUP;
}

int tern_gcm_open(const struct tern_gcm *k, const uint8_t iv[12], const void *ad, size_t adlen,
		  const void *in, size_t len, void *out, const uint8_t tag[16])
{
	(void)k, (void)iv, (void)ad, (void)adlen, (void)in, (void)len, (void)out, (void)tag;
	return -ENOTSUP;
}
#endif
