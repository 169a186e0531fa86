/*
 * wire.h — tern's wire format, and nothing else.
 *
 * Every tern packet is one UDP datagram: a fixed 32-byte header, then the
 * type's body. All fields are little-endian. Field values from the wire are
 * untrusted: rx.c checks each one before use (lengths first, then ranges with
 * unsigned compares) and drops bad packets by reason.
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
 * +---------------+---------------+---------------+---------------+
 * |    version    |     type      |     flags     |    status     |  0
 * +---------------+---------------+---------------+---------------+
 * |           req_type            |          dst_session          |  4
 * +-------------------------------+-------------------------------+
 * |          src_session          |             csum              |  8
 * +-------------------------------+-------------------------------+
 * |                             token                             | 12
 * +---------------------------------------------------------------+
 * |                            pkt_num                            | 16
 * +---------------------------------------------------------------+
 * |                           msg_size                            | 20
 * +---------------------------------------------------------------+
 * |                            req_num                            | 24
 * |                           (64 bits)                           |
 * +---------------------------------------------------------------+
 *
 * csum is a CRC32C folded to 16 bits (lib/crc.c) over the header, with csum
 * zero, and for control packets their body (not the payload of REQ/RESP): a
 * corrupted header never reaches the state machines. Payload integrity is
 * the job of the session's protection level.
 *
 * If you add a packet type, also update: TERN_PKT_MAX, tern_wire_type_name(),
 * tern_wire_check() below, the dispatch in lib/rx.c, the fuzz seed corpus
 * (tests/fuzz/), the protocol table in docs/protocol.md, and the Wireshark
 * dissector's types table (contrib/wireshark/tern.lua: one line). If you add
 * a header flag: TERN_WF_ALL, docs/protocol.md, and the dissector's
 * flag_bits (one line) and FLAGS_KNOWN.
 */
#ifndef TERN_WIRE_H
#define TERN_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TERN_WIRE_VERSION 1u
#define TERN_HDR_LEN      32u
#define TERN_SESSION_NONE 0xffffu /* dst_session of a CONNECT */

/* Packet types. 0 is invalid so a zeroed buffer never parses. */
enum tern_pkt_type {
	TERN_PKT_REQ = 1,        /* request data packet pkt_num of msg_size bytes */
	TERN_PKT_RESP = 2,       /* response data packet; status != 0: an error (see below) */
	TERN_PKT_CR = 3,         /* credit return: callee got request packet pkt_num */
	TERN_PKT_RFR = 4,        /* request for response packet pkt_num (> 0) */
	TERN_PKT_ACK = 5,        /* caller got the whole response to req_num: free it */
	TERN_PKT_CONNECT = 6,    /* open a session; body struct tern_wire_hs */
	TERN_PKT_CONNECT_OK = 7, /* answer to CONNECT; body struct tern_wire_hs */
	TERN_PKT_DISCONNECT = 8, /* the sender closed the session */
	TERN_PKT_RESET = 9,      /* "I do not know that session": echoes dst/token */
	TERN_PKT_PING = 10,      /* keepalive probe on an idle session */
	TERN_PKT_PONG = 11,      /* keepalive answer */
	TERN_PKT_COOKIE = 12,    /* a loaded server's answer to a secure CONNECT (cookie reply) */
};
#define TERN_PKT_MAX 12u

/* Header flags. */
#define TERN_WF_ONEWAY    0x01u /* REQ: R semantics, no response is wanted */
#define TERN_WF_WORKING   0x02u /* CR: the handler is still running (resets the caller's retry count) */
#define TERN_WF_PROTECTED 0x04u /* a protected session's packet: counter after the header, tag at the end */
#define TERN_WF_SECURE    0x08u /* CONNECT, CONNECT_OK, COOKIE: the authenticated handshake */
#define TERN_WF_STATUS    0x10u /* RESP: status is a status code, the body its message (below) */
#define TERN_WF_ALL       0x1fu /* every flag this version knows; others are reserved (must be 0) */

/*
 * An error response is a RESP with pkt_num 0 in one of two forms:
 *
 *   plain (no TERN_WF_STATUS): status = a positive errno value (1..255),
 *     no body (msg_size 0): tern_respond_error(), and tern's own refusals
 *     (no handler, overloaded)
 *   TERN_WF_STATUS: status = a status code (1..TERN_WIRE_CODE_MAX, tern.h's
 *     enum tern_status_code), msg_size = the message's length, the body the
 *     message: 0..TERN_WIRE_STATUS_MSG_MAX bytes of UTF-8 without NUL, in
 *     this one packet (at most a packet's payload): tern_respond_status()
 *
 * Both are cached by the callee until acknowledged, like any response. On a
 * protected session the message is protected like any payload.
 */
#define TERN_WIRE_CODE_MAX       16u
#define TERN_WIRE_STATUS_MSG_MAX 512u

/*
 * A protected packet (integrity or privacy level):
 *
 *   | header (32) | epoch (4 bits) | counter (60 bits) | payload (len) | tag (16) |
 *
 * The 8-byte field after the header is little-endian: its low 60 bits are
 * the counter, the sender's per-direction packet number (the AEAD nonce,
 * and what the receiver's replay window checks; it goes on across key
 * epochs and stops before 2^60), its top 4 bits the key epoch mod 16 (which
 * key sealed it: lib/rekey.h). integrity: the tag
 * authenticates header, counter and payload (the payload travels in
 * clear); privacy: the payload is encrypted, header and counter are
 * authenticated. Handshake packets and RESET are never protected.
 */
#define TERN_PROT_CTR_LEN  8u
#define TERN_PROT_TAG_LEN  16u
#define TERN_PROT_OVERHEAD (TERN_PROT_CTR_LEN + TERN_PROT_TAG_LEN)

/*
 * The authenticated handshake (TERN_WF_SECURE): a Noise handshake
 * (lib/noise_hs.c: IK, IKpsk1 or NNpsk0 over 25519, ChaChaPoly, SHA256) in
 * CONNECT / CONNECT_OK (lib/noise.c), with WireGuard's mac1, mac2 and
 * cookie reply (lib/cookie.c).
 *
 * CONNECT body (TERN_SHS_CONNECT_LEN):
 *   pattern (1) | reserved (7, zero) | cid (8) |
 *   Noise message 1, zero-padded to 152 bytes:
 *     IK, IKpsk1: e (32) | s (32+16) | payload (56+16)
 *     NNpsk0:     e (32) | payload (56+16) | zero (48)
 *   mac1 (16) | mac2 (16)
 * CONNECT_OK body (TERN_SHS_OK_LEN):
 *   pattern (1) | reserved (7) | cid (8) | Noise message 2: e (32) | payload (56+16)
 *   A refusal has status = errno and zeros after cid (nothing is authenticated).
 * COOKIE body (TERN_COOKIE_BODY_LEN), dst_session = the CONNECT's src_session:
 *   cid (8) | salt (16) | counter (8) | cookie encrypted (16+16)
 *
 * cid is the client's random id of this attempt, echoed in clear so that a
 * refusal or a cookie can be matched before any key exists. The Noise
 * prologue is "tern handshake 1" and cid. The payload of both Noise
 * messages is struct tern_wire_hs then struct tern_wire_sx.
 *
 * mac1 = MAC(SHA256("mac1----" || server public key, or the PSK for
 * NNpsk0), header and body up to mac1): the sender knows whom it talks to.
 * mac2 = MAC(cookie, header and body up to mac2), or zero: the sender
 * received what the server sent to its address (only checked under load).
 * MAC is HMAC-SHA256 truncated to 16 bytes.
 */
#define TERN_PAT_IK     1u /* Noise_IK_25519_ChaChaPoly_SHA256: static keys */
#define TERN_PAT_NNPSK0 2u /* Noise_NNpsk0_25519_ChaChaPoly_SHA256: a pre-shared key only */
#define TERN_PAT_IKPSK1 3u /* Noise_IKpsk1_25519_ChaChaPoly_SHA256: static keys and a PSK */
struct tern_wire_sx {     /* the secure part of the handshake payload (encrypted) */
	uint64_t timestamp;  /* client: wall-clock ns of this attempt (replay check); server: 0 */
	uint8_t protection;  /* client: level asked; server: level granted */
	uint8_t cipher;      /* client: ciphers it can run (bits); server: the one chosen */
	uint16_t session;    /* the sender's session id (its header's src_session) */
	uint8_t reserved[4]; /* zero */
};
#define TERN_SX_LEN 16u
static_assert(sizeof(struct tern_wire_sx) == TERN_SX_LEN, "secure handshake extension size");
#define TERN_SHS_PT_LEN     (TERN_HS_LEN + TERN_SX_LEN) /* 56: handshake payload plaintext */
#define TERN_SHS_OFF_MSG    16u                         /* the Noise message in the body */
#define TERN_SHS_MSG1_LEN   (32u + 48u + TERN_SHS_PT_LEN + 16u) /* 152 (IK, IKpsk1) */
#define TERN_SHS_MSG1_NN    (32u + TERN_SHS_PT_LEN + 16u)       /* 104 (NNpsk0) */
#define TERN_SHS_MSG2_LEN   (32u + TERN_SHS_PT_LEN + 16u)       /* 104 */
#define TERN_SHS_OFF_MAC1   (TERN_SHS_OFF_MSG + TERN_SHS_MSG1_LEN) /* 168 */
#define TERN_SHS_OFF_MAC2   (TERN_SHS_OFF_MAC1 + 16u)              /* 184 */
#define TERN_SHS_CONNECT_LEN (TERN_SHS_OFF_MAC2 + 16u)             /* 200 */
#define TERN_SHS_OK_LEN      (TERN_SHS_OFF_MSG + TERN_SHS_MSG2_LEN) /* 120 */
#define TERN_COOKIE_BODY_LEN (8u + 16u + 8u + 16u + 16u)           /* 64 */

struct tern_wire_hdr {
	uint8_t version;      /* TERN_WIRE_VERSION */
	uint8_t type;         /* enum tern_pkt_type */
	uint8_t flags;        /* TERN_WF_* */
	uint8_t status;       /* RESP, CONNECT_OK: 0 or a positive errno value;
				 CR: how many packets below pkt_num it also answers (tern_cr_extra) */
	uint16_t req_type;    /* REQ/RESP/CR/RFR/ACK: the handler's request type */
	uint16_t dst_session; /* receiver's session index (TERN_SESSION_NONE in CONNECT) */
	uint16_t src_session; /* sender's session index */
	uint16_t csum;        /* CRC of header (+ control body), see tern_wire_seal() */
	uint32_t token;       /* receiver's session token (RESET: the token it refused) */
	uint32_t pkt_num;     /* REQ/RESP: index in the message; CR/RFR: packet it refers to */
	uint32_t msg_size;    /* REQ/RESP/CR/RFR: size of the whole message it belongs to */
	uint64_t req_num;     /* call number; req_num % slots is the slot */
};
static_assert(sizeof(struct tern_wire_hdr) == TERN_HDR_LEN, "wire header must be 32 bytes");
static_assert(offsetof(struct tern_wire_hdr, req_num) == 24, "req_num at offset 24");

/*
 * CONNECT / CONNECT_OK body. CONNECT carries the client's proposal;
 * CONNECT_OK the server's answer (status 0) or refusal (status = errno).
 */
struct tern_wire_hs {
	uint64_t epoch;        /* sender's endpoint epoch (random at start) */
	uint64_t peer_epoch;   /* CONNECT_OK: echo of the client's epoch; CONNECT: 0 */
	uint32_t token;        /* sender's session token: packets to it carry this */
	uint32_t max_msg_size; /* largest message the sender accepts */
	uint16_t slots;        /* slots per session (power of two) */
	uint16_t credits;      /* packets in flight per direction */
	uint16_t mtu;          /* largest tern packet the sender accepts */
	uint16_t hs_flags;     /* 0 */
	uint64_t nonce;        /* CONNECT: random per attempt; CONNECT_OK: echoed */
};
#define TERN_HS_LEN 40u
static_assert(sizeof(struct tern_wire_hs) == TERN_HS_LEN, "handshake body size");

/* RESET body: the server epoch, so a client can tell a restart from a loss. */
struct tern_wire_reset {
	uint64_t epoch;
};
#define TERN_RESET_LEN 8u
static_assert(sizeof(struct tern_wire_reset) == TERN_RESET_LEN, "reset body size");

/* --- little-endian access (no-ops on little-endian hosts) --- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define tern_le16(x) ((uint16_t)(x))
#define tern_le32(x) ((uint32_t)(x))
#define tern_le64(x) ((uint64_t)(x))
#else
#define tern_le16(x) __builtin_bswap16((uint16_t)(x))
#define tern_le32(x) __builtin_bswap32((uint32_t)(x))
#define tern_le64(x) __builtin_bswap64((uint64_t)(x))
#endif

/*
 * Decoded header, host byte order. Laid out like struct tern_wire_hdr, so on
 * a little-endian host encoding and decoding are a 32-byte copy; version
 * and csum are the wire's business (tern_wire_put sets them).
 */
struct tern_hdr {
	uint8_t version, type, flags, status;
	uint16_t req_type, dst_session, src_session, csum;
	uint32_t token, pkt_num, msg_size;
	uint64_t req_num;
};
static_assert(sizeof(struct tern_hdr) == TERN_HDR_LEN &&
		      offsetof(struct tern_hdr, csum) == offsetof(struct tern_wire_hdr, csum) &&
		      offsetof(struct tern_hdr, token) == offsetof(struct tern_wire_hdr, token) &&
		      offsetof(struct tern_hdr, req_num) == offsetof(struct tern_wire_hdr, req_num),
	      "struct tern_hdr mirrors the wire layout");

static inline void tern_wire_put(void *buf, const struct tern_hdr *h)
{
	uint8_t *p = (uint8_t *)buf;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, h, TERN_HDR_LEN);
#else
	struct tern_hdr w = *h;
	w.req_type = tern_le16(w.req_type);
	w.dst_session = tern_le16(w.dst_session);
	w.src_session = tern_le16(w.src_session);
	w.token = tern_le32(w.token);
	w.pkt_num = tern_le32(w.pkt_num);
	w.msg_size = tern_le32(w.msg_size);
	w.req_num = tern_le64(w.req_num);
	memcpy(p, &w, TERN_HDR_LEN);
#endif
	p[0] = TERN_WIRE_VERSION;
	p[10] = p[11] = 0; /* csum: tern_wire_seal() fills it */
}

static inline void tern_wire_get(const void *buf, struct tern_hdr *h)
{
	memcpy(h, buf, sizeof(*h));
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
	h->req_type = tern_le16(h->req_type);
	h->dst_session = tern_le16(h->dst_session);
	h->src_session = tern_le16(h->src_session);
	h->csum = tern_le16(h->csum);
	h->token = tern_le32(h->token);
	h->pkt_num = tern_le32(h->pkt_num);
	h->msg_size = tern_le32(h->msg_size);
	h->req_num = tern_le64(h->req_num);
#endif
}

static inline void tern_wire_hs_put(void *buf, const struct tern_wire_hs *hs)
{
	struct tern_wire_hs w;
	w.epoch = tern_le64(hs->epoch);
	w.peer_epoch = tern_le64(hs->peer_epoch);
	w.token = tern_le32(hs->token);
	w.max_msg_size = tern_le32(hs->max_msg_size);
	w.slots = tern_le16(hs->slots);
	w.credits = tern_le16(hs->credits);
	w.mtu = tern_le16(hs->mtu);
	w.hs_flags = tern_le16(hs->hs_flags);
	w.nonce = tern_le64(hs->nonce);
	memcpy(buf, &w, sizeof(w));
}

static inline void tern_wire_hs_get(const void *buf, struct tern_wire_hs *hs)
{
	memcpy(hs, buf, sizeof(*hs));
	hs->epoch = tern_le64(hs->epoch);
	hs->peer_epoch = tern_le64(hs->peer_epoch);
	hs->token = tern_le32(hs->token);
	hs->max_msg_size = tern_le32(hs->max_msg_size);
	hs->slots = tern_le16(hs->slots);
	hs->credits = tern_le16(hs->credits);
	hs->mtu = tern_le16(hs->mtu);
	hs->hs_flags = tern_le16(hs->hs_flags);
	hs->nonce = tern_le64(hs->nonce);
}

/* Bytes the checksum covers: the header, plus the body of a control packet
 * (at most its first TERN_HS_LEN bytes; a protected packet's tag covers the
 * rest). */
static inline size_t tern_wire_csum_len(unsigned type, unsigned flags, size_t len)
{
	if (type == TERN_PKT_REQ || type == TERN_PKT_RESP || (flags & TERN_WF_PROTECTED) ||
	    len < TERN_HDR_LEN)
		return TERN_HDR_LEN;
	return len < TERN_HDR_LEN + TERN_HS_LEN ? len : TERN_HDR_LEN + TERN_HS_LEN;
}

/* CRC32C folded to 16 bits (lib/crc.c); _hdr: of a packet, with its csum
 * field (bytes 10-11) taken as zero. The header's versions run through
 * pointers crc.c sets when the library loads (the CPU's CRC instruction if
 * it has one, else a table): the choice costs nothing per packet. */
uint16_t tern_crc16(const void *buf, size_t len);
extern uint16_t (*tern_crc16_hdr_fn)(const void *pkt, size_t len)
	__attribute__((visibility("hidden")));
static inline uint16_t tern_crc16_hdr(const void *pkt, size_t len)
{
	return tern_crc16_hdr_fn(pkt, len);
}
/* The same of the header alone (len 32). */
extern uint16_t (*tern_crc16_hdr32_fn)(const void *pkt) __attribute__((visibility("hidden")));
static inline uint16_t tern_crc16_hdr32(const void *pkt)
{
	return tern_crc16_hdr32_fn(pkt);
}
/* Tests: use the CPU's CRC instruction if it has one (1), or the table (0);
 * returns the previous setting. */
int tern_crc_use_hw(int on);

/* Fill in the checksum of a packet whose header and body are written. */
static inline void tern_wire_seal(void *pkt, size_t len)
{
	uint8_t *p = (uint8_t *)pkt;
	uint16_t c = tern_le16(tern_crc16_hdr(p, tern_wire_csum_len(p[1], p[2], len)));
	memcpy(p + 10, &c, 2);
}

/*
 * A header as the four 64-bit words its bytes 0-7, 8-15, 16-23 and 24-31
 * encode in little-endian order, with the version set and the checksum
 * zero. The transmit path builds a data packet's header this way from the
 * fields in registers and hands the words to tern_wire_put_sealed_fn,
 * which checksums them without reading memory and writes the sealed
 * header: no copy of the header through the stack, no second read.
 */
struct tern_wire_words {
	uint64_t w0, w1, w2, w3;
};
static inline struct tern_wire_words tern_wire_words(const struct tern_hdr *h)
{
	struct tern_wire_words x;
	x.w0 = TERN_WIRE_VERSION | (uint64_t)h->type << 8 | (uint64_t)h->flags << 16 |
	       (uint64_t)h->status << 24 | (uint64_t)h->req_type << 32 |
	       (uint64_t)h->dst_session << 48;
	x.w1 = h->src_session | (uint64_t)h->token << 32; /* csum (bits 16-31) zero */
	x.w2 = h->pkt_num | (uint64_t)h->msg_size << 32;
	x.w3 = h->req_num;
	return x;
}
/* Write the words (csum zero) as the 32-byte header at pkt, and its
 * checksum (the header's only: REQ, RESP, bodiless control packets). */
extern void (*tern_wire_put_sealed_fn)(void *pkt, uint64_t w0, uint64_t w1, uint64_t w2,
				       uint64_t w3) __attribute__((visibility("hidden")));
static inline void tern_wire_put_sealed(void *pkt, const struct tern_wire_words *x)
{
	tern_wire_put_sealed_fn(pkt, x->w0, x->w1, x->w2, x->w3);
}
/* Write the words as they are (csum zero, unsealed). */
static inline void tern_wire_put_words(void *pkt, const struct tern_wire_words *x)
{
	uint64_t w[4] = {tern_le64(x->w0), tern_le64(x->w1), tern_le64(x->w2), tern_le64(x->w3)};
	memcpy(pkt, w, TERN_HDR_LEN);
}

/* tern_wire_seal() of a packet whose checksum covers the 32-byte header
 * only (REQ, RESP, protected packets, bodiless control packets). */
static inline void tern_wire_seal_hdr(void *pkt)
{
	uint64_t w[4];
	memcpy(w, pkt, TERN_HDR_LEN);
	tern_wire_put_sealed_fn(pkt, tern_le64(w[0]), tern_le64(w[1]) & ~0xffff0000ull,
				tern_le64(w[2]), tern_le64(w[3]));
}

/* The packet's checksum field. */
static inline uint16_t tern_wire_csum_get(const void *pkt)
{
	uint16_t got;
	memcpy(&got, (const uint8_t *)pkt + 10, 2);
	return tern_le16(got);
}

/* Does the packet's checksum match? */
static inline int tern_wire_csum_ok(const void *pkt, size_t len)
{
	const uint8_t *p = (const uint8_t *)pkt;
	return tern_crc16_hdr(p, tern_wire_csum_len(p[1], p[2], len)) == tern_wire_csum_get(p);
}

/* Number of packets of a message of size bytes with data_per_pkt bytes each (>= 1). */
static inline uint32_t tern_wire_npkts(uint32_t size, uint32_t data_per_pkt)
{
	return size <= data_per_pkt ? 1u : (uint32_t)(((uint64_t)size + data_per_pkt - 1) / data_per_pkt);
}

/*
 * Result of the stateless checks: 0 if the packet is well-formed, else one
 * of these reasons (they map 1:1 onto enum tern_drop in tern.h).
 */
enum tern_wire_err {
	TERN_WIRE_OK = 0,
	TERN_WIRE_SHORT,       /* shorter than the header */
	TERN_WIRE_VERSION_BAD, /* unknown protocol version */
	TERN_WIRE_TYPE_BAD,    /* type 0 or above TERN_PKT_MAX, or reserved flags set */
	TERN_WIRE_LEN_BAD,     /* length does not match what the type and sizes imply */
	TERN_WIRE_TOO_BIG,     /* msg_size above the receiver's limit */
	TERN_WIRE_PKT_BAD,     /* pkt_num not inside the message */
	TERN_WIRE_CSUM_BAD,    /* header checksum mismatch */
	TERN_WIRE_STATUS_BAD,  /* an error response's status code or message does not hold */
};

/*
 * tern_wire_check() below, for a packet whose flags byte the caller has
 * read as zero when no_flags is 1 (a constant): the tests of flags fold
 * away, and every other check is the same, in the same order.
 */
__attribute__((always_inline)) static inline enum tern_wire_err
tern_wire_check_as(const uint8_t *p, size_t len, uint32_t max_msg, struct tern_hdr *h, int no_flags)
{
	if (len < TERN_HDR_LEN)
		return TERN_WIRE_SHORT;
	if (p[0] != TERN_WIRE_VERSION)
		return TERN_WIRE_VERSION_BAD;
	const unsigned flags = no_flags ? 0u : p[2];
	if ((unsigned)(p[1] - 1) >= TERN_PKT_MAX || (flags & ~TERN_WF_ALL) != 0)
		return TERN_WIRE_TYPE_BAD; /* type 0 or above the last, or reserved flags */
#ifndef TERN_FUZZING /* the fuzzer cannot forge checksums; let it reach the state machines */
	/* tern_wire_csum_ok(), the common case's length (the header's)
	 * without its computation */
	if (p[1] <= TERN_PKT_RESP || (flags & TERN_WF_PROTECTED)) {
		if (tern_crc16_hdr32(p) != tern_wire_csum_get(p))
			return TERN_WIRE_CSUM_BAD;
	} else if (!tern_wire_csum_ok(p, len)) {
		return TERN_WIRE_CSUM_BAD;
	}
#endif
	tern_wire_get(p, h);
	if ((flags & TERN_WF_STATUS) && h->type != TERN_PKT_RESP)
		return TERN_WIRE_TYPE_BAD; /* a status answer is a RESP */
	size_t extra = (flags & TERN_WF_PROTECTED) ? TERN_PROT_OVERHEAD : 0;
	if (len < TERN_HDR_LEN + extra)
		return TERN_WIRE_SHORT;
	size_t body = len - TERN_HDR_LEN - extra; /* without counter and tag */
	if (h->type <= TERN_PKT_RFR) /* REQ, RESP, CR, RFR: sizes checked with the session's */
		return h->msg_size > max_msg ? TERN_WIRE_TOO_BIG : TERN_WIRE_OK;
	switch (h->type) {
	case TERN_PKT_CONNECT:
		if (extra != 0)
			return TERN_WIRE_TYPE_BAD;
		if (flags & TERN_WF_SECURE)
			return body == TERN_SHS_CONNECT_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
		return body == TERN_HS_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	case TERN_PKT_CONNECT_OK:
		if (extra != 0)
			return TERN_WIRE_TYPE_BAD;
		if (flags & TERN_WF_SECURE)
			return body == TERN_SHS_OK_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
		return body == TERN_HS_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	case TERN_PKT_RESET:
		if (extra != 0)
			return TERN_WIRE_TYPE_BAD;
		return body == TERN_RESET_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	case TERN_PKT_COOKIE:
		if (extra != 0)
			return TERN_WIRE_TYPE_BAD;
		return body == TERN_COOKIE_BODY_LEN ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	default: /* ACK, DISCONNECT, PING, PONG */
		return body == 0 ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	}
}

/*
 * Stateless validation of a received packet of len bytes: version, type,
 * reserved flags, the exact length of every fixed-size type, msg_size of
 * data packets against max_msg. Fills *h when it returns TERN_WIRE_OK.
 * Data packets (REQ, RESP, CR, RFR) are checked further against the
 * session's packet size by tern_wire_check_data(). Most packets have no
 * flags (an unprotected session's requests and answers): one test of the
 * flags byte up front spares them the three tests of its bits.
 */
__attribute__((noinline, unused)) static enum tern_wire_err
tern_wire_check_flagged(const uint8_t *p, size_t len, uint32_t max_msg, struct tern_hdr *h)
{
	return tern_wire_check_as(p, len, max_msg, h, 0);
}
static inline enum tern_wire_err tern_wire_check(const void *pkt, size_t len, uint32_t max_msg,
						 struct tern_hdr *h)
{
	const uint8_t *p = (const uint8_t *)pkt;
	if (__builtin_expect(len >= TERN_HDR_LEN && p[2] == 0, 1))
		return tern_wire_check_as(p, len, max_msg, h, 1);
	return tern_wire_check_flagged(p, len, max_msg, h);
}

/*
 * An error response (above): plain, no body; with TERN_WF_STATUS, a code in
 * range and a message of msg_size bytes that fits the limit and the packet.
 * (That the message is UTF-8 is checked where it is read: lib/status.c.)
 */
static inline enum tern_wire_err tern_wire_check_error(const struct tern_hdr *h, size_t body,
						       uint32_t dpp)
{
	if (!(h->flags & TERN_WF_STATUS))
		return body == 0 && h->pkt_num == 0 ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	return (unsigned)(h->status - 1) < TERN_WIRE_CODE_MAX && h->pkt_num == 0 &&
			       h->msg_size <= TERN_WIRE_STATUS_MSG_MAX && h->msg_size <= dpp &&
			       body == h->msg_size
		       ? TERN_WIRE_OK
		       : TERN_WIRE_STATUS_BAD;
}

/*
 * The rest of the checks of a data packet, once the session (and so the
 * payload size of a full packet, dpp) is known: pkt_num inside the message
 * and the body exactly as long as that packet must be. An error response
 * (RESP with status or TERN_WF_STATUS) is checked by tern_wire_check_error();
 * CR and RFR have no body.
 */
static inline enum tern_wire_err tern_wire_check_data(const struct tern_hdr *h, size_t body,
						      uint32_t dpp)
{
	if (h->type <= TERN_PKT_RESP) { /* REQ, RESP */
		if (h->type == TERN_PKT_RESP && (h->status | (h->flags & TERN_WF_STATUS)) != 0)
			return tern_wire_check_error(h, body, dpp);
		if (h->msg_size <= dpp) /* one packet: the common case, no division */
			return h->pkt_num != 0 ? TERN_WIRE_PKT_BAD
			       : body == h->msg_size ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
		/* pkt_num < tern_wire_npkts(msg_size, dpp), without its division
		 * (every packet of a large message comes here) */
		uint64_t off = (uint64_t)h->pkt_num * dpp;
		if (off >= h->msg_size)
			return TERN_WIRE_PKT_BAD;
		uint64_t want = h->msg_size - off < dpp ? h->msg_size - off : dpp;
		return body == want ? TERN_WIRE_OK : TERN_WIRE_LEN_BAD;
	}
	if (body != 0) /* CR, RFR */
		return TERN_WIRE_LEN_BAD;
	/* pkt_num < tern_wire_npkts(msg_size, dpp) (1 for an empty message) */
	if (h->pkt_num != 0 && (uint64_t)h->pkt_num * dpp >= h->msg_size)
		return TERN_WIRE_PKT_BAD;
	/* CR: tern_cr_extra() packets below pkt_num are answered too */
	return h->type == TERN_PKT_RFR || (h->status <= h->pkt_num && h->status < 64)
		       ? TERN_WIRE_OK
		       : TERN_WIRE_PKT_BAD;
}

/*
 * A CR answers request packet pkt_num and the tern_cr_extra() packets just
 * below it (a coalesced credit return): the header's status byte carries
 * that count in CRs, bounded by tern_wire_check_data() to pkt_num and the
 * window (< 64). RESP and CONNECT_OK use status as an errno value, or (RESP
 * with TERN_WF_STATUS) as a status code.
 *
 * The last request packet is answered by the response, never by a CR, with
 * one exception: when it arrives while packets below it are missing, the
 * callee sends a CR for it alone (extra 0), "held": it returns no credit
 * (the response does), but tells the caller not to resend it, and that the
 * holes below it were lost (selective resend, lib/call.c). A caller that
 * does not know this drops it (an unexpected CR); nothing else changes.
 */
static inline uint32_t tern_cr_extra(const struct tern_hdr *h)
{
	return h->status;
}

static inline const char *tern_wire_type_name(unsigned type)
{
	static const char *const names[TERN_PKT_MAX + 1] = {
		"INVALID", "REQ", "RESP", "CR", "RFR", "ACK", "CONNECT",
		"CONNECT_OK", "DISCONNECT", "RESET", "PING", "PONG", "COOKIE",
	};
	return type <= TERN_PKT_MAX ? names[type] : "INVALID";
}

#endif /* TERN_WIRE_H */
