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
 * it accepts (app.h, docs/security.md).
 *
 * Runs until SIGINT or SIGTERM. By default it sleeps in the driver when idle
 * (busy_poll = 0), leaving the CPU free; --busy-poll spins for latency.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "hello.pb-c.h"
#include "tern_pb.h"

#define HELLO_BASE_TYPE 1 /* Hello's methods are tern request types 1, 2, ...: as the client */

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
		   "                    [--driver-args K=V,...] [--busy-poll] [--no-coalesce-cr]\n"
		   "                    [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "  --bind IP:PORT      default 0.0.0.0:31870 (dpdk: this endpoint's own IPv4)\n"
		   APP_HELP_ENDPOINT
		   "  --busy-poll         spin instead of sleeping when idle\n"
		   "  --no-coalesce-cr    one credit return per request packet, not per run\n"
		   APP_HELP_SERVER_SEC);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		APP_OPTS_ENDPOINT, APP_OPT_BUSY_POLL, APP_OPT_NO_COALESCE_CR, APP_OPTS_SERVER_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	app_init(&app, "hello-server", "0.0.0.0:31870");
	int rc = app_parse(&app, argc, argv, opts, usage);
	if (rc >= 0)
		return rc;

	struct tern_ep *ep;
	if (app_ep_create(&app, &ep) != 0)
		return 2;
	rc = tern_pb_serve(ep, &hello_service.base, HELLO_BASE_TYPE, TERN_RRA);
	if (rc != 0) {
		fprintf(stderr, "hello-server: tern_pb_serve: %s\n", strerror(-rc));
		tern_ep_destroy(ep);
		return 2;
	}
	app_serve(&app, ep);
	tern_pb_ep_release(ep);
	tern_ep_destroy(ep);
	return 0;
}
