/*
 * tern_pb_client.c — the client ProtobufCService.
 *
 * invoke packs the input straight into a msgbuf and tern_call()s it at
 * base + method; the continuation unpacks the reply into the client's arena,
 * runs the closure, and resets the arena. Pending-call records come from a
 * per-client free list: after warm-up a call mallocs nothing.
 *
 * Lifetime: a destroyed client is freed only when tern holds none of its
 * calls, no closure of it is running and no sync call of it is polling.
 */
#include <stdlib.h>
#include <string.h>

#include "tern_pb_internal.h"

enum pend_kind {
	PEND_CLOSURE = 1, /* a generated stub's closure */
	PEND_DONE = 2,    /* tern_pb_call()'s done */
	PEND_SYNC = 3,    /* tern_pb_call_sync() waiting */
	PEND_DETACHED = 4 /* nobody wants the answer any more */
};

struct sync_out {
	struct tern_pb_arena *arena;
	ProtobufCMessage *msg;
	int status;
	int done;
	struct tern_status *st; /* tern_pb_call_sync_status(): code and message, or NULL */
};

struct pb_client;

struct pending {
	struct pending *next;
	struct pb_client *cl;
	unsigned mi;
	enum pend_kind kind;
	ProtobufCClosure closure;
	tern_pb_done_fn done;
	void *ctx;
	struct sync_out *sync;
};

struct pb_client {
	ProtobufCService base; /* first: the ProtobufCService handed out */
	struct tern_session *s;
	struct tern_ep *ep;
	uint16_t base_type;
	uint8_t closing;       /* destroyed: freed when nothing below refers to it */
	uint64_t timeout_ns;
	unsigned in_flight;    /* calls tern holds */
	unsigned cb_depth;     /* closures running (they may nest) */
	unsigned sync_waiting; /* tern_pb_call_sync() frames polling */
	uint8_t *recursive;    /* per method: output type can nest itself */
	struct pending *idle;
	struct tern_pb_arena arena;      /* async replies: reset after each closure */
	struct tern_pb_arena sync_arena; /* tern_pb_call_sync() with arena NULL */
};

/* The last call's outcome on this thread (the message copied: tern's is
 * valid only during its continuation). */
static _Thread_local int last_status, last_code;
static _Thread_local char last_message[TERN_STATUS_MSG_MAX + 1];

int tern_pb_last_status(void)
{
	return last_status;
}

int tern_pb_last_code(void)
{
	return last_code;
}

const char *tern_pb_last_message(void)
{
	return last_message;
}

/* Record a call's outcome: status, and the code and message of the answer
 * (msg NULL: none, the code status maps to). */
static void set_last(int status, int code, const char *msg, size_t len)
{
	last_status = status;
	if (msg == NULL) {
		last_code = tern_status_from_errno(status);
		last_message[0] = '\0';
		return;
	}
	last_code = code;
	if (len > TERN_STATUS_MSG_MAX)
		len = TERN_STATUS_MSG_MAX; /* cannot happen: tern bounds it */
	memcpy(last_message, msg, len);
	last_message[len] = '\0';
}

static void client_invoke(ProtobufCService *service, unsigned mi, const ProtobufCMessage *in,
			  ProtobufCClosure closure, void *closure_data);

static struct pb_client *as_client(ProtobufCService *svc)
{
	if (svc == NULL || svc->invoke != client_invoke)
		return NULL;
	return (struct pb_client *)svc;
}

static void client_free(struct pb_client *cl)
{
	struct pending *p = cl->idle;
	while (p != NULL) {
		struct pending *next = p->next;
		free(p);
		p = next;
	}
	pb_arena_fini(&cl->arena);
	pb_arena_fini(&cl->sync_arena);
	free(cl->recursive);
	free(cl);
}

/* Free a destroyed client once nothing refers to it. */
static void client_maybe_free(struct pb_client *cl)
{
	if (cl->closing && cl->in_flight == 0 && cl->cb_depth == 0 && cl->sync_waiting == 0)
		client_free(cl);
}

static void pending_put(struct pb_client *cl, struct pending *p)
{
	p->next = cl->idle;
	cl->idle = p;
}

static void on_reply(const struct tern_result *res, void *ctx)
{
	struct pending *p = ctx;
	struct pb_client *cl = p->cl;
	cl->in_flight--;
	if (p->kind == PEND_DETACHED || (cl->closing && p->kind != PEND_SYNC)) {
		pending_put(cl, p);
		client_maybe_free(cl);
		return;
	}
	struct tern_pb_arena *a = p->kind == PEND_SYNC ? p->sync->arena : &cl->arena;
	const ProtobufCMethodDescriptor *md = &cl->base.descriptor->methods[p->mi];
	ProtobufCMessage *m = NULL;
	int status = res->status;
	if (status == 0)
		m = pb_decode(md->output, cl->recursive[p->mi], a, res->data, res->len, -EBADMSG, &status);
	cl->cb_depth++;
	/* The server's code and message if it answered with them (a failure
	 * found here, a response that does not decode, has only its errno). */
	if (res->status != 0)
		set_last(status, res->code, res->message, res->message_len);
	else
		set_last(status, 0, NULL, 0);
	switch (p->kind) {
	case PEND_CLOSURE:
		if (p->closure != NULL)
			p->closure(m, p->ctx);
		break;
	case PEND_DONE:
		p->done(status, m, p->ctx);
		break;
	default: /* PEND_SYNC */
		p->sync->msg = m;
		p->sync->status = status;
		p->sync->done = 1;
		if (p->sync->st != NULL) {
			p->sync->st->code = last_code;
			memcpy(p->sync->st->message, last_message, strlen(last_message) + 1);
		}
		break;
	}
	cl->cb_depth--;
	/* Closures may nest (a closure that closes the session runs the other
	 * calls' closures inside it): only the outermost one resets. */
	if (p->kind != PEND_SYNC && cl->cb_depth == 0)
		tern_pb_arena_reset(&cl->arena);
	pending_put(cl, p);
	client_maybe_free(cl);
}

static int start_call(struct pb_client *cl, unsigned mi, const ProtobufCMessage *req,
		      struct pending *tmpl, uint64_t timeout_ns, struct pending **out)
{
	const ProtobufCServiceDescriptor *d = cl->base.descriptor;
	if (cl->closing)
		return -EINVAL;
	if (mi >= d->n_methods)
		return -ENOENT;
	if (req == NULL || req->descriptor != d->methods[mi].input)
		return -EINVAL;
	struct pending *p = cl->idle;
	if (p == NULL) {
		p = malloc(sizeof(*p)); /* warm-up only: records are reused */
		if (p == NULL)
			return -ENOMEM;
	} else {
		cl->idle = p->next;
	}
	size_t n = protobuf_c_message_get_packed_size(req);
	struct tern_msg *m;
	int rc = pb_msg_alloc(cl->ep, n, &m);
	if (rc != 0) {
		pending_put(cl, p);
		return rc;
	}
	if (protobuf_c_message_pack(req, tern_msg_data(m)) != n) {
		tern_msg_free(m);
		pending_put(cl, p);
		return -EINVAL;
	}
	*p = *tmpl;
	p->cl = cl;
	p->mi = mi;
	rc = tern_call(cl->s, (uint16_t)(cl->base_type + mi), m, on_reply, p, timeout_ns);
	if (rc != 0) {
		tern_msg_free(m);
		pending_put(cl, p);
		return rc;
	}
	cl->in_flight++;
	if (out != NULL)
		*out = p;
	return 0;
}

static void client_invoke(ProtobufCService *service, unsigned mi, const ProtobufCMessage *in,
			  ProtobufCClosure closure, void *closure_data)
{
	struct pb_client *cl = (struct pb_client *)service;
	struct pending t = {.kind = PEND_CLOSURE, .closure = closure, .ctx = closure_data};
	int rc = start_call(cl, mi, in, &t, cl->timeout_ns, NULL);
	if (rc == 0)
		return;
	/* Not started: the closure still runs exactly once, now. */
	cl->cb_depth++;
	set_last(rc, 0, NULL, 0);
	if (closure != NULL)
		closure(NULL, closure_data);
	cl->cb_depth--;
	client_maybe_free(cl);
}

static void client_destroy_cb(ProtobufCService *service)
{
	tern_pb_client_destroy(service);
}

int tern_pb_client_create(struct tern_session *s, const ProtobufCServiceDescriptor *desc,
			  uint16_t base_type, ProtobufCService **out)
{
	if (s == NULL || desc == NULL || out == NULL ||
	    desc->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC || desc->n_methods == 0 ||
	    (uint32_t)base_type + desc->n_methods - 1 > UINT16_MAX)
		return -EINVAL;
	struct pb_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	cl->recursive = calloc(desc->n_methods, 1);
	if (cl->recursive == NULL) {
		free(cl);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < desc->n_methods; i++)
		cl->recursive[i] = (uint8_t)pb_type_recursive(desc->methods[i].output);
	cl->base.descriptor = desc;
	cl->base.invoke = client_invoke;
	cl->base.destroy = client_destroy_cb;
	cl->s = s;
	cl->ep = tern_session_ep(s);
	cl->base_type = base_type;
	pb_arena_init(&cl->arena, NULL);
	pb_arena_init(&cl->sync_arena, NULL);
	*out = &cl->base;
	return 0;
}

void tern_pb_client_destroy(ProtobufCService *client)
{
	struct pb_client *cl = as_client(client);
	if (cl == NULL || cl->closing)
		return;
	cl->closing = 1;
	client_maybe_free(cl);
}

int tern_pb_client_set_timeout(ProtobufCService *client, uint64_t timeout_ns)
{
	struct pb_client *cl = as_client(client);
	if (cl == NULL)
		return -EINVAL;
	cl->timeout_ns = timeout_ns;
	return 0;
}

int tern_pb_call(ProtobufCService *client, unsigned method_index, const ProtobufCMessage *req,
		 tern_pb_done_fn done, void *ctx, uint64_t timeout_ns)
{
	struct pb_client *cl = as_client(client);
	if (cl == NULL || done == NULL)
		return -EINVAL;
	struct pending t = {.kind = PEND_DONE, .done = done, .ctx = ctx};
	return start_call(cl, method_index, req, &t, timeout_ns, NULL);
}

static int call_sync(ProtobufCService *client, unsigned method_index, const ProtobufCMessage *req,
		     ProtobufCMessage **resp, struct tern_pb_arena *arena, uint64_t timeout_ns,
		     struct tern_status *st)
{
	struct pb_client *cl = as_client(client);
	if (cl == NULL || resp == NULL)
		return -EINVAL;
	*resp = NULL;
	cl->sync_waiting++; /* closures run while we poll may destroy the client */
	/* The one public way to learn whether we are inside a callback, where
	 * polling (and so waiting) is impossible; it also makes progress. */
	int rc = tern_poll(cl->ep);
	if (rc == -EDEADLK)
		goto out;
	rc = -EINVAL;
	if (cl->closing)
		goto out; /* destroyed by a closure that just ran */
	if (arena == NULL) {
		arena = &cl->sync_arena;
		tern_pb_arena_reset(arena);
	}
	struct sync_out so = {.arena = arena, .st = st};
	struct pending t = {.kind = PEND_SYNC, .sync = &so};
	struct pending *p;
	rc = start_call(cl, method_index, req, &t, timeout_ns, &p);
	if (rc != 0)
		goto out;
	/* Bounded: the call's deadline ends it. */
	while (!so.done) {
		rc = tern_poll_wait(cl->ep, 1000000);
		if (rc < 0) { /* cannot happen: checked above */
			p->kind = PEND_DETACHED;
			so.status = rc;
			break;
		}
	}
	rc = so.status;
	if (rc == 0 && cl->closing && arena == &cl->sync_arena)
		rc = -ECANCELED; /* a closure destroyed the client, and our arena with it */
	if (rc == 0)
		*resp = so.msg;
out:
	cl->sync_waiting--;
	client_maybe_free(cl);
	return rc;
}

int tern_pb_call_sync(ProtobufCService *client, unsigned method_index, const ProtobufCMessage *req,
		      ProtobufCMessage **resp, struct tern_pb_arena *arena, uint64_t timeout_ns)
{
	return call_sync(client, method_index, req, resp, arena, timeout_ns, NULL);
}

int tern_pb_call_sync_status(ProtobufCService *client, unsigned method_index,
			     const ProtobufCMessage *req, ProtobufCMessage **resp,
			     struct tern_pb_arena *arena, uint64_t timeout_ns, struct tern_status *st)
{
	if (st != NULL) {
		st->code = TERN_STATUS_OK;
		st->message[0] = '\0';
	}
	int rc = call_sync(client, method_index, req, resp, arena, timeout_ns, st);
	if (rc != 0 && st != NULL && st->code == TERN_STATUS_OK)
		st->code = tern_status_from_errno(rc); /* not started, or refused here */
	return rc;
}
