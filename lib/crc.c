/*
 * crc.c — the header check: CRC32C folded to 16 bits.
 *
 * An Internet checksum (ones-complement sum) misses two-bit errors that
 * flip the same bit of two words in opposite directions, and a corrupted
 * header that slips through (an ACK with another req_num, a RESP with
 * another msg_size) can free the wrong response or wedge a call. CRC32C is
 * linear and mixes positions, so a random error pattern passes the 16-bit
 * fold with probability ~2^-16. SSE4.2's crc32 instruction makes it ~12
 * cycles for a 32-byte header; without it a table does the same work.
 */
#include <pthread.h>
#include <string.h>

#include "tern_internal.h"

static uint32_t crc_table[256];
static int crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
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
#else
	crc_hw = 0;
#endif
}

static uint32_t crc_sw(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw32(const uint8_t *p, size_t len)
{
	uint64_t c = 0xffffffffu;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	uint32_t c32 = (uint32_t)c;
	for (; i < len; i++)
		c32 = __builtin_ia32_crc32qi(c32, p[i]);
	return ~c32;
}
#endif

/*
 * The header check: CRC of the first len bytes of a packet with the
 * checksum field (bytes 10-11) taken as zero, so neither the sender nor the
 * receiver has to copy the header to blank it.
 */
#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw32_masked(const uint8_t *p, size_t len)
{
	uint64_t w[4];
	memcpy(w, p, 32);
	uint64_t c = 0xffffffffu;
	c = __builtin_ia32_crc32di(c, w[0]);
	c = __builtin_ia32_crc32di(c, w[1] & ~0xffff0000ull); /* bytes 10-11 */
	c = __builtin_ia32_crc32di(c, w[2]);
	c = __builtin_ia32_crc32di(c, w[3]);
	size_t i = 32;
	for (; i + 8 <= len; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	for (; i < len; i++)
		c32 = __builtin_ia32_crc32qi(c32, p[i]);
	return ~c32;
}
#endif

uint16_t tern_crc16_hdr(const void *pkt, size_t len)
{
	pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (tern_likely(crc_hw && len >= 32)) {
		uint32_t c = crc_hw32_masked(pkt, len);
		return (uint16_t)(c ^ (c >> 16));
	}
#endif
	uint8_t tmp[TERN_HDR_LEN + TERN_HS_LEN];
	if (len > sizeof(tmp))
		len = sizeof(tmp);
	memcpy(tmp, pkt, len);
	if (len >= 12)
		tmp[10] = tmp[11] = 0;
	uint32_t c = crc_sw(tmp, len);
	return (uint16_t)(c ^ (c >> 16));
}

uint16_t tern_crc16(const void *buf, size_t len)
{
	uint32_t c;
	pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (tern_likely(crc_hw))
		c = crc_hw32(buf, len);
	else
#endif
		c = crc_sw(buf, len);
	return (uint16_t)(c ^ (c >> 16));
}
