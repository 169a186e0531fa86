/*
 * util.h — small parsing helpers blkstore's programs share.
 */
#ifndef BLKSTORE_UTIL_H
#define BLKSTORE_UTIL_H

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * A byte count: decimal digits, optionally followed by one binary suffix
 * K, M, G or T (KiB .. TiB; k m g t too), nothing else. 0 and *out set, or
 * -EINVAL (not a number, trailing junk) / -ERANGE (over 2^64 - 1).
 */
static inline int parse_size(const char *s, uint64_t *out)
{
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*end != '\0' && end[1] != '\0')
		return -EINVAL;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

#endif /* BLKSTORE_UTIL_H */
