/*
 * addr.c — addresses and "k=v" argument lists: parsing and formatting.
 *
 * Control path only (connect, bind, driver open). Host names go through
 * getaddrinfo, so /etc/hosts and DNS work; IPv4 is preferred when a name has
 * both families, since the DPDK driver speaks IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "driver.h"

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535 || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int resolve_host(const char *host, struct tern_addr *out)
{
	struct addrinfo hints, *res = NULL, *ai;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return -EINVAL;
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
	return found ? 0 : -EINVAL;
}

int tern_addr_parse(const char *s, struct tern_addr *out)
{
	char host[256];
	const char *colon;
	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') { /* [ipv6]:port */
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
		if (inet_pton(AF_INET6, host, out->ip) != 1)
			return -EINVAL;
		out->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (strchr(host, ':') != NULL)
			return -EINVAL; /* bare IPv6 needs brackets */
		if (inet_pton(AF_INET, host, out->ip) == 1)
			out->family = AF_INET;
		else if (resolve_host(host, out) != 0)
			return -EINVAL;
	}
	return parse_port(colon + 1, &out->port);
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
