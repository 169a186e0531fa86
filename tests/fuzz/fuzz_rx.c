/*
 * fuzz_rx.c — libFuzzer harness on tern's receive path.
 *
 * Each input runs against a fresh endpoint on the inject driver (built, fed
 * and destroyed per input, so nothing leaks from one input to the next and
 * every crash reproduces from its input alone), with sessions open in both
 * roles and calls in flight (see fuzz_format.h). The input is a sequence of
 * records: datagrams (stamped with the right session ids and tokens when
 * they target a session), virtual-clock steps (timers: RTO, ACK delay,
 * keepalive, dead peers, connect timeout), API calls (new calls, deferred
 * answers, closes) and polls.
 *
 * Built with -DTERN_FUZZING, so the core skips the header checksum and the
 * fuzzer's packets reach the state machines. Besides the sanitizers, the
 * harness traps when an invariant breaks:
 *   - a continuation runs twice for one call, or (after the endpoint is
 *     destroyed) never ran for an accepted call;
 *   - the endpoint transmits a malformed packet (bad checksum, bad length).
 *
 * TERN_FUZZ_TRACE=1 prints what the endpoint sent and its counters (to see
 * what a seed or a reproducer does: fuzz_rx FILE).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "fuzz_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEFERRED 64

static struct tern_ep *ep;
static struct inj *drv;
static struct inj_peer srvp, clip; /* the peers of the server and client sessions */
static struct tern_session *srv, *cli, *conn;
static struct tern_req *deferred[MAX_DEFERRED];
static unsigned ndeferred;
static int close_on_event;

static void forget_session(struct tern_session *s)
{
	if (s == cli)
		cli = NULL;
	if (s == srv)
		srv = NULL;
	if (s == conn)
		conn = NULL;
}

static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)err;
	(void)ctx;
	if (close_on_event && ev != TERN_SESSION_CONNECTED && ev != TERN_SESSION_ACCEPTED) {
		forget_session(s);
		tern_session_close(s);
		return;
	}
	/* A server-side session that ends is freed by the library once this
	 * event returns (only a client's handle waits for tern_session_close). */
	if (s == srv && ev != TERN_SESSION_CONNECTED && ev != TERN_SESSION_ACCEPTED)
		srv = NULL;
}

static void cont(const struct tern_result *res, void *ctx)
{
	struct fz_call *c = ctx;
	(void)res;
	fz_call_done(c);
	if (c->closing && c->s != NULL) {
		struct tern_session *s = c->s;
		c->s = NULL;
		forget_session(s);
		tern_session_close(s);
	}
}

static void issue(struct tern_session *s, size_t len, int oneway, unsigned flags, int closing)
{
	struct fz_call *c = fz_issue(ep, s, len, oneway, flags, cont);
	if (c != NULL)
		c->closing = closing;
}

/* --- handlers ------------------------------------------------------------------ */

static struct tern_msg *copy_of(struct tern_req *req)
{
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m != NULL && tern_req_len(req) != 0)
		memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	return m;
}

static void answer(struct tern_req *req, struct tern_msg *m)
{
	if (m != NULL)
		tern_respond(req, m);
	else
		tern_respond_error(req, -ENOMEM);
}

static void defer(struct tern_req *req)
{
	if (ndeferred < MAX_DEFERRED)
		deferred[ndeferred++] = req;
	else
		answer(req, copy_of(req));
}

static void h_echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	answer(req, copy_of(req));
}

static void h_defer(struct tern_req *req, void *ctx)
{
	(void)ctx;
	defer(req);
}

static void h_oneway(struct tern_req *req, void *ctx)
{
	(void)req;
	(void)ctx;
}

static void h_error(struct tern_req *req, void *ctx)
{
	(void)ctx;
	tern_respond_error(req, -EIO);
}

static void h_close(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_session *s = tern_req_session(req);
	answer(req, copy_of(req));
	forget_session(s);
	tern_session_close(s);
}

static void h_nested(struct tern_req *req, void *ctx)
{
	(void)ctx;
	issue(tern_req_session(req), tern_req_len(req), 0, 0, 0);
	defer(req);
}

/* Answer the oldest deferred request with a status code and a message of
 * len bytes (not UTF-8 if bad); a refused answer leaves it deferred. */
static void answer_status(int code, size_t len, int bad)
{
	if (ndeferred == 0)
		return;
	char text[300];
	for (size_t i = 0; i < len && i < sizeof(text) - 1; i++)
		text[i] = (char)('a' + i % 26);
	text[len < sizeof(text) - 1 ? len : sizeof(text) - 1] = '\0';
	if (bad && len > 0)
		text[0] = (char)0xff;
	if (tern_respond_status(deferred[0], code, text) == -EINVAL)
		return;
	memmove(deferred, deferred + 1, (ndeferred - 1) * sizeof(deferred[0]));
	ndeferred--;
}

static void answer_oldest(int err, size_t len)
{
	if (ndeferred == 0)
		return;
	struct tern_req *req = deferred[0];
	memmove(deferred, deferred + 1, (ndeferred - 1) * sizeof(deferred[0]));
	ndeferred--;
	if (err != 0) {
		tern_respond_error(req, err);
		return;
	}
	struct tern_msg *m = tern_msg_alloc(ep, len);
	if (m != NULL)
		inj_fill(tern_msg_data(m), len, 7);
	answer(req, m);
}

/* --- setup -------------------------------------------------------------------------- */

static int setup(void)
{
	struct tern_ep_config cfg;
	fz_config(&cfg, 96, 50 * FZ_MS);
	cfg.flags = TERN_EP_RECONNECT;
	cfg.on_session = on_session;
	close_on_event = 0;
	ep = inj_ep_create(&cfg);
	if (ep == NULL)
		return -1;
	drv = inj_of(ep);
	tern_handle(ep, 1, h_echo, NULL, TERN_RRA);
	tern_handle(ep, 2, h_defer, NULL, TERN_RRA);
	tern_handle(ep, 3, h_echo, NULL, TERN_RR);
	tern_handle(ep, 4, h_oneway, NULL, TERN_R);
	tern_handle(ep, 5, h_error, NULL, TERN_RRA);
	tern_handle(ep, 6, h_close, NULL, TERN_RRA);
	tern_handle(ep, 7, h_nested, NULL, TERN_RRA);
	inj_peer_init(&srvp, ep, "10.0.0.2:5000");
	srvp.id = 7;
	if (inj_accept(&srvp) != 0)
		return -1;
	srv = srvp.s;
	inj_peer_init(&clip, ep, "10.0.0.3:6000");
	clip.id = 9;
	if (inj_connect(&clip) != 0)
		return -1;
	cli = clip.s;
	if (tern_connect(ep, "10.0.0.4:7000", &conn) != 0)
		return -1;
	issue(cli, 10, 0, 0, 0);   /* req 4 */
	issue(cli, 300, 0, TERN_CALL_IDEMPOTENT, 0); /* req 5 */
	issue(cli, 150, 1, 0, 0);  /* req 6, one-way */
	issue(srv, 20, 0, 0, 0);   /* req 4, server to client */
	tern_poll(ep);
	inj_tx_clear(drv);
	return 0;
}

static void check_tx(void)
{
	if (inj_tx_bad(drv) != 0)
		__builtin_trap(); /* the endpoint sent a malformed packet */
	const struct inj_pkt *p;
	while ((p = inj_pop_tx(drv)) != NULL)
		if (fz_trace())
			fprintf(stderr, "  tx %-10s dst %u req %llu type %u pkt %u size %u status %u flags %#x len %u\n",
				tern_wire_type_name(p->h.type), p->h.dst_session,
				(unsigned long long)p->h.req_num, p->h.req_type, p->h.pkt_num,
				p->h.msg_size, p->h.status, p->h.flags, p->len);
}

static void finish(void)
{
	for (int i = 0; i < 100 && inj_rx_pending(drv) != 0; i++)
		tern_poll(ep);
	tern_poll(ep);
	check_tx();
	fz_trace_stats(ep);
	tern_ep_destroy(ep);
	ep = NULL;
	fz_calls_finish();
	ndeferred = 0;
	srv = cli = conn = NULL;
}

/* --- records ---------------------------------------------------------------------- */


static void packet(uint8_t op, const uint8_t *p, size_t len)
{
	static uint8_t buf[FZ_PKT_MAX];
	memcpy(buf, p, len);
	unsigned target = op & 3;
	struct inj_peer *from = target == FZ_T_CLIENT ? &clip : &srvp;
	if (len >= TERN_HDR_LEN && target != FZ_T_RAW && (op & FZ_UNREACH)) {
		/* A quote of what the endpoint sent: its ids the other way round. */
		if (target == FZ_T_SERVER || target == FZ_T_CLIENT) {
			fz_put16(buf + 6, from->id);
			fz_put16(buf + 8, from->ep_id);
			if (!(op & FZ_KEEP_TOKEN))
				fz_put32(buf + 12, from->token);
		} else {
			struct tern_session *c =
				cli != NULL && cli->state == SESS_CONNECTING ? cli : conn;
			if (c != NULL) {
				fz_put16(buf + 8, c->id);
				if (!(op & FZ_KEEP_TOKEN) && len >= TERN_HDR_LEN + TERN_HS_LEN) {
					fz_put64(buf + TERN_HDR_LEN, ep->epoch);
					fz_put32(buf + TERN_HDR_LEN + 16, c->token);
					fz_put64(buf + TERN_HDR_LEN + 32, c->hs_nonce);
				}
			}
		}
	} else if (len >= TERN_HDR_LEN && target != FZ_T_RAW) {
		uint8_t type = buf[1];
		if (target == FZ_T_SERVER || target == FZ_T_CLIENT) {
			fz_put16(buf + 6, from->ep_id);
			fz_put16(buf + 8, from->id);
			if (!(op & FZ_KEEP_TOKEN))
				fz_put32(buf + 12, type == TERN_PKT_RESET ? from->token : from->ep_token);
		} else {
			/* The client session when it reconnects, else the other one. */
			struct tern_session *c =
				cli != NULL && cli->state == SESS_CONNECTING ? cli : conn;
			if (c != NULL) {
				fz_put16(buf + 6, c->id);
				if (!(op & FZ_KEEP_TOKEN))
					fz_put32(buf + 12, c->token);
				if ((op & FZ_HS_FIX) && len == TERN_HDR_LEN + TERN_HS_LEN) {
					fz_put64(buf + TERN_HDR_LEN + 8, ep->epoch);    /* peer_epoch */
					fz_put64(buf + TERN_HDR_LEN + 32, c->hs_nonce); /* nonce */
				}
			}
		}
		tern_wire_seal(buf, len);
	}
	struct tern_addr src = from->addr;
	if (op & FZ_MOVED)
		src.port ^= 0x55;
	inj_push_raw(drv, buf, len, &src, (op & FZ_UNREACH) ? TERN_RX_UNREACH : 0);
}

static void api(uint8_t action, uint8_t arg)
{
	switch (action) {
	case FZ_A_CALL:
		issue(cli, (size_t)arg * 8, 0, 0, 0);
		break;
	case FZ_A_SEND:
		issue(cli, (size_t)arg * 8, 1, 0, 0);
		break;
	case FZ_A_CALL_SERVER:
		issue(srv, (size_t)arg * 8, 0, 0, 0);
		break;
	case FZ_A_RESPOND:
		answer_oldest(0, (size_t)arg * 4);
		break;
	case FZ_A_RESPOND_ERR:
		answer_oldest(-(arg % 255 + 1), 0);
		break;
	case FZ_A_CLOSE_CLIENT:
		if (cli != NULL) {
			struct tern_session *s = cli;
			forget_session(s);
			tern_session_close(s);
		}
		break;
	case FZ_A_CLOSE_SERVER:
		if (srv != NULL && srv->state == SESS_CONNECTED) {
			struct tern_session *s = srv;
			forget_session(s);
			tern_session_close(s);
		}
		break;
	case FZ_A_CALL_IDEM:
		issue(cli, (size_t)arg * 8, 0, TERN_CALL_IDEMPOTENT, 0);
		break;
	case FZ_A_CALL_CLOSING:
		issue(arg & 1 ? srv : cli, (size_t)arg * 8, 0, 0, 1);
		break;
	case FZ_A_RECONNECT:
		if (conn == NULL || conn->state != SESS_CONNECTING) {
			struct tern_session *s = NULL;
			if (tern_connect(ep, "10.0.0.5:7000", &s) == 0)
				conn = s;
		}
		break;
	case FZ_A_CALL_CONN:
		issue(conn, (size_t)arg * 8, 0, 0, 0);
		break;
	case FZ_A_CLOSE_ON_EVT:
		close_on_event = !close_on_event;
		break;
	case FZ_A_RESPOND_STATUS:
		answer_status(arg % 18, arg, arg % 7 == 6);
		break;
	default:
		tern_poll(ep);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (setup() != 0)
		__builtin_trap(); /* the fixture itself must work */
	size_t i = 0;
	while (i < size) {
		uint8_t op = data[i++];
		switch (FZ_KIND(op)) {
		case FZ_PKT: {
			if (size - i < 2)
				goto out;
			size_t len = (size_t)data[i] | (size_t)data[i + 1] << 8;
			i += 2;
			if (len > FZ_PKT_MAX)
				len = FZ_PKT_MAX;
			if (len > size - i)
				len = size - i;
			packet(op, data + i, len);
			i += len;
			if (inj_rx_pending(drv) >= TERN_RX_BURST)
				tern_poll(ep);
			break;
		}
		case FZ_TIME:
			if (i >= size)
				goto out;
			inj_clock_advance(((uint64_t)data[i++] + 1) * 250000ull);
			tern_poll(ep);
			break;
		case FZ_API:
			if (i >= size)
				goto out;
			api(op & 0x1f, data[i++]);
			break;
		default:
			for (unsigned k = 0; k <= (op & 0x3fu); k++)
				tern_poll(ep);
			break;
		}
		if (inj_tx_count(drv) > 256 || fz_trace())
			check_tx();
	}
out:
	finish();
	return 0;
}
