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
 * and --protection integrity|privacy protects the session (secflags.h).
 *
 * Exit: 0 ok, 1 the call failed, 2 bad usage or no connection.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hello.pb-c.h"
#include "secflags.h"
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
		   "                    TEXT\n" SECFLAGS_HELP_CLIENT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"bind", required_argument, NULL, 'b'},
		{"driver", required_argument, NULL, 'd'},
		{"eal", required_argument, NULL, 'e'},
		{"driver-args", required_argument, NULL, 'a'},
		SECFLAG_PEER_KEY, SECFLAG_KEY, SECFLAG_PSK, SECFLAG_PROTECTION,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.busy_poll = 0;
	cfg.log = secflags_log;
	cfg.log_ctx = (void *)"hello-client";
	const char *server = NULL;
	int c, sf;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((sf = secflags_apply(c, optarg, &cfg, "hello-client")) != 0) {
			if (sf < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 's': server = optarg; break;
		case 'b': cfg.bind = optarg; break;
		case 'd': cfg.driver = optarg; break;
		case 'e': cfg.eal = optarg; break;
		case 'a': cfg.driver_args = optarg; break;
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
	int rc = tern_ep_create(&cfg, &ep);
	if (rc != 0) {
		fprintf(stderr, "hello-client: cannot open %s: %s\n", cfg.driver, strerror(-rc));
		return 2;
	}
	rc = tern_connect(ep, server, &s);
	if (rc == 0)
		rc = tern_session_wait(s, 3 * SEC);
	if (rc == 0)
		rc = tern_pb_client_create(s, &hello__hello__descriptor, HELLO_BASE_TYPE, &hello);
	if (rc != 0) {
		fprintf(stderr, "hello-client: cannot reach %s: %s%s\n", server, strerror(-rc),
			secflags_hint(rc));
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
