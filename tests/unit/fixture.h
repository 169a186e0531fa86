/*
 * fixture.h — what the unit tests of calls, serving and sessions share (one
 * copy, in fixture.c): the endpoint under test on the inject driver, the
 * remote peer played by injected packets, and the helpers that set them up,
 * issue calls and check what was sent.
 *
 * Three set-ups, after the role the endpoint plays:
 *   - the caller (client_setup): it connected to the peer, which answers
 *     by injected CRs and responses (test_call.c, test_credits.c, ...);
 *   - the callee (server_setup): it accepted the peer's session and has
 *     the handlers T_* registered, which record what they saw (runs, seen,
 *     deferred) (test_serve.c, test_credits.c, ...);
 *   - sessions (sess_setup): an endpoint with no session yet, whose
 *     session events are recorded in evs (test_session.c, test_connect.c).
 * MTU 96 in the first two: 64 payload bytes per packet, and with 8 slots
 * the first call on slot k is req_num 8 + k.
 *
 * Time is the virtual clock of inject.h. One test thread.
 */
#ifndef TERN_TEST_FIXTURE_H
#define TERN_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "inject.h"

#define US 1000ull
#define MS 1000000ull

/* The endpoint under test, its driver and the peer (set by every setup). */
extern struct tern_ep *ep;
extern struct inj *d;
extern struct inj_peer peer;

/* inj_config() and: MTU 96, keepalive 1 s, session timeout 5 s, call
 * timeout 10 s. */
void config(struct tern_ep_config *cfg);
/* Create the endpoint (ep, d) and initialise peer (not connected). 0 or -1. */
int ep_open(const struct tern_ep_config *cfg);
struct tern_stats stats(void);
/* Checks that everything the endpoint sent was well formed, then destroys it. */
void teardown(void);

/* --- the endpoint as the caller ------------------------------------------ */

int client_setup_cfg(const struct tern_ep_config *cfg);
int client_setup(void); /* config() */
/* Issue a call of type 1, len bytes of inj_fill(seed), to peer. */
int call(size_t len, uint32_t seed, struct inj_result *r, uint64_t timeout);
/* Pop the next packet: a REQ (RFR) of req_num, packet pkt (of a response of size). */
int expect_req(uint64_t req_num, uint32_t pkt);
int expect_rfr(uint64_t req_num, uint32_t pkt, uint32_t size);

/* The loss tests' caller: RTO floor and ceiling as given, long keepalive
 * and call timeout, session timeout rto_session_timeout. */
extern uint64_t rto_session_timeout;
int setup_rto(uint64_t rto_min, uint64_t rto_max, uint32_t max_retries);

/* --- the endpoint as the callee ------------------------------------------ */

enum { T_ECHO = 1, T_DEFER = 2, T_RR = 3, T_ONEWAY = 4, T_ERROR = 5, T_RR_DEFER = 6,
       T_CLOSE_AFTER = 7, T_CLOSE_BEFORE = 8, T_TWICE = 9, T_ONEWAY_CLOSE = 10, T_NONE = 99 };

extern int runs[16];             /* handler runs, by type & 15 */
extern uint8_t seen[8192];       /* the last request a handler saw */
extern size_t seen_len;
extern struct tern_session *seen_sess; /* ... and the session it came on */
extern struct tern_req *deferred[16]; /* requests T_DEFER and T_RR_DEFER kept */
extern int ndeferred;
extern long resp_size;           /* >= 0: handlers answer this many bytes of pattern */
extern int second_rc;            /* T_TWICE's second tern_respond() */

void h_defer(struct tern_req *req, void *ctx);
int server_setup_cfg(const struct tern_ep_config *cfg);
int server_setup(void); /* config() */
/* Pop a RESP and check its header. */
const struct inj_pkt *expect_resp(uint64_t req_num, uint16_t type, uint32_t pkt,
				  uint32_t msg_size, uint8_t status);
/* The next packet sent must be a CR for packets pkt - extra .. pkt. */
const struct inj_pkt *expect_cr_range(uint64_t req_num, uint32_t pkt, uint32_t extra,
				      uint8_t flags);
const struct inj_pkt *expect_cr(uint64_t req_num, uint32_t pkt, uint8_t flags);

/* --- sessions ------------------------------------------------------------ */

struct events {
	int n;
	int ev[32];
	int err[32];
	struct tern_session *s[32];
};
extern struct events evs;

/* inj_config() and: session events into evs, keepalive 10 ms, session
 * timeout 50 ms, connect timeout 40 ms, call timeout 10 s. */
void sess_config(struct tern_ep_config *cfg);
int sess_setup_cfg(const struct tern_ep_config *cfg);
int sess_setup(void);
/* sess_setup() with a peer p whose session is accepted; *old is p's
 * address, *moved another one (192.168.1.9:7777) to move p to (NAT
 * rebinding). 0, or the failure. */
int sess_setup_moving_peer(struct inj_peer *p, struct tern_addr *old, struct tern_addr *moved);
/* Issue a call of type 1, len bytes, on s. */
int call_on(struct tern_session *s, size_t len, struct inj_result *r);
/* A handler that answers with the request's bytes. */
void echo(struct tern_req *req, void *ctx);
/* Start connecting to p; returns the session and fills *chs with the CONNECT. */
struct tern_session *start_connect(struct inj_peer *p, struct tern_wire_hs *chs);
/* p's CONNECT_OK to the CONNECT chs, with status (0: accepted). */
void connect_ok(struct inj_peer *p, const struct tern_wire_hs *chs, uint8_t status,
		struct tern_hdr *h, struct tern_wire_hs *hs);

#endif /* TERN_TEST_FIXTURE_H */
