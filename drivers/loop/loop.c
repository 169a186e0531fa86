/*
 * loop.c — the in-process driver: endpoints of one process joined by
 * in-memory rings. tern's test driver, and the wire of the in-process
 * round-trip microbenchmark, so the data path is kept short.
 *
 * Addressing is UDP's: an instance binds "ip:port" (default 127.0.0.1:0,
 * port 0 = the next free one from a process-wide counter) and a process-wide
 * registry maps addresses to instances. A bind to 0.0.0.0 (or ::) receives
 * what is sent to any IP of that family at its port, like a wildcard socket.
 *
 * Arguments: mtu= (default 1472, so tests see realistic packetisation) and
 * ring= (slots, a power of two, default 1024) override cfg->mtu and
 * cfg->rx_ring; the generic cfg->rx_ring is rounded up to a power of two.
 *
 * Each instance owns one bounded receive ring of fixed MTU-sized slots.
 * tx_burst copies hdr + payload + trailer into a slot of the destination's
 * ring — that copy is the wire, not a tern copy, so tx_copied_bytes stays 0 —
 * and rx_burst hands the core pointers into the slots until rx_done. The
 * ring is Vyukov's bounded queue: a per-slot sequence number says whose turn
 * the slot is, so any number of senders (on any threads) claim slots with
 * one CAS on the tail while the single owner consumes without atomics RMW.
 *
 * Like UDP, a send never fails: an unknown destination is counted in
 * tx_drop_noroute, a full ring in tx_drop_full, and tx_burst returns n.
 * A datagram larger than the receiver's MTU is truncated (TERN_RX_TRUNC).
 *
 * Lifetime: instances are reference counted. The registry holds one
 * reference (the owner's), and every sender's destination cache entry holds
 * one, so a sender may still write into the ring of a peer that is closing;
 * the peer's memory goes when its last reference does. close() unlinks the
 * instance and marks it closed; senders see the mark on their next packet to
 * it and resolve again.
 *
 * Threading: an instance is used by its owner thread (driver.h); other
 * threads only ever write into its ring and read its address. open and
 * close take the registry lock; tx_burst takes it only on a destination
 * cache miss.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "loop/loop.h"

#define LOOP_MTU_DEFAULT  1472u   /* an Ethernet frame's UDP payload: realistic packetisation */
#define LOOP_MTU_MIN      256u    /* a header of TERN_TX_HDR_MAX plus a trailer must fit */
#define LOOP_MTU_MAX      65507u  /* the largest UDP payload over IPv4 */
#define LOOP_RING_DEFAULT 1024u
#define LOOP_RING_MAX     (1u << 20)
#define LOOP_CACHE        16u     /* destinations remembered per sender, power of two */
#define LOOP_INLINE_HDR   32u     /* the usual header length (a data packet's): copied inline */
#define LOOP_BUCKETS      256u    /* registry hash buckets, by port */
#define LOOP_PORT_FIRST   49152u  /* IANA ephemeral range, used for port 0 */
#define LOOP_SLOT_HDR     64u     /* slot metadata; the data starts cache-aligned after it */

/* gcc's TSan cannot model fences and says so (-Wtsan); the wakeup protocol
 * below needs them, and TSan still checks everything else. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#define loop_likely(x)   __builtin_expect(!!(x), 1)
#define loop_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * One ring slot. seq == pos: free for the producer of position pos;
 * seq == pos + 1: holds the datagram of position pos, for the consumer.
 * The consumer frees it by setting pos + ring size (the next lap's pos).
 */
struct loop_slot {
	_Atomic uint64_t seq;
	uint32_t len;
	uint32_t flags; /* TERN_RX_* */
	struct tern_addr src;
};
_Static_assert(sizeof(struct loop_slot) <= LOOP_SLOT_HDR, "slot metadata fits its cache line");

struct loop_dst {
	struct tern_addr addr;
	struct loop *peer; /* holds a reference; NULL = empty entry */
};

struct loop {
	struct tern_drv base; /* first: the ops get &base */

	/* Producers (any thread) share the tail; keep it off the owner's lines. */
	alignas(64) _Atomic uint64_t tail;
	/* Owner only. */
	alignas(64) uint64_t head;
	uint8_t *slots;
	size_t stride;   /* bytes per slot: LOOP_SLOT_HDR + MTU, cache-aligned */
	uint32_t mask;   /* ring size - 1 */
	uint32_t busy_poll;
	struct loop_dst cache[LOOP_CACHE];

	/* Sleeping owner (wait op) and the senders that wake it. */
	alignas(64) _Atomic uint32_t wake_seq; /* futex word */
	_Atomic uint32_t sleeping;

	/* Lifetime. */
	_Atomic uint32_t refs;
	_Atomic uint32_t closed;
	struct loop *next; /* registry bucket chain, under reg_lock */
};

/* --- process-wide registry (control path; lock held for every access) --- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loop *reg_bucket[LOOP_BUCKETS];
static uint32_t reg_next_port = LOOP_PORT_FIRST;

static inline struct loop *to_loop(struct tern_drv *drv)
{
	return (struct loop *)drv;
}

static inline struct loop_slot *slot_at(const struct loop *l, uint64_t pos)
{
	return (struct loop_slot *)(l->slots + (size_t)(pos & l->mask) * l->stride);
}

static inline uint8_t *slot_data(struct loop_slot *s)
{
	return (uint8_t *)s + LOOP_SLOT_HDR;
}

static inline size_t ip_len(const struct tern_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* tern_addr_eq(), inlined: it runs on every packet of the send path. */
static inline bool addr_same(const struct tern_addr *a, const struct tern_addr *b)
{
	return tern_addr_same(a, b);
}

static bool addr_wild(const struct tern_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->ip, zero, ip_len(a)) == 0;
}

/* Two binds clash like UDP sockets without SO_REUSEADDR. */
static bool addr_clash(const struct tern_addr *a, const struct tern_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       (addr_wild(a) || addr_wild(b) || memcmp(a->ip, b->ip, ip_len(a)) == 0);
}

static struct loop *reg_find(const struct tern_addr *dst)
{
	struct loop *l, *wild = NULL;
	for (l = reg_bucket[dst->port % LOOP_BUCKETS]; l != NULL; l = l->next) {
		const struct tern_addr *a = &l->base.info.local;
		if (addr_same(a, dst))
			return l;
		if (a->family == dst->family && a->port == dst->port && addr_wild(a))
			wild = l;
	}
	return wild;
}

static bool reg_taken(const struct tern_addr *a)
{
	for (struct loop *l = reg_bucket[a->port % LOOP_BUCKETS]; l != NULL; l = l->next)
		if (addr_clash(&l->base.info.local, a))
			return true;
	return false;
}

/* Bind l at *a (port 0: pick one) and link it. Caller holds reg_lock. */
static int reg_bind(struct loop *l, struct tern_addr *a)
{
	if (a->port == 0) {
		uint32_t span = 65536u - LOOP_PORT_FIRST, i;
		for (i = 0; i < span; i++) {
			a->port = (uint16_t)reg_next_port;
			reg_next_port = reg_next_port == 65535u ? LOOP_PORT_FIRST : reg_next_port + 1;
			if (!reg_taken(a))
				break;
		}
		if (i == span)
			return -EADDRINUSE;
	} else if (reg_taken(a)) {
		return -EADDRINUSE;
	}
	l->base.info.local = *a;
	l->next = reg_bucket[a->port % LOOP_BUCKETS];
	reg_bucket[a->port % LOOP_BUCKETS] = l;
	return 0;
}

static void reg_unlink(struct loop *l)
{
	struct loop **pp = &reg_bucket[l->base.info.local.port % LOOP_BUCKETS];
	while (*pp != NULL && *pp != l)
		pp = &(*pp)->next;
	if (*pp == l)
		*pp = l->next;
	l->next = NULL;
}

/* --- lifetime --- */

static void loop_free(struct loop *l)
{
	free(l->slots);
	free(l);
}

/*
 * Drop a reference. The last one frees the instance; that can happen on a
 * sender's data path, but only once per closed peer.
 */
static void loop_put(struct loop *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1)
		loop_free(l);
}

/* --- control path --- */

struct loop_args {
	uint32_t mtu;
	uint32_t ring;
	struct tern_drv log; /* for logging before the instance exists */
};

static int loop_arg(const char *k, const char *v, void *ctx)
{
	struct loop_args *a = ctx;
	if (strcmp(k, "mtu") == 0)
		return tern_arg_u32(&a->log, k, v, 0, UINT32_MAX, 0, &a->mtu);
	if (strcmp(k, "ring") == 0)
		return tern_arg_u32(&a->log, k, v, 0, UINT32_MAX, 0, &a->ring);
	return -EINVAL;
}

static uint32_t pow2_ceil(uint32_t x)
{
	uint32_t p = 1;
	while (p < x && p < LOOP_RING_MAX)
		p <<= 1;
	return p;
}

static int loop_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	static const struct tern_drv_config defaults;
	struct loop_args a;
	struct tern_addr addr;
	struct loop *l;
	int rc;

	if (out == NULL)
		return -EINVAL;
	if (cfg == NULL)
		cfg = &defaults;
	/* cfg->rx_ring is a generic knob: rounded up. ring= is ours: exact. */
	a.mtu = cfg->mtu != 0 ? cfg->mtu : LOOP_MTU_DEFAULT;
	a.ring = cfg->rx_ring != 0 ? pow2_ceil(cfg->rx_ring) : LOOP_RING_DEFAULT;
	a.log = (struct tern_drv){.ops = &tern_drv_loop, .log = cfg->log, .log_ctx = cfg->log_ctx};
	rc = tern_kv_parse(cfg->args, loop_arg, &a);
	if (rc != 0)
		return rc < 0 ? rc : -EINVAL;
	if (a.mtu < LOOP_MTU_MIN || a.mtu > LOOP_MTU_MAX)
		return -EINVAL;
	if (a.ring < 2 || a.ring > LOOP_RING_MAX || (a.ring & (a.ring - 1)) != 0)
		return -EINVAL;
	char why[384];
	rc = tern_addr_parse_why(cfg->bind != NULL ? cfg->bind : "127.0.0.1:0", &addr, why,
				 sizeof(why));
	if (rc != 0) {
		struct tern_drv tmp = {.log = cfg->log, .log_ctx = cfg->log_ctx};
		tern_drv_log(&tmp, TERN_LOG_ERR, "loop: bind %s", why);
		return rc;
	}

	l = aligned_alloc(64, (sizeof(*l) + 63) & ~(size_t)63);
	if (l == NULL)
		return -ENOMEM;
	memset(l, 0, sizeof(*l));
	l->stride = LOOP_SLOT_HDR + (((size_t)a.mtu + 63) & ~(size_t)63);
	l->slots = aligned_alloc(64, l->stride * a.ring);
	if (l->slots == NULL) {
		rc = -ENOMEM;
		goto err_loop;
	}
	for (uint32_t i = 0; i < a.ring; i++) {
		struct loop_slot *s = (struct loop_slot *)(l->slots + (size_t)i * l->stride);
		memset(s, 0, LOOP_SLOT_HDR);
		atomic_init(&s->seq, i);
	}
	l->mask = a.ring - 1;
	l->busy_poll = cfg->busy_poll;
	atomic_init(&l->refs, 1);
	l->base.ops = &tern_drv_loop;
	l->base.log = cfg->log;
	l->base.log_ctx = cfg->log_ctx;
	l->base.info.mtu = a.mtu;
	l->base.info.caps = TERN_DRV_CAP_MULTISEG | TERN_DRV_CAP_ZC_TX |
			    (cfg->busy_poll ? 0 : TERN_DRV_CAP_WAIT);
	/* In-process hops take microseconds; only scheduling delays stretch them. */
	l->base.info.rto_min_ns = 200 * 1000ull;
	l->base.info.rto_max_ns = 50 * 1000 * 1000ull;
	l->base.info.scan_ns = 20 * 1000ull;

	pthread_mutex_lock(&reg_lock);
	rc = reg_bind(l, &addr);
	pthread_mutex_unlock(&reg_lock);
	if (rc != 0)
		goto err_slots;

	char s[64];
	tern_drv_log(&l->base, TERN_LOG_DEBUG, "loop: bound %s, mtu %u, ring %u",
		     tern_addr_str(&l->base.info.local, s, sizeof(s)), a.mtu, a.ring);
	*out = &l->base;
	return 0;

err_slots:
	free(l->slots);
err_loop:
	free(l);
	return rc;
}

static void loop_close(struct tern_drv *drv)
{
	struct loop *l = to_loop(drv);
	if (l == NULL)
		return;
	pthread_mutex_lock(&reg_lock);
	reg_unlink(l);
	atomic_store_explicit(&l->closed, 1, memory_order_release);
	pthread_mutex_unlock(&reg_lock);
	for (unsigned i = 0; i < LOOP_CACHE; i++) {
		if (l->cache[i].peer != NULL)
			loop_put(l->cache[i].peer); /* may be l itself: it still holds its own ref */
		l->cache[i].peer = NULL;
	}
	/* Datagrams still in the ring, or lent to the core, go with the ring. */
	loop_put(l);
}

static inline bool ring_ready(struct loop *l)
{
	return atomic_load_explicit(&slot_at(l, l->head)->seq, memory_order_acquire) == l->head + 1;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

/*
 * Sleep until a sender wakes us or timeout_ns passes. The sleeping flag and
 * the ring are a Dekker pair with the sender's kick (seq_cst fences on both
 * sides): either we see its datagram, or it sees us asleep and wakes us.
 */
static int loop_wait(struct tern_drv *drv, uint64_t timeout_ns)
{
	struct loop *l = to_loop(drv);
	int rc = 0;

	if (l->busy_poll || timeout_ns == 0 || ring_ready(l))
		return 0;
	uint32_t v = atomic_load_explicit(&l->wake_seq, memory_order_relaxed);
	atomic_store_explicit(&l->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!ring_ready(l)) {
		struct timespec ts = {
			.tv_sec = (time_t)(timeout_ns / 1000000000u),
			.tv_nsec = (long)(timeout_ns % 1000000000u),
		};
		if (futex(&l->wake_seq, FUTEX_WAIT_PRIVATE, v, &ts) != 0 && errno != EAGAIN &&
		    errno != ETIMEDOUT && errno != EINTR)
			rc = -errno;
	}
	atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
	return rc;
}

/* --- fast path --- */

/* Wake the owner of p if it sleeps in loop_wait(); once per burst and peer. */
static inline void loop_kick(struct loop *p)
{
	if (p->busy_poll)
		return; /* never sleeps: skip the fence */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&p->sleeping, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&p->wake_seq, 1, memory_order_relaxed);
		futex(&p->wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

static inline unsigned cache_index(const struct tern_addr *a)
{
	return ((unsigned)a->port ^ a->ip[3] ^ a->ip[15]) & (LOOP_CACHE - 1);
}

static struct loop *resolve_slow(struct loop_dst *c, const struct tern_addr *dst)
{
	struct loop *p;
	if (c->peer != NULL) {
		loop_put(c->peer);
		c->peer = NULL;
	}
	pthread_mutex_lock(&reg_lock);
	p = reg_find(dst);
	if (p != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&reg_lock);
	if (p != NULL) {
		c->addr = *dst;
		c->peer = p;
	}
	return p;
}

/* The instance bound at dst, or NULL. The closed flag is only a hint to
 * resolve again: the cache's reference keeps a closing peer's ring alive. */
static inline struct loop *resolve(struct loop *l, const struct tern_addr *dst)
{
	struct loop_dst *c = &l->cache[cache_index(dst)];
	struct loop *p = c->peer;
	if (loop_likely(p != NULL && addr_same(&c->addr, dst) &&
			!atomic_load_explicit(&p->closed, memory_order_relaxed)))
		return p;
	return resolve_slow(c, dst);
}

/*
 * Claim up to want consecutive slots of p's ring (multi-producer) with one
 * CAS on the tail: the slots from the tail on that are free for this lap.
 * Returns how many (0: full) and their first position in *posp. Slots free
 * when looked at stay free until claimed (only their claimer writes seq),
 * and the CAS fails if anyone claimed from pos meanwhile.
 */
static inline unsigned ring_claim(struct loop *p, unsigned want, uint64_t *posp)
{
	uint64_t pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
	for (;;) {
		unsigned k = 0;
		for (; k < want; k++) {
			uint64_t seq = atomic_load_explicit(&slot_at(p, pos + k)->seq,
							    memory_order_acquire);
			if (seq != pos + k)
				break;
		}
		if (k == 0) {
			int64_t dif = (int64_t)(atomic_load_explicit(&slot_at(p, pos)->seq,
								     memory_order_acquire) -
						pos);
			if (dif < 0)
				return 0; /* the slot of the previous lap is not consumed yet */
			if (dif > 0) { /* another producer took it: look again from the tail */
				pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
				continue;
			}
			continue; /* freed just now */
		}
		if (atomic_compare_exchange_weak_explicit(&p->tail, &pos, pos + k,
							  memory_order_relaxed, memory_order_relaxed)) {
			*posp = pos;
			return k;
		}
	}
}

/* Gather into dst, stopping at cap bytes (a receiver with a smaller MTU). */
static void copy_trunc(uint8_t *dst, uint32_t cap, const struct tern_tx *t)
{
	const void *part[3] = {t->hdr, t->payload, t->trailer};
	uint32_t plen[3] = {t->hdr_len, t->len, t->trailer_len};
	for (int i = 0; i < 3 && cap > 0; i++) {
		uint32_t c = plen[i] < cap ? plen[i] : cap;
		if (c != 0)
			memcpy(dst, part[i], c);
		dst += c;
		cap -= c;
	}
}

/* memcpy() of a part, without a call for a short one (most calls'
 * payloads): two overlapping copies of 8 or 16 bytes. */
static inline void copy_part(uint8_t *d, const uint8_t *src, uint32_t len)
{
	if (len - 8 > 24) { /* not 8..32 */
		memcpy(d, src, len);
	} else if (len >= 16) {
		memcpy(d, src, 16);
		memcpy(d + len - 16, src + len - 16, 16);
	} else {
		memcpy(d, src, 8);
		memcpy(d + len - 8, src + len - 8, 8);
	}
}

/* Copy descriptor t (within the receiver's MTU) into slot s, claimed for
 * position pos, and hand the slot to its owner. */
static inline void slot_put(const struct loop *l, struct loop_slot *s, uint64_t pos,
			    const struct tern_tx *t)
{
	uint8_t *d = slot_data(s);
	uint32_t hlen = t->hdr_len, len = t->len, tlen = t->trailer_len;
	if (loop_likely(hlen == LOOP_INLINE_HDR))
		memcpy(d, t->hdr, LOOP_INLINE_HDR); /* inline: no call */
	else
		memcpy(d, t->hdr, hlen);
	if (len != 0)
		copy_part(d + hlen, t->payload, len);
	if (tlen != 0)
		memcpy(d + hlen + len, t->trailer, tlen);
	s->len = hlen + len + tlen; /* tx_total(t): within the MTU */
	s->flags = 0;
	s->src = l->base.info.local;
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

/* The same for any length: a datagram beyond the receiver's MTU is cut. */
static void slot_put_any(const struct loop *l, const struct loop *p, struct loop_slot *s,
			 uint64_t pos, const struct tern_tx *t, uint32_t len)
{
	if (len <= p->base.info.mtu) {
		slot_put(l, s, pos, t);
		return;
	}
	copy_trunc(slot_data(s), p->base.info.mtu, t);
	s->len = p->base.info.mtu;
	s->flags = TERN_RX_TRUNC;
	s->src = l->base.info.local;
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

static inline uint64_t tx_total(const struct tern_tx *t)
{
	/* Summed in 64 bits: three 32-bit lengths cannot wrap it. */
	return (uint64_t)t->hdr_len + t->len + t->trailer_len;
}

/*
 * Send tx[0..n). Descriptors go in runs to one destination (a burst
 * usually has one peer): the run's destination is resolved once, its slots
 * are claimed with one CAS, and its owner is kicked once.
 */
static unsigned loop_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n)
{
	struct loop *l = to_loop(drv);
	const uint32_t mtu = l->base.info.mtu;
	uint64_t pkts = 0, bytes = 0;
	unsigned i = 0;

	while (i < n) {
		/* The run [i, j): one destination; want of them fit our MTU,
		 * the longest is max bytes, all of them sum bytes. */
		const struct tern_addr *dst = tx[i].dst;
		unsigned j = i, want = 0;
		uint64_t max = 0, sum = 0;
		do {
			uint64_t total = tx_total(&tx[j]);
			want += total <= mtu;
			max = total > max ? total : max;
			sum += total;
			j++;
		} while (j < n && (tx[j].dst == dst || addr_same(tx[j].dst, dst)));
		l->base.stats.tx_drop_error += (j - i) - want;
		if (loop_unlikely(want == 0)) {
			i = j;
			continue;
		}
		struct loop *p = resolve(l, dst);
		if (loop_unlikely(p == NULL)) {
			l->base.stats.tx_drop_noroute += want;
			i = j;
			continue;
		}
		uint64_t pos = 0;
		unsigned got = ring_claim(p, want, &pos);
		l->base.stats.tx_drop_full += want - got;
		pkts += got;
		if (loop_likely(got == j - i && max <= p->base.info.mtu)) {
			/* All of them, whole: no check left per packet. */
			for (; i < j; i++, pos++)
				slot_put(l, slot_at(p, pos), pos, &tx[i]);
			bytes += sum;
		} else {
			for (; got > 0; i++) {
				const struct tern_tx *t = &tx[i];
				uint64_t total = tx_total(t);
				if (total > mtu)
					continue; /* counted above */
				slot_put_any(l, p, slot_at(p, pos), pos, t, (uint32_t)total);
				bytes += total;
				pos++;
				got--;
			}
		}
		i = j;
		loop_kick(p);
	}
	l->base.stats.tx_pkts += pkts;
	l->base.stats.tx_bytes += bytes;
	return n;
}

static unsigned loop_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct loop *l = to_loop(drv);
	uint64_t head = l->head, bytes = 0;
	unsigned i;

	/* The ring's geometry in locals: the stores into rx[] could alias it. */
	uint8_t *const slots = l->slots;
	const size_t stride = l->stride;
	const uint64_t mask = l->mask;
	uint8_t *s = slots + (size_t)(head & mask) * stride;
	for (i = 0; i < n; i++) {
		struct loop_slot *sl = (struct loop_slot *)s;
		if (atomic_load_explicit(&sl->seq, memory_order_acquire) != head + 1)
			break;
		uint32_t len = sl->len;
		rx[i].data = slot_data(sl);
		rx[i].len = len;
		rx[i].flags = sl->flags;
		rx[i].src = sl->src;
		rx[i].priv = sl;
		bytes += len;
		head++;
		s = (head & mask) != 0 ? s + stride : slots;
	}
	l->head = head;
	l->base.stats.rx_pkts += i;
	l->base.stats.rx_bytes += bytes;
	return i;
}

/* Slots are released one by one, so rx_done may come in any order or parts. */
static void loop_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	const uint64_t size = (uint64_t)to_loop(drv)->mask + 1;
	for (unsigned i = 0; i < n; i++) {
		struct loop_slot *s = rx[i].priv;
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
		atomic_store_explicit(&s->seq, seq - 1 + size, memory_order_release);
	}
}

const struct tern_drv_ops tern_drv_loop = {
	.name = "loop",
	.open = loop_open,
	.close = loop_close,
	.mem_alloc = NULL, /* the core's mmap */
	.mem_free = NULL,
	.wait = loop_wait,
	.rx_burst = loop_rx_burst,
	.rx_done = loop_rx_done,
	.tx_burst = loop_tx_burst,
};
TERN_DRIVER_REGISTER(tern_drv_loop)
