/*
 * echo-server — the gRPC C++ peer's server: Echo.Call (echo.proto) answers
 * with the request's bytes, as tern-perf's server does.
 *
 *   echo-server [--bind IP:PORT] [--max-time S]
 *
 * Callback API (CallbackService, the one gRPC recommends for new servers;
 * handlers run on gRPC's own threads and reply inline), insecure HTTP/2
 * over TCP, default channel arguments. Exits on SIGINT/SIGTERM, or after
 * --max-time seconds (default 900) so it can never be left behind.
 */
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <pthread.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

namespace {

class echo_service final : public ternecho::Echo::CallbackService {
	grpc::ServerUnaryReactor *Call(grpc::CallbackServerContext *ctx, const ternecho::Msg *req,
				       ternecho::Msg *resp) override
	{
		resp->set_data(req->data());
		grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
		r->Finish(grpc::Status::OK);
		return r;
	}
};

void usage(FILE *f)
{
	fprintf(f, "usage: echo-server [--bind IP:PORT] [--max-time S]\n"
		   "defaults: --bind 127.0.0.1:31890 --max-time 900\n");
}

} // namespace

int main(int argc, char **argv)
{
	std::string bind = "127.0.0.1:31890";
	unsigned max_time = 900;

	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if ((a == "--bind" || a == "--max-time") && i + 1 < argc) {
			if (a == "--bind")
				bind = argv[++i];
			else
				max_time = static_cast<unsigned>(atoi(argv[++i]));
		} else if (a == "--help" || a == "-h") {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	/* Signals are taken by sigwait() below, not by whichever of gRPC's
	 * threads happens to run: block them before gRPC starts any. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);

	echo_service svc;
	grpc::ServerBuilder b;
	int port = 0;
	b.AddListeningPort(bind, grpc::InsecureServerCredentials(), &port);
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> server = b.BuildAndStart();
	if (server == nullptr || port == 0) {
		fprintf(stderr, "echo-server: cannot listen on %s\n", bind.c_str());
		return 1;
	}
	fprintf(stderr, "echo-server: gRPC %s, listening on %s\n", grpc::Version().c_str(), bind.c_str());
	if (max_time > 0)
		alarm(max_time);
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "echo-server: %s, shutting down\n", strsignal(sig));
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
	return 0;
}
