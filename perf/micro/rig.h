/*
 * rig.h — two tern endpoints in one process (a server with an echo handler
 * and a client with one open session), for the in-process round-trip
 * benchmarks of tern-micro, and the closed-loop driver those benchmarks run.
 *
 * A rig is created on first use and kept until rigs_destroy(), so the
 * several runs google-benchmark makes of one benchmark (iteration count
 * estimation, repetitions) do not pay endpoint setup each time, and a DPDK
 * net_ring pair is brought up once. Both endpoints are polled from the
 * calling thread, which must be the thread that created the rig (the
 * benchmark thread: no ->Threads() on these benchmarks).
 */
#ifndef TERN_MICRO_RIG_H
#define TERN_MICRO_RIG_H

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" {
#include "hist.h"
#include "tern.h"
}

/* Request type of the echo handler (TERN_RRA, as tern-perf's default). */
constexpr uint16_t RIG_ECHO = 1;

/* At most this many calls outstanding in a closed loop (session slots). */
constexpr unsigned RIG_MAX_WINDOW = 32;

struct rig {
	struct tern_ep *srv = nullptr;
	struct tern_ep *cli = nullptr;
	struct tern_session *sess = nullptr;
	std::string name;
};

/*
 * The rig of a driver: "loop", or "dpdk" (net_ring pair: needs eal, the EAL
 * arguments; the driver starts EAL from them on first use). Returns nullptr
 * and sets *err if it cannot be brought up (then every later call for that
 * driver fails the same way, without retrying).
 */
struct rig *rig_get(const std::string &driver, const char *eal, std::string *err);

/* Destroy every rig (before exit; DPDK's EAL itself stays up). */
void rigs_destroy();

/* What one closed-loop run measured. */
struct loop_result {
	uint64_t ok = 0;
	uint64_t errors = 0;
	struct hist lat; /* RTT of each successful call, ns */
};

/*
 * A closed loop of `window` lanes, each keeping one echo call of `size`
 * bytes (response the same size) in flight and issuing the next as soon as
 * one completes. next() waits (polling both endpoints) for one completion,
 * records its RTT (tern_now_ns() before tern_call() to tern_now_ns() in the
 * continuation) and reissues that lane. Bounded: next() gives up after
 * stall_ns without a completion. drain() waits, bounded, for the calls
 * still in flight and does not count them.
 */
class closed_loop {
public:
	closed_loop(struct rig *r, size_t size, unsigned window);
	~closed_loop();
	closed_loop(const closed_loop &) = delete;
	closed_loop &operator=(const closed_loop &) = delete;

	/* Start every lane. false and *err on failure. */
	bool start(std::string *err);
	/* One completion. false and *err on a stall or a failed tern_call(). */
	bool next(std::string *err);
	/* Let in-flight calls finish (not counted). */
	void drain();

	loop_result res;

private:
	struct lane {
		closed_loop *owner;
		uint64_t t0, t1;
		int status;
		bool busy;
	};
	static void on_reply(const struct tern_result *r, void *ctx);
	bool issue(lane *l, std::string *err);
	void poll();

	struct rig *r_;
	size_t size_;
	unsigned window_;
	lane lanes_[RIG_MAX_WINDOW];
	lane *done_[RIG_MAX_WINDOW];
	unsigned ndone_ = 0;
	unsigned busy_ = 0;
};

#endif
