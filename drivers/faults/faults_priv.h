/*
 * faults_priv.h — what faults.c (control path), faults_rxtx.c (data path)
 * and faults_link.c (the bottleneck link) share: the instance, its
 * per-direction injectors and links, the hold pool and the PRNG. See
 * faults.c for what the driver does and why.
 */
#ifndef TERN_DRV_FAULTS_PRIV_H
#define TERN_DRV_FAULTS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "driver.h"
#include "faults/faults.h"

#define FAULTS_BURST        64u   /* entries per inner call; scratch arrays */
#define FAULTS_HOLD_DEFAULT 256u
#define FAULTS_HOLD_MAX     65536u
#define FAULTS_DEPTH_MAX    65535u
#define FAULTS_US_MAX       10000000ull /* 10 s */
#define FAULTS_SEED_DEFAULT 0x7465726eull
#define LINK_RATE_MAX       1000000000000ull /* 1 Tbit/s */
#define LINK_QUEUE_MAX      (1ull << 30)     /* bytes */
#define LINK_QUEUE_DEFAULT  (128u * 1024u)   /* bytes, when neither queue= nor qpkts= */
#define LINK_OVERHEAD_DEFAULT 42u            /* Ethernet + IPv4 + UDP headers: what tc counts */
#define LINK_OVERHEAD_MAX   1024u
#define LINK_BUFS_MAX       65536u
#define TX_TRAILER_OFF      TERN_TX_HDR_MAX                         /* hold buffer layout, TX */
#define TX_PAYLOAD_OFF      (TERN_TX_HDR_MAX + TERN_TX_TRAILER_MAX)

#define F_DROP    0x01u
#define F_DUP     0x02u
#define F_REORDER 0x04u
#define F_DELAY   0x08u
#define F_CORRUPT 0x10u
#define F_HOLD    (F_REORDER | F_DELAY)

#define DIR_TX 0x1u
#define DIR_RX 0x2u

struct rng {
	uint64_t s[4];
};

struct faults_cfg {
	/* Probabilities as thresholds on 53 random bits: P = thr / 2^53. */
	uint64_t loss, dup, reorder, delay, corrupt;
	uint32_t depth;
	uint32_t hold;
	uint64_t delay_ns;
	uint64_t reorder_ns;
	uint64_t seed;
	unsigned dir;
	/* The bottleneck link (rate == 0: none). */
	uint64_t rate;     /* bits per second */
	uint64_t qbytes;   /* queue bound in wire bytes (0: none) */
	uint32_t qpkts;    /* queue bound in packets (0: none) */
	uint32_t overhead; /* wire bytes per packet beyond the datagram */
	uint64_t prop_ns;  /* propagation delay after departure */
	unsigned link_dir; /* DIR_* */
	bool link_keys;    /* a link key other than rate= was given */
};

enum hold_state {
	HOLD_FREE,    /* on the free list */
	HOLD_REORDER, /* queued until `release_at` packets passed, or reorder_ns after `t` */
	HOLD_DELAY,   /* queued until `t` */
	HOLD_READY,   /* queued: was due when there was no room; goes out first */
	HOLD_SENDING, /* TX, queued: in the inner tx_burst being made */
	HOLD_LENT,    /* unqueued: RX copy lent to the core until rx_done; TX one-call copy */
};

/* One held or copied packet. The descriptor array doubles as our RX priv. */
struct hold {
	struct hold *prev, *next; /* queue (oldest first) or free list */
	uint8_t state;            /* enum hold_state */
	bool ref;                 /* TX: we hold a tern_msg reference on tx.msg */
	uint64_t t;               /* REORDER: when held; DELAY: when due (ns) */
	uint64_t release_at;      /* REORDER: the dir's `passed` count that releases it */
	struct tern_tx tx;        /* TX: hdr, trailer (and a copied payload) point into buf */
	struct tern_addr dst;     /* TX: tx.dst points here (the core's is valid only in tx_burst) */
	struct tern_rx rx;        /* RX: data points into buf, priv at this hold */
	uint8_t *buf;
};

/* The injector of one direction. */
struct fdir {
	struct rng rng;
	bool on;
	uint32_t nholds;
	size_t bufsz;
	struct hold *holds; /* NULL when this direction needs no copies */
	uint8_t *bufs;
	struct hold *free;
	struct hold *qhead, *qtail;
	uint32_t n_reorder; /* HOLD_REORDER entries in the queue */
	uint64_t passed;    /* packets passed on: the clock reordered packets wait on */
	struct tern_faults_dir_counts cnt; /* cnt.held: queue length */
};

/* One packet on a link: a copy, queued until due, then lent until returned. */
enum lpkt_state {
	LP_FREE,   /* on the free list */
	LP_QUEUED, /* in the FIFO */
	LP_LENT,   /* RX: handed to the next stage until rx_done */
};

struct lpkt {
	struct lpkt *next; /* free list */
	uint64_t dep;      /* departure: when its last bit has left the link (ns) */
	uint32_t wire;     /* wire bytes: datagram + overhead */
	uint8_t state;     /* enum lpkt_state */
	struct tern_rx rx; /* RX: data points into buf, priv at this lpkt */
	struct tern_tx tx; /* TX: hdr, trailer, payload point into buf; msg NULL */
	struct tern_addr dst; /* TX: tx.dst points here */
	uint8_t *buf;
};

/*
 * The bottleneck link of one direction: a FIFO of copies, each with its
 * departure time. fifo[head..tail) are not yet passed on; fifo[qhead..tail)
 * have not yet departed (the queue); head <= qhead <= tail, free-running
 * indices masked on use.
 */
struct flink {
	bool on;
	uint32_t nbufs;
	size_t bufsz;
	struct lpkt *pkts;
	uint8_t *bufs;
	struct lpkt *free;
	struct lpkt **fifo;
	uint32_t mask;
	uint32_t head, qhead, tail;
	uint64_t qbytes;   /* wire bytes in fifo[qhead..tail) */
	uint64_t last_dep; /* departure of the last admitted packet */
	uint64_t frac;     /* remainder of last_dep, in 1/rate ns */
	struct tern_faults_link_counts cnt;
	union {
		struct tern_rx rx[FAULTS_BURST]; /* RX: inner rx_burst */
		struct tern_tx tx[FAULTS_BURST]; /* TX: inner tx_burst */
	} scr;
};

/* What happened to one caller packet of the TX chunk being built. */
struct txpkt {
	uint16_t pos;     /* out[] index of its entry, or where it would have been */
	uint16_t dup_pos; /* out[] index of its duplicate; UINT16_MAX if none */
	uint8_t emitted;  /* it has an entry at pos */
	uint8_t faults;   /* F_* it met */
	struct hold *held;
};

struct faults {
	struct tern_drv base; /* first: the ops get &base */
	struct tern_drv *inner;
	struct faults_cfg cfg;
	bool need_clock;
	struct fdir tx, rx;
	struct flink ltx, lrx;
	struct tern_rx scr[FAULTS_BURST];      /* inner rx_burst / rx_done */
	struct tern_tx out[FAULTS_BURST];      /* inner tx_burst */
	struct hold *out_hold[FAULTS_BURST];   /* out[j] came from this hold, or NULL */
	struct txpkt pk[FAULTS_BURST];
};

static inline struct faults *to_faults(struct tern_drv *drv)
{
	return (struct faults *)drv;
}

/* The core's clock (tern.h): one time base with the endpoint, and virtual
 * in tests that provide or wrap tern_now_ns(). */
static inline uint64_t now_ns(void)
{
	return tern_now_ns();
}

/* The core reads our stats: show the wire's, i.e. the inner driver's. */
static inline void sync_stats(struct faults *f)
{
	f->base.stats = f->inner->stats;
}

/* --- PRNG: xoshiro256** seeded by splitmix64 (Blackman & Vigna) --- */

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 * n). */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline bool chance(struct rng *r, uint64_t thr)
{
	return (rng_next(r) >> 11) < thr;
}

/* Back on the free list. */
static inline void hold_put(struct fdir *d, struct hold *h)
{
	h->state = HOLD_FREE;
	h->ref = false;
	h->prev = NULL;
	h->next = d->free;
	d->free = h;
}

/* Fast-path ops (faults_rxtx.c). */
unsigned faults_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n);
unsigned faults_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
void faults_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n);

/* The bottleneck link (faults_link.c). */
int link_init(struct faults *f, struct flink *l, unsigned dir);
void link_log(const struct faults *f, const struct flink *l, const char *name);
void link_fini(struct flink *l);
void link_rx_pull(struct faults *f, uint64_t now);
unsigned link_rx_release(struct faults *f, struct tern_rx *rx, unsigned n, uint64_t now);
bool link_rx_put(struct flink *l, void *priv);
unsigned link_tx_burst(struct faults *f, const struct tern_tx *tx, unsigned n, uint64_t now);
void link_tx_flush(struct faults *f, uint64_t now);
uint64_t link_next(const struct faults *f, const struct flink *l, uint64_t now);

static inline bool link_busy(const struct flink *l)
{
	return l->head != l->tail;
}

#endif /* TERN_DRV_FAULTS_PRIV_H */
