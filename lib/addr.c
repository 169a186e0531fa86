/*
 * addr.c — addresses and "k=v" argument lists: parsing and formatting.
 *
 * Control path only (connect, bind, driver open). Host names go through
 * getaddrinfo, so /etc/hosts and DNS work; IPv4 is preferred when a name has
 * both families, since the DPDK driver speaks IPv4. A failed parse says why
 * in a sentence that names the address (callers log it): -EINVAL for a
 * malformed address (no port, port not a number or over 65535, a dotted
 * host that is no IPv4 address), -ENXIO for a name that does not resolve,
 * -EAGAIN when the resolver failed for now. The port is checked before the
 * host is looked up, so a malformed address never reaches DNS.
 *
 * It also owns the one parser of a driver argument's number
 * (tern_arg_uint): every driver's "k=v" numbers go through it, so they all
 * accept the same syntax and say the same things when it is wrong.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "driver.h"

/* why: where a failing parse says what is wrong (may be NULL). */
struct why {
	char *buf;
	size_t len;
};

static int fail(const struct why *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(const struct why *w, int err, const char *fmt, ...)
{
	if (w->buf != NULL && w->len != 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->buf, w->len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int parse_port(const char *addr, const char *s, uint16_t *out, const struct why *w)
{
	char *end;
	if (*s == '\0')
		return fail(w, -EINVAL, "\"%s\": no port after the colon", addr);
	if (!isdigit((unsigned char)s[0]))
		return fail(w, -EINVAL, "\"%s\": port \"%s\" is not a number", addr, s);
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0')
		return fail(w, -EINVAL, "\"%s\": port \"%s\" is not a number", addr, s);
	if (errno != 0 || v > 65535)
		return fail(w, -EINVAL, "\"%s\": port %s is out of range (0..65535)", addr, s);
	*out = (uint16_t)v;
	return 0;
}

/* Only digits and dots: meant as an IPv4 address, never looked up as a name
 * (getaddrinfo would send "300.1.1.1" to DNS, or read "1.2.3" as 1.2.0.3). */
static int dotted(const char *host)
{
	for (const char *p = host; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return 0;
	return 1;
}

static int resolve_host(const char *addr, const char *host, struct tern_addr *out,
			const struct why *w)
{
	struct addrinfo hints, *res = NULL, *ai;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		int err = errno;
		switch (rc) {
		case EAI_AGAIN:
			return fail(w, -EAGAIN, "\"%s\": cannot resolve \"%s\" now: %s (try again)",
				    addr, host, gai_strerror(rc));
		case EAI_MEMORY:
			return fail(w, -ENOMEM, "\"%s\": cannot resolve \"%s\": %s", addr, host,
				    gai_strerror(rc));
		case EAI_SYSTEM:
			if (err != 0)
				return fail(w, -err, "\"%s\": cannot resolve \"%s\": %s", addr, host,
					    strerror(err));
			break;
		default:
			break;
		}
		return fail(w, -ENXIO, "\"%s\": cannot resolve \"%s\": %s", addr, host,
			    gai_strerror(rc));
	}
	int found = 0;
	for (int pass = 0; pass < 2 && !found; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (pass == 0 && ai->ai_family == AF_INET) {
				const struct sockaddr_in *sin = (const void *)ai->ai_addr;
				out->family = AF_INET;
				memcpy(out->ip, &sin->sin_addr, 4);
				found = 1;
				break;
			}
			if (pass == 1 && ai->ai_family == AF_INET6) {
				const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
				out->family = AF_INET6;
				memcpy(out->ip, &sin6->sin6_addr, 16);
				found = 1;
				break;
			}
		}
	}
	freeaddrinfo(res);
	if (!found)
		return fail(w, -ENXIO, "\"%s\": \"%s\" has no IPv4 or IPv6 address", addr, host);
	return 0;
}

int tern_addr_parse_why(const char *s, struct tern_addr *out, char *why, size_t why_len)
{
	const struct why w = {why, why_len};
	char host[256];
	const char *colon;
	if (why != NULL && why_len != 0)
		why[0] = '\0';
	if (s == NULL || out == NULL)
		return fail(&w, -EINVAL, "no address given");
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') { /* [ipv6]:port */
		const char *close = strchr(s, ']');
		if (close == NULL)
			return fail(&w, -EINVAL, "\"%s\": no ']' after the IPv6 address", s);
		if (close[1] != ':')
			return fail(&w, -EINVAL, "\"%s\": no port; expected [ipv6]:port", s);
		if ((size_t)(close - s - 1) >= sizeof(host))
			return fail(&w, -EINVAL, "\"%s\": address too long", s);
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
		if (inet_pton(AF_INET6, host, out->ip) != 1)
			return fail(&w, -EINVAL, "\"%s\": \"%s\" is not an IPv6 address", s, host);
		out->family = AF_INET6;
		return parse_port(s, colon + 1, &out->port, &w);
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		return fail(&w, -EINVAL,
			    "\"%s\": no port; expected host:port (e.g. 127.0.0.1:31850) or [ipv6]:port",
			    s);
	if (colon == s)
		return fail(&w, -EINVAL, "\"%s\": no host before the port", s);
	if ((size_t)(colon - s) >= sizeof(host))
		return fail(&w, -EINVAL, "\"%s\": host name too long", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strchr(host, ':') != NULL)
		return fail(&w, -EINVAL, "\"%s\": an IPv6 address needs brackets: [ipv6]:port", s);
	/* The port first: a malformed address is never sent to DNS. */
	int rc = parse_port(s, colon + 1, &out->port, &w);
	if (rc != 0)
		return rc;
	if (inet_pton(AF_INET, host, out->ip) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (dotted(host))
		return fail(&w, -EINVAL, "\"%s\": \"%s\" is not an IPv4 address (four numbers 0..255)",
			    s, host);
	return resolve_host(s, host, out, &w);
}

int tern_addr_parse(const char *s, struct tern_addr *out)
{
	return tern_addr_parse_why(s, out, NULL, 0);
}

int tern_addr_eq(const struct tern_addr *a, const struct tern_addr *b)
{
	return tern_addr_same(a, b);
}

char *tern_addr_str(const struct tern_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (buf == NULL || len == 0)
		return buf;
	if (a->family == AF_INET && inet_ntop(AF_INET, a->ip, ip, sizeof(ip)) != NULL)
		snprintf(buf, len, "%s:%u", ip, a->port);
	else if (a->family == AF_INET6 && inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)) != NULL)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "?:%u", a->port);
	return buf;
}

int tern_kv_parse(const char *s, int (*fn)(const char *k, const char *v, void *ctx), void *ctx)
{
	char key[64], val[512];
	if (s == NULL)
		return 0;
	while (*s != '\0') {
		size_t kn = 0, vn = 0;
		while (*s == ',' || *s == ' ')
			s++;
		if (*s == '\0')
			break;
		while (*s != '\0' && *s != '=' && *s != ',') {
			if (kn + 1 >= sizeof(key))
				return -EINVAL;
			key[kn++] = *s++;
		}
		key[kn] = '\0';
		if (kn == 0)
			return -EINVAL;
		if (*s == '=') {
			s++;
			while (*s != '\0' && *s != ',') {
				if (vn + 1 >= sizeof(val))
					return -EINVAL;
				val[vn++] = *s++;
			}
		}
		val[vn] = '\0';
		int rc = fn(key, val, ctx);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* What is wrong with a number (NULL: nothing); *out set when nothing is. */
static const char *arg_uint(const char *v, uint64_t min, uint64_t max, unsigned flags,
			    uint64_t *out)
{
	char *end;
	unsigned shift = 0;
	if (v == NULL || v[0] == '\0')
		return "no value";
	if (v[0] < '0' || v[0] > '9')
		return "not a decimal number";
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0)
		return "too large";
	if (flags & TERN_ARG_KMG) {
		char c = (char)tolower((unsigned char)*end);
		shift = c == 'k' ? 10 : c == 'm' ? 20 : c == 'g' ? 30 : 0;
		if (shift != 0)
			end++;
	}
	if (*end != '\0')
		return flags & TERN_ARG_KMG ? "not a number with an optional k, m or g"
					    : "not a decimal number";
	if (x > (max >> shift))
		return "too large";
	if (((uint64_t)x << shift) < min)
		return "too small";
	*out = (uint64_t)x << shift;
	return NULL;
}

int tern_arg_uint(const struct tern_drv *log, const char *key, const char *v, uint64_t min,
		  uint64_t max, unsigned flags, uint64_t *out)
{
	const char *why = arg_uint(v, min, max, flags, out);
	if (why == NULL)
		return 0;
	tern_drv_log(log, TERN_LOG_ERR, "%s: bad value \"%s\" for %s: %s (%llu..%llu%s)",
		     log != NULL && log->ops != NULL ? log->ops->name : "driver", v != NULL ? v : "",
		     key != NULL ? key : "?", why, (unsigned long long)min, (unsigned long long)max,
		     flags & TERN_ARG_KMG ? ", k/m/g: 2^10/2^20/2^30" : "");
	return -EINVAL;
}

int tern_arg_u32(const struct tern_drv *log, const char *key, const char *v, uint32_t min,
		 uint32_t max, unsigned flags, uint32_t *out)
{
	uint64_t x;
	int rc = tern_arg_uint(log, key, v, min, max, flags, &x);
	if (rc == 0)
		*out = (uint32_t)x;
	return rc;
}
