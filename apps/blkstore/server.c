/*
 * server.c — blkstore's server engine: requests in from tern (raw handlers
 * and the tern_pb service), I/O out to the disk's io_uring, answers back
 * when the I/O completes. See server.h.
 *
 * A request's life (struct blk_io, one per executing request):
 *
 *   handler      validate (bad: answer now), take an io, queue it, return
 *                without answering: the response is deferred
 *   submit       (after tern_poll, FIFO) get what the I/O needs: the raw
 *                Read's response msgbuf, an aligned bounce buffer when
 *                O_DIRECT cannot use tern's buffer in place, an SQE. If
 *                something is short the io waits at the head of the queue
 *                until a completion frees it (nothing is refused for load)
 *   completion   short read/write: resubmit the rest; error: answer it;
 *                done: answer (raw: tern_respond; pb: the closure)
 *
 * Everything a success answer needs is taken before the I/O starts (the
 * raw Write's empty response msgbuf too), so an applied write is never
 * answered with an error for want of memory afterwards. The one exception
 * is the protobuf path, whose reply tern_pb packs in the closure: if that
 * fails the caller sees -ENOMEM for a write that was applied (an error
 * for a success, never the reverse).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blkstore.h"
#include "blkstore.pb-c.h"
#include "server.h"
#include "tern_pb.h"

#define MAX_REQUESTS_DEFAULT 4096u
#define BUF_MEM_DEFAULT      (64ull << 20)
#define DISK_SLICE_NS        50000ull       /* sleep on the disk at most this, then look at tern */
#define DRAIN_NS             10000000000ull /* destroy: wait this long for the disk at most */
#define IDLE_SPIN_NS         1000000ull     /* dpdk, not busy: sleep after this long idle */
#define IDLE_NAP_NS          200000ull      /* ... this long a time */

enum io_op { IO_READ = 1, IO_WRITE, IO_FLUSH, IO_DISCARD };
enum io_origin { FROM_RAW = 1, FROM_PB };

struct blk_io {
	struct blk_io *next; /* free list or the submit queue */
	uint8_t op;          /* enum io_op */
	uint8_t origin;      /* enum io_origin */
	uint8_t fua;
	uint8_t ready;       /* buffers taken: only an SQE is missing */
	uint64_t off, len;
	uint64_t done;       /* bytes completed (short I/O resumes from here) */
	uint8_t *buf;        /* what the disk reads into / writes from */
	void *bounce;        /* pool buffer behind buf, or NULL */
	struct tern_req *req;        /* raw */
	struct tern_msg *resp;       /* raw: the Read's data or the Write's empty answer */
	ProtobufCClosure closure;    /* pb */
	void *cdata;
	const uint8_t *pb_src;       /* pb Write: the data (in tern_pb's arena) */
};

struct blks_server {
	Blkstore__Blkstore_Service svc; /* first: handlers find the server from it */
	struct tern_ep *ep;
	struct disk *d;
	struct bufpool pool;
	struct blks_server_opts o;
	struct blk_io *ios;
	struct blk_io *free;
	struct blk_io *q_head, *q_tail; /* waiting to be submitted */
	unsigned busy;                  /* ios in use */
	uint64_t idle_since;
	struct blks_counters c;
};

static struct blks_server *of_svc(Blkstore__Blkstore_Service *svc)
{
	return (struct blks_server *)svc; /* svc is the first member */
}

static struct blk_io *io_get(struct blks_server *s)
{
	struct blk_io *io = s->free;
	if (io == NULL)
		return NULL;
	s->free = io->next;
	memset(io, 0, sizeof(*io));
	s->busy++;
	return io;
}

static void io_put(struct blks_server *s, struct blk_io *io)
{
	if (io->bounce != NULL)
		bufpool_put(&s->pool, io->bounce, (uint32_t)io->len);
	io->bounce = NULL;
	io->next = s->free;
	s->free = io;
	s->busy--;
}

static void q_push(struct blks_server *s, struct blk_io *io)
{
	io->next = NULL;
	if (s->q_tail != NULL)
		s->q_tail->next = io;
	else
		s->q_head = io;
	s->q_tail = io;
}

static void q_push_front(struct blks_server *s, struct blk_io *io)
{
	io->next = s->q_head;
	s->q_head = io;
	if (s->q_tail == NULL)
		s->q_tail = io;
}

static struct blk_io *q_pop(struct blks_server *s)
{
	struct blk_io *io = s->q_head;
	if (io != NULL) {
		s->q_head = io->next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		io->next = NULL;
	}
	return io;
}

static void count_error(struct blks_server *s, int err)
{
	switch (err) {
	case -EINVAL: s->c.err_inval++; break;
	case -EPROTO: s->c.err_proto++; break;
	case -ENOSPC: s->c.err_nospc++; break;
	case -EIO: s->c.err_io++; break;
	case -ENOMEM: s->c.err_nomem++; break;
	default: s->c.err_other++; break;
	}
}

/* tern error statuses travel as one byte: keep a kernel errno in range. */
static int wire_err(int err)
{
	return err < 0 && err >= -255 ? err : -EIO;
}

/* --- answers ------------------------------------------------------------ */

/*
 * Answer a raw request with err (a negative errno) and why, a sentence for
 * the client (blkstore_last_message()): as a status code and message when
 * that code's own errno is err (so the client's status is err either way:
 * EINVAL, ENOSPC, EIO, ...), as the bare errno otherwise (EPROTO, EBUSY,
 * ENOMEM: their codes stand for other errnos).
 */
static void answer_err(struct tern_req *req, int err, const char *why)
{
	int code = tern_status_from_errno(err);
	if (why != NULL && tern_status_to_errno(code) == err &&
	    tern_respond_status(req, code, why) != -EINVAL)
		return;
	(void)tern_respond_error(req, wire_err(err));
}

/* Why a raw data answer failed with err, or NULL if nothing more is known. */
static const char *io_why(const struct blk_io *io, int err)
{
	switch (err) {
	case -ENOSPC:
		return "the export's file system is full: the write did not complete";
	case -EIO:
		return io->op == IO_READ ? "I/O error reading the export (or it shrank)"
					 : "I/O error writing the export";
	default:
		return NULL;
	}
}

static void pb_answer(struct blk_io *io, int status)
{
	switch (io->op) {
	case IO_READ: {
		Blkstore__ReadReply r = BLKSTORE__READ_REPLY__INIT;
		r.status = status;
		if (status == 0) {
			r.data.data = io->buf;
			r.data.len = io->len;
		}
		io->closure(&r.base, io->cdata);
		break;
	}
	case IO_WRITE: {
		Blkstore__WriteReply r = BLKSTORE__WRITE_REPLY__INIT;
		r.status = status;
		io->closure(&r.base, io->cdata);
		break;
	}
	case IO_FLUSH: {
		Blkstore__FlushReply r = BLKSTORE__FLUSH_REPLY__INIT;
		r.status = status;
		io->closure(&r.base, io->cdata);
		break;
	}
	case IO_DISCARD: {
		Blkstore__DiscardReply r = BLKSTORE__DISCARD_REPLY__INIT;
		r.status = status;
		io->closure(&r.base, io->cdata);
		break;
	}
	}
}

/* Answer io with status (0 or -errno), count it, and recycle it. */
static void io_finish(struct blks_server *s, struct blk_io *io, int status)
{
	if (status == 0) {
		switch (io->op) {
		case IO_READ:
			s->c.reads++;
			s->c.read_bytes += io->len;
			break;
		case IO_WRITE:
			s->c.writes_applied++;
			s->c.write_bytes += io->len;
			break;
		case IO_FLUSH: s->c.flushes++; break;
		case IO_DISCARD:
			s->c.discards++;
			s->c.discard_bytes += io->len;
			break;
		}
	} else {
		count_error(s, status);
		if (io->op == IO_WRITE && io->ready)
			s->c.writes_failed++;
	}
	if (io->origin == FROM_PB) {
		pb_answer(io, status);
	} else if (status != 0) {
		tern_msg_free(io->resp);
		answer_err(io->req, status, io_why(io, status));
	} else {
		if (io->op == IO_READ && io->bounce != NULL) {
			memcpy(tern_msg_data(io->resp), io->bounce, io->len);
			s->c.bounce_bytes += io->len;
		}
		(void)tern_respond(io->req, io->resp); /* -ECONNRESET: the client is gone */
	}
	io->resp = NULL;
	io_put(s, io);
}

/* --- submission ---------------------------------------------------------- */

static int aligned(const struct disk *d, const void *p)
{
	return ((uintptr_t)p & (d->mem_align - 1)) == 0;
}

/*
 * Take what io needs before its first submission: 1 ready, 0 not yet
 * (wait for a completion to free buffers), < 0 fail the request with it.
 */
static int io_prepare(struct blks_server *s, struct blk_io *io)
{
	struct disk *d = s->d;
	uint32_t len = (uint32_t)io->len;
	if (io->op == IO_READ) {
		if (io->origin == FROM_RAW) {
			if (io->resp == NULL) {
				io->resp = tern_msg_alloc(s->ep, len);
				if (io->resp == NULL)
					return -ENOMEM;
			}
			if (aligned(d, tern_msg_data(io->resp))) {
				io->buf = tern_msg_data(io->resp); /* zero copy */
				return 1;
			}
		}
		/* pb (the reply is packed from it) or a misaligned msgbuf. */
		io->bounce = bufpool_get(&s->pool, len);
		if (io->bounce == NULL)
			return 0;
		io->buf = io->bounce;
		return 1;
	}
	if (io->op == IO_WRITE) {
		const uint8_t *src;
		if (io->origin == FROM_RAW) {
			if (io->resp == NULL) {
				io->resp = tern_msg_alloc(s->ep, 0);
				if (io->resp == NULL)
					return -ENOMEM;
			}
			/* Fetched now, not in the handler: tern moves a one-packet
			 * request into a msgbuf after a handler defers it. NULL:
			 * it had no memory to do so. */
			src = tern_req_data(io->req);
			if (src == NULL)
				return -ENOMEM;
			src += BLKSTORE_HDR_LEN;
		} else {
			src = io->pb_src;
		}
		if (aligned(d, src)) {
			io->buf = (uint8_t *)(uintptr_t)src; /* the disk only reads it */
			return 1;
		}
		io->bounce = bufpool_get(&s->pool, len);
		if (io->bounce == NULL)
			return 0;
		memcpy(io->bounce, src, len);
		s->c.bounce_bytes += len;
		io->buf = io->bounce;
		return 1;
	}
	return 1; /* flush, discard: nothing to hold */
}

static void io_issue(struct blks_server *s, struct blk_io *io, struct io_uring_sqe *sqe)
{
	struct disk *d = s->d;
	uint32_t n = (uint32_t)(io->len - io->done);
	if (s->o.split != 0 && n > s->o.split)
		n = s->o.split;
	switch (io->op) {
	case IO_READ:
		disk_prep_read(d, sqe, io->buf + io->done, n, io->off + io->done, io);
		break;
	case IO_WRITE:
		disk_prep_write(d, sqe, io->buf + io->done, n, io->off + io->done, io->fua, io);
		break;
	case IO_FLUSH: disk_prep_flush(d, sqe, io); break;
	case IO_DISCARD: disk_prep_discard(d, sqe, io->off, io->len, io); break;
	}
}

/* Start queued I/O in order until the disk or the buffers run short. */
static void submit_queue(struct blks_server *s)
{
	while (s->q_head != NULL && s->d->inflight < s->d->depth) {
		struct blk_io *io = s->q_head;
		if (!io->ready) {
			int rc = io_prepare(s, io);
			if (rc == 0)
				return; /* head of line waits for buffers */
			if (rc < 0) {
				(void)q_pop(s);
				io_finish(s, io, rc);
				continue;
			}
			io->ready = 1;
		}
		struct io_uring_sqe *sqe = disk_sqe(s->d);
		if (sqe == NULL)
			return;
		(void)q_pop(s);
		io_issue(s, io, sqe);
	}
}

static void on_disk_done(void *user_data, int res, void *arg)
{
	struct blks_server *s = arg;
	struct blk_io *io = user_data;
	if (io == NULL)
		return;
	if (res < 0) {
		io_finish(s, io, res);
		return;
	}
	if (io->op == IO_READ || io->op == IO_WRITE) {
		if (res == 0) { /* read: end of file (the file shrank); write: no progress */
			io_finish(s, io, -EIO);
			return;
		}
		io->done += (uint64_t)res;
		if (io->done < io->len) {
			/* Short: resume at once if the ring has room, else first in line. */
			s->c.short_ios++;
			struct io_uring_sqe *sqe = s->q_head == NULL ? disk_sqe(s->d) : NULL;
			if (sqe != NULL)
				io_issue(s, io, sqe);
			else
				q_push_front(s, io);
			return;
		}
	}
	io_finish(s, io, 0);
}

int blks_server_disk_poll(struct blks_server *s, uint64_t wait_ns)
{
	submit_queue(s);
	int n = disk_poll(s->d, wait_ns, on_disk_done, s);
	if (n > 0)
		submit_queue(s); /* completions freed room and buffers */
	return n < 0 ? 0 : n;
}

/* --- raw handlers -------------------------------------------------------- */

static void reject(struct blks_server *s, struct tern_req *req, int err, const char *why)
{
	count_error(s, err);
	answer_err(req, err, why);
}

/* What is wrong with the range of a request that blkstore_range_check() refused. */
static void range_why(const struct blks_server *s, const struct blkstore_hdr *h, char *why,
		      size_t n)
{
	if (h->length == 0)
		snprintf(why, n, "length 0");
	else if (h->length > BLKSTORE_MAX_IO)
		snprintf(why, n, "length %u is over the limit of %u bytes", h->length,
			 (unsigned)BLKSTORE_MAX_IO);
	else if (((h->offset | h->length) & (BLKSTORE_BLOCK - 1)) != 0)
		snprintf(why, n, "offset %" PRIu64 " and length %u must be multiples of %u",
			 h->offset, h->length, (unsigned)BLKSTORE_BLOCK);
	else
		snprintf(why, n, "%" PRIu64 "+%u is past the end of the export (%" PRIu64 " bytes)",
			 h->offset, h->length, s->d->size);
}

/* Parse and check a raw request: 0, -EPROTO or -EINVAL (why says what,
 * for -EINVAL). */
static int parse_raw(const struct blks_server *s, struct tern_req *req, int is_write,
		     struct blkstore_hdr *h, char *why, size_t n)
{
	size_t len = tern_req_len(req);
	const void *p = tern_req_data(req);
	if (p == NULL || len < BLKSTORE_HDR_LEN)
		return -EPROTO;
	blkstore_hdr_get(h, p);
	if (h->version != BLKSTORE_HDR_VERSION)
		return -EPROTO;
	if (len != BLKSTORE_HDR_LEN + (is_write ? (size_t)h->length : 0))
		return -EPROTO;
	if ((h->flags & ~(is_write ? BLKSTORE_F_ALL : 0u)) != 0) {
		snprintf(why, n, "unknown flags %#x", h->flags);
		return -EINVAL;
	}
	int rc = blkstore_range_check(h->offset, h->length, BLKSTORE_MAX_IO, s->d->size);
	if (rc != 0)
		range_why(s, h, why, n);
	return rc;
}

static void raw_io(struct tern_req *req, void *ctx, int is_write)
{
	struct blks_server *s = ctx;
	struct blkstore_hdr h;
	char why[128];
	int rc = parse_raw(s, req, is_write, &h, why, sizeof(why));
	if (rc != 0) {
		reject(s, req, rc, rc == -EINVAL ? why : NULL);
		return;
	}
	struct blk_io *io = io_get(s);
	if (io == NULL) { /* over max_requests: tern's queue limit should stop this first */
		reject(s, req, -EBUSY, NULL);
		return;
	}
	io->op = is_write ? IO_WRITE : IO_READ;
	io->origin = FROM_RAW;
	io->fua = (h.flags & BLKSTORE_F_FUA) != 0;
	io->off = h.offset;
	io->len = h.length;
	io->req = req;
	if (is_write)
		s->c.writes_received++;
	q_push(s, io); /* deferred: answered when the disk is done */
}

static void on_raw_read(struct tern_req *req, void *ctx)
{
	raw_io(req, ctx, 0);
}

static void on_raw_write(struct tern_req *req, void *ctx)
{
	raw_io(req, ctx, 1);
}

/* --- protobuf handlers ----------------------------------------------------- */

/* Queue a pb request; on a refusal answer it with err through the closure. */
static void pb_queue(struct blks_server *s, enum io_op op, uint64_t off, uint64_t len, int err,
		     ProtobufCClosure closure, void *cdata, const uint8_t *src, int fua)
{
	struct blk_io tmp, *io = err == 0 ? io_get(s) : NULL;
	if (io == NULL) {
		if (err == 0)
			err = -EBUSY;
		memset(&tmp, 0, sizeof(tmp));
		tmp.op = (uint8_t)op;
		tmp.closure = closure;
		tmp.cdata = cdata;
		count_error(s, err);
		pb_answer(&tmp, err);
		return;
	}
	io->op = (uint8_t)op;
	io->origin = FROM_PB;
	io->off = off;
	io->len = len;
	io->closure = closure;
	io->cdata = cdata;
	io->pb_src = src;
	io->fua = (uint8_t)fua;
	if (op == IO_WRITE)
		s->c.writes_received++;
	q_push(s, io);
}

static void pb_read(Blkstore__Blkstore_Service *svc, const Blkstore__ReadRequest *in,
		    Blkstore__ReadReply_Closure closure, void *cdata)
{
	struct blks_server *s = of_svc(svc);
	int err = blkstore_range_check(in->offset, in->length, BLKSTORE_MAX_IO, s->d->size);
	pb_queue(s, IO_READ, in->offset, in->length, err, (ProtobufCClosure)closure, cdata, NULL, 0);
}

static void pb_write(Blkstore__Blkstore_Service *svc, const Blkstore__WriteRequest *in,
		     Blkstore__WriteReply_Closure closure, void *cdata)
{
	struct blks_server *s = of_svc(svc);
	int err = blkstore_range_check(in->offset, in->data.len, BLKSTORE_MAX_IO, s->d->size);
	pb_queue(s, IO_WRITE, in->offset, in->data.len, err, (ProtobufCClosure)closure, cdata,
		 in->data.data, in->fua);
}

static void pb_flush(Blkstore__Blkstore_Service *svc, const Blkstore__FlushRequest *in,
		     Blkstore__FlushReply_Closure closure, void *cdata)
{
	(void)in;
	pb_queue(of_svc(svc), IO_FLUSH, 0, 0, 0, (ProtobufCClosure)closure, cdata, NULL, 0);
}

static void pb_discard(Blkstore__Blkstore_Service *svc, const Blkstore__DiscardRequest *in,
		       Blkstore__DiscardReply_Closure closure, void *cdata)
{
	struct blks_server *s = of_svc(svc);
	/* Any aligned length inside the export: no data moves. */
	int err = blkstore_range_check(in->offset, in->length, s->d->size, s->d->size);
	pb_queue(s, IO_DISCARD, in->offset, in->length, err, (ProtobufCClosure)closure, cdata,
		 NULL, 0);
}

static void pb_stat(Blkstore__Blkstore_Service *svc, const Blkstore__StatRequest *in,
		    Blkstore__StatReply_Closure closure, void *cdata)
{
	(void)in;
	struct blks_server *s = of_svc(svc);
	struct blks_counters c;
	blks_server_counters(s, &c);
	struct tern_stats ts;
	memset(&ts, 0, sizeof(ts));
	(void)tern_ep_stats(s->ep, &ts);
	Blkstore__Counters k = BLKSTORE__COUNTERS__INIT;
	k.reads = c.reads;
	k.read_bytes = c.read_bytes;
	k.writes_received = c.writes_received;
	k.writes_applied = c.writes_applied;
	k.write_bytes = c.write_bytes;
	k.writes_failed = c.writes_failed;
	k.flushes = c.flushes;
	k.discards = c.discards;
	k.discard_bytes = c.discard_bytes;
	k.err_inval = c.err_inval;
	k.err_proto = c.err_proto;
	k.err_nospc = c.err_nospc;
	k.err_io = c.err_io;
	k.err_nomem = c.err_nomem;
	k.err_other = c.err_other;
	k.short_ios = c.short_ios;
	k.bounce_bytes = c.bounce_bytes;
	k.requests_executed = ts.requests_executed;
	k.requests_dup = ts.requests_dup;
	k.inflight = c.inflight;
	Blkstore__StatReply r = BLKSTORE__STAT_REPLY__INIT;
	r.size = s->d->size;
	r.block_size = BLKSTORE_BLOCK;
	r.max_io = BLKSTORE_MAX_IO;
	r.direct_io = s->d->direct;
	r.block_device = s->d->blkdev;
	r.discard_zeroes = s->d->discard_zeroes;
	r.counters = &k;
	closure(&r, cdata);
}

/* --- life cycle and loop ----------------------------------------------------- */

/* What the raw types answer once the server is gone. */
static void on_gone(struct tern_req *req, void *ctx)
{
	(void)ctx;
	(void)tern_respond_error(req, -ENOENT);
}

int blks_server_create(struct tern_ep *ep, struct disk *d, const struct blks_server_opts *o,
		       struct blks_server **out)
{
	if (ep == NULL || d == NULL || out == NULL)
		return -EINVAL;
	struct blks_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	static const Blkstore__Blkstore_Service svc_init = BLKSTORE__BLKSTORE__INIT(pb_);
	s->svc = svc_init;
	s->ep = ep;
	s->d = d;
	if (o != NULL)
		s->o = *o;
	if (s->o.max_requests == 0)
		s->o.max_requests = MAX_REQUESTS_DEFAULT;
	if (s->o.buf_mem == 0)
		s->o.buf_mem = BUF_MEM_DEFAULT;
	if (s->o.buf_mem < BLKSTORE_MAX_IO)
		s->o.buf_mem = BLKSTORE_MAX_IO; /* one largest I/O must always fit */
	if (s->o.split % BLKSTORE_BLOCK != 0) {
		free(s);
		return -EINVAL;
	}
	bufpool_init(&s->pool, s->o.buf_mem);
	s->ios = calloc(s->o.max_requests, sizeof(*s->ios));
	int rc = -ENOMEM;
	if (s->ios == NULL)
		goto err_s;
	for (unsigned i = s->o.max_requests; i-- > 0;) {
		s->ios[i].next = s->free;
		s->free = &s->ios[i];
	}
	rc = tern_handle(ep, BLKSTORE_RAW_READ, on_raw_read, s, TERN_RRA);
	if (rc == 0)
		rc = tern_handle(ep, BLKSTORE_RAW_WRITE, on_raw_write, s, TERN_RRA);
	if (rc != 0)
		goto err_ios;
	rc = tern_pb_serve(ep, &s->svc.base, BLKSTORE_BASE_TYPE, TERN_RRA);
	if (rc != 0)
		goto err_handlers;
	s->idle_since = tern_now_ns();
	*out = s;
	return 0;

err_handlers:
	(void)tern_handle(ep, BLKSTORE_RAW_READ, on_gone, NULL, TERN_RRA);
	(void)tern_handle(ep, BLKSTORE_RAW_WRITE, on_gone, NULL, TERN_RRA);
err_ios:
	free(s->ios);
err_s:
	free(s);
	return rc;
}

void blks_server_destroy(struct blks_server *s)
{
	if (s == NULL)
		return;
	/* The kernel may be using the buffers: let the disk finish (bounded). */
	uint64_t end = tern_now_ns() + DRAIN_NS;
	while (s->d->inflight != 0 && tern_now_ns() < end)
		(void)disk_poll(s->d, DISK_SLICE_NS * 20, on_disk_done, s);
	struct blk_io *io;
	while ((io = q_pop(s)) != NULL)
		io_finish(s, io, -ECANCELED);
	tern_pb_ep_release(s->ep);
	(void)tern_handle(s->ep, BLKSTORE_RAW_READ, on_gone, NULL, TERN_RRA);
	(void)tern_handle(s->ep, BLKSTORE_RAW_WRITE, on_gone, NULL, TERN_RRA);
	if (s->d->inflight == 0) {
		bufpool_fini(&s->pool);
		free(s->ios);
	} /* else the disk still holds them: leak rather than corrupt */
	free(s);
}

int blks_server_run_once(struct blks_server *s, uint64_t idle_ns)
{
	int n = tern_poll(s->ep);
	if (n < 0)
		return n;
	n += blks_server_disk_poll(s, 0);
	if (n > 0 || s->o.busy_poll) {
		if (n > 0)
			s->idle_since = 0;
		return n;
	}
	if (s->d->inflight != 0) /* the disk is working: wait for it, briefly */
		return blks_server_disk_poll(s, DISK_SLICE_NS);
	if (s->o.driver_sleeps)
		return tern_poll_wait(s->ep, idle_ns);
	/* A driver that cannot sleep (dpdk): spin a while, then nap. */
	uint64_t now = tern_now_ns();
	if (s->idle_since == 0)
		s->idle_since = now;
	else if (now - s->idle_since > IDLE_SPIN_NS) {
		struct timespec ts = {0, (long)IDLE_NAP_NS};
		nanosleep(&ts, NULL);
	}
	return 0;
}

unsigned blks_server_busy(const struct blks_server *s)
{
	return s->busy;
}

void blks_server_counters(const struct blks_server *s, struct blks_counters *out)
{
	*out = s->c;
	out->inflight = s->busy;
}
