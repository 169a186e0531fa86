/*
 * blkstore-server — exports a file or block device over tern (blkstore.proto
 * and the raw data path of blkstore.h), disk I/O through io_uring in the
 * same poll loop as the endpoint.
 *
 *   blkstore-server --file PATH [--bind IP:PORT] [--size BYTES] [--create]
 *                   [--buffered] [--driver udp|dpdk|loop] [--eal "ARGS"]
 *                   [--driver-args K=V,...] [--faults SPEC] [--busy-poll]
 *                   [--depth N] [--buf-mem BYTES] [--quiet]
 *                   [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]
 *
 * --size sets a file's length (sparse; it truncates a longer file) or
 * limits how much of a device is exported; --create creates a missing file.
 * O_DIRECT is used when the file system supports it, unless --buffered.
 * Prints "blkstore-server: listening on IP:PORT (DRIVER) ..." once it takes
 * calls, runs until SIGINT or SIGTERM, then answers what is in flight and
 * prints its counters on stderr. Sleeps when idle unless --busy-poll.
 * --key, --allow, --psk, --protection: authenticated and protected
 * sessions (apps/app.h, docs/security.md).
 * Exit: 0 after a signal; 2 bad usage or cannot start.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "blkstore.h"
#include "disk.h"
#include "server.h"
#include "tern_pb.h"
#include "util.h"

#define IDLE_WAIT_NS 100000000ull /* idle sleep, at most; then look at the signal flag */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkstore-server --file PATH [--bind IP:PORT] [--size BYTES] [--create]\n"
		"                       [--buffered] [--driver udp|dpdk|loop] [--eal \"ARGS\"]\n"
		"                       [--driver-args K=V,...] [--faults SPEC] [--busy-poll]\n"
		"                       [--depth N] [--buf-mem BYTES] [--quiet]\n"
		"                       [--key FILE [--allow FILE]] [--psk FILE] [--protection LEVEL]\n"
		"  --bind IP:PORT      default 0.0.0.0:31872 (dpdk: this endpoint's own IPv4)\n"
		APP_HELP_ENDPOINT
		"  BYTES take K, M, G, T suffixes\n" APP_HELP_SERVER_SEC);
}

static void print_counters(const struct blks_counters *c, struct tern_ep *ep)
{
	struct tern_stats ts;
	memset(&ts, 0, sizeof(ts));
	(void)tern_ep_stats(ep, &ts);
	fprintf(stderr,
		"blkstore-server: reads %" PRIu64 " (%" PRIu64 " B), writes received %" PRIu64
		" applied %" PRIu64 " (%" PRIu64 " B) failed %" PRIu64 ", flushes %" PRIu64
		", discards %" PRIu64 "\n"
		"blkstore-server: errors: inval %" PRIu64 " proto %" PRIu64 " nospc %" PRIu64
		" io %" PRIu64 " nomem %" PRIu64 " other %" PRIu64 "; short %" PRIu64
		", bounce %" PRIu64 " B; tern: executed %" PRIu64 " dup %" PRIu64 "\n",
		c->reads, c->read_bytes, c->writes_received, c->writes_applied, c->write_bytes,
		c->writes_failed, c->flushes, c->discards, c->err_inval, c->err_proto, c->err_nospc,
		c->err_io, c->err_nomem, c->err_other, c->short_ios, c->bounce_bytes,
		ts.requests_executed, ts.requests_dup);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"size", required_argument, NULL, 's'},
		{"create", no_argument, NULL, 'c'},
		{"buffered", no_argument, NULL, 'B'},
		{"depth", required_argument, NULL, 'D'},
		{"buf-mem", required_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		APP_OPTS_ENDPOINT, APP_OPT_FAULTS, APP_OPT_BUSY_POLL, APP_OPTS_SERVER_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	app_init(&app, "blkstore-server", "0.0.0.0:31872");
	struct tern_ep_config *cfg = &app.cfg;
	/* A session gets the smaller of both ends' slots and credits: offer
	 * tern's maximum, so a client's queue depth is its own choice. */
	cfg->slots = 64;
	cfg->credits = 64;
	struct disk_opts dopt = {0};
	struct blks_server_opts sopt = {0};
	int quiet = 0, c, sf;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((sf = app_option(&app, c, optarg)) != 0) {
			if (sf < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 'f': dopt.path = optarg; break;
		case 's':
			if (parse_size(optarg, &dopt.size) != 0 || dopt.size == 0) {
				fprintf(stderr, "blkstore-server: bad --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c': dopt.create = 1; break;
		case 'B': dopt.buffered = 1; break;
		case 'D':
			if (parse_size(optarg, &v) != 0 || v == 0 || v > 4096) {
				fprintf(stderr, "blkstore-server: bad --depth '%s' (1..4096)\n", optarg);
				return 2;
			}
			dopt.depth = (unsigned)v;
			break;
		case 'm':
			if (parse_size(optarg, &sopt.buf_mem) != 0) {
				fprintf(stderr, "blkstore-server: bad --buf-mem '%s'\n", optarg);
				return 2;
			}
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || dopt.path == NULL) {
		usage(stderr);
		return 2;
	}

	struct disk d;
	char why[256];
	int rc = disk_open(&d, &dopt, why, sizeof(why));
	if (rc != 0) {
		fprintf(stderr, "blkstore-server: %s\n", why);
		return 2;
	}
	/* Every executing request has an io of the server's: the same limit. */
	sopt.max_requests = cfg->server_queue_limit;
	sopt.busy_poll = (int)cfg->busy_poll;
	sopt.driver_sleeps = cfg->driver == NULL || strcmp(cfg->driver, "dpdk") != 0;
	struct tern_ep *ep;
	if (app_ep_create(&app, &ep) != 0) {
		disk_close(&d);
		return 2;
	}
	struct blks_server *srv;
	rc = blks_server_create(ep, &d, &sopt, &srv);
	if (rc != 0) {
		fprintf(stderr, "blkstore-server: cannot serve: %s\n", strerror(-rc));
		tern_ep_destroy(ep);
		disk_close(&d);
		return 2;
	}
	app_catch_signals();

	char addr[64];
	printf("blkstore-server: listening on %s (%s), exporting %s: %" PRIu64 " bytes, %s%s\n",
	       tern_ep_addr(ep, addr, sizeof(addr)), cfg->driver != NULL ? cfg->driver : "udp",
	       dopt.path, d.size, d.direct ? "O_DIRECT" : "buffered",
	       d.blkdev ? ", block device" : "");
	fflush(stdout);
	while (!app_stopping()) {
		rc = blks_server_run_once(srv, IDLE_WAIT_NS);
		if (rc < 0) {
			fprintf(stderr, "blkstore-server: poll: %s\n", strerror(-rc));
			break;
		}
	}
	struct blks_counters cnt;
	blks_server_counters(srv, &cnt);
	blks_server_destroy(srv);
	if (!quiet)
		print_counters(&cnt, ep);
	tern_ep_destroy(ep);
	disk_close(&d);
	return rc < 0 ? 1 : 0;
}
