/*
 * test_addr.c — lib/addr.c: what a bad address returns and what it says.
 *
 * tern_addr_parse_why() on each kind of bad address (no port, a port out of
 * range or not a number, a dotted host that is no IPv4 address, a name that
 * does not resolve, IPv6 without brackets), and the same through
 * tern_connect() and a driver's bind, whose messages reach the endpoint's
 * log hook. The name lookup needs no network: ".invalid" never resolves
 * (RFC 6761); a resolver that cannot be asked at all (EAI_AGAIN) skips
 * that case.
 *
 * tern_arg_uint(), the one parser of the drivers' "k=v" numbers: what it
 * accepts (digits, the k/m/g multipliers, the bounds), what it refuses
 * (-EINVAL, *out untouched) and the reason it gives through the log hook;
 * and that a driver's bad argument reaches the endpoint's hook that way.
 */
#include <errno.h>

#include "check.h"
#include "inject.h"

/* The log hook's last error line. */
struct logged {
	int lines;
	char msg[512];
};

static void log_capture(void *ctx, int level, const char *msg)
{
	struct logged *l = ctx;
	if (level > TERN_LOG_ERR)
		return;
	l->lines++;
	snprintf(l->msg, sizeof(l->msg), "%s", msg);
}

/* Parse s; check the code and that the sentence names s and contains want. */
static void parse_fails(const char *s, int code, const char *want)
{
	struct tern_addr a;
	char why[384];
	int rc = tern_addr_parse_why(s, &a, why, sizeof(why));
	CHECK_EQ(rc, code);
	if (strstr(why, want) == NULL || strstr(why, s) == NULL)
		fprintf(stderr, "  %s: \"%s\" does not say \"%s\"\n", s, why, want);
	CHECK(strstr(why, want) != NULL);
	CHECK(strstr(why, s) != NULL);
	CHECK_EQ(tern_addr_parse(s, &a), code); /* the same code without the sentence */
}

static void tern_addr_parse_why__no_port(void)
{
	parse_fails("127.0.0.1", -EINVAL, "no port; expected host:port");
	parse_fails("127.0.0.1:", -EINVAL, "no port after the colon");
	parse_fails("[::1]", -EINVAL, "no port; expected [ipv6]:port");
}

static void tern_addr_parse_why__port_out_of_range(void)
{
	parse_fails("127.0.0.1:99999", -EINVAL, "port 99999 is out of range (0..65535)");
	parse_fails("127.0.0.1:65536", -EINVAL, "out of range");
	parse_fails("127.0.0.1:99999999999999999999999", -EINVAL, "out of range");
}

static void tern_addr_parse_why__port_not_a_number(void)
{
	/* "foo" would not resolve either: the port is judged first. */
	parse_fails("foo:bar", -EINVAL, "port \"bar\" is not a number");
	parse_fails("127.0.0.1:-1", -EINVAL, "not a number");
	parse_fails("127.0.0.1:80x", -EINVAL, "not a number");
}

static void tern_addr_parse_why__bad_ipv4(void)
{
	parse_fails("300.1.1.1:40000", -EINVAL, "\"300.1.1.1\" is not an IPv4 address");
	parse_fails("1.2.3:40000", -EINVAL, "is not an IPv4 address"); /* not 1.2.0.3 */
}

static void tern_addr_parse_why__malformed_other(void)
{
	parse_fails(":40000", -EINVAL, "no host");
	parse_fails("::1:40000", -EINVAL, "needs brackets");
	parse_fails("[::1:40000", -EINVAL, "no ']'");
	parse_fails("[zz]:40000", -EINVAL, "is not an IPv6 address");
}

static void tern_addr_parse_why__unresolvable_name(void)
{
	struct tern_addr a;
	char why[384];
	int rc = tern_addr_parse_why("nosuchhost.invalid:40000", &a, why, sizeof(why));
	if (rc == -EAGAIN) {
		SKIP("the resolver cannot be asked here (EAI_AGAIN)");
		return;
	}
	CHECK_EQ(rc, -ENXIO);
	CHECK(strstr(why, "cannot resolve \"nosuchhost.invalid\"") != NULL);
}

static void tern_addr_parse_why__good(void)
{
	struct tern_addr a;
	char why[64] = "untouched";
	CHECK_EQ(tern_addr_parse_why("127.0.0.1:31850", &a, why, sizeof(why)), 0);
	CHECK_EQ(a.family, AF_INET);
	CHECK_EQ(a.port, 31850);
	CHECK(memcmp(a.ip, "\x7f\0\0\x01", 4) == 0);
	CHECK_EQ(why[0], '\0');
	CHECK_EQ(tern_addr_parse_why("[::1]:0", &a, NULL, 0), 0);
	CHECK_EQ(a.family, AF_INET6);
	CHECK_EQ(tern_addr_parse_why("localhost:7", &a, NULL, 0), 0);
	CHECK_EQ(a.port, 7);
}

/* tern_connect says what is wrong through the log hook. */
static void tern_connect__bad_address_logged(void)
{
	static const struct {
		const char *addr;
		int code;
		const char *want;
	} cases[] = {
		{"127.0.0.1", -EINVAL, "tern_connect: \"127.0.0.1\": no port"},
		{"127.0.0.1:99999", -EINVAL, "port 99999 is out of range"},
		{"foo:bar", -EINVAL, "port \"bar\" is not a number"},
		{"300.1.1.1:40000", -EINVAL, "\"300.1.1.1\" is not an IPv4 address"},
		{"127.0.0.1:0", -EINVAL, "port 0; give the server's port"},
		{"nosuchhost.invalid:40000", -ENXIO, "cannot resolve \"nosuchhost.invalid\""},
	};
	struct logged l = {0};
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.log = log_capture;
	cfg.log_ctx = &l;
	struct tern_ep *ep = inj_ep_create(&cfg);
	REQUIRE(ep != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern_session *s = (void *)1;
		int before = l.lines;
		int rc = tern_connect(ep, cases[i].addr, &s);
		if (rc == -EAGAIN && cases[i].code == -ENXIO)
			continue; /* no resolver here: tern_addr_parse_why__unresolvable_name skips */
		CHECK_EQ(rc, cases[i].code);
		CHECK(s == NULL);
		CHECK_EQ(l.lines, before + 1);
		if (strstr(l.msg, cases[i].want) == NULL)
			fprintf(stderr, "  %s: logged \"%s\"\n", cases[i].addr, l.msg);
		CHECK(strstr(l.msg, cases[i].want) != NULL);
	}
	struct tern_session *s = NULL;
	CHECK_EQ(tern_connect(ep, NULL, &s), -EINVAL);
	CHECK(strstr(l.msg, "no address given") != NULL);
	tern_ep_destroy(ep);
}

/* A loop endpoint (loop: always built) with bind and driver_args fails to
 * open: -EINVAL, and the hook's last error line contains want. */
static void loop_ep_fails_saying(const char *bind, const char *args, const char *want)
{
	struct logged l = {0};
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = "loop";
	cfg.bind = bind;
	cfg.driver_args = args;
	cfg.log = log_capture;
	cfg.log_ctx = &l;
	struct tern_ep *ep = NULL;
	CHECK_EQ(tern_ep_create(&cfg, &ep), -EINVAL);
	CHECK(ep == NULL);
	if (strstr(l.msg, want) == NULL)
		fprintf(stderr, "  \"%s\" does not say \"%s\"\n", l.msg, want);
	CHECK(strstr(l.msg, want) != NULL);
}

/* A driver's bind says what is wrong too. */
static void driver_bind__bad_address_logged(void)
{
	loop_ep_fails_saying("127.0.0.1:99999", NULL,
			     "loop: bind \"127.0.0.1:99999\": port 99999 is out of range");
}

/* --- tern_arg_uint / tern_arg_u32 --- */

/* A driver handle that only carries the log hook (named "test"). */
static const struct tern_drv_ops arg_ops = {.name = "test"};

static void arg_ok(const char *v, uint64_t min, uint64_t max, unsigned flags, uint64_t want)
{
	struct logged l = {0};
	struct tern_drv d = {.ops = &arg_ops, .log = log_capture, .log_ctx = &l};
	uint64_t x = 12345;
	CHECK_EQ(tern_arg_uint(&d, "k", v, min, max, flags, &x), 0);
	CHECK_EQ(x, want);
	CHECK_EQ(l.lines, 0);
}

/* Refused: -EINVAL, *out untouched, one line naming driver, value, key, reason. */
static void arg_bad(const char *v, uint64_t min, uint64_t max, unsigned flags, const char *reason)
{
	struct logged l = {0};
	struct tern_drv d = {.ops = &arg_ops, .log = log_capture, .log_ctx = &l};
	uint64_t x = 12345;
	char want[160];
	CHECK_EQ(tern_arg_uint(&d, "k", v, min, max, flags, &x), -EINVAL);
	CHECK_EQ(x, 12345);
	CHECK_EQ(l.lines, 1);
	snprintf(want, sizeof(want), "test: bad value \"%s\" for k: %s", v != NULL ? v : "", reason);
	if (strstr(l.msg, want) == NULL)
		fprintf(stderr, "  \"%s\" does not say \"%s\"\n", l.msg, want);
	CHECK(strstr(l.msg, want) != NULL);
	CHECK_EQ(tern_arg_uint(NULL, "k", v, min, max, flags, &x), -EINVAL); /* no hook: no line */
}

static void tern_arg_uint__decimal(void)
{
	arg_ok("0", 0, 10, 0, 0);
	arg_ok("10", 0, 10, 0, 10);
	arg_ok("007", 0, 10, 0, 7);
	arg_ok("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
}

static void tern_arg_uint__not_a_number(void)
{
	arg_bad("", 0, 10, 0, "no value");
	arg_bad(NULL, 0, 10, 0, "no value");
	arg_bad("-1", 0, 10, 0, "not a decimal number");
	arg_bad("+1", 0, 10, 0, "not a decimal number");
	arg_bad(" 1", 0, 10, 0, "not a decimal number");
	arg_bad("0x10", 0, 100, 0, "not a decimal number");
	arg_bad("1 ", 0, 10, 0, "not a decimal number");
	arg_bad("nan", 0, 10, 0, "not a decimal number");
	arg_bad("1k", 0, 100000, 0, "not a decimal number"); /* no multiplier asked for */
}

static void tern_arg_uint__bounds(void)
{
	arg_bad("11", 0, 10, 0, "too large");
	arg_bad("0", 1, 10, 0, "too small");
	arg_bad("18446744073709551616", 0, UINT64_MAX, 0, "too large"); /* 2^64 */
	arg_bad("99999999999999999999999", 0, UINT64_MAX, 0, "too large");
}

static void tern_arg_uint__multipliers(void)
{
	arg_ok("4k", 0, 1u << 20, TERN_ARG_KMG, 4096);
	arg_ok("4K", 0, 1u << 20, TERN_ARG_KMG, 4096);
	arg_ok("1m", 0, 1u << 20, TERN_ARG_KMG, 1u << 20);
	arg_ok("2G", 0, UINT64_MAX, TERN_ARG_KMG, 2ull << 30);
	arg_ok("100", 0, 1000, TERN_ARG_KMG, 100);
	arg_bad("1025k", 0, 1u << 20, TERN_ARG_KMG, "too large");
	arg_bad("0k", 1, 10, TERN_ARG_KMG, "too small");
	arg_bad("1t", 0, UINT64_MAX, TERN_ARG_KMG, "not a number with an optional k, m or g");
	arg_bad("1kk", 0, UINT64_MAX, TERN_ARG_KMG, "not a number with an optional k, m or g");
	arg_bad("k", 0, UINT64_MAX, TERN_ARG_KMG, "not a decimal number");
	/* 2^54 k would wrap 64 bits: refused, not wrapped */
	arg_bad("18014398509481984k", 0, UINT64_MAX, TERN_ARG_KMG, "too large");
}

static void tern_arg_u32__fits(void)
{
	uint32_t x = 7;
	CHECK_EQ(tern_arg_u32(NULL, "k", "4294967295", 0, UINT32_MAX, 0, &x), 0);
	CHECK_EQ(x, UINT32_MAX);
	CHECK_EQ(tern_arg_u32(NULL, "k", "4294967296", 0, UINT32_MAX, 0, &x), -EINVAL);
	CHECK_EQ(x, UINT32_MAX);
	CHECK_EQ(tern_arg_u32(NULL, "k", "64k", 0, UINT32_MAX, TERN_ARG_KMG, &x), 0);
	CHECK_EQ(x, 65536);
}

/* A driver's bad number reaches the endpoint's hook with the reason. */
static void driver_args__bad_number_logged(void)
{
	loop_ep_fails_saying(NULL, "ring=64x", "loop: bad value \"64x\" for ring: not a decimal number");
	loop_ep_fails_saying(NULL, "mtu=-1", "loop: bad value \"-1\" for mtu: not a decimal number");
}

int main(void)
{
	RUN(tern_addr_parse_why__no_port);
	RUN(tern_addr_parse_why__port_out_of_range);
	RUN(tern_addr_parse_why__port_not_a_number);
	RUN(tern_addr_parse_why__bad_ipv4);
	RUN(tern_addr_parse_why__malformed_other);
	RUN(tern_addr_parse_why__unresolvable_name);
	RUN(tern_addr_parse_why__good);
	RUN(tern_connect__bad_address_logged);
	RUN(driver_bind__bad_address_logged);
	RUN(tern_arg_uint__decimal);
	RUN(tern_arg_uint__not_a_number);
	RUN(tern_arg_uint__bounds);
	RUN(tern_arg_uint__multipliers);
	RUN(tern_arg_u32__fits);
	RUN(driver_args__bad_number_logged);
	return check_exit();
}
