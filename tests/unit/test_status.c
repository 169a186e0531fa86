/*
 * test_status.c — lib/status.c: status codes and messages.
 *
 * The errno <-> code table (every code round-trips; names), UTF-8 checks
 * and cuts at character boundaries; then, with injected packets on the
 * virtual clock, both halves of the wire form (wire.h): the server's answer
 * (tern_respond_status: code and message on the wire, cut to fit, cached
 * and sent again to a duplicate request, bad arguments -EINVAL with a log
 * line) and the client's (a status answer reaches the continuation as
 * code, message and errno; malformed ones are dropped and counted, and the
 * call goes on).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "inject.h"
#include "status.h"

#define MS 1000000ull

/* --- the table ------------------------------------------------------------------ */

static void status_to_errno__round_trip_every_code(void)
{
	const char *seen[TERN_STATUS_MAX + 1] = {0};
	CHECK_EQ(tern_status_to_errno(TERN_STATUS_OK), 0);
	CHECK_EQ(tern_status_from_errno(0), TERN_STATUS_OK);
	CHECK(strcmp(tern_status_name(TERN_STATUS_OK), "OK") == 0);
	for (int c = 1; c <= TERN_STATUS_MAX; c++) {
		int e = tern_status_to_errno(c);
		CHECK(e < 0 && e >= -255);
		CHECK_EQ(tern_status_from_errno(e), c);
		/* each code its own errno */
		for (int k = 1; k < c; k++)
			CHECK(tern_status_to_errno(k) != e);
		seen[c] = tern_status_name(c);
		CHECK(strcmp(seen[c], "?") != 0);
		for (int k = 0; k < c; k++)
			CHECK(strcmp(seen[c], tern_status_name(k)) != 0);
	}
	/* gRPC's numbering and names */
	CHECK_EQ(TERN_STATUS_NOT_FOUND, 5);
	CHECK_EQ(TERN_STATUS_UNAVAILABLE, 14);
	CHECK_EQ(TERN_STATUS_UNAUTHENTICATED, 16);
	CHECK(strcmp(tern_status_name(TERN_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT") == 0);
	CHECK(strcmp(tern_status_name(TERN_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED") == 0);
	CHECK_EQ(tern_status_to_errno(TERN_STATUS_NOT_FOUND), -ENOENT);
	CHECK_EQ(tern_status_to_errno(TERN_STATUS_UNKNOWN), -EREMOTEIO);
}

static void status_from_errno__table(void)
{
	CHECK_EQ(tern_status_from_errno(-EEXIST), TERN_STATUS_ALREADY_EXISTS);
	CHECK_EQ(tern_status_from_errno(-EPERM), TERN_STATUS_PERMISSION_DENIED);
	CHECK_EQ(tern_status_from_errno(-ETIMEDOUT), TERN_STATUS_DEADLINE_EXCEEDED);
	CHECK_EQ(tern_status_from_errno(-ECONNREFUSED), TERN_STATUS_UNAVAILABLE);
	CHECK_EQ(tern_status_from_errno(-EBUSY), TERN_STATUS_UNAVAILABLE);
	CHECK_EQ(tern_status_from_errno(-ENOSPC), TERN_STATUS_RESOURCE_EXHAUSTED);
	CHECK_EQ(tern_status_from_errno(-EMSGSIZE), TERN_STATUS_RESOURCE_EXHAUSTED);
	CHECK_EQ(tern_status_from_errno(-ECANCELED), TERN_STATUS_CANCELLED);
	/* not in the table: UNKNOWN; out of range: "?" and UNKNOWN's errno */
	CHECK_EQ(tern_status_from_errno(-ENOTSOCK), TERN_STATUS_UNKNOWN);
	CHECK_EQ(tern_status_from_errno(-1000), TERN_STATUS_UNKNOWN);
	CHECK_EQ(tern_status_from_errno(EINVAL), TERN_STATUS_UNKNOWN); /* positive: not an error */
	CHECK(strcmp(tern_status_name(-1), "?") == 0);
	CHECK(strcmp(tern_status_name(TERN_STATUS_MAX + 1), "?") == 0);
	CHECK_EQ(tern_status_to_errno(TERN_STATUS_MAX + 1), -EREMOTEIO);
	CHECK_EQ(tern_status_to_errno(-3), -EREMOTEIO);
}

/* --- UTF-8 ------------------------------------------------------------------------ */

static int valid(const char *s)
{
	return tern_utf8_valid((const uint8_t *)s, strlen(s));
}

static void utf8_valid__accepts_and_refuses(void)
{
	CHECK(valid(""));
	CHECK(valid("plain ascii"));
	CHECK(valid("\xc3\xa9"));                /* U+00E9 */
	CHECK(valid("\xe2\x82\xac"));            /* U+20AC */
	CHECK(valid("\xf0\x9f\x98\x80"));        /* U+1F600 */
	CHECK(valid("\xed\x9f\xbf"));            /* U+D7FF, below the surrogates */
	CHECK(valid("\xf4\x8f\xbf\xbf"));        /* U+10FFFF */
	CHECK(!valid("\x80"));                   /* a lone continuation */
	CHECK(!valid("\xc0\xaf"));               /* overlong '/' */
	CHECK(!valid("\xc1\xbf"));
	CHECK(!valid("\xe0\x80\xaf"));           /* overlong, 3 bytes */
	CHECK(!valid("\xf0\x80\x80\xaf"));       /* overlong, 4 bytes */
	CHECK(!valid("\xed\xa0\x80"));           /* U+D800, a surrogate */
	CHECK(!valid("\xf4\x90\x80\x80"));       /* above U+10FFFF */
	CHECK(!valid("\xf5\x80\x80\x80"));
	CHECK(!valid("\xff"));
	CHECK(!valid("\xc3"));                   /* cut short */
	CHECK(!valid("\xe2\x82"));
	CHECK(!valid("\xf0\x9f\x98"));
	CHECK(!valid("\xe2\x28\xa1"));           /* not a continuation */
	const uint8_t nul[] = {'a', 0, 'b'};
	CHECK(!tern_utf8_valid(nul, sizeof(nul))); /* NUL inside */
}

/* Every cut of a text mixing 1-, 2-, 3- and 4-byte characters ends at a
 * character boundary, as long as it can be. */
static void utf8_cut__at_character_boundaries(void)
{
	const char *t = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"; /* a é € 😀 z */
	/* character starts: 0 a, 1 é, 3 €, 6 😀, 10 z, 11 end */
	const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11, 11, 11};
	size_t n = strlen(t);
	CHECK_EQ(n, 11);
	for (size_t limit = 0; limit < sizeof(want) / sizeof(want[0]); limit++) {
		size_t k = tern_utf8_cut(t, n, limit);
		CHECK_EQ(k, want[limit]);
		CHECK(tern_utf8_valid((const uint8_t *)t, k));
	}
}

/* --- the server's half: tern_respond_status ---------------------------------------- */

static struct tern_ep *ep;
static struct inj *d;
static struct inj_peer peer;
static int runs;
static int answer_code;
static const char *answer_msg;
static int answer_rc;
static struct tern_req *held;
static int log_errors;
static char log_last[256];

enum { T_STATUS = 1, T_STATUS_RR = 2, T_HOLD = 3 };

static void log_hook(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level == TERN_LOG_ERR)
		log_errors++;
	snprintf(log_last, sizeof(log_last), "%s", msg);
}

static void h_status(struct tern_req *req, void *ctx)
{
	(void)ctx;
	runs++;
	answer_rc = tern_respond_status(req, answer_code, answer_msg);
}

static void h_hold(struct tern_req *req, void *ctx)
{
	(void)ctx;
	runs++;
	held = req;
}

static int server(uint16_t mtu)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.mtu = mtu;
	cfg.log = log_hook;
	runs = 0;
	answer_rc = 1;
	held = NULL;
	log_errors = 0;
	log_last[0] = '\0';
	ep = inj_ep_create(&cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	tern_handle(ep, T_STATUS, h_status, NULL, TERN_RRA);
	tern_handle(ep, T_STATUS_RR, h_status, NULL, TERN_RR);
	tern_handle(ep, T_HOLD, h_hold, NULL, TERN_RRA);
	inj_peer_init(&peer, ep, NULL);
	return inj_accept(&peer);
}

static struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static void teardown(void)
{
	CHECK_EQ(inj_tx_bad(d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
}

/* The next RESP must be req_num's status answer: code, and the message want
 * (its first len bytes). */
static int expect_status(uint64_t req_num, uint16_t type, int code, const char *want, size_t len)
{
	inj_skip_tx(d, TERN_PKT_CR);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_RESP);
	if (r == NULL)
		return 0;
	int ok = r->wire == TERN_WIRE_OK && r->h.req_num == req_num && r->h.req_type == type &&
		 r->h.pkt_num == 0 && (r->h.flags & TERN_WF_STATUS) && r->h.status == code &&
		 r->h.msg_size == len && r->body_len == len &&
		 (len == 0 || memcmp(r->body, want, len) == 0);
	if (!ok)
		fprintf(stderr, "  RESP req %llu type %u flags %#x status %u size %u body %u, want %llu %u "
			"STATUS %d %zu\n", (unsigned long long)r->h.req_num, r->h.req_type,
			r->h.flags, r->h.status, r->h.msg_size, r->body_len,
			(unsigned long long)req_num, type, code, len);
	return ok;
}

static void respond_status__sent_and_resent_from_cache(void)
{
	REQUIRE(server(1472) == 0);
	answer_code = TERN_STATUS_NOT_FOUND;
	answer_msg = "no key \xc2\xab" "k1\xc2\xbb"; /* no key «k1» */
	size_t len = strlen(answer_msg);
	inj_req(&peer, 8, T_STATUS, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	CHECK_EQ(answer_rc, 0);
	CHECK(expect_status(8, T_STATUS, TERN_STATUS_NOT_FOUND, answer_msg, len));
	CHECK_EQ(stats().responses_error, 1);
	CHECK_EQ(stats().cached_responses, 1);
	/* A duplicate (the answer was lost): the same answer, from the cache. */
	inj_req(&peer, 8, T_STATUS, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	CHECK(expect_status(8, T_STATUS, TERN_STATUS_NOT_FOUND, answer_msg, len));
	CHECK_EQ(runs, 1);
	CHECK_EQ(stats().requests_dup, 1);
	/* Acknowledged: freed, and a later duplicate gets nothing. */
	inj_ack(&peer, 8, T_STATUS);
	inj_poll(ep);
	CHECK_EQ(stats().cached_responses, 0);
	inj_req(&peer, 8, T_STATUS, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_RESP), 0);
	CHECK_EQ(runs, 1);
	teardown();
}

/* RR handlers re-run duplicates of plain answers; status answers are kept
 * like every error answer, so a duplicate gets the same code and message. */
static void respond_status__rr_kept_too(void)
{
	REQUIRE(server(1472) == 0);
	answer_code = TERN_STATUS_ALREADY_EXISTS;
	answer_msg = "exists";
	inj_req(&peer, 8, T_STATUS_RR, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(8, T_STATUS_RR, TERN_STATUS_ALREADY_EXISTS, "exists", 6));
	inj_req(&peer, 8, T_STATUS_RR, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(8, T_STATUS_RR, TERN_STATUS_ALREADY_EXISTS, "exists", 6));
	CHECK_EQ(runs, 1);
	teardown();
}

/* No message (NULL or ""): the code alone, no body. */
static void respond_status__code_alone(void)
{
	REQUIRE(server(1472) == 0);
	answer_code = TERN_STATUS_PERMISSION_DENIED;
	answer_msg = NULL;
	inj_req(&peer, 8, T_STATUS, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(8, T_STATUS, TERN_STATUS_PERMISSION_DENIED, NULL, 0));
	answer_msg = "";
	inj_req(&peer, 9, T_STATUS, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(9, T_STATUS, TERN_STATUS_PERMISSION_DENIED, NULL, 0));
	CHECK_EQ(stats().cached_responses, 0);
	teardown();
}

/* Longer than TERN_STATUS_MSG_MAX, or than a packet: cut to fit, at a
 * character boundary (3-byte characters straddle both limits). */
static void respond_status__long_message_cut_at_a_character(void)
{
	static char text[1200];
	size_t n = 0;
	text[n++] = 'a'; /* 1 + 3k: 512 and 64 fall inside a character */
	while (n + 3 < sizeof(text)) {
		memcpy(text + n, "\xe2\x82\xac", 3);
		n += 3;
	}
	text[n] = '\0';
	REQUIRE(server(1472) == 0);
	answer_code = TERN_STATUS_INVALID_ARGUMENT;
	answer_msg = text;
	inj_req(&peer, 8, T_STATUS, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK_EQ(answer_rc, 0);
	/* 512 = 1 + 3 * 170 + 1: the 171st euro sign does not fit */
	CHECK(expect_status(8, T_STATUS, TERN_STATUS_INVALID_ARGUMENT, text, 511));
	teardown();
	/* MTU 96: 64 payload bytes per packet; 64 = 1 + 3 * 21: it fits whole */
	REQUIRE(server(96) == 0);
	CHECK_EQ(peer.dpp, 64);
	inj_req(&peer, 8, T_STATUS, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(8, T_STATUS, TERN_STATUS_INVALID_ARGUMENT, text, 64));
	text[67] = '\0';
	answer_msg = text + 1; /* 22 euro signs, 66 bytes: the 22nd straddles 64 */
	inj_req(&peer, 9, T_STATUS, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(expect_status(9, T_STATUS, TERN_STATUS_INVALID_ARGUMENT, text + 1, 63));
	teardown();
}

/* Bad arguments: -EINVAL, a log line that says why, nothing sent, and the
 * request still unanswered (a good answer then goes). */
static void respond_status__bad_arguments_einval(void)
{
	REQUIRE(server(1472) == 0);
	inj_req(&peer, 8, T_HOLD, 0, 1, 0, "x", 1);
	inj_poll(ep);
	inj_skip_tx(d, TERN_PKT_CR);
	REQUIRE(held != NULL);
	CHECK_EQ(tern_respond_status(NULL, TERN_STATUS_INTERNAL, "x"), -EINVAL);
	CHECK_EQ(tern_respond_status(held, TERN_STATUS_OK, "x"), -EINVAL);
	CHECK(strstr(log_last, "code 0") != NULL);
	CHECK_EQ(tern_respond_status(held, TERN_STATUS_MAX + 1, "x"), -EINVAL);
	CHECK(strstr(log_last, "not an error code") != NULL);
	CHECK_EQ(tern_respond_status(held, -5, "x"), -EINVAL);
	CHECK_EQ(tern_respond_status(held, TERN_STATUS_INTERNAL, "bad \xc3("), -EINVAL);
	CHECK(strstr(log_last, "UTF-8") != NULL);
	CHECK_EQ(log_errors, 4);
	CHECK_EQ(tern_respond_error(held, 3), -EINVAL);
	CHECK(strstr(log_last, "negative errno") != NULL);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_respond_status(held, TERN_STATUS_INTERNAL, "disk on fire"), 0);
	tern_poll(ep);
	CHECK(expect_status(8, T_HOLD, TERN_STATUS_INTERNAL, "disk on fire", 12));
	/* Answered once: a second answer is refused, and said so. */
	CHECK_EQ(tern_respond_status(held, TERN_STATUS_INTERNAL, "again"), -EINVAL);
	CHECK(strstr(log_last, "answered already") != NULL);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	teardown();
}

/* --- the client's half: a status answer ends the call ------------------------------ */

struct got {
	int calls, status, code;
	size_t len, message_len;
	int message_null, data_null;
	char message[TERN_STATUS_MSG_MAX + 1];
};

static void cont(const struct tern_result *res, void *ctx)
{
	struct got *g = ctx;
	g->calls++;
	g->status = res->status;
	g->code = res->code;
	g->len = res->len;
	g->data_null = res->data == NULL;
	g->message_null = res->message == NULL;
	g->message_len = res->message_len;
	if (res->message != NULL && res->message_len <= TERN_STATUS_MSG_MAX) {
		memcpy(g->message, res->message, res->message_len + 1); /* with its NUL */
	}
}

static int client(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.call_timeout_ns = 10000 * MS;
	ep = inj_ep_create(&cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	return inj_connect(&peer);
}

/* A call of type 1 on the session; its req_num (the REQ sent). */
static uint64_t start(struct got *g)
{
	memset(g, 0, sizeof(*g));
	struct tern_msg *m = inj_msg(ep, 10, 1);
	if (tern_call(peer.s, 1, m, cont, g, 0) != 0)
		return 0;
	tern_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	return q != NULL ? q->h.req_num : 0;
}

static void status_resp(uint64_t req_num, uint8_t code, uint8_t flags, uint32_t msg_size,
			const void *body, size_t len)
{
	struct tern_hdr h = inj_hdr(&peer, TERN_PKT_RESP);
	h.req_num = req_num;
	h.req_type = 1;
	h.status = code;
	h.flags = flags;
	h.msg_size = msg_size;
	inj_send(&peer, &h, body, len);
	inj_poll(ep);
}

static void call_error__status_and_message_reach_the_continuation(void)
{
	REQUIRE(client() == 0);
	struct got g;
	uint64_t rn = start(&g);
	REQUIRE(rn != 0);
	const char *msg = "key \xc2\xabk1\xc2\xbb not found";
	status_resp(rn, TERN_STATUS_NOT_FOUND, TERN_WF_STATUS, (uint32_t)strlen(msg), msg,
		    strlen(msg));
	CHECK_EQ(g.calls, 1);
	CHECK_EQ(g.status, -ENOENT);
	CHECK_EQ(g.code, TERN_STATUS_NOT_FOUND);
	CHECK_EQ(g.message_len, strlen(msg));
	CHECK(strcmp(g.message, msg) == 0);
	CHECK(g.data_null);
	CHECK_EQ(g.len, 0);
	/* A code with an errno of its own that is not the common one. */
	rn = start(&g);
	status_resp(rn, TERN_STATUS_UNAUTHENTICATED, TERN_WF_STATUS, 0, NULL, 0);
	CHECK_EQ(g.calls, 1);
	CHECK_EQ(g.code, TERN_STATUS_UNAUTHENTICATED);
	CHECK_EQ(g.status, tern_status_to_errno(TERN_STATUS_UNAUTHENTICATED));
	CHECK_EQ(g.message_len, 0);
	CHECK(!g.message_null && g.message[0] == '\0');
	/* A plain errno answer: the code it maps to, no message. */
	rn = start(&g);
	status_resp(rn, EEXIST, 0, 0, NULL, 0);
	CHECK_EQ(g.calls, 1);
	CHECK_EQ(g.status, -EEXIST);
	CHECK_EQ(g.code, TERN_STATUS_ALREADY_EXISTS);
	CHECK(!g.message_null && g.message[0] == '\0');
	/* Success: code 0, no message. */
	rn = start(&g);
	inj_resp_pkt(&peer, rn, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(g.calls, 1);
	CHECK_EQ(g.status, 0);
	CHECK_EQ(g.code, TERN_STATUS_OK);
	CHECK(g.message_null);
	CHECK_EQ(g.len, 2);
	teardown();
}

/* Malformed status answers are dropped and counted (TERN_DROP_STATUS); the
 * call goes on and the next good answer ends it, once. */
static void call_error__malformed_status_dropped(void)
{
	REQUIRE(client() == 0);
	struct got g;
	uint64_t rn = start(&g);
	REQUIRE(rn != 0);
	uint8_t big[TERN_STATUS_MSG_MAX + 1];
	memset(big, 'x', sizeof(big));
	int n = 0;
	status_resp(rn, 0, TERN_WF_STATUS, 2, "hi", 2), n++;                 /* code 0 */
	status_resp(rn, TERN_STATUS_MAX + 1, TERN_WF_STATUS, 2, "hi", 2), n++; /* code too big */
	status_resp(rn, 255, TERN_WF_STATUS, 0, NULL, 0), n++;
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, sizeof(big), big, sizeof(big)), n++;
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 3, "hi", 2), n++; /* short body */
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 1, "hi", 2), n++; /* long body */
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 2, "\xc3(", 2), n++; /* not UTF-8 */
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 3, "a\0b", 3), n++;  /* NUL */
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 2, "\xed\xa0", 2), n++; /* cut */
	CHECK_EQ(g.calls, 0);
	struct tern_stats st = stats();
	CHECK_EQ(st.drops[TERN_DROP_STATUS], (uint64_t)n);
	CHECK(strcmp(tern_drop_name(TERN_DROP_STATUS), "status") == 0);
	/* a plain errno answer with a body is malformed too (as before) */
	status_resp(rn, EIO, 0, 2, "hi", 2);
	CHECK_EQ(g.calls, 0);
	CHECK_EQ(stats().drops[TERN_DROP_LENGTH], st.drops[TERN_DROP_LENGTH] + 1);
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 2, "ok", 2);
	CHECK_EQ(g.calls, 1);
	CHECK_EQ(g.status, -EIO);
	CHECK_EQ(g.code, TERN_STATUS_INTERNAL);
	CHECK(strcmp(g.message, "ok") == 0);
	status_resp(rn, TERN_STATUS_INTERNAL, TERN_WF_STATUS, 2, "ok", 2); /* a copy: stale */
	CHECK_EQ(g.calls, 1);
	teardown();
}

int main(void)
{
	RUN(status_to_errno__round_trip_every_code);
	RUN(status_from_errno__table);
	RUN(utf8_valid__accepts_and_refuses);
	RUN(utf8_cut__at_character_boundaries);
	RUN(respond_status__sent_and_resent_from_cache);
	RUN(respond_status__rr_kept_too);
	RUN(respond_status__code_alone);
	RUN(respond_status__long_message_cut_at_a_character);
	RUN(respond_status__bad_arguments_einval);
	RUN(call_error__status_and_message_reach_the_continuation);
	RUN(call_error__malformed_status_dropped);
	return check_exit();
}
