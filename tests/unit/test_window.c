/*
 * test_window.c — lib/window.h, the per-call reception window both sides
 * use: 64 indexes wide above the arrived prefix, sliding over it (by a whole
 * word when the bitmap fills), and what lies beyond it dropped. On the
 * caller (its receptions: CRs) and the callee (request packets), through
 * fixture.h's endpoints, and on the functions themselves.
 */

#include "fixture.h"

/* The functions themselves: old, seen, new and beyond; the base slides
 * over the arrived prefix, by a whole word when all 64 are in. */
static void win_mark__slides_over_the_arrived_prefix(void)
{
	struct tern_window w;
	tern_win_reset(&w);
	CHECK_EQ(tern_win_test(&w, 0), TERN_WIN_NEW);
	CHECK_EQ(tern_win_test(&w, 63), TERN_WIN_NEW);
	CHECK_EQ(tern_win_test(&w, 64), TERN_WIN_BEYOND);
	tern_win_mark(&w, 2);
	CHECK_EQ(w.base, 0);
	CHECK_EQ(tern_win_test(&w, 2), TERN_WIN_SEEN);
	CHECK(tern_win_has(&w, 2) && !tern_win_has(&w, 1) && !tern_win_has(&w, 64));
	tern_win_mark(&w, 0);
	CHECK_EQ(w.base, 1);
	tern_win_mark(&w, 1);
	CHECK_EQ(w.base, 3); /* 0, 1 and 2 arrived */
	CHECK_EQ(w.bits, 0);
	CHECK_EQ(tern_win_test(&w, 2), TERN_WIN_OLD);
	CHECK(tern_win_has(&w, 0));
	CHECK_EQ(tern_win_test(&w, 66), TERN_WIN_NEW);
	CHECK_EQ(tern_win_test(&w, 67), TERN_WIN_BEYOND);
	/* 4..66 first, then 3: the base jumps by the whole word at once. */
	for (uint32_t i = 4; i < 3 + 64; i++)
		tern_win_mark(&w, i);
	CHECK_EQ(w.base, 3);
	tern_win_mark(&w, 3);
	CHECK_EQ(w.base, 3 + 64);
	CHECK_EQ(w.bits, 0);
	CHECK_EQ(tern_win_test(&w, 66), TERN_WIN_OLD);
	CHECK_EQ(tern_win_test(&w, 67 + 64), TERN_WIN_BEYOND);
}

/* Marking a range at once leaves what marking its new indexes one by one
 * leaves, and returns exactly those (relative to the old base): from each
 * bitmap pattern below, ranges that start below the base, inside the
 * window or past it. Indexes beyond the window as it was are left alone
 * (one by one, an index the window slid over would be marked too: a
 * caller never has such, it sends nothing beyond its window). */
static void win_mark_range__as_marking_one_by_one(void)
{
	static const uint64_t pats[] = {0, 1, 0x5, 0xff00, 0x8000000000000000ull,
					0x7ffffffffffffffeull, 0xaaaaaaaaaaaaaaaaull};
	for (unsigned p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		for (uint32_t lo = 90; lo < 100 + 70; lo += 3) {
			for (uint32_t hi = lo; hi < lo + 70; hi += 5) {
				struct tern_window a = {.base = 100, .bits = pats[p]};
				if (a.bits & 1)
					tern_win_slide(&a, a.bits); /* bit 0 is never set at rest */
				struct tern_window b = a;
				uint64_t want = 0;
				for (uint32_t i = lo; i <= hi && i < a.base + TERN_WINDOW; i++) {
					if (tern_win_test(&b, i) != TERN_WIN_NEW)
						continue;
					want |= 1ull << (i - a.base);
					tern_win_mark(&b, i);
				}
				uint64_t got = tern_win_mark_range(&a, lo, hi);
				CHECK_EQ(got, want);
				CHECK_EQ(a.base, b.base);
				CHECK_EQ(a.bits, b.bits);
			}
		}
	}
	/* The whole word: the base moves by 64. */
	struct tern_window w;
	tern_win_reset(&w);
	CHECK_EQ(tern_win_mark_range(&w, 0, 63), ~0ull);
	CHECK_EQ(w.base, 64);
	CHECK_EQ(w.bits, 0);
	CHECK_EQ(tern_win_mark_range(&w, 0, 63), 0); /* all old */
}

/* --- caller ----------------------------------------------------------------------- */

/* The per-call window is 64 receptions wide, whatever the credits. */
static void win_mark__caller_64_wide_and_slides(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	enum { N = 140 };
	struct inj_result r;
	REQUIRE(call(N * 64, 3, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 64);
	CHECK_EQ(inj_tx_count(d), 0);
	/* CRs 1..63: credits come back, but packet 64 is outside the window
	 * until 0 is answered. (Early retransmit resends the hole 0.) */
	for (uint32_t i = 1; i < 64; i++)
		inj_cr(&peer, 8, 1, i, N * 64, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 0));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(peer.s->credits, 63);
	/* CR 0 fills the whole bitmap: the window jumps by 64 at once. */
	inj_cr(&peer, 8, 1, 0, N * 64, 0);
	inj_poll(ep);
	CHECK_EQ(peer.s->cs[0].rx.base, 64);
	for (uint32_t i = 64; i < 128; i++)
		CHECK(expect_req(8, i));
	CHECK_EQ(inj_tx_count(d), 0);
	for (uint32_t i = 64; i < N - 1; i++) {
		inj_cr(&peer, 8, 1, i, N * 64, 0);
		inj_poll(ep);
	}
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), N - 128);
	inj_resp_pkt(&peer, 8, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(peer.s->credits, 64);
	teardown();
}

/* --- callee ----------------------------------------------------------------------- */

static void win_test__callee_beyond_window_dropped(void)
{
	REQUIRE(server_setup() == 0);
	enum { N = 100, SIZE = N * 64 };
	static uint8_t msg[SIZE];
	inj_fill(msg, sizeof(msg), 8);
	/* Nothing arrived yet: the window is packets 0..63. */
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 64, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], 1);
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 63, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 63, 0) != NULL);
	/* Packet 0 moves it to 1..64. */
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 0, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 64, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 65, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 0, 0) != NULL);
	CHECK(expect_cr(8, 64, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], 2);
	/* The rest, in order: one execution with every byte in place. */
	for (uint32_t i = 1; i < N; i++)
		inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, i, 0);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(seen_len == SIZE && memcmp(seen, msg, SIZE) == 0);
	teardown();
}

/* Packets 1..63 first, then 0: the received prefix jumps by a whole word. */
static void win_mark__callee_fills_then_slides_by_64(void)
{
	REQUIRE(server_setup() == 0);
	enum { N = 70, SIZE = N * 64 - 10 };
	static uint8_t msg[SIZE];
	inj_fill(msg, sizeof(msg), 12);
	for (uint32_t i = 1; i < 64; i++)
		inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, i, 0);
	inj_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CR), 63);
	CHECK_EQ(peer.s->ss[0].win.base, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, 0, 0);
	inj_poll(ep);
	CHECK_EQ(peer.s->ss[0].win.base, 64);
	CHECK_EQ(peer.s->ss[0].win.bits, 0);
	for (uint32_t i = 64; i < N; i++)
		inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, i, 0);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(seen_len == SIZE && memcmp(seen, msg, SIZE) == 0);
	teardown();
}

int main(void)
{
	RUN(win_mark__slides_over_the_arrived_prefix);
	RUN(win_mark_range__as_marking_one_by_one);
	RUN(win_mark__caller_64_wide_and_slides);
	RUN(win_test__callee_beyond_window_dropped);
	RUN(win_mark__callee_fills_then_slides_by_64);
	return check_exit();
}
