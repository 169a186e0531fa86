/**
 * @file tern.h
 * @brief tern — a kernel-bypass RPC transport. The one public header.
 *
 * Model: one endpoint (struct tern_ep) per polling thread, shared-nothing and
 * run to completion. An endpoint owns one driver queue (a DPDK queue pair, a
 * UDP socket, an in-memory ring), its sessions, buffers and timers. A client
 * endpoint opens a session to a server endpoint with tern_connect(); either
 * side then issues calls on it. Handlers and continuations run inside
 * tern_poll() on the owner thread.
 *
 * Threading rule, for every function unless its comment says otherwise: call
 * it only from the thread that owns the endpoint (the one that calls
 * tern_poll() for it). Objects of different endpoints may be used from
 * different threads at the same time.
 *
 * Errors: functions return 0 (or a count) on success and a negative errno on
 * failure. Bad arguments give -EINVAL. The library never prints, exits or
 * aborts; it counts events (tern_ep_stats()) and logs through the hook in
 * struct tern_ep_config.
 *
 * Every call that tern_call() accepts (returns 0) ends in exactly one
 * continuation: the response, or an error status. None is run from inside
 * tern_call() itself.
 */
#ifndef TERN_H
#define TERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_VERSION_MAJOR 0
#define TERN_VERSION_MINOR 1

struct tern_ep;
struct tern_session;
struct tern_msg;
struct tern_req;

/* ------------------------------------------------------------------ */
/** @name Log levels (the hook's level argument) */
/* ------------------------------------------------------------------ */
#define TERN_LOG_ERR   3
#define TERN_LOG_WARN  4
#define TERN_LOG_INFO  6
#define TERN_LOG_DEBUG 7

/* ------------------------------------------------------------------ */
/** @name Handler semantics (tern_handle() flags) */
/* ------------------------------------------------------------------ */
/** Request, reply, acknowledge-reply (default): the response is cached until
 *  the caller acknowledges it; a duplicate request is answered from the cache,
 *  never re-executed. At-most-once execution while the server lives. */
#define TERN_RRA 0x0u
/** Request, reply: a one-packet response is not cached; a duplicate request
 *  runs the handler again. For idempotent handlers. */
#define TERN_RR 0x1u
/** Request only (one-way): no response. Callers use tern_send(). */
#define TERN_R 0x2u

/* ------------------------------------------------------------------ */
/** @name Call flags (tern_call_ex()) */
/* ------------------------------------------------------------------ */
/** The call may be re-issued on a fresh session after a server restart
 *  (only with TERN_EP_RECONNECT); otherwise such calls fail with -ECONNRESET. */
#define TERN_CALL_IDEMPOTENT 0x1u

/* ------------------------------------------------------------------ */
/** @name Endpoint flags (struct tern_ep_config.flags) */
/* ------------------------------------------------------------------ */
/** When a server restart is detected, reopen the session automatically and
 *  re-issue the in-flight calls marked TERN_CALL_IDEMPOTENT. */
#define TERN_EP_RECONNECT 0x1u
/** Kept for compatibility: credit returns are coalesced by default (see
 *  TERN_EP_NO_COALESCE_CR). */
#define TERN_EP_COALESCE_CR 0x2u
/** As the callee, return a credit for each request packet, instead of the
 *  default: one credit return per run of consecutive request packets of a
 *  call per receive burst, and none for a call answered within the burst
 *  (fewer packets for large requests: docs/performance.md). Callers always
 *  accept both forms. */
#define TERN_EP_NO_COALESCE_CR 0x4u
/** Congestion control (lib/cc.c): each session's packets in flight follow a
 *  delay-based window, paced below one packet (see cc_target_ns). For many
 *  senders through one bottleneck (incast). A loss cuts the window only
 *  when the delay says there is a queue (a recent sample above target, or
 *  none for an RTO). Off by default for now: where RTT samples carry host
 *  delay far above the target (loop under CPU contention: a 50 us target)
 *  and random loss stalls calls past an RTO without samples, windows are
 *  still cut and seldom grow back (the blkstore fault tests time out with
 *  it when the test suite runs two at once). */
#define TERN_EP_CC 0x8u

/* ------------------------------------------------------------------ */
/** @name Protection levels (struct tern_ep_config.protection) */
/* ------------------------------------------------------------------ */
/** No cryptographic protection (header CRC only). */
#define TERN_PROT_NONE 0u
/** Every packet authenticated (AEAD tag over header and payload); payload in clear. */
#define TERN_PROT_INTEGRITY 1u
/** Payload encrypted and every packet authenticated. */
#define TERN_PROT_PRIVACY 2u

/** Session events, delivered to struct tern_ep_config.on_session. */
enum tern_session_event {
	TERN_SESSION_CONNECTED = 1, /**< client: CONNECT_OK received */
	TERN_SESSION_ACCEPTED = 2,  /**< server: a client opened a session */
	TERN_SESSION_FAILED = 3,    /**< connect failed (err: -ETIMEDOUT, -ECONNREFUSED, ...) */
	TERN_SESSION_RESET = 4,     /**< peer restarted or forgot us (err -ECONNRESET) */
	TERN_SESSION_DEAD = 5,      /**< peer silent past the session timeout (err -ETIMEDOUT) */
	TERN_SESSION_CLOSED = 6,    /**< closed by the peer (DISCONNECT) or locally */
};

/** Session states (tern_session_state()). */
enum tern_session_state {
	TERN_SS_CONNECTING = 1, /**< CONNECT sent, not yet answered */
	TERN_SS_CONNECTED = 2,  /**< usable */
	TERN_SS_FAILED = 3,     /**< connect failed, reset, timed out or closed by the peer:
				     calls fail; the owner must tern_session_close() it */
};

/** Endpoint configuration. Fill with tern_ep_config_init(), then override. */
struct tern_ep_config {
	const char *driver;      /**< "udp" (default), "dpdk", "loop" */
	const char *bind;        /**< local "ip:port"; port 0 = ephemeral (udp default 0.0.0.0:0) */
	const char *driver_args; /**< driver "k=v,..." (udp: mtu=, mode=mmsg|uring, ...: see
				      docs/drivers.md; dpdk: port=, mtu=, queues=,
				      memif_wait=S: a net_memif client waits up to S s for its
				      server, default 10) */
	const char *eal;         /**< dpdk: EAL arguments, e.g. "-l 1 --no-pci --vdev=net_ring0" */
	const char *faults;      /**< NULL, or wrap the driver in the faults decorator:
				      "loss=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=0.01,
				      delay_us=200,seed=7" (probabilities; see docs/drivers.md) */
	uint32_t queue;          /**< driver queue index (dpdk: queue pair of this endpoint) */
	uint32_t busy_poll;      /**< 1 (default): drivers spin; 0: tern_poll_wait() may sleep */
	uint32_t flags;          /**< TERN_EP_* */

	uint32_t max_sessions;   /**< sessions at once (default 256, at most 65535); memory is
				      taken per session in use (~3.4 KiB with 8 slots), plus 18
				      bytes per id */
	uint32_t slots;          /**< calls in flight per session, power of two (default 8, max 64) */
	uint32_t credits;        /**< packets in flight per session and direction (default 32, max 256;
				      one call never has more than 64: its window) */
	uint32_t max_msg_size;   /**< largest message accepted (default 8 MiB) */
	uint32_t mtu;            /**< largest packet (default: the driver's) */
	uint32_t backlog_limit;  /**< calls queued per session beyond the slots (default 4096) */
	uint32_t server_queue_limit; /**< requests executing at once; beyond: -EBUSY (default 4096) */
	uint32_t max_retries;    /**< unused (kept for compatibility): a call never fails for
				      unanswered retransmissions, only when its session is
				      declared dead (session_timeout_ns) or at its deadline */
	uint64_t mem_limit;      /**< bytes of msgbuf memory (default 1 GiB) */

	uint64_t rto_min_ns;         /**< RTO floor (0 = driver default) */
	uint64_t rto_max_ns;         /**< RTO ceiling (0 = driver default) */
	uint64_t call_timeout_ns;    /**< default per-call deadline (default 10 s) */
	uint64_t connect_timeout_ns; /**< give up connecting after this (default 3 s) */
	uint64_t keepalive_ns;       /**< the session's opener PINGs it after this long without
					  hearing the peer (default 180 s, jittered by up to 1/8);
					  busy sessions need none */
	uint64_t session_timeout_ns; /**< a peer is dead when nothing is heard from it for this
					  long while it is probed (default 5 s): probing (PINGs every
					  session_timeout_ns / 64) starts when a call's RTO passes
					  unanswered, or at the keepalive */
	uint64_t idle_timeout_ns;    /**< the accepting side closes a session it has not heard
					  from for this long, with nothing running (default 3 x
					  keepalive_ns; it never probes idle sessions itself) */
	uint64_t ack_delay_ns;       /**< send an explicit ACK after a slot idles this long
					  (default 4 x RTO floor) */
	uint64_t cc_target_ns;       /**< congestion control (lib/cc.c): the queueing delay a
					  session aims at, above the lowest RTT it has seen;
					  sessions with few packets in flight aim up to 6 x
					  higher (default RTO floor / 4; only with TERN_EP_CC) */

	/* Security (see docs/security.md). Files are read by tern_ep_create(). */
	const char *key_file;      /**< this endpoint's static X25519 private key (tern-keygen NAME
				        writes NAME.key and NAME.pub) */
	const char *peer_key_file; /**< client: the server's public key (NAME.pub), pinned: sessions
				        use the authenticated handshake */
	const char *allow_file;    /**< server: client public keys allowed, one per line: clients
				        must authenticate and be listed */
	const char *psk_file;      /**< a pre-shared key (a key file): both sides must hold it */
	uint32_t protection;       /**< client: the level asked for; server: the lowest accepted
				        (TERN_PROT_*, default NONE) */
	uint32_t handshake_rate;   /**< server under load: handshakes per second per source
				        address proven by a cookie (default 200) */
	uint32_t handshake_load;   /**< server: secure CONNECTs per second above which it is under
				        load and asks for cookies first (default 1000) */
	uint64_t rekey_ns;         /**< protected sessions: each direction's key turns over (a
				        one-way derivation both sides make, in-band, calls
				        undisturbed) after this long (default 120 s) ... */
	uint64_t rekey_pkts;       /**< ... or after this many packets, whichever comes first
				        (default 2^23, RFC 9001's AES-GCM limit; at most 2^40) */

	/** Log hook (may be NULL): level is TERN_LOG_*, msg has no newline. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	/** Session event hook (may be NULL); runs inside tern_poll() or the call that
	 *  caused it. err is 0 or a negative errno. */
	void (*on_session)(struct tern_session *s, enum tern_session_event ev, int err, void *ctx);
	void *session_ctx;
};

/* ------------------------------------------------------------------ */
/** @name Endpoints */
/* ------------------------------------------------------------------ */

/** Fill cfg with the defaults. Any thread. */
void tern_ep_config_init(struct tern_ep_config *cfg);

/**
 * Create an endpoint: open its driver, allocate its session array and pools.
 * @return 0 and *out set; -EINVAL (bad config), -ENOENT (driver unknown or
 *         not built), -ENOMEM, or the driver's error (-EADDRINUSE, ...).
 * Threading: any thread; that thread (or the one it hands the endpoint to
 * before first use) becomes the owner.
 */
int tern_ep_create(const struct tern_ep_config *cfg, struct tern_ep **out);

/**
 * Destroy an endpoint. Pending calls end with -ECANCELED (their continuations
 * run here), sessions are closed with DISCONNECT, all memory is released.
 * NULL is a no-op. Owner thread.
 */
void tern_ep_destroy(struct tern_ep *ep);

/**
 * One pass of the event loop: receive and dispatch a burst, run timers,
 * transmit. Handlers and continuations run in here.
 * @return the number of packets and events processed (0 = idle), or
 *         -EDEADLK if called from inside a handler or continuation.
 */
int tern_poll(struct tern_ep *ep);

/**
 * Like tern_poll(), but when there is nothing to do, wait (sleep in the
 * driver if it can and the endpoint is not busy-polling, else spin) up to
 * timeout_ns or the next timer, whichever is first.
 * @return as tern_poll().
 */
int tern_poll_wait(struct tern_ep *ep, uint64_t timeout_ns);

/** The local address as "ip:port" into buf (len bytes). @return buf. */
char *tern_ep_addr(const struct tern_ep *ep, char *buf, size_t len);

/** Payload bytes one packet carries on this endpoint (MTU minus header). */
uint32_t tern_ep_data_per_pkt(const struct tern_ep *ep);

/**
 * Run fn(arg) on the owner thread, inside a later tern_poll(). The way work
 * done on another thread (a slow handler's worker) comes back.
 * @return 0, or -EAGAIN if the queue (1024 entries) is full.
 * Threading: any thread; multiple producers are safe.
 */
int tern_ep_post(struct tern_ep *ep, void (*fn)(void *arg), void *arg);

/** Monotonic clock in nanoseconds (TSC-based where available). Any thread. */
uint64_t tern_now_ns(void);

/* ------------------------------------------------------------------ */
/** @name Message buffers */
/* ------------------------------------------------------------------ */

/**
 * Allocate a message buffer of len bytes (0 <= len <= max_msg_size) from the
 * endpoint's pools (registered memory under DPDK).
 * @return the buffer, or NULL (len too large, or the memory limit is hit).
 */
struct tern_msg *tern_msg_alloc(struct tern_ep *ep, size_t len);

/** Return a buffer the caller owns. NULL is a no-op. */
void tern_msg_free(struct tern_msg *m);

/** The payload area (len bytes, 64-byte aligned). */
void *tern_msg_data(struct tern_msg *m);

/** Current length in bytes. */
size_t tern_msg_len(const struct tern_msg *m);

/** Capacity in bytes (>= the length asked of tern_msg_alloc()). */
size_t tern_msg_cap(const struct tern_msg *m);

/** Set the length (0..capacity). @return 0 or -EINVAL. */
int tern_msg_set_len(struct tern_msg *m, size_t len);

/* ------------------------------------------------------------------ */
/** @name Sessions */
/* ------------------------------------------------------------------ */

/**
 * Open a session to the server endpoint at addr ("ip:port", "[ipv6]:port" or
 * "host:port"). Returns at once: the CONNECT is sent (called outside
 * tern_poll(): before it returns; from a callback: with the poll's other
 * packets) and retransmitted until answered or connect_timeout_ns passes;
 * while 64 CONNECTs of the endpoint are unanswered, it waits its turn.
 * Calls may be issued immediately; they wait in the backlog until the
 * session is up, and fail with the connect error if it never comes up.
 * A bad address is logged (TERN_LOG_ERR, through the endpoint's log hook)
 * with what is wrong, e.g. "tern_connect: "127.0.0.1": no port; expected
 * host:port (e.g. 127.0.0.1:31850) or [ipv6]:port".
 * @return 0 and *out set;
 *         -EINVAL: a malformed address: no port, a port that is not a number,
 *                  0 or above 65535, a dotted host that is no IPv4 address
 *                  ("300.1.1.1"), an IPv6 address without brackets; or the
 *                  endpoint asks for a protection level (integrity, privacy)
 *                  with neither the server's key nor a PSK to authenticate
 *                  the server by (rather than a session with less);
 *         -ENXIO: a host name that does not resolve ("nosuchhost.invalid");
 *         -EAGAIN: the resolver failed for now (DNS unreachable): try again;
 *         -ENOSPC (no free session), -ENOMEM.
 */
int tern_connect(struct tern_ep *ep, const char *addr, struct tern_session **out);

/**
 * Poll until the session is connected or has failed, at most timeout_ns.
 * @return 0 when connected; the failure (-ETIMEDOUT: no answer within
 *         connect_timeout_ns; -ECONNREFUSED: nothing listens there, reported
 *         within a round trip by drivers that learn of closed ports (udp:
 *         the kernel's ICMP port unreachable; not for a reconnect, see
 *         TERN_EP_RECONNECT); -ECONNRESET, ...); -EDEADLK inside a callback.
 */
int tern_session_wait(struct tern_session *s, uint64_t timeout_ns);

/** enum tern_session_state of s. */
int tern_session_state(const struct tern_session *s);

/** The session's endpoint. */
struct tern_ep *tern_session_ep(const struct tern_session *s);

/** The peer's address as "ip:port". @return buf. */
char *tern_session_peer(const struct tern_session *s, char *buf, size_t len);

/**
 * Request payload bytes this side received on the session as the callee:
 * each packet of a request counted once, when it is taken into its call
 * (duplicates, packets of refused calls and packets dropped for want of
 * memory are not counted), whether or not the call completes. What a
 * network measurement calls bytes delivered to the receiver.
 * @return the count (0 for NULL). Owner thread of the session's endpoint.
 */
uint64_t tern_session_rx_bytes(const struct tern_session *s);

/**
 * Close a session: its queued and in-flight calls end with -ECANCELED (their
 * continuations run in here), a DISCONNECT is sent, and the handle is freed.
 * Any session handle may be closed, including a failed one, and server-side
 * sessions (tern_req_session()). Safe inside callbacks.
 * @return 0, or -EINVAL.
 */
int tern_session_close(struct tern_session *s);

/* ------------------------------------------------------------------ */
/** @name Calls (client side; a server may call its clients the same way) */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/** @name Status codes
 *
 * A failed call carries a status code and, from a handler that gave one, a
 * message (tern_respond_status()), as gRPC's Status does; the values are
 * gRPC's (google.rpc.Code). Every code has one errno of its own (the first
 * listed below), which is what struct tern_result.status holds for it, so
 * callers that look only at status see a plain negative errno; the other
 * errno values listed map to the code, and any errno not listed maps to
 * TERN_STATUS_UNKNOWN. A handler that answers tern_respond_error(-err)
 * sends err itself: its caller sees status -err and the code err maps to
 * (tern_status_from_errno()); errors tern finds locally (-ETIMEDOUT,
 * -ECONNRESET, ...) get their code the same way.
 */
/* ------------------------------------------------------------------ */
enum tern_status_code {
	TERN_STATUS_OK = 0,                  /**< success (status 0) */
	TERN_STATUS_CANCELLED = 1,           /**< ECANCELED: the call was cancelled (session
						  closed, endpoint destroyed) */
	TERN_STATUS_UNKNOWN = 2,             /**< EREMOTEIO: an error nothing more is known of
						  (a tern_pb handler that failed without a status),
						  and every errno not listed here */
	TERN_STATUS_INVALID_ARGUMENT = 3,    /**< EINVAL, EDOM, E2BIG, ENAMETOOLONG, EILSEQ: the
						  request is wrong, whatever the server's state */
	TERN_STATUS_DEADLINE_EXCEEDED = 4,   /**< ETIMEDOUT, ETIME: no answer before the deadline
						  (the outcome is unknown) */
	TERN_STATUS_NOT_FOUND = 5,           /**< ENOENT, ENXIO, ENODEV, ESRCH: what the request
						  names does not exist (tern: no handler) */
	TERN_STATUS_ALREADY_EXISTS = 6,      /**< EEXIST: what the request would create exists */
	TERN_STATUS_PERMISSION_DENIED = 7,   /**< EACCES, EPERM, EROFS: the caller may not */
	TERN_STATUS_RESOURCE_EXHAUSTED = 8,  /**< ENOSPC, ENOMEM, EDQUOT, ENOBUFS, EMFILE, ENFILE,
						  EMSGSIZE: out of space, memory or quota; a
						  message over a limit */
	TERN_STATUS_FAILED_PRECONDITION = 9, /**< EBADFD, ENOTEMPTY, EISDIR, ENOTDIR, ETXTBSY: the
						  system is not in the state the request needs
						  (do not retry until it is) */
	TERN_STATUS_ABORTED = 10,            /**< EDEADLK: aborted by a concurrency conflict
						  (retry the whole operation) */
	TERN_STATUS_OUT_OF_RANGE = 11,       /**< ERANGE, EFBIG, EOVERFLOW: past a valid range
						  (an offset past the end, a number too large) */
	TERN_STATUS_UNIMPLEMENTED = 12,      /**< EOPNOTSUPP, ENOSYS, EPROTONOSUPPORT,
						  EAFNOSUPPORT: not supported by this server */
	TERN_STATUS_INTERNAL = 13,           /**< EIO, EPROTO, EBADMSG: the server (or the
						  protocol) broke an invariant; a device error */
	TERN_STATUS_UNAVAILABLE = 14,        /**< EAGAIN, EBUSY, ECONNREFUSED, ECONNRESET,
						  ECONNABORTED, ENOTCONN, EHOSTUNREACH, ENETUNREACH,
						  ENETDOWN, EHOSTDOWN, EPIPE, ESHUTDOWN: try again
						  later (with backoff); tern: server overloaded,
						  peer gone */
	TERN_STATUS_DATA_LOSS = 15,          /**< EUCLEAN: unrecoverable data loss or corruption */
	TERN_STATUS_UNAUTHENTICATED = 16,    /**< ENOKEY, EKEYREJECTED, EKEYEXPIRED: the caller's
						  credentials are missing or not valid */
};
/** The largest status code. */
#define TERN_STATUS_MAX 16
/** Longest status message in bytes (UTF-8, without the terminating NUL). */
#define TERN_STATUS_MSG_MAX 512

/** The code's name ("INVALID_ARGUMENT"), or "?" for a value that is no code. Any thread. */
const char *tern_status_name(int code);

/** The code err (0 or a negative errno) maps to: TERN_STATUS_OK for 0,
 *  TERN_STATUS_UNKNOWN for an errno not in the table above. Any thread. */
int tern_status_from_errno(int err);

/** The code's own errno, negative (TERN_STATUS_NOT_FOUND: -ENOENT); 0 for
 *  TERN_STATUS_OK; -EREMOTEIO (UNKNOWN's) for a value that is no code.
 *  tern_status_from_errno(tern_status_to_errno(c)) == c for every code. Any thread. */
int tern_status_to_errno(int code);

/** What a continuation receives. */
struct tern_result {
	int status;       /**< 0, or a negative errno: -ETIMEDOUT, -ECONNRESET, -ECANCELED,
			       -ECONNREFUSED (nothing listens at the server's address),
			       -ENOENT (no handler), -EBUSY (server overloaded), -EMSGSIZE,
			       the error the handler returned, or the errno of the status
			       code it answered with (tern_status_to_errno()) */
	uint16_t req_type;
	const void *data; /**< response payload, valid only during the continuation (NULL
			       when status is not 0) */
	size_t len;       /**< its length */
	int code;         /**< enum tern_status_code: 0 when status is 0; the code the handler
			       answered with (tern_respond_status()); else the code status
			       maps to (tern_status_from_errno()) */
	const char *message; /**< status != 0: the handler's message, NUL-terminated UTF-8 of
				  message_len bytes (at most TERN_STATUS_MSG_MAX), valid only
				  during the continuation; "" if it gave none (and for errors
				  found locally). NULL when status is 0. */
	size_t message_len;
};

/** Continuation: runs once per accepted call, inside tern_poll(). */
typedef void (*tern_cont_fn)(const struct tern_result *res, void *ctx);

/**
 * Issue a call. tern takes ownership of req (and frees it) when this returns
 * 0; on an error return the caller keeps it.
 * @param timeout_ns deadline from now (0 = the endpoint's call_timeout_ns).
 * @return 0 (cont will run exactly once), -EINVAL, -EMSGSIZE (over the
 *         server's limit), -EAGAIN (backlog full), -ENOTCONN (session failed),
 *         -ECANCELED (session closing).
 */
int tern_call(struct tern_session *s, uint16_t req_type, struct tern_msg *req,
	      tern_cont_fn cont, void *ctx, uint64_t timeout_ns);

/** tern_call() with TERN_CALL_* flags. */
int tern_call_ex(struct tern_session *s, uint16_t req_type, struct tern_msg *req,
		 tern_cont_fn cont, void *ctx, uint64_t timeout_ns, unsigned flags);

/**
 * One-way call to a TERN_R handler. The continuation runs with status 0 once
 * the whole request has been handed to the driver (not when it arrives), or
 * with an error. Ownership of req as tern_call().
 * @return as tern_call().
 */
int tern_send(struct tern_session *s, uint16_t req_type, struct tern_msg *req,
	      tern_cont_fn cont, void *ctx, uint64_t timeout_ns);

/**
 * Call and poll until the response arrives. The request is copied from
 * req/req_len; up to resp_cap bytes of the response go to resp and its full
 * length to *resp_len (may be NULL).
 * @return 0, the call's error status, -EMSGSIZE if the response did not fit
 *         (the first resp_cap bytes are copied), -EDEADLK inside a callback,
 *         or tern_call()'s errors.
 */
int tern_call_sync(struct tern_session *s, uint16_t req_type, const void *req, size_t req_len,
		   void *resp, size_t resp_cap, size_t *resp_len, uint64_t timeout_ns);

/** A call's status code and message, as tern_call_sync_status() returns them. */
struct tern_status {
	int code;                              /**< enum tern_status_code */
	char message[TERN_STATUS_MSG_MAX + 1]; /**< NUL-terminated; "" if none */
};

/**
 * tern_call_sync() that also fills *st (may be NULL) with the call's status
 * code and the handler's message: code 0 and "" on success; on an error
 * the code and message the continuation saw, or the code of the error
 * returned (tern_status_from_errno()) with "" when the call never ran.
 * @return as tern_call_sync().
 */
int tern_call_sync_status(struct tern_session *s, uint16_t req_type, const void *req,
			  size_t req_len, void *resp, size_t resp_cap, size_t *resp_len,
			  uint64_t timeout_ns, struct tern_status *st);

/* ------------------------------------------------------------------ */
/** @name Handlers (server side) */
/* ------------------------------------------------------------------ */

/**
 * A request handler. Runs inside tern_poll(). It must end the request exactly
 * once with tern_respond() or tern_respond_error() — now or later (a deferred
 * response, after its own calls or I/O). TERN_R handlers do not respond.
 */
typedef void (*tern_handler_fn)(struct tern_req *req, void *ctx);

/**
 * Register fn for req_type with semantics TERN_RRA (default), TERN_RR or
 * TERN_R. Replaces an earlier registration.
 * @return 0, or -EINVAL.
 */
int tern_handle(struct tern_ep *ep, uint16_t req_type, tern_handler_fn fn, void *ctx,
		unsigned flags);

/** Request payload. Valid until the request is answered (a one-packet request
 *  points into the receive buffer while the handler runs; if the handler
 *  returns without answering, tern moves it into a msgbuf first). */
const void *tern_req_data(const struct tern_req *req);
/** Request payload length. */
size_t tern_req_len(const struct tern_req *req);
/** Request type. */
uint16_t tern_req_type(const struct tern_req *req);
/** The session the request came on (usable for calls back to the client). */
struct tern_session *tern_req_session(const struct tern_req *req);
/** The endpoint. */
struct tern_ep *tern_req_ep(const struct tern_req *req);

/**
 * Answer a request with resp (tern takes ownership, also on error).
 * @return 0; -EINVAL (already answered, R handler, foreign msgbuf);
 *         -EMSGSIZE (over the client's limit: the client gets -EMSGSIZE);
 *         -ECONNRESET (the session is gone: the response is dropped).
 */
int tern_respond(struct tern_req *req, struct tern_msg *resp);

/**
 * Answer with an error: the caller's continuation gets status err (a
 * negative errno, -1..-255), code tern_status_from_errno(err) and no message.
 * @return as tern_respond(); -EINVAL also for err out of range (then the
 *         request is still unanswered).
 */
int tern_respond_error(struct tern_req *req, int err);

/**
 * Answer with a status code (1..TERN_STATUS_MAX) and an optional message
 * (msg: a NUL-terminated UTF-8 sentence, or NULL). The caller's
 * continuation gets code, the message, and status
 * tern_status_to_errno(code). Like every answer, it is cached until the
 * caller acknowledges it (a duplicate request gets it again), for RR
 * handlers too. A message longer than TERN_STATUS_MSG_MAX bytes, or than
 * one packet of the session carries (or the client's message limit), is
 * truncated to fit, at a character boundary. If no msgbuf memory is left
 * for the message, the code goes alone.
 * @return as tern_respond(); -EINVAL also for a code out of range or a
 *         message that is not valid UTF-8 (then nothing is sent and the
 *         request is still unanswered).
 */
int tern_respond_status(struct tern_req *req, int code, const char *msg);

/* ------------------------------------------------------------------ */
/** @name Statistics */
/* ------------------------------------------------------------------ */

/** Why a received packet was dropped. */
enum tern_drop {
	TERN_DROP_SHORT = 0,     /**< shorter than the tern header */
	TERN_DROP_VERSION,       /**< unknown protocol version */
	TERN_DROP_TYPE,          /**< invalid packet type or flags */
	TERN_DROP_LENGTH,        /**< length inconsistent with type / sizes */
	TERN_DROP_TOO_BIG,       /**< message size over the limit */
	TERN_DROP_PKT_NUM,       /**< packet number outside the message */
	TERN_DROP_SESSION,       /**< unknown or closed session id */
	TERN_DROP_TOKEN,         /**< session token mismatch */
	TERN_DROP_STALE,         /**< for an older call than the slot's */
	TERN_DROP_DUP,           /**< duplicate of a packet already handled */
	TERN_DROP_UNEXPECTED,    /**< not valid in the slot's or session's state */
	TERN_DROP_NOMEM,         /**< no buffer to reassemble into */
	TERN_DROP_BUSY,          /**< slot still executing the previous call */
	TERN_DROP_FRAME,         /**< driver: bad Ethernet/IP/UDP frame, truncated */
	TERN_DROP_CHECKSUM,      /**< tern header checksum mismatch (corruption) */
	TERN_DROP_AUTH,          /**< protected session: tag did not verify, or unprotected packet */
	TERN_DROP_REPLAY,        /**< protected session: counter seen before or too old; or a
				      replayed handshake */
	TERN_DROP_HANDSHAKE,     /**< handshake that does not authenticate (mac1, keys) */
	TERN_DROP_RATELIMIT,     /**< handshake over the per-address rate */
	TERN_DROP_STATUS,        /**< error response whose status code or message is malformed
				      (code out of range, message too long or not UTF-8) */
	TERN_DROP_MAX
};

/** Endpoint counters. */
struct tern_stats {
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes; /**< driver level */
	uint64_t drops[TERN_DROP_MAX];                /**< received packets dropped, by reason */
	uint64_t tx_drops;            /**< packets the driver could not send */
	uint64_t calls_started;       /**< calls accepted by tern_call*() */
	uint64_t calls_ok;            /**< continuations with status 0 */
	uint64_t calls_failed;        /**< continuations with an error */
	uint64_t calls_timeout;       /**< ... of which -ETIMEDOUT */
	uint64_t calls_reset;         /**< ... of which -ECONNRESET */
	uint64_t requests_executed;   /**< handler invocations */
	uint64_t requests_dup;        /**< duplicate requests answered from the cache */
	uint64_t responses_error;     /**< error responses sent (-ENOENT, -EBUSY, ...) */
	uint64_t busy_rejects;        /**< requests refused with -EBUSY */
	uint64_t retransmits;         /**< resends: request packets and RFRs sent again (after
					   an RTO, or a fast retransmit), counted apart from
					   first sends; only what the peer has not answered
					   is resent (selective) */
	uint64_t rto_events;          /**< RTO expirations */
	uint64_t acks_sent, acks_rx;  /**< explicit ACKs */
	uint64_t resets_sent, resets_rx;
	uint64_t sessions_open;       /**< sessions currently in use */
	uint64_t sessions_accepted;   /**< server side, total */
	uint64_t sessions_connected;  /**< client side, total */
	uint64_t sessions_closed;     /**< ended by close or DISCONNECT */
	uint64_t sessions_dead;       /**< torn down after the session timeout */
	uint64_t cached_responses;    /**< responses held for acknowledgement now */
	uint64_t msgs_in_use;         /**< msgbufs allocated now */
	uint64_t msg_bytes_reserved;  /**< msgbuf memory obtained from the driver/OS */
	uint64_t copied_bytes;        /**< payload bytes copied by tern (core + driver) */
	uint64_t zc_rx;               /**< requests/responses handed over in place */
	uint64_t hs_ok;               /**< authenticated handshakes accepted (server) */
	uint64_t hs_refused;          /**< handshakes refused (not allowed, bad keys, level) */
	uint64_t hs_cookies_sent;     /**< cookie replies sent (server under load) */
	uint64_t hs_cookies_rx;       /**< cookie replies taken (client) */
	uint64_t rekeys;              /**< send keys turned over (key epochs begun) */
	uint64_t connects_sent;       /**< CONNECT packets sent, retransmissions included (client) */
	uint64_t pings_sent;          /**< PINGs sent: keepalive and probes of silent peers */
	uint64_t unreach_rx;          /**< "port unreachable" notices from the driver (udp: ICMP) */
	uint64_t unreach_ignored;     /**< ... that named no session of ours, or not the packet
				           it sent (unverifiable: forged or stale) */
};

/** Fill *out with the endpoint's counters. @return 0 or -EINVAL. */
int tern_ep_stats(const struct tern_ep *ep, struct tern_stats *out);

/** Name of a drop reason ("short", "token", ...). */
const char *tern_drop_name(int reason);

/** Print-free formatting helper: the counters as "name value" lines into buf.
 *  @return the length written (truncated to len-1), as snprintf. */
int tern_stats_format(const struct tern_stats *st, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/** @name Security */
/* ------------------------------------------------------------------ */

/**
 * Generate an X25519 key pair: write NAME.key (the private key, mode 0600)
 * and NAME.pub (the public key), one base64 line each.
 * @return 0, -EINVAL, or the file error (-EACCES, -ENOENT, ...). Any thread.
 */
int tern_keygen(const char *name);

/** The session's protection level (TERN_PROT_*), or -EINVAL. */
int tern_session_protection(const struct tern_session *s);

/**
 * The peer's authenticated static public key (32 bytes) into pub.
 * @return 0, or -ENOENT if the session was not authenticated with static keys.
 */
int tern_session_peer_key(const struct tern_session *s, uint8_t pub[32]);

/** Names of the drivers built into this library, comma separated. Any thread. */
const char *tern_drivers(void);

#ifdef __cplusplus
}
#endif

#endif /* TERN_H */
