/*
 * hello-server — the smallest complete tern_pb server: Hello.Echo (see
 * hello.proto) answers with the text it was sent.
 *
 *   hello-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal "ARGS"]
 *                [--driver-args K=V,...] [--busy-poll]
 *                [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]
 *
 * With --key (and --allow, --psk) clients authenticate the server (and it
 * them) and may protect their sessions; --protection sets the lowest level
 * it accepts (secflags.h, README "Security").
 *
 * Runs until SIGINT or SIGTERM. By default it sleeps in the driver when idle
 * (busy_poll = 0), leaving the CPU free; --busy-poll spins for latency.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hello.pb-c.h"
#include "secflags.h"
#include "tern_pb.h"

#define HELLO_BASE_TYPE 1 /* Hello's methods are tern request types 1, 2, ...: as the client */
#define WAIT_NS 100000000ull /* idle sleep, at most; then look at the signal flag */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The handler: protoc-c's signature. The request, and anything it points
 * to, lives until the closure has packed the reply. */
static void hello_echo(Hello__Hello_Service *service, const Hello__EchoRequest *req,
		       Hello__EchoReply_Closure closure, void *closure_data)
{
	(void)service;
	Hello__EchoReply reply = HELLO__ECHO_REPLY__INIT;
	reply.text = req->text;
	closure(&reply, closure_data);
}

static Hello__Hello_Service hello_service = HELLO__HELLO__INIT(hello_);

static void usage(FILE *f)
{
	fprintf(f, "usage: hello-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal \"ARGS\"]\n"
		   "                    [--driver-args K=V,...] [--busy-poll]\n"
		   "                    [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "  default bind 0.0.0.0:31870, driver udp\n" SECFLAGS_HELP_SERVER);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bind", required_argument, NULL, 'b'},
		{"driver", required_argument, NULL, 'd'},
		{"eal", required_argument, NULL, 'e'},
		{"driver-args", required_argument, NULL, 'a'},
		{"busy-poll", no_argument, NULL, 'p'},
		SECFLAG_KEY, SECFLAG_ALLOW, SECFLAG_PSK, SECFLAG_PROTECTION,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.bind = "0.0.0.0:31870";
	cfg.busy_poll = 0;
	cfg.log = secflags_log;
	cfg.log_ctx = (void *)"hello-server";
	int c, sf;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((sf = secflags_apply(c, optarg, &cfg, "hello-server")) != 0) {
			if (sf < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 'b': cfg.bind = optarg; break;
		case 'd': cfg.driver = optarg; break;
		case 'e': cfg.eal = optarg; break;
		case 'a': cfg.driver_args = optarg; break;
		case 'p': cfg.busy_poll = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct tern_ep *ep;
	int rc = tern_ep_create(&cfg, &ep);
	if (rc != 0) {
		fprintf(stderr, "hello-server: cannot open %s on %s: %s\n", cfg.driver, cfg.bind,
			strerror(-rc));
		return 2;
	}
	rc = tern_pb_serve(ep, &hello_service.base, HELLO_BASE_TYPE, TERN_RRA);
	if (rc != 0) {
		fprintf(stderr, "hello-server: tern_pb_serve: %s\n", strerror(-rc));
		tern_ep_destroy(ep);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char addr[64];
	printf("hello-server: listening on %s (%s)\n", tern_ep_addr(ep, addr, sizeof(addr)),
	       cfg.driver);
	fflush(stdout);
	while (!stop) {
		if (cfg.busy_poll)
			(void)tern_poll(ep);
		else
			(void)tern_poll_wait(ep, WAIT_NS);
	}
	tern_pb_ep_release(ep);
	tern_ep_destroy(ep);
	return 0;
}
