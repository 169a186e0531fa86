/*
 * timers.h — the timer facility: a hierarchical timing wheel of intrusive
 * timers (lib/timers.c owns it; the design is described there).
 *
 * A struct tern_timer is embedded in what it times (a call slot, a session,
 * a pending call); the wheel never allocates. Arming, re-arming and
 * cancelling are O(1); tern_wheel_pop() pays for the timers that expire plus
 * O(TERN_WHEEL_LEVELS) per call, however long the gap since the last one.
 *
 * Time is uint64 nanoseconds (tern_now_ns()) and may wrap around 2^64: the
 * wheel reads every time relative to its own clock, so an expiry is valid
 * when it lies within 2^63 ns (292 years) either side of the wheel's time,
 * and a wheel lives less than 292 years.
 *
 * Firing guarantee. Time is cut into ticks of 2^tick_shift ns (tick
 * boundaries are multiples of the tick). A timer armed for expiry E fires in
 * the first tern_wheel_pop() whose now is >= E rounded up to a multiple of
 * the tick (at the next pop if that is already past), and in no earlier one:
 * never before E, at most one tick minus 1 ns late relative to E, and the
 * same precision at every distance (far timers cascade, they are not
 * rounded). A pop returns each arming at most once.
 *
 * Order. A pop returns timers in non-decreasing order of their expiry
 * ticks, except that a timer armed with a tick the wheel had already reached
 * (armed when already due, e.g. by a callback in the middle of a batch)
 * comes out ahead of the others. Among timers of the same tick the order is
 * unspecified (not FIFO).
 *
 * Dispatch. A popped timer is detached (not armed): its owner may re-arm it
 * or free it. The owner is found with tern_timer_owner() (container_of) and
 * the kind tag given to tern_timer_init() says which member it is, so one
 * switch in the core routes every timer:
 *
 *	while ((t = tern_wheel_pop(&ep->wheel, now)) != NULL)
 *		switch (t->kind) {
 *		case TIMER_RTO: rto_fired(tern_timer_owner(t, struct slot, rto)); break;
 *		...
 *		}
 *
 * Between two pops the callbacks may arm, re-arm and cancel any timer, and
 * free owners, provided an armed timer is cancelled before its owner's
 * memory goes (as with every intrusive list). A timer re-armed at or before
 * the pop's now is due, and the same pop loop returns it again.
 *
 * Threading: a wheel and its timers belong to one thread (the endpoint's
 * owner thread); nothing here locks.
 */
#ifndef TERN_TIMERS_H
#define TERN_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERN_WHEEL_BITS   6                        /* log2 of slots per level */
#define TERN_WHEEL_SLOTS  (1u << TERN_WHEEL_BITS)  /* 64: one bitmap word per level */
#define TERN_WHEEL_LEVELS 6                        /* 2^36 ticks: 19.5 h at 1 µs ticks */
#define TERN_WHEEL_MAX_SHIFT 32                    /* ticks of at most 2^32 ns (4.3 s) */

/* Where an armed timer is (tern_timer.where): a slot, or one of the lists. */
#define TERN_WHEEL_DUE      (TERN_WHEEL_LEVELS * TERN_WHEEL_SLOTS)
#define TERN_WHEEL_OVERFLOW (TERN_WHEEL_DUE + 1)

/* One timer, embedded in its owner. Fields are the wheel's; read only kind. */
struct tern_timer {
	struct tern_timer *next;
	struct tern_timer **pprev; /* NULL when not armed */
	uint64_t tick;             /* expiry in ticks of the wheel's clock */
	uint16_t where;            /* level * SLOTS + slot, TERN_WHEEL_DUE or _OVERFLOW */
	uint8_t kind;              /* the owner's tag, for dispatch */
};

/* The wheel. Embedded by its owner; must not be moved or copied while
 * timers are armed (they point into it). Counters are for tests and stats. */
struct tern_wheel {
	uint64_t base;   /* tern_now_ns() at init, rounded down to the tick */
	uint64_t now;    /* ns since base: the latest pop's now */
	uint64_t tick;   /* position, ticks since base: every timer of a tick
	                  * <= this one has been moved to the due list */
	unsigned shift;  /* log2 of the tick in ns */
	uint64_t quiet;  /* no slot or overflow work before this position (a
			  * lower bound found by a pop, 0 once a timer is
			  * placed): pops below it skip the level scan */
	uint64_t occupied[TERN_WHEEL_LEVELS]; /* bit s: slot[l][s] non-empty */
	struct tern_timer *slot[TERN_WHEEL_LEVELS][TERN_WHEEL_SLOTS];
	struct tern_timer *due;      /* expired, not yet popped */
	struct tern_timer *overflow; /* more than 2^36 ticks ahead */
	uint64_t overflow_min;       /* <= every overflow tick, if overflow */
	uint64_t armed;    /* timers armed now */
	uint64_t fired;    /* timers returned by pop */
	uint64_t cascaded; /* timers moved down from a higher level or the overflow */
	uint64_t visits;   /* slot lists (or the overflow list) emptied by pop */
};

/* The struct embedding the timer t as member. */
#define tern_timer_owner(t, type, member) \
	((type *)(void *)((char *)(t) - offsetof(type, member)))

/* Initialise an empty wheel whose ticks are 2^tick_shift ns, its clock at
 * now. Returns 0, or -EINVAL if tick_shift > TERN_WHEEL_MAX_SHIFT. */
int tern_wheel_init(struct tern_wheel *w, unsigned tick_shift, uint64_t now);

/* Initialise a timer, not armed, tagged kind. Once, before any other use
 * (zeroed memory is already a timer of kind 0, not armed). */
void tern_timer_init(struct tern_timer *t, uint8_t kind);

/* Whether t is armed (in a wheel, not yet popped or cancelled). */
static inline bool tern_timer_armed(const struct tern_timer *t)
{
	return t->pprev != NULL;
}

/* Arm t to fire at expiry (ns, tern_now_ns() time), moving it if it was
 * armed already. O(1). An expiry at or before the wheel's time is due at
 * the next pop. */
void tern_wheel_arm(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry);

/* Arm t to fire no later than expiry, cheaply: if it is armed to fire at
 * or before expiry's tick already, it is left alone (it fires early, and
 * its owner, finding nothing due, arms it again); else as
 * tern_wheel_arm(). For timers pushed later on every event (an RTO after
 * each send): one wheel operation per timeout rather than per event. O(1).
 * (tern_wheel_arm_later: the part past the inline test.) */
void tern_wheel_arm_later(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry);
static inline void tern_wheel_arm_by(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry)
{
	/* Inline, the common case: armed for a tick that starts at or before
	 * expiry (so at or before expiry's tick). */
	if (t->pprev != NULL && (int64_t)(expiry - w->base - (t->tick << w->shift)) >= 0)
		return;
	tern_wheel_arm_later(w, t, expiry);
}

/* Arm t to fire at expiry or at most slack ns before it: left alone if it
 * is armed inside that window already, else as tern_wheel_arm() (which also
 * moves it later). For a timer with one user at a time that pushes it later
 * on every event (the RTO of a session's only call in flight): one wheel
 * operation per slack of time rather than per event, and no early fire for
 * an event long gone, which at scale would find its owner's memory cold.
 * O(1). */
static inline void tern_wheel_arm_near(struct tern_wheel *w, struct tern_timer *t, uint64_t expiry,
				       uint64_t slack)
{
	/* Unsigned: armed after expiry wraps to a large difference. */
	if (t->pprev != NULL && expiry - w->base - (t->tick << w->shift) <= slack)
		return;
	tern_wheel_arm(w, t, expiry);
}

/* Disarm t if it is armed (no-op otherwise, also for a timer that fired).
 * O(1). */
void tern_wheel_cancel(struct tern_wheel *w, struct tern_timer *t);

/* Advance the wheel to now and return one expired timer, detached, or NULL
 * when none is left; call until NULL. A now earlier than the latest pop's
 * is taken as that one (the clock does not go back). */
struct tern_timer *tern_wheel_pop(struct tern_wheel *w, uint64_t now);

/* When the wheel next needs a pop, in O(TERN_WHEEL_LEVELS): *at is never
 * later than the time the earliest armed timer fires (its expiry rounded up
 * to the tick); it is that time exactly when that timer lies in the
 * wheel's current block of 64 ticks, else the earlier time at which a pop
 * must cascade it (after that pop, tern_wheel_next() is closer). If a timer is due, *at is
 * the latest pop's now. Returns 0, or -ENOENT if no timer is armed. */
int tern_wheel_next(const struct tern_wheel *w, uint64_t *at);

#endif
