/*
 * echo-client — latency and throughput of gRPC C++ unary calls: Echo.Call
 * (echo.proto) in a closed loop against echo-server.
 *
 *   echo-client --connect IP:PORT [--size B] [--concurrency W]
 *               [--count N | --duration S] [--warmup N] [--timeout-ms MS]
 *               [--json] [--cdf FILE]
 *
 * One thread, one channel, the completion-queue (async) API: W calls are in
 * flight at once (W = 1: one at a time, the latency case), and each
 * completion starts that lane's next call, as gRPC's own async unary qps
 * client does and as tern-perf's lanes do. A call is timed from just before
 * AsyncCall (a fresh ClientContext per call, as gRPC requires; protobuf
 * serialisation included) to its completion leaving CompletionQueue::Next,
 * into perf/hist.h's histogram. Responses are checked for length.
 *
 * Output: the result block, or with --json one object with the keys
 * perf/compare/run reads (result.h); --cdf FILE writes the latency CDF.
 * Exit: 0 if every call succeeded, 1 otherwise, 2 on bad usage.
 */
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"
#include "result.h"

namespace {

struct opts {
	std::string connect;
	size_t size = 32;
	unsigned concurrency = 1;
	uint64_t count = 100000;
	double duration = 0;
	uint64_t warmup = 1000;
	unsigned timeout_ms = 2000;
	bool json = false;
	const char *cdf = nullptr;
};

std::atomic<int> stop_flag{0};

void on_signal(int)
{
	stop_flag = 1;
}

uint64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct lane {
	std::unique_ptr<grpc::ClientContext> ctx;
	std::unique_ptr<grpc::ClientAsyncResponseReader<ternecho::Msg>> reader;
	ternecho::Msg resp;
	grpc::Status status;
	uint64_t t0 = 0;
	bool busy = false;
};

void usage(FILE *f)
{
	fprintf(f, "usage: echo-client --connect IP:PORT [--size B] [--concurrency W]\n"
		   "                   [--count N | --duration S] [--warmup N] [--timeout-ms MS]\n"
		   "                   [--json] [--cdf FILE]\n"
		   "defaults: --size 32 --concurrency 1 --count 100000 --warmup 1000 --timeout-ms 2000\n");
}

double num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "echo-client: bad %s '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

void parse(int argc, char **argv, opts *o)
{
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
		bool takes = a != "--json" && a != "--help" && a != "-h";
		if (takes && v == nullptr) {
			usage(stderr);
			exit(2);
		}
		if (a == "--connect")
			o->connect = v;
		else if (a == "--size")
			o->size = static_cast<size_t>(num("--size", v, 0, 64 << 20));
		else if (a == "--concurrency")
			o->concurrency = static_cast<unsigned>(num("--concurrency", v, 1, 4096));
		else if (a == "--count")
			o->count = static_cast<uint64_t>(num("--count", v, 1, 1e12));
		else if (a == "--duration")
			o->duration = num("--duration", v, 0.001, 86400);
		else if (a == "--warmup")
			o->warmup = static_cast<uint64_t>(num("--warmup", v, 0, 1e9));
		else if (a == "--timeout-ms")
			o->timeout_ms = static_cast<unsigned>(num("--timeout-ms", v, 1, 3600000));
		else if (a == "--cdf")
			o->cdf = v;
		else if (a == "--json")
			o->json = true;
		else if (a == "--help" || a == "-h") {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
		if (takes)
			i++;
	}
	if (o->connect.empty()) {
		usage(stderr);
		exit(2);
	}
}

} // namespace

int main(int argc, char **argv)
{
	opts o;
	parse(argc, argv, &o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	std::shared_ptr<grpc::Channel> ch =
		grpc::CreateChannel(o.connect, grpc::InsecureChannelCredentials());
	if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
		fprintf(stderr, "echo-client: cannot connect to %s\n", o.connect.c_str());
		return 1;
	}
	std::unique_ptr<ternecho::Echo::Stub> stub = ternecho::Echo::NewStub(ch);
	grpc::CompletionQueue cq;
	ternecho::Msg req;
	req.set_data(std::string(o.size, 'x'));

	std::vector<lane> lanes(o.concurrency);
	auto *h = new hist;
	hist_init(h);
	uint64_t done = 0, errors = 0, issued = 0, in_flight = 0;
	uint64_t total = o.duration > 0 ? UINT64_MAX : o.warmup + o.count;
	uint64_t t_start = 0, t_end = 0, t_stop = UINT64_MAX;
	bool sending = true;

	auto issue = [&](lane &l) {
		l.ctx = std::make_unique<grpc::ClientContext>();
		l.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.timeout_ms));
		l.t0 = now_ns();
		l.reader = stub->AsyncCall(l.ctx.get(), req, &cq);
		l.reader->Finish(&l.resp, &l.status, &l);
		l.busy = true;
		issued++;
		in_flight++;
	};

	for (lane &l : lanes)
		if (issued < total)
			issue(l);
	while (in_flight > 0) {
		void *tag;
		bool ok;
		/* Bounded: every call has a deadline, so Next cannot wait forever. */
		if (!cq.Next(&tag, &ok))
			break;
		uint64_t t1 = now_ns();
		lane &l = *static_cast<lane *>(tag);
		l.busy = false;
		in_flight--;
		uint64_t seq = done++;
		bool good = ok && l.status.ok() && l.resp.data().size() == o.size;
		if (seq == o.warmup)
			t_start = t1;
		if (seq >= o.warmup) {
			if (good) {
				hist_add(h, t1 - l.t0);
				t_end = t1;
			} else {
				errors++;
				if (errors <= 3)
					fprintf(stderr, "echo-client: call failed: %s\n",
						l.status.error_message().c_str());
			}
		}
		if (o.duration > 0 && t_start != 0 && t_stop == UINT64_MAX)
			t_stop = t_start + static_cast<uint64_t>(o.duration * 1e9);
		if (stop_flag || t1 >= t_stop || errors >= 100)
			sending = false;
		if (sending && issued < total)
			issue(l);
	}
	cq.Shutdown();
	void *tag;
	bool ok;
	while (cq.Next(&tag, &ok)) {
	}

	double secs = t_end > t_start ? static_cast<double>(t_end - t_start) / 1e9 : 0;
	char title[200], extra[200];
	snprintf(title, sizeof(title), "echo-client: gRPC %s unary to %s, %zu B, %u outstanding",
		 grpc::Version().c_str(), o.connect.c_str(), o.size, o.concurrency);
	snprintf(extra, sizeof(extra), "\"system\": \"grpc\", \"size\": %zu, \"concurrency\": %u", o.size,
		 o.concurrency);
	result_print(title, o.json, h, errors, secs > 0 ? static_cast<double>(h->count) / secs : 0, extra);
	int rc = errors != 0 || stop_flag || h->count == 0 ? 1 : 0;
	if (o.cdf != nullptr && result_write_cdf(o.cdf, h) != 0)
		rc = 1;
	delete h;
	return rc;
}
