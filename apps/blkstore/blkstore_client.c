/*
 * blkstore_client.c — blkstore's client library (blkstore_client.h).
 *
 * One op record per call, from the client's free list (malloc only while
 * warming up). Raw Read/Write: tern_call() with a msgbuf holding the
 * header (and the data); the continuation copies a Read's data into the
 * caller's buffer. Everything else, and Read/Write with BLKSTORE_CLIENT_PB:
 * tern_pb_call() with the generated messages.
 *
 * Lifetime: a destroyed client is freed when no call of it is in tern's
 * hands, no callback of it is running and no _sync call of it is polling.
 * Its protobuf calls are detached by tern_pb_client_destroy() (their done
 * never runs), so their records are freed at once; raw calls still end in
 * our continuation, which then frees the record and nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blkstore.h"
#include "blkstore.pb-c.h"
#include "blkstore_client.h"
#include "tern_pb.h"

#define SYNC_POLL_NS 1000000ull

enum op_kind { OP_READ = 1, OP_WRITE, OP_FLUSH, OP_DISCARD, OP_STAT };

struct op {
	struct op *next, *prev; /* live list, or free list (next only) */
	struct blkstore_client *c;
	uint8_t kind;     /* enum op_kind */
	uint8_t pb;       /* issued through tern_pb */
	blkstore_done_fn done;
	blkstore_stat_fn stat_done;
	void *ctx;
	void *buf;        /* read: where the data goes */
	uint32_t len;
};

struct blkstore_client {
	struct tern_session *s;
	struct tern_ep *ep;
	ProtobufCService *pb;
	unsigned flags;
	uint64_t timeout_ns;
	uint8_t closing;
	unsigned live;         /* ops issued, not completed */
	unsigned cb_depth;     /* callbacks running */
	unsigned sync_waiting; /* _sync calls polling */
	struct op *live_head;
	struct op *idle;
};

static void client_free(struct blkstore_client *c)
{
	while (c->idle != NULL) {
		struct op *o = c->idle;
		c->idle = o->next;
		free(o);
	}
	free(c);
}

static void maybe_free(struct blkstore_client *c)
{
	if (c->closing && c->live == 0 && c->cb_depth == 0 && c->sync_waiting == 0)
		client_free(c);
}

static struct op *op_get(struct blkstore_client *c, enum op_kind kind)
{
	struct op *o = c->idle;
	if (o != NULL)
		c->idle = o->next;
	else if ((o = malloc(sizeof(*o))) == NULL)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->c = c;
	o->kind = (uint8_t)kind;
	return o;
}

/* Issued: on the live list. */
static void op_live(struct blkstore_client *c, struct op *o)
{
	o->prev = NULL;
	o->next = c->live_head;
	if (c->live_head != NULL)
		c->live_head->prev = o;
	c->live_head = o;
	c->live++;
}

static void op_unlive(struct blkstore_client *c, struct op *o)
{
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		c->live_head = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
	c->live--;
}

static void op_put(struct blkstore_client *c, struct op *o)
{
	o->next = c->idle;
	c->idle = o;
}

/* Deliver status (and st) for o, then recycle it. */
static void op_complete(struct op *o, int status, const struct blkstore_stat *st)
{
	struct blkstore_client *c = o->c;
	op_unlive(c, o);
	blkstore_done_fn done = o->done;
	blkstore_stat_fn stat_done = o->stat_done;
	void *ctx = o->ctx;
	op_put(c, o);
	if (c->closing) {
		maybe_free(c);
		return;
	}
	c->cb_depth++;
	if (stat_done != NULL)
		stat_done(status, status == 0 ? st : NULL, ctx);
	else if (done != NULL)
		done(status, ctx);
	c->cb_depth--;
	maybe_free(c);
}

/* The server's sentence for the last failed operation completed on this
 * thread (raw path; the protobuf path answers in band, without one). */
static _Thread_local char last_message[TERN_STATUS_MSG_MAX + 1];

const char *blkstore_last_message(void)
{
	return last_message;
}

/* --- raw data path ------------------------------------------------------- */

static void raw_cont(const struct tern_result *res, void *ctx)
{
	struct op *o = ctx;
	int status = res->status;
	size_t n = res->message != NULL ? res->message_len : 0;
	memcpy(last_message, n != 0 ? res->message : "", n);
	last_message[n] = '\0';
	if (status == 0) {
		if (o->kind == OP_READ) {
			if (res->len != o->len)
				status = -EBADMSG;
			else if (!o->c->closing && o->buf != NULL)
				memcpy(o->buf, res->data, o->len);
		} else if (res->len != 0) {
			status = -EBADMSG;
		}
	}
	op_complete(o, status, NULL);
}

/* is_write comes from the caller's kind, not o->kind: where issue() is
 * inlined for a read (data NULL), the compiler then sees the copy below
 * cannot run (gcc -O3 warned of a NULL memcpy source, -Wnonnull). */
static int raw_issue(struct blkstore_client *c, struct op *o, int is_write, uint64_t off,
		     const void *data, uint32_t len, unsigned flags)
{
	size_t total = BLKSTORE_HDR_LEN + (is_write ? (size_t)len : 0);
	struct tern_msg *m = tern_msg_alloc(c->ep, total);
	if (m == NULL)
		return -ENOMEM;
	struct blkstore_hdr h = {
		.version = BLKSTORE_HDR_VERSION,
		.flags = (uint16_t)flags,
		.length = len,
		.offset = off,
	};
	uint8_t *p = tern_msg_data(m);
	blkstore_hdr_put(p, &h);
	if (is_write)
		memcpy(p + BLKSTORE_HDR_LEN, data, len);
	/* A read may be re-issued after a server restart (TERN_EP_RECONNECT):
	 * it changes nothing. A write may not: its outcome is unknown. */
	int rc = tern_call_ex(c->s, is_write ? BLKSTORE_RAW_WRITE : BLKSTORE_RAW_READ, m, raw_cont,
			      o, c->timeout_ns, is_write ? 0u : TERN_CALL_IDEMPOTENT);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

/* --- protobuf path ------------------------------------------------------- */

static void fill_stat(struct blkstore_stat *st, const Blkstore__StatReply *r)
{
	memset(st, 0, sizeof(*st));
	st->size = r->size;
	st->block_size = r->block_size;
	st->max_io = r->max_io;
	st->direct_io = r->direct_io;
	st->block_device = r->block_device;
	st->discard_zeroes = r->discard_zeroes;
	const Blkstore__Counters *k = r->counters;
	if (k == NULL)
		return;
	st->reads = k->reads;
	st->read_bytes = k->read_bytes;
	st->writes_received = k->writes_received;
	st->writes_applied = k->writes_applied;
	st->write_bytes = k->write_bytes;
	st->writes_failed = k->writes_failed;
	st->flushes = k->flushes;
	st->discards = k->discards;
	st->discard_bytes = k->discard_bytes;
	st->err_inval = k->err_inval;
	st->err_proto = k->err_proto;
	st->err_nospc = k->err_nospc;
	st->err_io = k->err_io;
	st->err_nomem = k->err_nomem;
	st->err_other = k->err_other;
	st->short_ios = k->short_ios;
	st->bounce_bytes = k->bounce_bytes;
	st->requests_executed = k->requests_executed;
	st->requests_dup = k->requests_dup;
	st->inflight = k->inflight;
}

static void pb_done(int status, const ProtobufCMessage *resp, void *ctx)
{
	struct op *o = ctx;
	last_message[0] = '\0';
	struct blkstore_stat st;
	if (status == 0) {
		switch (o->kind) {
		case OP_READ: {
			const Blkstore__ReadReply *r = (const Blkstore__ReadReply *)resp;
			status = r->status;
			if (status == 0 && r->data.len != o->len)
				status = -EBADMSG;
			else if (status == 0 && !o->c->closing && o->buf != NULL)
				memcpy(o->buf, r->data.data, o->len);
			break;
		}
		case OP_WRITE: status = ((const Blkstore__WriteReply *)resp)->status; break;
		case OP_FLUSH: status = ((const Blkstore__FlushReply *)resp)->status; break;
		case OP_DISCARD: status = ((const Blkstore__DiscardReply *)resp)->status; break;
		case OP_STAT: {
			const Blkstore__StatReply *r = (const Blkstore__StatReply *)resp;
			status = r->status;
			if (status == 0)
				fill_stat(&st, r);
			break;
		}
		}
		if (status > 0 || status < -4095)
			status = -EBADMSG; /* not an errno: the server is confused */
	}
	op_complete(o, status, &st);
}

static int pb_issue(struct blkstore_client *c, struct op *o, uint64_t off, const void *data,
		    uint64_t len, unsigned flags)
{
	switch (o->kind) {
	case OP_READ: {
		Blkstore__ReadRequest r = BLKSTORE__READ_REQUEST__INIT;
		r.offset = off;
		r.length = (uint32_t)len;
		return tern_pb_call(c->pb, BLKSTORE_M_READ, &r.base, pb_done, o, c->timeout_ns);
	}
	case OP_WRITE: {
		Blkstore__WriteRequest r = BLKSTORE__WRITE_REQUEST__INIT;
		r.offset = off;
		r.data.data = (uint8_t *)(uintptr_t)data; /* only read: packed into the msgbuf */
		r.data.len = len;
		r.fua = (flags & BLKSTORE_WRITE_FUA) != 0;
		return tern_pb_call(c->pb, BLKSTORE_M_WRITE, &r.base, pb_done, o, c->timeout_ns);
	}
	case OP_FLUSH: {
		Blkstore__FlushRequest r = BLKSTORE__FLUSH_REQUEST__INIT;
		return tern_pb_call(c->pb, BLKSTORE_M_FLUSH, &r.base, pb_done, o, c->timeout_ns);
	}
	case OP_DISCARD: {
		Blkstore__DiscardRequest r = BLKSTORE__DISCARD_REQUEST__INIT;
		r.offset = off;
		r.length = len;
		return tern_pb_call(c->pb, BLKSTORE_M_DISCARD, &r.base, pb_done, o, c->timeout_ns);
	}
	case OP_STAT: {
		Blkstore__StatRequest r = BLKSTORE__STAT_REQUEST__INIT;
		return tern_pb_call(c->pb, BLKSTORE_M_STAT, &r.base, pb_done, o, c->timeout_ns);
	}
	}
	return -EINVAL;
}

/* --- issuing ------------------------------------------------------------- */

/* Issue one call; *out (if not NULL) gets its record, for the _sync forms. */
static int issue(struct blkstore_client *c, enum op_kind kind, uint64_t off, void *buf,
		 const void *data, uint64_t len, unsigned flags, blkstore_done_fn done,
		 blkstore_stat_fn stat_done, void *ctx, struct op **out)
{
	if (c == NULL || c->closing)
		return -EINVAL;
	if ((kind == OP_READ || kind == OP_WRITE) && ((buf == NULL && data == NULL) ||
						       len > UINT32_MAX))
		return -EINVAL;
	if (flags & ~(unsigned)BLKSTORE_WRITE_FUA)
		return -EINVAL;
	struct op *o = op_get(c, kind);
	if (o == NULL)
		return -ENOMEM;
	o->done = done;
	o->stat_done = stat_done;
	o->ctx = ctx;
	o->buf = buf;
	o->len = (uint32_t)len;
	int raw = (kind == OP_READ || kind == OP_WRITE) && !(c->flags & BLKSTORE_CLIENT_PB);
	o->pb = (uint8_t)!raw;
	/* Live before the call: a continuation never runs inside it, but the
	 * list must hold o by the time tern can complete it. */
	op_live(c, o);
	int rc = raw ? raw_issue(c, o, kind == OP_WRITE, off, data, (uint32_t)len, flags)
		     : pb_issue(c, o, off, data, len, flags);
	if (rc != 0) {
		op_unlive(c, o);
		op_put(c, o);
		return rc;
	}
	if (out != NULL)
		*out = o;
	return 0;
}

int blkstore_read(struct blkstore_client *c, uint64_t off, void *buf, uint32_t len,
		  blkstore_done_fn done, void *ctx)
{
	return issue(c, OP_READ, off, buf, NULL, len, 0, done, NULL, ctx, NULL);
}

int blkstore_write(struct blkstore_client *c, uint64_t off, const void *buf, uint32_t len,
		   unsigned flags, blkstore_done_fn done, void *ctx)
{
	return issue(c, OP_WRITE, off, NULL, buf, len, flags, done, NULL, ctx, NULL);
}

int blkstore_flush(struct blkstore_client *c, blkstore_done_fn done, void *ctx)
{
	return issue(c, OP_FLUSH, 0, NULL, NULL, 0, 0, done, NULL, ctx, NULL);
}

int blkstore_discard(struct blkstore_client *c, uint64_t off, uint64_t len,
		     blkstore_done_fn done, void *ctx)
{
	return issue(c, OP_DISCARD, off, NULL, NULL, len, 0, done, NULL, ctx, NULL);
}

int blkstore_stat(struct blkstore_client *c, blkstore_stat_fn done, void *ctx)
{
	return issue(c, OP_STAT, 0, NULL, NULL, 0, 0, NULL, done, ctx, NULL);
}

/* --- synchronous forms ----------------------------------------------------- */

struct waiter {
	int done;
	int status;
	struct blkstore_stat *st;
};

static void wait_done(int status, void *ctx)
{
	struct waiter *w = ctx;
	w->status = status;
	w->done = 1;
}

static void wait_stat(int status, const struct blkstore_stat *st, void *ctx)
{
	struct waiter *w = ctx;
	if (status == 0 && w->st != NULL)
		*w->st = *st;
	w->status = status;
	w->done = 1;
}

static int sync_call(struct blkstore_client *c, enum op_kind kind, uint64_t off, void *buf,
		     const void *data, uint64_t len, unsigned flags, struct blkstore_stat *st)
{
	struct waiter w = {0, 0, st};
	struct op *o;
	int rc = issue(c, kind, off, buf, data, len, flags, kind == OP_STAT ? NULL : wait_done,
		       kind == OP_STAT ? wait_stat : NULL, &w, &o);
	if (rc != 0)
		return rc;
	struct tern_ep *ep = c->ep;
	c->sync_waiting++;
	while (!w.done && !c->closing) {
		rc = tern_poll_wait(ep, SYNC_POLL_NS);
		if (rc == -EDEADLK) {
			/* Inside a callback: nobody can poll for us. The call goes
			 * on; its answer must not land in this frame. */
			o->done = NULL;
			o->stat_done = NULL;
			o->buf = NULL;
			break;
		}
	}
	c->sync_waiting--;
	if (!w.done) {
		rc = rc == -EDEADLK ? -EDEADLK : -ECANCELED;
		maybe_free(c);
		return rc;
	}
	maybe_free(c);
	return w.status;
}

int blkstore_read_sync(struct blkstore_client *c, uint64_t off, void *buf, uint32_t len)
{
	return sync_call(c, OP_READ, off, buf, NULL, len, 0, NULL);
}

int blkstore_write_sync(struct blkstore_client *c, uint64_t off, const void *buf, uint32_t len,
			unsigned flags)
{
	return sync_call(c, OP_WRITE, off, NULL, buf, len, flags, NULL);
}

int blkstore_flush_sync(struct blkstore_client *c)
{
	return sync_call(c, OP_FLUSH, 0, NULL, NULL, 0, 0, NULL);
}

int blkstore_discard_sync(struct blkstore_client *c, uint64_t off, uint64_t len)
{
	return sync_call(c, OP_DISCARD, off, NULL, NULL, len, 0, NULL);
}

int blkstore_stat_sync(struct blkstore_client *c, struct blkstore_stat *out)
{
	return sync_call(c, OP_STAT, 0, NULL, NULL, 0, 0, out);
}

/* --- life cycle ------------------------------------------------------------ */

int blkstore_client_create(struct tern_session *s, unsigned flags, struct blkstore_client **out)
{
	if (s == NULL || out == NULL || (flags & ~BLKSTORE_CLIENT_PB) != 0)
		return -EINVAL;
	struct blkstore_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->s = s;
	c->ep = tern_session_ep(s);
	c->flags = flags;
	int rc = tern_pb_client_create(s, &blkstore__blkstore__descriptor, BLKSTORE_BASE_TYPE,
				       &c->pb);
	if (rc != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void blkstore_client_destroy(struct blkstore_client *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = 1;
	/* tern_pb detaches its calls: their done never runs, so their records
	 * go now. Raw calls end in raw_cont, which frees theirs. */
	tern_pb_client_destroy(c->pb);
	c->pb = NULL;
	struct op *o = c->live_head;
	while (o != NULL) {
		struct op *next = o->next;
		if (o->pb) {
			op_unlive(c, o);
			op_put(c, o);
		}
		o = next;
	}
	maybe_free(c);
}

void blkstore_client_set_timeout(struct blkstore_client *c, uint64_t timeout_ns)
{
	if (c != NULL)
		c->timeout_ns = timeout_ns;
}

unsigned blkstore_client_inflight(const struct blkstore_client *c)
{
	return c != NULL ? c->live : 0;
}
