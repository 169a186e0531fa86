/*
 * inject.h — the packet-injection driver and the helpers the unit tests and
 * the fuzz harness drive an endpoint with.
 *
 * The "inject" driver (registered at run time with tern_drv_register()) has
 * no wire: tests push crafted datagrams into its receive queue, call
 * tern_poll(), and pop what the endpoint transmitted, decoded. Every
 * received datagram is a malloc'd copy of exactly its length, freed in
 * rx_done, so a read past a packet or after the burst is an ASan error.
 *
 * Time is virtual. Test programs link with -Wl,--wrap=tern_now_ns, so every
 * clock read in the library lands in __wrap_tern_now_ns() here: the clock
 * stands still until a test advances it (inj_clock_advance), which makes
 * every timer (RTO, ACK delay, keepalive, dead peer, connect timeout)
 * deterministic — tests assert on the sequence of events, never on elapsed
 * time. Functions that poll until a wall-clock deadline (tern_poll_wait,
 * tern_session_wait) need inj_clock_autostep(), which moves the clock on
 * every read.
 *
 * A struct inj_peer stands for the remote endpoint: its address, session id,
 * token and epoch, and what it learnt of the endpoint under test (session
 * id, token, payload per packet). inj_accept() opens a session with the
 * endpoint as the server (inject CONNECT, read CONNECT_OK), inj_connect()
 * with the endpoint as the client (tern_connect, read CONNECT, inject
 * CONNECT_OK).
 *
 * Threading: one test thread; inj_push_raw() may also be called from other
 * threads (it locks).
 */
#ifndef TERN_TEST_INJECT_H
#define TERN_TEST_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "tern_internal.h"

#define INJ_DRIVER   "inject"
#define INJ_MTU      1472u /* default MTU of an instance (cfg.mtu overrides) */
#define INJ_EP_ADDR  "10.0.0.1:4000"
#define INJ_PEER_ADDR "10.0.0.2:5000"

/* --- virtual clock ------------------------------------------------------ */

uint64_t inj_clock(void);
void inj_clock_advance(uint64_t ns);
/* Every clock read also advances it by ns (0 = a clock that stands still). */
void inj_clock_autostep(uint64_t ns);

/* --- the driver ------------------------------------------------------------ */

/* Register the driver (idempotent). Returns 0 or tern_drv_register()'s error. */
int inj_register(void);

/* A transmitted packet, copied and decoded. */
struct inj_pkt {
	struct tern_hdr h;       /* decoded header (valid if len >= TERN_HDR_LEN) */
	enum tern_wire_err wire; /* tern_wire_check() of the whole packet */
	uint8_t *data;           /* the whole packet */
	uint32_t len;
	const uint8_t *body;     /* data + TERN_HDR_LEN */
	uint32_t body_len;
	struct tern_addr dst;
};

struct inj;
struct inj *inj_of(struct tern_ep *ep);

/* Queue a datagram (copied) for the endpoint's next rx_burst. */
void inj_push_raw(struct inj *d, const void *pkt, size_t len, const struct tern_addr *src,
		  uint32_t rx_flags);
unsigned inj_rx_pending(struct inj *d);

unsigned inj_tx_count(struct inj *d);
/* Pop the oldest transmitted packet; valid until the next pop. NULL if none. */
const struct inj_pkt *inj_pop_tx(struct inj *d);
/* Pop and check its type; on a mismatch (or nothing sent) print why, return NULL. */
const struct inj_pkt *inj_expect_tx(struct inj *d, uint8_t type);
/* Pop every packet of type up to the first of another type; returns how many. */
unsigned inj_skip_tx(struct inj *d, uint8_t type);
void inj_tx_clear(struct inj *d);
/* Transmitted packets that failed tern_wire_check() (bad checksum, length...). */
unsigned inj_tx_bad(struct inj *d);
/* Accept at most n packets per tx_burst (-1: all, the default); the core
 * counts the rest in tx_drops. */
void inj_tx_limit(struct inj *d, int n);
/* Msgbuf regions come from the driver (mmap): fail after n more (-1: never). */
void inj_mem_fail_after(struct inj *d, int n);

/*
 * Lent transmit buffers (driver.h's tx_lend): the driver lends at most n
 * more (-1: any number; 0, the default: none, so the core seals into its
 * own memory). Each is malloc'd, exactly as long as asked, and tracked
 * until it comes back: in a consumed TERN_TX_LENT descriptor (whose packet
 * must fill the front of its buffer, else tx_bad), or by tx_unlend. A
 * buffer given back twice, or never lent, counts in bad; one still out at
 * close counts in inj_lent_leaked() (every instance, ever).
 */
struct inj_lend_stats {
	unsigned lent;   /* lent so far */
	unsigned sent;   /* back in a descriptor tx_burst consumed */
	unsigned unlent; /* back through tx_unlend */
	unsigned bad;    /* given back twice, or never lent */
	unsigned out;    /* lent and not back */
};
void inj_tx_lend_allow(struct inj *d, int n);
struct inj_lend_stats inj_lend_stats(const struct inj *d);
unsigned inj_lent_leaked(void);

/* --- the remote peer -------------------------------------------------------- */

struct inj_peer {
	struct tern_ep *ep;
	struct inj *d;
	struct tern_addr addr; /* source of what we inject */
	char addr_str[64];
	uint16_t id;           /* the peer's session id */
	uint32_t token;        /* the peer's token: the endpoint stamps it on packets to us */
	uint64_t epoch;
	uint64_t nonce;
	uint16_t slots, credits, mtu;
	uint32_t max_msg;
	/* learnt from the handshake */
	uint16_t ep_id;        /* the endpoint's session id */
	uint32_t ep_token;     /* the endpoint's token: we stamp it on our packets */
	uint64_t ep_epoch;
	uint32_t dpp;          /* payload bytes per packet on the session */
	struct tern_session *s;
};

/* Defaults: INJ_PEER_ADDR, id 7, fixed token/epoch/nonce, the endpoint's
 * slots/credits/mtu, 8 MiB max message. */
void inj_peer_init(struct inj_peer *p, struct tern_ep *ep, const char *addr);
/* The endpoint accepts a session from p: CONNECT in, CONNECT_OK checked. 0 or -1. */
int inj_accept(struct inj_peer *p);
/* The endpoint connects to p: tern_connect, CONNECT checked, CONNECT_OK in. 0 or -1. */
int inj_connect(struct inj_peer *p);
/* Build p's CONNECT (header and body) as inj_accept() sends it. */
void inj_connect_pkt(const struct inj_peer *p, struct tern_hdr *h, struct tern_wire_hs *hs);

/* A header from p to the endpoint's session (dst, src, token filled). */
struct tern_hdr inj_hdr(const struct inj_peer *p, uint8_t type);
/* Seal and push header + body from p's address. */
void inj_send(struct inj_peer *p, const struct tern_hdr *h, const void *body, size_t len);
void inj_send_hs(struct inj_peer *p, const struct tern_hdr *h, const struct tern_wire_hs *hs);

void inj_req(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size,
	     uint8_t flags, const void *payload, size_t len);
/* Packet pkt of the message msg (msg_size bytes), cut with p->dpp. */
void inj_req_pkt(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		 uint32_t msg_size, uint32_t pkt, uint8_t flags);
/* Every packet of msg, in order. */
void inj_req_msg(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		 uint32_t msg_size, uint8_t flags);
void inj_cr(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size,
	    uint8_t flags);
/* A CR for packets pkt - extra .. pkt (the coalesced form). */
void inj_cr_range(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt,
		  uint8_t extra, uint32_t msg_size, uint8_t flags);
void inj_resp_pkt(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		  uint32_t msg_size, uint32_t pkt);
void inj_resp_err(struct inj_peer *p, uint64_t req_num, uint16_t type, uint8_t status);
void inj_rfr(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size);
void inj_ack(struct inj_peer *p, uint64_t req_num, uint16_t type);
/* PING, PONG, DISCONNECT. */
void inj_ctrl(struct inj_peer *p, uint8_t type);
/* A RESET as the peer would send it for a packet of the endpoint's session. */
void inj_reset(struct inj_peer *p);

/* Poll until the receive queue is empty (bounded); returns the last tern_poll(). */
int inj_poll(struct tern_ep *ep);
/* Advance the clock by ns, then poll once. */
int inj_tick(struct tern_ep *ep, uint64_t ns);

/* --- endpoints and results ---------------------------------------------------- */

/* tern_ep_config_init() + driver "inject", bind INJ_EP_ADDR, short timers. */
void inj_config(struct tern_ep_config *cfg);
/* inj_register() + tern_ep_create(); NULL (with a message) on failure. */
struct tern_ep *inj_ep_create(const struct tern_ep_config *cfg);

/* What continuations saw: count them, keep the last status and data. */
struct inj_result {
	int calls;
	int status;
	uint16_t req_type;
	size_t len;
	uint8_t data[16384];
	int order;       /* global completion order of the last call (inj_cont) */
};
void inj_cont(const struct tern_result *res, void *ctx);
void inj_result_reset(struct inj_result *r);

/* Deterministic test payload. */
void inj_fill(void *buf, size_t len, uint32_t seed);
/* A msgbuf of len bytes of inj_fill(seed). */
struct tern_msg *inj_msg(struct tern_ep *ep, size_t len, uint32_t seed);

#endif /* TERN_TEST_INJECT_H */
