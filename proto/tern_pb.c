/*
 * tern_pb.c — protobuf-c services over tern: what the client
 * (tern_pb_client.c) and the server (tern_pb_server.c) share: arenas, the
 * hostile-nesting guard, decoding, msgbuf allocation.
 *
 * Arenas: bump allocators for protobuf-c whose free is a no-op; reset, not
 * freed, between uses. An arena that had to grow during a use replaces its
 * extra chunks at the reset by one chunk the size of that whole use (up to
 * TERN_PB_ARENA_KEEP), so a steady workload stops calling malloc after one
 * call of each size.
 *
 * Hostile input: protobuf-c's unpack recurses once per nesting level with
 * no limit, so for message types that can nest themselves (found once, when
 * a client or service is set up) the wire bytes are first walked,
 * depth-bounded, without allocating. An arena is capped per decode
 * (ARENA_FACTOR x the message size + 1 MiB), so a small message cannot
 * expand into gigabytes (repeated empty sub-messages cost 2 bytes on the
 * wire and a struct each once unpacked).
 */
#include <stdlib.h>
#include <string.h>

#include "tern_pb_internal.h"

#define ARENA_FIRST    4096u      /* first chunk of a grown arena */
#define ARENA_STEP_MAX (1u << 20) /* geometric growth stops here */
#define ARENA_FACTOR   32u        /* decode budget: 32 x size + 1 MiB */
#define ARENA_SLACK    (1u << 20)
#define MAX_DEPTH      100u       /* nesting accepted in recursive types (as protobuf C++) */
#define SCHEMA_PATH    64u        /* deeper schemas are treated as recursive */
#define SCHEMA_SEEN    256u

/* --- arenas ------------------------------------------------------------------------ */

static void *arena_pa_alloc(void *data, size_t n)
{
	return tern_pb_arena_alloc(data, n);
}

static void arena_pa_free(void *data, void *p)
{
	(void)data; /* everything goes at the reset; unpack frees temporaries here */
	(void)p;
}

void pb_arena_init(struct tern_pb_arena *a, struct chunk *fixed)
{
	memset(a, 0, sizeof(*a));
	a->pa.alloc = arena_pa_alloc;
	a->pa.free = arena_pa_free;
	a->pa.allocator_data = a;
	a->head = a->cur = a->fixed = fixed;
	a->limit = SIZE_MAX;
	a->mallocs = &a->own_mallocs;
}

void *tern_pb_arena_alloc(struct tern_pb_arena *a, size_t n)
{
	if (a == NULL || n > SIZE_MAX / 2)
		goto fail;
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	if (n > a->limit - a->total && a->limit != SIZE_MAX)
		goto fail;
	for (;;) {
		if (a->cur != NULL && n <= a->cur->cap - a->used) {
			void *p = a->cur->data + a->used;
			a->used += n;
			a->total += n;
			return p;
		}
		if (a->cur == NULL || a->cur->next == NULL)
			break;
		a->cur = a->cur->next; /* a chunk kept from an earlier use */
		a->used = 0;
	}
	size_t cap = ARENA_FIRST;
	if (a->cur != NULL)
		cap = a->cur->cap >= ARENA_STEP_MAX ? ARENA_STEP_MAX : a->cur->cap * 2;
	if (cap < n)
		cap = n;
	struct chunk *c = malloc(sizeof(*c) + cap);
	if (c == NULL)
		goto fail;
	(*a->mallocs)++;
	a->grew = 1;
	c->next = NULL;
	c->cap = cap;
	if (a->cur == NULL)
		a->head = c;
	else
		a->cur->next = c;
	a->cur = c;
	a->used = n;
	a->total += n;
	return c->data;
fail:
	if (a != NULL)
		a->failed = 1;
	return NULL;
}

/* Free every chunk but the inline one. */
static void arena_trim(struct tern_pb_arena *a)
{
	struct chunk *c = a->head;
	while (c != NULL) {
		struct chunk *next = c->next;
		if (c != a->fixed)
			free(c);
		c = next;
	}
	a->head = a->fixed;
	if (a->fixed != NULL)
		a->fixed->next = NULL;
}

void tern_pb_arena_reset(struct tern_pb_arena *a)
{
	if (a == NULL)
		return;
	if (a->grew) {
		/* This use needed more chunks: replace them with one that holds
		 * all of it (total bytes, so the same sequence of allocations
		 * fits without a malloc next time), if that is within the keep
		 * limit. Sizes seen converge after one use each. */
		size_t want = (a->total + ARENA_FIRST - 1) & ~(size_t)(ARENA_FIRST - 1);
		arena_trim(a);
		struct chunk *c = want <= TERN_PB_ARENA_KEEP ? malloc(sizeof(*c) + want) : NULL;
		if (c != NULL) {
			(*a->mallocs)++;
			c->next = NULL;
			c->cap = want;
			if (a->head == NULL)
				a->head = c;
			else
				a->head->next = c;
		}
	}
	a->cur = a->head;
	a->used = 0;
	a->total = 0;
	a->limit = SIZE_MAX;
	a->failed = 0;
	a->grew = 0;
}

void pb_arena_fini(struct tern_pb_arena *a)
{
	arena_trim(a);
	a->cur = a->head;
	a->used = 0;
}

int tern_pb_arena_create(struct tern_pb_arena **out)
{
	if (out == NULL)
		return -EINVAL;
	struct tern_pb_arena *a = malloc(sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	pb_arena_init(a, NULL);
	*out = a;
	return 0;
}

void tern_pb_arena_destroy(struct tern_pb_arena *a)
{
	if (a == NULL)
		return;
	pb_arena_fini(a);
	free(a);
}

ProtobufCAllocator *tern_pb_arena_allocator(struct tern_pb_arena *a)
{
	return a != NULL ? &a->pa : NULL;
}

/* --- hostile nesting ------------------------------------------------------------------ */

/* Can a message of type d contain (transitively) a message of its own type?
 * DFS over the schema; types proven acyclic are remembered in seen. */
struct schema_walk {
	const ProtobufCMessageDescriptor *path[SCHEMA_PATH];
	const ProtobufCMessageDescriptor *seen[SCHEMA_SEEN];
	unsigned nseen;
};

static int schema_recursive(struct schema_walk *w, const ProtobufCMessageDescriptor *d,
			    unsigned depth)
{
	for (unsigned i = 0; i < depth; i++)
		if (w->path[i] == d)
			return 1;
	for (unsigned i = 0; i < w->nseen; i++)
		if (w->seen[i] == d)
			return 0;
	if (depth == SCHEMA_PATH)
		return 1; /* too deep to tell: bound it at run time */
	w->path[depth] = d;
	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		if (fd->type == PROTOBUF_C_TYPE_MESSAGE && schema_recursive(w, fd->descriptor, depth + 1))
			return 1;
	}
	if (w->nseen < SCHEMA_SEEN)
		w->seen[w->nseen++] = d;
	return 0;
}

int pb_type_recursive(const ProtobufCMessageDescriptor *d)
{
	struct schema_walk w;
	w.nseen = 0;
	return schema_recursive(&w, d, 0);
}

static size_t get_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

/* Walk the wire bytes of a d without decoding them: 0 if sub-messages nest
 * deeper than MAX_DEPTH. Malformed bytes pass: unpack rejects them. */
static int depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
		    unsigned depth)
{
	if (depth > MAX_DEPTH)
		return 0;
	size_t i = 0;
	while (i < len) {
		uint64_t key, v;
		size_t n = get_varint(p + i, len - i, &key);
		if (n == 0)
			return 1;
		i += n;
		switch (key & 7) {
		case 0: /* varint */
			n = get_varint(p + i, len - i, &v);
			if (n == 0)
				return 1;
			i += n;
			break;
		case 1: /* 64-bit */
			if (len - i < 8)
				return 1;
			i += 8;
			break;
		case 5: /* 32-bit */
			if (len - i < 4)
				return 1;
			i += 4;
			break;
		case 2: { /* length-delimited: a sub-message if the field says so */
			n = get_varint(p + i, len - i, &v);
			if (n == 0 || v > len - i - n)
				return 1;
			i += n;
			const ProtobufCFieldDescriptor *fd = NULL;
			if ((key >> 3) <= UINT32_MAX)
				fd = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
			if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !depth_ok(fd->descriptor, p + i, (size_t)v, depth + 1))
				return 0;
			i += (size_t)v;
			break;
		}
		default: /* groups: protobuf-c rejects them */
			return 1;
		}
	}
	return 1;
}

/* Unpack len bytes as d into a. @return the message, or NULL with *err set:
 * bad_err if the bytes do not decode, -ENOMEM if the arena ran out. */
ProtobufCMessage *pb_decode(const ProtobufCMessageDescriptor *d, int recursive,
			    struct tern_pb_arena *a, const void *data, size_t len, int bad_err,
			    int *err)
{
	if (recursive && !depth_ok(d, data, len, 0)) {
		*err = bad_err;
		return NULL;
	}
	size_t budget = len > (SIZE_MAX - ARENA_SLACK) / ARENA_FACTOR
		? SIZE_MAX
		: len * ARENA_FACTOR + ARENA_SLACK;
	a->limit = budget > SIZE_MAX - a->total ? SIZE_MAX : a->total + budget;
	a->failed = 0;
	ProtobufCMessage *m = protobuf_c_message_unpack(d, &a->pa, len, data);
	a->limit = SIZE_MAX;
	if (m == NULL)
		*err = a->failed ? -ENOMEM : bad_err;
	return m;
}

/* A msgbuf of n bytes; -EMSGSIZE when n is what the endpoint cannot hold. */
int pb_msg_alloc(struct tern_ep *ep, size_t n, struct tern_msg **out)
{
	*out = tern_msg_alloc(ep, n);
	if (*out != NULL)
		return 0;
	struct tern_msg *probe = tern_msg_alloc(ep, 0);
	if (probe == NULL)
		return -ENOMEM;
	tern_msg_free(probe);
	return -EMSGSIZE;
}
