/*
 * check.h — the tiny test harness every tern test program uses.
 *
 * A test program is a main() that RUN()s its cases and returns
 * check_exit(): 0 when every CHECK held, 1 otherwise, 77 (meson's "skip")
 * only when SKIP() was called and nothing failed. Case names follow
 * function__case (e.g. wire_check__short_packet).
 */
#ifndef TERN_TEST_CHECK_H
#define TERN_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One set of counters per test program, whichever of its files CHECKs (a
 * unit test and its fixture.c): weak definitions, merged by the linker. */
__attribute__((weak)) int check_failures;
__attribute__((weak)) int check_skipped;
__attribute__((weak)) const char *check_case = "";

#define CHECK(c)                                                                        \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "%s:%d: [%s] CHECK(%s) failed\n", __FILE__, __LINE__, \
				check_case, #c);                                        \
			check_failures++;                                               \
		}                                                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);         \
		if (check_a_ != check_b_) {                                             \
			fprintf(stderr, "%s:%d: [%s] CHECK_EQ(%s, %s) failed: %lld != %lld\n", \
				__FILE__, __LINE__, check_case, #a, #b, check_a_, check_b_); \
			check_failures++;                                               \
		}                                                                       \
	} while (0)

/* Fail and leave the current case (use inside a void case function). */
#define REQUIRE(c)                                                                      \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "%s:%d: [%s] REQUIRE(%s) failed\n", __FILE__, __LINE__, \
				check_case, #c);                                        \
			check_failures++;                                               \
			return;                                                         \
		}                                                                       \
	} while (0)

#define SKIP(why)                                                                       \
	do {                                                                            \
		fprintf(stderr, "[%s] skipped: %s\n", check_case, why);                 \
		check_skipped++;                                                        \
	} while (0)

#define RUN(fn)                                                                         \
	do {                                                                            \
		int check_before_ = check_failures;                                     \
		check_case = #fn;                                                       \
		fn();                                                                   \
		printf("%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn); \
		fflush(stdout);                                                         \
	} while (0)

static inline int check_exit(void)
{
	if (check_failures)
		return 1;
	return check_skipped ? 77 : 0;
}

#endif
