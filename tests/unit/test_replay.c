/*
 * test_replay.c — lib/replay.c, the replay window of protected sessions:
 * fixed sequences (first lap, beyond it, jumps, the counter limit), and a
 * property test against a straightforward reference model (every counter
 * ever accepted remembered in a bitmap) over millions of counters with
 * reordering up to the window, duplicates, losses and jumps: no false
 * accept, no false reject.
 */
#include "check.h"
#include "tern_internal.h"

/* check, and commit if new (as protect.c does once the tag verified) */
static int take(struct replay_win *w, uint64_t ctr)
{
	if (!tern_replay_check(w, ctr))
		return 0;
	tern_replay_commit(w, ctr);
	return 1;
}

static void replay_commit__beyond_first_lap(void)
{
	struct replay_win w;
	tern_replay_reset(&w);
	for (uint64_t c = 0; c <= 2100; c++)
		CHECK_EQ(take(&w, c), 1);
	CHECK_EQ(take(&w, 2102), 1);
	CHECK_EQ(take(&w, 2101), 1); /* refused before the fix: a stale bit of counter 53 */
	CHECK_EQ(take(&w, 2101), 0);
	CHECK_EQ(take(&w, 2102), 0);
}

/* In order for many laps, every counter accepted once; each one replayed at
 * once and a window later is refused. */
static void replay_commit__in_order_many_laps(void)
{
	struct replay_win w;
	tern_replay_reset(&w);
	unsigned bad = 0;
	for (uint64_t c = 0; c < 100000; c++) {
		bad += take(&w, c) != 1;
		bad += take(&w, c) != 0;
		if (c >= TERN_REPLAY_WINDOW)
			bad += take(&w, c - TERN_REPLAY_WINDOW) != 0;
		if (c >= 1000)
			bad += tern_replay_check(&w, c - 1000) != 0;
	}
	CHECK_EQ(bad, 0);
}

static void replay_check__window_edges(void)
{
	struct replay_win w;
	tern_replay_reset(&w);
	CHECK_EQ(take(&w, 10000), 1);
	/* The newest TERN_REPLAY_WINDOW counters, the highest included. */
	CHECK_EQ(tern_replay_check(&w, 10000 - TERN_REPLAY_WINDOW), 0);
	CHECK_EQ(take(&w, 10000 - TERN_REPLAY_WINDOW + 1), 1);
	CHECK_EQ(take(&w, 9999), 1);
	/* Every word boundary crossed on the way up to a jump. */
	for (uint64_t c = 10001; c < 10200; c += 63)
		CHECK_EQ(take(&w, c), 1);
	CHECK_EQ(take(&w, 10064), 0);
	/* A jump of more than the ring clears everything behind the new top. */
	CHECK_EQ(take(&w, 50000), 1);
	CHECK_EQ(take(&w, 49999), 1);
	CHECK_EQ(take(&w, 50000 - TERN_REPLAY_WINDOW + 1), 1);
	CHECK_EQ(take(&w, 50000 - TERN_REPLAY_WINDOW), 0);
}

static void replay_check__counter_limit(void)
{
	struct replay_win w;
	tern_replay_reset(&w);
	CHECK_EQ(take(&w, TERN_CTR_REJECT - 1), 1);
	CHECK_EQ(take(&w, TERN_CTR_REJECT), 0);
	CHECK_EQ(take(&w, UINT64_MAX), 0);
	CHECK_EQ(take(&w, TERN_CTR_REJECT - 2), 1);
	CHECK_EQ(take(&w, 0), 0); /* far too old */
}

/* --- property test ------------------------------------------------------------ */

static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define MODEL_MAX (1u << 24) /* counters the model remembers (16 M) */
static uint8_t seen[MODEL_MAX / 8];

struct model {
	int any;
	uint64_t highest;
};

static int model_new(const struct model *m, uint64_t c)
{
	if (c >= MODEL_MAX)
		return 0;
	if (seen[c / 8] & (1u << (c % 8)))
		return 0;
	return !m->any || c > m->highest || m->highest - c < TERN_REPLAY_WINDOW;
}

static void model_commit(struct model *m, uint64_t c)
{
	seen[c / 8] |= (uint8_t)(1u << (c % 8));
	if (!m->any || c > m->highest)
		m->highest = c;
	m->any = 1;
}

/*
 * One run: a sender's counters 0, 1, 2, ... (some lost, sometimes a jump)
 * delivered through a reordering buffer of up to `reorder` packets, with
 * duplicates of recent and of old counters, and tag failures (checked,
 * never committed). Compares every decision with the model.
 */
static void property_run(uint64_t seed, unsigned reorder, unsigned count, unsigned *false_accept,
			 unsigned *false_reject, unsigned *accepted)
{
	static uint64_t buf[4096];
	struct replay_win w;
	struct model m = {0};
	memset(seen, 0, sizeof(seen));
	tern_replay_reset(&w);
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	uint64_t sent = 0;
	unsigned nbuf = 0;
	for (unsigned i = 0; i < count && sent + 10000 < MODEL_MAX; i++) {
		uint64_t r = next_rand();
		/* the sender: the next counter (1% lost, 0.01% a jump) into the buffer */
		if (r % 10000 == 0)
			sent += 1 + next_rand() % 6000;
		if (r % 100 != 1)
			buf[nbuf++] = sent;
		sent++;
		if (nbuf <= reorder && i + 1 < count)
			continue;
		/* deliver a random buffered one (reordering bounded by the buffer) */
		unsigned k = (unsigned)(next_rand() % nbuf);
		uint64_t c = buf[k];
		buf[k] = buf[--nbuf];
		uint64_t dup = next_rand() % 100;
		for (int pass = 0; pass < 2; pass++) {
			int want = model_new(&m, c), got = tern_replay_check(&w, c);
			if (got && !want)
				(*false_accept)++;
			if (want && !got)
				(*false_reject)++;
			if (got && next_rand() % 50 != 0) { /* 2%: the tag fails, nothing committed */
				tern_replay_commit(&w, c);
				model_commit(&m, c);
				(*accepted)++;
			}
			if (dup >= 5)
				break;
			/* 5%: a duplicate, of this one or of one up to two windows back */
			if (dup < 3 && c > 0)
				c -= next_rand() % (c < 2 * TERN_REPLAY_WINDOW ? c : 2 * TERN_REPLAY_WINDOW);
		}
	}
}

static void replay_window__matches_reference_model(void)
{
	static const unsigned reorders[] = {0, 1, 32, 500, TERN_REPLAY_WINDOW - 1,
					    TERN_REPLAY_WINDOW, 3000};
	unsigned fa = 0, fr = 0, acc = 0, total = 0;
	for (unsigned i = 0; i < sizeof(reorders) / sizeof(reorders[0]); i++) {
		unsigned n = 1000000;
		property_run(i + 1, reorders[i], n, &fa, &fr, &acc);
		total += n;
	}
	printf("  %u counters, %u accepted, %u false accepts, %u false rejects\n", total, acc, fa,
	       fr);
	CHECK_EQ(fa, 0);
	CHECK_EQ(fr, 0);
	CHECK(acc > total / 2);
}

int main(void)
{
	RUN(replay_commit__beyond_first_lap);
	RUN(replay_commit__in_order_many_laps);
	RUN(replay_check__window_edges);
	RUN(replay_check__counter_limit);
	RUN(replay_window__matches_reference_model);
	return check_exit();
}
