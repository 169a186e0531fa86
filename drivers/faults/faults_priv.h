/*
 * faults_priv.h — what faults.c (control path) and faults_rxtx.c (data
 * path) share: the instance, its per-direction injectors, the hold pool and
 * the PRNG. See faults.c for what the driver does and why.
 */
#ifndef TERN_DRV_FAULTS_PRIV_H
#define TERN_DRV_FAULTS_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "driver.h"
#include "faults/faults.h"

#define FAULTS_BURST        64u   /* entries per inner call; scratch arrays */
#define FAULTS_HOLD_DEFAULT 256u
#define FAULTS_HOLD_MAX     65536u
#define FAULTS_DEPTH_MAX    65535u
#define FAULTS_US_MAX       10000000ull /* 10 s */
#define FAULTS_SEED_DEFAULT 0x7465726eull
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
	struct tern_rx scr[FAULTS_BURST];      /* inner rx_burst / rx_done */
	struct tern_tx out[FAULTS_BURST];      /* inner tx_burst */
	struct hold *out_hold[FAULTS_BURST];   /* out[j] came from this hold, or NULL */
	struct txpkt pk[FAULTS_BURST];
};

static inline struct faults *to_faults(struct tern_drv *drv)
{
	return (struct faults *)drv;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

#endif /* TERN_DRV_FAULTS_PRIV_H */
