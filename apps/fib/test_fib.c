/*
 * test_fib.c — Fib.Calculate in one process over loop: the known values
 * (0, 1, 2, 10, 50, 93), refusals with a status code and a sentence
 * (negative n: INVALID_ARGUMENT, n = 94: OUT_OF_RANGE, the int64 extremes), bytes that are not a CalculateRequest
 * (-EPROTO from tern_pb), and fib_compute() itself. One thread polls both
 * endpoints; calls go through the generated stub.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fib.h"
#include "tern_pb.h"

static struct tern_ep *srv, *cli;
static struct tern_session *sess;
static ProtobufCService *fib;

struct answer {
	int done;
	int status;
	int code;
	uint64_t value;
	char error[128];
};

static void pump(const int *done)
{
	uint64_t end = tern_now_ns() + 10000000000ull;
	while (!*(const volatile int *)done && tern_now_ns() < end) {
		(void)tern_poll(cli);
		(void)tern_poll(srv);
	}
}

static void on_reply(const Fib__CalculateReply *r, void *data)
{
	struct answer *a = data;
	a->status = tern_pb_last_status();
	a->code = tern_pb_last_code();
	snprintf(a->error, sizeof(a->error), "%s", tern_pb_last_message());
	if (r != NULL)
		a->value = r->value;
	a->done = 1;
}

static struct answer calc(int64_t n)
{
	struct answer a;
	memset(&a, 0, sizeof(a));
	Fib__CalculateRequest req = FIB__CALCULATE_REQUEST__INIT;
	req.n = n;
	fib__fib__calculate(fib, &req, on_reply, &a);
	pump(&a.done);
	CHECK_EQ(a.done, 1);
	return a;
}

static void fib_compute__known_values(void)
{
	static const struct {
		int64_t n;
		uint64_t v;
	} known[] = {{0, 0}, {1, 1}, {2, 1}, {3, 2}, {10, 55}, {50, 12586269025ull},
		     {92, 7540113804746346429ull}, {93, 12200160415121876738ull}};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		uint64_t v = 0;
		CHECK_EQ(fib_compute(known[i].n, &v), 0);
		CHECK(v == known[i].v);
	}
	uint64_t v;
	CHECK_EQ(fib_compute(-1, &v), -EDOM);
	CHECK_EQ(fib_compute(94, &v), -ERANGE);
	CHECK_EQ(fib_compute(INT64_MAX, &v), -ERANGE);
	CHECK_EQ(fib_compute(INT64_MIN, &v), -EDOM);
}

static void calculate__known_values(void)
{
	static const struct {
		int64_t n;
		uint64_t v;
	} known[] = {{0, 0}, {1, 1}, {2, 1}, {10, 55}, {50, 12586269025ull},
		     {93, 12200160415121876738ull}};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		struct answer a = calc(known[i].n);
		CHECK_EQ(a.status, 0);
		CHECK_EQ(a.code, TERN_STATUS_OK);
		CHECK(a.value == known[i].v);
		CHECK_EQ(strlen(a.error), 0);
	}
}

static void calculate__refusals_carry_a_reason(void)
{
	struct answer a = calc(-5);
	CHECK_EQ(a.code, TERN_STATUS_INVALID_ARGUMENT);
	CHECK_EQ(a.status, -EINVAL);
	CHECK(strstr(a.error, ">= 0") != NULL && strstr(a.error, "-5") != NULL);
	a = calc(INT64_MIN);
	CHECK_EQ(a.code, TERN_STATUS_INVALID_ARGUMENT);
	a = calc(94);
	CHECK_EQ(a.code, TERN_STATUS_OUT_OF_RANGE);
	CHECK_EQ(a.status, -ERANGE);
	CHECK(strstr(a.error, "64 bits") != NULL && strstr(a.error, "93") != NULL);
	CHECK(a.value == 0);
	a = calc(INT64_MAX);
	CHECK_EQ(a.code, TERN_STATUS_OUT_OF_RANGE);
	/* and a good one after: no message left over */
	a = calc(3);
	CHECK(a.status == 0 && a.code == 0 && a.value == 2 && a.error[0] == '\0');
}

struct raw {
	int done;
	int status;
};

static void on_raw(const struct tern_result *res, void *ctx)
{
	struct raw *r = ctx;
	r->status = res->status;
	r->done = 1;
}

static void calculate__garbage_bytes_get_eproto(void)
{
	static const uint8_t junk[][6] = {
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* a varint that never ends */
		{0x0a, 0x05, 'h', 'e', 'l', 'l'},     /* field 1 with the wrong wire type, cut short */
		{0x08, 0x80, 0x80, 0x80, 0x80, 0x80}, /* n's varint cut short */
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct tern_msg *m = tern_msg_alloc(cli, sizeof(junk[i]));
		REQUIRE(m != NULL);
		memcpy(tern_msg_data(m), junk[i], sizeof(junk[i]));
		struct raw r = {0};
		REQUIRE(tern_call(sess, FIB_BASE_TYPE, m, on_raw, &r, 0) == 0);
		pump(&r.done);
		CHECK_EQ(r.status, -EPROTO);
	}
	/* The server is fine afterwards. */
	struct answer a = calc(10);
	CHECK(a.status == 0 && a.value == 55);
}

int main(void)
{
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = "loop";
	cfg.bind = "127.0.0.1:0";
	if (tern_ep_create(&cfg, &srv) != 0 || tern_ep_create(&cfg, &cli) != 0)
		return 1;
	if (tern_pb_serve(srv, &fib_service.base, FIB_BASE_TYPE, TERN_RRA) != 0)
		return 1;
	char addr[64];
	tern_ep_addr(srv, addr, sizeof(addr));
	if (tern_connect(cli, addr, &sess) != 0)
		return 1;
	for (int i = 0; i < 1000000 && tern_session_state(sess) == TERN_SS_CONNECTING; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
	if (tern_session_state(sess) != TERN_SS_CONNECTED ||
	    tern_pb_client_create(sess, &fib__fib__descriptor, FIB_BASE_TYPE, &fib) != 0) {
		fprintf(stderr, "connect failed\n");
		return 1;
	}
	RUN(fib_compute__known_values);
	RUN(calculate__known_values);
	RUN(calculate__refusals_carry_a_reason);
	RUN(calculate__garbage_bytes_get_eproto);
	tern_pb_client_destroy(fib);
	tern_session_close(sess);
	tern_pb_ep_release(srv);
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
