/*
 * udp_mmsg.c — the udp driver's plain-socket fast path (mode=mmsg):
 * rx_burst, rx_done, tx_burst and wait on a non-blocking socket, no ring.
 *
 * Costs per call, by design:
 *   rx_burst  one recvmmsg(MSG_DONTWAIT) of up to UDP_MMSG_VEC datagrams,
 *             another only if that one came back full; an idle poll is one
 *             syscall answering -EAGAIN (what a busy-polling recvfrom loop,
 *             sockperf's, pays too). With gro (UDP_GRO on the socket) an
 *             entry is a whole segmented send from the peer, received into
 *             a staging buffer and copied out datagram by datagram (one
 *             memcpy each, against the kernel's per-skb split, queue and
 *             free it saves); a burst first hands out what is still staged
 *   rx_done   no syscall: buffer ids back on a stack
 *   tx_burst  one sendmmsg per UDP_MMSG_VEC messages; with gso (tx_fill)
 *             a message is a run of up to 64 equal datagrams to one peer,
 *             which the kernel's UDP/IP stack handles once and splits at
 *             the end (UDP_SEGMENT), else one datagram; the kernel has
 *             copied every datagram when it returns, so nothing is held:
 *             no msgbuf reference, no transmit context, no user-space copy
 *             (tx_copied_bytes stays 0; copy= and tx_ring= do not apply)
 *   wait      one ppoll
 * Where io_uring needs one io_uring_enter to run the receive's task work
 * and one to submit the send, this mode makes the two syscalls a
 * busy-polled socket makes (recvmmsg, sendmmsg) and skips io_uring's
 * per-operation machinery (task work, CQEs, buffer ring).
 *
 * Receive buffers are udp.c's (rx_ring= of them, same layout as the ring
 * mode: name, control, then the payload on a cache line); free ones wait on
 * u->rx_free, each lent one is in exactly one rx entry until rx_done. The
 * gro staging buffers (struct udp_gro) are never lent: the kernel fills
 * them, rx_burst copies out of them.
 *
 * Closed ports (recverr=1): an ICMP error both queues an entry on the
 * socket's error queue and sets the socket's pending error, which the next
 * recvmmsg or sendmmsg takes instead of working (udp.h). Either seeing it,
 * or wait()'s poll seeing POLLERR, sets errq_ready; rx_burst then reads the
 * error queue (udp_errq_fill, shared with the ring mode) until it is empty,
 * one TERN_RX_UNREACH entry per port unreachable. A receive that took the
 * error is made again at once; a send that did is made again once (the
 * datagram was not sent). Counters are those of udp_rxtx.c.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "udp.h"

/* Syscall retries after a pending ICMP error or a signal, per call. */
#define MMSG_RETRIES 4

/* --- receive --------------------------------------------------------- */

static inline uint8_t *buf_of(const struct udp_drv *u, uint32_t bid)
{
	return u->rx_mem + (size_t)bid * u->buf_stride;
}

/* Point rx vector entry i at buffer bid: name, control and payload areas. */
static inline void rx_slot(struct udp_drv *u, unsigned i, uint32_t bid)
{
	struct mmsghdr *m = &u->mm->rx[i];
	uint8_t *b = buf_of(u, bid);
	m->msg_hdr.msg_name = b + sizeof(struct io_uring_recvmsg_out);
	m->msg_hdr.msg_namelen = u->rx_mh.msg_namelen;
	m->msg_hdr.msg_control = b + sizeof(struct io_uring_recvmsg_out) + u->rx_mh.msg_namelen;
	m->msg_hdr.msg_controllen = u->rx_mh.msg_controllen;
	m->msg_hdr.msg_flags = 0;
	u->mm->rx_iov[i].iov_base = b + u->prefix;
	u->mm->rx_iov[i].iov_len = u->base.info.mtu;
}

/* Turn received vector entry i (buffer bid) into rx; 0 if it was dropped. */
static inline unsigned rx_fill(struct udp_drv *u, unsigned i, uint32_t bid, struct tern_rx *rx)
{
	struct mmsghdr *m = &u->mm->rx[i];
	struct msghdr *h = &m->msg_hdr;
	if (udp_unlikely(h->msg_controllen != 0)) {
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c))
			udp_rx_cmsg(u, c);
	}
	if (udp_unlikely(h->msg_flags & MSG_TRUNC)) {
		u->base.stats.rx_drop_trunc++;
		return 0;
	}
	if (udp_unlikely(udp_sa_addr(h->msg_name, h->msg_namelen, &rx->src) != 0)) {
		u->base.stats.rx_drop_frame++;
		return 0;
	}
	return udp_rx_accept(u, rx, u->mm->rx_iov[i].iov_base, m->msg_len, bid);
}

/* A receive failed with err: whether to try again now. */
static bool rx_error(struct udp_drv *u, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		return false;
	if (err == EINTR)
		return true;
	if (u->errq_on && udp_icmp_pending(err)) {
		u->errq_ready = true; /* the error queue has it; datagrams still wait */
		return true;
	}
	if (!u->warned) {
		u->warned = true;
		tern_drv_log(&u->base, TERN_LOG_ERR, "udp: recvmmsg: %s", strerror(err));
	}
	return false;
}

/* Without gro: the kernel fills the ordinary buffers, one datagram each. */
static unsigned rx_plain(struct udp_drv *u, struct tern_rx *rx, unsigned n)
{
	unsigned got = 0, tries = 0;

	while (got < n) {
		unsigned k = n - got;
		if (k > UDP_MMSG_VEC)
			k = UDP_MMSG_VEC;
		if (k > u->rx_nfree)
			k = u->rx_nfree; /* the core holds the rest: the datagrams wait in the socket */
		if (k == 0)
			break;
		/* The top k free buffers; popped once the kernel has filled them. */
		uint32_t bids[UDP_MMSG_VEC];
		for (unsigned i = 0; i < k; i++) {
			bids[i] = u->rx_free[u->rx_nfree - 1 - i];
			rx_slot(u, i, bids[i]);
		}
		int r = recvmmsg(u->fd, u->mm->rx, k, MSG_DONTWAIT, NULL);
		if (udp_unlikely(r < 0)) {
			if (rx_error(u, errno) && ++tries < MMSG_RETRIES)
				continue;
			break;
		}
		u->rx_nfree -= (unsigned)r;
		for (unsigned i = 0; i < (unsigned)r; i++) {
			if (rx_fill(u, i, bids[i], &rx[got]) != 0)
				got++;
			else
				u->rx_free[u->rx_nfree++] = bids[i]; /* dropped: free again */
		}
		if ((unsigned)r < k)
			break; /* the socket is empty */
	}
	return got;
}

/* --- receive with gro: staging buffers, copied out -------------------- */

static inline uint8_t *gro_buf(const struct udp_gro *g, unsigned i)
{
	return g->mem + (size_t)i * UDP_GRO_BUF;
}

int udp_mmsg_gro_open(struct udp_drv *u)
{
	int one = 1;
	struct udp_gro *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->mem_len = (size_t)UDP_MMSG_VEC * UDP_GRO_BUF;
	g->mem = mmap(NULL, g->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		      -1, 0);
	if (g->mem == MAP_FAILED) {
		free(g);
		return -ENOMEM;
	}
	if (setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
		int rc = -errno;
		munmap(g->mem, g->mem_len);
		free(g);
		return rc;
	}
	/* The receive vector is the staging buffers from now on. */
	for (unsigned i = 0; i < UDP_MMSG_VEC; i++) {
		u->mm->rx[i].msg_hdr.msg_name = &g->name[i];
		u->mm->rx[i].msg_hdr.msg_control = &g->ctl[i];
		u->mm->rx_iov[i].iov_base = gro_buf(g, i);
		u->mm->rx_iov[i].iov_len = UDP_GRO_BUF;
	}
	u->gro = g;
	return 0;
}

void udp_mmsg_gro_close(struct udp_drv *u)
{
	if (u->gro == NULL)
		return;
	munmap(u->gro->mem, u->gro->mem_len);
	free(u->gro);
	u->gro = NULL;
}

/* Received message i: its length, datagram length (UDP_GRO cmsg), flags and source. */
static void gro_parse(struct udp_drv *u, unsigned i)
{
	struct udp_gro *g = u->gro;
	struct mmsghdr *mm = &u->mm->rx[i];
	struct msghdr *h = &mm->msg_hdr;
	g->m[i].len = mm->msg_len;
	g->m[i].seg = 0;
	if (h->msg_controllen != 0) {
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
			if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
			    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
				int seg;
				memcpy(&seg, CMSG_DATA(c), sizeof(seg));
				if (seg > 0 && (uint32_t)seg < mm->msg_len)
					g->m[i].seg = (uint32_t)seg;
			} else {
				udp_rx_cmsg(u, c);
			}
		}
	}
	g->m[i].trunc = (h->msg_flags & MSG_TRUNC) != 0;
	g->m[i].bad_src = udp_sa_addr(h->msg_name, h->msg_namelen, &g->m[i].src) != 0;
	u->gro_msgs += g->m[i].seg != 0;
}

/*
 * Hand out the staged datagrams, in order, each copied into a free ordinary
 * buffer, until n entries are filled or no buffer is free; what is left
 * stays staged. The checks and counters are those of a datagram received
 * alone: a truncated message or a bad source is dropped (once), a datagram
 * longer than the MTU is dropped as truncated.
 */
static unsigned gro_deliver(struct udp_drv *u, struct tern_rx *rx, unsigned n)
{
	struct udp_gro *g = u->gro;
	const uint32_t mtu = u->base.info.mtu;
	unsigned got = 0;

	while (g->cur < g->msgs && got < n) {
		const unsigned i = g->cur;
		const uint32_t len = g->m[i].len;
		if (udp_unlikely(g->m[i].trunc || g->m[i].bad_src)) {
			if (g->m[i].trunc)
				u->base.stats.rx_drop_trunc++;
			else
				u->base.stats.rx_drop_frame++;
			g->cur++;
			g->off = 0;
			continue;
		}
		uint32_t d = len - g->off;
		if (g->m[i].seg != 0 && d > g->m[i].seg)
			d = g->m[i].seg;
		if (udp_unlikely(d > mtu)) {
			u->base.stats.rx_drop_trunc++; /* alone, it would have come with MSG_TRUNC */
		} else {
			if (u->rx_nfree == 0)
				break; /* the core holds every buffer: it stays staged */
			uint32_t bid = u->rx_free[--u->rx_nfree];
			uint8_t *p = buf_of(u, bid) + u->prefix;
			memcpy(p, gro_buf(g, i) + g->off, d);
			rx[got].src = g->m[i].src;
			got += udp_rx_accept(u, &rx[got], p, d, bid);
		}
		g->off += d;
		if (g->off >= len) { /* an empty datagram is one too */
			g->cur++;
			g->off = 0;
		}
	}
	return got;
}

/* With gro: what is staged first, then recvmmsg into the staging buffers. */
static unsigned rx_gro(struct udp_drv *u, struct tern_rx *rx, unsigned n)
{
	struct udp_gro *g = u->gro;
	unsigned got = gro_deliver(u, rx, n), tries = 0;

	while (got < n && g->cur == g->msgs && u->rx_nfree != 0) {
		unsigned k = n - got;
		if (k > UDP_MMSG_VEC)
			k = UDP_MMSG_VEC;
		if (k > u->rx_nfree)
			k = u->rx_nfree; /* no more messages than buffers: the rest wait in the socket */
		for (unsigned i = 0; i < k; i++) {
			struct msghdr *h = &u->mm->rx[i].msg_hdr;
			h->msg_namelen = sizeof(g->name[i]);
			h->msg_controllen = sizeof(g->ctl[i]);
			h->msg_flags = 0;
		}
		int r = recvmmsg(u->fd, u->mm->rx, k, MSG_DONTWAIT, NULL);
		if (udp_unlikely(r < 0)) {
			if (rx_error(u, errno) && ++tries < MMSG_RETRIES)
				continue;
			break;
		}
		for (unsigned i = 0; i < (unsigned)r; i++)
			gro_parse(u, i);
		g->msgs = (unsigned)r;
		g->cur = 0;
		g->off = 0;
		got += gro_deliver(u, rx + got, n - got);
		if ((unsigned)r < k)
			break; /* the socket is empty */
	}
	return got;
}

unsigned udp_mmsg_rx_burst(struct udp_drv *u, struct tern_rx *rx, unsigned n)
{
	unsigned got = u->gro != NULL ? rx_gro(u, rx, n) : rx_plain(u, rx, n);
	if (udp_unlikely(u->errq_ready) && got < n && !u->errq_lent && u->errq != NULL) {
		unsigned e = udp_errq_fill(u, &rx[got]);
		/* More may be queued (one pending error stands for many): look again next time. */
		u->errq_ready = e != 0;
		got += e;
	}
	return got;
}

void udp_mmsg_rx_done(struct udp_drv *u, struct tern_rx *rx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (udp_unlikely(rx[i].flags & TERN_RX_UNREACH)) {
			u->errq_lent = false;
			continue;
		}
		uint32_t bid = (uint32_t)(uintptr_t)rx[i].priv;
		/* A buffer returned twice or never lent would break the stack. */
		if (udp_unlikely(bid >= u->nbuf || u->rx_nfree >= u->nbuf))
			continue;
		u->rx_free[u->rx_nfree++] = bid;
	}
}

/* --- transmit ---------------------------------------------------------- */

/* A full run fits one message (UIO_MAXIOV) and one vector's iovecs. */
_Static_assert(UDP_GSO_SEGS * 3u <= UIO_MAXIOV, "a segmented message has too many iovecs");
_Static_assert(UDP_GSO_SEGS * 3u <= UDP_MMSG_IOV, "a run does not fit the send vector's iovecs");

/* The one place that reads a descriptor's destination. */
static inline const struct tern_addr *tx_dst(const struct tern_tx *t)
{
	return t->dst;
}

static inline uint32_t tx_total(const struct tern_tx *t)
{
	return t->hdr_len + t->len + t->trailer_len;
}

/* t's parts into v (at most 3 iovecs); how many. */
static inline unsigned tx_gather(const struct tern_tx *t, struct iovec *v)
{
	unsigned nv = 1;
	v[0].iov_base = (void *)(uintptr_t)t->hdr;
	v[0].iov_len = t->hdr_len;
	if (t->len != 0) {
		v[nv].iov_base = (void *)(uintptr_t)t->payload;
		v[nv++].iov_len = t->len;
	}
	if (t->trailer_len != 0) {
		v[nv].iov_base = (void *)(uintptr_t)t->trailer;
		v[nv++].iov_len = t->trailer_len;
	}
	return nv;
}

/*
 * Fill the send vector from tx[*i..n): up to UDP_MMSG_VEC messages of
 * consecutive sendable descriptors, each datagram gathered straight from
 * its three parts. When its first datagram is at most u->gso_max bytes (0:
 * gso off), a message takes the run of datagrams that follow it to the
 * same destination with the same length (the last may be shorter), up to
 * UDP_GSO_SEGS of them and UDP_GSO_BYTES in all, and carries a UDP_SEGMENT cmsg of that length when the run has more
 * than one; the kernel splits it back into those datagrams. Unsendable
 * descriptors (invalid, unreachable family) are consumed and counted only
 * at the front, so that the vector is always tx[*first .. *i) and a full
 * socket buffer leaves every descriptor after the last one sent untouched
 * and uncounted. Returns the messages; *i is past the vector.
 */
static unsigned tx_fill(struct udp_drv *u, const struct tern_tx *tx, unsigned n, unsigned *i,
			unsigned *first)
{
	struct udp_mmsg *mm = u->mm;
	struct tern_drv_stats *st = &u->base.stats;
	const uint32_t mtu = u->base.info.mtu;
	unsigned k = 0, iv = 0;

	*first = *i;
	while (*i < n && k < UDP_MMSG_VEC && iv + 3 <= UDP_MMSG_IOV) {
		const struct tern_tx *t = &tx[*i];
		struct msghdr *h = &mm->tx[k].msg_hdr;
		bool valid = tern_tx_valid(t, mtu);
		h->msg_namelen = valid ? udp_sa_dst(u, &mm->tx_sa[k], tx_dst(t)) : 0;
		if (udp_unlikely(h->msg_namelen == 0)) {
			if (k != 0)
				break; /* the next call's front */
			if (valid)
				st->tx_drop_noroute++;
			else
				st->tx_drop_error++;
			(*i)++;
			*first = *i;
			continue;
		}
		struct iovec *v = &mm->tx_iov[iv];
		const uint32_t seg = tx_total(t);
		uint32_t bytes = seg, segs = 1, nv = tx_gather(t, v);
		for ((*i)++; seg <= u->gso_max && *i < n && segs < UDP_GSO_SEGS && iv + nv + 3 <= UDP_MMSG_IOV; (*i)++) {
			const struct tern_tx *t2 = &tx[*i];
			uint32_t len2 = tx_total(t2);
			if (len2 > seg || bytes + len2 > UDP_GSO_BYTES || !tern_tx_valid(t2, mtu) ||
			    (tx_dst(t2) != tx_dst(t) && !tern_addr_same(tx_dst(t2), tx_dst(t))))
				break;
			nv += tx_gather(t2, v + nv);
			bytes += len2;
			segs++;
			if (len2 < seg) {
				(*i)++;
				break; /* a shorter datagram ends the run */
			}
		}
		h->msg_name = &mm->tx_sa[k];
		h->msg_iov = v;
		h->msg_iovlen = nv;
		h->msg_flags = 0;
		if (segs > 1) {
			struct cmsghdr *c = &mm->tx_ctl[k].h;
			uint16_t gso_size = (uint16_t)seg;
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(gso_size));
			memcpy(CMSG_DATA(c), &gso_size, sizeof(gso_size));
			h->msg_control = c;
			h->msg_controllen = sizeof(mm->tx_ctl[k]);
		} else {
			h->msg_control = NULL;
			h->msg_controllen = 0;
		}
		mm->tx_segs[k] = (uint16_t)segs;
		mm->tx_seg[k] = (uint16_t)seg;
		iv += nv;
		k++;
	}
	return k;
}

/*
 * A segmented message of seg-byte datagrams failed with err, unsent: the
 * largest datagram gso may segment from now on (u->gso_max unchanged: the
 * send failed, not the segmentation). EMSGSIZE: a segment is larger than
 * the path MTU (the kernel segments only what needs no IP fragmentation);
 * shorter ones may still go segmented. EIO, EINVAL: the device cannot
 * checksum, or SO_NO_CHECK; EOPNOTSUPP likewise, unless it is a pending
 * ICMP error (udp.h), retried first: gso off.
 */
static uint32_t gso_limit(const struct udp_drv *u, int err, unsigned tries, uint32_t seg)
{
	if (err == EMSGSIZE)
		return seg - 1;
	if (err == EIO || err == EINVAL || (err == EOPNOTSUPP && (!u->errq_on || tries + 1 >= MMSG_RETRIES)))
		return 0;
	return u->gso_max;
}

/* Segmentation refused: lower the limit, say so once. */
static void gso_refused(struct udp_drv *u, int err, uint32_t limit)
{
	u->gso_max = limit;
	if (u->gso_told)
		return;
	u->gso_told = true;
	if (limit == 0)
		tern_drv_log(&u->base, TERN_LOG_INFO,
			     "udp: segmentation offload refused (%s): gso off, datagrams sent one by one",
			     strerror(err));
	else
		tern_drv_log(&u->base, TERN_LOG_INFO,
			     "udp: segmentation offload refused (%s): datagrams over %u bytes sent one by one",
			     strerror(err), limit);
}

unsigned udp_mmsg_tx_burst(struct udp_drv *u, struct tern_tx *tx, unsigned n)
{
	struct udp_mmsg *mm = u->mm;
	struct tern_drv_stats *st = &u->base.stats;
	unsigned i = 0, tries = 0;

	while (i < n) {
		unsigned pos, k = tx_fill(u, tx, n, &i, &pos), off = 0;
		/* pos: the first descriptor of message off */
		while (off < k) {
			int r = sendmmsg(u->fd, mm->tx + off, k - off, MSG_DONTWAIT);
			if (udp_likely(r > 0)) {
				/* Short: the next one met a full socket buffer or an
				 * error, which the kernel does not report after the
				 * first message. It may have been a pending ICMP error
				 * (udp.h), taken and lost: look at the error queue. */
				if (udp_unlikely((unsigned)r < k - off) && u->errq_on)
					u->errq_ready = true;
				for (unsigned j = off; j < off + (unsigned)r; j++) {
					st->tx_bytes += mm->tx[j].msg_len;
					st->tx_pkts += mm->tx_segs[j];
					pos += mm->tx_segs[j];
					u->gso_sends += mm->tx_segs[j] > 1;
				}
				off += (unsigned)r;
				continue;
			}
			int err = r < 0 ? errno : EAGAIN;
			/* Socket buffer full: this one and the rest are not taken, uncounted. */
			if (err == EAGAIN || err == EWOULDBLOCK)
				return pos;
			if (mm->tx_segs[off] > 1) {
				uint32_t limit = gso_limit(u, err, tries, mm->tx_seg[off]);
				if (limit < u->gso_max) {
					/* Nothing of it was sent: its datagrams (and the
					 * rest) are filled again, these one by one. */
					gso_refused(u, err, limit);
					i = pos;
					break;
				}
			}
			if (++tries < MMSG_RETRIES &&
			    (err == EINTR || (u->errq_on && udp_icmp_pending(err)))) {
				/* A pending ICMP error (udp.h) refused it unsent: once more. */
				if (err != EINTR)
					u->errq_ready = true;
				continue;
			}
			/* The kernel refused this message: its datagrams are consumed, lost. */
			st->tx_drop_error += mm->tx_segs[off];
			pos += mm->tx_segs[off];
			off++;
		}
	}
	return n;
}

/* --- wait -------------------------------------------------------------- */

int udp_mmsg_wait(struct udp_drv *u, uint64_t timeout_ns)
{
	struct pollfd pf = {.fd = u->fd, .events = POLLIN};
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000ull),
		.tv_nsec = (long)(timeout_ns % 1000000000ull),
	};
	if (u->errq_ready)
		return 0;
	int r = ppoll(&pf, 1, &ts, NULL);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	/* An error queued (or pending) on the socket: rx_burst reads it. */
	if (r > 0 && (pf.revents & POLLERR) && u->errq_on)
		u->errq_ready = true;
	return 0;
}
