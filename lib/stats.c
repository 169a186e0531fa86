/*
 * stats.c — endpoint counters: the core's own plus the driver's, read
 * through one call. Counting is plain increments on the owner thread.
 */
#include <stdio.h>
#include <string.h>

#include "tern_internal.h"

static const char *const drop_names[TERN_DROP_MAX] = {
	[TERN_DROP_SHORT] = "short",
	[TERN_DROP_VERSION] = "version",
	[TERN_DROP_TYPE] = "type",
	[TERN_DROP_LENGTH] = "length",
	[TERN_DROP_TOO_BIG] = "too_big",
	[TERN_DROP_PKT_NUM] = "pkt_num",
	[TERN_DROP_SESSION] = "session",
	[TERN_DROP_TOKEN] = "token",
	[TERN_DROP_STALE] = "stale",
	[TERN_DROP_DUP] = "dup",
	[TERN_DROP_UNEXPECTED] = "unexpected",
	[TERN_DROP_NOMEM] = "nomem",
	[TERN_DROP_BUSY] = "busy",
	[TERN_DROP_FRAME] = "frame",
	[TERN_DROP_CHECKSUM] = "checksum",
	[TERN_DROP_AUTH] = "auth",
	[TERN_DROP_REPLAY] = "replay",
	[TERN_DROP_HANDSHAKE] = "handshake",
	[TERN_DROP_RATELIMIT] = "ratelimit",
	[TERN_DROP_STATUS] = "status",
};

const char *tern_drop_name(int reason)
{
	if (reason < 0 || reason >= TERN_DROP_MAX)
		return "unknown";
	return drop_names[reason];
}

int tern_ep_stats(const struct tern_ep *ep, struct tern_stats *out)
{
	if (ep == NULL || out == NULL)
		return -EINVAL;
	*out = ep->st;
	const struct tern_drv_stats *d = &ep->drv->stats;
	out->rx_pkts = d->rx_pkts;
	out->rx_bytes = d->rx_bytes;
	out->tx_pkts = d->tx_pkts;
	out->tx_bytes = d->tx_bytes;
	out->drops[TERN_DROP_FRAME] += d->rx_drop_frame + d->rx_drop_trunc + d->rx_drop_nomem;
	out->tx_drops += d->tx_drop_full + d->tx_drop_noroute + d->tx_drop_error;
	out->copied_bytes += d->tx_copied_bytes;
	out->msgs_in_use = ep->pool.in_use;
	out->msg_bytes_reserved = ep->pool.reserved;
	return 0;
}

/* Append one "name value" line; n counts what would have been written. */
static void put(char *buf, size_t len, size_t *n, const char *name, uint64_t v)
{
	char line[64];
	int w = snprintf(line, sizeof(line), "%-22s %llu\n", name, (unsigned long long)v);
	if (w <= 0)
		return;
	if (*n < len - 1) {
		size_t room = len - 1 - *n;
		size_t k = (size_t)w < room ? (size_t)w : room;
		memcpy(buf + *n, line, k);
		buf[*n + k] = '\0';
	}
	*n += (size_t)w;
}

int tern_stats_format(const struct tern_stats *st, char *buf, size_t len)
{
	size_t n = 0;
	if (st == NULL || buf == NULL || len == 0)
		return -EINVAL;
	buf[0] = '\0';
#define PUT(field) put(buf, len, &n, #field, st->field)
	PUT(rx_pkts);
	PUT(rx_bytes);
	PUT(tx_pkts);
	PUT(tx_bytes);
	PUT(tx_drops);
	for (int i = 0; i < TERN_DROP_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "drop_%s", drop_names[i]);
		put(buf, len, &n, name, st->drops[i]);
	}
	PUT(calls_started);
	PUT(calls_ok);
	PUT(calls_failed);
	PUT(calls_timeout);
	PUT(calls_reset);
	PUT(requests_executed);
	PUT(requests_dup);
	PUT(responses_error);
	PUT(busy_rejects);
	PUT(retransmits);
	PUT(rto_events);
	PUT(acks_sent);
	PUT(acks_rx);
	PUT(resets_sent);
	PUT(resets_rx);
	PUT(sessions_open);
	PUT(sessions_accepted);
	PUT(sessions_connected);
	PUT(sessions_closed);
	PUT(sessions_dead);
	PUT(cached_responses);
	PUT(msgs_in_use);
	PUT(msg_bytes_reserved);
	PUT(copied_bytes);
	PUT(zc_rx);
	PUT(hs_ok);
	PUT(hs_refused);
	PUT(hs_cookies_sent);
	PUT(hs_cookies_rx);
	PUT(rekeys);
	PUT(connects_sent);
	PUT(pings_sent);
	PUT(unreach_rx);
	PUT(unreach_ignored);
#undef PUT
	return (int)n;
}
