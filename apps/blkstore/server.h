/*
 * server.h — blkstore's server engine: serves the Blkstore service
 * (blkstore.proto, through tern_pb) and the raw data path (blkstore.h) on
 * a tern endpoint, doing the disk I/O through the disk's io_uring in the
 * same poll loop. Used by blkstore-server and by the in-process tests.
 *
 * Every disk request is deferred: its handler validates it, queues it and
 * returns without answering; the loop (blks_server_run_once) submits the
 * queue to the disk ring, reaps completions and answers each request when
 * its I/O is done. The endpoint is never blocked while the disk works.
 *
 * Threading: the endpoint's owner thread, like tern.
 */
#ifndef BLKSTORE_SERVER_H
#define BLKSTORE_SERVER_H

#include <stdint.h>

#include "disk.h"
#include "tern.h"

struct blks_server;

struct blks_server_opts {
	unsigned max_requests; /* requests executing at once (0: 4096); set the
				  endpoint's server_queue_limit to the same */
	uint64_t buf_mem;      /* bounce/read buffer memory cap (0: 64 MiB; min 1 MiB) */
	uint32_t split;        /* > 0: submit reads and writes in pieces of at most this
				  many bytes (a multiple of 4096); each piece's completion
				  resumes the rest exactly like a short completion does, so
				  tests reach that path at will */
	int busy_poll;         /* run_once never sleeps */
	int driver_sleeps;     /* tern_poll_wait() can sleep (udp, loop); dpdk cannot */
};

/* The server's counters (blkstore.proto, message Counters). */
struct blks_counters {
	uint64_t reads, read_bytes;
	uint64_t writes_received, writes_applied, write_bytes, writes_failed;
	uint64_t flushes, discards, discard_bytes;
	uint64_t err_inval, err_proto, err_nospc, err_io, err_nomem, err_other;
	uint64_t short_ios, bounce_bytes;
	uint64_t inflight;
};

/**
 * Serve disk d on ep: raw handlers at BLKSTORE_RAW_READ/WRITE and the
 * Blkstore service at BLKSTORE_BASE_TYPE, both TERN_RRA.
 * @return 0 and *out; -ENOMEM; tern_handle()/tern_pb_serve() errors.
 */
int blks_server_create(struct tern_ep *ep, struct disk *d, const struct blks_server_opts *o,
		       struct blks_server **out);

/**
 * Stop serving: wait (bounded) for I/O at the disk and answer it, answer
 * queued requests -ECANCELED, release tern_pb's state of ep (so call this
 * before tern_ep_destroy()), free everything. NULL is a no-op.
 */
void blks_server_destroy(struct blks_server *s);

/**
 * One pass of the server's loop: tern_poll(), submit queued disk I/O, reap
 * completions and answer them. When nothing happened and busy_poll is off,
 * sleep: in the network driver for up to idle_ns if no disk I/O is
 * outstanding (nothing else can wake us), else on the disk ring for a short
 * slice (so a disk completion is answered at once and the network is
 * looked at again within the slice).
 * @return events handled (0 idle), or a negative errno (tern_poll's).
 */
int blks_server_run_once(struct blks_server *s, uint64_t idle_ns);

/** Submit queued I/O and reap completions without touching the network
 *  (wait_ns > 0: sleep up to that long on the disk for a completion).
 *  @return completions handled. */
int blks_server_disk_poll(struct blks_server *s, uint64_t wait_ns);

/** Requests queued or at the disk now. */
unsigned blks_server_busy(const struct blks_server *s);

/** The counters. */
void blks_server_counters(const struct blks_server *s, struct blks_counters *out);

#endif /* BLKSTORE_SERVER_H */
