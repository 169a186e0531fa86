/*
 * wheel.cc — tern-micro benchmarks of the timing wheel (lib/wheel.c), on a
 * virtual clock (no clock reads), 1 µs ticks (2^10 ns) as tern uses:
 *
 *   wheel/arm_cancel/N    arm one timer and cancel it, N others armed (ns per pair)
 *   wheel/rearm/N         move one of the N armed timers to a new expiry (an RTO
 *                         restarted by an ACK; ns per re-arm)
 *   wheel/arm_fire/N      steady state, N timers of 1 µs..2 ms: advance the clock,
 *                         pop what expired, re-arm each popped timer; ns_per_fire
 *                         is the time per timer fired (pop + re-arm + its cascades),
 *                         cascades_per_fire how often a timer moved down a level
 *   wheel/idle/N/STEP     N timers 1..2 hours ahead (re-armed 1..2 hours ahead when
 *                         they fire), the clock advanced by STEP per pop loop (1us: a
 *                         busy poll; 1ms; 1s): ns per pop loop; fired_per_pop says
 *                         how much expired in it (~0 at 1us and 1ms; at 1s, N/5400),
 *                         visits_per_pop how many slot lists it emptied
 *
 * Delays for arm_cancel and rearm are log-uniform from 10 µs to 30 s (RTOs
 * to keepalives and deadlines), from a fixed table.
 */
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include "timers.h"
}

void register_wheel_benchmarks();

namespace {

constexpr unsigned SHIFT = 10;
constexpr uint64_t START = 1000000000ull;
constexpr uint64_t HOUR = 3600000000000ull;
constexpr size_t TABLE = 4096; /* delays, a power of two */

uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* TABLE delays between lo and hi ns, log-uniform or uniform. */
std::vector<uint64_t> delays(double lo, double hi, bool log_uniform)
{
	std::vector<uint64_t> d(TABLE);
	uint64_t s = 42;
	for (auto &x : d) {
		double u = static_cast<double>(rng(&s) >> 11) / 9007199254740992.0;
		x = static_cast<uint64_t>(log_uniform ? lo * std::pow(hi / lo, u) : lo + (hi - lo) * u);
	}
	return d;
}

struct bench {
	struct tern_wheel w;
	std::vector<struct tern_timer> t;
	uint64_t now = START;

	/* n timers armed at now + d[i % TABLE] + offset. */
	bench(size_t n, const std::vector<uint64_t> &d, uint64_t offset) : t(n)
	{
		tern_wheel_init(&w, SHIFT, now);
		for (size_t i = 0; i < n; i++) {
			tern_timer_init(&t[i], 0);
			tern_wheel_arm(&w, &t[i], now + offset + d[(i * 7) % TABLE]);
		}
	}
};

void BM_wheel_arm_cancel(benchmark::State &st, int64_t n)
{
	auto d = delays(10e3, 30e9, true);
	bench b(static_cast<size_t>(n), d, 0);
	struct tern_timer x;
	tern_timer_init(&x, 1);
	size_t i = 0;
	for (auto _ : st) {
		tern_wheel_arm(&b.w, &x, b.now + d[i++ % TABLE]);
		tern_wheel_cancel(&b.w, &x);
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void BM_wheel_rearm(benchmark::State &st, int64_t n)
{
	auto d = delays(10e3, 30e9, true);
	bench b(static_cast<size_t>(n), d, 0);
	size_t i = 0, k = 0;
	for (auto _ : st) {
		tern_wheel_arm(&b.w, &b.t[k], b.now + d[i++ % TABLE]);
		k = k + 1 == b.t.size() ? 0 : k + 1;
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

/* Pop everything due at b.now and re-arm it at b.now + offset + a delay. */
uint64_t fire_rearm(bench &b, const std::vector<uint64_t> &d, size_t *i, uint64_t offset)
{
	uint64_t fired = 0;
	struct tern_timer *t;
	while ((t = tern_wheel_pop(&b.w, b.now)) != nullptr) {
		tern_wheel_arm(&b.w, t, b.now + offset + d[(*i)++ % TABLE]);
		fired++;
	}
	return fired;
}

void BM_wheel_arm_fire(benchmark::State &st, int64_t n)
{
	auto d = delays(1e3, 2e6, false); /* mean 1 ms */
	bench b(static_cast<size_t>(n), d, 0);
	/* About 8 timers fire per step in the steady state. */
	uint64_t step = 8 * 1000000ull / static_cast<uint64_t>(n);
	size_t i = 0;
	uint64_t fired = 0, cascaded = b.w.cascaded;
	for (auto _ : st) {
		b.now += step;
		fired += fire_rearm(b, d, &i, 0);
	}
	st.counters["cascades_per_fire"] = static_cast<double>(b.w.cascaded - cascaded) /
					   static_cast<double>(fired);
	st.SetItemsProcessed(static_cast<int64_t>(fired));
	st.counters["ns_per_fire"] = benchmark::Counter(static_cast<double>(fired),
							benchmark::Counter::kIsRate |
								benchmark::Counter::kInvert);
	st.counters["fired_per_step"] = static_cast<double>(fired) / static_cast<double>(st.iterations());
}

void BM_wheel_idle(benchmark::State &st, int64_t n, int64_t step)
{
	auto d = delays(0, static_cast<double>(HOUR), false);
	bench b(static_cast<size_t>(n), d, HOUR);
	size_t i = 0;
	uint64_t fired = 0, visits = b.w.visits;
	for (auto _ : st) {
		b.now += static_cast<uint64_t>(step);
		fired += fire_rearm(b, d, &i, HOUR);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
	st.counters["visits_per_pop"] = static_cast<double>(b.w.visits - visits) /
					static_cast<double>(st.iterations());
	st.counters["fired_per_pop"] = static_cast<double>(fired) / static_cast<double>(st.iterations());
}

} // namespace

void register_wheel_benchmarks()
{
	using benchmark::RegisterBenchmark;
	for (int64_t n : {1000, 100000}) {
		std::string sn = std::to_string(n);
		RegisterBenchmark(("wheel/arm_cancel/" + sn).c_str(), BM_wheel_arm_cancel, n);
		RegisterBenchmark(("wheel/rearm/" + sn).c_str(), BM_wheel_rearm, n);
		RegisterBenchmark(("wheel/arm_fire/" + sn).c_str(), BM_wheel_arm_fire, n);
		for (int64_t step : {1000ll, 1000000ll, 1000000000ll}) {
			const char *ss = step == 1000 ? "1us" : step == 1000000 ? "1ms" : "1s";
			RegisterBenchmark(("wheel/idle/" + sn + "/" + ss).c_str(), BM_wheel_idle, n, step);
		}
	}
}
