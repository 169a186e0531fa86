/*
 * kv-client — calls a kv-server (kv.proto) through the stubs protoc-c
 * generated and tern_pb.
 *
 *   kv-client [--server HOST:PORT] [--driver udp|dpdk] [--bind IP:PORT] [--eal "ARGS"] COMMAND
 *     put KEY VALUE      VALUE as given, or @FILE for a file's bytes (at most 64 KiB)
 *     get KEY            the value on stdout, as stored (no newline added)
 *     delete KEY
 *     check N            N random values (0..64 KiB) put, read back, deleted, checked
 *
 * Exit: 0 done; 1 the key was not found, or check found a mismatch; 2 bad
 * usage, no connection or a failed call.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, sigaction under -std=c11 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern_pb.h>

#include "kv.h"
#include "kv.pb-c.h"

#define SEC 1000000000ull

static ProtobufCService *kv; /* the KV client: a ProtobufCService on one session */

/* One synchronous call; the reply lives until the next call. */
static int call(enum kv_method m, const ProtobufCMessage *req, void *reply)
{
	struct tern_status st; /* the server's status code and sentence, if it refused */
	int rc = tern_pb_call_sync_status(kv, m, req, (ProtobufCMessage **)reply, NULL, 0, &st);
	if (rc != 0)
		fprintf(stderr, "kv-client: %s failed: %s (%s)\n", kv__kv__descriptor.methods[m].name,
			st.message[0] != '\0' ? st.message : strerror(-rc), tern_status_name(st.code));
	return rc;
}

static int put(const char *key, const void *value, size_t len, int *replaced)
{
	Kv__PutRequest req = KV__PUT_REQUEST__INIT;
	Kv__PutReply *r;
	req.key = (char *)key;
	req.value.data = (uint8_t *)value;
	req.value.len = len;
	int rc = call(KV_PUT, &req.base, &r);
	if (rc == 0 && replaced != NULL)
		*replaced = r->replaced;
	return rc;
}

/* 0 and the reply (found or not), or the call's error. */
static int get(const char *key, Kv__GetReply **r)
{
	Kv__GetRequest req = KV__GET_REQUEST__INIT;
	req.key = (char *)key;
	return call(KV_GET, &req.base, r);
}

static int del(const char *key, int *found)
{
	Kv__DeleteRequest req = KV__DELETE_REQUEST__INIT;
	Kv__DeleteReply *r;
	req.key = (char *)key;
	int rc = call(KV_DELETE, &req.base, &r);
	if (rc == 0)
		*found = r->found;
	return rc;
}

/* @FILE: the file's bytes into buf (KV_VALUE_MAX + 1 bytes, to see "too large"). */
static long read_value(const char *arg, uint8_t *buf)
{
	if (arg[0] != '@') {
		size_t n = strlen(arg);
		memcpy(buf, arg, n < KV_VALUE_MAX + 1 ? n : KV_VALUE_MAX + 1);
		return (long)n;
	}
	FILE *f = fopen(arg + 1, "rb");
	if (f == NULL) {
		perror(arg + 1);
		return -1;
	}
	size_t n = fread(buf, 1, KV_VALUE_MAX + 1, f);
	fclose(f);
	return (long)n;
}

/* Put, get, delete and get again n keys with values of random sizes. */
static int check(unsigned n, uint8_t *buf)
{
	unsigned bad = 0, seed = 1;
	char key[32];
	for (int pass = 0; pass < 4; pass++) {
		srand(seed);
		for (unsigned i = 0; i < n; i++) {
			/* Sizes 0 and 64 KiB always, random in between. */
			size_t len = i == 0 ? 0 : i == 1 ? KV_VALUE_MAX : (size_t)rand() % KV_VALUE_MAX;
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rand();
			snprintf(key, sizeof(key), "key-%u", i);
			Kv__GetReply *g = NULL;
			int found = 0;
			if (pass == 0 && put(key, buf, len, NULL) != 0)
				return 2;
			if ((pass == 1 || pass == 3) && get(key, &g) != 0)
				return 2;
			if (pass == 1 && (!g->found || g->value.len != len ||
					  (len != 0 && memcmp(g->value.data, buf, len) != 0)))
				bad++;
			if (pass == 2 && (del(key, &found) != 0 || !found))
				return 2;
			if (pass == 3 && g->found)
				bad++;
		}
	}
	printf("check: %u puts, %u gets, %u deletes, %u gets after delete: %u mismatches\n", n, n, n,
	       n, bad);
	return bad != 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: kv-client [--server HOST:PORT] [--driver udp|dpdk] [--bind IP:PORT] [--eal \"ARGS\"]\n"
			"                 put KEY VALUE|@FILE | get KEY | delete KEY | check N\n");
	return 2;
}

static void log_stderr(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= TERN_LOG_WARN)
		fprintf(stderr, "kv-client: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"driver", required_argument, NULL, 'd'},
		{"bind", required_argument, NULL, 'b'},
		{"eal", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.busy_poll = 0;
	cfg.log = log_stderr;
	const char *server = "127.0.0.1:" KV_PORT;
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'd': cfg.driver = optarg; break;
		case 'b': cfg.bind = optarg; break;
		case 'e': cfg.eal = optarg; break;
		default: return usage();
		}
	}
	int nargs = argc - optind;
	const char *cmd = nargs > 0 ? argv[optind] : "";
	const char *key = nargs > 1 ? argv[optind + 1] : NULL;
	if (!((strcmp(cmd, "put") == 0 && nargs == 3) ||
	      ((strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0 || strcmp(cmd, "check") == 0) &&
	       nargs == 2)))
		return usage();
	static uint8_t buf[KV_VALUE_MAX + 1];
	long len = 0;
	if (strcmp(cmd, "put") == 0 && (len = read_value(argv[optind + 2], buf)) < 0)
		return 2;
	if (len > (long)KV_VALUE_MAX) {
		fprintf(stderr, "kv-client: value too large: at most %u bytes\n", KV_VALUE_MAX);
		return 2;
	}

	struct tern_ep *ep;
	struct tern_session *s = NULL;
	int rc = tern_ep_create(&cfg, &ep);
	if (rc != 0) {
		fprintf(stderr, "kv-client: cannot create the endpoint: %s\n", strerror(-rc));
		return 2;
	}
	rc = tern_connect(ep, server, &s);
	if (rc == 0)
		rc = tern_session_wait(s, 3 * SEC);
	if (rc == 0)
		rc = tern_pb_client_create(s, &kv__kv__descriptor, KV_BASE_TYPE, &kv);
	if (rc != 0) {
		fprintf(stderr, "kv-client: cannot reach %s: %s\n", server, strerror(-rc));
		tern_ep_destroy(ep);
		return 2;
	}

	int found = 0, replaced = 0;
	Kv__GetReply *g;
	if (strcmp(cmd, "put") == 0) {
		rc = put(key, buf, (size_t)len, &replaced) != 0 ? 2 : 0;
		if (rc == 0)
			printf("put %s: %ld bytes%s\n", key, len, replaced ? " (replaced)" : "");
	} else if (strcmp(cmd, "get") == 0) {
		rc = get(key, &g) != 0 ? 2 : !g->found;
		if (rc == 0)
			fwrite(g->value.data, 1, g->value.len, stdout);
	} else if (strcmp(cmd, "delete") == 0) {
		rc = del(key, &found) != 0 ? 2 : !found;
		if (rc == 0)
			printf("deleted %s\n", key);
	} else {
		char *end;
		unsigned long n = strtoul(key, &end, 10);
		rc = *end != '\0' || n < 2 || n > 100000 ? usage() : check((unsigned)n, buf);
	}
	if (rc == 1 && strcmp(cmd, "check") != 0)
		fprintf(stderr, "kv-client: %s: not found\n", key);
	fflush(stdout);
	tern_pb_client_destroy(kv);
	tern_session_close(s);
	tern_ep_destroy(ep);
	return rc;
}
