/*
 * crc.c — the header check: CRC32C folded to 16 bits.
 *
 * An Internet checksum (ones-complement sum) misses two-bit errors that
 * flip the same bit of two words in opposite directions, and a corrupted
 * header that slips through (an ACK with another req_num, a RESP with
 * another msg_size) can free the wrong response or wedge a call. CRC32C is
 * linear and mixes positions, so a random error pattern passes the 16-bit
 * fold with probability ~2^-16. SSE4.2's crc32 instruction makes it four
 * instructions for a 32-byte header; without it a table does the same work.
 * Which one runs is decided once, when the library loads (never assumed
 * from the build machine).
 */
#include <string.h>

#include "tern_internal.h"

static uint32_t crc_table[256];
static int crc_hw;
static void crc_choose(void);

__attribute__((constructor)) static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
	crc_choose();
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c;
}

static inline uint16_t fold(uint32_t c)
{
	c = ~c;
	return (uint16_t)(c ^ (c >> 16));
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_tail(uint64_t c, const uint8_t *p,
							       size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	uint32_t c32 = (uint32_t)c;
	for (; i < len; i++)
		c32 = __builtin_ia32_crc32qi(c32, p[i]);
	return c32;
}

/* The header with its checksum field (bytes 10-11) taken as zero, then the
 * rest of the covered bytes (a control packet's body). */
__attribute__((target("sse4.2"))) static inline uint16_t crc_hdr_hw(const uint8_t *p, size_t len)
{
	uint64_t w0, w1, w2, w3;
	memcpy(&w0, p, 8);
	memcpy(&w1, p + 8, 8);
	memcpy(&w2, p + 16, 8);
	memcpy(&w3, p + 24, 8);
	uint64_t c = 0xffffffffu;
	c = __builtin_ia32_crc32di(c, w0);
	c = __builtin_ia32_crc32di(c, w1 & ~0xffff0000ull); /* bytes 10-11 */
	c = __builtin_ia32_crc32di(c, w2);
	c = __builtin_ia32_crc32di(c, w3);
	if (tern_likely(len == 32))
		return fold((uint32_t)c);
	return fold(crc_hw_tail(c, p + 32, len - 32));
}

__attribute__((target("sse4.2"))) static uint16_t crc16_hdr_hw(const void *pkt, size_t len)
{
	return crc_hdr_hw(pkt, len);
}

__attribute__((target("sse4.2"))) static uint16_t crc16_hdr32_hw(const void *pkt)
{
	return crc_hdr_hw(pkt, TERN_HDR_LEN);
}

/* The header's words in registers (tern_wire_words(), csum zero): their
 * CRC, then the header written with it. x86 is little-endian: the words
 * are the wire's bytes as they are. */
__attribute__((target("sse4.2"))) static void put_sealed_hw(void *pkt, uint64_t w0, uint64_t w1,
							     uint64_t w2, uint64_t w3)
{
	uint64_t c = 0xffffffffu;
	c = __builtin_ia32_crc32di(c, w0);
	c = __builtin_ia32_crc32di(c, w1);
	c = __builtin_ia32_crc32di(c, w2);
	c = __builtin_ia32_crc32di(c, w3);
	uint16_t f = fold((uint32_t)c);
	/* Plain stores, the checksum over w1's zero bytes last: the barriers
	 * keep the compiler from packing the words into vector registers
	 * first, which costs more than it saves. */
	uint8_t *p = pkt;
	memcpy(p, &w0, 8);
	__asm__ volatile("" ::: "memory");
	memcpy(p + 8, &w1, 8);
	__asm__ volatile("" ::: "memory");
	memcpy(p + 16, &w2, 8);
	__asm__ volatile("" ::: "memory");
	memcpy(p + 24, &w3, 8);
	memcpy(p + 10, &f, 2);
}
#endif

/*
 * The header check: CRC of the first len bytes (>= 32) of a packet with
 * the checksum field (bytes 10-11) taken as zero, so neither the sender nor
 * the receiver has to copy the header to blank it. The table's version.
 */
static uint16_t crc16_hdr_sw(const void *pkt, size_t len)
{
	static const uint8_t zero[2];
	const uint8_t *p = pkt;
	uint32_t c = crc_sw(0xffffffffu, p, 10);
	c = crc_sw(c, zero, 2);
	return fold(crc_sw(c, p + 12, len - 12));
}

static void put_sealed_sw(void *pkt, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
	uint64_t w[4] = {tern_le64(w0), tern_le64(w1), tern_le64(w2), tern_le64(w3)};
	memcpy(pkt, w, TERN_HDR_LEN);
	uint16_t c = tern_le16(crc16_hdr_sw(pkt, TERN_HDR_LEN));
	memcpy((uint8_t *)pkt + 10, &c, 2);
}

static uint16_t crc16_hdr32_sw(const void *pkt)
{
	return crc16_hdr_sw(pkt, TERN_HDR_LEN);
}

/* Chosen when the library loads (crc_init), or by tern_crc_use_hw(). */
uint16_t (*tern_crc16_hdr_fn)(const void *pkt, size_t len) = crc16_hdr_sw;
uint16_t (*tern_crc16_hdr32_fn)(const void *pkt) = crc16_hdr32_sw;
void (*tern_wire_put_sealed_fn)(void *pkt, uint64_t w0, uint64_t w1, uint64_t w2,
				uint64_t w3) = put_sealed_sw;

static void crc_choose(void)
{
#if defined(__x86_64__)
	if (crc_hw) {
		tern_crc16_hdr_fn = crc16_hdr_hw;
		tern_crc16_hdr32_fn = crc16_hdr32_hw;
		tern_wire_put_sealed_fn = put_sealed_hw;
		return;
	}
#endif
	tern_crc16_hdr_fn = crc16_hdr_sw;
	tern_crc16_hdr32_fn = crc16_hdr32_sw;
	tern_wire_put_sealed_fn = put_sealed_sw;
}

uint16_t tern_crc16(const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (tern_likely(crc_hw))
		return fold(crc_hw_tail(0xffffffffu, buf, len));
#endif
	return fold(crc_sw(0xffffffffu, buf, len));
}

int tern_crc_use_hw(int on)
{
	int was = crc_hw;
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = on && __builtin_cpu_supports("sse4.2");
#else
	(void)on;
#endif
	crc_choose();
	return was;
}
