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
 * Larger packets go to EVP, whose fixed cost is then amortised, except on
 * CPUs with VAES and VPCLMULQDQ (AVX-512): there the wide path below runs
 * every size, 2-4x faster than EVP on MTU-sized packets.
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
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "tern_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
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

/*
 * Reduce a 256-bit carry-less product, given as lo (a0*b0), mid (a0*b1 ^
 * a1*b0) and hi (a1*b1), to a*b in GF(2^128), reflected representation
 * (Intel white paper, fig. 5: shift left by one, then reduce modulo
 * x^128 + x^7 + x^2 + x + 1). Linear in the product, so the sum of several
 * products may be reduced once (aggregated reduction, the wide path).
 */
TGT static inline __m128i gf_reduce(__m128i t3, __m128i t4, __m128i t6)
{
	__m128i t2, t5, t7, t8, t9;
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
	__m128i t4b = _mm_srli_epi32(t3, 2);
	t5 = _mm_srli_epi32(t3, 7);
	t2 = _mm_xor_si128(t2, t4b);
	t2 = _mm_xor_si128(t2, t5);
	t2 = _mm_xor_si128(t2, t8);
	t3 = _mm_xor_si128(t3, t2);
	return _mm_xor_si128(t6, t3);
}

/* a * b in GF(2^128), reflected representation. */
TGT static inline __m128i gfmul(__m128i a, __m128i b)
{
	__m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
	__m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
	return gf_reduce(lo, mid, hi);
}

/*
 * The wide path: VAES and VPCLMULQDQ on 512-bit registers, four blocks per
 * instruction. GHASH of 16 blocks at once is X' = (X ^ C1) H^16 ^ C2 H^15
 * ^ ... ^ C16 H: sixteen products summed, then one reduction. GHASH runs 16 blocks per reduction; CTR up to 32 blocks
 * in flight. Only full 64-byte groups go this way; the rest takes the
 * code above.
 */
#define WIDE __attribute__((target("aes,pclmul,ssse3,sse4.1,avx2,avx512f,avx512bw,vaes,vpclmulqdq")))

WIDE static inline __m128i xor_lanes(__m512i v)
{
	__m256i a = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
	return _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

/* The unreduced products of four blocks (a) by four powers of H (h). */
WIDE static inline __attribute__((always_inline)) void clmul4(__m512i a, __m512i h, __m512i *lo,
							       __m512i *mid, __m512i *hi)
{
	*lo = _mm512_xor_si512(*lo, _mm512_clmulepi64_epi128(a, h, 0x00));
	*hi = _mm512_xor_si512(*hi, _mm512_clmulepi64_epi128(a, h, 0x11));
	*mid = _mm512_xor_si512(*mid, _mm512_xor_si512(_mm512_clmulepi64_epi128(a, h, 0x10),
						       _mm512_clmulepi64_epi128(a, h, 0x01)));
}

/* GHASH over the 64-byte groups of p[0, len): returns the bytes consumed.
 * hp holds H^16 .. H^1: group g of a 16-block step is multiplied by
 * H^(16-4g) .. H^(13-4g), and the first block carries X. */
WIDE __attribute__((noinline)) static size_t ghash_wide(__m128i *xp, const uint8_t *hp, const uint8_t *p,
							 size_t len)
{
	const __m512i bs = _mm512_broadcast_i32x4(
		_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	__m512i h[4]; /* h[0] = H^16..H^13, ..., h[3] = H^4..H^1 */
	for (int g = 0; g < 4; g++)
		h[g] = _mm512_loadu_si512((const void *)(hp + 64 * g));
	__m128i x = *xp;
	size_t done = 0;
	while (len - done >= 64) {
		size_t left = len - done;
		int n = left >= 256 ? 4 : left >= 128 ? 2 : 1; /* groups this step */
		__m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
		for (int g = 0; g < n; g++) {
			__m512i a = _mm512_shuffle_epi8(
				_mm512_loadu_si512((const void *)(p + done + 64 * (size_t)g)), bs);
			if (g == 0)
				a = _mm512_xor_si512(a, _mm512_zextsi128_si512(x));
			clmul4(a, h[4 - n + g], &lo, &mid, &hi);
		}
		x = gf_reduce(xor_lanes(lo), xor_lanes(mid), xor_lanes(hi));
		done += 64 * (size_t)n;
	}
	*xp = x;
	return done;
}

/* Q groups of four counter blocks (64 Q bytes) of CTR from counter ctr. */
WIDE static inline __attribute__((always_inline)) void ctr_groups(const __m512i *k, __m512i base, __m512i bs,
								   uint32_t ctr, const uint8_t *in,
								   uint8_t *out, int q_n)
{
	__m512i b[8];
	for (int q = 0; q < q_n; q++) {
		uint32_t c = ctr + 4 * (uint32_t)q;
		__m512i n = _mm512_set_epi32(0, 0, 0, (int)(c + 3), 0, 0, 0, (int)(c + 2), 0, 0, 0,
					     (int)(c + 1), 0, 0, 0, (int)c);
		b[q] = _mm512_xor_si512(_mm512_shuffle_epi8(_mm512_add_epi32(base, n), bs), k[0]);
	}
	for (int i = 1; i < 14; i++)
		for (int q = 0; q < q_n; q++)
			b[q] = _mm512_aesenc_epi128(b[q], k[i]);
	for (int q = 0; q < q_n; q++) {
		b[q] = _mm512_aesenclast_epi128(b[q], k[14]);
		__m512i d = _mm512_loadu_si512((const void *)(in + 64 * (size_t)q));
		_mm512_storeu_si512((void *)(out + 64 * (size_t)q), _mm512_xor_si512(b[q], d));
	}
}

/* 64-byte groups of CTR from counter ctr on; returns the bytes done. */
WIDE __attribute__((noinline)) static size_t ctr_wide(const __m128i *rk, __m128i j, uint32_t ctr,
						       const uint8_t *in, uint8_t *out, size_t len)
{
	const __m512i bs = _mm512_broadcast_i32x4(
		_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	/* j byte-reversed: its 32-bit counter (0 here) is dword 0 of each lane */
	const __m512i base = _mm512_broadcast_i32x4(bswap128(_mm_insert_epi32(j, 0, 3)));
	__m512i k[15];
	for (int i = 0; i < 15; i++)
		k[i] = _mm512_broadcast_i32x4(rk[i]);
	size_t done = 0;
	for (; len - done >= 512; done += 512, ctr += 32)
		ctr_groups(k, base, bs, ctr, in + done, out + done, 8);
	if (len - done >= 256) {
		ctr_groups(k, base, bs, ctr, in + done, out + done, 4);
		done += 256;
		ctr += 16;
	}
	if (len - done >= 128) {
		ctr_groups(k, base, bs, ctr, in + done, out + done, 2);
		done += 128;
		ctr += 8;
	}
	if (len - done >= 64) {
		ctr_groups(k, base, bs, ctr, in + done, out + done, 1);
		done += 64;
	}
	return done;
}

struct ghash {
	__m128i x, h;
	const uint8_t *hp; /* H^16 .. H^1 when the wide path is on, else NULL */
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
	if (g->hp != NULL && len >= 64) {
		size_t done = ghash_wide(&g->x, g->hp, p, len);
		p += done;
		len -= done;
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

static int wide_available(void)
{
	unsigned a, b, c, d;
	/* VAES: CPUID.(7,0):ECX bit 9 (clang 14 has no "vaes" for cpu_supports);
	 * __builtin_cpu_supports("avx512f") also checks the OS saves ZMM state */
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0 || ((c >> 9) & 1) == 0)
		return 0;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx2");
}

void tern_gcm_init(struct tern_gcm *k, const uint8_t key[32])
{
	__m128i rk[15];
	aes256_expand(key, rk);
	memcpy(k->rk, rk, sizeof(rk));
	__m128i h = bswap128(aes256(rk, _mm_setzero_si128()));
	memcpy(k->h, &h, 16);
	__m128i p = h;
	for (int i = 15; i >= 0; i--) { /* hp[15] = H^1 ... hp[0] = H^16 */
		memcpy(k->hp + 16 * i, &p, 16);
		p = gfmul(p, h);
	}
	k->wide = wide_available();
	tern_wipe(rk, sizeof(rk));
	tern_wipe(&p, sizeof(p));
}

TGT static __m128i ctr_block(__m128i j, uint32_t ctr)
{
	return _mm_insert_epi32(j, (int)__builtin_bswap32(ctr), 3);
}

/* CTR-encrypt len bytes from counter 2 on (GCM's data counters). */
/* Four blocks through AES at once, kept in registers. */
TGT static inline __attribute__((always_inline)) void aes4(const __m128i *rk, __m128i *o, __m128i b0,
							    __m128i b1, __m128i b2, __m128i b3)
{
	__m128i k = rk[0];
	b0 = _mm_xor_si128(b0, k);
	b1 = _mm_xor_si128(b1, k);
	b2 = _mm_xor_si128(b2, k);
	b3 = _mm_xor_si128(b3, k);
	for (int i = 1; i < 14; i++) {
		k = rk[i];
		b0 = _mm_aesenc_si128(b0, k);
		b1 = _mm_aesenc_si128(b1, k);
		b2 = _mm_aesenc_si128(b2, k);
		b3 = _mm_aesenc_si128(b3, k);
	}
	k = rk[14];
	o[0] = _mm_aesenclast_si128(b0, k);
	o[1] = _mm_aesenclast_si128(b1, k);
	o[2] = _mm_aesenclast_si128(b2, k);
	o[3] = _mm_aesenclast_si128(b3, k);
}

TGT static void ctr_xor(const __m128i *rk, int wide, __m128i j, const uint8_t *in, uint8_t *out,
		       size_t len)
{
	uint32_t ctr = 2;
	if (wide && len >= 64) {
		size_t done = ctr_wide(rk, j, ctr, in, out, len);
		ctr += (uint32_t)(done / 16);
		in += done;
		out += done;
		len -= done;
	}
	while (len >= 64) {
		__m128i ks[4];
		aes4(rk, ks, ctr_block(j, ctr), ctr_block(j, ctr + 1), ctr_block(j, ctr + 2),
		     ctr_block(j, ctr + 3));
		for (int q = 0; q < 4; q++)
			_mm_storeu_si128((__m128i *)(out + 16 * q),
					 _mm_xor_si128(ks[q], _mm_loadu_si128((const __m128i *)(in + 16 * q))));
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

/*
 * Short messages (a packet's header and a small payload): every block of
 * AAD, ciphertext and lengths is multiplied by its own power of H and the
 * products are reduced once (GHASH aggregated over the whole message), and
 * the tag's E(J0) is computed alongside the keystream blocks, so neither
 * chain of dependent multiplications nor of AES rounds grows with length.
 * SMALL_MAX_BLOCKS blocks at most in all, SMALL_MAX_DATA of them payload.
 */
#define SMALL_MAX_BLOCKS 16
#define SMALL_MAX_DATA 7

/* GHASH from zero of the n blocks at m: sum of block i times H^(n-i). */
TGT static inline __m128i ghash_agg(const uint8_t *hp, const uint8_t *m, unsigned n)
{
	__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
	const uint8_t *h = hp + 16 * (SMALL_MAX_BLOCKS - n);
	for (unsigned i = 0; i < n; i++) {
		__m128i a = bswap128(_mm_loadu_si128((const __m128i *)(m + 16 * i)));
		__m128i p = _mm_loadu_si128((const __m128i *)(h + 16 * i));
		lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(a, p, 0x00));
		hi = _mm_xor_si128(hi, _mm_clmulepi64_si128(a, p, 0x11));
		mid = _mm_xor_si128(mid, _mm_xor_si128(_mm_clmulepi64_si128(a, p, 0x10),
						       _mm_clmulepi64_si128(a, p, 0x01)));
	}
	return gf_reduce(lo, mid, hi);
}

static inline bool small_fits(size_t alen, size_t len)
{
	size_t na = (alen + 15) / 16, nc = (len + 15) / 16;
	return nc <= SMALL_MAX_DATA && na + nc + 1 <= SMALL_MAX_BLOCKS;
}

/* Lay out AAD (two parts), data and the lengths block, zero-padded. */
static inline unsigned small_layout(uint8_t *m, const void *ad, size_t adlen, const void *ad2,
				    size_t ad2len, const void *data, size_t len, uint8_t **cpos)
{
	size_t alen = adlen + ad2len, na = (alen + 15) / 16, nc = (len + 15) / 16;
	memset(m, 0, 16 * (na + nc));
	if (adlen != 0)
		memcpy(m, ad, adlen);
	if (ad2len != 0)
		memcpy(m + adlen, ad2, ad2len);
	*cpos = m + 16 * na;
	if (len != 0)
		memcpy(*cpos, data, len);
	uint64_t lens[2] = {__builtin_bswap64((uint64_t)alen * 8), __builtin_bswap64((uint64_t)len * 8)};
	memcpy(m + 16 * (na + nc), lens, 16);
	return (unsigned)(na + nc + 1);
}

/* b[0] = E(J0), b[1..nc] = the keystream from counter 2 (b has room for
 * SMALL_MAX_DATA + 1 blocks, filled four at a time). */
TGT static inline void small_keys(const __m128i *rk, __m128i j, __m128i *b, unsigned nc)
{
	for (uint32_t q = 0; q <= nc; q += 4)
		aes4(rk, b + q, ctr_block(j, q + 1), ctr_block(j, q + 2), ctr_block(j, q + 3),
		     ctr_block(j, q + 4));
}

TGT static int seal_small(const struct tern_gcm *k, __m128i j, const void *ad, size_t adlen,
			  const void *ad2, size_t ad2len, const void *in, size_t len, void *out,
			  uint8_t tag[16])
{
	const __m128i *rk = (const __m128i *)k->rk;
	uint8_t m[16 * SMALL_MAX_BLOCKS], *c;
	unsigned nc = (unsigned)((len + 15) / 16);
	__m128i b[SMALL_MAX_DATA + 1];
	unsigned n = small_layout(m, ad, adlen, ad2, ad2len, in, len, &c);
	small_keys(rk, j, b, nc);
	for (unsigned q = 0; q < nc; q++) {
		__m128i *p = (__m128i *)(c + 16 * q);
		_mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), b[q + 1]));
	}
	if (len != 0) {
		memcpy(out, c, len);
		memset(c + len, 0, 16 * nc - len); /* GHASH pads the ciphertext with zeros */
	}
	__m128i x = ghash_agg(k->hp, m, n);
	_mm_storeu_si128((__m128i *)tag, _mm_xor_si128(b[0], bswap128(x)));
	tern_wipe(b, sizeof(b));
	return 0;
}

TGT static int open_small(const struct tern_gcm *k, __m128i j, const void *ad, size_t adlen,
			  const void *in, size_t len, void *out, const uint8_t tag[16])
{
	const __m128i *rk = (const __m128i *)k->rk;
	uint8_t m[16 * SMALL_MAX_BLOCKS], *c, want[16];
	unsigned nc = (unsigned)((len + 15) / 16);
	__m128i b[SMALL_MAX_DATA + 1];
	unsigned n = small_layout(m, ad, adlen, NULL, 0, in, len, &c);
	small_keys(rk, j, b, nc);
	__m128i x = ghash_agg(k->hp, m, n);
	_mm_storeu_si128((__m128i *)want, _mm_xor_si128(b[0], bswap128(x)));
	int ok = CRYPTO_memcmp(want, tag, 16) == 0;
	if (ok && len != 0) {
		for (unsigned q = 0; q < nc; q++) {
			__m128i *p = (__m128i *)(c + 16 * q);
			_mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), b[q + 1]));
		}
		memcpy(out, c, len);
		tern_wipe(c, 16 * nc); /* plaintext */
	}
	tern_wipe(b, sizeof(b));
	tern_wipe(want, sizeof(want));
	return ok ? 0 : -EBADMSG;
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
	if (small_fits(adlen + ad2len, len))
		return seal_small(k, j, ad, adlen, ad2, ad2len, in, len, out, tag);
	struct ghash g = {.x = _mm_setzero_si128(), .hp = k->wide ? k->hp : NULL, .n = 0};
	memcpy(&g.h, k->h, 16);
	ghash_update(&g, ad, adlen);
	if (ad2len != 0)
		ghash_update(&g, ad2, ad2len);
	ghash_pad(&g);
	if (len != 0) {
		ctr_xor(rk, k->wide, j, in, out, len);
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
	if (small_fits(adlen, len))
		return open_small(k, j, ad, adlen, in, len, out, tag);
	struct ghash g = {.x = _mm_setzero_si128(), .hp = k->wide ? k->hp : NULL, .n = 0};
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
		ctr_xor(rk, k->wide, j, in, out, len);
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
	(void)key;
	k->wide = 0;
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
