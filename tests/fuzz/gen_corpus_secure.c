/*
 * gen_corpus_secure.c — writes the seed corpus of fuzz_secure
 * (tests/fuzz/corpus_secure/) in the record format of fuzz_secure_format.h:
 * each configuration (IK, IKpsk1, NNpsk0; with a low load threshold),
 * P's real traffic pumped and replayed, sealed requests and responses
 * (intact and tampered), mutated and made-up handshakes, cookie replies
 * (P's real ones, mutated, made up; E loaded so that it sends them), and
 * the API records.
 *
 *   gen_corpus_secure DIR    (re)writes DIR/<name> for every seed
 *
 * The fixture (fuzz_secure_format.h): 4 slots, so the first call of slot k
 * is req_num k + 4; P's call in flight at the start is req 4 (300 bytes),
 * E's is req 4 (100 bytes); 200 payload bytes per protected packet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_secure_format.h"
#include "wire.h"

static uint8_t out[8192];
static size_t n;
static const char *dir;
static int failed;

static void byte(uint8_t b)
{
	if (n < sizeof(out))
		out[n++] = b;
}

static void u16(uint16_t v)
{
	byte((uint8_t)v);
	byte((uint8_t)(v >> 8));
}

static void start(uint8_t cfg)
{
	n = 0;
	byte(cfg);
}

static void save(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(out, 1, n, f) != n) {
		fprintf(stderr, "gen_corpus_secure: %s: %s\n", path, strerror(errno));
		failed = 1;
	}
	if (f != NULL)
		fclose(f);
}

/* SX_SEAL: a header of type with these fields, len payload bytes. */
static void seal(uint8_t flags, uint8_t type, uint64_t req_num, uint16_t req_type, uint32_t pkt,
		 uint32_t msg_size, uint32_t len, int8_t delta)
{
	struct tern_hdr h;
	uint8_t hb[TERN_HDR_LEN];
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.req_num = req_num;
	h.req_type = req_type;
	h.pkt_num = pkt;
	h.msg_size = msg_size;
	tern_wire_put(hb, &h);
	byte(SX_SEAL | flags);
	u16((uint16_t)(TERN_HDR_LEN + len));
	for (unsigned i = 0; i < TERN_HDR_LEN; i++)
		byte(hb[i]);
	for (uint32_t i = 0; i < len; i++)
		byte((uint8_t)(i * 7 + 1));
	byte((uint8_t)delta);
}

static void mutations(unsigned count, uint16_t first_off)
{
	byte((uint8_t)count);
	for (unsigned i = 0; i < count; i++) {
		u16((uint16_t)(first_off + 13 * i));
		byte((uint8_t)(0x5a + i));
	}
}

static void ctl(uint8_t action, uint8_t v)
{
	byte(SX_CTL | action);
	byte(v);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus_secure DIR\n");
		return 2;
	}
	dir = argv[1];
	static const struct {
		const char *name;
		uint8_t cfg;
	} cfgs[] = {{"cfg_integrity", 0},
		    {"cfg_privacy", SX_CFG_PRIVACY},
		    {"cfg_privacy_chacha", SX_CFG_PRIVACY | SX_CFG_CHACHA},
		    {"cfg_integrity_psk", SX_CFG_PSK},
		    {"cfg_privacy_nnpsk0", SX_CFG_PRIVACY | SX_CFG_NN},
		    {"cfg_integrity_load", SX_CFG_LOAD},
		    {"cfg_privacy_psk_load", SX_CFG_PRIVACY | SX_CFG_PSK | SX_CFG_LOAD},
		    {"cfg_integrity_nnpsk0_load", SX_CFG_NN | SX_CFG_LOAD}};
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		start(cfgs[i].cfg);
		byte(SX_PUMP | 7);
		save(cfgs[i].name);
	}

	/* A request from P on E's server session, intact then tampered. */
	start(SX_CFG_PRIVACY);
	seal(SX_T_SERVER, TERN_PKT_REQ, 5, 1, 0, 10, 10, 0);
	byte(SX_PUMP | 3);
	save("seal_request");
	start(0);
	seal(SX_T_SERVER | SX_TAMPER, TERN_PKT_REQ, 5, 1, 0, 10, 10, 0);
	mutations(2, 40);
	byte(SX_PUMP | 3);
	save("seal_request_tampered");
	/* Two packets of a request, the second first; one counter reused. */
	start(SX_CFG_PRIVACY);
	seal(SX_T_SERVER, TERN_PKT_REQ, 6, 1, 1, 300, 100, 3);
	seal(SX_T_SERVER, TERN_PKT_REQ, 6, 1, 0, 300, 200, -2);
	seal(SX_T_SERVER, TERN_PKT_REQ, 6, 1, 0, 300, 200, 0);
	byte(SX_PUMP | 3);
	save("seal_request_reordered");
	/* The response to E's call (req 4, 100 bytes), and a one-way request. */
	start(0);
	seal(SX_T_CLIENT, TERN_PKT_RESP, 4, 1, 0, 100, 100, 0);
	seal(SX_T_SERVER, TERN_PKT_REQ, 7, 4, 0, 16, 16, 0);
	byte(SX_PUMP | 1);
	save("seal_response");
	/* Control packets: PING, ACK, DISCONNECT, unprotected (keep flags). */
	start(SX_CFG_PRIVACY);
	seal(SX_T_SERVER, TERN_PKT_PING, 0, 0, 0, 0, 0, 0);
	seal(SX_T_CLIENT, TERN_PKT_ACK, 4, 1, 0, 0, 0, 0);
	seal(SX_T_SERVER | SX_KEEP_FLAGS, TERN_PKT_PING, 0, 0, 0, 0, 0, 0);
	seal(SX_T_SERVER, TERN_PKT_DISCONNECT, 0, 0, 0, 0, 0, 0);
	byte(SX_PUMP | 2);
	save("seal_control");

	/* Handshakes: P's CONNECT again, mutated, fresh; made-up bodies. */
	start(0);
	byte(SX_CONNECT);
	mutations(0, 0);
	byte(SX_CONNECT | SX_MAC1);
	mutations(1, 100);
	byte(SX_CONNECT | SX_MOVED);
	mutations(1, 10);
	byte(SX_PUMP | 1);
	save("connect_mutated");
	start(SX_CFG_PSK);
	byte(SX_CONNECT | SX_FRESH);
	mutations(0, 0);
	byte(SX_PUMP | 3);
	byte(SX_CONNECT | SX_FRESH | SX_MAC1);
	mutations(1, 50);
	save("connect_fresh");
	start(0);
	byte(SX_CONNECT_BODY | SX_MAC1);
	u16(3);
	byte(TERN_PAT_IK);
	for (unsigned i = 1; i < TERN_SHS_CONNECT_LEN; i++) /* reserved zero, mac2 zero */
		byte(i < 8 || i >= TERN_SHS_OFF_MAC2 ? 0 : (uint8_t)(i * 31));
	save("connect_body");

	/* Cookies. E loaded: P's CONNECT again, then fresh ones, then with
	 * mac1 remade and moved (COOKIE replies to them). */
	start(SX_CFG_LOAD);
	ctl(SX_A_LOAD, 3);
	byte(SX_CONNECT | SX_FRESH);
	mutations(0, 0);
	byte(SX_CONNECT | SX_MAC1 | SX_MOVED);
	mutations(1, 200);
	byte(SX_PUMP | 3);
	save("cookie_server_loaded");
	/* P loaded: E reconnects and gets P's COOKIE, held; delivered as is,
	 * then mutated; then a made-up one. */
	start(SX_CFG_LOAD | SX_CFG_PRIVACY);
	ctl(SX_A_PEER_LOAD, 3);
	ctl(SX_A_RECONNECT, 0);
	byte(SX_OK | SX_HELD_COOKIE);
	mutations(0, 0);
	byte(SX_PUMP | 2);
	byte(SX_OK | SX_HELD_COOKIE);
	mutations(1, 40);
	byte(SX_OK_BODY | SX_AS_COOKIE);
	for (unsigned i = 0; i < TERN_COOKIE_BODY_LEN; i++)
		byte((uint8_t)(i * 7));
	byte(SX_PUMP | 2);
	save("cookie_client");
	start(SX_CFG_NN | SX_CFG_LOAD);
	ctl(SX_A_PEER_LOAD, 2);
	ctl(SX_A_RECONNECT, 0);
	byte(SX_OK | SX_HELD_COOKIE);
	mutations(0, 0);
	byte(SX_PUMP | 3);
	ctl(SX_A_LOAD, 5);
	byte(SX_CONNECT | SX_FRESH);
	mutations(0, 0);
	byte(SX_PUMP | 3);
	save("cookie_nnpsk0");
	start(SX_CFG_PRIVACY);
	byte(SX_OK);
	mutations(0, 0);
	ctl(SX_A_TIME, 3);
	byte(SX_PUMP | 1);
	save("connect_ok");
	start(0);
	byte(SX_OK);
	mutations(1, 60);
	byte(SX_OK_BODY);
	byte(0);
	for (unsigned i = 0; i < TERN_SHS_OK_LEN; i++)
		byte((uint8_t)(i * 17));
	byte(SX_OK_BODY);
	byte(13); /* a refusal */
	for (unsigned i = 0; i < TERN_SHS_OK_LEN; i++)
		byte(0);
	save("connect_ok_mutated");

	/* P's traffic replayed, as is and changed. */
	start(SX_CFG_PRIVACY);
	ctl(SX_A_CALL, 30);
	ctl(SX_A_PEER_CALL, 40);
	byte(SX_PUMP | 5);
	for (uint8_t i = 0; i < 6; i++) {
		byte(SX_REPLAY | i);
		mutations(i % 2, (uint16_t)(i * 9));
	}
	save("replay");

	/* The API: calls both ways, one-way, time, closes, reconnect. */
	start(0);
	ctl(SX_A_CALL, 100);
	ctl(SX_A_CALL_SERVER, 10);
	ctl(SX_A_SEND, 5);
	ctl(SX_A_PEER_CALL, 60);
	byte(SX_PUMP | 5);
	ctl(SX_A_TIME, 40);
	byte(SX_PUMP | 2);
	ctl(SX_A_PEER_CLOSE, 0);
	ctl(SX_A_CLOSE_CLIENT, 0);
	ctl(SX_A_RECONNECT, 0);
	byte(SX_OK);
	mutations(0, 0);
	byte(SX_PUMP | 2);
	ctl(SX_A_TIME, 255);
	ctl(SX_A_CLOSE_SERVER, 0);
	byte(SX_PUMP | 2);
	save("api_mix");
	return failed;
}
