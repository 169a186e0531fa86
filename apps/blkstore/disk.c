/*
 * disk.c — open an export (file or block device), decide O_DIRECT, run its
 * io_uring; and the aligned buffer pool. See disk.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "blkstore.h"
#include "disk.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0) /* linux/blkdev.h, 6.12 */
#endif

#define DEPTH_DEFAULT 128u
#define CLOSE_WAIT_NS 2000000000ull /* bound on draining I/O at close */

static int fail(char *why, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t len, int rc, const char *fmt, ...)
{
	if (why != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * How to do I/O on path: O_DIRECT with the memory alignment statx reports
 * (ext4 on virtio: 512), or buffered: on tmpfs (whose O_DIRECT, where the
 * kernel accepts it at all, is the page cache anyway) and wherever statx
 * says the file system has no direct I/O (dio_offset_align 0). A kernel
 * that does not report STATX_DIOALIGN (< 6.1): try O_DIRECT (disk_open
 * falls back if open refuses it) with page-aligned buffers.
 */
static void dio_probe(const char *path, int *direct, uint32_t *mem_align)
{
	struct statx sx;
	struct statfs sf;
	*direct = 0;
	*mem_align = 1;
	if (statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
		return;
	*direct = 1;
	*mem_align = 4096;
	if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &sx) != 0 || !(sx.stx_mask & STATX_DIOALIGN))
		return;
	if (sx.stx_dio_offset_align == 0 || sx.stx_dio_offset_align > BLKSTORE_BLOCK ||
	    sx.stx_dio_mem_align > BLKSTORE_BLOCK) {
		*direct = 0;
		*mem_align = 1;
		return;
	}
	*mem_align = sx.stx_dio_mem_align != 0 ? sx.stx_dio_mem_align : 4096;
}

static int ring_setup(struct disk *d)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	/* One issuer (the poll loop); completions run when it enters the
	 * kernel. TASKRUN_FLAG: the kernel raises IORING_SQ_TASKRUN in the SQ
	 * ring when completions wait for us, so disk_poll() enters only then
	 * (or to submit) instead of once per pass of a busy loop. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE;
	p.cq_entries = 2 * d->depth;
	int rc = io_uring_queue_init_params(d->depth, &d->ring, &p);
	if (rc == -EINVAL) { /* kernel < 6.1 */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 2 * d->depth;
		rc = io_uring_queue_init_params(d->depth, &d->ring, &p);
	}
	if (rc != 0)
		return rc;
	(void)io_uring_register_ring_fd(&d->ring); /* an optimisation: fine without */
	d->fixed_file = io_uring_register_files(&d->ring, &d->fd, 1) == 0;
	return 0;
}

int disk_open(struct disk *d, const struct disk_opts *o, char *why, size_t whylen)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (o == NULL || o->path == NULL)
		return fail(why, whylen, -EINVAL, "no file given");
	if (o->size % BLKSTORE_BLOCK != 0)
		return fail(why, whylen, -EINVAL, "size %llu is not a multiple of %u",
			    (unsigned long long)o->size, BLKSTORE_BLOCK);
	d->depth = o->depth != 0 ? o->depth : DEPTH_DEFAULT;

	int flags = O_RDWR | O_CLOEXEC;
	struct stat st;
	if (stat(o->path, &st) != 0) {
		if (errno != ENOENT || !o->create)
			return fail(why, whylen, -errno, "%s: %s%s", o->path, strerror(errno),
				    errno == ENOENT ? " (use --create)" : "");
		int fd = open(o->path, flags | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return fail(why, whylen, -errno, "%s: cannot create: %s", o->path,
				    strerror(errno));
		close(fd);
		if (stat(o->path, &st) != 0)
			return fail(why, whylen, -errno, "%s: %s", o->path, strerror(errno));
	}
	if (S_ISBLK(st.st_mode))
		d->blkdev = 1;
	else if (!S_ISREG(st.st_mode))
		return fail(why, whylen, -EINVAL, "%s: not a regular file or block device", o->path);

	int direct = 0;
	uint32_t align = 1;
	if (!o->buffered)
		dio_probe(o->path, &direct, &align);
	d->fd = open(o->path, flags | (direct ? O_DIRECT : 0));
	if (d->fd < 0 && direct && errno == EINVAL) {
		direct = 0; /* the file system refuses O_DIRECT after all */
		align = 1;
		d->fd = open(o->path, flags);
	}
	if (d->fd < 0)
		return fail(why, whylen, -errno, "%s: %s", o->path, strerror(errno));
	d->direct = (uint8_t)direct;
	d->mem_align = align;

	int rc;
	if (d->blkdev) {
		uint64_t bytes = 0;
		int lbs = 0;
		if (ioctl(d->fd, BLKGETSIZE64, &bytes) != 0 || ioctl(d->fd, BLKSSZGET, &lbs) != 0) {
			rc = fail(why, whylen, -errno, "%s: cannot read the device's size: %s",
				  o->path, strerror(errno));
			goto err_fd;
		}
		if (lbs <= 0 || (unsigned)lbs > BLKSTORE_BLOCK) {
			rc = fail(why, whylen, -EINVAL, "%s: logical block size %d over %u", o->path,
				  lbs, BLKSTORE_BLOCK);
			goto err_fd;
		}
		if (o->size > bytes) {
			rc = fail(why, whylen, -EINVAL, "%s: --size %llu is past the device's %llu bytes",
				  o->path, (unsigned long long)o->size, (unsigned long long)bytes);
			goto err_fd;
		}
		d->size = o->size != 0 ? o->size : bytes;
		d->discard_zeroes = 0; /* a device may return anything after a discard */
	} else {
		if (o->size != 0 && (uint64_t)st.st_size != o->size &&
		    ftruncate(d->fd, (off_t)o->size) != 0) {
			rc = fail(why, whylen, -errno, "%s: cannot set the size to %llu: %s", o->path,
				  (unsigned long long)o->size, strerror(errno));
			goto err_fd;
		}
		d->size = o->size != 0 ? o->size : (uint64_t)st.st_size;
		d->discard_zeroes = 1; /* punched holes read as zeros */
	}
	d->size -= d->size % BLKSTORE_BLOCK;
	if (d->size == 0) {
		rc = fail(why, whylen, -EINVAL, "%s: nothing to export (size 0; use --size)", o->path);
		goto err_fd;
	}
	rc = ring_setup(d);
	if (rc != 0) {
		fail(why, whylen, rc, "io_uring: %s", strerror(-rc));
		goto err_fd;
	}
	return 0;

err_fd:
	close(d->fd);
	d->fd = -1;
	return rc;
}

static void drop_cqe(void *user_data, int res, void *arg)
{
	(void)user_data;
	(void)res;
	(void)arg;
}

void disk_close(struct disk *d)
{
	if (d == NULL || d->fd < 0)
		return;
	/* The owner drained its I/O already; anything left is waited for, so
	 * the kernel is done with the buffers before they are freed. */
	for (int i = 0; i < 1000 && d->inflight != 0; i++)
		(void)disk_poll(d, CLOSE_WAIT_NS / 1000, drop_cqe, NULL);
	io_uring_queue_exit(&d->ring);
	close(d->fd);
	d->fd = -1;
}

struct io_uring_sqe *disk_sqe(struct disk *d)
{
	if (d->inflight >= d->depth)
		return NULL;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	if (sqe == NULL) { /* SQ full of unsubmitted entries: push them now */
		(void)io_uring_submit(&d->ring);
		d->unsubmitted = 0;
		sqe = io_uring_get_sqe(&d->ring);
		if (sqe == NULL)
			return NULL;
	}
	d->inflight++;
	d->unsubmitted++;
	return sqe;
}

static void set_file(struct disk *d, struct io_uring_sqe *sqe)
{
	if (d->fixed_file) {
		sqe->fd = 0;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

static int fd_of(const struct disk *d)
{
	return d->fixed_file ? 0 : d->fd;
}

void disk_prep_read(struct disk *d, struct io_uring_sqe *sqe, void *buf, uint32_t len,
		    uint64_t off, void *user_data)
{
	io_uring_prep_read(sqe, fd_of(d), buf, len, off);
	set_file(d, sqe);
	io_uring_sqe_set_data(sqe, user_data);
}

void disk_prep_write(struct disk *d, struct io_uring_sqe *sqe, const void *buf, uint32_t len,
		     uint64_t off, int fua, void *user_data)
{
	io_uring_prep_write(sqe, fd_of(d), buf, len, off);
	if (fua)
		sqe->rw_flags = RWF_DSYNC;
	set_file(d, sqe);
	io_uring_sqe_set_data(sqe, user_data);
}

void disk_prep_flush(struct disk *d, struct io_uring_sqe *sqe, void *user_data)
{
	io_uring_prep_fsync(sqe, fd_of(d), IORING_FSYNC_DATASYNC);
	set_file(d, sqe);
	io_uring_sqe_set_data(sqe, user_data);
}

void disk_prep_discard(struct disk *d, struct io_uring_sqe *sqe, uint64_t off, uint64_t len,
		       void *user_data)
{
	if (d->blkdev) {
		/* BLOCK_URING_CMD_DISCARD: start in addr, length in addr3; the
		 * kernel wants every other field zero. Older kernels answer
		 * -EINVAL or -EOPNOTSUPP, which goes back to the caller. */
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = fd_of(d);
		sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
		sqe->addr = off;
		sqe->addr3 = len;
	} else {
		io_uring_prep_fallocate(sqe, fd_of(d), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len);
	}
	set_file(d, sqe);
	io_uring_sqe_set_data(sqe, user_data);
}

#define REAP_BATCH 64u

int disk_poll(struct disk *d, uint64_t wait_ns, disk_done_fn fn, void *arg)
{
	if (d->inflight == 0)
		return 0;
	int rc;
	if (wait_ns != 0 && io_uring_cq_ready(&d->ring) == 0) {
		struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ns / 1000000000ull),
					       .tv_nsec = (long long)(wait_ns % 1000000000ull)};
		struct io_uring_cqe *cqe;
		rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
		if (rc == -ETIME || rc == -EINTR)
			rc = 0;
	} else if (d->unsubmitted == 0 && io_uring_cq_ready(&d->ring) == 0 &&
		   !(IO_URING_READ_ONCE(*d->ring.sq.kflags) & IORING_SQ_TASKRUN)) {
		return 0; /* nothing to submit, nothing completed: no system call */
	} else {
		rc = io_uring_submit_and_get_events(&d->ring);
	}
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
		return rc;
	d->unsubmitted = 0;
	int total = 0;
	for (;;) {
		struct io_uring_cqe *cqes[REAP_BATCH];
		unsigned n = io_uring_peek_batch_cqe(&d->ring, cqes, REAP_BATCH);
		if (n == 0)
			break;
		void *ud[REAP_BATCH];
		int res[REAP_BATCH];
		for (unsigned i = 0; i < n; i++) {
			ud[i] = io_uring_cqe_get_data(cqes[i]);
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&d->ring, n);
		d->inflight -= n;
		/* After the advance: fn may take and prepare new SQEs. */
		for (unsigned i = 0; i < n; i++)
			fn(ud[i], res[i], arg);
		total += (int)n;
	}
	return total;
}

/* --- aligned buffers --------------------------------------------------- */

static unsigned buf_class(uint32_t len)
{
	unsigned c = 0;
	while (c < BUFPOOL_CLASSES && (BLKSTORE_BLOCK << c) < len)
		c++;
	return c;
}

void bufpool_init(struct bufpool *p, uint64_t cap)
{
	memset(p, 0, sizeof(*p));
	p->cap = cap;
}

static void class_drain(struct bufpool *p, unsigned c)
{
	while (p->free[c] != NULL) {
		void *b = p->free[c];
		memcpy(&p->free[c], b, sizeof(void *));
		free(b);
		p->bytes -= (uint64_t)BLKSTORE_BLOCK << c;
	}
}

void bufpool_fini(struct bufpool *p)
{
	for (unsigned c = 0; c < BUFPOOL_CLASSES; c++)
		class_drain(p, c);
}

void *bufpool_get(struct bufpool *p, uint32_t len)
{
	unsigned c = buf_class(len);
	if (c >= BUFPOOL_CLASSES)
		return NULL;
	void *b = p->free[c];
	if (b != NULL) {
		memcpy(&p->free[c], b, sizeof(void *));
		return b;
	}
	uint64_t sz = (uint64_t)BLKSTORE_BLOCK << c;
	if (p->bytes + sz > p->cap) {
		/* At the cap: give idle buffers of other sizes back first. */
		for (unsigned o = 0; o < BUFPOOL_CLASSES && p->bytes + sz > p->cap; o++)
			class_drain(p, o);
		if (p->bytes + sz > p->cap)
			return NULL;
	}
	if (posix_memalign(&b, 4096, sz) != 0)
		return NULL;
	p->bytes += sz;
	return b;
}

void bufpool_put(struct bufpool *p, void *buf, uint32_t len)
{
	if (buf == NULL)
		return;
	unsigned c = buf_class(len);
	memcpy(buf, &p->free[c], sizeof(void *));
	p->free[c] = buf;
}
