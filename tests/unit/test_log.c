/*
 * test_log.c — lib/log.c, the log hook: the core's lines (tern_log) and a
 * driver's (tern_drv_log) reach the hook of the endpoint's config with their
 * level and context, formatted and cut at 511 bytes; with no hook nothing
 * is called.
 */
#include "check.h"
#include "inject.h"

struct seen_line {
	int calls;
	int level;
	void *ctx;
	char msg[1024];
};

static void hook(void *ctx, int level, const char *msg)
{
	struct seen_line *l = ctx;
	l->calls++;
	l->level = level;
	l->ctx = ctx;
	snprintf(l->msg, sizeof(l->msg), "%s", msg);
}

static void log__formatted_to_the_hook(void)
{
	struct seen_line l = {0};
	struct tern_ep_config c;
	inj_config(&c);
	c.log = hook;
	c.log_ctx = &l;
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	l.calls = 0; /* whatever creating it logged */
	tern_log(ep, TERN_LOG_WARN, "%s %d", "seven", 7);
	CHECK_EQ(l.calls, 1);
	CHECK_EQ(l.level, TERN_LOG_WARN);
	CHECK(l.ctx == &l);
	CHECK(strcmp(l.msg, "seven 7") == 0);
	/* A long line is cut, never overflows. */
	char big[700];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	tern_log(ep, TERN_LOG_ERR, "%s", big);
	CHECK_EQ(l.calls, 2);
	CHECK_EQ(strlen(l.msg), 511);
	/* No endpoint: nothing. */
	tern_log(NULL, TERN_LOG_ERR, "x");
	CHECK_EQ(l.calls, 2);
	tern_ep_destroy(ep);
	/* No hook: nothing (and nothing printed). */
	inj_config(&c);
	ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	tern_log(ep, TERN_LOG_ERR, "dropped");
	tern_ep_destroy(ep);
	CHECK_EQ(l.calls, 2);
}

static void drv_log__formatted_to_the_hook(void)
{
	struct seen_line l = {0};
	struct tern_drv drv;
	memset(&drv, 0, sizeof(drv));
	tern_drv_log(&drv, TERN_LOG_ERR, "no hook");
	tern_drv_log(NULL, TERN_LOG_ERR, "no driver");
	CHECK_EQ(l.calls, 0);
	drv.log = hook;
	drv.log_ctx = &l;
	tern_drv_log(&drv, TERN_LOG_INFO, "port %u", 4000u);
	CHECK_EQ(l.calls, 1);
	CHECK_EQ(l.level, TERN_LOG_INFO);
	CHECK(l.ctx == &l);
	CHECK(strcmp(l.msg, "port 4000") == 0);
}

int main(void)
{
	RUN(log__formatted_to_the_hook);
	RUN(drv_log__formatted_to_the_hook);
	return check_exit();
}
