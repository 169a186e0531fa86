/*
 * prefetch.h — fetching a payload's cache lines ahead of its copy.
 *
 * The bulk copies (the dpdk driver's copy of a request's source into the
 * mbuf, serve.c's copy of a packet into the receive buffer) go through
 * megabytes touched once per call, and stall on memory where the hardware
 * prefetchers stop (at 4 KiB pages; between two packets' copies there is
 * other work). Their callers prefetch the packet two ahead with this.
 */
#ifndef TERN_PREFETCH_H
#define TERN_PREFETCH_H

#include <stdint.h>

/* Payloads shorter than this are not worth the instructions. */
#define TERN_PREFETCH_MIN 512u

/* Every 64-byte line of [p, p + len) (len > 0), for reading or (write != 0,
 * a constant) for writing. Four lines a turn: the loop's own instructions,
 * not the prefetches, were most of its cost (callgrind). */
static inline void tern_prefetch_range(const void *p, uint32_t len, int write)
{
	const uint8_t *q = p, *end = q + len;
	for (; q + 256 <= end; q += 256) {
		if (write) {
			__builtin_prefetch(q, 1, 3);
			__builtin_prefetch(q + 64, 1, 3);
			__builtin_prefetch(q + 128, 1, 3);
			__builtin_prefetch(q + 192, 1, 3);
		} else {
			__builtin_prefetch(q, 0, 3);
			__builtin_prefetch(q + 64, 0, 3);
			__builtin_prefetch(q + 128, 0, 3);
			__builtin_prefetch(q + 192, 0, 3);
		}
	}
	for (; q < end; q += 64) {
		if (write)
			__builtin_prefetch(q, 1, 3);
		else
			__builtin_prefetch(q, 0, 3);
	}
	/* the last line, when p is not line-aligned */
	if (write)
		__builtin_prefetch(end - 1, 1, 3);
	else
		__builtin_prefetch(end - 1, 0, 3);
}

#endif
