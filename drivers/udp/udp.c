/*
 * udp.c — the udp driver's control path: open, close, wait, activation.
 *
 * Kernel UDP sockets driven by plain recvmmsg/sendmmsg syscalls on a
 * non-blocking socket (mode=mmsg, the default), or by io_uring (mode=uring;
 * liburing >= 2.3; Linux >= 6.0 for buffer rings and multishot recvmsg, 6.1
 * for the best ring setup).
 * One socket (and in uring mode one ring) per instance; the fast path is in
 * udp_mmsg.c (mmsg) and udp_rxtx.c (io_uring), the shared state in udp.h.
 *
 * Ring setup, best first (the kernel may refuse a flag; "uring=" forces one):
 *   defer  SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG: completion work runs
 *          only when the owner enters the kernel, no IPIs; the TASKRUN flag
 *          in the SQ ring tells a polling loop when entering is needed, so an
 *          idle rx_burst makes no syscall at all.
 *   coop   COOP_TASKRUN|TASKRUN_FLAG: same idea without the single issuer.
 *   plain  the kernel posts completions by itself.
 * A SINGLE_ISSUER ring belongs to the thread that first submits; it is
 * created disabled and enabled by the first rx_burst/tx_burst/wait, so
 * open() may run on another thread than the poller. close() must run on the
 * poller (like every op after the first fast-path call): only it can reap.
 * Elsewhere it still drops every reference but leaks the receive buffers
 * (logged) rather than free memory the kernel may still write.
 *
 * Driver arguments ("k=v,k=v", unknown keys are -EINVAL):
 *   mode=mmsg|uring  how the socket is driven (default mmsg: at 1 call
 *              outstanding over loopback its p50 was ~0.7x uring's, at 32
 *              and for 1 MiB calls it did as well or better, docs/performance.md).
 *              uring: io_uring as above; per message and side one
 *              io_uring_enter runs the receive's task work and one submits
 *              the send (and reaps it).
 *              mmsg: no ring; rx_burst is one recvmmsg(MSG_DONTWAIT) of up
 *              to 32 datagrams (an idle busy poll is one -EAGAIN syscall),
 *              tx_burst one sendmmsg per 32, wait() a ppoll; the kernel
 *              copies every datagram before sendmmsg returns, so nothing is
 *              held after tx_burst (tx_ring= and copy= do not apply, no
 *              msgbuf reference is taken, tx_copied_bytes stays 0). Closed
 *              ports are reported as in uring mode (recverr=). Per message
 *              and side: one recvmmsg and one sendmmsg, what a busy-polled
 *              socket loop (sockperf) makes. docs/performance.md compares them.
 *   mtu=N      largest tern packet = UDP payload (default cfg->mtu, else 1472:
 *              a 1500-byte Ethernet MTU; max 65507)
 *   rcvbuf=N, sndbuf=N  socket buffers in bytes, suffix k/m allowed (default
 *              4m so a burst is not dropped by the kernel; 0 = kernel default)
 *   rx_ring=N  receive buffers, rounded up to a power of two (default
 *              cfg->rx_ring, else 512 buffers or 4 MiB, whichever is fewer,
 *              but at least 64: 512 at MTU 1472, 64 at MTU 65507)
 *   tx_ring=N  transmit contexts = sends in flight (default 256)
 *   copy=N     payloads up to N bytes are copied, not referenced (0..256, 256)
 *   uring=auto|defer|coop|plain  ring setup (default auto: best available)
 *   recverr=0|1 report closed ports (default 1): IP_RECVERR/IPV6_RECVERR on
 *              the socket, its error queue watched through the ring, an ICMP
 *              port unreachable handed to the core as a TERN_RX_UNREACH
 *              entry (a connect to a port where nothing listens fails at
 *              once with -ECONNREFUSED, lib/unreach.c). The kernel then also
 *              sets the socket's pending error, which the next receive or
 *              send takes: the multishot receive ends with -ECONNREFUSED
 *              (re-armed at once, nothing lost: datagrams wait in the
 *              socket), a send fails unsent and is made again at once
 *              (udp_rxtx.c); so a flood of forged ICMP messages costs
 *              syscalls, not packets; recverr=0 ignores them
 *              all, as the kernel does by default.
 *   gso=0|1    mmsg mode: segmentation offload on send (default 1). A run
 *              of consecutive datagrams to one destination with one length
 *              (the last may be shorter; at most 64 datagrams and 65507
 *              bytes) goes as ONE message of the sendmmsg with a
 *              UDP_SEGMENT cmsg: the kernel walks its stack once for the
 *              run and splits it into the same datagrams at the end (on a
 *              device without segmentation offload, loopback included, in
 *              software). The receiver sees the datagrams as ever (a
 *              capture on the sending host sees one packet per run). If
 *              the kernel refuses it (EIO, EINVAL, EOPNOTSUPP: no checksum
 *              offload, SO_NO_CHECK), gso goes off for the socket; if a
 *              datagram is larger than the path MTU (EMSGSIZE: the kernel
 *              segments only what needs no IP fragmentation), datagrams
 *              of that length or more are no longer segmented. Either way
 *              one INFO log line, and the refused run is sent one datagram
 *              at a time: nothing is lost. gso=0 sends every datagram as
 *              its own message. Ignored in mode=uring.
 *   gro=0|1    mmsg mode: receive coalescing (default 1): UDP_GRO on the
 *              socket, so a segmented send (the peer's gso=1) is queued
 *              whole instead of being split into one skb per datagram,
 *              and one recvmmsg entry returns all of its datagrams. They
 *              are received into UDP_MMSG_VEC staging buffers of 64 KiB
 *              and copied one by one into the ordinary receive buffers:
 *              the core sees the same datagrams, in order, with the same
 *              checks and counters; what does not fit one rx_burst waits
 *              staged for the next. If the kernel refuses UDP_GRO, one
 *              INFO log line and gro is off. Ignored in mode=uring.
 *
 * cfg->busy_poll changes nothing here: rx_burst never sleeps in either mode
 * and wait() is the only op that blocks. Peers are IP:port; IPv6 link-local
 * peers (which need a scope id) are not supported.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "udp.h"

struct udp_args {
	uint32_t mtu, rx_ring, tx_ring, copy_max;
	uint32_t rcvbuf, sndbuf;
	uint32_t recverr;
	uint32_t gso, gro;
	int mode; /* -1 = auto, else enum udp_ring_mode */
	int io;   /* enum udp_io */
	struct tern_drv tmp; /* for logging before the instance exists */
};

static int parse_arg(const char *k, const char *v, void *ctx)
{
	struct udp_args *a = ctx;
	int rc = -EINVAL;
	if (strcmp(k, "mtu") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, UDP_MTU_MAX, TERN_ARG_KMG, &a->mtu);
	else if (strcmp(k, "rcvbuf") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, INT32_MAX / 2, TERN_ARG_KMG, &a->rcvbuf);
	else if (strcmp(k, "sndbuf") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, INT32_MAX / 2, TERN_ARG_KMG, &a->sndbuf);
	else if (strcmp(k, "rx_ring") == 0)
		return tern_arg_u32(&a->tmp, k, v, 1, UDP_RX_MAX, TERN_ARG_KMG, &a->rx_ring);
	else if (strcmp(k, "tx_ring") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, UDP_TX_MAX, TERN_ARG_KMG, &a->tx_ring);
	else if (strcmp(k, "copy") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, UDP_COPY_MAX, TERN_ARG_KMG, &a->copy_max);
	else if (strcmp(k, "recverr") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, 1, 0, &a->recverr);
	else if (strcmp(k, "gso") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, 1, 0, &a->gso);
	else if (strcmp(k, "gro") == 0)
		return tern_arg_u32(&a->tmp, k, v, 0, 1, 0, &a->gro);
	else if (strcmp(k, "mode") == 0) {
		if (strcmp(v, "uring") == 0)
			a->io = UDP_IO_URING;
		else if (strcmp(v, "mmsg") == 0)
			a->io = UDP_IO_MMSG;
		else {
			tern_drv_log(&a->tmp, TERN_LOG_ERR, "udp: bad value \"%s\" for mode (mmsg, uring)", v);
			return -EINVAL;
		}
		return 0;
	}
	else if (strcmp(k, "uring") == 0) {
		static const char *const names[] = {"defer", "coop", "plain"};
		rc = 0;
		if (strcmp(v, "auto") == 0)
			a->mode = -1;
		else {
			rc = -EINVAL;
			for (int i = 0; i < 3; i++)
				if (strcmp(v, names[i]) == 0) {
					a->mode = i;
					rc = 0;
				}
		}
	} else {
		tern_drv_log(&a->tmp, TERN_LOG_ERR, "udp: unknown argument '%s'", k);
		return -EINVAL;
	}
	if (rc != 0)
		tern_drv_log(&a->tmp, TERN_LOG_ERR, "udp: bad value \"%s\" for uring (auto, defer, coop, plain)", v);
	return rc;
}

static uint32_t pow2_ceil(uint32_t x)
{
	uint32_t p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

/*
 * Socket buffers: the FORCE variants pass net.core.[rw]mem_max when we may
 * (CAP_NET_ADMIN); otherwise the plain option, which the kernel caps. A
 * smaller buffer than asked is worth a note: bursts then drop in the kernel.
 */
static void set_sockbuf(struct udp_drv *u, int force, int plain, uint32_t want, const char *what)
{
	int v = (int)want, got = 0;
	socklen_t len = sizeof(got);
	if (want == 0)
		return;
	if (setsockopt(u->fd, SOL_SOCKET, force, &v, sizeof(v)) != 0)
		(void)setsockopt(u->fd, SOL_SOCKET, plain, &v, sizeof(v));
	/* The kernel reports twice the value set (it accounts for overhead). */
	if (getsockopt(u->fd, SOL_SOCKET, plain, &got, &len) == 0 && (uint32_t)got / 2 < want)
		tern_drv_log(&u->base, TERN_LOG_INFO,
			     "udp: %s is %d bytes, asked %u (raise net.core.%cmem_max)", what,
			     got / 2, want, what[0] == 'r' ? 'r' : 'w');
}

static void addr_from_sa(const struct sockaddr_storage *ss, struct tern_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		a->family = AF_INET;
		a->port = ntohs(sin->sin_port);
		memcpy(a->ip, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		a->family = AF_INET6;
		a->port = ntohs(sin6->sin6_port);
		memcpy(a->ip, &sin6->sin6_addr, 16);
	}
}

/* socket, options, bind; fills info.local with the port the kernel chose. */
static int open_socket(struct udp_drv *u, const struct tern_addr *bind_to, const struct udp_args *a)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, zero = 0, rc;

	memset(&ss, 0, sizeof(ss));
	u->family = bind_to->family;
	if (bind_to->family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(bind_to->port);
		memcpy(&sin->sin_addr, bind_to->ip, 4);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(bind_to->port);
		memcpy(&sin6->sin6_addr, bind_to->ip, 16);
		sslen = sizeof(*sin6);
	}
	u->fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (u->fd < 0)
		return -errno;
	set_sockbuf(u, SO_RCVBUFFORCE, SO_RCVBUF, a->rcvbuf, "rcvbuf");
	set_sockbuf(u, SO_SNDBUFFORCE, SO_SNDBUF, a->sndbuf, "sndbuf");
	/* Kernel drop counter on each datagram: how rx_drop_nomem sees socket overflows. */
	if (setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0)
		tern_drv_log(&u->base, TERN_LOG_DEBUG, "udp: SO_RXQ_OVFL: %s", strerror(errno));
	/* [::] serves IPv4 peers too (v4-mapped), whatever net.ipv6.bindv6only says. */
	if (u->family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)(const void *)bind_to->ip))
		u->dual_stack = setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0;
	/* ICMP errors into the error queue (recverr=): closed ports are reported.
	 * An IPv6 socket takes IPV6_RECVERR, and IP_RECVERR for its IPv4 peers. */
	if (a->recverr) {
		if (u->family == AF_INET)
			u->errq_on = setsockopt(u->fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) == 0;
		else
			u->errq_on = setsockopt(u->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) == 0 &&
				     (!u->dual_stack ||
				      setsockopt(u->fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) == 0);
		if (!u->errq_on)
			tern_drv_log(&u->base, TERN_LOG_INFO,
				     "udp: IP_RECVERR: %s: closed ports are not reported", strerror(errno));
	}
	if (bind(u->fd, (struct sockaddr *)&ss, sslen) != 0) {
		rc = -errno;
		goto err_fd;
	}
	sslen = sizeof(ss);
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sslen) != 0) {
		rc = -errno;
		goto err_fd;
	}
	addr_from_sa(&ss, &u->base.info.local);
	return 0;

err_fd:
	close(u->fd);
	u->fd = -1;
	return rc;
}

/* Receive buffers and the ring that lends them to the kernel. */
static int alloc_rx(struct udp_drv *u, uint32_t nbuf, uint32_t mtu)
{
	/*
	 * Buffer layout (liburing's recvmsg helpers fix it from rx_mh):
	 * io_uring_recvmsg_out (16) | name (msg_namelen) | control | payload.
	 * The name area is 16 or 32 bytes so the control area (one cmsg for
	 * SO_RXQ_OVFL) is 8-aligned; the control area is padded so the
	 * payload, and with it the tern header, starts on a cache line.
	 */
	uint32_t namelen = u->family == AF_INET ? sizeof(struct sockaddr_in) : 32;
	uint32_t head = sizeof(struct io_uring_recvmsg_out) + namelen;
	uint32_t prefix = (head + (uint32_t)CMSG_SPACE(sizeof(uint32_t)) + 63u) & ~63u;

	memset(&u->rx_mh, 0, sizeof(u->rx_mh));
	u->rx_mh.msg_namelen = namelen;
	u->rx_mh.msg_controllen = prefix - head;
	u->prefix = prefix;
	u->nbuf = nbuf;
	u->buf_len = prefix + mtu; /* a datagram longer than mtu arrives with MSG_TRUNC */
	u->buf_stride = (u->buf_len + 63u) & ~63u;
	u->rx_mem_len = (size_t)nbuf * u->buf_stride;
	/* Populated now: the kernel's copy into a buffer never takes a page fault. */
	u->rx_mem = mmap(NULL, u->rx_mem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (u->rx_mem == MAP_FAILED) {
		u->rx_mem = NULL;
		return -ENOMEM;
	}
	if (u->io == UDP_IO_MMSG) {
		/* No buffer ring: the free buffers wait on a stack. */
		u->rx_free = calloc(nbuf, sizeof(*u->rx_free));
		if (u->rx_free == NULL) {
			munmap(u->rx_mem, u->rx_mem_len);
			u->rx_mem = NULL;
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < nbuf; i++)
			u->rx_free[i] = nbuf - 1 - i; /* pop order 0, 1, 2...: warm buffers first */
		u->rx_nfree = nbuf;
		return 0;
	}
	u->br_len = ((size_t)nbuf * sizeof(struct io_uring_buf) + 4095u) & ~(size_t)4095u;
	u->br = mmap(NULL, u->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		munmap(u->rx_mem, u->rx_mem_len);
		u->rx_mem = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void free_rx(struct udp_drv *u)
{
	if (u->br != NULL)
		munmap(u->br, u->br_len);
	munmap(u->rx_mem, u->rx_mem_len);
	free(u->rx_free);
}

/* Transmit contexts and their free list; the constant msghdr fields set once. */
static int alloc_tx(struct udp_drv *u, uint32_t ntx)
{
	void *p;
	if (posix_memalign(&p, 64, (size_t)ntx * sizeof(struct udp_txc)) != 0)
		return -ENOMEM;
	u->txc = p;
	memset(u->txc, 0, (size_t)ntx * sizeof(struct udp_txc));
	u->tx_free = calloc(ntx, sizeof(*u->tx_free));
	if (u->tx_free == NULL) {
		free(u->txc);
		u->txc = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ntx; i++) {
		u->txc[i].mh.msg_name = &u->txc[i].sa;
		u->txc[i].mh.msg_iov = u->txc[i].iov;
		u->tx_free[i] = ntx - 1 - i; /* pop order 0, 1, 2...: warm contexts first */
	}
	u->ntx = u->tx_nfree = ntx;
	return 0;
}

static void free_tx(struct udp_drv *u)
{
	free(u->tx_free);
	free(u->txc);
}

static int ring_init(struct udp_drv *u, int want, uint32_t sq, uint32_t cq)
{
	static const unsigned flags[] = {
		[UDP_RING_DEFER] = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
				   IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED,
		[UDP_RING_COOP] = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		[UDP_RING_PLAIN] = 0,
	};
	int first = want < 0 ? UDP_RING_DEFER : want;
	int last = want < 0 ? UDP_RING_PLAIN : want;
	int rc = -EINVAL;
	for (int m = first; m <= last; m++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		/* CQ sized for every buffer and every send at once: it never overflows. */
		p.flags = flags[m] | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		rc = io_uring_queue_init_params(sq, &u->ring, &p);
		if (rc == 0) {
			u->mode = (uint8_t)m;
			return 0;
		}
		tern_drv_log(&u->base, TERN_LOG_DEBUG, "udp: io_uring setup flags %#x: %s",
			     p.flags, strerror(-rc));
		if (rc != -EINVAL)
			break; /* not a flag the kernel lacks: falling back will not help */
	}
	return rc;
}

/* mmsg mode: the syscall vectors; everything else was set up by the caller. */
static int open_mmsg(struct udp_drv *u)
{
	void *p;
	if (posix_memalign(&p, 64, sizeof(struct udp_mmsg)) != 0)
		return -ENOMEM;
	u->mm = p;
	memset(u->mm, 0, sizeof(*u->mm));
	for (unsigned i = 0; i < UDP_MMSG_VEC; i++) {
		u->mm->rx[i].msg_hdr.msg_iov = &u->mm->rx_iov[i];
		u->mm->rx[i].msg_hdr.msg_iovlen = 1;
	}
	u->state = UDP_ACTIVE; /* nothing to activate */
	return 0;
}

/* io_uring mode: transmit contexts, stash, the ring, its buffer ring and fixed file. */
static int open_ring(struct udp_drv *u, const struct udp_args *a)
{
	int rc;

	rc = alloc_tx(u, a->tx_ring);
	if (rc != 0)
		return rc;
	u->stash = calloc(u->nbuf, sizeof(*u->stash));
	if (u->stash == NULL) {
		rc = -ENOMEM;
		goto err_tx;
	}
	/* SQ: one burst of sends plus the receive and error-queue re-arms and close's cancel. */
	rc = ring_init(u, a->mode, pow2_ceil(a->tx_ring + 3), pow2_ceil(u->nbuf + a->tx_ring + 8));
	if (rc != 0) {
		tern_drv_log(&u->base, TERN_LOG_ERR, "udp: io_uring setup: %s", strerror(-rc));
		goto err_stash;
	}

	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)u->br;
	reg.ring_entries = u->nbuf;
	reg.bgid = UDP_BGID;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc != 0) {
		tern_drv_log(&u->base, TERN_LOG_ERR, "udp: register buffer ring: %s", strerror(-rc));
		goto err_ring;
	}
	io_uring_buf_ring_init(u->br);
	for (uint32_t i = 0; i < u->nbuf; i++)
		io_uring_buf_ring_add(u->br, u->rx_mem + (size_t)i * u->buf_stride, u->buf_len,
				      (unsigned short)i, io_uring_buf_ring_mask(u->nbuf), (int)i);
	u->br_pending = u->nbuf;
	udp_br_flush(u);

	/* A fixed file saves the fd lookup and refcount per SQE; optional. */
	if (io_uring_register_files(&u->ring, &u->fd, 1) == 0) {
		u->sqe_fd = 0;
		u->sqe_flags = IOSQE_FIXED_FILE;
	} else {
		u->sqe_fd = u->fd;
		u->sqe_flags = 0;
	}
	return 0;

err_ring:
	io_uring_queue_exit(&u->ring);
err_stash:
	free(u->stash);
	u->stash = NULL;
err_tx:
	free_tx(u);
	return rc;
}

static int udp_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	struct udp_args a = {
		.mtu = UDP_MTU_DEFAULT,
		.rx_ring = 0, /* default depends on the MTU */
		.tx_ring = UDP_TX_DEFAULT,
		.copy_max = UDP_COPY_MAX,
		.rcvbuf = UDP_SOCKBUF_DEFAULT,
		.sndbuf = UDP_SOCKBUF_DEFAULT,
		.recverr = 1,
		.gso = 1,
		.gro = 1,
		.mode = -1,
		.io = UDP_IO_MMSG, /* measured best: docs/performance.md, "udp: io_uring or plain syscalls" */
	};
	struct tern_addr bind_to;
	struct udp_drv *u;
	int rc;

	if (cfg == NULL || out == NULL)
		return -EINVAL;
	a.tmp.ops = &tern_drv_udp;
	a.tmp.log = cfg->log;
	a.tmp.log_ctx = cfg->log_ctx;
	if (cfg->mtu != 0)
		a.mtu = cfg->mtu;
	if (cfg->rx_ring != 0)
		a.rx_ring = cfg->rx_ring;
	rc = tern_kv_parse(cfg->args, parse_arg, &a);
	if (rc != 0)
		return rc < 0 ? rc : -EINVAL;
	if (a.mtu < UDP_MTU_MIN || a.mtu > UDP_MTU_MAX || a.rx_ring > UDP_RX_MAX || a.tx_ring == 0 ||
	    a.tx_ring > UDP_TX_MAX) {
		tern_drv_log(&a.tmp, TERN_LOG_ERR, "udp: mtu %u (%u..%u), rx_ring %u, tx_ring %u out of range",
			     a.mtu, UDP_MTU_MIN, UDP_MTU_MAX, a.rx_ring, a.tx_ring);
		return -EINVAL;
	}
	if (a.rx_ring == 0) {
		/* Bounded memory at large MTUs: buffers are populated at open. */
		a.rx_ring = UDP_RX_DEFAULT;
		while (a.rx_ring > 64 && (uint64_t)a.rx_ring * (a.mtu + 128u) > UDP_RX_MEM_DEFAULT)
			a.rx_ring >>= 1;
	}
	const char *bind_s = cfg->bind != NULL ? cfg->bind : "0.0.0.0:0";
	char why[384];
	rc = tern_addr_parse_why(bind_s, &bind_to, why, sizeof(why));
	if (rc != 0) {
		tern_drv_log(&a.tmp, TERN_LOG_ERR, "udp: bind %s", why);
		return rc;
	}

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	u->base.ops = &tern_drv_udp;
	u->base.log = cfg->log;
	u->base.log_ctx = cfg->log_ctx;
	u->copy_max = a.copy_max;
	u->io = (uint8_t)a.io;
	u->gso_max = a.gso != 0 && a.io == UDP_IO_MMSG ? UDP_GSO_BYTES : 0;
	u->fd = -1;

	rc = open_socket(u, &bind_to, &a);
	if (rc != 0) {
		char s[64];
		tern_drv_log(&u->base, TERN_LOG_ERR, "udp: bind %s: %s",
			     tern_addr_str(&bind_to, s, sizeof(s)), strerror(-rc));
		goto err_free;
	}
	rc = alloc_rx(u, pow2_ceil(a.rx_ring), a.mtu);
	if (rc != 0)
		goto err_socket;
	if (u->errq_on && (u->errq = calloc(1, sizeof(*u->errq))) == NULL) {
		rc = -ENOMEM;
		goto err_rx;
	}
	rc = u->io == UDP_IO_MMSG ? open_mmsg(u) : open_ring(u, &a);
	if (rc != 0)
		goto err_errq;
	if (u->io == UDP_IO_MMSG && a.gro != 0 && (rc = udp_mmsg_gro_open(u)) != 0)
		tern_drv_log(&u->base, TERN_LOG_INFO, "udp: receive coalescing (UDP_GRO): %s: gro off",
			     strerror(-rc)); /* datagrams are received one by one, as with gro=0 */

	u->base.info.mtu = a.mtu;
	u->base.info.caps = TERN_DRV_CAP_MULTISEG | TERN_DRV_CAP_WAIT | TERN_DRV_CAP_ZC_TX;
	/* The kernel path wakes in ~50 us here; loopback RTTs are tens of us. */
	u->base.info.rto_min_ns = 1000000ull;
	u->base.info.rto_max_ns = 1000000000ull;
	u->base.info.scan_ns = 100000ull;

	char s[64];
	tern_drv_log(&u->base, TERN_LOG_DEBUG, "udp: %s mtu %u rx %u tx %u %s%s",
		     tern_addr_str(&u->base.info.local, s, sizeof(s)), a.mtu, u->nbuf, u->ntx,
		     u->io == UDP_IO_MMSG ? "mmsg" :
		     u->mode == UDP_RING_DEFER ? "ring defer" : u->mode == UDP_RING_COOP ? "ring coop" : "ring plain",
		     u->sqe_flags != 0 ? " fixed-file" : "");
	*out = &u->base;
	return 0;

err_errq:
	free(u->errq);
err_rx:
	free_rx(u);
err_socket:
	close(u->fd);
err_free:
	free(u);
	return rc;
}

/*
 * First fast-path call, on the owner thread: enable the ring (a disabled
 * SINGLE_ISSUER ring takes its submitter now), register the ring fd (a
 * per-thread table, hence here), queue the multishot receive.
 */
int udp_activate(struct udp_drv *u)
{
	int rc;
	if (u->state == UDP_FAILED)
		return -EIO;
	if (u->mode == UDP_RING_DEFER) {
		/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
		rc = (int)syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
				  NULL, 0);
		if (rc != 0)
			rc = -errno;
		if (rc != 0) {
			tern_drv_log(&u->base, TERN_LOG_ERR, "udp: enable ring: %s", strerror(-rc));
			u->state = UDP_FAILED;
			return rc;
		}
	}
	/* Saves an fd lookup per enter; harmless to go without. */
	(void)io_uring_register_ring_fd(&u->ring);
	u->owner_tid = gettid();
	u->state = UDP_ACTIVE;
	udp_arm_rx(u);
	udp_arm_errq(u);
	return 0;
}

/*
 * Block until a completion (a datagram, most likely) is ready or the timeout
 * passes. Submits whatever is queued (a receive re-arm) on the way in.
 */
static int udp_wait(struct tern_drv *drv, uint64_t timeout_ns)
{
	struct udp_drv *u = udp_of(drv);
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	int rc;

	if (u->io == UDP_IO_MMSG)
		return udp_mmsg_wait(u, timeout_ns);
	if (u->state != UDP_ACTIVE && (rc = udp_activate(u)) != 0)
		return rc;
	if (u->stash_head != u->stash_tail || u->errq_ready || io_uring_cq_ready(&u->ring) != 0)
		return 0;
	if (!u->rx_armed && u->rx_kbufs != 0)
		udp_arm_rx(u);
	udp_arm_errq(u);
	ts.tv_sec = (long long)(timeout_ns / 1000000000ull);
	ts.tv_nsec = (long long)(timeout_ns % 1000000000ull);
	rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	/* The CQE stays in the ring for rx_burst; a timeout or a signal is no error. */
	if (rc >= 0 || rc == -ETIME || rc == -EINTR)
		return 0;
	return rc;
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One bounded wait for completions, then reap them (close only). */
static int close_step(struct udp_drv *u)
{
	struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10000000}; /* 10 ms */
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	udp_reap(u, true);
	return rc >= 0 || rc == -ETIME || rc == -EINTR ? 0 : rc;
}

/*
 * Quiesce before freeing: let in-flight sends finish (up to 200 ms: a send
 * only waits for socket buffer space), then cancel everything left, the
 * multishot receive included, and wait for the cancellations (up to 1 s).
 * Returns true when the kernel no longer owns any receive buffer.
 */
static bool quiesce(struct udp_drv *u)
{
	uint64_t deadline = mono_ns() + 200000000ull;
	struct io_uring_sqe *sqe;

	udp_reap(u, true);
	while (u->tx_nfree != u->ntx && mono_ns() < deadline)
		if (close_step(u) != 0)
			break;
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe == NULL) { /* SQ full of unsubmitted sends: push them out first */
		(void)io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe != NULL) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, UDP_UD_CANCEL);
		u->cancel_pending = true;
	}
	deadline = mono_ns() + 1000000000ull;
	while ((u->rx_armed || u->errq_armed || u->cancel_pending || u->tx_nfree != u->ntx) &&
	       mono_ns() < deadline)
		if (close_step(u) != 0)
			break;
	return !u->rx_armed;
}

static void udp_close(struct tern_drv *drv)
{
	struct udp_drv *u = udp_of(drv);
	bool rx_quiet = true;
	unsigned held = 0;

	if (drv == NULL)
		return;
	if (u->io == UDP_IO_MMSG) {
		/* The kernel holds nothing of ours between calls. */
		close(u->fd);
		free(u->errq);
		udp_mmsg_gro_close(u);
		free(u->mm);
		free_rx(u);
		free(u);
		return;
	}
	if (u->state == UDP_ACTIVE) {
		if (gettid() != u->owner_tid)
			tern_drv_log(&u->base, TERN_LOG_WARN,
				     "udp: close() off the polling thread cannot reap completions");
		rx_quiet = quiesce(u);
	}
	/*
	 * The contract: close drops every reference. A send still in flight
	 * here was refused both completion and cancellation; the kernel may
	 * still read its payload, which is why this is logged.
	 */
	for (uint32_t i = 0; i < u->ntx; i++)
		if (u->txc[i].msg != NULL) {
			tern_msg_unref(u->txc[i].msg);
			u->txc[i].msg = NULL;
			held++;
		}
	if (held != 0)
		tern_drv_log(&u->base, TERN_LOG_WARN, "udp: close: %u sends never completed", held);
	/* The ring's fixed-file table holds the socket; the kernel tears a ring
	 * down asynchronously, so drop that reference now, or the port stays
	 * bound for tens of milliseconds after close (a restarted server could
	 * not bind it again). */
	if (u->sqe_flags & IOSQE_FIXED_FILE)
		(void)io_uring_unregister_files(&u->ring);
	io_uring_queue_exit(&u->ring);
	close(u->fd);
	free(u->stash);
	free_tx(u);
	free(u->errq); /* never the kernel's: read by recvmsg only */
	if (rx_quiet) {
		free_rx(u);
	} else {
		/* The kernel may still write into these: leaking beats corrupting. */
		tern_drv_log(&u->base, TERN_LOG_WARN, "udp: close: receive not cancelled, leaking %zu bytes",
			     u->rx_mem_len + u->br_len);
	}
	free(u);
}

const struct tern_drv_ops tern_drv_udp = {
	.name = "udp",
	.open = udp_open,
	.close = udp_close,
	/* Plain memory is all sendmsg needs: the core's mmap does. */
	.mem_alloc = NULL,
	.mem_free = NULL,
	.wait = udp_wait,
	.rx_burst = udp_rx_burst,
	.rx_done = udp_rx_done,
	.tx_burst = udp_tx_burst,
};
TERN_DRIVER_REGISTER(tern_drv_udp)
