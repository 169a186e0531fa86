/*
 * fuzz_secure_format.h — the input format of fuzz_secure.c
 * (gen_corpus_secure.c writes seeds in it).
 *
 * The fixture: the endpoint under test, E (10.0.0.1:4000, MTU 256), and a
 * real peer endpoint, P (10.0.0.2:5000), both with static keys; each
 * allows and pins the other (IK; IKpsk1 with a PSK too; with SX_CFG_NN
 * they hold only a PSK: NNpsk0). At the start P opened a session to E (E is
 * its server: session "server"), E opened one to P (E is its client:
 * session "client"), and E opened a third whose CONNECT_OK P has sent but
 * that is held back (session "connecting"). The fuzzer cannot forge tags,
 * so the records reach past authentication in three ways: packets that P's
 * real keys seal with fuzzer-chosen headers and payloads (SX_SEAL), real
 * handshake packets mutated (SX_CONNECT, SX_OK), and P's real traffic
 * replayed (SX_REPLAY). Handlers on E: 1 echo (RRA), 3 echo (RR), 4
 * one-way (R); on P: 1 echo.
 *
 * Byte 0 configures both endpoints (SX_CFG_*). Then records, each an op
 * byte (kind in the top three bits, an argument in the low five) and its
 * operands; a record cut short by the end of the input is ignored.
 *
 *   SX_SEAL | target | flags, u16 len, len bytes, i8 delta [, mutations]
 *       A packet from P on the session target: the first 32 bytes are its
 *       header (session ids and token stamped, TERN_WF_PROTECTED set unless
 *       SX_KEEP_FLAGS), the rest its payload; sealed with P's key for that
 *       session under counter P.next + delta (P's next counter moves past
 *       it). SX_TAMPER: the mutations apply after sealing (a forgery).
 *   SX_CONNECT | flags [, mutations]
 *       P's CONNECT (of the server session, or with SX_FRESH of a session P
 *       opens now), mutated; SX_MAC1 recomputes mac1 after the mutations
 *       (as anyone knowing E's public key can); SX_MOVED: from another
 *       address.
 *   SX_CONNECT_BODY | flags, u16 src_session, 184 bytes
 *       A secure CONNECT with that body (SX_MAC1: mac1 made right).
 *   SX_OK [, mutations]     the held CONNECT_OK, mutated, delivered
 *   SX_OK | SX_HELD_COOKIE [, mutations]
 *       the COOKIE P last answered one of E's CONNECTs with (P under
 *       load), mutated, delivered to E
 *   SX_OK_BODY, u8 status, 120 bytes
 *       A secure CONNECT_OK for the connecting session with that body, its
 *       pattern and cid made right (so it reaches the Diffie-Hellman).
 *   SX_OK_BODY | SX_AS_COOKIE, 64 bytes
 *       A COOKIE for the connecting session with that body, its cid made
 *       right (so it reaches the AEAD).
 *   SX_PUMP | n             n + 1 rounds of E <-> P traffic (P's packets to E
 *                           are kept, the last SX_RING of them, for SX_REPLAY)
 *   SX_REPLAY | i [, mutations]   P's kept packet i % SX_RING again
 *   SX_CTL | action, u8 v   SX_A_* below
 *
 * mutations: u8 n, then (n % 9) times: u16 offset (modulo the length), u8
 * xor. Oracles (the harness traps): a packet changed after it was sealed,
 * and a replay of P's traffic, change nothing an application sees (no
 * handler, no continuation, no new session); a handshake packet whose body
 * was changed (or made up) opens no session; a COOKIE whose body,
 * type or session was changed (or made up) is never taken.
 */
#ifndef TERN_FUZZ_SECURE_FORMAT_H
#define TERN_FUZZ_SECURE_FORMAT_H

#define SX_CFG_PRIVACY 0x01 /* protection privacy (else integrity) */
#define SX_CFG_CHACHA  0x02 /* E prefers ChaCha20-Poly1305 (else the CPU's choice) */
#define SX_CFG_PSK     0x04 /* both hold a PSK too (IKpsk1) */
#define SX_CFG_NN      0x08 /* both hold only a PSK (NNpsk0), no static keys */
#define SX_CFG_LOAD    0x10 /* E and P are under load from 8 handshakes a second on (cookies) */

#define SX_KIND(op) ((op) & 0xe0)
#define SX_SEAL         0x00
#define SX_CONNECT      0x20
#define SX_CONNECT_BODY 0x40
#define SX_OK           0x60
#define SX_OK_BODY      0x80
#define SX_PUMP         0xa0
#define SX_REPLAY       0xc0
#define SX_CTL          0xe0

/* SX_SEAL */
#define SX_T_SERVER   0x00 /* to E's server session */
#define SX_T_CLIENT   0x01 /* to E's client session */
#define SX_TAMPER     0x02
#define SX_KEEP_FLAGS 0x04
/* SX_CONNECT, SX_CONNECT_BODY */
#define SX_MAC1  0x01
#define SX_MOVED 0x02
#define SX_FRESH 0x04
/* SX_OK, SX_OK_BODY */
#define SX_HELD_COOKIE 0x01
#define SX_AS_COOKIE   0x01

#define SX_RING 16
#define SX_PKT_MAX 2048
#define SX_MUT_MAX 8

/* SX_CTL actions. */
#define SX_A_TIME         0 /* advance the clock (v + 1) * 250 us, poll both */
#define SX_A_CALL         1 /* E calls P on the client session, v * 8 bytes */
#define SX_A_CALL_SERVER  2 /* E calls P on the server session */
#define SX_A_PEER_CALL    3 /* P calls E */
#define SX_A_CLOSE_CLIENT 4
#define SX_A_CLOSE_SERVER 5
#define SX_A_PEER_CLOSE   6 /* P closes its session to E */
#define SX_A_RECONNECT    7 /* E opens a new connecting session (P's answer held) */
#define SX_A_SEND         8 /* E sends one-way on the client session */
#define SX_A_LOAD         9 /* v % 16 + 1 made-up CONNECTs with a valid mac1 into E (load) */
#define SX_A_PEER_LOAD   10 /* the same into P: its next answer to E may be a COOKIE */

#endif
