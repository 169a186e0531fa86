/*
 * tern_pb_server.c — serving a ProtobufCService on an endpoint.
 *
 * One tern handler per (service, method) type. A request takes a pb_call (a
 * request context with its own arena, the first 4 KiB inline) from the
 * endpoint's pool, is unpacked into it and handed to svc->invoke; the
 * closure packs the reply straight into the response msgbuf, answers, and
 * returns the pb_call to the pool (tern_pb_respond_status() answers with a
 * status code and message instead, and does the same). Nothing is freed per call, so after
 * warm-up nothing is malloc'd.
 *
 * tern has no per-endpoint user data or destroy hook, so the endpoint's
 * state is found through a small registry (control path only, under a
 * mutex); the data path reaches it through the handlers' ctx.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tern_pb_internal.h"

#define POOL_KEEP   256u           /* idle pb_calls an endpoint keeps */
#define CALL_INLINE (4096u - 256u) /* arena bytes inside a pb_call's allocation */
#define CALL_MAGIC  0x7062636cu    /* "pbcl" */

enum call_state {
	CALL_IDLE = 0,    /* in the pool */
	CALL_RUNNING = 1, /* handler invoked, closure not yet called */
	CALL_DONE = 2,    /* answered */
};

struct pb_ep;
struct pb_svc;

/* One request being served: its arena holds the input message. */
struct pb_call {
	uint32_t magic;
	uint8_t state;     /* enum call_state */
	uint8_t in_invoke; /* inside svc->invoke: recycle after it returns */
	unsigned mi;
	struct pb_call *next, *prev; /* pool (next only) or busy list */
	struct pb_ep *pe;
	struct pb_svc *ps;
	struct tern_req *req;
	struct tern_pb_arena arena; /* its first chunk sits right after the struct */
};

/* Where a pb_call's inline chunk starts (the chunk's data is 16-aligned). */
#define CALL_CHUNK_OFF ((sizeof(struct pb_call) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

/* A service served on an endpoint: the ctx of its tern handlers. */
struct pb_svc {
	struct pb_svc *next;
	struct pb_ep *pe;
	ProtobufCService *svc;
	uint16_t base;
	unsigned n;
	uint8_t *recursive; /* per method: input type can nest itself */
};

/* tern_pb's state of one endpoint. */
struct pb_ep {
	struct pb_ep *next; /* registry */
	struct tern_ep *ep;
	struct pb_svc *svcs;
	struct pb_call *idle;
	unsigned nidle;
	struct pb_call *busy;
	struct tern_pb_stats st;
};

/* Endpoints -> state, for tern_pb_serve/ep_release/ep_stats (control path
 * only; the data path reaches its state through the handler's ctx). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pb_ep *reg_head;

static struct pb_ep *reg_find(struct tern_ep *ep, struct pb_ep ***link_out)
{
	struct pb_ep **link = &reg_head;
	while (*link != NULL && (*link)->ep != ep)
		link = &(*link)->next;
	if (link_out != NULL)
		*link_out = link;
	return *link;
}

static struct pb_call *call_get(struct pb_ep *pe)
{
	struct pb_call *c = pe->idle;
	if (c != NULL) {
		pe->idle = c->next;
		pe->nidle--;
	} else {
		c = malloc(CALL_CHUNK_OFF + sizeof(struct chunk) + CALL_INLINE);
		if (c == NULL)
			return NULL;
		pe->st.arena_mallocs++;
		pe->st.arenas++;
		struct chunk *first = (struct chunk *)((char *)c + CALL_CHUNK_OFF);
		first->next = NULL;
		first->cap = CALL_INLINE;
		pb_arena_init(&c->arena, first);
		c->arena.mallocs = &pe->st.arena_mallocs;
		c->pe = pe;
	}
	c->magic = CALL_MAGIC;
	c->state = CALL_RUNNING;
	c->in_invoke = 0;
	c->next = c->prev = NULL;
	return c;
}

static void call_free(struct pb_call *c)
{
	pb_arena_fini(&c->arena);
	free(c);
}

static void call_put(struct pb_ep *pe, struct pb_call *c)
{
	tern_pb_arena_reset(&c->arena);
	c->magic = 0;
	c->state = CALL_IDLE;
	c->req = NULL;
	if (pe->nidle >= POOL_KEEP) {
		pe->st.arenas--;
		call_free(c);
		return;
	}
	c->next = pe->idle;
	pe->idle = c;
	pe->nidle++;
}

static void busy_link(struct pb_ep *pe, struct pb_call *c)
{
	c->prev = NULL;
	c->next = pe->busy;
	if (pe->busy != NULL)
		pe->busy->prev = c;
	pe->busy = c;
	pe->st.in_flight++;
}

static void busy_unlink(struct pb_ep *pe, struct pb_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		pe->busy = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	pe->st.in_flight--;
}

static void answer_error(struct tern_req *req, int err, uint64_t *counter)
{
	(*counter)++;
	(void)tern_respond_error(req, err);
}

/* The closure handed to handlers: pack the reply into the response msgbuf. */
static void reply_closure(const ProtobufCMessage *m, void *data)
{
	struct pb_call *c = data;
	if (c == NULL || c->magic != CALL_MAGIC || c->state != CALL_RUNNING)
		return; /* a second call of the closure: ignored */
	struct pb_ep *pe = c->pe;
	c->state = CALL_DONE;
	busy_unlink(pe, c);
	const ProtobufCMessageDescriptor *out = c->ps->svc->descriptor->methods[c->mi].output;
	if (m == NULL || m->descriptor != out) {
		answer_error(c->req, TERN_PB_EHANDLER, &pe->st.handler_failed);
	} else {
		size_t n = protobuf_c_message_get_packed_size(m);
		struct tern_msg *resp;
		int rc = pb_msg_alloc(tern_req_ep(c->req), n, &resp);
		if (rc != 0) {
			answer_error(c->req, rc,
				     rc == -EMSGSIZE ? &pe->st.too_big : &pe->st.no_memory);
		} else if (protobuf_c_message_pack(m, tern_msg_data(resp)) != n) {
			tern_msg_free(resp);
			answer_error(c->req, TERN_PB_EHANDLER, &pe->st.handler_failed);
		} else {
			rc = tern_respond(c->req, resp); /* takes resp, also on error */
			if (rc == 0)
				pe->st.replies++;
			else if (rc == -EMSGSIZE)
				pe->st.too_big++;
		}
	}
	if (!c->in_invoke)
		call_put(pe, c);
}

typedef void (*generic_handler)(void);

static void on_request(struct tern_req *req, void *ctx)
{
	struct pb_svc *ps = ctx;
	struct pb_ep *pe = ps->pe;
	ProtobufCService *svc = ps->svc;
	const ProtobufCServiceDescriptor *d = svc->descriptor;
	unsigned mi = (unsigned)(tern_req_type(req) - ps->base);
	pe->st.requests++;
	if (mi >= d->n_methods) {
		answer_error(req, -ENOENT, &pe->st.no_method);
		return;
	}
	/* protobuf_c_service_invoke_internal() calls handler slot mi blindly. */
	if (svc->invoke == protobuf_c_service_invoke_internal &&
	    ((const generic_handler *)(svc + 1))[mi] == NULL) {
		answer_error(req, -ENOENT, &pe->st.no_method);
		return;
	}
	struct pb_call *c = call_get(pe);
	if (c == NULL) {
		answer_error(req, -ENOMEM, &pe->st.no_memory);
		return;
	}
	c->ps = ps;
	c->mi = mi;
	c->req = req;
	int err = 0;
	ProtobufCMessage *in = pb_decode(d->methods[mi].input, ps->recursive[mi], &c->arena,
				      tern_req_data(req), tern_req_len(req), -EPROTO, &err);
	if (in == NULL) {
		answer_error(req, err, err == -EPROTO ? &pe->st.bad_request : &pe->st.no_memory);
		call_put(pe, c);
		return;
	}
	busy_link(pe, c);
	c->in_invoke = 1;
	svc->invoke(svc, mi, in, reply_closure, c);
	c->in_invoke = 0;
	if (c->state == CALL_DONE)
		call_put(pe, c); /* answered inside the handler: the common case */
	else
		pe->st.deferred++;
}

int tern_pb_respond_status(void *closure_data, int code, const char *msg)
{
	struct pb_call *c = closure_data;
	if (c == NULL || c->magic != CALL_MAGIC || c->state != CALL_RUNNING)
		return -EINVAL; /* not a live request: answered already, or no tern_pb's */
	int rc = tern_respond_status(c->req, code, msg); /* logs a bad code or message */
	if (rc == -EINVAL)
		return rc; /* still unanswered: the handler answers otherwise */
	struct pb_ep *pe = c->pe;
	c->state = CALL_DONE;
	busy_unlink(pe, c);
	if (rc == 0)
		pe->st.statuses++;
	if (!c->in_invoke)
		call_put(pe, c);
	return rc;
}

struct tern_req *tern_pb_req(void *closure_data)
{
	struct pb_call *c = closure_data;
	if (c == NULL || c->magic != CALL_MAGIC || c->state != CALL_RUNNING)
		return NULL;
	return c->req;
}

void *tern_pb_req_alloc(void *closure_data, size_t n)
{
	struct pb_call *c = closure_data;
	if (c == NULL || c->magic != CALL_MAGIC || c->state != CALL_RUNNING)
		return NULL;
	return tern_pb_arena_alloc(&c->arena, n);
}

/* What a released service's types answer from then on. */
static void on_gone(struct tern_req *req, void *ctx)
{
	(void)ctx;
	(void)tern_respond_error(req, -ENOENT);
}

static void svc_free(struct pb_svc *ps)
{
	free(ps->recursive);
	free(ps);
}

int tern_pb_serve(struct tern_ep *ep, ProtobufCService *svc, uint16_t base_type, unsigned flags)
{
	if (ep == NULL || svc == NULL || svc->descriptor == NULL || svc->invoke == NULL ||
	    (flags != TERN_RRA && flags != TERN_RR))
		return -EINVAL;
	const ProtobufCServiceDescriptor *d = svc->descriptor;
	if (d->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC || d->n_methods == 0 || (uint32_t)base_type + d->n_methods - 1 > UINT16_MAX)
		return -EINVAL;
	struct pb_svc *ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return -ENOMEM;
	ps->recursive = calloc(d->n_methods, 1);
	if (ps->recursive == NULL) {
		free(ps);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < d->n_methods; i++)
		ps->recursive[i] = (uint8_t)pb_type_recursive(d->methods[i].input);
	ps->svc = svc;
	ps->base = base_type;
	ps->n = d->n_methods;

	int rc = 0;
	pthread_mutex_lock(&reg_lock);
	struct pb_ep *pe = reg_find(ep, NULL);
	int fresh = pe == NULL;
	if (fresh) {
		pe = calloc(1, sizeof(*pe));
		if (pe == NULL) {
			rc = -ENOMEM;
			goto err_svc;
		}
		pe->ep = ep;
	}
	for (struct pb_svc *o = pe->svcs; o != NULL; o = o->next) {
		if ((uint32_t)base_type < (uint32_t)o->base + o->n &&
		    (uint32_t)o->base < (uint32_t)base_type + ps->n) {
			rc = -EEXIST;
			goto err_pe;
		}
	}
	ps->pe = pe;
	unsigned i;
	for (i = 0; i < ps->n; i++) {
		rc = tern_handle(ep, (uint16_t)(base_type + i), on_request, ps, flags);
		if (rc != 0)
			goto err_handlers;
	}
	ps->next = pe->svcs;
	pe->svcs = ps;
	if (fresh) {
		pe->next = reg_head;
		reg_head = pe;
	}
	pthread_mutex_unlock(&reg_lock);
	return 0;

err_handlers:
	/* The types registered so far must not keep pointing at ps. */
	while (i-- > 0)
		(void)tern_handle(ep, (uint16_t)(base_type + i), on_gone, NULL, TERN_RRA);
err_pe:
	if (fresh)
		free(pe);
err_svc:
	pthread_mutex_unlock(&reg_lock);
	svc_free(ps);
	return rc;
}

void tern_pb_ep_release(struct tern_ep *ep)
{
	if (ep == NULL)
		return;
	pthread_mutex_lock(&reg_lock);
	struct pb_ep **link;
	struct pb_ep *pe = reg_find(ep, &link);
	if (pe != NULL)
		*link = pe->next;
	pthread_mutex_unlock(&reg_lock);
	if (pe == NULL)
		return;
	while (pe->busy != NULL) {
		struct pb_call *c = pe->busy;
		busy_unlink(pe, c);
		(void)tern_respond_error(c->req, -ECANCELED);
		call_free(c);
	}
	while (pe->idle != NULL) {
		struct pb_call *c = pe->idle;
		pe->idle = c->next;
		call_free(c);
	}
	while (pe->svcs != NULL) {
		struct pb_svc *ps = pe->svcs;
		pe->svcs = ps->next;
		for (unsigned i = 0; i < ps->n; i++)
			(void)tern_handle(ep, (uint16_t)(ps->base + i), on_gone, NULL, TERN_RRA);
		svc_free(ps);
	}
	free(pe);
}

int tern_pb_ep_stats(struct tern_ep *ep, struct tern_pb_stats *out)
{
	if (ep == NULL || out == NULL)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	struct pb_ep *pe = reg_find(ep, NULL);
	if (pe != NULL)
		*out = pe->st;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&reg_lock);
	return 0;
}
