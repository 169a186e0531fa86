/*
 * timers.c — the timer facility: a hierarchical timing wheel with cascading.
 *
 * Design. Time is counted in ticks of 2^shift ns since the wheel's init
 * (relative time, so the uint64 clock may wrap). The wheel has 6 levels of
 * 64 slots; level l spans 64^(l+1) ticks with slots of 64^l ticks, so the
 * levels cover 2^36 ticks (19.5 hours at 1 µs ticks, 6.5 days at 8 µs).
 * An armed timer of expiry tick e sits, relative to the wheel's position
 * `tick`, at the level of the highest 6-bit group in which e and tick
 * differ, in the slot given by e's digit of that group: slot[0] holds the
 * rest of the current run of 64 ticks one tick per slot, slot[1] the rest of
 * the current run of 4096 ticks 64 per slot, and so on. Timers further than
 * the levels reach (e and tick differ above bit 36, e.g. a "forever"
 * deadline) wait in one overflow list with a lower bound of their ticks.
 * Every occupied slot of a level lies ahead of the position, and each level
 * starts where the level below ends, so the next thing to do is in the
 * lowest non-empty level, in its lowest occupied slot: one bitmap word per
 * level and a count-trailing-zeros find it in O(levels), and pop jumps
 * there directly instead of stepping through empty ticks. Reaching a
 * level-0 slot expires its timers (they move to the due list, which pop
 * hands out one at a time, detached); reaching a slot of a higher level
 * cascades it: each timer is placed again relative to the new position and
 * lands a level lower or is due, keeping its exact tick, so precision is one
 * tick at every distance and a timer is moved at most once per level.
 * Reaching the 2^36-tick block of the overflow's lower bound places the
 * overflow list again (at most once per 2^36 ticks, 19.5 hours at 1 µs
 * ticks; a block with no overflow timer in it is skipped). Arming computes
 * the level with one count-leading-zeros and links the timer into a slot
 * list (pprev pointers make cancel O(1)); nothing is allocated.
 */
#include "timers.h"

#include <errno.h>
#include <string.h>

#define LEVELS TERN_WHEEL_LEVELS
#define BITS   TERN_WHEEL_BITS

/* Ticks below level l's slots: the low l groups of bits. */
static inline uint64_t low_bits(unsigned l)
{
	return (UINT64_C(1) << (l * BITS)) - 1;
}

static void push(struct tern_timer **head, struct tern_timer *t, uint16_t where)
{
	t->next = *head;
	if (t->next != NULL)
		t->next->pprev = &t->next;
	*head = t;
	t->pprev = head;
	t->where = where;
}

static void unlink_timer(struct tern_wheel *w, struct tern_timer *t)
{
	*t->pprev = t->next;
	if (t->next != NULL)
		t->next->pprev = t->pprev;
	if (t->where < TERN_WHEEL_DUE) {
		unsigned l = t->where / TERN_WHEEL_SLOTS, s = t->where % TERN_WHEEL_SLOTS;
		if (w->slot[l][s] == NULL)
			w->occupied[l] &= ~(UINT64_C(1) << s);
	}
	t->next = NULL;
	t->pprev = NULL;
}

/* Link t (t->tick set) where it belongs relative to the position. */
static void place(struct tern_wheel *w, struct tern_timer *t)
{
	uint64_t diff = t->tick ^ w->tick;
	w->quiet = 0; /* new work: the next pop looks again */
	if (t->tick <= w->tick) {
		push(&w->due, t, TERN_WHEEL_DUE);
	} else if (diff >> (LEVELS * BITS) != 0) {
		if (w->overflow == NULL || t->tick < w->overflow_min)
			w->overflow_min = t->tick;
		push(&w->overflow, t, TERN_WHEEL_OVERFLOW);
	} else {
		unsigned l = (63u - (unsigned)__builtin_clzll(diff)) / BITS;
		unsigned s = (unsigned)(t->tick >> (l * BITS)) % TERN_WHEEL_SLOTS;
		w->occupied[l] |= UINT64_C(1) << s;
		push(&w->slot[l][s], t, (uint16_t)(l * TERN_WHEEL_SLOTS + s));
	}
}

/* The next position (tick) at which a pop has work: the lowest occupied slot
 * of the lowest non-empty level (expire it if the level is 0, else cascade
 * it), or else the start of the 2^36-tick block of the overflow's lower
 * bound (place the overflow again). *level is the level, LEVELS for the
 * overflow. Returns false if nothing is armed outside the due list. */
static bool next_event(const struct tern_wheel *w, unsigned *level, uint64_t *at)
{
	for (unsigned l = 0; l < LEVELS; l++) {
		if (w->occupied[l] != 0) {
			uint64_t s = (uint64_t)__builtin_ctzll(w->occupied[l]);
			*level = l;
			*at = (w->tick & ~low_bits(l + 1)) | (s << (l * BITS));
			return true;
		}
	}
	*level = LEVELS;
	*at = w->overflow_min & ~low_bits(LEVELS);
	return w->overflow != NULL;
}

/* Move the position towards target (ticks): to the next position with work
 * if that is not beyond target, and do that work. Returns false if there
 * was none (the position is then target). */
static bool advance(struct tern_wheel *w, uint64_t target)
{
	unsigned l;
	uint64_t at;
	if (!next_event(w, &l, &at) || at > target) {
		/* Nothing until at (nothing at all: never, until a timer is
		 * placed): pops up to then need not look. */
		w->quiet = l < LEVELS || w->overflow != NULL ? at : UINT64_MAX;
		w->tick = target;
		return false;
	}
	struct tern_timer **list = &w->overflow;
	if (l < LEVELS) {
		unsigned s = (unsigned)(at >> (l * BITS)) % TERN_WHEEL_SLOTS;
		list = &w->slot[l][s];
		w->occupied[l] &= ~(UINT64_C(1) << s);
	}
	struct tern_timer *t = *list;
	*list = NULL;
	w->tick = at;
	w->visits++;
	if (l == 0 && t != NULL && w->due == NULL) {
		/* A level-0 slot holds one tick, this one: its whole list is
		 * due as it is (no place() per timer). */
		w->due = t;
		t->pprev = &w->due;
		for (; t != NULL; t = t->next)
			t->where = TERN_WHEEL_DUE;
		return true;
	}
	while (t != NULL) {
		struct tern_timer *next = t->next;
		place(w, t); /* due if level 0, else a level lower (or due) */
		w->cascaded += l > 0;
		t = next;
	}
	return true;
}

int tern_wheel_init(struct tern_wheel *w, unsigned tick_shift, uint64_t now)
{
	if (tick_shift > TERN_WHEEL_MAX_SHIFT)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->shift = tick_shift;
	w->base = now & ~((UINT64_C(1) << tick_shift) - 1);
	w->now = now - w->base;
	w->tick = w->now >> tick_shift;
	return 0;
}

void tern_timer_init(struct tern_timer *t, uint8_t kind)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
}

/* expiry (tern_now_ns() time) in ticks since base, rounded up. */
static inline uint64_t tick_of(const struct tern_wheel *w, uint64_t expiry)
{
	/* Relative to the wheel's clock; |delta| < 2^63 (see timers.h). */
	int64_t delta = (int64_t)(expiry - w->base - w->now);
	uint64_t e; /* expiry, ns since base */
	if (delta >= 0) {
		e = w->now + (uint64_t)delta;
	} else {
		uint64_t back = -(uint64_t)delta;
		e = back < w->now ? w->now - back : 0;
	}
	uint64_t mask = (UINT64_C(1) << w->shift) - 1;
	return (e >> w->shift) + ((e & mask) != 0);
}

void tern_wheel_arm(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry)
{
	if (t->pprev != NULL)
		unlink_timer(w, t);
	else
		w->armed++;
	t->tick = tick_of(w, expiry);
	place(w, t);
}

void tern_wheel_arm_later(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry)
{
	uint64_t tick = tick_of(w, expiry);
	if (t->pprev != NULL) {
		if (t->tick <= tick)
			return;
		unlink_timer(w, t);
	} else {
		w->armed++;
	}
	t->tick = tick;
	place(w, t);
}

void tern_wheel_cancel(struct tern_wheel *w, struct tern_timer *t)
{
	if (t->pprev == NULL)
		return;
	unlink_timer(w, t);
	w->armed--;
}

struct tern_timer *tern_wheel_pop(struct tern_wheel *w, uint64_t now)
{
	uint64_t rel = now - w->base;
	if ((int64_t)(rel - w->now) > 0)
		w->now = rel;
	uint64_t target = w->now >> w->shift;
	/* Nothing due and the position already at target (the common empty
	 * poll, many per tick): every armed timer lies ahead of the position
	 * (place()), so advance() would find nothing; skip its level scan. */
	if (w->due == NULL && target == w->tick)
		return NULL;
	/* Nor is there any before the position a pop found the next work at
	 * (unless a timer was placed since). */
	if (w->due == NULL && target < w->quiet) {
		w->tick = target;
		return NULL;
	}
	while (w->due == NULL)
		if (!advance(w, target))
			return NULL;
	struct tern_timer *t = w->due;
	unlink_timer(w, t);
	w->armed--;
	w->fired++;
	return t;
}

int tern_wheel_next(const struct tern_wheel *w, uint64_t *at)
{
	if (w->due != NULL) {
		*at = w->base + w->now;
		return 0;
	}
	unsigned level;
	uint64_t tick;
	if (!next_event(w, &level, &tick))
		return -ENOENT;
	*at = w->base + (tick << w->shift);
	return 0;
}
