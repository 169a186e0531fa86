/*
 * fib-server — serves Fib.Calculate (fib.proto, fib_service.c) over tern.
 *
 *   fib-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal "ARGS"]
 *              [--driver-args K=V,...] [--busy-poll]
 *              [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]
 *
 * --key, --allow, --psk, --protection: authenticated and protected
 * sessions (apps/secflags.h, README "Security").
 *
 * Prints "fib-server: listening on IP:PORT (DRIVER)" once it can take calls,
 * then runs until SIGINT or SIGTERM. By default it sleeps in the driver when
 * idle (busy_poll = 0), leaving the CPU free; --busy-poll spins for latency.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fib.h"
#include "secflags.h"
#include "tern_pb.h"

#define WAIT_NS 100000000ull /* idle sleep, at most; then look at the signal flag */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fib-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal \"ARGS\"]\n"
		   "                  [--driver-args K=V,...] [--busy-poll]\n"
		   "                  [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "  default bind 0.0.0.0:31871, driver udp; dpdk needs --bind with its IP\n"
		   SECFLAGS_HELP_SERVER);
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
	cfg.bind = "0.0.0.0:31871";
	cfg.busy_poll = 0;
	cfg.log = secflags_log;
	cfg.log_ctx = (void *)"fib-server";
	int c, sf;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((sf = secflags_apply(c, optarg, &cfg, "fib-server")) != 0) {
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
		fprintf(stderr, "fib-server: cannot open %s on %s: %s\n", cfg.driver, cfg.bind,
			strerror(-rc));
		if (rc == -ENOENT)
			fprintf(stderr, "fib-server: drivers built into libtern: %s\n", tern_drivers());
		return 2;
	}
	rc = tern_pb_serve(ep, &fib_service.base, FIB_BASE_TYPE, TERN_RRA);
	if (rc != 0) {
		fprintf(stderr, "fib-server: tern_pb_serve: %s\n", strerror(-rc));
		tern_ep_destroy(ep);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char addr[64];
	printf("fib-server: listening on %s (%s)\n", tern_ep_addr(ep, addr, sizeof(addr)),
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
