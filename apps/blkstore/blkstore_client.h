/*
 * blkstore_client.h — client library of the blkstore remote block store.
 *
 * Asynchronous read / write / flush / discard / stat on a tern session to a
 * blkstore-server, each ending in exactly one callback, plus synchronous
 * wrappers that poll the endpoint until the answer comes. Read and Write go
 * over the raw data path (blkstore.h: a 16-byte header and the data as a
 * plain tern payload); Flush, Discard and Stat over the protobuf service
 * (blkstore.proto). BLKSTORE_CLIENT_PB sends Read and Write through the
 * protobuf methods too (for comparison, and for servers that only speak
 * the .proto).
 *
 * Offsets and lengths: multiples of 4096; Read/Write lengths 4096 .. 1 MiB.
 * The client checks nothing of that: the server is the authority and
 * answers -EINVAL.
 *
 * Status codes a callback (or a _sync call) gets: 0; the server's -EINVAL,
 * -ENOSPC, -EIO, -EOPNOTSUPP, -ENOMEM, ... (blkstore.proto); tern's
 * -ETIMEDOUT, -ECONNRESET (server restarted: the outcome of a write is
 * unknown), -ECANCELED, -EBUSY, -EMSGSIZE; -EBADMSG (the server's answer
 * does not fit the request); -EPROTO (the server did not understand).
 *
 * Threading: as tern: everything on the endpoint's owner thread; callbacks
 * run inside tern_poll().
 */
#ifndef BLKSTORE_CLIENT_H
#define BLKSTORE_CLIENT_H

#include <stdint.h>

#include "tern.h"

#ifdef __cplusplus
extern "C" {
#endif

struct blkstore_client;

/** blkstore_client_create() flag: Read and Write through the protobuf
 *  methods (the data is a `bytes` field: one more copy each side). */
#define BLKSTORE_CLIENT_PB 0x1u

/** blkstore_write() flag: durable before the answer (RWF_DSYNC at the
 *  server), like a FUA write. Same value as BLKSTORE_F_FUA in blkstore.h. */
#define BLKSTORE_WRITE_FUA 0x1u

/** What Stat returns (blkstore.proto, StatReply and Counters). */
struct blkstore_stat {
	uint64_t size;        /**< bytes exported */
	uint32_t block_size;  /**< 4096 */
	uint32_t max_io;      /**< 1 MiB */
	int direct_io, block_device, discard_zeroes;
	uint64_t reads, read_bytes;
	uint64_t writes_received, writes_applied, write_bytes, writes_failed;
	uint64_t flushes, discards, discard_bytes;
	uint64_t err_inval, err_proto, err_nospc, err_io, err_nomem, err_other;
	uint64_t short_ios, bounce_bytes;
	uint64_t requests_executed, requests_dup, inflight;
};

/** Completion of read, write, flush, discard: status 0 or a negative errno. */
typedef void (*blkstore_done_fn)(int status, void *ctx);
/** Completion of stat: st valid only during the call, and only if status is 0. */
typedef void (*blkstore_stat_fn)(int status, const struct blkstore_stat *st, void *ctx);

/**
 * A client on session s (connected or still connecting).
 * @return 0 and *out; -EINVAL; -ENOMEM.
 */
int blkstore_client_create(struct tern_session *s, unsigned flags, struct blkstore_client **out);

/**
 * Destroy: calls in flight are detached (their callbacks will not run; the
 * buffers of reads in flight are not written any more). Safe inside a
 * callback. NULL is a no-op. The session stays open.
 */
void blkstore_client_destroy(struct blkstore_client *c);

/** Deadline of each call from now on (0: the endpoint's call_timeout_ns). */
void blkstore_client_set_timeout(struct blkstore_client *c, uint64_t timeout_ns);

/** Calls issued and not yet completed. */
unsigned blkstore_client_inflight(const struct blkstore_client *c);

/**
 * Read len bytes at off into buf (which must stay valid until done runs).
 * @return 0: done runs exactly once, inside a later tern_poll(); or an
 *         error (done never runs): -EINVAL (NULL argument, len over 4 GiB),
 *         -ENOMEM, tern_call()'s errors.
 */
int blkstore_read(struct blkstore_client *c, uint64_t off, void *buf, uint32_t len,
		  blkstore_done_fn done, void *ctx);

/**
 * Write len bytes of buf at off. buf is copied before this returns.
 * flags: 0 or BLKSTORE_WRITE_FUA.
 * @return as blkstore_read().
 */
int blkstore_write(struct blkstore_client *c, uint64_t off, const void *buf, uint32_t len,
		   unsigned flags, blkstore_done_fn done, void *ctx);

/** Make every write already answered durable. @return as blkstore_read(). */
int blkstore_flush(struct blkstore_client *c, blkstore_done_fn done, void *ctx);

/** Deallocate [off, off + len) (any aligned length inside the export).
 *  @return as blkstore_read(). */
int blkstore_discard(struct blkstore_client *c, uint64_t off, uint64_t len,
		     blkstore_done_fn done, void *ctx);

/** Size, properties and counters of the server. @return as blkstore_read(). */
int blkstore_stat(struct blkstore_client *c, blkstore_stat_fn done, void *ctx);

/**
 * The server's sentence for the last operation completed on this thread
 * whose done ran (or sync call returned) with an error, e.g. "offset 1 and
 * length 4096 must be multiples of 4096"; "" if it gave none (the protobuf
 * path never does, nor errors found locally). Valid until the next
 * completion on this thread. Any thread (thread-local).
 */
const char *blkstore_last_message(void);

/* Synchronous forms: issue, then poll the endpoint until the answer (every
 * call ends: tern bounds it by the call deadline). @return the status, an
 * issuing error, or -EDEADLK when called inside a tern callback. */
int blkstore_read_sync(struct blkstore_client *c, uint64_t off, void *buf, uint32_t len);
int blkstore_write_sync(struct blkstore_client *c, uint64_t off, const void *buf, uint32_t len,
			unsigned flags);
int blkstore_flush_sync(struct blkstore_client *c);
int blkstore_discard_sync(struct blkstore_client *c, uint64_t off, uint64_t len);
int blkstore_stat_sync(struct blkstore_client *c, struct blkstore_stat *out);

#ifdef __cplusplus
}
#endif

#endif /* BLKSTORE_CLIENT_H */
