/*
 * secpair.h — the fixture of the security unit tests (test_noise.c,
 * test_protect.c): key files, and a pair of endpoints on the inject driver
 * joined by hand.
 *
 * Two inject endpoints have no wire between them: the test moves what one
 * transmitted into the other's receive queue (sp_pump), or holds a packet
 * back, copies it, replays it, mutates it (sp_take, sp_inject). So every
 * handshake packet a test injects was built by a real endpoint, and the
 * test decides what the network does with it. Both endpoints run on the
 * unit tests' virtual clock (inject.h).
 *
 * The handshake's replay check reads the wall clock (CLOCK_REALTIME): test
 * programs that link secpair.c with -Wl,--wrap=clock_gettime can move that
 * clock for the library (sp_realtime_shift) to build CONNECTs that are too
 * old or from the future.
 */
#ifndef TERN_TEST_SECPAIR_H
#define TERN_TEST_SECPAIR_H

#include <stdint.h>

#include "inject.h"

#define SP_SRV_ADDR "10.0.0.1:4000" /* INJ_EP_ADDR */
#define SP_CLI_ADDR "10.0.0.2:5000"

/* Key files, written by sp_keys_init() into a temporary directory. */
struct sp_keys {
	char dir[128];
	char srv_key[192], srv_pub[192]; /* the server's identity */
	char cli_key[192], cli_pub[192]; /* a client on the allow-list */
	char other_key[192], other_pub[192]; /* a key pair nobody allows or pins */
	char allow[192];                 /* allow-list: cli_pub */
	char allow2[192];                /* allow-list: cli_pub and other_pub */
	char psk[192], psk2[192];        /* two pre-shared keys */
	uint8_t srv_pub_raw[32], cli_pub_raw[32], other_pub_raw[32], psk_raw[32];
};
extern struct sp_keys sp_keys;
int sp_keys_init(void);
void sp_keys_fini(void);

/* Endpoint security settings (NULL / 0: unset). */
struct sp_sec {
	const char *key, *peer, *allow, *psk;
	uint32_t protection;
	uint32_t handshake_rate;
	uint32_t handshake_load;
};

/* inj_config() + the settings, bound at addr; NULL (with a message) on failure. */
struct tern_ep *sp_ep(const struct sp_sec *sec, const char *addr);
/* The same, quietly: tern_ep_create's result (for configurations that must fail). */
int sp_ep_try(const struct sp_sec *sec, const char *addr, struct tern_ep **out);
/* The same, with the caller's config (inj_config()'d, bind is set here). */
struct tern_ep *sp_ep_cfg(struct tern_ep_config *cfg, const struct sp_sec *sec, const char *addr);

/* A packet held by the test. */
struct sp_pkt {
	uint8_t data[2048];
	uint32_t len;
	struct tern_hdr h;
	struct tern_addr dst;
};

/* Pop ep's next transmitted packet into *out; it must be of type (0: any). 0 or -1. */
int sp_take(struct tern_ep *ep, uint8_t type, struct sp_pkt *out);
/* Queue p (or data/len) for ep's next receive burst, from address src. */
void sp_inject(struct tern_ep *ep, const struct sp_pkt *p, const struct tern_addr *src);
void sp_inject_raw(struct tern_ep *ep, const void *data, size_t len, const struct tern_addr *src);
/* ep's bound address. */
const struct tern_addr *sp_addr(const struct tern_ep *ep);
/* Move everything from transmitted to to's receive queue (from's address as
 * the source); the number moved. */
unsigned sp_pump(struct tern_ep *from, struct tern_ep *to);
/* Poll a and b and pump both ways until nothing moves (bounded). */
void sp_settle(struct tern_ep *a, struct tern_ep *b);

/*
 * Open a session from cli to srv (at SP_SRV_ADDR), the handshake packets
 * captured into *connect and *ok if not NULL. 0 when connected; otherwise
 * the client session's failure (or -1 if it is still connecting).
 */
int sp_connect(struct tern_ep *cli, struct tern_ep *srv, struct tern_session **out,
	       struct sp_pkt *connect, struct sp_pkt *ok);
/* The server's session of a pair (the one whose peer is cli's session s). */
struct tern_session *sp_server_session(struct tern_ep *srv, const struct tern_session *cs);

/* Sum of every drop counter. */
uint64_t sp_drops(const struct tern_ep *ep);
struct tern_stats sp_stats(const struct tern_ep *ep);

/* Wall-clock offset for the library (needs --wrap=clock_gettime). */
void sp_realtime_shift(int64_t ns);

/* Recompute a CONNECT's mac1 as a sender who knows what it is keyed with:
 * the server's public key (IK, IKpsk1) or the PSK (NNpsk0); mac2 keyed
 * with a cookie (all zero: mac2 zero). */
void sp_mac1_stamp(uint8_t *pkt, const uint8_t key_material[32]);
void sp_mac2_stamp(uint8_t *pkt, const uint8_t cookie[16]);
/* A made-up secure CONNECT of pattern with a random body and src_session,
 * a valid header checksum and (if key_material) a valid mac1. */
void sp_forge_connect(uint8_t *pkt, unsigned pattern, const uint8_t *key_material);

/* Move what from sent that is addressed to `to` into to's receive queue;
 * the rest is lost. The number moved. */
unsigned sp_deliver(struct tern_ep *from, struct tern_ep *to);

/* Deterministic random bytes (xorshift). */
uint64_t sp_rand(void);
void sp_rand_fill(void *p, size_t n);

/* Echo handler (RRA) counting its invocations in *(int *)ctx. */
void sp_echo(struct tern_req *req, void *ctx);

#endif
