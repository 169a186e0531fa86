/*
 * ep.c — endpoints: configuration, creation and teardown, handler
 * registration, the poll loop, and work posted from other threads.
 *
 * One pass of tern_poll(): read the clock once, flush what callers queued
 * since the last pass, receive and dispatch one burst (handlers and
 * continuations run here), drain posted work, run the loss scan when due
 * (every scan_ns) and the session scan when due, flush the transmit batch.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "call.h"
#include "cc.h"
#include "rx.h"
#include "session.h"
#include "timers.h"
#include "tx.h"

#define MS TERN_MS
#define S  TERN_S

void tern_ep_config_init(struct tern_ep_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->driver = "udp";
	cfg->busy_poll = 1;
	cfg->max_sessions = 256;
	cfg->slots = 8;
	cfg->credits = 32;
	cfg->max_msg_size = 8u << 20;
	cfg->backlog_limit = 4096;
	cfg->server_queue_limit = 4096;
	cfg->max_retries = 12;
	cfg->mem_limit = 1ull << 30;
	cfg->call_timeout_ns = 10 * S;
	cfg->connect_timeout_ns = 3 * S;
	cfg->keepalive_ns = 180 * S;
	cfg->session_timeout_ns = 5 * S;
}

static int is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static int config_check(const struct tern_ep_config *c)
{
	if (!is_pow2(c->slots) || c->slots > TERN_MAX_SLOTS)
		return -EINVAL;
	if (c->credits == 0 || c->credits > TERN_MAX_CREDITS)
		return -EINVAL;
	if (c->max_sessions == 0 || c->max_sessions > TERN_SESSION_NONE)
		return -EINVAL; /* ids 0..65534: 0xffff is "no session" on the wire */
	if (c->max_msg_size == 0 || c->max_msg_size > (1u << 30))
		return -EINVAL;
	if (c->mtu != 0 && (c->mtu < TERN_HDR_LEN + 64 || c->mtu > 65507))
		return -EINVAL;
	if (c->call_timeout_ns == 0 || c->connect_timeout_ns == 0 || c->keepalive_ns == 0 ||
	    c->session_timeout_ns == 0 || c->mem_limit == 0)
		return -EINVAL;
	if (c->rto_min_ns != 0 && c->rto_max_ns != 0 && c->rto_min_ns > c->rto_max_ns)
		return -EINVAL;
	/* The acceptor must hear the opener's keepalive before it gives up. */
	if (c->idle_timeout_ns != 0 && c->idle_timeout_ns <= c->keepalive_ns)
		return -EINVAL;
	return 0;
}

static int open_driver(struct tern_ep *ep, const struct tern_ep_config *cfg)
{
	struct tern_drv_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.name = cfg->driver;
	dc.faults = cfg->faults;
	dc.bind = cfg->bind;
	dc.args = cfg->driver_args;
	dc.eal = cfg->eal;
	dc.queue = cfg->queue;
	dc.busy_poll = cfg->busy_poll;
	dc.mtu = cfg->mtu;
	dc.log = cfg->log;
	dc.log_ctx = cfg->log_ctx;
	int rc = tern_drv_open(&dc, &ep->drv);
	if (rc == 0)
		ep->ops = ep->drv->ops;
	return rc;
}

int tern_ep_create(const struct tern_ep_config *cfg, struct tern_ep **out)
{
	int rc;
	if (cfg == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	rc = config_check(cfg);
	if (rc != 0)
		return rc;
	struct tern_ep *ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return -ENOMEM;
	ep->cfg = *cfg;
	ep->cfg.driver = NULL; /* strings are not kept past this call */
	ep->cfg.bind = ep->cfg.driver_args = ep->cfg.eal = ep->cfg.faults = NULL;
	ep->cfg.key_file = ep->cfg.peer_key_file = ep->cfg.allow_file = ep->cfg.psk_file = NULL;

	rc = open_driver(ep, cfg);
	if (rc != 0)
		goto err_free;
	const struct tern_drv_info *di = &ep->drv->info;
	ep->mtu = di->mtu;
	if (cfg->mtu != 0 && cfg->mtu < ep->mtu)
		ep->mtu = cfg->mtu;
	if (ep->mtu < TERN_HDR_LEN + 64 || ep->mtu > 65535) {
		rc = -EINVAL;
		goto err_drv;
	}
	ep->dpp = tern_dpp(ep->mtu, TERN_PROT_NONE);

	ep->rto_min_ns = cfg->rto_min_ns ? cfg->rto_min_ns : di->rto_min_ns ? di->rto_min_ns : MS;
	ep->rto_max_ns = cfg->rto_max_ns ? cfg->rto_max_ns : di->rto_max_ns ? di->rto_max_ns : S;
	if (ep->rto_max_ns < ep->rto_min_ns)
		ep->rto_max_ns = ep->rto_min_ns;
	ep->ack_delay_ns = cfg->ack_delay_ns ? cfg->ack_delay_ns : 4 * ep->rto_min_ns;
	ep->cc_target_ns = !(cfg->flags & TERN_EP_CC) ? 0
			   : cfg->cc_target_ns ? cfg->cc_target_ns : ep->rto_min_ns / 4;
	ep->keepalive_ns = cfg->keepalive_ns;
	ep->idle_timeout_ns = cfg->idle_timeout_ns ? cfg->idle_timeout_ns
			      : (cfg->keepalive_ns > UINT64_MAX / 3 ? UINT64_MAX : 3 * cfg->keepalive_ns);
	/* 64 probes in a session timeout: under 50% loss each way (a probe's
	 * round trip fails 3 times in 4) a live peer is missed with
	 * probability 0.75^64 ~ 1e-8. */
	ep->probe_ns = cfg->session_timeout_ns / 64 > ep->rto_min_ns ? cfg->session_timeout_ns / 64
								     : ep->rto_min_ns;

	do {
		if (getrandom(&ep->epoch, sizeof(ep->epoch), 0) != sizeof(ep->epoch)) {
			rc = -EIO;
			goto err_drv;
		}
	} while (ep->epoch == 0);

	rc = tern_pool_init(ep);
	if (rc != 0)
		goto err_drv;
	rc = tern_sec_init(ep, cfg); /* reads the key files */
	if (rc != 0)
		goto err_sec;
	rc = -ENOMEM;
	ep->sessions = calloc(cfg->max_sessions, sizeof(*ep->sessions)); /* pointers */
	ep->free_ids = calloc(cfg->max_sessions, sizeof(*ep->free_ids));
	uint32_t hsz = 16;
	while (hsz < 2 * cfg->max_sessions)
		hsz <<= 1;
	ep->hs_table = calloc(hsz, sizeof(*ep->hs_table));
	ep->hs_mask = hsz - 1;
	if (ep->sessions == NULL || ep->free_ids == NULL || ep->hs_table == NULL)
		goto err_pool;
	for (uint32_t i = 0; i < cfg->max_sessions; i++)
		ep->free_ids[i] = (uint16_t)(cfg->max_sessions - 1 - i);
	ep->nfree = cfg->max_sessions;
	ep->now = tern_now_ns();
	ep->rng = ep->epoch | 1;
	tern_wheel_init(&ep->wheel, TERN_TIMER_TICK_SHIFT, ep->now);
	ep->rx_burst_ns = ep->rx_clear_ns = ep->now;
	*out = ep;
	return 0;

err_pool:
	free(ep->sessions);
	free(ep->free_ids);
	free(ep->hs_table);
err_sec:
	tern_sec_fini(ep);
	tern_pool_fini(ep);
err_drv:
	ep->ops->close(ep->drv);
err_free:
	free(ep);
	return rc;
}

/*
 * The last packets (DISCONNECTs) get a short, bounded chance: a driver may
 * refuse a burst until it has received (memif refills its rings from the
 * receive side), so keep its receive side moving and retry for up to 10 ms.
 */
static void destroy_flush(struct tern_ep *ep)
{
	uint64_t end = tern_now_ns() + 10000000ull;
	unsigned off = 0;
	while (off < ep->ntx) {
		off += ep->ops->tx_burst(ep->drv, ep->txq + off, ep->ntx - off);
		if (off == ep->ntx || tern_now_ns() >= end)
			break;
		unsigned n = ep->ops->rx_burst(ep->drv, ep->rx, TERN_RX_BURST);
		if (n != 0)
			ep->ops->rx_done(ep->drv, ep->rx, n);
	}
	tern_tx_discard(ep); /* what the driver would not take: before close */
}

void tern_ep_destroy(struct tern_ep *ep)
{
	if (ep == NULL)
		return;
	ep->now = tern_now_ns();
	/* Close every session: calls end with -ECANCELED, peers get DISCONNECT. */
	while (ep->used != NULL) {
		struct tern_session *s = ep->used;
		tern_session_close(s);
		if (ep->used == s) /* a zombie: deferred handlers never answered */
			tern_session_release(s);
	}
	destroy_flush(ep);
	/* The driver drops its references here; regions are freed after. */
	ep->ops->close(ep->drv);
	for (unsigned i = 0; i < 256; i++)
		free(ep->htab[i]);
	tern_sec_fini(ep); /* wipes the keys */
	free(ep->sessions);
	free(ep->free_ids);
	free(ep->hs_table);
	tern_pool_fini(ep);
	free(ep);
}

int tern_handle(struct tern_ep *ep, uint16_t req_type, tern_handler_fn fn, void *ctx,
		unsigned flags)
{
	if (ep == NULL || fn == NULL || (flags != TERN_RRA && flags != TERN_RR && flags != TERN_R))
		return -EINVAL;
	struct handler **page = &ep->htab[req_type >> 8];
	if (*page == NULL) {
		*page = calloc(256, sizeof(**page));
		if (*page == NULL)
			return -ENOMEM;
	}
	struct handler *h = &(*page)[req_type & 255];
	h->fn = fn;
	h->ctx = ctx;
	h->flags = flags;
	return 0;
}

/* --- work posted from other threads --------------------------------- */

static void post_lock(struct tern_ep *ep)
{
	while (__atomic_exchange_n(&ep->post_lock, 1, __ATOMIC_ACQUIRE) != 0)
		while (__atomic_load_n(&ep->post_lock, __ATOMIC_RELAXED) != 0)
			__builtin_ia32_pause();
}

static void post_unlock(struct tern_ep *ep)
{
	__atomic_store_n(&ep->post_lock, 0, __ATOMIC_RELEASE);
}

int tern_ep_post(struct tern_ep *ep, void (*fn)(void *arg), void *arg)
{
	if (ep == NULL || fn == NULL)
		return -EINVAL;
	post_lock(ep);
	if (ep->post_len == TERN_POST_CAP) {
		post_unlock(ep);
		return -EAGAIN;
	}
	struct post_item *it = &ep->post[(ep->post_head + ep->post_len) % TERN_POST_CAP];
	it->fn = fn;
	it->arg = arg;
	ep->post_len++;
	atomic_store_explicit(&ep->post_n, ep->post_len, memory_order_release);
	post_unlock(ep);
	return 0;
}

static int post_drain(struct tern_ep *ep)
{
	struct post_item batch[64];
	unsigned n = 0;
	post_lock(ep);
	while (ep->post_len != 0 && n < 64) {
		batch[n++] = ep->post[ep->post_head];
		ep->post_head = (ep->post_head + 1) % TERN_POST_CAP;
		ep->post_len--;
	}
	atomic_store_explicit(&ep->post_n, ep->post_len, memory_order_relaxed);
	post_unlock(ep);
	CB_ENTER(ep);
	for (unsigned i = 0; i < n; i++)
		batch[i].fn(batch[i].arg);
	CB_LEAVE(ep);
	return (int)n;
}

/* --- the poll loop ---------------------------------------------------- */

/* A timer fired: to its owner (the kinds: tern_internal.h). */
static void timer_fired(struct tern_ep *ep, struct tern_timer *t)
{
	switch (t->kind) {
	case TERN_TIMER_CALL:
		tern_call_timer(ep, tern_timer_owner(t, struct call_slot, timer));
		break;
	case TERN_TIMER_CALLS:
		tern_calls_timer(ep, tern_timer_owner(t, struct tern_session, calls_timer));
		break;
	case TERN_TIMER_QUEUED:
		tern_queued_timer(ep, tern_timer_owner(t, struct tern_msg, pend.timer));
		break;
	case TERN_TIMER_SESSION:
		tern_session_timer(ep, tern_timer_owner(t, struct tern_session, timer));
		break;
	case TERN_TIMER_PACE:
		tern_pacer_timer(ep, tern_timer_owner(t, struct tern_session, cc.timer));
		break;
	default:
		break;
	}
}

/*
 * The end of a pass: the clock once more, after every callback of the
 * pass; the timers of calls that sent or progressed are set from it (their
 * RTOs run from when the packets leave), then whatever expired runs, and
 * everything queued goes to the driver. Returns the timers that fired.
 */
static int poll_end(struct tern_ep *ep)
{
	int n = 0;
	ep->now = tern_now_ns();
	if (ep->arm != NULL)
		tern_calls_arm(ep, ep->now);
	struct tern_timer *t;
	while ((t = tern_wheel_pop(&ep->wheel, ep->now)) != NULL) {
		timer_fired(ep, t);
		if (ep->arm != NULL)
			tern_calls_arm(ep, ep->now);
		n++;
	}
	tern_tx_flush(ep);
	if (tern_unlikely(ep->done != NULL)) {
		tern_done_drain(ep);
		if (ep->arm != NULL)
			tern_calls_arm(ep, ep->now);
	}
	return n;
}

int tern_poll(struct tern_ep *ep)
{
	if (ep == NULL)
		return -EINVAL;
	if (tern_unlikely(ep->in_cb != 0 || ep->in_poll != 0))
		return -EDEADLK;
	ep->in_poll = 1;
	ep->now = tern_now_ns();
	if (ep->ntx != 0)
		tern_tx_flush(ep);
	int n = tern_rx_poll(ep);
	if (atomic_load_explicit(&ep->post_n, memory_order_acquire) != 0)
		n += post_drain(ep);
	n += poll_end(ep);
	ep->in_poll = 0;
	return n;
}

int tern_poll_wait(struct tern_ep *ep, uint64_t timeout_ns)
{
	int n = tern_poll(ep);
	if (n != 0)
		return n;
	uint64_t end = tern_deadline(ep->now, timeout_ns);
	for (;;) {
		uint64_t now = tern_now_ns();
		if (now >= end)
			return 0;
		uint64_t until = end, next;
		if (tern_wheel_next(&ep->wheel, &next) == 0 && next < until)
			until = next;
		if (!ep->cfg.busy_poll && ep->ops->wait != NULL && until > now)
			ep->ops->wait(ep->drv, until - now);
		n = tern_poll(ep);
		if (n != 0)
			return n;
	}
}

char *tern_ep_addr(const struct tern_ep *ep, char *buf, size_t len)
{
	if (ep == NULL)
		return buf;
	return tern_addr_str(&ep->drv->info.local, buf, len);
}

uint32_t tern_ep_data_per_pkt(const struct tern_ep *ep)
{
	return ep != NULL ? ep->dpp : 0;
}
