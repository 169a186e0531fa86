/*
 * fib-server — serves Fib.Calculate (fib.proto, fib_service.c) over tern.
 *
 *   fib-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal "ARGS"]
 *              [--driver-args K=V,...] [--busy-poll]
 *              [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]
 *
 * --key, --allow, --psk, --protection: authenticated and protected
 * sessions (apps/app.h, docs/security.md).
 *
 * Prints "fib-server: listening on IP:PORT (DRIVER)" once it can take calls,
 * then runs until SIGINT or SIGTERM. By default it sleeps in the driver when
 * idle (busy_poll = 0), leaving the CPU free; --busy-poll spins for latency.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "fib.h"
#include "tern_pb.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fib-server [--bind IP:PORT] [--driver udp|dpdk|loop] [--eal \"ARGS\"]\n"
		   "                  [--driver-args K=V,...] [--busy-poll]\n"
		   "                  [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "  --bind IP:PORT      default 0.0.0.0:31871 (dpdk: this endpoint's own IPv4)\n"
		   APP_HELP_ENDPOINT
		   "  --busy-poll         spin instead of sleeping when idle\n" APP_HELP_SERVER_SEC);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		APP_OPTS_ENDPOINT, APP_OPT_BUSY_POLL, APP_OPTS_SERVER_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	app_init(&app, "fib-server", "0.0.0.0:31871");
	int rc = app_parse(&app, argc, argv, opts, usage);
	if (rc >= 0)
		return rc;

	struct tern_ep *ep;
	if (app_ep_create(&app, &ep) != 0)
		return 2;
	rc = tern_pb_serve(ep, &fib_service.base, FIB_BASE_TYPE, TERN_RRA);
	if (rc != 0) {
		fprintf(stderr, "fib-server: tern_pb_serve: %s\n", strerror(-rc));
		tern_ep_destroy(ep);
		return 2;
	}
	app_serve(&app, ep);
	tern_pb_ep_release(ep);
	tern_ep_destroy(ep);
	return 0;
}
