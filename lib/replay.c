/*
 * replay.c — the receive replay window of protected sessions: which packet
 * counters are new. Owns struct replay_win; protect.c asks it before a tag
 * is checked (tern_replay_check, read-only) and tells it after the tag
 * verified (tern_replay_commit). Nothing else touches the window.
 *
 * WireGuard's design (counter.c): a ring of TERN_RXWIN_WORDS 64-bit words
 * indexed by counter / 64, behind the highest counter accepted. When a
 * newer counter arrives, the words between the highest one's word and the
 * new one's are cleared — they hold counters a whole lap (the ring's 2048
 * bits) older. The ring minus the word being filled holds the newest
 * TERN_REPLAY_WINDOW (1984) counters: a counter less than that far behind
 * the highest is accepted exactly once, anything older is refused.
 *
 * The word of the highest counter is (next - 1) / 64. (Taking it from
 * next itself, as this code once did, skipped clearing a word whenever the
 * highest counter ended a word: after the first lap, in-order traffic then
 * met stale bits and valid packets were dropped as replays.)
 */
#include <string.h>

#include "tern_internal.h"

#define WIN_BITS (TERN_RXWIN_WORDS * 64u)
static_assert(TERN_REPLAY_WINDOW == WIN_BITS - 64u, "window: the ring minus one word");

void tern_replay_reset(struct replay_win *w)
{
	memset(w, 0, sizeof(*w));
}

int tern_replay_check(const struct replay_win *w, uint64_t ctr)
{
	if (ctr >= TERN_CTR_REJECT)
		return 0;
	if (ctr >= w->next)
		return 1;
	if (w->next - 1 - ctr >= TERN_REPLAY_WINDOW) /* fell out of the window */
		return 0;
	return !((w->bits[(ctr / 64) % TERN_RXWIN_WORDS] >> (ctr % 64)) & 1);
}

void tern_replay_commit(struct replay_win *w, uint64_t ctr)
{
	if (ctr >= w->next) {
		uint64_t top = ctr / 64;
		if (w->next != 0) {
			uint64_t cur = (w->next - 1) / 64;
			if (top - cur >= TERN_RXWIN_WORDS)
				memset(w->bits, 0, sizeof(w->bits));
			else
				for (uint64_t i = cur + 1; i <= top; i++)
					w->bits[i % TERN_RXWIN_WORDS] = 0;
		}
		w->next = ctr + 1;
	}
	w->bits[(ctr / 64) % TERN_RXWIN_WORDS] |= 1ull << (ctr % 64);
}
