/*
 * window.h — the per-call reception window, used by both sides of a call:
 * the caller tracks its receptions (CRs and response packets) in it, the
 * callee the request packets. It owns struct tern_window and nothing else;
 * the caller and callee decide what an old, seen or out-of-window index
 * means for them (drop reasons, CRs again, ...).
 *
 * Every index below base has arrived; bit k of bits says whether base + k
 * has. A newly marked index slides base over the arrived prefix. Indexes
 * at or beyond base + TERN_WINDOW cannot be held: a sender never has more
 * than that outstanding past its first unanswered packet.
 */
#ifndef TERN_WINDOW_H
#define TERN_WINDOW_H

#include <stdint.h>

#define TERN_WINDOW 64u /* indexes held above base (the bitmap's width) */

struct tern_window {
	uint32_t base; /* every index below it has arrived */
	uint64_t bits; /* bit k: base + k has arrived */
};

enum tern_win {
	TERN_WIN_NEW = 0, /* inside the window, not yet arrived */
	TERN_WIN_OLD,     /* below base: arrived long ago */
	TERN_WIN_SEEN,    /* inside the window, already arrived */
	TERN_WIN_BEYOND,  /* at or past base + TERN_WINDOW */
};

static inline void tern_win_reset(struct tern_window *w)
{
	w->base = 0;
	w->bits = 0;
}

static inline enum tern_win tern_win_test(const struct tern_window *w, uint32_t i)
{
	if (i < w->base)
		return TERN_WIN_OLD;
	uint32_t off = i - w->base;
	if (off >= TERN_WINDOW)
		return TERN_WIN_BEYOND;
	return ((w->bits >> off) & 1) ? TERN_WIN_SEEN : TERN_WIN_NEW;
}

/* Has i arrived? (Beyond the window: no.) */
static inline int tern_win_has(const struct tern_window *w, uint32_t i)
{
	enum tern_win t = tern_win_test(w, i);
	return t == TERN_WIN_OLD || t == TERN_WIN_SEEN;
}

/* Take the bitmap bits (relative to base) and slide base over its prefix. */
static inline void tern_win_slide(struct tern_window *w, uint64_t bits)
{
	if (bits == ~0ull) { /* all 64 arrived */
		w->base += TERN_WINDOW;
		w->bits = 0;
		return;
	}
	unsigned k = (unsigned)__builtin_ctzll(~bits); /* < 64: bits has a zero */
	w->base += k;
	w->bits = bits >> k;
}

/* Record index i, which tern_win_test() found TERN_WIN_NEW. */
static inline void tern_win_mark(struct tern_window *w, uint32_t i)
{
	tern_win_slide(w, w->bits | (1ull << (i - w->base)));
}

/* Record every index of lo..hi (lo <= hi) that tern_win_test() finds
 * TERN_WIN_NEW now, all at once: the state is what marking them one by one
 * leaves. Old and seen indexes are left alone, and so is anything beyond
 * the window as it is now (one by one, an index the window slid over on
 * the way would be marked too; a sender has nothing out there). Returns
 * the bitmap of the indexes recorded, relative to the base before the call
 * (0: none), so the caller can count them and ask about one of them. */
static inline uint64_t tern_win_mark_range(struct tern_window *w, uint32_t lo, uint32_t hi)
{
	if (hi < w->base)
		return 0;
	uint32_t off = lo > w->base ? lo - w->base : 0;
	uint32_t top = hi - w->base; /* the highest offset asked for */
	if (off >= TERN_WINDOW)
		return 0;
	if (top >= TERN_WINDOW)
		top = TERN_WINDOW - 1;
	uint64_t range = (~0ull >> (TERN_WINDOW - 1 - (top - off))) << off;
	uint64_t fresh = range & ~w->bits;
	if (fresh != 0)
		tern_win_slide(w, w->bits | fresh);
	return fresh;
}

#endif /* TERN_WINDOW_H */
