/*
 * driver.h — the contract between tern's core (lib/) and its drivers.
 *
 * A driver moves UDP datagrams whose payload is a tern packet (wire header +
 * data). It owns one queue: one DPDK queue pair, one UDP socket, one in-memory
 * ring. The core never names an rte_ or io_uring_ type; only drivers/<name>/
 * does. The table is split like DPDK's eth_dev_ops / rte_eth_fp_ops: control
 * ops (open, close, memory, wait) run on slow paths, the three fast-path ops
 * (rx_burst, rx_done, tx_burst) run once per poll with whole bursts.
 *
 * Threading: a driver instance is used by exactly one thread, the owner of
 * the endpoint it belongs to. Only open/close may touch process-wide driver
 * state (DPDK's EAL and ports, the loop registry), and they lock it.
 *
 * Errors: ops return 0 or a negative errno; they never print, exit or abort.
 * A driver logs through tern_drv_log() and counts through struct
 * tern_drv_stats.
 *
 * Internal to libtern: not installed, not part of the ABI.
 */
#ifndef TERN_DRIVER_H
#define TERN_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* AF_INET6 */

#include "tern.h" /* TERN_LOG_* levels */

#ifdef __cplusplus
extern "C" {
#endif

struct tern_msg;

/*
 * A UDP address. Plain data: copied by value, compared with tern_addr_eq().
 * Drivers convert it to their own form (sockaddr, Ethernet/IPv4 header
 * fields); link-layer addresses are the driver's own business (the dpdk
 * driver keeps a neighbour table), never stored here.
 */
struct tern_addr {
	uint8_t family;    /* AF_INET or AF_INET6; 0 = unset */
	uint8_t pad;       /* 0 (tern_addr_same() compares it) */
	uint16_t port;     /* UDP port, host byte order */
	uint8_t ip[16];    /* IPv4 in ip[0..3], network byte order; IPv6 all 16 */
};

/* One received datagram, filled by rx_burst. */
struct tern_rx {
	void *data;           /* start of the tern packet (UDP payload) */
	uint32_t len;         /* its length in bytes */
	uint32_t flags;       /* TERN_RX_* */
	struct tern_addr src; /* sender's IP and port */
	void *priv;           /* driver's handle for rx_done (mbuf, buffer id) */
};

#define TERN_RX_TRUNC 0x1u /* the datagram was longer than the buffer: len is what fit */
/*
 * Not a datagram but a notice that a datagram this driver sent could not be
 * delivered because nothing listens on the destination's UDP port (ICMP or
 * ICMPv6 port unreachable; the udp driver reads them from its socket's error
 * queue). src is that destination (the peer); data/len are as much of the
 * refused datagram (the tern packet as sent) as the notice quoted, len 0 if
 * none. It goes through rx_done like any entry. As untrusted as a packet:
 * anyone can forge an ICMP message, so the core believes one only when its
 * quote matches what it sent (lib/unreach.c). A driver that cannot learn of
 * closed ports never sets it: nothing else is asked of it.
 */
#define TERN_RX_UNREACH 0x2u

/*
 * One datagram to send, gathered from three parts in this order: hdr
 * (hdr_len bytes, 32..TERN_TX_HDR_MAX: the tern header, plus the body of
 * control packets, plus a protected packet's counter), payload (len bytes,
 * may be 0), trailer (trailer_len bytes, 0..TERN_TX_TRAILER_MAX: an
 * authentication tag). The driver frames it (Ethernet/IPv4/UDP under DPDK,
 * sendmsg iovecs on udp) and sends it to *dst. A driver never writes back
 * into the descriptor or the core's state.
 *
 * Memory: hdr and *dst are valid only during tx_burst (the driver copies
 * what it keeps: a driver that holds a descriptor past tx_burst, a delay
 * queue, copies the address too); *dst does not change during the call,
 * and descriptors to one destination usually share the pointer. payload
 * points into msg (a msgbuf) or is NULL when len is 0. If the driver keeps
 * pointing at payload after tx_burst returns (zero-copy: io_uring sendmsg
 * still in flight, DPDK external buffer), it must take a reference with
 * tern_msg_ref(msg) during tx_burst and drop it with tern_msg_unref(msg) when
 * the memory is no longer read — from a later driver call on the owner
 * thread. A driver that copies the payload counts the copied bytes in
 * stats.tx_copied_bytes. hdr and trailer are always copied (not counted).
 * The exception: a TERN_TX_LENT descriptor (below) is already in the
 * driver's own buffer, which nothing copies.
 */
#define TERN_TX_HDR_MAX     256u
#define TERN_TX_TRAILER_MAX 32u
struct tern_tx {
	const struct tern_addr *dst; /* where it goes (the session's address, not a copy) */
	const void *hdr;
	const void *payload;
	const void *trailer;
	struct tern_msg *msg; /* owner of payload, or NULL */
	union {
		struct {
			uint32_t len;
			uint16_t trailer_len;
			uint16_t flags; /* TERN_TX_* */
		};
		uint64_t lens; /* the three at once: the core clears them in one store */
	};
	uint32_t hdr_len;
	void *lent;           /* with TERN_TX_LENT: the tx_lend handle; else not read */
};

/*
 * The packet already sits in a buffer this driver lent (tx_lend): hdr,
 * payload and trailer follow each other in it, from the address tx_lend
 * returned, and msg is NULL. The driver sends that buffer as it is (no
 * copy) and takes it back when it consumes the descriptor, sent or
 * dropped; a descriptor it leaves unconsumed (tx_burst) stays the core's,
 * lent buffer included, to offer again or to give back with tx_unlend.
 */
#define TERN_TX_LENT 0x1u

/*
 * Whether a driver may send t in a datagram of at most mtu bytes: hdr and
 * trailer within their bounds above, hdr + payload + trailer at most mtu,
 * and a payload when len is not 0. The core never builds a descriptor that
 * fails this; a driver checks each one with it anyway and drops (and counts
 * in stats.tx_drop_error) one that fails, rather than read out of bounds.
 * Inline: it runs once a packet.
 */
static inline int tern_tx_valid(const struct tern_tx *t, uint32_t mtu)
{
	return t->hdr_len <= TERN_TX_HDR_MAX && t->trailer_len <= TERN_TX_TRAILER_MAX &&
	       (uint64_t)t->hdr_len + t->len + t->trailer_len <= mtu &&
	       (t->len == 0 || t->payload != NULL);
}

/* Capabilities (struct tern_drv_info.caps). */
#define TERN_DRV_CAP_MULTISEG 0x1u /* gathers header + payload without a copy */
#define TERN_DRV_CAP_WAIT     0x2u /* has a blocking wait op */
#define TERN_DRV_CAP_ZC_TX    0x4u /* can send payload from msgbuf memory without copying */

struct tern_drv_info {
	uint32_t mtu;    /* largest tern packet (UDP payload) this driver sends or receives */
	uint32_t caps;   /* TERN_DRV_CAP_* */
	struct tern_addr local; /* bound address (port resolved if 0 was asked) */
	uint8_t lladdr[6];       /* local link-layer (Ethernet) address, if the driver has one */
	/* Timing hints the core uses for defaults (0 = core default). */
	uint64_t rto_min_ns;     /* retransmission timeout floor */
	uint64_t rto_max_ns;     /* retransmission timeout ceiling */
	uint64_t scan_ns;        /* loss-scan interval */
};

/* Driver counters; the core folds them into tern_ep_stats(). */
struct tern_drv_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t rx_drop_frame;   /* not Ethernet/IPv4/UDP for us, bad checksum or length */
	uint64_t rx_drop_trunc;   /* datagram larger than a receive buffer */
	uint64_t rx_drop_nomem;   /* no buffer to receive into (ring ran dry) */
	uint64_t tx_drop_full;    /* a queue stayed full: the packet was dropped (see tx_burst) */
	uint64_t tx_drop_noroute; /* no link-layer address yet (ARP pending) */
	uint64_t tx_drop_error;   /* the kernel or PMD refused the packet */
	uint64_t tx_copied_bytes; /* payload bytes the driver copied */
	uint64_t arp_rx, arp_tx;  /* ARP packets handled (dpdk) */
};

/* Configuration handed to open(). Strings are owned by the caller. */
struct tern_drv_config {
	const char *bind;      /* local "ip:port" (port 0 = any); NULL = driver default */
	const char *args;      /* driver arguments "k=v,k=v" (dpdk: port=, mtu=, queues=) */
	const char *eal;       /* dpdk: EAL arguments, space separated; others ignore */
	const char *name;      /* the driver ("udp" if NULL); the faults decorator wraps it */
	const char *faults;    /* NULL, or a fault list: the driver is wrapped in "faults" */
	uint32_t queue;        /* queue index (dpdk: queue pair; others: ignored) */
	uint32_t busy_poll;    /* 1: spin in rx_burst; 0: the app may block in wait() */
	uint32_t rx_ring;      /* receive buffers to post (0 = driver default) */
	uint32_t mtu;          /* requested MTU (0 = driver default) */
	/* Log hook of the endpoint (may be NULL); open() stores it in struct tern_drv. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct tern_drv;

struct tern_drv_ops {
	const char *name;

	/* --- control path --- */

	/* Create an instance; on success *out is set and 0 returned. */
	int (*open)(const struct tern_drv_config *cfg, struct tern_drv **out);
	/* Destroy an instance; releases every buffer and reference it holds. */
	void (*close)(struct tern_drv *drv);
	/*
	 * Backing memory for msgbuf chunks (DMA-able under DPDK). len is a
	 * multiple of 4096; returns NULL on failure. NULL ops = core uses mmap.
	 * mem_free takes no instance: the core frees its regions AFTER close()
	 * (close drops the driver's msgbuf references, which live in them).
	 */
	void *(*mem_alloc)(struct tern_drv *drv, size_t len);
	void (*mem_free)(void *p, size_t len);
	/*
	 * Block until a datagram may be ready or timeout_ns passes; returns 0,
	 * or a negative errno. NULL op (or busy_poll) = the core spins.
	 */
	int (*wait)(struct tern_drv *drv, uint64_t timeout_ns);

	/* --- fast path --- */

	/* Receive up to n datagrams into rx[]; returns how many (0..n). */
	unsigned (*rx_burst)(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
	/* Return the buffers of rx[0..n) taken by the last rx_burst. */
	void (*rx_done)(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
	/*
	 * Send tx[0..n). Returns how many descriptors it consumed, from the
	 * front, in order: each was either handed to the wire (or the kernel,
	 * or the device) or dropped and counted in one of the driver's
	 * tx_drop_* counters (no route, bad size, refused by the kernel) —
	 * like a loss on the wire, retransmission recovers those. It stops at
	 * the first descriptor it cannot take now only because a queue is
	 * full (a device ring, the io_uring SQ, a pool): that one and the
	 * rest are left untouched and uncounted, and the core offers them
	 * again on its next flush (it drops them itself, counted in
	 * tern_stats.tx_drops, only if the driver keeps refusing a full
	 * batch). Also reaps earlier completions.
	 */
	unsigned (*tx_burst)(struct tern_drv *drv, struct tern_tx *tx, unsigned n);
	/*
	 * Optional (both or neither; NULL = the core builds descriptors from
	 * its own memory, as for every driver). tx_lend lends a buffer of at
	 * least len bytes (len <= info.mtu) that the driver can send without
	 * copying, for the core to write a whole tern packet into (a sealed
	 * packet: header, counter, ciphertext, tag, written once, straight
	 * into the driver's memory). It returns the buffer and sets *handle,
	 * or returns NULL (none free now: the core falls back to its own
	 * memory). The buffer comes back exactly once: in a TERN_TX_LENT
	 * descriptor that tx_burst consumes, or by tx_unlend(handle) when the
	 * core will not send it (its packet could not be sealed, the batch was
	 * dropped, the endpoint is being destroyed — always before close).
	 */
	void *(*tx_lend)(struct tern_drv *drv, uint32_t len, void **handle);
	void (*tx_unlend)(struct tern_drv *drv, void *handle);
};

/* The common part every driver instance starts with. */
struct tern_drv {
	const struct tern_drv_ops *ops;
	struct tern_drv_info info;
	struct tern_drv_stats stats;
	/* Log hook, copied from the config by open() (may be NULL). */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

/* --- services the core provides to drivers --- */

/* Take / drop a reference on a msgbuf whose memory a driver still reads. */
void tern_msg_ref(struct tern_msg *m);
void tern_msg_unref(struct tern_msg *m);

/* printf-style log through the endpoint's hook; a no-op without one. */
void tern_drv_log(const struct tern_drv *drv, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse "ipv4:port", "[ipv6]:port" or "host:port" (getaddrinfo). Returns 0;
 * -EINVAL (malformed), -ENXIO (the name does not resolve), -EAGAIN (the
 * resolver failed for now). _why also writes a sentence naming the address
 * and what is wrong with it into why (why_len bytes), for the caller to log. */
int tern_addr_parse(const char *s, struct tern_addr *out);
int tern_addr_parse_why(const char *s, struct tern_addr *out, char *why, size_t why_len);
/* Same IP, port and family (the MAC is not compared). */
int tern_addr_eq(const struct tern_addr *a, const struct tern_addr *b);
/* The same, inline: the receive path compares every packet's source. */
static inline int tern_addr_same(const struct tern_addr *a, const struct tern_addr *b)
{
	/* family, pad (always 0), port and the first four IP bytes in one word */
	uint64_t a0, b0;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&b0, b, 8);
	if (a0 != b0)
		return 0;
	if (a->family != AF_INET6)
		return 1;
	uint64_t a1, b1;
	uint32_t a2, b2;
	__builtin_memcpy(&a1, a->ip + 4, 8);
	__builtin_memcpy(&b1, b->ip + 4, 8);
	__builtin_memcpy(&a2, a->ip + 12, 4);
	__builtin_memcpy(&b2, b->ip + 12, 4);
	return a1 == b1 && a2 == b2;
}
/* Format as "ip:port" into buf; returns buf. */
char *tern_addr_str(const struct tern_addr *a, char *buf, size_t len);
/*
 * Parse a "k=v,k=v" argument list: for each pair calls fn(key, value, ctx);
 * stops at the first non-zero return and returns it. -EINVAL on syntax errors.
 */
int tern_kv_parse(const char *s, int (*fn)(const char *k, const char *v, void *ctx), void *ctx);

/*
 * A number in a driver's "k=v" list (lib/addr.c; the one parser of them):
 * decimal digits only (no sign, space or "0x"); with TERN_ARG_KMG an
 * optional k, m or g, in either case, multiplies by 2^10, 2^20 or 2^30.
 * The value (after the multiplier) must lie in [min, max].
 * Returns 0 and sets *out; otherwise -EINVAL, *out untouched, and a line
 * through log's hook (log may be NULL: no line) at TERN_LOG_ERR:
 * '<driver>: bad value "<v>" for <key>: <reason> (<min>..<max>)', the
 * reason one of: no value, not a decimal number, not a number with an
 * optional k, m or g, too large, too small. Any thread; no allocation.
 * _u32 is the same for a 32-bit field (max must fit it).
 */
#define TERN_ARG_KMG 1u
int tern_arg_uint(const struct tern_drv *log, const char *key, const char *v, uint64_t min,
		  uint64_t max, unsigned flags, uint64_t *out);
int tern_arg_u32(const struct tern_drv *log, const char *key, const char *v, uint32_t min,
		 uint32_t max, unsigned flags, uint32_t *out);

/*
 * The driver registry (lib/drivers.c). Each driver registers itself when the
 * library loads, with TERN_DRIVER_REGISTER(its ops table) in its control
 * file; meson decides which drivers are built into the library.
 */
/* NULL if the name is unknown or not built. */
const struct tern_drv_ops *tern_drv_find(const char *name);
/* Add a driver (built-in ones at load time; tests' injection driver at run
 * time). 0, -EINVAL (incomplete ops, or only one of tx_lend and
 * tx_unlend) or -ENOSPC. */
int tern_drv_register(const struct tern_drv_ops *ops);
int tern_drv_register_builtin(const struct tern_drv_ops *ops);
#define TERN_DRIVER_REGISTER(ops)                                              \
	__attribute__((constructor)) static void tern_drv_register_##ops(void) \
	{                                                                      \
		(void)tern_drv_register_builtin(&(ops));                       \
	}
/*
 * Open the driver cfg->name names ("udp" when NULL) — wrapped in the
 * faults decorator when cfg->faults is a non-empty fault list. The registry
 * composes decorators; the endpoint only hands it the configuration.
 * 0 and *out, -ENOENT (unknown driver), or the driver's open() error.
 */
int tern_drv_open(const struct tern_drv_config *cfg, struct tern_drv **out);

#ifdef __cplusplus
}
#endif

#endif /* TERN_DRIVER_H */
