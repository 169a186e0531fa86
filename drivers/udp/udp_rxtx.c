/*
 * udp_rxtx.c — the udp driver's fast path: rx_burst, rx_done, tx_burst
 * (mode=uring; each hands over to udp_mmsg.c in mode=mmsg, the default),
 * and the error-queue reading both modes share.
 *
 * Costs per call, by design:
 *   rx_burst  no syscall when idle (the ring's TASKRUN flag, or a CQE already
 *             posted, says whether entering the kernel would find anything),
 *             at most one io_uring_enter otherwise; never sleeps (busy_poll
 *             and blocking mode share it; only wait() sleeps).
 *   rx_done   no syscall: buffers go back to the ring with one tail store.
 *   tx_burst  one io_uring_enter for the whole burst, which also runs any
 *             deferred receive work; none when nothing was queued.
 * No allocation anywhere here: contexts, stash and buffers are fixed arrays.
 *
 * Counters (struct tern_drv_stats):
 *   rx_pkts/rx_bytes   datagrams handed to the core (payload bytes)
 *   rx_drop_trunc      datagrams longer than the MTU (MSG_TRUNC): dropped,
 *                      never passed up (TERN_RX_TRUNC is not used)
 *   rx_drop_nomem      each time the buffer ring ran dry (the multishot ended
 *                      with -ENOBUFS; datagrams wait in the socket meanwhile),
 *                      plus every datagram the kernel dropped for want of
 *                      socket buffer (SO_RXQ_OVFL; seen when the next one
 *                      arrives)
 *   rx_drop_frame      a completion whose layout or source address is unusable
 *   (port unreachable notices are entries too, TERN_RX_UNREACH: not counted here)
 *   tx_pkts/tx_bytes   sends the kernel completed (whole datagram bytes)
 *   (no free context or SQE: tx_burst stops there, uncounted, and the core
 *    offers the rest again on its next flush)
 *   tx_drop_noroute    accepted, dropped: peer family unreachable from this
 *                      socket (IPv6 peer on an IPv4 socket, or IPv4 peer on
 *                      an IPv6 socket not bound to [::])
 *   tx_drop_error      accepted, dropped: malformed tern_tx (lengths over
 *                      the limits or the MTU, a large payload without a
 *                      msgbuf), or the kernel failed the send
 *   tx_copied_bytes    payload bytes copied (payloads <= copy= bytes)
 *
 * Why sendmsg and not sendmsg_zc: for loopback and veth the kernel copies a
 * UDP payload into an skb anyway, and zero-copy adds page pinning plus a
 * second (notification) CQE per send. Measured on this VM (kernel 6.18,
 * 2 vCPUs, loopback, 32 B header + payload in 2 iovecs, 64 sends in flight,
 * submitted 32 at a time, a receiver thread draining; kpps, range of runs):
 *     size      sendmsg    sendmsg_zc
 *     256 B     430-650    230-330
 *     1472 B    530-640    300-420   (6 of 7 runs; one, machine busy: 280 vs 300)
 *     8 KB      240-340    180-270
 *     32 KB     100-190     70-140
 *     65000 B    64-114    fails: -EMSGSIZE on 86% of sends (an unaligned
 *                          64 KB payload spans more pages than an skb holds)
 * ZC lost at every size, so it is not used here. (On a real NIC with large
 * messages it may win; that is the dpdk driver's ground.)
 * Payloads still leave from the caller's msgbuf (no copy in user space):
 * the driver holds a msgbuf reference until the send's CQE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <string.h>

#include "udp.h"

/* --- receive --------------------------------------------------------- */

static inline uint8_t *buf_of(const struct udp_drv *u, uint32_t bid)
{
	return u->rx_mem + (size_t)bid * u->buf_stride;
}

/* Give a buffer back; published by the next udp_br_flush(). */
static inline void br_add(struct udp_drv *u, uint32_t bid)
{
	io_uring_buf_ring_add(u->br, buf_of(u, bid), u->buf_len, (unsigned short)bid,
			      io_uring_buf_ring_mask(u->nbuf), (int)u->br_pending);
	u->br_pending++;
}

void udp_br_flush(struct udp_drv *u)
{
	if (u->br_pending == 0)
		return;
	io_uring_buf_ring_advance(u->br, (int)u->br_pending);
	u->rx_kbufs += u->br_pending;
	u->br_pending = 0;
}

void udp_arm_rx(struct udp_drv *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (udp_unlikely(sqe == NULL))
		return; /* SQ full: the next call tries again */
	io_uring_prep_recvmsg_multishot(sqe, u->sqe_fd, &u->rx_mh, 0);
	sqe->flags |= u->sqe_flags | IOSQE_BUFFER_SELECT;
	sqe->buf_group = UDP_BGID;
	io_uring_sqe_set_data64(sqe, UDP_UD_RX);
	u->rx_armed = true;
}

/*
 * The kernel's drop counter rides on every datagram once it is non-zero
 * (SO_RXQ_OVFL): datagrams the socket refused because its queue was full,
 * which happens when the buffer ring has been dry for a while.
 */
void udp_rx_cmsg(struct udp_drv *u, const struct cmsghdr *c)
{
	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
	    c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
		uint32_t drops;
		memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		u->base.stats.rx_drop_nomem += (uint32_t)(drops - u->ovfl_seen);
		u->ovfl_seen = drops;
	}
}

static void rx_ovfl(struct udp_drv *u, struct io_uring_recvmsg_out *o)
{
	struct cmsghdr *c;
	for (c = io_uring_recvmsg_cmsg_firsthdr(o, &u->rx_mh); c != NULL;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &u->rx_mh, c))
		udp_rx_cmsg(u, c);
}

/* The source address of a received datagram. */
static inline int rx_src(const struct io_uring_recvmsg_out *o, const void *name, struct tern_addr *a)
{
	return udp_sa_addr(name, o->namelen, a);
}

/*
 * Turn a filled buffer into rx; on a drop the buffer goes straight back to
 * the ring and 0 is returned.
 */
static int rx_fill(struct udp_drv *u, uint32_t bid, int32_t res, struct tern_rx *rx)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf_of(u, bid), res, &u->rx_mh);
	if (udp_unlikely(o == NULL))
		goto drop_frame;
	if (udp_unlikely(o->controllen != 0))
		rx_ovfl(u, o);
	if (udp_unlikely(o->flags & MSG_TRUNC)) {
		u->base.stats.rx_drop_trunc++;
		br_add(u, bid);
		return 0;
	}
	if (udp_unlikely(o->payloadlen > io_uring_recvmsg_payload_length(o, res, &u->rx_mh)) ||
	    udp_unlikely(rx_src(o, io_uring_recvmsg_name(o), &rx->src) != 0))
		goto drop_frame;
	return udp_rx_accept(u, rx, io_uring_recvmsg_payload(o, &u->rx_mh), o->payloadlen, bid);

drop_frame:
	u->base.stats.rx_drop_frame++;
	br_add(u, bid);
	return 0;
}

static inline void stash_push(struct udp_drv *u, uint32_t bid, int32_t res)
{
	/* Cannot fill: a buffer is stashed at most once and there are nbuf of them. */
	if (udp_unlikely(u->stash_tail - u->stash_head >= u->nbuf)) {
		u->base.stats.rx_drop_nomem++;
		br_add(u, bid);
		return;
	}
	struct udp_stash *s = &u->stash[u->stash_tail++ & (u->nbuf - 1)];
	s->bid = bid;
	s->res = res;
}

/* The multishot receive ended: it is re-armed once buffers are back. */
static void rx_ended(struct udp_drv *u, int32_t res)
{
	u->rx_armed = false;
	if (res == -ENOBUFS)
		u->base.stats.rx_drop_nomem++; /* ring ran dry; datagrams wait in the socket */
	else if (res < 0 && res != -ECANCELED)
		tern_drv_log(&u->base, TERN_LOG_DEBUG, "udp: receive ended: %s", strerror(-res));
}

/* --- closed ports: the error queue ----------------------------------- */

/*
 * The error queue is watched, not read, through the ring: a one-shot poll
 * for POLLERR (a recvmsg(MSG_ERRQUEUE) SQE would not do: io_uring retries
 * it on every incoming datagram, and an empty error queue answers -EAGAIN,
 * which it may retry in a worker thread without end). The read itself is a
 * plain non-blocking recvmsg in rx_burst, only once an error is there.
 */
void udp_arm_errq(struct udp_drv *u)
{
	if (!u->errq_on || u->errq_armed || u->errq_ready || u->errq_lent)
		return;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (udp_unlikely(sqe == NULL))
		return; /* SQ full: the next rx_burst or wait tries again */
	io_uring_prep_poll_add(sqe, u->sqe_fd, POLLERR);
	sqe->flags |= u->sqe_flags;
	io_uring_sqe_set_data64(sqe, UDP_UD_ERRQ);
	u->errq_armed = true;
}

static void errq_done(struct udp_drv *u, int32_t res)
{
	u->errq_armed = false;
	if (res >= 0) {
		u->errq_ready = true; /* read by the next rx_burst */
	} else if (res != -ECANCELED) {
		/* Not re-armed: a poll that fails now would fail in a loop. */
		u->errq_on = false;
		tern_drv_log(&u->base, TERN_LOG_INFO,
			     "udp: error queue: %s: closed ports are not reported", strerror(-res));
	}
}

/* Read one queued error into u->errq: its length, or -errno (-EAGAIN: none). */
static ssize_t errq_read(struct udp_drv *u)
{
	struct udp_errq *e = u->errq;
	memset(&e->mh, 0, sizeof(e->mh));
	e->iov.iov_base = e->quote;
	e->iov.iov_len = sizeof(e->quote);
	e->mh.msg_name = &e->name;
	e->mh.msg_namelen = sizeof(e->name);
	e->mh.msg_iov = &e->iov;
	e->mh.msg_iovlen = 1;
	e->mh.msg_control = e->ctl;
	e->mh.msg_controllen = sizeof(e->ctl);
	ssize_t r = recvmsg(u->fd, &e->mh, MSG_ERRQUEUE | MSG_DONTWAIT);
	return r >= 0 ? r : -errno;
}

/* Is the error read an ICMP (v4 or v6) port unreachable? */
static bool errq_refused(struct udp_errq *e)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&e->mh); c != NULL; c = CMSG_NXTHDR(&e->mh, c)) {
		if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) ||
		    c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err)))
			continue;
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		return (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) &&
		       ee.ee_errno == ECONNREFUSED;
	}
	return false;
}

/*
 * POLLERR was seen: read the queued errors (a few at most per burst); the
 * first port unreachable becomes a TERN_RX_UNREACH entry (1), lent until
 * rx_done; anything else (other ICMP errors, local ones) is passed over.
 * The poll is re-armed once the entry is back; if errors remain it fires
 * again at once.
 */
unsigned udp_errq_fill(struct udp_drv *u, struct tern_rx *rx)
{
	struct udp_errq *e = u->errq;
	u->errq_ready = false;
	for (int i = 0; i < 8; i++) {
		ssize_t r = errq_read(u);
		if (r == -EAGAIN && i == 0) {
			/* POLLERR with an empty queue: only the socket's pending error
			 * (a receive or send usually takes it). Take it here, or the
			 * re-armed poll would fire again at once. */
			int err;
			socklen_t len = sizeof(err);
			(void)getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		}
		if (r < 0)
			return 0;
		if (!errq_refused(e) || udp_sa_addr(&e->name, e->mh.msg_namelen, &rx->src) != 0)
			continue;
		rx->data = e->quote;
		rx->len = (size_t)r <= sizeof(e->quote) ? (uint32_t)r : sizeof(e->quote);
		rx->flags = TERN_RX_UNREACH;
		rx->priv = NULL;
		u->errq_lent = true;
		return 1;
	}
	return 0;
}

/* --- transmit completions ------------------------------------------ */

static inline void tx_done(struct udp_drv *u, uint32_t idx, int32_t res)
{
	if (udp_unlikely(idx >= u->ntx))
		return;
	struct udp_txc *c = &u->txc[idx];
	if (udp_unlikely(res < 0) && u->errq_on && udp_icmp_pending(-res)) {
		/* The socket's pending ICMP error (udp.h), not this datagram's: once more, now. */
		ssize_t r = sendmsg(u->fd, &c->mh, MSG_DONTWAIT);
		res = r >= 0 ? (int32_t)r : -errno;
	}
	if (udp_likely(res >= 0)) {
		u->base.stats.tx_pkts++;
		u->base.stats.tx_bytes += (uint32_t)res;
	} else {
		u->base.stats.tx_drop_error++;
	}
	if (c->msg != NULL) {
		tern_msg_unref(c->msg);
		c->msg = NULL;
	}
	u->tx_free[u->tx_nfree++] = idx;
}

/*
 * Reap every CQE posted so far. Receive completions fill rx[0..n) first,
 * the rest wait in the stash (or go back to the ring if drop_rx). Returns
 * how many rx entries were filled.
 */
static unsigned reap(struct udp_drv *u, struct tern_rx *rx, unsigned n, bool drop_rx)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, got = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;
		uint32_t fl = cqe->flags;
		seen++;
		if (ud >= UDP_UD_TX) {
			tx_done(u, (uint32_t)(ud - UDP_UD_TX), res);
			continue;
		}
		if (ud == UDP_UD_CANCEL) {
			u->cancel_pending = false;
			continue;
		}
		if (ud == UDP_UD_ERRQ) {
			errq_done(u, res);
			continue;
		}
		if (!(fl & IORING_CQE_F_MORE))
			rx_ended(u, res);
		if (!(fl & IORING_CQE_F_BUFFER))
			continue;
		uint32_t bid = (fl >> IORING_CQE_BUFFER_SHIFT) & (u->nbuf - 1);
		u->rx_kbufs--;
		if (drop_rx || res < 0)
			br_add(u, bid);
		else if (got < n)
			got += (unsigned)rx_fill(u, bid, res, &rx[got]);
		else
			stash_push(u, bid, res);
	}
	io_uring_cq_advance(&u->ring, seen);
	return got;
}

void udp_reap(struct udp_drv *u, bool drop_rx)
{
	if (drop_rx) {
		while (u->stash_head != u->stash_tail)
			br_add(u, u->stash[u->stash_head++ & (u->nbuf - 1)].bid);
	}
	reap(u, NULL, 0, drop_rx);
	udp_br_flush(u);
}

/*
 * Entering the kernel finds something only if SQEs wait (a re-arm), task
 * work is pending (TASKRUN flag, set by the kernel in defer/coop mode) or
 * completions overflowed. In plain mode the flag never shows: completions
 * arrive without help.
 */
static inline bool need_enter(const struct udp_drv *u)
{
	return io_uring_sq_ready(&u->ring) != 0 ||
	       (IO_URING_READ_ONCE(*u->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW));
}

unsigned udp_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct udp_drv *u = udp_of(drv);
	unsigned got = 0;

	if (u->io == UDP_IO_MMSG)
		return udp_mmsg_rx_burst(u, rx, n);
	if (udp_unlikely(u->state != UDP_ACTIVE) && udp_activate(u) != 0)
		return 0;
	/* Older completions first: those tx_burst reaped. */
	while (got < n && u->stash_head != u->stash_tail) {
		struct udp_stash *s = &u->stash[u->stash_head++ & (u->nbuf - 1)];
		got += (unsigned)rx_fill(u, s->bid, s->res, &rx[got]);
	}
	if (got < n) {
		if (io_uring_cq_ready(&u->ring) == 0 && need_enter(u))
			(void)io_uring_submit_and_get_events(&u->ring); /* never waits */
		got += reap(u, rx + got, n - got, false);
	}
	if (udp_unlikely(u->errq_ready) && got < n)
		got += udp_errq_fill(u, &rx[got]);
	udp_br_flush(u); /* buffers of dropped datagrams */
	if (udp_unlikely(!u->rx_armed) && u->rx_kbufs != 0)
		udp_arm_rx(u);
	if (udp_unlikely(!u->errq_armed) && u->errq_on)
		udp_arm_errq(u);
	return got;
}

void udp_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct udp_drv *u = udp_of(drv);
	if (u->io == UDP_IO_MMSG) {
		udp_mmsg_rx_done(u, rx, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (udp_unlikely(rx[i].flags & TERN_RX_UNREACH)) {
			u->errq_lent = false; /* the error-queue buffer: re-armed below */
			continue;
		}
		br_add(u, (uint32_t)(uintptr_t)rx[i].priv & (u->nbuf - 1));
	}
	udp_br_flush(u);
	if (udp_unlikely(!u->errq_armed) && u->errq_on && u->state == UDP_ACTIVE)
		udp_arm_errq(u);
	/* Queued only; the next rx_burst or wait submits it. */
	if (udp_unlikely(!u->rx_armed) && u->state == UDP_ACTIVE)
		udp_arm_rx(u);
}

/* --- transmit ---------------------------------------------------------- */

/* One datagram by a plain sendmsg, using c's address but not its slot. */
static void send_now(struct udp_drv *u, struct udp_txc *c, const struct tern_tx *t, uint64_t total)
{
	struct iovec iov[3] = {
		{.iov_base = (void *)(uintptr_t)t->hdr, .iov_len = t->hdr_len},
		{.iov_base = (void *)(uintptr_t)t->payload, .iov_len = t->len},
		{.iov_base = (void *)(uintptr_t)t->trailer, .iov_len = t->trailer_len},
	};
	struct msghdr mh = {
		.msg_name = &c->sa, .msg_namelen = c->mh.msg_namelen, .msg_iov = iov, .msg_iovlen = 3,
	};
	ssize_t r = sendmsg(u->fd, &mh, MSG_DONTWAIT);
	if (r < 0) {
		u->base.stats.tx_drop_error++;
		return;
	}
	u->base.stats.tx_pkts++;
	u->base.stats.tx_bytes += total;
	u->base.stats.tx_copied_bytes += t->len;
}

unsigned udp_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n)
{
	struct udp_drv *u = udp_of(drv);
	struct tern_drv_stats *st = &u->base.stats;
	unsigned i, queued = 0;

	if (u->io == UDP_IO_MMSG)
		return udp_mmsg_tx_burst(u, tx, n);
	if (udp_unlikely(u->state != UDP_ACTIVE) && udp_activate(u) != 0) {
		st->tx_drop_error += n; /* the ring cannot be enabled: nothing will go out */
		return n;
	}
	reap(u, NULL, 0, false); /* frees the contexts of sends done since the last call */
	for (i = 0; i < n; i++) {
		const struct tern_tx *t = &tx[i];
		if (udp_unlikely(u->tx_nfree == 0))
			break;
		uint32_t idx = u->tx_free[u->tx_nfree - 1];
		struct udp_txc *c = &u->txc[idx];
		uint64_t total = (uint64_t)t->hdr_len + t->len + t->trailer_len;
		bool copy = t->len <= u->copy_max;
		/* Accepted but dropped: the core retransmits like after any loss. */
		if (udp_unlikely(!tern_tx_valid(t, u->base.info.mtu))) {
			st->tx_drop_error++;
			continue;
		}
		c->mh.msg_namelen = udp_sa_dst(u, &c->sa, t->dst);
		if (udp_unlikely(c->mh.msg_namelen == 0)) {
			st->tx_drop_noroute++;
			continue;
		}
		if (udp_unlikely(!copy && t->msg == NULL)) {
			/* A large payload lent only for this call (the faults
			 * decorator's copies): the kernel copies it right now. */
			send_now(u, c, t, total);
			continue;
		}
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
		if (udp_unlikely(sqe == NULL))
			break;
		u->tx_nfree--;

		uint8_t *p = c->buf;
		if (t->hdr_len != 0)
			memcpy(p, t->hdr, t->hdr_len);
		p += t->hdr_len;
		if (copy) {
			/* Small: one contiguous datagram, no reference to hold. */
			if (t->len != 0)
				memcpy(p, t->payload, t->len);
			p += t->len;
			if (t->trailer_len != 0)
				memcpy(p, t->trailer, t->trailer_len);
			c->iov[0].iov_base = c->buf;
			c->iov[0].iov_len = total;
			c->mh.msg_iovlen = 1;
			c->msg = NULL;
			st->tx_copied_bytes += t->len;
		} else {
			/* Large: gathered from the msgbuf, kept alive by a reference. */
			c->iov[0].iov_base = c->buf;
			c->iov[0].iov_len = t->hdr_len;
			c->iov[1].iov_base = (void *)(uintptr_t)t->payload;
			c->iov[1].iov_len = t->len;
			c->mh.msg_iovlen = 2;
			if (t->trailer_len != 0) {
				memcpy(p, t->trailer, t->trailer_len);
				c->iov[2].iov_base = p;
				c->iov[2].iov_len = t->trailer_len;
				c->mh.msg_iovlen = 3;
			}
			tern_msg_ref(t->msg);
			c->msg = t->msg;
		}
		io_uring_prep_sendmsg(sqe, u->sqe_fd, &c->mh, 0);
		sqe->flags |= u->sqe_flags;
		io_uring_sqe_set_data64(sqe, UDP_UD_TX + idx);
		queued++;
	}
	if (queued != 0) {
		/*
		 * One enter for the burst. UDP sends complete inline, so their
		 * CQEs are there on return; a failed enter leaves the SQEs
		 * queued for the next one (rx_burst sees them pending).
		 */
		int rc = io_uring_submit_and_get_events(&u->ring);
		if (udp_unlikely(rc < 0) && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR && !u->warned) {
			u->warned = true;
			tern_drv_log(&u->base, TERN_LOG_ERR, "udp: submit: %s", strerror(-rc));
		}
		reap(u, NULL, 0, false);
	}
	return i;
}
