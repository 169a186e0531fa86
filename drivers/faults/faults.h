/*
 * faults.h — the fault-injecting decorator's ops table and its counters.
 *
 * The counters let reliability tests prove that faults were injected, and
 * at what rates. Internal to libtern like driver.h: tests and the core
 * include it, applications see the effects through tern_ep_stats().
 */
#ifndef TERN_DRV_FAULTS_H
#define TERN_DRV_FAULTS_H

#include <stdint.h>

#include "driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the injector did in one direction since open(). */
struct tern_faults_dir_counts {
	uint64_t seen;       /* packets that went through it (TX: accepted from the caller) */
	uint64_t dropped;    /* not passed on */
	uint64_t duplicated; /* passed on twice */
	uint64_t reordered;  /* held back behind up to reorder_depth later packets */
	uint64_t delayed;    /* held back for delay_us */
	uint64_t corrupted;  /* passed on with 1-3 bits flipped */
	uint64_t pool_empty; /* a fault needing a copy was skipped: every hold buffer in use */
	uint64_t held;       /* packets held right now (reordered, delayed, or waiting for room) */
};

/*
 * What the bottleneck link of one direction did since open() (all zero when
 * no rate= is configured). A packet is in the queue from its arrival until
 * its last bit has left the link (its departure time); "wire" bytes are the
 * datagram plus the per-packet overhead, what the rate is spent on.
 */
struct tern_faults_link_counts {
	uint64_t arrived;      /* packets offered to the link */
	uint64_t dropped;      /* drop-tail: the queue was full */
	uint64_t nobuf;        /* dropped: no link buffer free, or larger than the MTU */
	uint64_t delivered;    /* packets passed on after their departure (+ prop_us) */
	uint64_t bytes;        /* ...their datagram bytes */
	uint64_t wire_bytes;   /* ...their wire bytes */
	uint64_t queued_pkts;  /* in the queue at the last packet's arrival or release */
	uint64_t queued_bytes; /* ...their wire bytes */
	uint64_t peak_pkts;    /* most packets in the queue at once */
	uint64_t peak_bytes;   /* most wire bytes in the queue at once */
	uint64_t sojourn_max_ns; /* longest arrival-to-departure time of an admitted packet */
	uint64_t sojourn_sum_ns; /* sum over admitted packets (mean = sum / admitted) */
};

struct tern_faults_counts {
	struct tern_faults_dir_counts tx, rx;
	struct tern_faults_link_counts link_tx, link_rx;
};

extern const struct tern_drv_ops tern_drv_faults;

/* Copy the counters of a faults instance; zeroes for any other driver. */
void tern_faults_counts(const struct tern_drv *drv, struct tern_faults_counts *out);

#ifdef __cplusplus
}
#endif

#endif /* TERN_DRV_FAULTS_H */
