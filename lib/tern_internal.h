/*
 * tern_internal.h — the core's private types and the functions its files
 * share. Not installed.
 *
 * Object map (all owned by one endpoint, used only by its owner thread):
 *
 *   tern_ep ─┬─ driver (one queue)
 *            ├─ sessions[max_sessions]   indexed by session id (O(1) lookup)
 *            │     ├─ cs[slots]  call slots: calls this side issued (client role)
 *            │     ├─ ss[slots]  serve slots: calls the peer issued (server role)
 *            │     └─ backlog    calls waiting for a free call slot
 *            ├─ timed list       call slots in flight or owing an ACK (loss scan)
 *            ├─ msgbuf pools     power-of-two classes carved from driver memory
 *            └─ tx batch         flushed once per poll (or when full)
 *
 * Packet numbering of one call (after eRPC): the caller's transmissions are
 * numbered i = 0..N+M-2: i < N is request packet i, i >= N is the RFR for
 * response packet i-N+1. Its receptions use the same numbers: i < N-1 is the
 * CR for request packet i, i >= N-1 is response packet i-N+1. Reception i
 * answers transmission i, so one window (rx_base + a 64-bit map) tracks the
 * whole call and credits are simply "sent minus received".
 */
#ifndef TERN_INTERNAL_H
#define TERN_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "noise_hs.h"
#include "tern.h"
#include "timers.h"
#include "window.h"
#include "wire.h"

#define tern_likely(x)   __builtin_expect(!!(x), 1)
#define tern_unlikely(x) __builtin_expect(!!(x), 0)

/* now + timeout, saturated: a huge timeout ("forever", UINT64_MAX) must not
 * wrap around into a deadline that has already passed. */
static inline uint64_t tern_deadline(uint64_t now, uint64_t timeout)
{
	return timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
}

#define TERN_MS 1000000ull
#define TERN_S  1000000000ull

#define TERN_RX_BURST   32u
#define TERN_TX_BATCH   64u
#define TERN_MAX_SLOTS  64u  /* slot masks are uint64_t */
#define TERN_MAX_CREDITS 256u /* the wire has 16 bits; a call's own window is TERN_WINDOW */
#define TERN_POST_CAP   1024u

/* Timer kinds (struct tern_timer.kind): ep.c routes each to its owner. */
enum tern_timer_kind {
	TERN_TIMER_CALL = 1, /* call.c: a call slot's explicit ACK, an RTO judged again */
	TERN_TIMER_QUEUED,   /* call.c: a queued call's deadline */
	TERN_TIMER_SESSION,  /* session.c / connect.c: handshake, liveness, keepalive */
	TERN_TIMER_PACE,     /* pacer.c: a paced session's next packet may leave */
	TERN_TIMER_CALLS,    /* call.c: the earliest RTO or deadline among a session's calls */
};
#define TERN_TIMER_TICK_SHIFT 10u /* ticks of 1.024 µs */
#define TERN_CONNECT_WINDOW   64u /* CONNECTs outstanding at once per endpoint */
#define TERN_MAX_BACKOFF      3u  /* a call's RTO doubles at most 3 times (x8) */

/* ------------------------------------------------------------------ */
/* msgbufs (msg.c)                                                    */
/* ------------------------------------------------------------------ */

/*
 * A msgbuf is one power-of-two chunk: its metadata (this struct, in the
 * first TERN_MSG_META bytes), then the data, 64-byte aligned.
 */
#define TERN_MSG_META      128u /* metadata before the data */
#define TERN_MSG_MIN_SHIFT 8u   /* smallest chunk: 256 B */
#define TERN_MSG_CLASSES   24u  /* up to 2^31 B chunks */

/* A call waiting in its session's backlog (backlog.c): kept in its request
 * msgbuf, so queueing a call allocates nothing. */
struct tern_pending {
	struct tern_msg *next, *prev; /* the queue, oldest first */
	struct tern_session *s;
	struct tern_timer timer; /* its deadline (TERN_TIMER_QUEUED) */
	tern_cont_fn cont;
	void *ctx;
	uint64_t deadline_ns;
	uint16_t req_type;
	uint8_t oneway;
	uint8_t idempotent;
};

struct tern_msg {
	uint8_t *data;
	uint32_t len;
	uint32_t cap;
	uint32_t refs; /* owner + driver/tx-batch references */
	uint8_t cls;
	uint8_t pad[3];
	struct tern_ep *ep;
	struct tern_msg *next;    /* free list */
	struct tern_pending pend; /* while the msgbuf is a queued call's request */
};
static_assert(sizeof(struct tern_msg) <= TERN_MSG_META, "msgbuf metadata fits before the data");

struct msg_pool {
	struct tern_msg *free[TERN_MSG_CLASSES];
	uint64_t reserved; /* bytes obtained from the driver / OS */
	uint64_t limit;
	uint64_t in_use;   /* msgbufs handed out */
	struct pool_chunk *chunks; /* every region obtained, for release */
};

int tern_pool_init(struct tern_ep *ep);
void tern_pool_fini(struct tern_ep *ep);
/* tern_msg_release / _put / _drop / _get: inline, after struct tern_ep. */

/* ------------------------------------------------------------------ */
/* sessions and slots                                                 */
/* ------------------------------------------------------------------ */

enum sess_state {
	SESS_FREE = 0,   /* unused array entry */
	SESS_CONNECTING, /* client: CONNECT sent, waiting for CONNECT_OK */
	SESS_CONNECTED,  /* usable */
	SESS_FAILED,     /* client handle after failure: waits for tern_session_close() */
	SESS_ZOMBIE,     /* torn down, but deferred handlers still hold requests */
};

/* A call this side issued (client role). */
struct call_slot {
	struct tern_session *s;
	uint64_t req_num;     /* current call; slot index = req_num % slots */
	uint32_t idx;
	uint8_t active;       /* a call occupies the slot */
	uint8_t oneway;       /* R call: no response */
	uint8_t idempotent;   /* TERN_CALL_IDEMPOTENT */
	uint8_t ack_pending;  /* completed; an explicit ACK is due at ack_due_ns */
	uint8_t arm_queued;   /* on ep->arm: its timer is set at the end of the poll */
	uint8_t sample_valid; /* an RTT sample is running on sample_idx */
	uint8_t done_queued;  /* one-way call on the endpoint's done list */
	uint8_t stalled;      /* an RTO passed without progress since (session probes) */
	uint16_t req_type;
	struct tern_msg *req;
	uint32_t req_npkts;   /* N */
	uint32_t resp_size;
	uint32_t resp_npkts;  /* M, 0 until response packet 0 arrived */
	uint32_t total;       /* transmissions of the call: N, then N+M-1 */
	uint32_t tx_next;     /* next transmission to send */
	uint32_t tx_hi;       /* one past the highest transmission ever sent */
	struct tern_window rx; /* the receptions that arrived (window.h) */
	uint32_t inflight;    /* credits this call holds (sent, not yet answered) */
	uint32_t backoff;     /* RTOs since a valid RTT sample (Karn): the RTO doubles per step */
	uint32_t frtx_mark;   /* fast retransmit: holes below this were resent */
	uint32_t sample_idx;
	uint64_t sample_ns;   /* when sample_idx was sent (0: this poll, stamped at its end) */
	uint64_t sent_ns;     /* the RTO runs from here: last send or progress (0: not running) */
	uint64_t start_ns;    /* when its first packet left (0: not yet) */
	uint64_t deadline_ns;
	uint64_t ack_due_ns;
	uint64_t look_ns;     /* an RTO passed undecided: judge it again then, on the
			       * slot's timer (0: the session's timer watches the call) */
	struct tern_msg *resp; /* reassembly buffer (multi-packet responses) */
	tern_cont_fn cont;
	void *ctx;
	struct tern_timer timer;  /* explicit ACK, an RTO judged again (TERN_TIMER_CALL) */
	struct call_slot *arm_next; /* ep->arm list */
	struct call_slot *dnext;    /* done list (one-way calls) */
	uint8_t last_held;    /* the callee holds the last request packet (a CR said so) */
};

/* Serve-slot states (server role, per slot; see req.c for the transitions). */
enum serve_state {
	SRV_FREE = 0,    /* never used */
	SRV_RECEIVING,   /* request packets arriving */
	SRV_RUNNING,     /* handler called, not yet answered */
	SRV_ANSWERED,    /* response cached until acknowledged */
	SRV_UNCACHED,    /* RR: answered, response not kept; a duplicate re-executes */
	SRV_DONE,        /* acknowledged (or R): duplicates are dropped */
};

struct tern_req {
	struct tern_ep *ep;
	struct tern_session *s;
	struct serve_slot *slot;
	const uint8_t *data;
	uint32_t len;
	uint16_t type;
};

struct serve_slot {
	uint64_t req_num;
	uint8_t state;       /* enum serve_state */
	uint8_t sem;         /* TERN_RRA / TERN_RR / TERN_R of the handler */
	uint8_t resp_status; /* error response: positive errno, or a status code (resp_flags) */
	uint8_t oneway;
	uint16_t req_type;
	uint8_t resp_flags;  /* error response: TERN_WF_STATUS (resp: the message, or NULL) */
	uint32_t req_size;
	uint32_t req_npkts;
	struct tern_window win; /* the request packets that arrived (window.h) */
	struct tern_msg *req_buf; /* reassembly buffer, or deferred copy */
	struct tern_msg *resp;    /* cached response */
	uint32_t resp_npkts;
	struct tern_req req;
};


/* --- security (crypto.c, noise_hs.c, noise.c, peers.c, cookie.c, protect.c, rekey.c) --- */

struct tern_aead;
struct tern_x25519_pub;
/* A client's handshake in progress: the Noise state after message 1 and the
 * CONNECT as sent (retransmitted as is, but for mac2 once a cookie came). */
struct hs_client {
	uint64_t cid;
	uint8_t pattern;  /* TERN_PAT_* */
	uint8_t cookied;  /* a cookie reply for this attempt was taken */
	struct noise_hs hs;
	uint8_t pkt[TERN_HDR_LEN + TERN_SHS_CONNECT_LEN];
};
#define TERN_RXWIN_WORDS   32u   /* replay window ring: 2048 bits (replay.c) */
#define TERN_REPLAY_WINDOW 1984u /* counters held: the ring minus one word */
#define TERN_CTR_REJECT    (1ull << 60) /* counters from here on are never sent or accepted */
struct replay_win {
	uint64_t next; /* highest counter accepted + 1 (0: none yet) */
	uint64_t bits[TERN_RXWIN_WORDS];
};

/* peers.c: the client static keys a server knows (bounded). */
#define TERN_PEER_WAYS 4u
#define TERN_PEER_SETS 1024u /* server without an allow-list: 4096 keys remembered */
struct tern_peer {
	uint8_t key[32];
	uint8_t ss[32];   /* DH(server static, key), once has_ss */
	struct tern_x25519_pub *pub; /* key imported (for se), once has_ss */
	uint64_t floor;   /* wall-clock ns: this key's CONNECTs stamped at or below are refused */
	uint64_t used;    /* ep->now of its last handshake (eviction order, open server) */
	uint32_t gen;     /* bumped when the slot is given to another key */
	uint8_t in_use, has_ss;
};
/* peers.c: the accepted handshakes of the freshness window (bounded). A
 * CONNECT's timestamp must be within the window of the server's clock. */
#define TERN_HS_WINDOW_NS (60ull * 1000000000ull)
#define TERN_REPLAY_RING  16384u
#define TERN_REPLAY_SLOTS 32768u
struct replay_ent {
	uint64_t fp, ts; /* fingerprint of the ephemeral key (0: empty); its timestamp */
	uint32_t peer;   /* peer index + 1; 0: no static key (NNpsk0) */
	uint32_t gen;    /* the peer slot's gen when it was added */
};
struct tern_peers {
	struct tern_peer *p; /* allow-list: one per listed key; else SETS * WAYS */
	uint32_t n;
	uint32_t *idx;       /* allow-list: open-addressing index (peer + 1) */
	uint32_t mask;
	uint8_t open;        /* no allow-list: any key, a bounded cache */
	uint8_t seed[32];    /* keys the hashes (attackers choose keys and ephemerals) */
	struct replay_ent ring[TERN_REPLAY_RING];
	uint32_t head;
	uint64_t set[TERN_REPLAY_SLOTS]; /* fingerprints of the ring, open addressing */
};

/* cookie.c: the server's cookie secret, load meter and per-address limit;
 * the client's cookies. */
#define TERN_RATE_ENTRIES 1024u
struct rate_entry {
	uint8_t ip[16];
	uint64_t tat; /* GCRA: theoretical arrival time */
};
#define TERN_JAR 8u
struct cookie_jar_ent {
	struct tern_addr addr; /* the server it came from */
	uint8_t cookie[16];
	uint64_t at;           /* ep->now when received (0: empty) */
};
struct tern_cookie {
	/* server */
	uint8_t secret[32];   /* cookie = MAC(secret, source address), rotated */
	uint64_t secret_at;   /* ep->now it was made (secret_set: valid) */
	uint8_t secret_set;
	uint8_t salt[16];     /* of this secret's cookie-reply keys */
	struct tern_aead *enc[2]; /* cookie replies of static-key / PSK patterns */
	uint64_t ctr;         /* nonce of the next cookie reply under salt */
	uint64_t win_start;   /* load meter: CONNECTs in the window from win_start */
	uint32_t win_count;
	uint64_t load_until;  /* under load until then */
	uint32_t load_per_s;  /* handshakes per second above which the server is under load */
	uint64_t rate_interval_ns;
	uint32_t rate_burst;
	struct rate_entry rate[TERN_RATE_ENTRIES];
	/* client */
	struct cookie_jar_ent jar[TERN_JAR];
};

/* An endpoint's keys and handshake memory. */
enum { TERN_K_OWN, TERN_K_PEER, TERN_K_PSK }; /* what a mac1 / cookie key is derived from */
struct tern_sec {
	uint8_t have_static;  /* s_key: configured, or made up for an anonymous client */
	uint8_t serve_static; /* the static key was configured: static-key patterns are served */
	uint8_t have_peer, have_psk, have_allow;
	struct tern_x25519_key *s_key; /* the static private key, imported once */
	uint8_t s_pub[32], peer_pub[32], psk[32];
	uint8_t ss_peer[32]; /* client: DH(s, peer_pub), precomputed */
	struct tern_x25519_pub *peer_key; /* client: peer_pub imported (for es) */
	/* SHA256("mac1----" || k) and SHA256("cookie--" || k) for k = our own
	 * public key (server), the pinned one (client), the PSK (NNpsk0) */
	uint8_t mac1_key[3][32], cookie_key[3][32];
	uint32_t protection;
	unsigned ciphers, cipher_pref;
	uint64_t rekey_ns, rekey_pkts; /* key epochs (rekey.c): turn over after these */
	struct tern_peers peers; /* server */
	struct tern_cookie ck;
};
/* What the server learnt from an authenticated CONNECT. */
struct tern_noise_result {
	int ok;
	uint8_t pattern, protection, cipher;
	uint64_t cid;
	uint8_t digest[32];         /* of the CONNECT (retransmissions) */
	uint8_t client_static[32];  /* zero for NNpsk0 */
	struct tern_wire_hs hs;
	struct noise_hs y;          /* after message 1 */
};

/*
 * A session's congestion control (cc.c owns it; pacer.c the pacing part).
 * The window is in 1/TERN_CC_ONE packets. At or above one packet it limits
 * the packets in flight (through credits_floor, credits.h); below one
 * packet the session is paced: one packet per gap_ns (rtt / window).
 */
#define TERN_CC_ONE 1024u
struct tern_cc {
	uint32_t cwnd;        /* congestion window, 1/TERN_CC_ONE packets */
	uint8_t paced;        /* cwnd < one packet: the pacer spaces packets */
	uint64_t min_rtt_ns;  /* the lowest RTT sample: the path without queues */
	uint64_t rtt_ns;      /* the latest sample */
	uint64_t rtt_at_ns;   /* when it came (0: none yet) */
	uint64_t cut_ns;      /* last decrease: at most one per RTT */
	uint64_t grow_ns;     /* last increase: growth is per RTT of time */
	uint64_t gap_ns;      /* paced: time between packets */
	uint64_t next_ns;     /* paced: when the next packet may leave */
	struct tern_timer timer; /* paced: armed for next_ns while calls wait (TERN_TIMER_PACE) */
};

/*
 * A session. With thousands of sessions each packet finds its session cold
 * in memory, so the fields the data path reads and writes per packet come
 * first, in the first three 64-byte lines of a 64-byte aligned allocation
 * (tern_session_alloc()); rx.c prefetches the first two for a whole burst.
 * The rest (handshake, security, lists, statistics) follows.
 */
struct tern_session {
	/* line 0: the receive checks, the header template */
	struct tern_ep *ep;
	uint8_t state;      /* enum sess_state */
	uint8_t client;     /* this side opened it */
	uint8_t tearing;    /* inside session teardown: defer frees */
	uint8_t close_req;  /* tern_session_close() during teardown */
	uint8_t in_hs;      /* in the CONNECT dedup table */
	uint8_t reconnecting; /* CONNECTING again after a RESET (TERN_EP_RECONNECT) */
	uint16_t id;
	uint16_t peer_id;
	uint8_t prot;       /* TERN_PROT_* in force */
	uint8_t cipher;
	uint32_t token;     /* ours: packets to us carry it */
	uint32_t peer_token;
	uint32_t dpp;       /* payload bytes per packet on this session */
	/* The header words of its packets that only id, peer_id and
	 * peer_token decide (tern_session_hdr_words(), tx.h): set again
	 * whenever one of those changes. */
	uint64_t hdr_w0, hdr_w1;
	uint32_t req_slot_mask; /* nslots - 1: req_num & it is the slot index */
	uint32_t credits;
	uint64_t last_rx_ns;     /* when the peer was last heard (any valid packet) */
	/* line 1: where replies go, the slots */
	struct tern_addr peer;    /* where packets go: follows the peer's source address */
	uint32_t credits_max;
	struct call_slot *cs;
	struct serve_slot *ss;
	uint64_t cs_busy; /* bit per active call slot */
	uint64_t rx_req_bytes; /* request payload taken in, first copies (serve.c) */
	/* Nothing is sent while credits <= credits_floor unless the pacer says
	 * so (credits.h): credits_max - the congestion window, 0 when the
	 * window does not limit (the fast path), credits_max when paced. */
	uint32_t credits_floor;
	uint32_t handlers; /* serve slots in SRV_RUNNING: requests a handler holds */
	/* line 2: RTT and the calls' timer */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	struct tern_timer calls_timer; /* its calls' RTOs and deadlines (TERN_TIMER_CALLS) */
	uint64_t want_tx; /* call slots stalled on credits */
	/* The fourth line: what a call or a handler touches once each, on the
	 * session beside its slot (a call's size and slot number, the pin
	 * around its continuation or handler, the backlog it may start). */
	uint32_t pins;     /* callbacks running that must not see the session freed */
	uint32_t bl_len;
	struct tern_msg *bl_head, *bl_tail; /* backlog (backlog.c): queued calls' requests */
	uint32_t peer_max_msg;
	uint32_t nslots;
	struct tern_cc cc;
	/* the rest */
	int err;            /* why it failed */
	uint64_t peer_epoch;
	struct tern_addr hs_addr; /* server: the client's address at CONNECT (dedup key) */
	uint64_t rto_backoff_ns; /* when the RTO was last backed off */
	uint64_t probe_since;    /* probing the peer since (0: not): dead after
				    session_timeout_ns of silence */
	uint64_t idle_check_ns;  /* keepalive / idle timeout: when to look again */
	uint32_t stalled;        /* calls whose RTO passed without progress since */
	struct tern_timer timer; /* the session's own timer (TERN_TIMER_SESSION) */
	/* handshake (client) */
	uint64_t hs_nonce, hs_next_ns, hs_backoff_ns, hs_deadline_ns;
	uint64_t hs_sent_ns;       /* the first CONNECT of this attempt (0: resent: no RTT sample) */
	struct tern_session *cw_next, *cw_prev; /* connect window: waiting to send its CONNECT */
	uint8_t cw_state;          /* 0, waiting (1) or counted in the window (2) */
	uint32_t kick_next; /* round-robin start for handing out credits */
	struct tern_session *unext, *uprev; /* used-sessions list (teardown, destroy) */
	void *mem; /* the allocation the session is aligned in (what free() takes) */
	/* security */
	uint64_t hs_key; /* CONNECT dedup key: the client epoch (plain) or cid (secure) */
	struct tern_aead *tx_aead, *rx_aead;
	uint64_t tx_ctr;
	/* key epochs (rekey.c): the send key turns over at this counter or
	 * this time; epochs mod 16; the previous epoch's receive key */
	uint64_t tx_rekey_ctr, tx_rekey_ns;
	uint8_t tx_epoch, rx_epoch;
	struct tern_aead *rx_prev;
	struct tern_rekey *rk;
	struct replay_win rxwin;
	struct hs_client *hs;  /* client: handshake in progress */
	uint8_t *hs_reply;     /* server: the CONNECT_OK, for retransmitted CONNECTs */
	uint16_t hs_reply_len;
	uint8_t hs_digest[32];
	uint8_t peer_static[32]; /* the peer's authenticated static key (zero: none) */
	uint64_t reset_probe_ns;  /* protected: a RESET came; it is believed at this time
				     unless an authenticated packet arrives first (0: none) */
};
static_assert(offsetof(struct tern_session, peer) == 64 &&
		      offsetof(struct tern_session, srtt_ns) == 128 &&
		      offsetof(struct tern_session, want_tx) < 192 &&
		      offsetof(struct tern_session, pins) == 192 &&
		      offsetof(struct tern_session, nslots) < 256,
	      "the session's data-path fields fill its first three cache lines, and what "
	      "each call or handler touches once its fourth");

/* ------------------------------------------------------------------ */
/* endpoint                                                           */
/* ------------------------------------------------------------------ */

struct handler {
	tern_handler_fn fn;
	void *ctx;
	unsigned flags;
};

struct post_item {
	void (*fn)(void *);
	void *arg;
};

/* What answers have come for one kind of thing an endpoint sends and a peer
 * answers in order (its calls, its CONNECTs), for loss.h's RACK rule. */
struct tern_rack {
	uint64_t sent_ns; /* the latest first transmission answered (0: none yet) */
	uint64_t at_ns;   /* when an answer last came */
};

struct tern_ep {
	struct tern_ep_config cfg; /* defaults applied; strings not kept */
	struct tern_drv *drv;
	const struct tern_drv_ops *ops;
	uint64_t epoch;
	uint64_t now;       /* read once per poll */
	uint32_t mtu;
	uint32_t dpp;       /* mtu - header */
	uint32_t in_cb;     /* depth of user callbacks running */
	uint32_t in_poll;

	uint64_t rto_min_ns, rto_max_ns, ack_delay_ns;
	uint64_t cc_target_ns; /* congestion control: queueing delay aimed at (0: off, no TERN_EP_CC) */
	uint64_t keepalive_ns, idle_timeout_ns, probe_ns;
	uint64_t rng;        /* xorshift state (timer jitter) */
	/* Receive-queue clocks (rx.c), for judging RTOs (call.c) and CONNECT
	 * retransmissions (connect.c) by rx.h's tern_rx_seen_since(): poll
	 * start times of the last receive burst, and of the last one that
	 * emptied the queue. */
	uint64_t rx_burst_ns, rx_clear_ns;
	/* Answers to calls (call.c), by loss.h's RACK rule: while answers keep
	 * coming for calls sent no later than a call, that call is waiting its
	 * turn, not lost. */
	struct tern_rack rack;

	struct handler *htab[256]; /* two-level: htab[type >> 8][type & 255] */

	/* Sessions by id: allocated while in use, so memory follows the
	 * sessions open, not max_sessions (8 + 2 + 8 bytes per unused entry). */
	struct tern_session **sessions; /* [max_sessions], NULL = free */
	uint16_t *free_ids;
	uint32_t nfree;
	struct tern_session *used; /* used-sessions list head */
	uint32_t *hs_table;        /* CONNECT dedup: (addr, epoch, id) -> session id + 1 */
	uint32_t hs_mask;

	/* Timers (timers.c): every timed thing, on one wheel. */
	struct tern_wheel wheel;
	struct call_slot *arm;  /* calls whose timer is set at the end of this poll */
	/* Connect window (connect.c): CONNECTs outstanding at once, the rest wait. */
	uint32_t cw_inflight;
	struct tern_session *cw_head, *cw_tail;
	uint64_t cw_srtt_ns, cw_rttvar_ns; /* CONNECT -> CONNECT_OK round trips */
	struct tern_rack cw_rack; /* CONNECT_OKs, as rack is for calls (loss.h) */
	uint64_t cw_sent_ns;      /* the last CONNECT's send time (distinct, in order) */

	struct call_slot *done; /* one-way calls whose last packet is out */
	uint32_t running;       /* requests executing (all sessions) */

	unsigned ntx;
	struct tern_tx txq[TERN_TX_BATCH];
	/* headers, written in place as struct tern_hdr (tx.c): 8-byte aligned */
	uint8_t txhdr[TERN_TX_BATCH][TERN_TX_HDR_MAX] __attribute__((aligned(8)));
	uint8_t txtag[TERN_TX_BATCH][TERN_PROT_TAG_LEN];
	/* A descriptor's destination when it is not a session's address (a
	 * control packet's, or a session's copied before it changes or goes:
	 * tern_tx_addr_pin()) */
	struct tern_addr txdst[TERN_TX_BATCH];
	/* One more than a burst: rx.c prefetches entry i + 1's data for every
	 * i, the last one's included (a stale or NULL address: a prefetch
	 * never faults). */
	struct tern_rx rx[TERN_RX_BURST + 1];
	/* Credit returns of this receive burst (credits.c), one per run of
	 * consecutive request packets of a call, sent when the burst is processed. */
	struct tern_cr_pend {
		struct tern_session *s;
		const struct serve_slot *ss; /* NULL: forgotten (slot released) */
		uint64_t req_num;
		uint32_t lo, hi;
	} cr[TERN_RX_BURST];
	unsigned ncr;

	struct msg_pool pool;

	/* tern_ep_post(): any thread pushes, the owner drains */
	atomic_uint post_n;
	int post_lock; /* spinlock word (atomic ops) */
	uint32_t post_head, post_len;
	struct post_item post[TERN_POST_CAP];

	struct tern_stats st;
	struct tern_sec *sec; /* NULL: no keys, plain handshakes */
};

/* --- msgbuf references (msg.c owns the pools) --- */

/* The last reference went: back to the free list (msg.c's pool; inline,
 * the core frees a msgbuf or two per call). */
static inline void tern_msg_release(struct tern_msg *m)
{
	struct tern_ep *ep = m->ep;
	m->next = ep->pool.free[m->cls];
	ep->pool.free[m->cls] = m;
	ep->pool.in_use--;
}
/* Drop a reference (tern_msg_unref(), inline for the core's data path). */
static inline void tern_msg_put(struct tern_msg *m)
{
	if (--m->refs == 0)
		tern_msg_release(m);
}
/* tern_msg_free(), inline: NULL is a no-op. */
static inline void tern_msg_drop(struct tern_msg *m)
{
	if (m != NULL)
		tern_msg_put(m);
}
/* Take a reference (tern_msg_ref(), inline). */
static inline void tern_msg_get(struct tern_msg *m)
{
	m->refs++;
}

static inline struct handler *handler_find(struct tern_ep *ep, uint16_t type)
{
	struct handler *page = ep->htab[type >> 8];
	return page != NULL && page[type & 255].fn != NULL ? &page[type & 255] : NULL;
}

/* ------------------------------------------------------------------ */
/* functions shared by every part of the core (the rest: one header per  */
/* module, e.g. call.h, serve.h, session.h, tx.h)                        */
/* ------------------------------------------------------------------ */

/* log.c */
void tern_log(const struct tern_ep *ep, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* clock.c: tern_now_ns() is public. */

/* rx.c: count a received packet dropped for reason why. */
static inline void tern_rx_drop(struct tern_ep *ep, enum tern_drop why)
{
	ep->st.drops[why]++;
}

/* Payload bytes per packet of a session with this MTU and protection level. */
static inline uint32_t tern_dpp(uint32_t mtu, unsigned prot)
{
	return mtu - TERN_HDR_LEN - (prot != TERN_PROT_NONE ? TERN_PROT_OVERHEAD : 0);
}

/* noise.c (handshake) and protect.c (data path) */
int tern_sec_init(struct tern_ep *ep, const struct tern_ep_config *cfg);
void tern_sec_fini(struct tern_ep *ep);
int tern_sec_client_secure(const struct tern_ep *ep);
int tern_sec_plain_allowed(const struct tern_ep *ep);
void tern_sec_session_wipe(struct tern_session *s);
int tern_noise_connect(struct tern_session *s, const struct tern_wire_hs *hs);
int tern_noise_connect_ok(struct tern_session *s, const struct tern_rx *rx,
			  const struct tern_hdr *h, struct tern_wire_hs *hs);
void tern_noise_accept(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
		       struct tern_noise_result *res);
int tern_noise_answer(struct tern_session *s, const struct tern_rx *rx, const struct tern_hdr *rq,
		      struct tern_noise_result *res, const struct tern_wire_hs *hs);
void tern_noise_refuse(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *rq,
		       int err);
/* peers.c: client keys (allow-list or a bounded cache) and replay memory */
int tern_peers_init(struct tern_ep *ep, const char *allow_file);
void tern_peers_fini(struct tern_sec *sec);
struct tern_peer *tern_peer_find(struct tern_ep *ep, const uint8_t key[32]);
struct tern_peer *tern_peer_get(struct tern_ep *ep, const uint8_t key[32]);
int tern_peer_ss(struct tern_sec *sec, struct tern_peer *p);
void tern_peer_keep(struct tern_peer *p, struct tern_x25519_pub *pub, const uint8_t ss[32]);
int tern_hs_replay_check(const struct tern_sec *sec, const struct tern_peer *p,
			 const uint8_t e[32], uint64_t ts, uint64_t now);
void tern_hs_replay_add(struct tern_sec *sec, const struct tern_peer *p, const uint8_t e[32],
			uint64_t ts);
/* cookie.c: mac1, mac2, cookie replies, load (server); cookies (client) */
#define TERN_MAC_LEN 16u
void tern_mac(uint8_t out[TERN_MAC_LEN], const uint8_t *key, size_t klen, const void *d,
	      size_t n);
int tern_cookie_init(struct tern_ep *ep, const struct tern_ep_config *cfg);
void tern_cookie_fini(struct tern_sec *sec);
void tern_cookie_load(struct tern_ep *ep);
int tern_cookie_gate(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
		     unsigned pattern);
int tern_cookie_under_load(const struct tern_ep *ep);
void tern_cookie_mac2(struct tern_ep *ep, const struct tern_addr *to, uint8_t *pkt);
void tern_on_cookie(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h);
/* Seal packet h of s (tx.c chose where it goes): header with its flag and
 * the next counter into hb (TERN_HDR_LEN + TERN_PROT_CTR_LEN bytes), the
 * tag into tag; the len bytes of payload authenticated as they are
 * (integrity, or len 0), or at privacy encrypted into ct (len bytes, apart
 * from payload; NULL is -EINVAL). 0, or -errno (the packet is then not to
 * be sent). */
int tern_seal(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h, uint8_t *hb,
	      const void *payload, uint32_t len, void *ct, uint8_t *tag);
/* Verify (and decrypt) a protected packet: in place, or (privacy) into dest
 * if not NULL (an unfilled place in a reassembly buffer: zeroed if the tag
 * is bad); 0, or -1 (dropped, counted). */
int tern_rx_unprotect(struct tern_ep *ep, struct tern_session *s, struct tern_rx *rx,
		      const struct tern_hdr *h, uint8_t *dest);

/* replay.c: the replay window of protected sessions */
void tern_replay_reset(struct replay_win *w);
/* 1 if ctr may be new (read-only: commit only once its tag verified). */
int tern_replay_check(const struct replay_win *w, uint64_t ctr);
/* Record ctr as seen (after tern_replay_check() said 1 and the tag verified). */
void tern_replay_commit(struct replay_win *w, uint64_t ctr);

/* A user callback is running: tern_poll() inside it returns -EDEADLK. */
#define CB_ENTER(ep) ((ep)->in_cb++)
#define CB_LEAVE(ep) ((ep)->in_cb--)

#endif /* TERN_INTERNAL_H */
