/*
 * udp.h — private state of the udp driver, shared by udp.c (control path)
 * and udp_rxtx.c (fast path). Nothing here leaves drivers/udp/.
 *
 * Two ways to drive the socket (mode=, udp.c): plain non-blocking
 * recvmmsg/sendmmsg, busy-polled (mmsg, the default, udp_mmsg.c), or
 * io_uring (udp_rxtx.c). What follows is the io_uring mode unless said
 * otherwise.
 *
 * One instance = one UDP socket + one io_uring, used by one thread (the
 * endpoint's owner). Receive: ONE multishot recvmsg over a provided-buffer
 * ring; each buffer holds io_uring_recvmsg_out, the source sockaddr, a small
 * control area (SO_RXQ_OVFL) and the datagram. Transmit: one sendmsg SQE per
 * datagram from a fixed pool of contexts, one submit per tx_burst. Both kinds
 * of completion share the CQ; whoever reaps first handles them, and receive
 * completions reaped by tx_burst wait in a small stash for the next rx_burst.
 *
 * Closed ports: IP_RECVERR / IPV6_RECVERR queue the kernel's ICMP errors on
 * the socket; a one-shot POLLERR poll SQE says when one is there, rx_burst
 * reads it (recvmsg(MSG_ERRQUEUE), non-blocking), and an ICMP port
 * unreachable becomes a TERN_RX_UNREACH entry of rx_burst (driver.h). Its
 * buffer (struct udp_errq) is lent like a receive buffer and the poll
 * re-armed at rx_done.
 *
 * Buffer ownership: a receive buffer is, at any time, in exactly one place:
 * posted in the buffer ring (kernel), in a CQE or the stash, or lent to the
 * core (between rx_burst and rx_done). A transmit context is either free or
 * in flight (its SQE submitted, its CQE not yet reaped). In mmsg mode a
 * receive buffer is free (on rx_free) or lent to the core; the kernel holds
 * nothing between calls, and nothing is held after tx_burst returns.
 */
#ifndef TERN_DRV_UDP_H
#define TERN_DRV_UDP_H

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "driver.h"

#define udp_likely(x)   __builtin_expect(!!(x), 1)
#define udp_unlikely(x) __builtin_expect(!!(x), 0)

/* Limits and defaults (see udp.c for the reasoning behind each). */
#define UDP_MTU_DEFAULT   1472u  /* 1500-byte Ethernet MTU - IPv4 - UDP headers */
#define UDP_MTU_MAX       65507u /* largest IPv4 UDP payload */
#define UDP_MTU_MIN       64u    /* a tern header plus room to spare */
#define UDP_RX_DEFAULT    512u   /* receive buffers (power of two) */
#define UDP_RX_MEM_DEFAULT (4u << 20) /* ...unless they would take more than this */
#define UDP_RX_MAX        32768u /* buffer ring limit (16-bit buffer ids) */
#define UDP_TX_DEFAULT    256u   /* transmit contexts = sends in flight */
#define UDP_TX_MAX        16384u
#define UDP_SOCKBUF_DEFAULT (4u << 20) /* SO_RCVBUF / SO_SNDBUF: bursts fit */
#define UDP_COPY_MAX      256u   /* payloads up to this are copied, not referenced */
#define UDP_BGID          0      /* our only buffer group */
#define UDP_MMSG_VEC      32u    /* mmsg mode: datagrams per recvmmsg, messages per sendmmsg */
/*
 * mmsg mode, transmit segmentation (gso=1): a run of equal-length datagrams
 * to one destination goes as one message with a UDP_SEGMENT cmsg. The
 * kernel refuses more than UDP_MAX_SEGMENTS segments (include/linux/udp.h:
 * 64 until 6.9, 128 since; 64 is safe on both) and more payload than one
 * UDP datagram holds (65507 bytes over IPv4; IPv6 allows a little more).
 */
#define UDP_GSO_SEGS      64u
#define UDP_GSO_BYTES     UDP_MTU_MAX
#define UDP_MMSG_IOV      (UDP_MMSG_VEC * 3u * 4u) /* iovecs of one sendmmsg vector (a datagram takes up to 3) */
/*
 * mmsg mode, receive coalescing (gro=1): the socket has UDP_GRO, so a
 * segmented send arrives as one message of several datagrams (a cmsg gives
 * their length). It is received into a staging buffer this large (a whole
 * coalesced skb: no MSG_TRUNC) and copied out datagram by datagram.
 */
#define UDP_GRO_BUF       65536u

/* user_data tags: the CQE's origin. TX carries the context index. */
#define UDP_UD_RX     1ull
#define UDP_UD_CANCEL 2ull
#define UDP_UD_ERRQ   3ull
#define UDP_UD_TX     (1ull << 32)

#define UDP_ERRQ_QUOTE 256u /* bytes of a refused datagram kept: a tern header and a CONNECT */

/* The error-queue read: its msghdr and buffers (only ever used by a
 * synchronous recvmsg: the kernel holds no reference to it). */
struct udp_errq {
	struct msghdr mh;
	struct iovec iov;
	union {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} name;  /* the refused datagram's destination */
	uint8_t ctl[256] __attribute__((aligned(8))); /* one IP(V6)_RECVERR cmsg */
	uint8_t quote[UDP_ERRQ_QUOTE];                /* the refused datagram's start */
};

/*
 * One in-flight send. buf holds the header copy, then either the trailer
 * (payload referenced in place: iov = hdr, payload, trailer) or the copied
 * small payload and the trailer (iov = buf alone).
 */
struct udp_txc {
	struct msghdr mh;
	struct iovec iov[3];
	struct tern_msg *msg; /* reference held until the CQE, or NULL */
	union {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} sa;
	uint8_t buf[TERN_TX_HDR_MAX + UDP_COPY_MAX + TERN_TX_TRAILER_MAX];
} __attribute__((aligned(64)));

/* A receive completion reaped before anyone asked for it. */
struct udp_stash {
	uint32_t bid;
	int32_t res;
};

/* How the socket is driven (mode=). */
enum udp_io {
	UDP_IO_URING = 0, /* io_uring: multishot recvmsg, sendmsg SQEs (udp_rxtx.c) */
	UDP_IO_MMSG = 1,  /* non-blocking recvmmsg / sendmmsg syscalls (udp_mmsg.c) */
};

/*
 * mmsg mode: the syscall vectors (UDP_MMSG_VEC entries each), allocated at
 * open. A transmit message carries tx_segs[j] datagrams (1, or a segmented
 * run with its UDP_SEGMENT cmsg in tx_ctl[j]); the iovecs of every message
 * of the vector follow each other in tx_iov.
 */
struct udp_mmsg {
	struct mmsghdr rx[UDP_MMSG_VEC];
	struct iovec rx_iov[UDP_MMSG_VEC];
	struct mmsghdr tx[UDP_MMSG_VEC];
	struct iovec tx_iov[UDP_MMSG_IOV];
	uint16_t tx_segs[UDP_MMSG_VEC];
	uint16_t tx_seg[UDP_MMSG_VEC]; /* their length (UDP_SEGMENT's value) */
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
	} tx_ctl[UDP_MMSG_VEC];
	union {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} tx_sa[UDP_MMSG_VEC];
};

/*
 * mmsg mode with gro=1: UDP_MMSG_VEC staging buffers, the receive vector.
 * msgs messages came with the last recvmmsg; message cur is being handed
 * out from byte off on (what did not fit an rx_burst waits here for the
 * next one, in order). Per message: its length, datagram length (gso, 0 =
 * one datagram), whether it was truncated, and its source.
 */
struct udp_gro {
	uint8_t *mem; /* UDP_MMSG_VEC x UDP_GRO_BUF, mmap'd */
	size_t mem_len;
	unsigned msgs, cur;
	uint32_t off;
	struct {
		uint32_t len, seg;
		bool trunc, bad_src;
		struct tern_addr src;
	} m[UDP_MMSG_VEC];
	union {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} name[UDP_MMSG_VEC];
	union {
		struct cmsghdr h;
		uint8_t b[64];
	} ctl[UDP_MMSG_VEC];
};

/* Which io_uring setup we got (the kernel may refuse the best one). */
enum udp_ring_mode {
	UDP_RING_DEFER, /* SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG: work runs when we enter */
	UDP_RING_COOP,  /* COOP_TASKRUN|TASKRUN_FLAG: no IPIs, flag says when to enter */
	UDP_RING_PLAIN, /* default: completions posted asynchronously */
};

/*
 * The ring starts disabled and is activated by the first fast-path call (or
 * wait), so that SINGLE_ISSUER binds it to the thread that polls, whichever
 * thread called open().
 */
enum udp_state {
	UDP_IDLE = 0,    /* opened; nothing submitted yet */
	UDP_ACTIVE = 1,  /* ring enabled on the owner thread, receive armed */
	UDP_FAILED = -1, /* activation failed: fast-path ops do nothing */
};

struct udp_drv {
	struct tern_drv base; /* must stay first: the core sees this */
	struct io_uring ring;
	int fd;            /* the socket */
	int sqe_fd;        /* fd as SQEs name it: 0 when registered as fixed file */
	uint8_t sqe_flags; /* IOSQE_FIXED_FILE or 0 */
	uint8_t mode;      /* enum udp_ring_mode */
	uint8_t io;        /* enum udp_io */
	int8_t state;      /* enum udp_state */
	bool rx_armed;     /* a multishot recvmsg is queued or running */
	bool cancel_pending; /* close() waits for its cancel-all CQE */
	bool dual_stack;   /* IPv6 socket on [::] that also reaches IPv4 peers */
	bool warned;       /* one log line for contract violations, not one per packet */
	bool errq_on;      /* IP_RECVERR set: closed ports are reported (recverr=1) */
	bool errq_armed;   /* the POLLERR poll is queued or running */
	bool errq_ready;   /* it fired; rx_burst reads the error queue */
	bool errq_lent;    /* its buffer is lent to the core (rx_burst .. rx_done) */
	bool gso_told;     /* the one log line about a refused segmentation was written */
	int family;        /* of the socket: AF_INET or AF_INET6 */
	pid_t owner_tid;   /* thread that activated the ring */

	/* receive */
	uint8_t *rx_mem;  /* nbuf buffers of buf_stride bytes, page-aligned */
	size_t rx_mem_len;
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint32_t nbuf;    /* power of two */
	uint32_t buf_stride;
	uint32_t buf_len; /* what the kernel may fill: prefix + mtu */
	uint32_t prefix;  /* payload offset in a buffer (name and control before it) */
	uint32_t br_pending; /* buffers added to the ring, not yet published */
	uint32_t rx_kbufs;   /* buffers published and not yet consumed by the kernel */
	uint32_t ovfl_seen;  /* last SO_RXQ_OVFL drop counter seen */
	struct msghdr rx_mh; /* layout template for the multishot recvmsg */
	struct udp_stash *stash; /* nbuf entries: a buffer is stashed at most once */
	uint32_t stash_head, stash_tail;
	struct udp_errq *errq;   /* NULL unless errq_on */
	uint32_t *rx_free;       /* mmsg mode: stack of free buffer ids */
	uint32_t rx_nfree;

	/* transmit */
	struct udp_txc *txc;
	uint32_t *tx_free; /* stack of free context indices */
	uint32_t ntx, tx_nfree;
	uint32_t copy_max;
	struct udp_mmsg *mm; /* mmsg mode only */
	uint32_t gso_max;    /* mmsg mode: largest datagram sent segmented; 0 = gso off (udp_mmsg.c) */
	uint64_t gso_sends;  /* mmsg mode: segmented messages the kernel took (tests read it) */
	struct udp_gro *gro; /* mmsg mode with gro=1 (UDP_GRO on the socket), else NULL */
	uint64_t gro_msgs;   /* mmsg mode: received messages of more than one datagram (tests read it) */
};

static inline struct udp_drv *udp_of(struct tern_drv *drv)
{
	return (struct udp_drv *)drv;
}

extern const struct tern_drv_ops tern_drv_udp;

/* udp_rxtx.c */
unsigned udp_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
void udp_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
unsigned udp_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n);
/* Reap every CQE present; receive buffers go to the stash (or back to the ring if drop). */
void udp_reap(struct udp_drv *u, bool drop_rx);
/* Queue a multishot recvmsg SQE (submitted by the next enter). */
void udp_arm_rx(struct udp_drv *u);
/* Queue the error-queue poll if it is on and idle (submitted by the next enter). */
void udp_arm_errq(struct udp_drv *u);
/* Publish buffers added since the last call. */
void udp_br_flush(struct udp_drv *u);

/* The error queue (udp_rxtx.c), shared by both modes: read what is queued,
 * the first port unreachable into rx[0] (lent until rx_done); 1 if so. */
unsigned udp_errq_fill(struct udp_drv *u, struct tern_rx *rx);
/* One control message of a received datagram: the kernel's drop counter
 * (SO_RXQ_OVFL) into rx_drop_nomem; anything else is ignored. */
void udp_rx_cmsg(struct udp_drv *u, const struct cmsghdr *c);

/* An address of namelen bytes, v4-mapped IPv6 reported as IPv4 (replies go back as such). */
static inline int udp_sa_addr(const void *name, uint32_t namelen, struct tern_addr *a)
{
	const struct sockaddr *sa = name;
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && namelen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = name;
		a->family = AF_INET;
		a->port = ntohs(sin->sin_port);
		memcpy(a->ip, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && namelen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = name;
		a->port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			a->family = AF_INET;
			memcpy(a->ip, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->ip, &sin6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

/*
 * Destination a as the socket's family wants it, into sa (a sockaddr_in6's
 * room); its length, or 0 if the socket cannot reach it (an IPv6 peer on an
 * IPv4 socket, or an IPv4 peer on an IPv6 socket not bound to [::]).
 */
static inline socklen_t udp_sa_dst(const struct udp_drv *u, void *sa, const struct tern_addr *a)
{
	if (u->family == AF_INET) {
		struct sockaddr_in *sin = sa;
		if (udp_unlikely(a->family != AF_INET))
			return 0;
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = sa;
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	if (a->family == AF_INET6) {
		memcpy(&sin6->sin6_addr, a->ip, 16);
	} else if (a->family == AF_INET && u->dual_stack) {
		sin6->sin6_addr.s6_addr[10] = 0xff; /* ::ffff:a.b.c.d */
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], a->ip, 4);
	} else {
		return 0;
	}
	return sizeof(*sin6);
}

/*
 * With IP_RECVERR, an ICMP error also sets the socket's pending error, and
 * the next send or receive reports it instead of working (whichever peer it
 * goes to) until the error has been taken. Such a datagram was not sent.
 */
static inline bool udp_icmp_pending(int err)
{
	switch (err) {
	case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENONET:
	case EPROTO: case ENOPROTOOPT: case EOPNOTSUPP: case EMSGSIZE:
		return true;
	default:
		return false;
	}
}

/* A datagram accepted, in either mode: rx describes len bytes at data in
 * receive buffer bid (rx_done gives it back), and the receive counters
 * count it. Returns 1, the entries filled. */
static inline unsigned udp_rx_accept(struct udp_drv *u, struct tern_rx *rx, void *data,
				     uint32_t len, uint32_t bid)
{
	rx->data = data;
	rx->len = len;
	rx->flags = 0;
	rx->priv = (void *)(uintptr_t)bid;
	u->base.stats.rx_pkts++;
	u->base.stats.rx_bytes += len;
	return 1;
}

/* udp_mmsg.c: the mmsg mode's fast path and wait */
unsigned udp_mmsg_rx_burst(struct udp_drv *u, struct tern_rx *rx, unsigned n);
void udp_mmsg_rx_done(struct udp_drv *u, struct tern_rx *rx, unsigned n);
unsigned udp_mmsg_tx_burst(struct udp_drv *u, struct tern_tx *tx, unsigned n);
int udp_mmsg_wait(struct udp_drv *u, uint64_t timeout_ns);
/* gro=1: UDP_GRO on the socket and the staging buffers; 0, or -errno (then gro stays off). */
int udp_mmsg_gro_open(struct udp_drv *u);
void udp_mmsg_gro_close(struct udp_drv *u);

/* udp.c */
int udp_activate(struct udp_drv *u);

#endif /* TERN_DRV_UDP_H */
