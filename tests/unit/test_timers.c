/*
 * test_timers.c — lib/timers.c: the timing wheel. Firing at and between
 * tick boundaries, re-arming (also "by" and "near" an expiry), cancelling (also inside a firing batch, with owners
 * freed by their callbacks), 100,000 timers in one advance, far timers
 * through every level and the overflow, the cost of long idle gaps, the
 * wrap of the uint64 clock, tern_wheel_next, and a randomized comparison
 * with a reference model (a heap) over millions of operations. Times are
 * passed explicitly: no clock is read.
 */
#include "check.h"
#include "timers.h"

#include <errno.h>

#define US   1000ull
#define MS   1000000ull
#define SEC  1000000000ull
#define HOUR (3600 * SEC)

static struct tern_wheel w;

struct owner {
	int id;
	struct tern_timer timer;
};

static struct owner *owner_of(struct tern_timer *t)
{
	return tern_timer_owner(t, struct owner, timer);
}

/* Set up w (tick 2^shift ns, clock at start) and n owners with ids 0..n-1. */
static void setup(unsigned shift, uint64_t start, struct owner *o, int n)
{
	CHECK_EQ(tern_wheel_init(&w, shift, start), 0);
	for (int i = 0; i < n; i++) {
		o[i].id = i;
		tern_timer_init(&o[i].timer, (uint8_t)i);
	}
}

/* Pop everything due at now; the number popped, their ids in ids[]. */
static int drain(uint64_t now, int *ids, int max)
{
	int n = 0;
	struct tern_timer *t;
	while ((t = tern_wheel_pop(&w, now)) != NULL) {
		if (n < max)
			ids[n] = owner_of(t)->id;
		n++;
	}
	return n;
}

/* The id of the one timer due at now, -1 if none, -2 if several. */
static int pop_one(uint64_t now)
{
	int id;
	int n = drain(now, &id, 1);
	return n == 0 ? -1 : n == 1 ? id : -2;
}

static void wheel_init__tick_shift_bounds(void)
{
	CHECK_EQ(tern_wheel_init(&w, TERN_WHEEL_MAX_SHIFT + 1, 0), -EINVAL);
	CHECK_EQ(tern_wheel_init(&w, TERN_WHEEL_MAX_SHIFT, 0), 0);
	CHECK_EQ(tern_wheel_init(&w, 0, UINT64_MAX), 0);
	uint64_t at;
	CHECK_EQ(tern_wheel_next(&w, &at), -ENOENT);
	CHECK(tern_wheel_pop(&w, UINT64_MAX) == NULL);
}

static void wheel_arm__fires_at_a_tick_boundary(void)
{
	struct owner o[1];
	uint64_t start = 5000 * 1024 + 17;
	setup(10, start, o, 1);
	uint64_t b = (start / 1024 + 10) * 1024; /* a tick boundary */
	tern_wheel_arm(&w, &o[0].timer, b);
	CHECK(tern_timer_armed(&o[0].timer));
	CHECK_EQ(pop_one(b - 1), -1);
	CHECK_EQ(pop_one(b), 0);
	CHECK(!tern_timer_armed(&o[0].timer));
	CHECK_EQ(pop_one(b + 5000), -1);
	CHECK_EQ(w.fired, 1);
	CHECK_EQ(w.armed, 0);
}

/* An empty pop remembers where the next work is and later pops before it
 * skip the scan; a timer armed after that pop, earlier than that work,
 * still fires at its own time. */
static void wheel_pop__timer_armed_after_an_empty_pop_fires_on_time(void)
{
	struct owner o[2];
	setup(10, 0, o, 2);
	tern_wheel_arm(&w, &o[0].timer, 5000 * 1024); /* far: a higher level */
	CHECK_EQ(pop_one(3 * 1024), -1);              /* empty: next work far ahead */
	CHECK_EQ(pop_one(4 * 1024), -1);              /* below it: skipped */
	tern_wheel_arm(&w, &o[1].timer, 10 * 1024);   /* before that work */
	CHECK_EQ(pop_one(10 * 1024 - 1), -1);
	CHECK_EQ(pop_one(10 * 1024), 1);
	CHECK_EQ(pop_one(5000 * 1024 - 1), -1);
	CHECK_EQ(pop_one(5000 * 1024), 0);
	CHECK_EQ(w.armed, 0);
}

/* Between boundaries the expiry is rounded up to the next one: never early,
 * less than a tick late. */
static void wheel_arm__between_ticks_rounds_up(void)
{
	struct owner o[2];
	uint64_t start = 7 * 1024 + 500;
	setup(10, start, o, 2);
	uint64_t b = 20 * 1024;
	tern_wheel_arm(&w, &o[0].timer, b + 1);
	tern_wheel_arm(&w, &o[1].timer, b + 1023);
	CHECK_EQ(pop_one(b), -1);
	CHECK_EQ(pop_one(b + 1), -1);
	CHECK_EQ(pop_one(b + 1023), -1);
	int ids[2];
	CHECK_EQ(drain(b + 1024, ids, 2), 2);
}

/* An expiry at or before the wheel's time: due at the next pop, unless its
 * rounded-up tick is still ahead. */
static void wheel_arm__in_the_past(void)
{
	struct owner o[3];
	uint64_t now = 100 * 1024 + 500;
	setup(10, now, o, 3);
	tern_wheel_arm(&w, &o[0].timer, now - 5 * US);
	tern_wheel_arm(&w, &o[1].timer, now);
	tern_wheel_arm(&w, &o[2].timer, 100 * 1024 + 100); /* past, same tick */
	int ids[3];
	CHECK_EQ(drain(now, ids, 3), 1);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(pop_one(101 * 1024 - 1), -1);
	CHECK_EQ(drain(101 * 1024, ids, 3), 2);
	/* Before the wheel's start (its base): due at once. */
	tern_wheel_arm(&w, &o[0].timer, 0);
	CHECK_EQ(pop_one(101 * 1024), 0);
}

static void wheel_rearm__earlier(void)
{
	struct owner o[1];
	setup(10, 0, o, 1);
	tern_wheel_arm(&w, &o[0].timer, 10 * MS);
	tern_wheel_arm(&w, &o[0].timer, 1 * MS);
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(1 * MS - 1), -1);
	CHECK_EQ(pop_one(1 * MS + 1023), 0);
	CHECK_EQ(pop_one(10 * MS), -1);
	/* From the overflow (more than 2^36 ticks ahead) to the next tick. */
	tern_wheel_arm(&w, &o[0].timer, 30 * HOUR);
	tern_wheel_arm(&w, &o[0].timer, 11 * MS);
	CHECK_EQ(pop_one(11 * MS + 1023), 0);
	CHECK_EQ(pop_one(31 * HOUR), -1);
	CHECK_EQ(w.armed, 0);
}

static void wheel_rearm__later(void)
{
	struct owner o[1];
	setup(10, 0, o, 1);
	tern_wheel_arm(&w, &o[0].timer, 1 * MS);
	tern_wheel_arm(&w, &o[0].timer, 10 * MS);
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(1 * MS + 1023), -1);
	CHECK_EQ(pop_one(10 * MS - 1), -1);
	CHECK_EQ(pop_one(10 * MS + 1023), 0);
	/* From level 0 to the overflow. */
	tern_wheel_arm(&w, &o[0].timer, 11 * MS);
	tern_wheel_arm(&w, &o[0].timer, 30 * HOUR);
	CHECK_EQ(pop_one(30 * HOUR - 1), -1);
	CHECK_EQ(pop_one(30 * HOUR), 0);
}

/* tern_wheel_arm_near: left where it is when armed at most slack before
 * the expiry, moved when armed earlier than that or later than the expiry. */
static void wheel_arm_near__keeps_within_slack_moves_otherwise(void)
{
	struct owner o[1];
	setup(10, 0, o, 1);
	tern_wheel_arm_near(&w, &o[0].timer, 10 * MS, 2 * MS); /* not armed: armed */
	tern_wheel_arm_near(&w, &o[0].timer, 11 * MS, 2 * MS); /* 1 ms early: kept */
	tern_wheel_arm_near(&w, &o[0].timer, 12 * MS, 2 * MS); /* 2 ms early: kept */
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(10 * MS - 1), -1);
	CHECK_EQ(pop_one(10 * MS + 1023), 0);
	/* Over the slack early: moved later, not fired at the old time. */
	tern_wheel_arm_near(&w, &o[0].timer, 20 * MS, 2 * MS);
	tern_wheel_arm_near(&w, &o[0].timer, 30 * MS, 2 * MS);
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(20 * MS + 1023), -1);
	CHECK_EQ(pop_one(30 * MS - 1), -1);
	CHECK_EQ(pop_one(30 * MS + 1023), 0);
	/* Armed after the expiry: moved earlier, whatever the slack. */
	tern_wheel_arm(&w, &o[0].timer, 50 * MS);
	tern_wheel_arm_near(&w, &o[0].timer, 40 * MS, 100 * MS);
	CHECK_EQ(pop_one(40 * MS + 1023), 0);
	CHECK_EQ(pop_one(50 * MS + 1023), -1);
	CHECK_EQ(w.armed, 0);
}

static void wheel_cancel__armed(void)
{
	struct owner o[2];
	setup(0, 0, o, 2);
	tern_wheel_arm(&w, &o[0].timer, 100);
	tern_wheel_arm(&w, &o[1].timer, 100); /* same slot */
	tern_wheel_cancel(&w, &o[0].timer);
	CHECK(!tern_timer_armed(&o[0].timer));
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(100), 1);
	/* The last timer of a slot: its bitmap bit goes too. */
	tern_wheel_arm(&w, &o[0].timer, 5000);
	tern_wheel_cancel(&w, &o[0].timer);
	for (int l = 0; l < TERN_WHEEL_LEVELS; l++)
		CHECK_EQ(w.occupied[l], 0);
	uint64_t at, visits = w.visits;
	CHECK_EQ(tern_wheel_next(&w, &at), -ENOENT);
	CHECK_EQ(pop_one(1000000), -1);
	CHECK_EQ(w.visits, visits);
	CHECK_EQ(w.armed, 0);
}

static void wheel_cancel__unarmed_is_a_noop(void)
{
	struct owner o[2];
	setup(0, 0, o, 2);
	tern_wheel_arm(&w, &o[1].timer, 10);
	tern_wheel_cancel(&w, &o[0].timer);
	tern_wheel_cancel(&w, &o[0].timer);
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(pop_one(10), 1);
}

static void wheel_cancel__after_it_fired_is_a_noop(void)
{
	struct owner o[2];
	setup(0, 0, o, 2);
	tern_wheel_arm(&w, &o[0].timer, 10);
	tern_wheel_arm(&w, &o[1].timer, 20);
	CHECK_EQ(pop_one(10), 0);
	tern_wheel_cancel(&w, &o[0].timer);
	CHECK_EQ(w.armed, 1);
	CHECK_EQ(w.fired, 1);
	CHECK_EQ(pop_one(20), 1);
}

/* Popped one at a time: the timers of a batch not yet popped can be
 * cancelled (same tick, or a later tick reached by the same pop). */
static void wheel_cancel__inside_a_firing_batch(void)
{
	struct owner o[5];
	setup(0, 0, o, 5);
	for (int i = 0; i < 4; i++)
		tern_wheel_arm(&w, &o[i].timer, 50);
	tern_wheel_arm(&w, &o[4].timer, 60);
	struct tern_timer *t = tern_wheel_pop(&w, 100);
	REQUIRE(t != NULL);
	int first = owner_of(t)->id;
	int victim = first == 0 ? 1 : 0;
	tern_wheel_cancel(&w, &o[victim].timer);
	tern_wheel_cancel(&w, &o[4].timer);
	int ids[5], n = drain(100, ids, 5);
	CHECK_EQ(n, 2);
	for (int i = 0; i < n; i++) {
		CHECK(ids[i] != victim && ids[i] != first && ids[i] != 4);
		CHECK(ids[i] >= 0 && ids[i] < 4);
	}
	CHECK(n < 2 || ids[0] != ids[1]);
	CHECK_EQ(w.armed, 0);
}

/* Owners freed, re-armed and armed by the callbacks of a batch (ASan sees
 * any touch of a freed owner). */
static void wheel_pop__callbacks_free_and_arm_inside_a_batch(void)
{
	enum { N = 8 };
	struct owner *o[N];
	CHECK_EQ(tern_wheel_init(&w, 0, 0), 0);
	for (int i = 0; i < N; i++) {
		o[i] = malloc(sizeof(*o[i]));
		REQUIRE(o[i] != NULL);
		o[i]->id = i;
		tern_timer_init(&o[i]->timer, 0);
		tern_wheel_arm(&w, &o[i]->timer, 1000);
	}
	struct owner extra[3];
	for (int i = 0; i < 3; i++) {
		extra[i].id = 100 + i;
		tern_timer_init(&extra[i].timer, 1);
	}
	int seen = 0, extra_seen = 0, rearmed = 0;
	struct tern_timer *t;
	for (int guard = 0; guard < 100 && (t = tern_wheel_pop(&w, 1000)) != NULL; guard++) {
		struct owner *ow = owner_of(t);
		if (t->kind == 1) {
			extra_seen |= 1 << (ow->id - 100);
			continue;
		}
		seen++;
		if (seen == 1) {
			tern_wheel_arm(&w, &extra[0].timer, 999);  /* due: this loop */
			tern_wheel_arm(&w, &extra[1].timer, 1000); /* due: this loop */
			tern_wheel_arm(&w, &extra[2].timer, 1001); /* not yet */
		}
		if (seen == 2 && !rearmed) {
			/* Re-arm itself due at once: returned again by this loop. */
			rearmed = 1;
			tern_wheel_arm(&w, t, 900);
			seen--;
			continue;
		}
		free(ow);
	}
	CHECK_EQ(seen, N);
	CHECK_EQ(extra_seen, 3);
	CHECK(tern_timer_armed(&extra[2].timer));
	CHECK_EQ(pop_one(1001), 102);
	CHECK_EQ(w.armed, 0);
}

/* 100,000 timers over 10 s fire in one advance, each once, never early,
 * in non-decreasing order of their ticks; then 100,000 on one tick. */
static void wheel_pop__100000_in_one_advance(void)
{
	enum { N = 100000 };
	struct owner *o = calloc(N, sizeof(*o));
	uint64_t *exp = calloc(N, sizeof(*exp));
	char *fired = calloc(N, 1);
	REQUIRE(o != NULL && exp != NULL && fired != NULL);
	uint64_t start = 123456789;
	setup(10, start, o, N);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		exp[i] = start + x % (10 * SEC);
		tern_wheel_arm(&w, &o[i].timer, exp[i]);
	}
	CHECK_EQ(w.armed, N);
	uint64_t now = ((start + 10 * SEC) | 1023) + 1, prev = 0; /* on a tick */
	int n = 0, bad_order = 0, early = 0, twice = 0;
	struct tern_timer *t;
	while ((t = tern_wheel_pop(&w, now)) != NULL) {
		int id = owner_of(t)->id;
		uint64_t up = (exp[id] + 1023) & ~1023ull; /* its tick, in ns */
		bad_order += up < prev;
		early += up > now;
		twice += fired[id];
		fired[id] = 1;
		prev = up;
		n++;
	}
	CHECK_EQ(n, N);
	CHECK_EQ(bad_order, 0);
	CHECK_EQ(early, 0);
	CHECK_EQ(twice, 0);
	CHECK_EQ(w.fired, N);
	CHECK_EQ(w.armed, 0);

	uint64_t same = now + (5ull << 30); /* on a tick, 5.4 s ahead */
	for (int i = 0; i < N; i++)
		tern_wheel_arm(&w, &o[i].timer, same);
	CHECK_EQ(pop_one(same - 1), -1);
	CHECK_EQ(drain(same, NULL, 0), N);
	free(o);
	free(exp);
	free(fired);
}

/* Delays just below, at and above each level's span (64^l ticks), and past
 * the overflow (2^36 ticks) up to a 'forever' of 2^61 ns, from a position
 * in the middle of a block of every level (digits 57, 1, 3, 5, 7, 9 of the
 * wheel's relative clock): each fires exactly on its tick, popped at that
 * tick directly or in steps, and is cascaded on the way. */
static void wheel_arm__far_timers_cross_every_level_and_the_overflow(void)
{
	struct owner o[1];
	uint64_t start = 1000000007; /* the wheel counts from here */
	uint64_t pos = 57 + (1 << 6) + (3 << 12) + (5ull << 18) + (7ull << 24) + (9ull << 30);
	for (int l = 1; l <= TERN_WHEEL_LEVELS + 1; l++) {
		uint64_t span = l <= TERN_WHEEL_LEVELS ? 1ull << (6 * l) : 1ull << 61;
		for (int d = -1; d <= 1; d++) {
			for (int steps = 1; steps <= 7; steps += 6) {
				setup(0, start, o, 1);
				uint64_t now = start + pos;
				CHECK_EQ(pop_one(now), -1);
				uint64_t exp = now + span + (uint64_t)d;
				tern_wheel_arm(&w, &o[0].timer, exp);
				for (int s = 1; s < steps; s++)
					CHECK_EQ(pop_one(now + (exp - now) / steps * (uint64_t)s), -1);
				CHECK_EQ(pop_one(exp - 1), -1);
				CHECK_EQ(pop_one(exp), 0);
				CHECK(w.cascaded >= 1);
				CHECK(w.visits <= TERN_WHEEL_LEVELS + 1);
			}
		}
	}
	/* An exact count: 4161 = 64^2 + 64 + 1 ticks from 0 sits in level 2
	 * slot 1, cascades to level 1 slot 1 at 4096, to level 0 slot 1 at
	 * 4160, fires at 4161. */
	setup(0, 0, o, 1);
	tern_wheel_arm(&w, &o[0].timer, 4161);
	CHECK_EQ(o[0].timer.where, 2 * TERN_WHEEL_SLOTS + 1);
	CHECK_EQ(pop_one(4160), -1);
	CHECK_EQ(o[0].timer.where, 0 * TERN_WHEEL_SLOTS + 1);
	CHECK_EQ(pop_one(4161), 0);
	CHECK_EQ(w.cascaded, 2);
	CHECK_EQ(w.visits, 3);
	CHECK_EQ(w.fired, 1);
}

/* Advancing over hours visits a handful of slots, not every tick. */
static void wheel_pop__idle_gap_costs_levels_not_ticks(void)
{
	struct owner o[2];
	/* Empty wheel, 1 ns ticks, 10 hours (3.6e13 ticks) in one pop. */
	setup(0, 0, o, 2);
	CHECK_EQ(pop_one(10 * HOUR), -1);
	CHECK_EQ(w.visits, 0);
	/* One timer 3 hours ahead (1 µs ticks: level 5), popped hourly. */
	setup(10, 0, o, 2);
	tern_wheel_arm(&w, &o[0].timer, 3 * HOUR);
	for (uint64_t h = 1; h < 3; h++)
		CHECK_EQ(pop_one(h * HOUR), -1);
	CHECK_EQ(pop_one(3 * HOUR), 0);
	CHECK(w.visits <= TERN_WHEEL_LEVELS);
	/* 1 ns ticks: 5 hours is past the levels (2^36 ns = 69 s), the
	 * overflow is placed again once; a 'forever' timer does not cost a
	 * visit per block on the way. */
	setup(0, 0, o, 2);
	tern_wheel_arm(&w, &o[0].timer, 5 * HOUR);
	tern_wheel_arm(&w, &o[1].timer, 1ull << 61);
	CHECK_EQ(pop_one(5 * HOUR - 1), -1);
	CHECK_EQ(pop_one(5 * HOUR), 0);
	CHECK(w.visits <= TERN_WHEEL_LEVELS + 1);
	uint64_t before = w.visits;
	CHECK_EQ(pop_one(2000 * HOUR), -1);
	CHECK_EQ(w.visits, before);
	CHECK_EQ(pop_one(1ull << 61), 1);
	CHECK(w.visits <= before + TERN_WHEEL_LEVELS + 1);
}

/* A clock starting just below 2^64: expiries past the wrap fire on their
 * ticks (8 ns ticks; start is 7 mod 8, so start + 2999, 3000 and 3001 all
 * round up to 0), tern_wheel_next reports wrapped times. */
static void wheel_pop__across_the_wrap_of_the_clock(void)
{
	enum { N = 9 };
	struct owner o[N];
	uint64_t start = UINT64_MAX - 3000;
	setup(3, start, o, N);
	const uint64_t d[N] = {1, 100, 2999, 3000, 3001, 3008, 5000, 1ull << 20, 1ull << 40};
	uint64_t up[N];
	for (int i = 0; i < N; i++) {
		up[i] = (start + d[i] + 7) & ~7ull;
		tern_wheel_arm(&w, &o[i].timer, start + d[i]);
	}
	CHECK_EQ(up[2], 0);
	CHECK_EQ(up[4], 0);
	for (int i = 0; i < N; i++) {
		if (i > 0 && up[i] == up[i - 1])
			continue;
		uint64_t at;
		CHECK_EQ(tern_wheel_next(&w, &at), 0);
		CHECK((int64_t)(up[i] - at) >= 0); /* never later */
		CHECK_EQ(pop_one(up[i] - 1), -1);
		int ids[N], n = drain(up[i], ids, N), want = 0;
		for (int j = 0; j < N; j++)
			want += up[j] == up[i];
		CHECK_EQ(n, want);
		for (int k = 0; k < n; k++)
			CHECK(up[ids[k]] == up[i]);
	}
	CHECK_EQ(w.armed, 0);
	CHECK_EQ(w.fired, N);
}

static void wheel_next__never_later_than_the_first_fire(void)
{
	struct owner o[2];
	uint64_t at;
	setup(0, 64 * 100, o, 2); /* at the start of a block of 64 ticks */
	CHECK_EQ(tern_wheel_next(&w, &at), -ENOENT);
	tern_wheel_arm(&w, &o[0].timer, 64 * 100 + 10);
	CHECK_EQ(tern_wheel_next(&w, &at), 0);
	CHECK_EQ(at, 64 * 100 + 10); /* level 0: exact */
	tern_wheel_cancel(&w, &o[0].timer);
	/* Far: a lower bound that closes in, one level per pop at it. */
	uint64_t exp = 64 * 100 + 3 * HOUR + 12345;
	tern_wheel_arm(&w, &o[0].timer, exp);
	int pops = 0;
	for (;;) {
		REQUIRE(tern_wheel_next(&w, &at) == 0);
		REQUIRE(at <= exp && pops < 2 * TERN_WHEEL_LEVELS);
		pops++;
		if (pop_one(at) == 0)
			break;
	}
	CHECK_EQ(at, exp);
	CHECK(pops <= TERN_WHEEL_LEVELS + 2);
	/* Due: the latest pop's now. */
	tern_wheel_arm(&w, &o[1].timer, exp - 5);
	CHECK_EQ(tern_wheel_next(&w, &at), 0);
	CHECK_EQ(at, exp);
	CHECK_EQ(pop_one(exp), 1);
}

/* A pop at an earlier time than the previous one changes nothing. */
static void wheel_pop__clock_going_back_is_ignored(void)
{
	struct owner o[1];
	setup(0, 1000, o, 1);
	CHECK_EQ(pop_one(5000), -1);
	tern_wheel_arm(&w, &o[0].timer, 4000); /* in the past: due */
	CHECK_EQ(pop_one(3000), 0);
	tern_wheel_arm(&w, &o[0].timer, 5500);
	CHECK_EQ(pop_one(2000), -1);
	CHECK_EQ(w.now, 5000 - 1000);
	/* Before the wheel's start: not a jump 2^64 ns ahead. */
	CHECK_EQ(pop_one(500), -1);
	CHECK_EQ(pop_one(5499), -1);
	CHECK_EQ(pop_one(5500), 0);
}

/* --- randomized comparison with a reference model ----------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Below 2^bits (bits <= 63). */
static uint64_t rng_bits(unsigned bits)
{
	return bits == 0 ? 0 : rng() >> (64 - bits);
}

/* Model of one timer: times are ns since the test's start, signed. */
struct model {
	bool armed;
	uint32_t gen;   /* bumped at every arm, cancel and fire */
	int64_t fire;   /* when armed: the expiry rounded up to the tick */
	bool ordered;   /* armed outside a drain, not already due: pops keep
	                 * it in order of fire times */
};

struct hent {
	int64_t fire;
	uint32_t id, gen;
};

/* A binary min-heap of (fire, id, gen); entries whose gen is stale are
 * dropped when they reach the top. */
static struct hent *heap;
static size_t heap_n, heap_cap;
static struct model *m;

static bool hless(const struct hent *a, const struct hent *b)
{
	return a->fire < b->fire;
}

static void heap_down(size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= heap_n)
			return;
		if (c + 1 < heap_n && hless(&heap[c + 1], &heap[c]))
			c++;
		if (!hless(&heap[c], &heap[i]))
			return;
		struct hent x = heap[i];
		heap[i] = heap[c];
		heap[c] = x;
		i = c;
	}
}

static bool hvalid(const struct hent *e)
{
	return m[e->id].armed && m[e->id].gen == e->gen;
}

static void heap_push(int64_t fire, uint32_t id, uint32_t gen)
{
	if (heap_n == heap_cap) {
		/* Compact: keep live entries only, heapify. */
		size_t k = 0;
		for (size_t i = 0; i < heap_n; i++)
			if (hvalid(&heap[i]))
				heap[k++] = heap[i];
		heap_n = k;
		for (size_t i = heap_n / 2; i-- > 0;)
			heap_down(i);
	}
	size_t i = heap_n++;
	heap[i] = (struct hent){fire, id, gen};
	while (i > 0 && hless(&heap[i], &heap[(i - 1) / 2])) {
		struct hent x = heap[i];
		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = x;
		i = (i - 1) / 2;
	}
}

/* The earliest fire time of an armed timer, or INT64_MAX. */
static int64_t heap_min(void)
{
	while (heap_n > 0 && !hvalid(&heap[0])) {
		heap[0] = heap[--heap_n];
		heap_down(0);
	}
	return heap_n > 0 ? heap[0].fire : INT64_MAX;
}

/* A delay of mixed scales: past, zero, tick-sized, level-sized, past the
 * levels (hours), on tick boundaries, and rarely 'forever' (2^50..2^61). */
static int64_t rand_delay(uint64_t tick)
{
	uint64_t c = rng() % 64;
	if (c < 4)
		return -(int64_t)rng_bits((unsigned)(rng() % 31));
	if (c < 6)
		return 0;
	if (c < 10)
		return (int64_t)(tick * rng_bits(7)) + (int64_t)(rng() % 3) - 1;
	if (c < 14)
		return (int64_t)rng_bits(36 + (unsigned)(rng() % 9));
	if (c == 14)
		return (int64_t)rng_bits(50 + (unsigned)(rng() % 12));
	return (int64_t)rng_bits((unsigned)(rng() % 37));
}

static uint64_t rand_gap(void)
{
	uint64_t c = rng() % 64;
	if (c < 8)
		return 0;
	if (c < 12)
		return rng_bits(30 + (unsigned)(rng() % 14)); /* up to ~5 hours */
	if (c == 12 && rng() % 16 == 0)
		return rng_bits(52); /* up to 52 days */
	return rng_bits((unsigned)(rng() % 31));
}

/* The property run's state: the wheel's timers, the model, the clock. */
static struct owner *po;
static int pn;
static uint64_t pstart, ptick;
static int64_t pnow;    /* ns since pstart */
static bool pin_drain;  /* in p_drain's pop loop */
static uint64_t parmed, pfired;
static long pfailures;

/* CHECK, reporting only the first few failures of a run. */
#define PCHECK(c)                                                                 \
	do {                                                                      \
		if (!(c) && pfailures++ < 5)                                      \
			CHECK(c);                                                 \
	} while (0)

/* Arm timer id for pnow + delay, in the wheel and the model. */
static void p_arm(uint32_t id, int64_t delay)
{
	uint64_t exp = pstart + (uint64_t)(pnow + delay);
	uint64_t up = (exp + ptick - 1) & ~(ptick - 1); /* on the grid, mod 2^64 */
	tern_wheel_arm(&w, &po[id].timer, exp);
	parmed += !m[id].armed;
	m[id].armed = true;
	m[id].gen++;
	m[id].fire = (int64_t)(up - pstart);
	/* Due already if its tick is the wheel's (the last pop's) or before. */
	int64_t pos = (int64_t)(((pstart + (uint64_t)pnow) & ~(ptick - 1)) - pstart);
	m[id].ordered = !pin_drain && m[id].fire > pos;
	heap_push(m[id].fire, id, m[id].gen);
}

static void p_cancel(uint32_t id)
{
	tern_wheel_cancel(&w, &po[id].timer);
	parmed -= m[id].armed;
	m[id].armed = false;
	m[id].gen++;
}

/* A timer popped at pnow: it was armed, its time has come; the model
 * disarms it (so a second pop of the same arming fails). */
static void p_fired(struct tern_timer *t)
{
	uint32_t k = (uint32_t)owner_of(t)->id;
	PCHECK(m[k].armed);
	PCHECK(m[k].fire <= pnow);
	parmed -= m[k].armed;
	m[k].armed = false;
	m[k].gen++;
	pfired++;
}

/* Pop everything due at pnow, with what callbacks might do in between
 * (re-arm the popped timer, arm or cancel another). Timers armed before
 * this drain and not already due then must come out in non-decreasing
 * order of fire time. */
static void p_drain(void)
{
	int64_t prev = INT64_MIN;
	struct tern_timer *t;
	long guard = 0;
	while ((t = tern_wheel_pop(&w, pstart + (uint64_t)pnow)) != NULL) {
		uint32_t k = (uint32_t)owner_of(t)->id;
		if (m[k].ordered) {
			PCHECK(m[k].fire >= prev);
			prev = m[k].fire;
		}
		p_fired(t);
		if (++guard >= 10L * pn) {
			PCHECK(guard < 10L * pn);
			return;
		}
		uint64_t c = rng() % 16;
		pin_drain = true;
		if (c == 0)
			p_arm(k, rand_delay(ptick));
		else if (c == 1)
			p_arm((uint32_t)(rng() % (uint64_t)pn), rand_delay(ptick));
		else if (c == 2)
			p_cancel((uint32_t)(rng() % (uint64_t)pn));
		pin_drain = false;
	}
	/* Nothing due left (not late, not lost), counters agree, next is a
	 * lower bound ahead of now. */
	PCHECK(heap_min() > pnow);
	PCHECK(w.armed == parmed);
	PCHECK(w.fired == pfired);
	uint64_t at;
	int rc = tern_wheel_next(&w, &at);
	if (parmed == 0) {
		PCHECK(rc == -ENOENT);
	} else {
		int64_t next = (int64_t)(at - pstart);
		PCHECK(rc == 0 && next > pnow && next <= heap_min());
	}
}

/* Property run: n timers, ops random operations (arm or re-arm, cancel,
 * advance by a random gap and drain), tick 2^shift, clock from start; then
 * every timer left fires at its time. */
static void property_run(unsigned shift, uint64_t start, int n, long ops, uint64_t seed)
{
	rng_state = seed;
	po = calloc((size_t)n, sizeof(*po));
	m = calloc((size_t)n, sizeof(*m));
	heap_cap = 4 * (size_t)n + 1024;
	heap = calloc(heap_cap, sizeof(*heap));
	REQUIRE(po != NULL && m != NULL && heap != NULL);
	setup(shift, start, po, n);
	pn = n;
	pstart = start;
	ptick = 1ull << shift;
	pnow = 0;
	heap_n = 0;
	parmed = pfired = 0;
	pin_drain = false;
	pfailures = 0;

	for (long op = 0; op < ops && pfailures == 0; op++) {
		uint64_t r = rng() % 100;
		uint32_t id = (uint32_t)(rng() % (uint64_t)n);
		if (r < 45) {
			p_arm(id, rand_delay(ptick));
		} else if (r < 60) {
			p_cancel(id);
		} else {
			pnow += (int64_t)rand_gap();
			p_drain();
		}
	}
	while (pfailures == 0 && parmed > 0) {
		int64_t next = heap_min();
		if (next > pnow) {
			PCHECK(drain(pstart + (uint64_t)next - 1, NULL, 0) == 0);
			pnow = next;
		}
		struct tern_timer *t;
		while ((t = tern_wheel_pop(&w, pstart + (uint64_t)pnow)) != NULL)
			p_fired(t);
		PCHECK(heap_min() > pnow);
	}
	CHECK_EQ(w.armed, 0);
	CHECK_EQ(w.fired, pfired);
	CHECK_EQ(pfailures, 0);
	free(po);
	free(m);
	free(heap);
}

static void wheel_property__random_operations_against_a_model(void)
{
	/* 1 ns ticks, clock wrapping after 2^40 ns of the run. */
	property_run(0, UINT64_MAX - (1ull << 40), 1024, 2000000, 1);
	/* 8 ns ticks, start off the grid, just below the wrap. */
	property_run(3, UINT64_MAX - 12345, 4096, 2000000, 2);
	/* 1 µs ticks (tern's), few timers (sparse wheel), arbitrary start. */
	property_run(10, 0x0123456789abcdefull, 64, 2000000, 3);
}

int main(void)
{
	RUN(wheel_init__tick_shift_bounds);
	RUN(wheel_arm__fires_at_a_tick_boundary);
	RUN(wheel_pop__timer_armed_after_an_empty_pop_fires_on_time);
	RUN(wheel_arm__between_ticks_rounds_up);
	RUN(wheel_arm__in_the_past);
	RUN(wheel_rearm__earlier);
	RUN(wheel_rearm__later);
	RUN(wheel_arm_near__keeps_within_slack_moves_otherwise);
	RUN(wheel_cancel__armed);
	RUN(wheel_cancel__unarmed_is_a_noop);
	RUN(wheel_cancel__after_it_fired_is_a_noop);
	RUN(wheel_cancel__inside_a_firing_batch);
	RUN(wheel_pop__callbacks_free_and_arm_inside_a_batch);
	RUN(wheel_pop__100000_in_one_advance);
	RUN(wheel_arm__far_timers_cross_every_level_and_the_overflow);
	RUN(wheel_pop__idle_gap_costs_levels_not_ticks);
	RUN(wheel_pop__across_the_wrap_of_the_clock);
	RUN(wheel_next__never_later_than_the_first_fire);
	RUN(wheel_pop__clock_going_back_is_ignored);
	RUN(wheel_property__random_operations_against_a_model);
	return check_exit();
}
