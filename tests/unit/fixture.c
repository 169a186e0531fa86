/*
 * fixture.c — the shared set-ups and helpers of fixture.h.
 */
#include "fixture.h"

struct tern_ep *ep;
struct inj *d;
struct inj_peer peer;

void config(struct tern_ep_config *cfg)
{
	inj_config(cfg);
	cfg->mtu = 96;
	cfg->keepalive_ns = 1000 * MS;
	cfg->session_timeout_ns = 5000 * MS;
	cfg->call_timeout_ns = 10000 * MS;
	cfg->max_retries = 100;
}

int ep_open(const struct tern_ep_config *cfg)
{
	ep = inj_ep_create(cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	return 0;
}

struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

void teardown(void)
{
	CHECK_EQ(inj_tx_bad(d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
	d = NULL;
}

/* --- the endpoint as the caller ------------------------------------------ */

int client_setup_cfg(const struct tern_ep_config *cfg)
{
	if (ep_open(cfg) != 0)
		return -1;
	return inj_connect(&peer);
}

int client_setup(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	return client_setup_cfg(&cfg);
}

int call(size_t len, uint32_t seed, struct inj_result *r, uint64_t timeout)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(ep, len, seed);
	int rc = tern_call(peer.s, 1, m, inj_cont, r, timeout);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

int expect_req(uint64_t req_num, uint32_t pkt)
{
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	if (q == NULL)
		return 0;
	if (q->h.req_num != req_num || q->h.pkt_num != pkt) {
		fprintf(stderr, "  REQ req %llu pkt %u, want %llu %u\n",
			(unsigned long long)q->h.req_num, q->h.pkt_num,
			(unsigned long long)req_num, pkt);
		return 0;
	}
	return 1;
}

int expect_rfr(uint64_t req_num, uint32_t pkt, uint32_t size)
{
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_RFR);
	if (q == NULL)
		return 0;
	if (q->h.req_num != req_num || q->h.pkt_num != pkt || q->h.msg_size != size ||
	    q->h.req_type != 1 || q->body_len != 0) {
		fprintf(stderr, "  RFR req %llu pkt %u size %u, want %llu %u %u\n",
			(unsigned long long)q->h.req_num, q->h.pkt_num, q->h.msg_size,
			(unsigned long long)req_num, pkt, size);
		return 0;
	}
	return 1;
}

uint64_t rto_session_timeout = 50000 * MS;

int setup_rto(uint64_t rto_min, uint64_t rto_max, uint32_t max_retries)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.rto_min_ns = rto_min;
	cfg.rto_max_ns = rto_max;
	cfg.max_retries = max_retries; /* unused: nothing may depend on it */
	cfg.keepalive_ns = 100000 * MS;
	cfg.session_timeout_ns = rto_session_timeout;
	cfg.call_timeout_ns = 100000 * MS;
	return client_setup_cfg(&cfg);
}

/* --- the endpoint as the callee ------------------------------------------ */

int runs[16];
uint8_t seen[8192];
size_t seen_len;
struct tern_session *seen_sess;
struct tern_req *deferred[16];
int ndeferred;
long resp_size = -1;
int second_rc;

static struct tern_msg *answer(struct tern_req *req)
{
	struct tern_ep *e = tern_req_ep(req);
	if (resp_size >= 0)
		return inj_msg(e, (size_t)resp_size, tern_req_type(req));
	struct tern_msg *m = tern_msg_alloc(e, tern_req_len(req));
	if (tern_req_len(req) != 0)
		memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	return m;
}

static void note(struct tern_req *req)
{
	runs[tern_req_type(req) & 15]++;
	seen_len = tern_req_len(req);
	seen_sess = tern_req_session(req);
	if (seen_len <= sizeof(seen))
		memcpy(seen, tern_req_data(req), seen_len);
}

static void h_echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	CHECK_EQ(tern_respond(req, answer(req)), 0);
}

void h_defer(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	deferred[ndeferred++] = req;
}

static void h_oneway(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	/* An R handler cannot answer. */
	CHECK_EQ(tern_respond(req, tern_msg_alloc(tern_req_ep(req), 1)), -EINVAL);
	CHECK_EQ(tern_respond_error(req, -EIO), -EINVAL);
}

static void h_error(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	CHECK_EQ(tern_respond_error(req, -EIO), 0);
}

static void h_close_after(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	CHECK_EQ(tern_respond(req, answer(req)), 0);
	CHECK_EQ(tern_session_close(tern_req_session(req)), 0);
}

static void h_close_before(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	struct tern_msg *m = answer(req);
	CHECK_EQ(tern_session_close(tern_req_session(req)), 0);
	CHECK_EQ(tern_respond(req, m), -ECONNRESET);
}

static void h_oneway_close(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	CHECK_EQ(tern_session_close(tern_req_session(req)), 0);
}

static void h_twice(struct tern_req *req, void *ctx)
{
	(void)ctx;
	note(req);
	CHECK_EQ(tern_respond(req, answer(req)), 0);
	second_rc = tern_respond(req, answer(req));
}

int server_setup_cfg(const struct tern_ep_config *cfg)
{
	memset(runs, 0, sizeof(runs));
	ndeferred = 0;
	resp_size = -1;
	seen_len = 0;
	seen_sess = NULL;
	if (ep_open(cfg) != 0)
		return -1;
	tern_handle(ep, T_ECHO, h_echo, NULL, TERN_RRA);
	tern_handle(ep, T_DEFER, h_defer, NULL, TERN_RRA);
	tern_handle(ep, T_RR, h_echo, NULL, TERN_RR);
	tern_handle(ep, T_ONEWAY, h_oneway, NULL, TERN_R);
	tern_handle(ep, T_ERROR, h_error, NULL, TERN_RRA);
	tern_handle(ep, T_RR_DEFER, h_defer, NULL, TERN_RR);
	tern_handle(ep, T_CLOSE_AFTER, h_close_after, NULL, TERN_RRA);
	tern_handle(ep, T_CLOSE_BEFORE, h_close_before, NULL, TERN_RRA);
	tern_handle(ep, T_TWICE, h_twice, NULL, TERN_RRA);
	tern_handle(ep, T_ONEWAY_CLOSE, h_oneway_close, NULL, TERN_R);
	return inj_accept(&peer);
}

int server_setup(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	return server_setup_cfg(&cfg);
}

const struct inj_pkt *expect_resp(uint64_t req_num, uint16_t type, uint32_t pkt,
				  uint32_t msg_size, uint8_t status)
{
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_RESP);
	if (r == NULL)
		return NULL;
	int ok = r->h.req_num == req_num && r->h.req_type == type && r->h.pkt_num == pkt &&
		 r->h.status == status && r->h.dst_session == peer.id &&
		 r->h.src_session == peer.ep_id && r->h.token == peer.token;
	if (status == 0)
		ok = ok && r->h.msg_size == msg_size;
	else
		ok = ok && r->body_len == 0;
	if (!ok) {
		fprintf(stderr, "  RESP req %llu type %u pkt %u size %u status %u, want %llu %u %u %u %u\n",
			(unsigned long long)r->h.req_num, r->h.req_type, r->h.pkt_num, r->h.msg_size,
			r->h.status, (unsigned long long)req_num, type, pkt, msg_size, status);
		return NULL;
	}
	return r;
}

const struct inj_pkt *expect_cr_range(uint64_t req_num, uint32_t pkt, uint32_t extra,
				      uint8_t flags)
{
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CR);
	if (r == NULL)
		return NULL;
	if (r->h.req_num != req_num || r->h.pkt_num != pkt || r->h.status != extra ||
	    r->h.flags != flags || r->body_len != 0) {
		fprintf(stderr, "  CR req %llu pkt %u (+%u below) flags %#x, want %llu %u (+%u) %#x\n",
			(unsigned long long)r->h.req_num, r->h.pkt_num, r->h.status, r->h.flags,
			(unsigned long long)req_num, pkt, extra, flags);
		return NULL;
	}
	return r;
}

const struct inj_pkt *expect_cr(uint64_t req_num, uint32_t pkt, uint8_t flags)
{
	return expect_cr_range(req_num, pkt, 0, flags);
}

/* --- sessions ------------------------------------------------------------ */

struct events evs;

static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	struct events *e = ctx;
	if (e->n < 32) {
		e->ev[e->n] = ev;
		e->err[e->n] = err;
		e->s[e->n] = s;
	}
	e->n++;
}

void sess_config(struct tern_ep_config *cfg)
{
	inj_config(cfg);
	cfg->on_session = on_session;
	cfg->session_ctx = &evs;
	cfg->keepalive_ns = 10 * MS;
	cfg->session_timeout_ns = 50 * MS;
	cfg->connect_timeout_ns = 40 * MS;
	cfg->call_timeout_ns = 10000 * MS;
}

int sess_setup_cfg(const struct tern_ep_config *cfg)
{
	memset(&evs, 0, sizeof(evs));
	return ep_open(cfg);
}

int sess_setup(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	return sess_setup_cfg(&cfg);
}

int call_on(struct tern_session *s, size_t len, struct inj_result *r)
{
	struct tern_msg *m = inj_msg(ep, len, 1);
	int rc = tern_call(s, 1, m, inj_cont, r, 0);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

void echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

int sess_setup_moving_peer(struct inj_peer *p, struct tern_addr *old, struct tern_addr *moved)
{
	int rc = sess_setup();
	if (rc != 0)
		return rc;
	inj_peer_init(p, ep, NULL);
	rc = inj_accept(p);
	if (rc != 0)
		return rc;
	*old = p->addr;
	return tern_addr_parse("192.168.1.9:7777", moved);
}

struct tern_session *start_connect(struct inj_peer *p, struct tern_wire_hs *chs)
{
	struct tern_session *s = NULL;
	if (tern_connect(ep, p->addr_str, &s) != 0)
		return NULL;
	tern_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT);
	if (r == NULL)
		return NULL;
	tern_wire_hs_get(r->body, chs);
	p->ep_id = s->id;
	p->ep_token = chs->token;
	return s;
}

void connect_ok(struct inj_peer *p, const struct tern_wire_hs *chs, uint8_t status,
		struct tern_hdr *h, struct tern_wire_hs *hs)
{
	memset(h, 0, sizeof(*h));
	h->type = TERN_PKT_CONNECT_OK;
	h->status = status;
	h->dst_session = p->ep_id;
	h->src_session = status == 0 ? p->id : TERN_SESSION_NONE;
	h->token = chs->token;
	memset(hs, 0, sizeof(*hs));
	hs->epoch = p->epoch;
	hs->peer_epoch = chs->epoch;
	hs->nonce = chs->nonce;
	if (status == 0) {
		hs->token = p->token;
		hs->max_msg_size = 1 << 20;
		hs->slots = chs->slots;
		hs->credits = chs->credits;
		hs->mtu = chs->mtu;
	}
}
