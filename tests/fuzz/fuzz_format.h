/*
 * fuzz_format.h — the input format of fuzz_rx.c (gen_corpus.c writes it).
 *
 * An input is a sequence of records; each starts with an opcode byte whose
 * two top bits say the kind. A record cut short by the end of the input is
 * ignored.
 *
 *   FZ_PKT | target | flags, u16 len (LE), len bytes
 *       A datagram for the endpoint (len is capped at FZ_PKT_MAX). When the
 *       target is a session (not FZ_T_RAW) and the packet holds a header,
 *       the harness first stamps the session's ids and token on it —
 *       random tokens are not something a fuzzer can guess — so the bytes
 *       that matter are the state machines' own: type, flags, status,
 *       req_type, pkt_num, msg_size, req_num, payload.
 *   FZ_TIME, u8 n      advance the virtual clock by (n + 1) * 250 us, poll
 *   FZ_API | action, u8 arg    call the API (FZ_A_*)
 *   FZ_POLL | n        poll n + 1 times
 *
 * The endpoint under test (see fuzz_rx.c): MTU 96 (64 payload bytes per
 * packet), 4 slots, 8 credits. Sessions: FZ_T_SERVER was accepted from a
 * peer with session id 7 (the endpoint is its server), FZ_T_CLIENT was
 * opened by the endpoint (its client) to a peer with session id 9,
 * FZ_T_CONNECTING was opened and never answered. Calls in flight at the
 * start: on the client session req 4 (10 bytes, type 1), req 5 (300 bytes,
 * type 1), req 6 (one-way, 150 bytes, type 4); on the server session req 4
 * (20 bytes, type 1, server to client). Handlers: 1 echo (RRA), 2 deferred
 * (RRA), 3 echo (RR), 4 one-way (R), 5 error, 6 answer and close the
 * session, 7 nested call on the same session then defer. The endpoint has
 * TERN_EP_RECONNECT: a RESET on the client session starts a new handshake,
 * and FZ_T_CONNECTING then means that session.
 */
#ifndef TERN_FUZZ_FORMAT_H
#define TERN_FUZZ_FORMAT_H

#define FZ_KIND(op) ((op) & 0xc0)
#define FZ_PKT      0x00
#define FZ_TIME     0x40
#define FZ_API      0x80
#define FZ_POLL     0xc0

/* FZ_PKT: target in bits 0-1, flags above. */
#define FZ_T_RAW        0 /* as is, from the server peer's address */
#define FZ_T_SERVER     1 /* stamped for the session the endpoint accepted */
#define FZ_T_CLIENT     2 /* stamped for the session the endpoint opened */
#define FZ_T_CONNECTING 3 /* stamped for the session still connecting */
#define FZ_KEEP_TOKEN   0x04 /* keep the input's token (token mismatches) */
#define FZ_HS_FIX       0x08 /* CONNECT_OK: also stamp the expected nonce and epoch */
#define FZ_MOVED        0x10 /* from another source address */
#define FZ_UNREACH      0x20 /* not a datagram: the driver's "port unreachable" notice
			      * (TERN_RX_UNREACH) quoting it, stamped as a packet the
			      * endpoint sent on the target session (ids, token; for
			      * FZ_T_CONNECTING its CONNECT's epoch, token and nonce) */
#define FZ_PKT_MAX      2048

/* FZ_API actions (low 5 bits). */
#define FZ_A_CALL         0 /* tern_call on the client session, arg * 8 bytes */
#define FZ_A_SEND         1 /* tern_send on the client session, arg * 8 bytes */
#define FZ_A_CALL_SERVER  2 /* tern_call on the server session */
#define FZ_A_RESPOND      3 /* answer the oldest deferred request, arg * 4 bytes */
#define FZ_A_RESPOND_ERR  4 /* answer it with -(arg % 255 + 1) */
#define FZ_A_CLOSE_CLIENT 5 /* close the client session */
#define FZ_A_CLOSE_SERVER 6 /* close the server session */
#define FZ_A_CALL_IDEM    7 /* tern_call_ex(TERN_CALL_IDEMPOTENT) on the client session */
#define FZ_A_CALL_CLOSING 8 /* a call whose continuation closes its session */
#define FZ_A_RECONNECT    9 /* tern_connect a new session: it becomes FZ_T_CONNECTING */
#define FZ_A_CALL_CONN    10 /* tern_call on the connecting session, arg * 8 bytes */
#define FZ_A_CLOSE_ON_EVT 11 /* toggle: events but CONNECTED/ACCEPTED close their session */
#define FZ_A_RESPOND_STATUS 12 /* answer the oldest deferred request with tern_respond_status:
				* code arg % 18 (0 and 17 are refused), a message of arg bytes
				* (not UTF-8 when arg % 7 == 6) */

#endif
