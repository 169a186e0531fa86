/*
 * blkstore-cli — talk to a blkstore-server; and benchmark it against local
 * io_uring on the same file.
 *
 *   blkstore-cli [GLOBAL OPTIONS] COMMAND [ARGS]
 *
 *   read OFFSET LENGTH [--check-pattern SEED]   data to stdout (or verified)
 *   write OFFSET [--pattern SEED --length N] [--fua] [--pad]
 *                                               data from stdin (or a pattern)
 *   discard OFFSET LENGTH
 *   flush
 *   stat                                        size, mode, counters
 *   bench [--qd N] [--duration S] [--warmup S] [--rw read|write|mix]
 *         [--mix-read PCT] [--bs BYTES] [--range BYTES] [--seed N]
 *         [--local PATH] [--buffered] [--rounds N]
 *
 * Global options: --server HOST:PORT, --driver udp|dpdk|loop, --bind
 * IP:PORT, --eal "ARGS", --driver-args K=V,..., --faults SPEC, --busy-poll,
 * --timeout-ms N (per call and for connecting; default 10000), --pb (Read
 * and Write through the protobuf methods), --rto-min-us N, --slots N and
 * --credits N (calls and packets in flight per session; default 64, the
 * slots' maximum; credits go to 256, a session gets the smaller of both
 * sides'), --json; and --peer-key FILE, --key FILE, --psk FILE,
 * --protection LEVEL for authenticated and protected sessions
 * (apps/app.h, docs/security.md).
 *
 * Numbers take K, M, G, T suffixes (binary). Offsets and lengths must be
 * multiples of 4096; reads and writes longer than 1 MiB are split into
 * 1 MiB calls. A pattern is position-dependent: the 8-byte word at byte
 * offset A of the export is splitmix64(SEED + A), so any range of a
 * pattern write can be checked on its own (read --check-pattern).
 *
 * bench runs a closed loop of --qd random --bs I/Os (default 4 KiB reads,
 * qd 1, 5 s after 1 s of warm-up) against the server, or with --local PATH
 * against the file through io_uring in this process, opened as the server
 * opens it (O_DIRECT when possible). With both, runs alternate remote,
 * local, remote, local ... (--rounds pairs, default 2), then one summary
 * line each. Progress on stderr about once a second; results on stdout,
 * one JSON object per line with --json.
 *
 * Exit: 0 done; 1 a call failed or a check did not hold; 2 bad usage or
 * cannot reach the server.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "blkstore.h"
#include "blkstore_client.h"
#include "app.h"
#include "util.h"

#define MS  1000000ull
#define EXIT_USAGE  2 /* commands return it for bad arguments: usage follows */
#define EXIT_NOCONN 3 /* no connection: exit 2 too, without the usage */
#define MIB (1u << 20)

struct gopts {
	const char *server;
	struct app app;
	uint64_t timeout_ns;
	int pb, json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkstore-cli [--server HOST:PORT] [--driver udp|dpdk|loop] [--bind IP:PORT]\n"
		"                    [--eal \"ARGS\"] [--driver-args K=V,...] [--faults SPEC]\n"
		"                    [--busy-poll] [--timeout-ms N] [--rto-min-us N] [--slots N]\n"
		"                    [--credits N] [--pb] [--json]\n"
		"                    [--peer-key FILE [--key FILE]] [--psk FILE] [--protection LEVEL]\n"
		"                    COMMAND [ARGS]\n"
		"commands:\n"
		"  read OFFSET LENGTH [--check-pattern SEED]     data to stdout\n"
		"  write OFFSET [--pattern SEED --length N] [--fua] [--pad]   data from stdin\n"
		"  discard OFFSET LENGTH\n"
		"  flush\n"
		"  stat\n"
		"  bench [--qd N] [--duration S] [--warmup S] [--rw read|write|mix] [--mix-read PCT]\n"
		"        [--bs BYTES] [--range BYTES] [--seed N] [--local PATH] [--buffered] [--rounds N]\n"
		APP_HELP_CLIENT_SEC);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The pattern of [off, off + len) (off and len multiples of 8). */
static void pattern(uint8_t *p, uint64_t off, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = splitmix64(seed + off + i);
		memcpy(p + i, &w, 8);
	}
}

static int num_arg(const char *what, const char *s, uint64_t *out)
{
	int rc = parse_size(s, out);
	if (rc != 0)
		fprintf(stderr, "blkstore-cli: bad %s '%s'\n", what, s);
	if (rc == EXIT_USAGE)
		usage(stderr);
	return rc == EXIT_NOCONN ? 2 : rc;
}

/* --- connecting ---------------------------------------------------------- */

static int connect_client(struct gopts *g, struct tern_ep **ep, struct tern_session **s,
			  struct blkstore_client **c)
{
	if (g->server == NULL) {
		fprintf(stderr, "blkstore-cli: --server is needed\n");
		return EXIT_NOCONN;
	}
	g->app.cfg.call_timeout_ns = g->timeout_ns;
	g->app.cfg.connect_timeout_ns = g->timeout_ns;
	if (app_ep_create(&g->app, ep) != 0)
		return EXIT_NOCONN;
	int rc = app_connect(&g->app, *ep, g->server, g->timeout_ns, s);
	if (rc == 0) {
		rc = blkstore_client_create(*s, g->pb ? BLKSTORE_CLIENT_PB : 0, c);
		if (rc != 0) {
			fprintf(stderr, "blkstore-cli: blkstore_client_create: %s\n", strerror(-rc));
			tern_session_close(*s);
		}
	}
	if (rc != 0) {
		tern_ep_destroy(*ep);
		return EXIT_NOCONN;
	}
	blkstore_client_set_timeout(*c, g->timeout_ns);
	return 0;
}

static int call_failed(const char *what, uint64_t off, int rc)
{
	const char *why = blkstore_last_message();
	fprintf(stderr, "blkstore-cli: %s at %" PRIu64 ": %s%s%s\n", what, off, strerror(-rc),
		why[0] != '\0' ? ": " : "", why);
	return 1;
}

/* --- commands ------------------------------------------------------------ */

static int cmd_read(struct blkstore_client *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"check-pattern", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	uint64_t seed = 0, off, len;
	int check = 0, o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'p' || num_arg("--check-pattern", optarg, &seed) != 0)
			return 2;
		check = 1;
	}
	if (argc - optind != 2 || num_arg("OFFSET", argv[optind], &off) != 0 ||
	    num_arg("LENGTH", argv[optind + 1], &len) != 0)
		return EXIT_USAGE;
	if (c == NULL)
		return 0; /* arguments checked, nothing to do yet */
	uint8_t *buf = malloc(MIB), *want = check ? malloc(MIB) : NULL;
	if (buf == NULL || (check && want == NULL))
		return 2;
	int rc = 0, bad = 0;
	for (uint64_t done = 0; done < len || len == 0;) {
		uint32_t n = len - done < MIB ? (uint32_t)(len - done) : MIB;
		rc = blkstore_read_sync(c, off + done, buf, n);
		if (rc != 0) {
			rc = call_failed("read", off + done, rc);
			break;
		}
		if (check) {
			pattern(want, off + done, n, seed);
			for (uint32_t i = 0; i < n && !bad; i += 4096) {
				if (memcmp(buf + i, want + i, 4096) != 0) {
					fprintf(stderr, "blkstore-cli: block at %" PRIu64
						" differs from pattern %" PRIu64 "\n", off + done + i, seed);
					bad = 1;
				}
			}
		} else if (fwrite(buf, 1, n, stdout) != n) {
			perror("blkstore-cli: stdout");
			rc = 1;
			break;
		}
		done += n;
		if (len == 0)
			break;
	}
	free(buf);
	free(want);
	if (check && rc == 0 && !bad)
		fprintf(stderr, "blkstore-cli: %" PRIu64 " bytes at %" PRIu64 " match pattern %" PRIu64 "\n",
			len, off, seed);
	return rc != 0 ? rc : bad;
}

/* Read up to n bytes of stdin (fewer only at end of input). */
static size_t read_in(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		size_t r = fread(p + got, 1, n - got, stdin);
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static int cmd_write(struct blkstore_client *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"pattern", required_argument, NULL, 'p'},
		{"length", required_argument, NULL, 'l'},
		{"fua", no_argument, NULL, 'f'},
		{"pad", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	uint64_t seed = 0, len = 0, off;
	int use_pattern = 0, have_len = 0, pad = 0, o;
	unsigned flags = 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			if (num_arg("--pattern", optarg, &seed) != 0)
				return 2;
			use_pattern = 1;
			break;
		case 'l':
			if (num_arg("--length", optarg, &len) != 0)
				return 2;
			have_len = 1;
			break;
		case 'f': flags |= BLKSTORE_WRITE_FUA; break;
		case 'P': pad = 1; break;
		default: return 2;
		}
	}
	if (argc - optind != 1 || num_arg("OFFSET", argv[optind], &off) != 0)
		return 2;
	if (use_pattern != have_len) {
		fprintf(stderr, "blkstore-cli: --pattern and --length go together\n");
		return EXIT_USAGE;
	}
	if (c == NULL)
		return 0;
	uint8_t *buf = malloc(MIB);
	if (buf == NULL)
		return 2;
	uint64_t done = 0;
	int rc = 0;
	for (;;) {
		size_t n;
		if (use_pattern) {
			if (done >= len)
				break;
			n = len - done < MIB ? (size_t)(len - done) : MIB;
			pattern(buf, off + done, n, seed);
		} else {
			n = read_in(buf, MIB);
			if (n == 0)
				break;
			if (n % BLKSTORE_BLOCK != 0) {
				if (!pad) {
					fprintf(stderr, "blkstore-cli: input is not a multiple of %u bytes "
						"(%" PRIu64 " + %zu); --pad fills with zeros\n",
						BLKSTORE_BLOCK, done, n);
					rc = 1;
					break;
				}
				size_t up = (n + BLKSTORE_BLOCK - 1) / BLKSTORE_BLOCK * BLKSTORE_BLOCK;
				memset(buf + n, 0, up - n);
				n = up;
			}
		}
		rc = blkstore_write_sync(c, off + done, buf, (uint32_t)n, flags);
		if (rc != 0) {
			rc = call_failed("write", off + done, rc);
			break;
		}
		done += n;
		if (!use_pattern && n < MIB)
			break;
	}
	free(buf);
	if (rc == 0)
		fprintf(stderr, "blkstore-cli: wrote %" PRIu64 " bytes at %" PRIu64 "\n", done, off);
	if (rc == EXIT_USAGE)
		usage(stderr);
	return rc == EXIT_NOCONN ? 2 : rc;
}

static int cmd_discard(struct blkstore_client *c, int argc, char **argv)
{
	uint64_t off, len;
	if (argc != 3 || num_arg("OFFSET", argv[1], &off) != 0 || num_arg("LENGTH", argv[2], &len) != 0)
		return EXIT_USAGE;
	if (c == NULL)
		return 0;
	int rc = blkstore_discard_sync(c, off, len);
	return rc != 0 ? call_failed("discard", off, rc) : 0;
}

static int cmd_flush(struct blkstore_client *c, int argc)
{
	if (argc != 1)
		return EXIT_USAGE;
	if (c == NULL)
		return 0;
	int rc = blkstore_flush_sync(c);
	return rc != 0 ? call_failed("flush", 0, rc) : 0;
}

static int cmd_stat(struct blkstore_client *c, int argc, int json)
{
	if (argc != 1)
		return EXIT_USAGE;
	if (c == NULL)
		return 0;
	struct blkstore_stat st;
	int rc = blkstore_stat_sync(c, &st);
	if (rc != 0)
		return call_failed("stat", 0, rc);
#define F(name) #name, st.name
	if (json) {
		printf("{\"size\":%" PRIu64 ",\"block_size\":%u,\"max_io\":%u,\"direct_io\":%s,"
		       "\"block_device\":%s,\"discard_zeroes\":%s",
		       st.size, st.block_size, st.max_io, st.direct_io ? "true" : "false",
		       st.block_device ? "true" : "false", st.discard_zeroes ? "true" : "false");
		printf(",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64
		       ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64
		       ",\"%s\":%" PRIu64,
		       F(reads), F(read_bytes), F(writes_received), F(writes_applied), F(write_bytes),
		       F(writes_failed), F(flushes), F(discards), F(discard_bytes));
		printf(",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64
		       ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64
		       ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 "}\n",
		       F(err_inval), F(err_proto), F(err_nospc), F(err_io), F(err_nomem), F(err_other),
		       F(short_ios), F(bounce_bytes), F(requests_executed), F(requests_dup), F(inflight));
	} else {
		printf("size %" PRIu64 " bytes, block %u, max I/O %u, %s, %s%s\n", st.size,
		       st.block_size, st.max_io, st.direct_io ? "O_DIRECT" : "buffered",
		       st.block_device ? "block device" : "file",
		       st.discard_zeroes ? ", discard zeroes" : "");
		printf("reads %" PRIu64 " (%" PRIu64 " B); writes received %" PRIu64 ", applied %" PRIu64
		       " (%" PRIu64 " B), failed %" PRIu64 "; flushes %" PRIu64 "; discards %" PRIu64
		       " (%" PRIu64 " B)\n",
		       st.reads, st.read_bytes, st.writes_received, st.writes_applied, st.write_bytes,
		       st.writes_failed, st.flushes, st.discards, st.discard_bytes);
		printf("errors: inval %" PRIu64 ", proto %" PRIu64 ", nospc %" PRIu64 ", io %" PRIu64
		       ", nomem %" PRIu64 ", other %" PRIu64 "; short I/Os %" PRIu64 ", bounced %" PRIu64
		       " B; tern: executed %" PRIu64 ", duplicates %" PRIu64 "; in flight %" PRIu64 "\n",
		       st.err_inval, st.err_proto, st.err_nospc, st.err_io, st.err_nomem, st.err_other,
		       st.short_ios, st.bounce_bytes, st.requests_executed, st.requests_dup, st.inflight);
	}
#undef F
	return 0;
}

static int parse_seconds(const char *what, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= 0) || v > 86400) {
		fprintf(stderr, "blkstore-cli: bad %s '%s'\n", what, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int cmd_bench(struct gopts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"qd", required_argument, NULL, 'q'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"rw", required_argument, NULL, 'r'},
		{"mix-read", required_argument, NULL, 'm'},
		{"bs", required_argument, NULL, 'b'},
		{"range", required_argument, NULL, 'R'},
		{"seed", required_argument, NULL, 's'},
		{"local", required_argument, NULL, 'l'},
		{"buffered", no_argument, NULL, 'B'},
		{"rounds", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct bench_opts bo = {.qd = 1, .duration_s = 5, .warmup_s = 1, .rw = RW_READ,
				.mix_read = 50, .bs = 4096, .busy = (int)g->app.cfg.busy_poll, .progress = 1};
	const char *local = NULL;
	uint64_t v, rounds = 2;
	int o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			if (num_arg("--qd", optarg, &v) != 0 || v == 0 || v > 4096)
				return 2;
			bo.qd = (unsigned)v;
			break;
		case 'd':
			if (parse_seconds("--duration", optarg, &bo.duration_s) != 0 || bo.duration_s <= 0)
				return 2;
			break;
		case 'w':
			if (parse_seconds("--warmup", optarg, &bo.warmup_s) != 0)
				return 2;
			break;
		case 'r':
			if (strcmp(optarg, "read") == 0)
				bo.rw = RW_READ;
			else if (strcmp(optarg, "write") == 0)
				bo.rw = RW_WRITE;
			else if (strcmp(optarg, "mix") == 0)
				bo.rw = RW_MIX;
			else {
				fprintf(stderr, "blkstore-cli: --rw read|write|mix\n");
				return 2;
			}
			break;
		case 'm':
			if (num_arg("--mix-read", optarg, &v) != 0 || v > 100)
				return 2;
			bo.mix_read = (unsigned)v;
			break;
		case 'b':
			if (num_arg("--bs", optarg, &v) != 0 || v == 0 || v > BLKSTORE_MAX_IO ||
			    v % BLKSTORE_BLOCK != 0) {
				fprintf(stderr, "blkstore-cli: --bs: a multiple of 4096 up to 1M\n");
				return 2;
			}
			bo.bs = (uint32_t)v;
			break;
		case 'R':
			if (num_arg("--range", optarg, &bo.range) != 0)
				return 2;
			break;
		case 's':
			if (num_arg("--seed", optarg, &bo.seed) != 0)
				return 2;
			break;
		case 'l': local = optarg; break;
		case 'B': bo.buffered = 1; break;
		case 'n':
			if (num_arg("--rounds", optarg, &rounds) != 0 || rounds == 0 || rounds > 1000)
				return 2;
			break;
		default: return 2;
		}
	}
	if (optind != argc)
		return 2;
	int remote = g->server != NULL;
	if (!remote && local == NULL) {
		fprintf(stderr, "blkstore-cli: bench needs --server, --local PATH, or both\n");
		return 2;
	}
	if (!remote || local == NULL)
		rounds = 1;

	struct tern_ep *ep = NULL;
	struct tern_session *s = NULL;
	struct blkstore_client *c = NULL;
	struct blkstore_stat st;
	int rc = 0;
	if (remote) {
		rc = connect_client(g, &ep, &s, &c);
		if (rc != 0)
			return rc;
		rc = blkstore_stat_sync(c, &st);
		if (rc != 0) {
			rc = call_failed("stat", 0, rc);
			goto out;
		}
	}
	/* Results: per target, every round and all rounds merged. */
	static struct bench_result r, all[2];
	for (int t = 0; t < 2; t++) {
		memset(&all[t], 0, sizeof(all[t]));
		hist_init(&all[t].h);
		all[t].target = t == 0 ? "remote" : "local";
	}
	for (uint64_t i = 0; i < rounds && rc == 0; i++) {
		for (int t = 0; t < 2 && rc == 0; t++) {
			if ((t == 0 && !remote) || (t == 1 && local == NULL))
				continue;
			char why[256] = "";
			bo.seed = bo.seed * 31 + i + 1; /* other offsets each round */
			if (t == 0)
				rc = bench_remote(c, ep, st.size, st.direct_io, &bo, &r);
			else
				rc = bench_local(local, ep, &bo, &r, why, sizeof(why));
			if (rc != 0) {
				fprintf(stderr, "blkstore-cli: bench %s: %s\n", t ? "local" : "remote",
					why[0] ? why : strerror(-rc));
				rc = 1;
				break;
			}
			char label[32];
			snprintf(label, sizeof(label), rounds > 1 ? "round%" PRIu64 : "result", i + 1);
			bench_print(&r, &bo, label, g->json);
			all[t].ops += r.ops;
			all[t].reads += r.reads;
			all[t].writes += r.writes;
			all[t].errors += r.errors;
			all[t].elapsed_s += r.elapsed_s;
			all[t].direct = r.direct;
			hist_merge(&all[t].h, &r.h);
			if (r.errors != 0)
				fprintf(stderr, "blkstore-cli: bench %s: %" PRIu64 " errors, first: %s\n",
					r.target, r.errors, strerror(-r.first_error));
		}
	}
	if (rc == 0 && rounds > 1) {
		bench_print(&all[0], &bo, "all", g->json);
		bench_print(&all[1], &bo, "all", g->json);
	}
	if (rc == 0 && (all[0].errors != 0 || all[1].errors != 0))
		rc = 1;
out:
	if (remote) {
		blkstore_client_destroy(c);
		tern_session_close(s);
		tern_ep_destroy(ep);
	}
	if (rc == EXIT_USAGE)
		usage(stderr);
	return rc == EXIT_NOCONN ? 2 : rc;
}

/* Run command cmd on c; with c NULL only check its arguments. */
static int run_cmd(const char *cmd, struct blkstore_client *c, int argc, char **argv, int json)
{
	if (strcmp(cmd, "read") == 0)
		return cmd_read(c, argc, argv);
	if (strcmp(cmd, "write") == 0)
		return cmd_write(c, argc, argv);
	if (strcmp(cmd, "discard") == 0)
		return cmd_discard(c, argc, argv);
	if (strcmp(cmd, "flush") == 0)
		return cmd_flush(c, argc);
	return cmd_stat(c, argc, json);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		APP_OPTS_ENDPOINT, APP_OPT_FAULTS, APP_OPT_BUSY_POLL,
		{"timeout-ms", required_argument, NULL, 't'},
		{"rto-min-us", required_argument, NULL, 'r'},
		{"pb", no_argument, NULL, 'P'},
		{"slots", required_argument, NULL, 'S'},
		{"credits", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		APP_OPTS_CLIENT_SEC,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gopts g;
	memset(&g, 0, sizeof(g));
	app_init(&g.app, "blkstore-cli", NULL);
	/* Calls in flight per session (and packets): tern's maximum, so a
	 * bench at --qd 32 has 32 I/Os at the server, not tern's default 8. */
	g.app.cfg.slots = 64;
	g.app.cfg.credits = 64;
	g.timeout_ns = 10000 * MS;
	uint64_t v;
	int o, sf;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if ((sf = app_option(&g.app, o, optarg)) != 0) {
			if (sf < 0)
				return 2;
			continue;
		}
		switch (o) {
		case 's': g.server = optarg; break;
		case 't':
			if (num_arg("--timeout-ms", optarg, &v) != 0 || v == 0)
				return 2;
			g.timeout_ns = v * MS;
			break;
		case 'r':
			if (num_arg("--rto-min-us", optarg, &v) != 0)
				return 2;
			g.app.cfg.rto_min_ns = v * 1000;
			break;
		case 'P': g.pb = 1; break;
		case 'S':
			if (num_arg("--slots", optarg, &v) != 0 || v == 0 || v > 64 || (v & (v - 1)) != 0) {
				fprintf(stderr, "blkstore-cli: --slots: a power of two, 1..64\n");
				return 2;
			}
			g.app.cfg.slots = (uint32_t)v;
			break;
		case 'C':
			if (num_arg("--credits", optarg, &v) != 0 || v == 0 || v > 256) {
				fprintf(stderr, "blkstore-cli: --credits: 1..256\n");
				return 2;
			}
			g.app.cfg.credits = (uint32_t)v;
			break;
		case 'j': g.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	int rc;
	if (strcmp(cmd, "bench") == 0) {
		rc = cmd_bench(&g, cargc, cargv);
	} else {
		static const char *known[] = {"read", "write", "discard", "flush", "stat"};
		int ok = 0;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(cmd, known[i]) == 0;
		if (!ok) {
			fprintf(stderr, "blkstore-cli: unknown command '%s'\n", cmd);
			usage(stderr);
			return 2;
		}
		/* Once without a client: the arguments are checked before any
		 * waiting for a server; then for real. */
		rc = run_cmd(cmd, NULL, cargc, cargv, g.json);
		if (rc != 0) {
			usage(stderr);
			return rc;
		}
		struct tern_ep *ep;
		struct tern_session *s;
		struct blkstore_client *c;
		rc = connect_client(&g, &ep, &s, &c);
		if (rc != 0)
			return 2;
		rc = run_cmd(cmd, c, cargc, cargv, g.json);
		fflush(stdout);
		blkstore_client_destroy(c);
		tern_session_close(s);
		tern_ep_destroy(ep);
	}
	if (rc == EXIT_USAGE)
		usage(stderr);
	return rc == EXIT_NOCONN ? 2 : rc;
}
