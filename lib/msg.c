/*
 * msg.c — message buffers (msgbufs) from endpoint-owned pools.
 *
 * A msgbuf is one power-of-two chunk: struct tern_msg (its metadata), then
 * the data. Small
 * classes (chunks up to 64 KiB) are carved from 2 MiB regions; larger chunks
 * get a region each. Regions come from the driver (registered, DMA-able
 * memory under DPDK) or mmap, and are only returned when the endpoint is
 * destroyed: after warm-up, alloc and free are a free-list pop and push.
 * The pool never exceeds cfg.mem_limit; an allocation beyond it fails.
 *
 * References: the owner holds one; the tx batch and drivers take more while
 * they read the memory (tern_msg_ref/unref). The chunk returns to its free
 * list when the last reference goes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tern_internal.h"

#define SLAB_BYTES   (2u << 20)
#define SLAB_MAX_CLS 8u /* chunks of 2^(8+8) = 64 KiB and below are carved from slabs */

struct pool_chunk {
	struct pool_chunk *next;
	void *mem;
	size_t len;
	int from_drv;
};

static void *region_alloc(struct tern_ep *ep, size_t len, int *from_drv)
{
	void *p = NULL;
	if (ep->ops->mem_alloc != NULL) {
		p = ep->ops->mem_alloc(ep->drv, len);
		*from_drv = 1;
		return p;
	}
	*from_drv = 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void region_free(struct tern_ep *ep, struct pool_chunk *c)
{
	if (c->from_drv)
		ep->ops->mem_free(c->mem, c->len);
	else
		munmap(c->mem, c->len);
}

int tern_pool_init(struct tern_ep *ep)
{
	memset(&ep->pool, 0, sizeof(ep->pool));
	ep->pool.limit = ep->cfg.mem_limit;
	return 0;
}

void tern_pool_fini(struct tern_ep *ep)
{
	struct pool_chunk *c = ep->pool.chunks;
	while (c != NULL) {
		struct pool_chunk *next = c->next;
		region_free(ep, c);
		free(c);
		c = next;
	}
	memset(&ep->pool, 0, sizeof(ep->pool));
}

static void chunk_init(struct tern_ep *ep, uint8_t *p, unsigned cls)
{
	struct tern_msg *m = (struct tern_msg *)p;
	memset(m, 0, sizeof(*m));
	m->data = p + TERN_MSG_META;
	m->cap = (uint32_t)((1ull << (cls + TERN_MSG_MIN_SHIFT)) - TERN_MSG_META);
	m->cls = (uint8_t)cls;
	m->ep = ep;
	m->next = ep->pool.free[cls];
	ep->pool.free[cls] = m;
}

/* Refill class cls: a new region (control path, rare after warm-up). */
static int pool_grow(struct tern_ep *ep, unsigned cls)
{
	size_t chunk = (size_t)1 << (cls + TERN_MSG_MIN_SHIFT);
	size_t len = cls <= SLAB_MAX_CLS ? SLAB_BYTES : chunk;
	if (ep->pool.reserved + len > ep->pool.limit)
		return -ENOMEM;
	struct pool_chunk *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->mem = region_alloc(ep, len, &c->from_drv);
	if (c->mem == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->len = len;
	c->next = ep->pool.chunks;
	ep->pool.chunks = c;
	ep->pool.reserved += len;
	/* Push in reverse so the first pops are the lowest addresses. */
	for (size_t off = len; off >= chunk; off -= chunk)
		chunk_init(ep, (uint8_t *)c->mem + off - chunk, cls);
	return 0;
}

/* The smallest class whose chunks hold need bytes after the metadata. */
static inline unsigned size_class(size_t need)
{
	size_t total = need + TERN_MSG_META;
	if (total <= ((size_t)1 << TERN_MSG_MIN_SHIFT))
		return 0;
	unsigned shift = 64u - (unsigned)__builtin_clzll((unsigned long long)(total - 1));
	return shift - TERN_MSG_MIN_SHIFT;
}

static inline struct tern_msg *take(struct tern_ep *ep, struct tern_msg *m, unsigned cls,
				    size_t len)
{
	ep->pool.free[cls] = m->next;
	m->next = NULL;
	m->len = (uint32_t)len;
	m->refs = 1;
	ep->pool.in_use++;
	return m;
}

/* The class is empty: a new region first (out of line, so the fast path
 * below stays a leaf). */
__attribute__((noinline)) static struct tern_msg *alloc_slow(struct tern_ep *ep, size_t len,
							    unsigned cls)
{
	if (cls >= TERN_MSG_CLASSES || pool_grow(ep, cls) != 0)
		return NULL;
	return take(ep, ep->pool.free[cls], cls, len);
}

struct tern_msg *tern_msg_alloc(struct tern_ep *ep, size_t len)
{
	/* max_msg_size <= 1 GiB (config_check): the class is below TERN_MSG_CLASSES. */
	if (tern_unlikely(ep == NULL || len > ep->cfg.max_msg_size))
		return NULL;
	struct tern_msg *m;
	if (len <= ((size_t)1 << TERN_MSG_MIN_SHIFT) - TERN_MSG_META) {
		/* The smallest class, where most calls' messages fall: its
		 * list's place a constant, no class to compute. */
		m = ep->pool.free[0];
		if (tern_likely(m != NULL))
			return take(ep, m, 0, len);
		return alloc_slow(ep, len, 0);
	}
	unsigned cls = size_class(len);
	m = ep->pool.free[cls];
	if (tern_unlikely(m == NULL))
		return alloc_slow(ep, len, cls);
	return take(ep, m, cls, len);
}

void tern_msg_ref(struct tern_msg *m)
{
	m->refs++;
}

void tern_msg_unref(struct tern_msg *m)
{
	tern_msg_put(m);
}

void tern_msg_free(struct tern_msg *m)
{
	if (m != NULL)
		tern_msg_put(m);
}

void *tern_msg_data(struct tern_msg *m)
{
	return m->data;
}

size_t tern_msg_len(const struct tern_msg *m)
{
	return m->len;
}

size_t tern_msg_cap(const struct tern_msg *m)
{
	return m->cap;
}

int tern_msg_set_len(struct tern_msg *m, size_t len)
{
	if (m == NULL || len > m->cap)
		return -EINVAL;
	m->len = (uint32_t)len;
	return 0;
}
