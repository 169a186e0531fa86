/*
 * hello-client — the smallest complete tern_pb client: sends its text to
 * Hello.Echo (see hello.proto) through the stub protoc-c generated, and
 * prints the reply.
 *
 *   hello-client --server HOST:PORT [--driver udp|dpdk|loop] [--bind IP:PORT]
 *                [--eal "ARGS"] [--driver-args K=V,...]
 *                [--peer-key FILE [--key FILE]] [--psk FILE] [--protection LEVEL] TEXT
 *
 * --peer-key pins the server's public key: the handshake authenticates it,
 * and --protection integrity|privacy protects the session (app.h).
 *
 * Exit: 0 ok, 1 the call failed, 2 bad usage or no connection.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "hello.pb-c.h"
#include "tern_pb.h"

#define HELLO_BASE_TYPE 1 /* Hello's methods are tern request types 1, 2, ...: as the server */
#define SEC 1000000000ull
#define PENDING 1         /* status while no reply has come */

/* The closure: runs once, inside tern_poll(), with the reply or NULL. */
static void on_reply(const Hello__EchoReply *reply, void *closure_data)
{
	int *status = closure_data;
	*status = tern_pb_last_status();
	if (reply != NULL)
		printf("%s\n", reply->text);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hello-client --server HOST:PORT [--driver udp|dpdk|loop] [--bind IP:PORT]\n"
		   "                    [--eal \"ARGS\"] [--driver-args K=V,...]\n"
		   "                    [--peer-key FILE [--key FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "                    TEXT\n"
		   "  --server HOST:PORT  the hello-server\n"
		   "  --bind IP:PORT      default: an ephemeral port (dpdk: required, its own IPv4)\n"
		   APP_HELP_ENDPOINT APP_HELP_CLIENT_SEC);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		APP_OPTS_ENDPOINT, APP_OPTS_CLIENT_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	app_init(&app, "hello-client", NULL);
	const char *server = NULL;
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((rc = app_option(&app, c, optarg)) != 0) {
			if (rc < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 's': server = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (server == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}

	struct tern_ep *ep;
	struct tern_session *s;
	ProtobufCService *hello;
	if (app_ep_create(&app, &ep) != 0)
		return 2;
	rc = app_connect(&app, ep, server, 3 * SEC, &s);
	if (rc == 0) {
		rc = tern_pb_client_create(s, &hello__hello__descriptor, HELLO_BASE_TYPE, &hello);
		if (rc != 0) {
			fprintf(stderr, "hello-client: tern_pb_client_create: %s\n", strerror(-rc));
			tern_session_close(s);
		}
	}
	if (rc != 0) {
		tern_ep_destroy(ep);
		return 2;
	}

	Hello__EchoRequest req = HELLO__ECHO_REQUEST__INIT;
	req.text = argv[optind];
	int status = PENDING;
	hello__hello__echo(hello, &req, on_reply, &status);
	while (status == PENDING) /* bounded: the call's deadline ends it */
		(void)tern_poll_wait(ep, SEC);
	if (status != 0)
		fprintf(stderr, "hello-client: Hello.Echo failed: %s\n", strerror(-status));

	tern_pb_client_destroy(hello);
	tern_session_close(s);
	tern_ep_destroy(ep);
	return status == 0 ? 0 : 1;
}
