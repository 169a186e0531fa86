/*
 * disk.h — blkstore's disk: an exported file or block device, the io_uring
 * that does all of its I/O, and a pool of aligned I/O buffers. Shared by
 * the server (server.c) and blkstore-cli's local bench.
 *
 * I/O goes through one io_uring per disk (SINGLE_ISSUER | DEFER_TASKRUN
 * when the kernel has them): callers take an SQE with disk_sqe(), prepare
 * it, and disk_poll() submits everything prepared and hands completions
 * back. Nothing here blocks except disk_poll() with a wait, and disk_open /
 * disk_close.
 *
 * O_DIRECT is used when the file system supports it (statx STATX_DIOALIGN;
 * ext4, xfs, block devices), so buffers must then be aligned to mem_align;
 * otherwise (tmpfs, or --buffered) I/O goes through the page cache and any
 * address will do (mem_align 1).
 *
 * Threading: a disk and a pool belong to one thread.
 */
#ifndef BLKSTORE_DISK_H
#define BLKSTORE_DISK_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

struct disk_opts {
	const char *path;
	uint64_t size;   /* 0: export the file's or device's size; else set the
			    file to this length (sparse) or export this much of
			    the device */
	int create;      /* create the file if it does not exist */
	int buffered;    /* never O_DIRECT */
	unsigned depth;  /* I/Os in flight at most (0: 128) */
};

struct disk {
	int fd;
	uint64_t size;        /* bytes exported, a multiple of 4096 */
	uint32_t mem_align;   /* I/O buffer address alignment (1: any) */
	uint8_t direct;       /* O_DIRECT */
	uint8_t blkdev;       /* a block device */
	uint8_t discard_zeroes; /* discarded ranges read back as zeros */
	uint8_t fixed_file;   /* fd registered with the ring: IOSQE_FIXED_FILE, index 0 */
	unsigned depth;       /* ring size: most I/Os in flight */
	unsigned inflight;    /* SQEs taken and not yet completed */
	unsigned unsubmitted; /* SQEs prepared since the last submit */
	struct io_uring ring;
};

/* Called per completion: user_data of the SQE and its result. */
typedef void (*disk_done_fn)(void *user_data, int res, void *arg);

/**
 * Open the export and set up its ring. On failure a sentence for the user
 * goes to why.
 * @return 0; -errno (-ENOENT without create, -EINVAL bad size, ...).
 */
int disk_open(struct disk *d, const struct disk_opts *o, char *why, size_t whylen);

/** Wait (bounded) for I/O still in flight, close ring and file. */
void disk_close(struct disk *d);

/**
 * An SQE for one more I/O, its file already set (fixed or not), or NULL
 * when depth I/Os are in flight. Every SQE taken must be prepared (with
 * the helpers below) and is submitted by the next disk_poll().
 */
struct io_uring_sqe *disk_sqe(struct disk *d);

void disk_prep_read(struct disk *d, struct io_uring_sqe *sqe, void *buf, uint32_t len,
		    uint64_t off, void *user_data);
void disk_prep_write(struct disk *d, struct io_uring_sqe *sqe, const void *buf, uint32_t len,
		     uint64_t off, int fua, void *user_data);
/* fdatasync. */
void disk_prep_flush(struct disk *d, struct io_uring_sqe *sqe, void *user_data);
/* Punch a hole (files) or BLOCK_URING_CMD_DISCARD (devices, kernel >= 6.12). */
void disk_prep_discard(struct disk *d, struct io_uring_sqe *sqe, uint64_t off, uint64_t len,
		       void *user_data);

/**
 * Submit what was prepared, then hand every completion to fn. With
 * wait_ns > 0 and I/O in flight but nothing completed, sleep up to wait_ns
 * for a completion first.
 * @return completions handled (>= 0), or a negative errno from io_uring.
 */
int disk_poll(struct disk *d, uint64_t wait_ns, disk_done_fn fn, void *arg);

/* ------------------------------------------------------------------ */
/* Aligned I/O buffers: power-of-two classes of 4 KiB .. 1 MiB, 4 KiB
 * aligned, kept on free lists; at most cap bytes exist at once. */

#define BUFPOOL_CLASSES 9u /* 4 KiB << 0 .. 4 KiB << 8 = 1 MiB */

struct bufpool {
	void *free[BUFPOOL_CLASSES];
	uint64_t bytes; /* allocated, in use or free */
	uint64_t cap;
};

void bufpool_init(struct bufpool *p, uint64_t cap);
void bufpool_fini(struct bufpool *p);
/** A buffer of at least len (<= 1 MiB) bytes; NULL when cap is reached
 *  (retry after a put) or len is too large. */
void *bufpool_get(struct bufpool *p, uint32_t len);
/** Give back a buffer from bufpool_get(p, len) (same len). */
void bufpool_put(struct bufpool *p, void *buf, uint32_t len);

#endif /* BLKSTORE_DISK_H */
