/*
 * test_crc.c — lib/crc.c, the header check: CRC32C folded to 16 bits, by
 * SSE4.2 or by table; what the check catches is test_wire.c's.
 */
#include "check.h"
#include "inject.h"

static void crc16__known_vector(void)
{
	/* CRC32C("123456789") = 0xe3069283; folded: 0xe306 ^ 0x9283. */
	CHECK_EQ(tern_crc16("123456789", 9), 0xe306 ^ 0x9283);
	CHECK_EQ(tern_crc16("", 0), 0); /* ~0xffffffff ^ ... = 0 */
	/* Lengths that are not a multiple of 8 take the byte loop too. */
	uint8_t a[13];
	inj_fill(a, sizeof(a), 3);
	uint16_t c1 = tern_crc16(a, sizeof(a));
	a[12] ^= 1;
	CHECK(tern_crc16(a, sizeof(a)) != c1);
}

/* The table and the SSE4.2 instruction give the same CRC at every length,
 * for a buffer and for a packet's header check (whose checksum field counts
 * as zero), and so the same seal. Where the CPU has no SSE4.2 both runs take
 * the table. */
static void crc_use_hw__table_and_instruction_agree(void)
{
	uint8_t a[200];
	inj_fill(a, sizeof(a), 7);
	int was = tern_crc_use_hw(0);
	uint16_t sw[sizeof(a) + 1], sw_hdr[sizeof(a) + 1];
	for (size_t n = 0; n <= sizeof(a); n++) {
		sw[n] = tern_crc16(a, n);
		sw_hdr[n] = n >= TERN_HDR_LEN ? tern_crc16_hdr(a, n) : 0;
	}
	uint8_t sealed_sw[TERN_HDR_LEN], sealed_hw[TERN_HDR_LEN];
	memcpy(sealed_sw, a, TERN_HDR_LEN);
	tern_wire_seal_hdr(sealed_sw);
	tern_crc_use_hw(1);
	unsigned differ = 0;
	for (size_t n = 0; n <= sizeof(a); n++) {
		differ += tern_crc16(a, n) != sw[n];
		if (n >= TERN_HDR_LEN)
			differ += tern_crc16_hdr(a, n) != sw_hdr[n];
	}
	CHECK_EQ(differ, 0);
	memcpy(sealed_hw, a, TERN_HDR_LEN);
	tern_wire_seal_hdr(sealed_hw);
	CHECK(memcmp(sealed_sw, sealed_hw, TERN_HDR_LEN) == 0);
	/* The checksum field does not count: changing it changes nothing. */
	a[10] ^= 0xff;
	CHECK_EQ(tern_crc16_hdr(a, TERN_HDR_LEN), sw_hdr[TERN_HDR_LEN]);
	tern_crc_use_hw(0);
	CHECK_EQ(tern_crc16_hdr(a, TERN_HDR_LEN), sw_hdr[TERN_HDR_LEN]);
	tern_crc_use_hw(was);
}

/* A header written from its words with its checksum (the transmit path)
 * is byte for byte the header tern_wire_put() and tern_wire_seal() make,
 * by the instruction and by the table; the receive path's check of the
 * header alone agrees with the general one. */
static void wire_put_sealed__same_as_put_then_seal(void)
{
	struct tern_hdr h = {.type = TERN_PKT_RESP, .flags = TERN_WF_STATUS, .status = 0xa5,
			     .req_type = 0xbeef, .dst_session = 0x1234, .src_session = 0xfedc,
			     .csum = 0x7777, /* ignored */ .token = 0x89abcdefu,
			     .pkt_num = 0x01020304u, .msg_size = 0xf0e0d0c0u,
			     .req_num = 0x1122334455667788ull};
	uint8_t want[TERN_HDR_LEN], got[TERN_HDR_LEN];
	int was = tern_crc_use_hw(0);
	for (int hw = 0; hw <= 1; hw++) {
		tern_crc_use_hw(hw);
		tern_wire_put(want, &h);
		tern_wire_seal(want, TERN_HDR_LEN);
		memset(got, 0xcc, sizeof(got));
		struct tern_wire_words w = tern_wire_words(&h);
		tern_wire_put_sealed(got, &w);
		CHECK(memcmp(want, got, TERN_HDR_LEN) == 0);
		CHECK(tern_wire_csum_ok(got, TERN_HDR_LEN));
		/* the receive path's check of a header-only checksum */
		CHECK_EQ(tern_crc16_hdr32(got), tern_crc16_hdr(got, TERN_HDR_LEN));
		CHECK_EQ(tern_crc16_hdr32(got), tern_wire_csum_get(got));
		/* and unsealed: the checksum field zero */
		tern_wire_put(want, &h);
		tern_wire_put_words(got, &w);
		CHECK(memcmp(want, got, TERN_HDR_LEN) == 0);
	}
	tern_crc_use_hw(was);
}

int main(void)
{
	RUN(crc16__known_vector);
	RUN(crc_use_hw__table_and_instruction_agree);
	RUN(wire_put_sealed__same_as_put_then_seal);
	return check_exit();
}
