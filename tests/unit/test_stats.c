/*
 * test_stats.c — lib/stats.c: reading an endpoint's counters, the names of
 * the drop reasons, and formatting the counters (as snprintf does).
 */
#include "check.h"
#include "inject.h"

static void ep_stats__arguments(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	CHECK_EQ(tern_ep_stats(NULL, NULL), -EINVAL);
	struct tern_stats st;
	CHECK_EQ(tern_ep_stats(ep, NULL), -EINVAL);
	CHECK_EQ(tern_ep_stats(ep, &st), 0);
	tern_ep_destroy(ep);
}

static void drop_name__every_reason(void)
{
	CHECK(strcmp(tern_drop_name(TERN_DROP_TOKEN), "token") == 0);
	CHECK(strcmp(tern_drop_name(TERN_DROP_CHECKSUM), "checksum") == 0);
	CHECK(strcmp(tern_drop_name(-1), "unknown") == 0);
	CHECK(strcmp(tern_drop_name(TERN_DROP_MAX), "unknown") == 0);
	for (int r = 0; r < TERN_DROP_MAX; r++)
		CHECK(tern_drop_name(r) != NULL && strcmp(tern_drop_name(r), "unknown") != 0);
}

static void stats_format__like_snprintf(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = inj_ep_create(&c);
	REQUIRE(ep != NULL);
	struct tern_stats st;
	REQUIRE(tern_ep_stats(ep, &st) == 0);
	char out[4096];
	int n = tern_stats_format(&st, out, sizeof(out));
	CHECK(n > 0 && (size_t)n < sizeof(out));
	CHECK(strstr(out, "drop_token") != NULL);
	CHECK(strstr(out, "msgs_in_use") != NULL);
	char tiny[8];
	int m = tern_stats_format(&st, tiny, sizeof(tiny));
	CHECK_EQ(m, n); /* as snprintf: the length it would have written */
	CHECK_EQ(strlen(tiny), sizeof(tiny) - 1);
	CHECK_EQ(tern_stats_format(NULL, out, sizeof(out)), -EINVAL);
	CHECK_EQ(tern_stats_format(&st, out, 0), -EINVAL);
	tern_ep_destroy(ep);
}

int main(void)
{
	RUN(ep_stats__arguments);
	RUN(drop_name__every_reason);
	RUN(stats_format__like_snprintf);
	return check_exit();
}
