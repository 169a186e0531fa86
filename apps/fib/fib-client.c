/*
 * fib-client — asks a fib-server for Fibonacci numbers, one line each.
 *
 *   fib-client --server HOST:PORT [--driver udp|dpdk|loop] [--bind IP:PORT]
 *              [--eal "ARGS"] [--driver-args K=V,...] [--timeout-ms N]
 *              [--peer-key FILE [--key FILE]] [--psk FILE] [--protection LEVEL] N...
 *
 * --peer-key, --key, --psk, --protection: authenticated and protected
 * sessions (apps/app.h, docs/security.md).
 *
 * HOST is an IP or a host name (/etc/hosts, DNS). N may be negative (the
 * server refuses it; "-5" is taken as N, not as an option). Prints fib(N)
 * for each N, or the server's reason on stderr.
 * Exit: 0 every N answered; 1 some call failed or was refused; 2 bad usage
 * (including an N that is not a 64-bit integer) or no connection.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fib.h"
#include "tern_pb.h"

#define SEC 1000000000ull
#define MS  1000000ull

static void usage(FILE *f)
{
	fprintf(f, "usage: fib-client --server HOST:PORT [--driver udp|dpdk|loop] [--bind IP:PORT]\n"
		   "                  [--eal \"ARGS\"] [--driver-args K=V,...] [--timeout-ms N]\n"
		   "                  [--peer-key FILE [--key FILE]] [--psk FILE] [--protection LEVEL]\n"
		   "                  N...\n"
		   "  --server HOST:PORT  the fib-server\n"
		   "  --bind IP:PORT      default: an ephemeral port (dpdk: required, its own IPv4)\n"
		   APP_HELP_ENDPOINT
		   "  --timeout-ms N      connect and call deadline (default 5000)\n"
		   APP_HELP_CLIENT_SEC);
}

/* A whole decimal int64, optional sign, nothing else. */
static int parse_n(const char *s, int64_t *n)
{
	const char *d = s + (s[0] == '-' || s[0] == '+');
	if (!isdigit((unsigned char)*d))
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return errno == ERANGE ? -ERANGE : -EINVAL;
	*n = v;
	return 0;
}

/* getopt would take "-5" for an option: put "--" before the first
 * negative-number operand (options must come before operands). */
static char **with_dashdash(int *argc, char **argv)
{
	static const char *takes_arg[] = {"--server", "--bind", "--driver", "--eal",
					  "--driver-args", "--timeout-ms", "--key", "--peer-key",
					  "--psk", "--protection"};
	static char **out; /* static: lives as long as argv */
	out = calloc((size_t)*argc + 2, sizeof(*out));
	if (out == NULL)
		return argv;
	int j = 0, done = 0;
	for (int i = 0; i < *argc; i++) {
		int is_value = 0;
		for (size_t k = 0; i > 0 && k < sizeof(takes_arg) / sizeof(takes_arg[0]); k++)
			is_value |= strcmp(argv[i - 1], takes_arg[k]) == 0;
		if (strcmp(argv[i], "--") == 0)
			done = 1;
		if (!done && i > 0 && !is_value && argv[i][0] == '-' && isdigit((unsigned char)argv[i][1])) {
			out[j++] = "--";
			done = 1;
		}
		out[j++] = argv[i];
	}
	*argc = j;
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"timeout-ms", required_argument, NULL, 't'},
		APP_OPTS_ENDPOINT, APP_OPTS_CLIENT_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	app_init(&app, "fib-client", NULL);
	const char *server = NULL;
	uint64_t timeout_ns = 5 * SEC;
	argv = with_dashdash(&argc, argv);
	int c, sf;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		int64_t ms;
		if ((sf = app_option(&app, c, optarg)) != 0) {
			if (sf < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 's': server = optarg; break;
		case 't':
			if (parse_n(optarg, &ms) != 0 || ms <= 0) {
				fprintf(stderr, "fib-client: bad --timeout-ms '%s'\n", optarg);
				return 2;
			}
			timeout_ns = (uint64_t)ms * MS;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (server == NULL || optind == argc) {
		usage(stderr);
		return 2;
	}
	/* Every N is checked before anything is sent. */
	int count = argc - optind;
	int64_t *ns = calloc((size_t)count, sizeof(*ns));
	if (ns == NULL)
		return 2;
	for (int i = 0; i < count; i++) {
		int rc = parse_n(argv[optind + i], &ns[i]);
		if (rc != 0) {
			fprintf(stderr, "fib-client: '%s' is not %s\n", argv[optind + i],
				rc == -ERANGE ? "a 64-bit integer (too large)" : "an integer");
			free(ns);
			return 2;
		}
	}

	struct tern_ep *ep;
	struct tern_session *s;
	ProtobufCService *fib;
	app.cfg.call_timeout_ns = timeout_ns;
	app.cfg.connect_timeout_ns = timeout_ns;
	if (app_ep_create(&app, &ep) != 0) {
		free(ns);
		return 2;
	}
	int rc = app_connect(&app, ep, server, timeout_ns, &s);
	if (rc == 0) {
		rc = tern_pb_client_create(s, &fib__fib__descriptor, FIB_BASE_TYPE, &fib);
		if (rc != 0) {
			fprintf(stderr, "fib-client: tern_pb_client_create: %s\n", strerror(-rc));
			tern_session_close(s);
		}
	}
	if (rc != 0) {
		tern_ep_destroy(ep);
		free(ns);
		return 2;
	}

	int failed = 0;
	for (int i = 0; i < count; i++) {
		Fib__CalculateRequest req = FIB__CALCULATE_REQUEST__INIT;
		Fib__CalculateReply *reply;
		req.n = ns[i];
		struct tern_status st;
		/* Method 0 is Calculate. The reply lives until the next call. */
		rc = tern_pb_call_sync_status(fib, 0, &req.base, (ProtobufCMessage **)&reply, NULL, 0,
					      &st);
		if (rc != 0 && st.message[0] != '\0') {
			fprintf(stderr, "fib-client: fib(%" PRId64 "): server says: %s (%s)\n", ns[i],
				st.message, tern_status_name(st.code));
			failed = 1;
		} else if (rc != 0) {
			fprintf(stderr, "fib-client: fib(%" PRId64 "): call failed: %s (%s)\n", ns[i],
				strerror(-rc), tern_status_name(st.code));
			failed = 1;
		} else {
			printf("%" PRIu64 "\n", reply->value);
		}
	}
	fflush(stdout);
	tern_pb_client_destroy(fib);
	tern_session_close(s);
	tern_ep_destroy(ep);
	free(ns);
	return failed;
}
