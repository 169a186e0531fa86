/*
 * kv-server — an in-memory key-value store served over tern with tern_pb:
 * the KV service of kv.proto (Put, Get, Delete; values up to 64 KiB).
 *
 *   kv-server [--bind IP:PORT] [--driver udp|dpdk] [--eal "ARGS"]
 *
 * Prints "kv-server: listening on IP:PORT" once it takes calls; runs until
 * SIGINT or SIGTERM. A tern application in one thread: the handlers run
 * inside tern_poll() and answer at once.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, sigaction under -std=c11 */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern_pb.h>

#include "kv.h"
#include "kv.pb-c.h"

#define BUCKETS 4096u

struct entry {
	struct entry *next;
	char *key;
	size_t len;
	uint8_t value[]; /* len bytes */
};

static struct entry *table[BUCKETS];
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct entry **find(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct entry **e = &table[h % BUCKETS];
	while (*e != NULL && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e; /* the entry, or where it would go */
}

/* The handlers: protoc-c's signatures. A refusal is a status code and a
 * sentence (tern_pb_respond_status(), instead of the closure), which the
 * client sees as such; closure(NULL) would fail the call with no reason
 * (TERN_PB_EHANDLER). */
static void kv_put(Kv__KV_Service *svc, const Kv__PutRequest *req, Kv__PutReply_Closure closure,
		   void *closure_data)
{
	(void)svc;
	Kv__PutReply reply = KV__PUT_REPLY__INIT;
	if (strlen(req->key) > KV_KEY_MAX) {
		(void)tern_pb_respond_status(closure_data, TERN_STATUS_INVALID_ARGUMENT, "key too long");
		return;
	}
	if (req->value.len > KV_VALUE_MAX) {
		(void)tern_pb_respond_status(closure_data, TERN_STATUS_INVALID_ARGUMENT,
					     "value too large");
		return;
	}
	struct entry *n = malloc(sizeof(*n) + req->value.len);
	char *key = strdup(req->key);
	if (n == NULL || key == NULL) {
		free(n);
		free(key);
		(void)tern_pb_respond_status(closure_data, TERN_STATUS_RESOURCE_EXHAUSTED,
					     "the server is out of memory");
		return;
	}
	struct entry **e = find(req->key);
	n->key = key;
	n->len = req->value.len;
	if (n->len != 0)
		memcpy(n->value, req->value.data, n->len);
	n->next = NULL;
	if (*e != NULL) { /* replace */
		n->next = (*e)->next;
		free((*e)->key);
		free(*e);
		reply.replaced = 1;
	}
	*e = n;
	closure(&reply, closure_data);
}

static void kv_get(Kv__KV_Service *svc, const Kv__GetRequest *req, Kv__GetReply_Closure closure,
		   void *closure_data)
{
	(void)svc;
	Kv__GetReply reply = KV__GET_REPLY__INIT;
	struct entry *e = *find(req->key);
	if (e != NULL) {
		reply.found = 1;
		reply.value.data = e->value; /* packed into the response by the closure: no copy kept */
		reply.value.len = e->len;
	}
	closure(&reply, closure_data);
}

static void kv_delete(Kv__KV_Service *svc, const Kv__DeleteRequest *req,
		      Kv__DeleteReply_Closure closure, void *closure_data)
{
	(void)svc;
	Kv__DeleteReply reply = KV__DELETE_REPLY__INIT;
	struct entry **e = find(req->key);
	if (*e != NULL) {
		struct entry *gone = *e;
		*e = gone->next;
		free(gone->key);
		free(gone);
		reply.found = 1;
	}
	closure(&reply, closure_data);
}

static Kv__KV_Service kv_service = KV__KV__INIT(kv_);

static void log_stderr(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= TERN_LOG_WARN)
		fprintf(stderr, "kv-server: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bind", required_argument, NULL, 'b'},
		{"driver", required_argument, NULL, 'd'},
		{"eal", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.bind = "0.0.0.0:" KV_PORT;
	cfg.busy_poll = 0; /* sleep in the driver when idle */
	cfg.log = log_stderr;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': cfg.bind = optarg; break;
		case 'd': cfg.driver = optarg; break;
		case 'e': cfg.eal = optarg; break;
		default:
			fprintf(stderr, "usage: kv-server [--bind IP:PORT] [--driver udp|dpdk] [--eal \"ARGS\"]\n");
			return 2;
		}
	}

	struct tern_ep *ep;
	int rc = tern_ep_create(&cfg, &ep);
	if (rc == 0 && (rc = tern_pb_serve(ep, &kv_service.base, KV_BASE_TYPE, TERN_RRA)) != 0)
		tern_ep_destroy(ep);
	if (rc != 0) {
		fprintf(stderr, "kv-server: cannot serve on %s: %s\n", cfg.bind, strerror(-rc));
		return 2;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	char addr[64];
	printf("kv-server: listening on %s\n", tern_ep_addr(ep, addr, sizeof(addr)));
	fflush(stdout);
	while (!stop)
		tern_poll_wait(ep, 100 * 1000 * 1000); /* at most 100 ms, then look at stop */

	tern_pb_ep_release(ep);
	tern_ep_destroy(ep);
	for (unsigned i = 0; i < BUCKETS; i++)
		while (table[i] != NULL) {
			struct entry *e = table[i];
			table[i] = e->next;
			free(e->key);
			free(e);
		}
	return 0;
}
