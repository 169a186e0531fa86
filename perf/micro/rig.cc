/*
 * rig.cc — the in-process two-endpoint rigs of tern-micro and the closed
 * loop its round-trip benchmarks run (see rig.h).
 */
#include "rig.h"

#include <cerrno>
#include <cstring>
#include <map>

#include <unistd.h>

namespace {

/* Slots (and so calls truly in flight) per session: the largest window. */
constexpr uint32_t RIG_SLOTS = RIG_MAX_WINDOW;
constexpr uint64_t CONNECT_NS = 5'000'000'000ull;
constexpr uint64_t STALL_NS = 2'000'000'000ull;
constexpr uint64_t DRAIN_NS = 3'000'000'000ull;

struct rig_slot {
	struct rig *r = nullptr;
	std::string err;
};
std::map<std::string, rig_slot> rigs;

void echo(struct tern_req *req, void *)
{
	size_t n = tern_req_len(req);
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), n);
	if (m == nullptr) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	if (n != 0)
		memcpy(tern_msg_data(m), tern_req_data(req), n);
	tern_respond(req, m);
}

void rig_free(struct rig *r)
{
	if (r->sess != nullptr)
		tern_session_close(r->sess);
	tern_ep_destroy(r->cli);
	tern_ep_destroy(r->srv);
	delete r;
}

struct rig *rig_make(const std::string &driver, const char *eal, std::string *err)
{
	struct tern_ep_config sc, cc;
	bool dpdk = driver == "dpdk";
	char addr[64];

	if (dpdk && strstr(tern_drivers(), "dpdk") == nullptr) {
		*err = "skip: the dpdk driver is not built into libtern";
		return nullptr;
	}
	if (dpdk && (eal == nullptr || *eal == '\0')) {
		*err = "skip: dpdk needs --eal \"EAL ARGS\"";
		return nullptr;
	}
	tern_ep_config_init(&sc);
	sc.driver = driver.c_str();
	sc.slots = RIG_SLOTS;
	if (dpdk) {
		/* Two ethdevs joined by two rte_rings (drivers/dpdk/dpdk.c). */
		sc.eal = eal;
		sc.driver_args = "port=ringpair:tern_micro:a";
		sc.bind = "10.9.0.1:5000";
	} else {
		sc.bind = "127.0.0.1:0";
	}
	cc = sc;
	if (dpdk) {
		cc.driver_args = "port=ringpair:tern_micro:b";
		cc.bind = "10.9.0.2:5001";
	}

	struct rig *r = new rig;
	r->name = driver;
	int rc = tern_ep_create(&sc, &r->srv);
	if (rc == 0)
		rc = tern_handle(r->srv, RIG_ECHO, echo, nullptr, TERN_RRA);
	if (rc == 0)
		rc = tern_ep_create(&cc, &r->cli);
	if (rc == 0)
		rc = tern_connect(r->cli, tern_ep_addr(r->srv, addr, sizeof(addr)), &r->sess);
	if (rc == 0) {
		/* Both endpoints live on this thread: poll the server while waiting. */
		uint64_t end = tern_now_ns() + CONNECT_NS;
		while ((rc = tern_session_state(r->sess)) == TERN_SS_CONNECTING && tern_now_ns() < end) {
			tern_poll(r->cli);
			tern_poll(r->srv);
		}
		rc = rc == TERN_SS_CONNECTED ? 0 : -ETIMEDOUT;
	}
	if (rc != 0) {
		/* EAL needs root here (vdevs, memory): not a tern failure. */
		*err = (dpdk && geteuid() != 0 ? "skip: not root: " : "") + driver + " rig: " + strerror(-rc);
		rig_free(r);
		return nullptr;
	}
	return r;
}

} // namespace

struct rig *rig_get(const std::string &driver, const char *eal, std::string *err)
{
	auto it = rigs.find(driver);
	if (it == rigs.end()) {
		rig_slot s;
		s.r = rig_make(driver, eal, &s.err);
		it = rigs.emplace(driver, s).first;
	}
	if (it->second.r == nullptr)
		*err = it->second.err;
	return it->second.r;
}

void rigs_destroy()
{
	for (auto &kv : rigs)
		if (kv.second.r != nullptr)
			rig_free(kv.second.r);
	rigs.clear();
}

/* ------------------------------------------------------------------ */

closed_loop::closed_loop(struct rig *r, size_t size, unsigned window)
	: r_(r), size_(size), window_(window < RIG_MAX_WINDOW ? window : RIG_MAX_WINDOW)
{
	hist_init(&res.lat);
	for (unsigned i = 0; i < RIG_MAX_WINDOW; i++)
		lanes_[i] = lane{this, 0, 0, 0, false};
}

closed_loop::~closed_loop()
{
	drain();
}

void closed_loop::on_reply(const struct tern_result *res, void *ctx)
{
	lane *l = static_cast<lane *>(ctx);
	l->t1 = tern_now_ns();
	l->status = res->status;
	l->owner->done_[l->owner->ndone_++] = l;
}

bool closed_loop::issue(lane *l, std::string *err)
{
	struct tern_msg *m = tern_msg_alloc(r_->cli, size_);
	if (m == nullptr) {
		*err = "tern_msg_alloc failed";
		return false;
	}
	l->t0 = tern_now_ns();
	int rc = tern_call(r_->sess, RIG_ECHO, m, on_reply, l, 0);
	if (rc != 0) {
		tern_msg_free(m);
		*err = std::string("tern_call: ") + strerror(-rc);
		return false;
	}
	l->busy = true;
	busy_++;
	return true;
}

void closed_loop::poll()
{
	tern_poll(r_->cli);
	tern_poll(r_->srv);
}

bool closed_loop::start(std::string *err)
{
	if (r_->sess == nullptr) {
		*err = r_->name + " rig: session closed after an earlier stall";
		return false;
	}
	for (unsigned i = 0; i < window_; i++)
		if (!issue(&lanes_[i], err))
			return false;
	return true;
}

bool closed_loop::next(std::string *err)
{
	if (ndone_ == 0) {
		uint64_t end = tern_now_ns() + STALL_NS;
		for (unsigned spins = 1; ndone_ == 0; spins++) {
			poll();
			if ((spins & 1023u) == 0 && tern_now_ns() > end) {
				*err = "no reply for 2 s";
				return false;
			}
		}
	}
	lane *l = done_[--ndone_];
	l->busy = false;
	busy_--;
	if (l->status == 0) {
		res.ok++;
		hist_add(&res.lat, l->t1 - l->t0);
	} else {
		res.errors++;
	}
	return issue(l, err);
}

void closed_loop::drain()
{
	uint64_t end = tern_now_ns() + DRAIN_NS;
	for (unsigned spins = 1; busy_ > 0; spins++) {
		while (ndone_ > 0) {
			done_[--ndone_]->busy = false;
			busy_--;
		}
		if (busy_ == 0 || ((spins & 1023u) == 0 && tern_now_ns() > end))
			break;
		poll();
	}
	if (busy_ > 0) {
		/* Stuck calls: closing the session ends them (their continuations
		 * run inside the close), so none can outlive this object. The rig
		 * is unusable from now on. */
		tern_session_close(r_->sess);
		r_->sess = nullptr;
		busy_ = 0;
	}
	ndone_ = 0;
}
