/*
 * test_ep.c — lib/ep.c: configuration checks, the accessors, handler
 * registration, the poll loop's re-entrancy rule, work posted from other
 * threads, tern_poll_wait(), and endpoint destruction with work pending.
 * Driver lookup is test_registry.c's, the counters test_stats.c's.
 */
#include <pthread.h>

#include "check.h"
#include "inject.h"

#define MS 1000000ull

static struct tern_stats stats_of(struct tern_ep *ep)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static void ep_config_init__defaults(void)
{
	struct tern_ep_config c;
	memset(&c, 0xff, sizeof(c));
	tern_ep_config_init(&c);
	CHECK(strcmp(c.driver, "udp") == 0);
	CHECK_EQ(c.slots, 8);
	CHECK_EQ(c.credits, 32);
	CHECK_EQ(c.max_sessions, 256);
	CHECK_EQ(c.max_msg_size, 8u << 20);
	CHECK_EQ(c.busy_poll, 1);
	CHECK_EQ(c.max_retries, 12);
	CHECK(c.log == NULL && c.on_session == NULL && c.bind == NULL);
	tern_ep_config_init(NULL); /* no-op */
}

static void ep_create__config_validation(void)
{
	REQUIRE(inj_register() == 0);
	struct tern_ep_config base;
	inj_config(&base);
	struct tern_ep *ep = (void *)1;
	for (int k = 0; k < 19; k++) {
		struct tern_ep_config c = base;
		switch (k) {
		case 0: c.slots = 0; break;
		case 1: c.slots = 3; break;
		case 2: c.slots = 128; break;
		case 3: c.credits = 0; break;
		case 4: c.credits = TERN_MAX_CREDITS + 1; break;
		case 5: c.max_sessions = 0; break;
		case 6: c.max_sessions = 65536; break; /* ids end at 65534 */
		case 7: c.max_msg_size = 0; break;
		case 8: c.max_msg_size = (1u << 30) + 1; break;
		case 9: c.mtu = TERN_HDR_LEN + 63; break;
		case 10: c.mtu = 65508; break;
		case 11: c.call_timeout_ns = 0; break;
		case 12: c.connect_timeout_ns = 0; break;
		case 13: c.keepalive_ns = 0; break;
		case 14: c.session_timeout_ns = 0; break;
		case 15: c.idle_timeout_ns = c.keepalive_ns; break; /* must outlast the keepalive */
		case 16: c.mem_limit = 0; break;
		case 17: c.rto_min_ns = 10; c.rto_max_ns = 9; break;
		default: c.bind = "not an address"; break; /* the driver's -EINVAL */
		}
		ep = (void *)1;
		int rc = tern_ep_create(&c, &ep);
		if (rc != -EINVAL)
			fprintf(stderr, "  case %d: %d\n", k, rc);
		CHECK_EQ(rc, -EINVAL);
		CHECK(ep == NULL);
	}
	CHECK_EQ(tern_ep_create(NULL, &ep), -EINVAL);
	CHECK_EQ(tern_ep_create(&base, NULL), -EINVAL);
	/* The edges that are valid. */
	struct tern_ep_config c = base;
	c.slots = 64;
	c.credits = TERN_MAX_CREDITS;
	c.max_sessions = 65535; /* as tern.h says: at most 65535 */
	c.mtu = TERN_HDR_LEN + 64;
	c.rto_min_ns = c.rto_max_ns = 5 * MS;
	REQUIRE(tern_ep_create(&c, &ep) == 0);
	CHECK_EQ(tern_ep_data_per_pkt(ep), 64);
	CHECK_EQ(ep->rto_min_ns, 5 * MS);
	CHECK_EQ(ep->probe_ns, c.session_timeout_ns / 64);
	CHECK_EQ(ep->idle_timeout_ns, 3 * c.keepalive_ns);
	CHECK_EQ(ep->ack_delay_ns, 4 * ep->rto_min_ns);
	tern_ep_destroy(ep);
	tern_ep_destroy(NULL); /* no-op */
}

static void ep_addr__accessors(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	c.mtu = 1000;
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	char buf[64];
	CHECK(strcmp(tern_ep_addr(ep, buf, sizeof(buf)), INJ_EP_ADDR) == 0);
	CHECK_EQ(tern_ep_data_per_pkt(ep), 1000 - TERN_HDR_LEN);
	CHECK_EQ(tern_ep_data_per_pkt(NULL), 0);
	CHECK(tern_now_ns() > 0);
	tern_ep_destroy(ep);
}

/* --- handlers --------------------------------------------------------------------- */

static int which;
static void h_a(struct tern_req *req, void *ctx)
{
	(void)ctx;
	which = 'a';
	tern_respond(req, tern_msg_alloc(tern_req_ep(req), 0));
}
static void h_b(struct tern_req *req, void *ctx)
{
	which = (int)(intptr_t)ctx;
	tern_respond(req, tern_msg_alloc(tern_req_ep(req), 0));
}

static void handle__registration(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	CHECK_EQ(tern_handle(NULL, 1, h_a, NULL, TERN_RRA), -EINVAL);
	CHECK_EQ(tern_handle(ep, 1, NULL, NULL, TERN_RRA), -EINVAL);
	CHECK_EQ(tern_handle(ep, 1, h_a, NULL, 3), -EINVAL);
	CHECK_EQ(tern_handle(ep, 1, h_a, NULL, 4), -EINVAL);
	CHECK_EQ(tern_handle(ep, 1, h_a, NULL, TERN_RRA), 0);
	CHECK_EQ(tern_handle(ep, 0xffff, h_a, NULL, TERN_RR), 0);
	CHECK_EQ(tern_handle(ep, 0, h_a, NULL, TERN_R), 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	inj_req(&p, 8, 1, 0, 0, 0, NULL, 0);
	inj_poll(ep);
	CHECK_EQ(which, 'a');
	/* A second registration replaces the first. */
	CHECK_EQ(tern_handle(ep, 1, h_b, (void *)(intptr_t)'b', TERN_RRA), 0);
	inj_req(&p, 16, 1, 0, 0, 0, NULL, 0);
	inj_poll(ep);
	CHECK_EQ(which, 'b');
	/* Types in another 256-page, and the top one. */
	inj_req(&p, 9, 0xffff, 0, 0, 0, NULL, 0);
	which = 0;
	inj_poll(ep);
	CHECK_EQ(which, 'a');
	inj_req(&p, 10, 0x1234, 0, 0, 0, NULL, 0);
	inj_poll(ep);
	inj_skip_tx(p.d, TERN_PKT_RESP);
	CHECK_EQ(stats_of(ep).responses_error, 1); /* ENOENT */
	tern_ep_destroy(ep);
}

/* --- re-entrancy ------------------------------------------------------------------ */

static struct tern_ep *reent_ep;
static struct tern_session *reent_s;
static int reent_checked;

static void reent_check(void)
{
	CHECK_EQ(tern_poll(reent_ep), -EDEADLK);
	CHECK_EQ(tern_poll_wait(reent_ep, 1), -EDEADLK);
	if (reent_s != NULL) {
		CHECK_EQ(tern_session_wait(reent_s, 1), -EDEADLK);
		char b[4];
		CHECK_EQ(tern_call_sync(reent_s, 1, "x", 1, b, sizeof(b), NULL, MS), -EDEADLK);
	}
	reent_checked++;
}

static void reent_handler(struct tern_req *req, void *ctx)
{
	(void)ctx;
	reent_check();
	tern_respond(req, tern_msg_alloc(tern_req_ep(req), 0));
}

static void reent_cont(const struct tern_result *res, void *ctx)
{
	(void)res;
	(void)ctx;
	reent_check();
}

static void reent_post(void *arg)
{
	(void)arg;
	reent_check();
}

static void reent_event(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)s;
	(void)ev;
	(void)err;
	(void)ctx;
	reent_check();
}

static void poll__inside_callbacks_edeadlk(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	c.on_session = reent_event;
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	reent_ep = ep;
	reent_s = NULL;
	reent_checked = 0;
	tern_handle(ep, 1, reent_handler, NULL, TERN_RRA);
	struct inj_peer srv;
	inj_peer_init(&srv, ep, NULL);
	REQUIRE(inj_accept(&srv) == 0); /* ACCEPTED event */
	reent_s = srv.s;
	inj_req(&srv, 8, 1, 0, 0, 0, NULL, 0); /* handler */
	inj_poll(ep);
	struct inj_peer cli;
	inj_peer_init(&cli, ep, "10.0.0.3:5000");
	inj_tx_clear(srv.d);
	REQUIRE(inj_connect(&cli) == 0); /* CONNECTED event */
	REQUIRE(tern_call(cli.s, 1, tern_msg_alloc(ep, 0), reent_cont, NULL, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(cli.d);
	inj_resp_pkt(&cli, 8, 1, NULL, 0, 0); /* continuation */
	inj_poll(ep);
	CHECK_EQ(tern_ep_post(ep, reent_post, NULL), 0); /* posted work */
	tern_poll(ep);
	CHECK_EQ(reent_checked, 5);
	CHECK_EQ(tern_poll(NULL), -EINVAL);
	reent_s = NULL;
	tern_ep_destroy(ep);
	CHECK_EQ(reent_checked, 7); /* CLOSED events from destroy */
}

/* --- posted work ------------------------------------------------------------------ */

struct post_ctx {
	struct tern_ep *ep;
	pthread_t owner;
	int ran;
	int wrong_thread;
	int outside_poll;
};

static void post_fn(void *arg)
{
	struct post_ctx *pc = arg;
	pc->ran++;
	if (!pthread_equal(pthread_self(), pc->owner))
		pc->wrong_thread++;
	if (pc->ep->in_poll == 0)
		pc->outside_poll++;
}

struct producer {
	struct post_ctx *pc;
	int n;
	int eagain;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	for (int i = 0; i < pr->n; i++) {
		int rc;
		while ((rc = tern_ep_post(pr->pc->ep, post_fn, pr->pc)) == -EAGAIN)
			pr->eagain++;
		if (rc != 0)
			return NULL;
	}
	return NULL;
}

static void ep_post__from_other_threads(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	struct post_ctx pc = {.ep = ep, .owner = pthread_self()};
	enum { THREADS = 3, EACH = 3000 };
	struct producer pr[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		pr[i] = (struct producer){.pc = &pc, .n = EACH};
		REQUIRE(pthread_create(&t[i], NULL, producer_main, &pr[i]) == 0);
	}
	/* Bounded: each poll drains up to 64; producers block on -EAGAIN only
	 * while the queue is full. */
	for (long k = 0; k < 100000000L && pc.ran < THREADS * EACH; k++)
		tern_poll(ep);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(pc.ran, THREADS * EACH);
	CHECK_EQ(pc.wrong_thread, 0);
	CHECK_EQ(pc.outside_poll, 0);
	CHECK_EQ(tern_ep_post(NULL, post_fn, &pc), -EINVAL);
	CHECK_EQ(tern_ep_post(ep, NULL, &pc), -EINVAL);
	tern_ep_destroy(ep);
}

static void ep_post__full_queue_eagain(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	struct post_ctx pc = {.ep = ep, .owner = pthread_self()};
	int ok = 0;
	for (int i = 0; i < (int)TERN_POST_CAP; i++)
		ok += tern_ep_post(ep, post_fn, &pc) == 0;
	CHECK_EQ(ok, TERN_POST_CAP);
	CHECK_EQ(tern_ep_post(ep, post_fn, &pc), -EAGAIN);
	CHECK_EQ(pc.ran, 0); /* nothing runs outside tern_poll */
	tern_poll(ep);
	CHECK(pc.ran > 0);
	CHECK_EQ(tern_ep_post(ep, post_fn, &pc), 0);
	for (int k = 0; k < 100 && pc.ran < (int)TERN_POST_CAP + 1; k++)
		tern_poll(ep);
	CHECK_EQ(pc.ran, TERN_POST_CAP + 1);
	tern_ep_destroy(ep);
}

/* --- tern_poll_wait on virtual time ----------------------------------------------- */

static void poll_wait__idle_returns_after_timeout(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	inj_clock_autostep(1000);
	CHECK_EQ(tern_poll_wait(ep, 5 * MS), 0);
	/* Something to do: returns at once with a count. */
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_hdr h;
	struct tern_wire_hs hs;
	inj_connect_pkt(&p, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	CHECK_EQ(tern_poll_wait(ep, 5 * MS), 1);
	inj_clock_autostep(0);
	tern_ep_destroy(ep);
}

/* --- destroy ---------------------------------------------------------------------- */

static int destroy_conts, destroy_bad;
static void destroy_cont(const struct tern_result *res, void *ctx)
{
	(void)ctx;
	destroy_conts++;
	if (res->status != -ECANCELED)
		destroy_bad++;
}

static struct tern_req *held;
static void hold_handler(struct tern_req *req, void *ctx)
{
	(void)ctx;
	held = req;
}

static void ep_destroy__pending_calls_canceled_once(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	c.slots = 2;
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	tern_handle(ep, 1, hold_handler, NULL, TERN_RRA);
	destroy_conts = destroy_bad = 0;
	/* A failed session's handle, never closed. */
	struct inj_peer dead;
	inj_peer_init(&dead, ep, "10.0.0.5:5000");
	REQUIRE(inj_connect(&dead) == 0);
	inj_reset(&dead);
	inj_poll(ep);
	REQUIRE(tern_session_state(dead.s) == TERN_SS_FAILED);
	/* A server session with a deferred request (a zombie-to-be). */
	struct inj_peer srv;
	inj_peer_init(&srv, ep, NULL);
	REQUIRE(inj_accept(&srv) == 0);
	inj_req(&srv, 2, 1, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	REQUIRE(held != NULL);
	/* A connected client session: calls in flight and in the backlog. */
	struct inj_peer cli;
	inj_peer_init(&cli, ep, "10.0.0.3:5000");
	inj_tx_clear(srv.d);
	REQUIRE(inj_connect(&cli) == 0);
	for (int i = 0; i < 4; i++)
		REQUIRE(tern_call(cli.s, 1, tern_msg_alloc(ep, 10), destroy_cont, NULL, 0) == 0);
	/* A session still connecting, with a queued call and a one-way one. */
	struct tern_session *s3;
	REQUIRE(tern_connect(ep, "10.0.0.4:5000", &s3) == 0);
	REQUIRE(tern_call(s3, 1, tern_msg_alloc(ep, 10), destroy_cont, NULL, 0) == 0);
	REQUIRE(tern_send(s3, 1, tern_msg_alloc(ep, 10), destroy_cont, NULL, 0) == 0);
	/* And a one-way call on the connected one, waiting on the done list. */
	struct inj_peer cli2;
	inj_peer_init(&cli2, ep, "10.0.0.6:5000");
	tern_poll(ep);
	inj_tx_clear(srv.d);
	REQUIRE(inj_connect(&cli2) == 0);
	REQUIRE(tern_send(cli2.s, 1, tern_msg_alloc(ep, 10), destroy_cont, NULL, 0) == 0);
	tern_ep_destroy(ep); /* ASan/LSan: no leak, no use after free */
	CHECK_EQ(destroy_conts, 7);
	CHECK_EQ(destroy_bad, 0);
	held = NULL;
}

int main(void)
{
	RUN(ep_config_init__defaults);
	RUN(ep_create__config_validation);
	RUN(ep_addr__accessors);
	RUN(handle__registration);
	RUN(poll__inside_callbacks_edeadlk);
	RUN(ep_post__from_other_threads);
	RUN(ep_post__full_queue_eagain);
	RUN(poll_wait__idle_returns_after_timeout);
	RUN(ep_destroy__pending_calls_canceled_once);
	return check_exit();
}
