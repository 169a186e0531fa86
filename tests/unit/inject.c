/*
 * inject.c — the packet-injection driver, the virtual clock and the peer
 * helpers of inject.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "inject.h"

/* --- virtual clock (the library's tern_now_ns() is wrapped to this) -------- */

static uint64_t vclock = 1000000000000ull; /* 1000 s: far from 0 and from wrap-around */
static uint64_t vstep;

uint64_t __wrap_tern_now_ns(void);
uint64_t __wrap_tern_now_ns(void)
{
	uint64_t t = vclock;
	vclock += vstep;
	return t;
}

uint64_t inj_clock(void)
{
	return vclock;
}

void inj_clock_advance(uint64_t ns)
{
	vclock += ns;
}

void inj_clock_autostep(uint64_t ns)
{
	vstep = ns;
}

/* --- the driver --------------------------------------------------------------- */

struct inj_node {
	struct inj_node *next;
	struct tern_addr addr;
	uint32_t len;
	uint32_t flags;
	uint8_t *data; /* malloc'd, exactly len bytes (ASan sees overreads) */
};

struct inj {
	struct tern_drv base; /* first: the core sees &base */
	pthread_mutex_t lock;
	struct inj_node *rx_head, *rx_tail;
	unsigned rx_n;
	struct inj_node *tx_head, *tx_tail;
	unsigned tx_n;
	unsigned tx_bad;
	int tx_limit;
	int mem_fail_after;
	int lend_left;        /* tx_lend: buffers still to lend (-1: any number; 0: none) */
	struct lent_buf *lent; /* lent and not back yet */
	struct inj_lend_stats ls;
	struct inj_pkt cur; /* last popped */
};

/* A buffer tx_lend gave out: malloc'd, exactly the length asked for. */
struct lent_buf {
	struct lent_buf *next;
	uint32_t len;
	uint8_t *data;
};

/* Lent buffers still out when an instance closed, over every instance. */
static unsigned lent_leaked;

static int inj_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	struct inj *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	const char *bind = cfg->bind != NULL ? cfg->bind : INJ_EP_ADDR;
	if (tern_addr_parse(bind, &d->base.info.local) != 0) {
		free(d);
		return -EINVAL;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->base.info.mtu = cfg->mtu != 0 ? cfg->mtu : INJ_MTU;
	d->base.info.caps = TERN_DRV_CAP_MULTISEG;
	d->base.log = cfg->log;
	d->base.log_ctx = cfg->log_ctx;
	d->tx_limit = -1;
	d->mem_fail_after = -1;
	*out = &d->base;
	return 0;
}

static void free_list(struct inj_node *n)
{
	while (n != NULL) {
		struct inj_node *next = n->next;
		free(n->data);
		free(n);
		n = next;
	}
}

static void inj_close(struct tern_drv *drv)
{
	struct inj *d = (struct inj *)drv;
	while (d->lent != NULL) { /* the core must have given every one back */
		struct lent_buf *b = d->lent;
		d->lent = b->next;
		free(b->data);
		free(b);
		lent_leaked++;
	}
	free_list(d->rx_head);
	free_list(d->tx_head);
	free(d->cur.data);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* Regions for msgbufs: mmap, like the core's fallback, but failable on demand. */
static void *inj_mem_alloc(struct tern_drv *drv, size_t len)
{
	struct inj *d = (struct inj *)drv;
	if (d->mem_fail_after == 0)
		return NULL;
	if (d->mem_fail_after > 0)
		d->mem_fail_after--;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void inj_mem_free(void *p, size_t len)
{
	munmap(p, len);
}

static unsigned inj_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct inj *d = (struct inj *)drv;
	unsigned k = 0;
	pthread_mutex_lock(&d->lock);
	while (k < n && d->rx_head != NULL) {
		struct inj_node *e = d->rx_head;
		d->rx_head = e->next;
		if (d->rx_head == NULL)
			d->rx_tail = NULL;
		d->rx_n--;
		rx[k].data = e->data;
		rx[k].len = e->len;
		rx[k].flags = e->flags;
		rx[k].src = e->addr;
		rx[k].priv = e;
		d->base.stats.rx_pkts++;
		d->base.stats.rx_bytes += e->len;
		k++;
	}
	pthread_mutex_unlock(&d->lock);
	return k;
}

static void inj_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	(void)drv;
	for (unsigned i = 0; i < n; i++) {
		struct inj_node *e = rx[i].priv;
		free(e->data);
		free(e);
		rx[i].priv = NULL;
		rx[i].data = NULL;
	}
}

/* Take back the lent buffer of handle h: 0, or -1 if it is not out (given
 * back twice, or never lent). */
static int lend_back(struct inj *d, void *h)
{
	for (struct lent_buf **pp = &d->lent; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == h) {
			struct lent_buf *b = *pp;
			*pp = b->next;
			free(b->data);
			free(b);
			return 0;
		}
	}
	d->ls.bad++;
	return -1;
}

static void *inj_tx_lend(struct tern_drv *drv, uint32_t len, void **handle)
{
	struct inj *d = (struct inj *)drv;
	if (d->lend_left == 0 || len > d->base.info.mtu)
		return NULL;
	if (d->lend_left > 0)
		d->lend_left--;
	struct lent_buf *b = calloc(1, sizeof(*b));
	b->data = malloc(len);
	b->len = len;
	b->next = d->lent;
	d->lent = b;
	d->ls.lent++;
	*handle = b;
	return b->data;
}

static void inj_tx_unlend(struct tern_drv *drv, void *handle)
{
	struct inj *d = (struct inj *)drv;
	if (lend_back(d, handle) == 0)
		d->ls.unlent++;
}

/* A consumed lent descriptor: its packet must fill the front of the buffer,
 * hdr, payload and trailer in a row, and fit it. */
static int lent_ok(const struct tern_tx *t)
{
	const struct lent_buf *b = t->lent;
	const uint8_t *p = t->hdr;
	return p == b->data && (const uint8_t *)t->payload == p + t->hdr_len &&
	       (const uint8_t *)t->trailer == p + t->hdr_len + t->len && t->msg == NULL &&
	       t->hdr_len + t->len + t->trailer_len <= b->len;
}

static unsigned inj_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n)
{
	struct inj *d = (struct inj *)drv;
	unsigned k = n;
	if (d->tx_limit >= 0 && (unsigned)d->tx_limit < n)
		k = (unsigned)d->tx_limit;
	/* What it refuses it leaves uncounted: the core offers it again (driver.h). */
	for (unsigned i = 0; i < k; i++) {
		const struct tern_tx *t = &tx[i];
		struct inj_node *e = calloc(1, sizeof(*e));
		uint32_t len = t->hdr_len + t->len + t->trailer_len;
		e->data = malloc(len ? len : 1);
		e->len = len;
		memcpy(e->data, t->hdr, t->hdr_len);
		if (t->len != 0)
			memcpy(e->data + t->hdr_len, t->payload, t->len);
		if (t->trailer_len != 0)
			memcpy(e->data + t->hdr_len + t->len, t->trailer, t->trailer_len);
		e->addr = *t->dst;
		struct tern_hdr h;
		if (tern_wire_check(e->data, len, UINT32_MAX, &h) != TERN_WIRE_OK ||
		    !tern_wire_csum_ok(e->data, len))
			d->tx_bad++;
		if (t->flags & TERN_TX_LENT) {
			if (!lent_ok(t))
				d->tx_bad++;
			if (lend_back(d, t->lent) == 0)
				d->ls.sent++;
		}
		if (d->tx_tail != NULL)
			d->tx_tail->next = e;
		else
			d->tx_head = e;
		d->tx_tail = e;
		d->tx_n++;
		d->base.stats.tx_pkts++;
		d->base.stats.tx_bytes += len;
	}
	return k; /* the core counts what was not accepted */
}

static const struct tern_drv_ops inj_ops = {
	.name = INJ_DRIVER,
	.open = inj_open,
	.close = inj_close,
	.mem_alloc = inj_mem_alloc,
	.mem_free = inj_mem_free,
	.rx_burst = inj_rx_burst,
	.rx_done = inj_rx_done,
	.tx_burst = inj_tx_burst,
	.tx_lend = inj_tx_lend,
	.tx_unlend = inj_tx_unlend,
};

int inj_register(void)
{
	return tern_drv_register(&inj_ops);
}

struct inj *inj_of(struct tern_ep *ep)
{
	return ep != NULL && ep->ops == &inj_ops ? (struct inj *)ep->drv : NULL;
}

void inj_push_raw(struct inj *d, const void *pkt, size_t len, const struct tern_addr *src,
		  uint32_t rx_flags)
{
	struct inj_node *e = calloc(1, sizeof(*e));
	e->data = malloc(len ? len : 1);
	if (len != 0)
		memcpy(e->data, pkt, len);
	e->len = (uint32_t)len;
	e->flags = rx_flags;
	e->addr = *src;
	pthread_mutex_lock(&d->lock);
	if (d->rx_tail != NULL)
		d->rx_tail->next = e;
	else
		d->rx_head = e;
	d->rx_tail = e;
	d->rx_n++;
	pthread_mutex_unlock(&d->lock);
}

unsigned inj_rx_pending(struct inj *d)
{
	pthread_mutex_lock(&d->lock);
	unsigned n = d->rx_n;
	pthread_mutex_unlock(&d->lock);
	return n;
}

unsigned inj_tx_count(struct inj *d)
{
	return d->tx_n;
}

const struct inj_pkt *inj_pop_tx(struct inj *d)
{
	struct inj_node *e = d->tx_head;
	if (e == NULL)
		return NULL;
	d->tx_head = e->next;
	if (d->tx_head == NULL)
		d->tx_tail = NULL;
	d->tx_n--;
	free(d->cur.data);
	memset(&d->cur, 0, sizeof(d->cur));
	d->cur.data = e->data;
	d->cur.len = e->len;
	d->cur.dst = e->addr;
	d->cur.wire = tern_wire_check(e->data, e->len, UINT32_MAX, &d->cur.h);
	if (e->len >= TERN_HDR_LEN) {
		tern_wire_get(e->data, &d->cur.h);
		d->cur.body = e->data + TERN_HDR_LEN;
		d->cur.body_len = e->len - TERN_HDR_LEN;
	}
	free(e);
	return &d->cur;
}

const struct inj_pkt *inj_expect_tx(struct inj *d, uint8_t type)
{
	const struct inj_pkt *p = inj_pop_tx(d);
	if (p == NULL) {
		fprintf(stderr, "  inj: expected %s, nothing was sent\n", tern_wire_type_name(type));
		return NULL;
	}
	if (p->h.type != type) {
		fprintf(stderr, "  inj: expected %s, got %s (pkt %u req %llu status %u flags %#x)\n",
			tern_wire_type_name(type), tern_wire_type_name(p->h.type), p->h.pkt_num,
			(unsigned long long)p->h.req_num, p->h.status, p->h.flags);
		return NULL;
	}
	return p;
}

unsigned inj_skip_tx(struct inj *d, uint8_t type)
{
	unsigned n = 0;
	while (d->tx_head != NULL && d->tx_head->len >= 2 && d->tx_head->data[1] == type) {
		inj_pop_tx(d);
		n++;
	}
	return n;
}

void inj_tx_clear(struct inj *d)
{
	while (inj_pop_tx(d) != NULL)
		;
}

unsigned inj_tx_bad(struct inj *d)
{
	return d->tx_bad;
}

void inj_tx_limit(struct inj *d, int n)
{
	d->tx_limit = n;
}

void inj_mem_fail_after(struct inj *d, int n)
{
	d->mem_fail_after = n;
}

void inj_tx_lend_allow(struct inj *d, int n)
{
	d->lend_left = n;
}

struct inj_lend_stats inj_lend_stats(const struct inj *d)
{
	struct inj_lend_stats s = d->ls;
	for (const struct lent_buf *b = d->lent; b != NULL; b = b->next)
		s.out++;
	return s;
}

unsigned inj_lent_leaked(void)
{
	return lent_leaked;
}

/* --- the peer ---------------------------------------------------------------- */

void inj_peer_init(struct inj_peer *p, struct tern_ep *ep, const char *addr)
{
	memset(p, 0, sizeof(*p));
	p->ep = ep;
	p->d = inj_of(ep);
	snprintf(p->addr_str, sizeof(p->addr_str), "%s", addr != NULL ? addr : INJ_PEER_ADDR);
	if (tern_addr_parse(p->addr_str, &p->addr) != 0)
		fprintf(stderr, "  inj: bad peer address %s\n", p->addr_str);
	p->id = 7;
	p->token = 0x70c3e11u;
	p->epoch = 0xe90c4e90c4ull;
	p->nonce = 0x1005e1005eull;
	p->slots = (uint16_t)ep->cfg.slots;
	p->credits = (uint16_t)ep->cfg.credits;
	p->mtu = (uint16_t)ep->mtu;
	p->max_msg = 8u << 20;
}

void inj_connect_pkt(const struct inj_peer *p, struct tern_hdr *h, struct tern_wire_hs *hs)
{
	memset(h, 0, sizeof(*h));
	h->type = TERN_PKT_CONNECT;
	h->dst_session = TERN_SESSION_NONE;
	h->src_session = p->id;
	memset(hs, 0, sizeof(*hs));
	hs->epoch = p->epoch;
	hs->token = p->token;
	hs->max_msg_size = p->max_msg;
	hs->slots = p->slots;
	hs->credits = p->credits;
	hs->mtu = p->mtu;
	hs->nonce = p->nonce;
}

int inj_accept(struct inj_peer *p)
{
	struct tern_hdr h;
	struct tern_wire_hs hs, ok;
	inj_connect_pkt(p, &h, &hs);
	inj_send_hs(p, &h, &hs);
	inj_poll(p->ep);
	const struct inj_pkt *r = inj_expect_tx(p->d, TERN_PKT_CONNECT_OK);
	if (r == NULL)
		return -1;
	if (r->wire != TERN_WIRE_OK || r->h.status != 0 || r->h.dst_session != p->id ||
	    r->h.token != p->token || r->body_len != TERN_HS_LEN) {
		fprintf(stderr, "  inj: bad CONNECT_OK (status %u dst %u token %#x)\n", r->h.status,
			r->h.dst_session, r->h.token);
		return -1;
	}
	tern_wire_hs_get(r->body, &ok);
	if (ok.nonce != p->nonce || ok.peer_epoch != p->epoch) {
		fprintf(stderr, "  inj: CONNECT_OK does not echo nonce/epoch\n");
		return -1;
	}
	p->ep_id = r->h.src_session;
	p->ep_token = ok.token;
	p->ep_epoch = ok.epoch;
	uint32_t mtu = ok.mtu < p->mtu ? ok.mtu : p->mtu;
	p->dpp = mtu - TERN_HDR_LEN;
	p->s = p->ep->sessions[p->ep_id];
	return 0;
}

int inj_connect(struct inj_peer *p)
{
	struct tern_session *s = NULL;
	int rc = tern_connect(p->ep, p->addr_str, &s);
	if (rc != 0) {
		fprintf(stderr, "  inj: tern_connect: %d\n", rc);
		return -1;
	}
	inj_poll(p->ep);
	const struct inj_pkt *c = inj_expect_tx(p->d, TERN_PKT_CONNECT);
	if (c == NULL)
		return -1;
	struct tern_wire_hs chs;
	tern_wire_hs_get(c->body, &chs);
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.dst_session = c->h.src_session;
	h.src_session = p->id;
	h.token = chs.token;
	struct tern_wire_hs hs;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = p->epoch;
	hs.peer_epoch = chs.epoch;
	hs.token = p->token;
	hs.max_msg_size = p->max_msg;
	hs.slots = p->slots < chs.slots ? p->slots : chs.slots;
	hs.credits = p->credits < chs.credits ? p->credits : chs.credits;
	hs.mtu = p->mtu;
	hs.nonce = chs.nonce;
	p->ep_id = c->h.src_session;
	p->ep_token = chs.token;
	p->ep_epoch = chs.epoch;
	p->nonce = chs.nonce;
	uint32_t mtu = chs.mtu < p->mtu ? chs.mtu : p->mtu;
	p->dpp = mtu - TERN_HDR_LEN;
	p->s = s;
	inj_send_hs(p, &h, &hs);
	inj_poll(p->ep);
	if (tern_session_state(s) != TERN_SS_CONNECTED) {
		fprintf(stderr, "  inj: session not connected after CONNECT_OK\n");
		return -1;
	}
	return 0;
}

struct tern_hdr inj_hdr(const struct inj_peer *p, uint8_t type)
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.dst_session = p->ep_id;
	h.src_session = p->id;
	h.token = p->ep_token;
	return h;
}

void inj_send(struct inj_peer *p, const struct tern_hdr *h, const void *body, size_t len)
{
	uint8_t *buf = malloc(TERN_HDR_LEN + len);
	tern_wire_put(buf, h);
	if (len != 0)
		memcpy(buf + TERN_HDR_LEN, body, len);
	tern_wire_seal(buf, TERN_HDR_LEN + len);
	inj_push_raw(p->d, buf, TERN_HDR_LEN + len, &p->addr, 0);
	free(buf);
}

void inj_send_hs(struct inj_peer *p, const struct tern_hdr *h, const struct tern_wire_hs *hs)
{
	uint8_t body[TERN_HS_LEN];
	tern_wire_hs_put(body, hs);
	inj_send(p, h, body, sizeof(body));
}

void inj_req(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size,
	     uint8_t flags, const void *payload, size_t len)
{
	struct tern_hdr h = inj_hdr(p, TERN_PKT_REQ);
	h.req_num = req_num;
	h.req_type = type;
	h.pkt_num = pkt;
	h.msg_size = msg_size;
	h.flags = flags;
	inj_send(p, &h, payload, len);
}

static uint32_t pkt_len(uint32_t msg_size, uint32_t dpp, uint32_t pkt)
{
	uint64_t off = (uint64_t)pkt * dpp;
	if (off >= msg_size)
		return 0;
	return msg_size - off < dpp ? (uint32_t)(msg_size - off) : dpp;
}

void inj_req_pkt(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		 uint32_t msg_size, uint32_t pkt, uint8_t flags)
{
	const uint8_t *m = msg;
	uint32_t len = pkt_len(msg_size, p->dpp, pkt);
	inj_req(p, req_num, type, pkt, msg_size, flags, len != 0 ? m + (size_t)pkt * p->dpp : NULL,
		len);
}

void inj_req_msg(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		 uint32_t msg_size, uint8_t flags)
{
	uint32_t n = tern_wire_npkts(msg_size, p->dpp);
	for (uint32_t i = 0; i < n; i++)
		inj_req_pkt(p, req_num, type, msg, msg_size, i, flags);
}

void inj_cr_range(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt,
		  uint8_t extra, uint32_t msg_size, uint8_t flags)
{
	struct tern_hdr h = inj_hdr(p, TERN_PKT_CR);
	h.req_num = req_num;
	h.req_type = type;
	h.pkt_num = pkt;
	h.status = extra;
	h.msg_size = msg_size;
	h.flags = flags;
	inj_send(p, &h, NULL, 0);
}

void inj_cr(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size,
	    uint8_t flags)
{
	inj_cr_range(p, req_num, type, pkt, 0, msg_size, flags);
}

void inj_resp_pkt(struct inj_peer *p, uint64_t req_num, uint16_t type, const void *msg,
		  uint32_t msg_size, uint32_t pkt)
{
	const uint8_t *m = msg;
	struct tern_hdr h = inj_hdr(p, TERN_PKT_RESP);
	h.req_num = req_num;
	h.req_type = type;
	h.pkt_num = pkt;
	h.msg_size = msg_size;
	uint32_t len = pkt_len(msg_size, p->dpp, pkt);
	inj_send(p, &h, len != 0 ? m + (size_t)pkt * p->dpp : NULL, len);
}

void inj_resp_err(struct inj_peer *p, uint64_t req_num, uint16_t type, uint8_t status)
{
	struct tern_hdr h = inj_hdr(p, TERN_PKT_RESP);
	h.req_num = req_num;
	h.req_type = type;
	h.status = status;
	inj_send(p, &h, NULL, 0);
}

void inj_rfr(struct inj_peer *p, uint64_t req_num, uint16_t type, uint32_t pkt, uint32_t msg_size)
{
	struct tern_hdr h = inj_hdr(p, TERN_PKT_RFR);
	h.req_num = req_num;
	h.req_type = type;
	h.pkt_num = pkt;
	h.msg_size = msg_size;
	inj_send(p, &h, NULL, 0);
}

void inj_ack(struct inj_peer *p, uint64_t req_num, uint16_t type)
{
	struct tern_hdr h = inj_hdr(p, TERN_PKT_ACK);
	h.req_num = req_num;
	h.req_type = type;
	inj_send(p, &h, NULL, 0);
}

void inj_ctrl(struct inj_peer *p, uint8_t type)
{
	struct tern_hdr h = inj_hdr(p, type);
	inj_send(p, &h, NULL, 0);
}

void inj_reset(struct inj_peer *p)
{
	/* What the peer's rx.c sends for a packet of the endpoint it does not
	 * know: ids swapped, the refused token echoed, its epoch in the body. */
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_RESET;
	h.dst_session = p->ep_id;
	h.src_session = p->id;
	h.token = p->token;
	struct tern_wire_reset body = {.epoch = tern_le64(p->epoch)};
	inj_send(p, &h, &body, sizeof(body));
}

int inj_poll(struct tern_ep *ep)
{
	struct inj *d = inj_of(ep);
	int rc = tern_poll(ep);
	for (int i = 0; i < 1000 && d != NULL && inj_rx_pending(d) != 0; i++)
		rc = tern_poll(ep);
	return rc;
}

int inj_tick(struct tern_ep *ep, uint64_t ns)
{
	inj_clock_advance(ns);
	return tern_poll(ep);
}

/* --- endpoints and results ---------------------------------------------------- */

void inj_config(struct tern_ep_config *cfg)
{
	tern_ep_config_init(cfg);
	cfg->driver = INJ_DRIVER;
	cfg->bind = INJ_EP_ADDR;
	cfg->max_sessions = 16;
	cfg->rto_min_ns = 1000000;      /* 1 ms */
	cfg->rto_max_ns = 64000000;     /* 64 ms */
	cfg->mem_limit = 64ull << 20;
	/* One CR per request packet, so tests see each (those of coalescing
	 * clear the flag). */
	cfg->flags |= TERN_EP_NO_COALESCE_CR;
}

struct tern_ep *inj_ep_create(const struct tern_ep_config *cfg)
{
	struct tern_ep *ep = NULL;
	int rc = inj_register();
	if (rc != 0) {
		fprintf(stderr, "  inj: register: %d\n", rc);
		return NULL;
	}
	rc = tern_ep_create(cfg, &ep);
	if (rc != 0) {
		fprintf(stderr, "  inj: tern_ep_create: %d\n", rc);
		return NULL;
	}
	return ep;
}

static int completion_seq;

void inj_cont(const struct tern_result *res, void *ctx)
{
	struct inj_result *r = ctx;
	r->calls++;
	r->status = res->status;
	r->req_type = res->req_type;
	r->len = res->len;
	r->order = ++completion_seq;
	if (res->data != NULL && res->len != 0)
		memcpy(r->data, res->data, res->len < sizeof(r->data) ? res->len : sizeof(r->data));
}

void inj_result_reset(struct inj_result *r)
{
	memset(r, 0, sizeof(*r));
}

void inj_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *b = buf;
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

struct tern_msg *inj_msg(struct tern_ep *ep, size_t len, uint32_t seed)
{
	struct tern_msg *m = tern_msg_alloc(ep, len);
	if (m != NULL)
		inj_fill(tern_msg_data(m), len, seed);
	return m;
}
