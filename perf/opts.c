/*
 * opts.c — tern-perf's command line: getopt_long, number parsing with
 * suffixes, defaults, and the checks that make a bad invocation fail before
 * any endpoint exists (exit 2: the message and one line pointing to the
 * help on stderr), and the help itself, per command.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "perf.h"

#define DEF_PORT_BIND   "0.0.0.0:31850"
#define DEF_COUNT       100000ull
#define DEF_SELF_COUNT  10000ull
#define DEF_SIZE        32u
#define DEF_TIMEOUT_MS  2000 /* plain numbers: also in the help text */
#define DEF_CONNECT_MS  3000
#define DEF_WARMUP_MAX  1000ull
#define MAX_MSG_DEFAULT (8u << 20)
#define MAX_MSG_LIMIT   (1u << 30) /* tern's ceiling for max_msg_size */
#define STR_(x) #x
#define STR(x)  STR_(x)

/*
 * The help: one entry per line, marked with the commands it is for.
 * "tern-perf CMD --help" prints CMD's lines; "tern-perf --help" only the
 * synopses (H_SYN) and where to look next. A new option is one line per
 * command group it applies to.
 */
enum {
	H_SRV = 1, H_CLI = 2, H_SELF = 4, H_DRV = 8, H_SYN = 16, /* a synopsis line */
	H_ANY = H_SRV | H_CLI | H_SELF, H_CALLER = H_CLI | H_SELF, H_CALLEE = H_SRV | H_SELF,
};
static const struct {
	unsigned cmds;
	const char *text;
} help[] = {
	{H_SRV | H_SYN, "usage: tern-perf server   [--driver udp|dpdk|loop] [--bind IP:PORT] [options]"},
	{H_CLI | H_SYN, "usage: tern-perf client   [--driver udp|dpdk|loop] --connect IP:PORT [--bind IP:PORT]"},
	{H_CLI | H_SYN, "                          [--size B] [--concurrency N] [--count N | --duration S] [options]"},
	{H_SELF | H_SYN, "usage: tern-perf selftest [--driver loop] [client options]   (server + client in one thread;"},
	{H_SELF | H_SYN, "                          --bind is its server's, --faults wraps only its client)"},
	{H_DRV | H_SYN, "usage: tern-perf drivers                                       (drivers built into libtern)"},
	{H_ANY, ""},
	{H_ANY, "endpoint options:"},
	{H_ANY, "  --driver NAME         udp (default), dpdk, loop"},
	{H_SRV, "  --bind IP:PORT        local address (default " DEF_PORT_BIND "; dpdk: required)"},
	{H_CLI, "  --bind IP:PORT        local address (default: an ephemeral port; dpdk: required: the"},
	{H_CLI, "                        IPv4 address the driver answers ARP for)"},
	{H_SELF, "  --bind IP:PORT        the in-thread server's address"},
	{H_ANY, "  --eal \"ARGS\"          dpdk EAL arguments, e.g. \"-l 1 --no-pci --file-prefix srv --vdev=...\""},
	{H_ANY, "                        (each DPDK process needs its own --file-prefix; without"},
	{H_ANY, "                        hugepages or root: --in-memory, or --no-huge -m 512)"},
	{H_ANY, "  --driver-args K=V,..  driver arguments (udp: mtu=, mode=mmsg|uring: recvmmsg/"},
	{H_ANY, "                        sendmmsg (default) or io_uring; dpdk: port=, queues=, mtu=, memif_wait=S:"},
	{H_ANY, "                        a memif client waits S s for its server, default 10)"},
	{H_ANY, "  --faults SPEC         wrap the driver in the fault injector: \"loss=0.01,seed=7,...\""},
	{H_ANY, "  --mtu N               largest packet (default: the driver's)"},
	{H_ANY, "  --max-msg B           largest message accepted (default 8M, or the sizes asked)"},
	{H_ANY, "  --slots N             calls in flight per session, power of two (default 8)"},
	{H_ANY, "  --max-sessions N      sessions the endpoint holds at once, 1..65535 (default 256,"},
	{H_ANY, "                        or the client's --sessions if more)"},
	{H_ANY, "  --credits N           packets in flight per session and direction, 1..256 (default 32;"},
	{H_ANY, "                        a session gets the smaller of both sides' values)"},
	{H_ANY, "  --rto-min-us N        RTO floor in microseconds (default: the driver's; e.g. under"},
	{H_ANY, "                        valgrind, where everything runs ~50x slower)"},
	{H_CALLEE, "  --no-coalesce-cr      as the callee, one credit return per request packet, not one"},
	{H_CALLEE, "                        per run of packets per receive burst (TERN_EP_NO_COALESCE_CR)"},
	{H_ANY, "  --cc                  congestion control (TERN_EP_CC): a delay-based window per"},
	{H_ANY, "                        session, paced below one packet; for many senders through one"},
	{H_ANY, "                        bottleneck (perf/incast has the figures)"},
	{H_ANY, "  --busy-poll 0|1       1 (default): spin; 0: sleep in the driver when idle"},
	{H_ANY, "  --key FILE            this endpoint's private key (tern-keygen NAME -> NAME.key)"},
	{H_CALLER, "  --peer-key FILE       the server's public key (NAME.pub), pinned"},
	{H_CALLEE, "  --allow FILE          allowed client public keys, one per line"},
	{H_ANY, "  --psk FILE            a pre-shared key (a key file) both sides hold"},
	{H_SRV, "  --protection LEVEL    none|integrity|privacy: the lowest level accepted"},
	{H_CALLER, "  --protection LEVEL    none|integrity|privacy: the level asked for"},
	{H_ANY, "  --threads N           N endpoints, one per thread, on port+i (and dpdk queue i),"},
	{H_CLI, "                        pinned; --concurrency/--sessions/--warmup are per thread,"},
	{H_CLI, "                        --count is split over the threads; dpdk needs queues=N"},
	{H_CALLEE, "                        pinned; dpdk needs queues=N"},
	{H_ANY, "  --cpus LIST           pin thread i to the i-th CPU of LIST (\"0,2-3\"); default with"},
	{H_ANY, "                        --threads > 1: the CPUs the process may run on, in order"},
	{H_ANY, "  --quiet, -q           no progress line, no counters; errors only"},
	{H_ANY, "  --verbose, -v         also tern's INFO (-vv: DEBUG) log lines"},
	{H_ANY, "  --help, -h            this text"},
	{H_CALLER, ""},
	{H_CLI, "client options:"},
	{H_SELF, "selftest options:"},
	{H_CLI, "  --connect IP:PORT     the server (thread i: port+i)"},
	{H_CALLER, "  --mode rra|rr|oneway  request type 1 (TERN_RRA, default), 2 (TERN_RR), 3 (TERN_R);"},
	{H_CALLER, "                        oneway's \"RTT\" is the time until tern handed the request"},
	{H_CALLER, "                        to the driver"},
	{H_CALLER, "  --size B              request bytes (default 32; suffixes K, M = 2^10, 2^20)"},
	{H_CALLER, "  --resp-size B         response bytes (default --size; needs --size >= 16 to differ)"},
	{H_CALLER, "  --concurrency N       calls in flight per thread (default 1), spread over the sessions;"},
	{H_CALLER, "                        beyond 8 per session they wait in tern's backlog"},
	{H_CALLER, "  --sessions M          sessions per thread (default 1)"},
	{H_CLI, "  --count N             measured calls (default 100000; k, M = 10^3, 10^6)"},
	{H_SELF, "  --count N             measured calls (default 10000; k, M = 10^3, 10^6)"},
	{H_CALLER, "  --duration S          measure for S seconds instead of a count"},
	{H_CALLER, "  --warmup N            calls per thread not measured (default min(1000, 1% of count))"},
	{H_CALLER, "  --timeout-ms N        per-call deadline (default " STR(DEF_TIMEOUT_MS) ")"},
	{H_CALLER, "  --connect-timeout-ms N  give up connecting after N ms (default " STR(DEF_CONNECT_MS) "; exit 2)"},
	{H_CALLER, "  --verify              fill every request with its own pattern and check every"},
	{H_CLI, "                        response byte; without it only a 16-byte header is written"},
	{H_CLI, "                        per call"},
	{H_SELF, "                        response byte (always on in selftest)"},
	{H_CALLER, "  --json                one JSON object on stdout instead of the result block"},
	{H_CALLER, "  --cdf FILE            write the latency CDF (\"latency_us fraction\" lines) to FILE"},
	{H_CALLER, "  --allow-errors        exit 0 even if calls failed"},
	{H_CALLER, "  --stats               print the endpoints' counters too"},
	{H_SRV, ""},
	{H_SRV, "server options:"},
	{H_SRV, "  --resp-size B         answer every request with B bytes (default: what the client asks)"},
	{H_SRV, "  --duration S          exit after S seconds (default: at SIGINT/SIGTERM)"},
	{H_SRV, "  --stats               at exit, every endpoint counter (default: the non-zero ones)"},
	{H_ANY, ""},
	{H_SRV, "exit: 0 stopped by SIGINT/SIGTERM or --duration; 2 bad usage or endpoint failure."},
	{H_CALLER, "exit: 0 ok; 1 some calls failed; 2 bad usage, endpoint or connection failure;"},
	{H_CALLER, "      130 (SIGINT) or 143 (SIGTERM): interrupted, the result printed is partial."},
};

static unsigned help_mask(enum perf_cmd cmd)
{
	switch (cmd) {
	case PERF_CMD_SERVER: return H_SRV;
	case PERF_CMD_CLIENT: return H_CLI;
	case PERF_CMD_SELFTEST: return H_SELF;
	case PERF_CMD_DRIVERS: return H_DRV;
	default: return H_SYN;
	}
}

void perf_usage(FILE *f, enum perf_cmd cmd)
{
	unsigned mask = help_mask(cmd);
	int n = 0;
	for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++) {
		const char *t = help[i].text;
		if ((help[i].cmds & mask) == 0)
			continue;
		/* Every synopsis: "usage: " on the first only. */
		if (mask == H_SYN && strncmp(t, "usage: ", 7) == 0 && n++ != 0)
			fprintf(f, "       %s\n", t + 7);
		else
			fprintf(f, "%s\n", t);
	}
	if (mask == H_SYN)
		fprintf(f, "\n'tern-perf COMMAND --help' lists a command's options.\n");
}

/* What a usage error says after its message: where the help is. */
static enum perf_cmd hint_cmd;
static void usage_hint(void)
{
	const char *c = hint_cmd == PERF_CMD_SERVER     ? "server "
			: hint_cmd == PERF_CMD_CLIENT   ? "client "
			: hint_cmd == PERF_CMD_SELFTEST ? "selftest "
							: "";
	fprintf(stderr, "Try 'tern-perf %s--help' for %s.\n", c,
		c[0] != '\0' ? "its options" : "the commands");
}

/* Unsigned integer with an optional k/K, m/M, g/G suffix: powers of two when
 * binary (sizes), of ten otherwise (counts). No sign, no junk. */
static int parse_u64(const char *s, bool binary, uint64_t *out)
{
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	uint64_t mul = 1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = binary ? 1ull << 10 : 1000ull; end++; break;
	case 'm': case 'M': mul = binary ? 1ull << 20 : 1000000ull; end++; break;
	case 'g': case 'G': mul = binary ? 1ull << 30 : 1000000000ull; end++; break;
	default: return -EINVAL;
	}
	if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_u32(const char *s, bool binary, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v;
	if (parse_u64(s, binary, &v) != 0 || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 1e6)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return *ns != 0 ? 0 : -EINVAL;
}

/* "0,2-3" -> {0, 2, 3}. */
static int parse_cpus(const char *s, struct perf_opts *o)
{
	o->ncpus = 0;
	while (*s != '\0') {
		char *end;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		long a = strtol(s, &end, 10), b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			b = strtol(end + 1, &end, 10);
		}
		if (a < 0 || b < a || b >= PERF_MAX_CPUS)
			return -EINVAL;
		for (long c = a; c <= b; c++) {
			if (o->ncpus == PERF_MAX_CPUS)
				return -EINVAL;
			o->cpus[o->ncpus++] = (int)c;
		}
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return -EINVAL;
		s = end;
	}
	return o->ncpus != 0 ? 0 : -EINVAL;
}

int perf_addr_offset(const char *addr, unsigned off, char *out, size_t len)
{
	const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;
	if (colon == NULL || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return -EINVAL;
	if (port != 0)
		port += off;
	if (port > 65535)
		return -EINVAL;
	int n = snprintf(out, len, "%.*s:%lu", (int)(colon - addr), addr, port);
	return n > 0 && (size_t)n < len ? 0 : -EINVAL;
}

enum {
	O_DRIVER = 256, O_BIND, O_CONNECT, O_EAL, O_DRIVER_ARGS, O_FAULTS, O_MTU, O_MAX_MSG,
	O_SLOTS, O_MAX_SESSIONS, O_CREDITS, O_RTO_MIN, O_COALESCE_CR, O_NO_COALESCE_CR, O_CC, O_BUSY_POLL, O_THREADS, O_CPUS, O_MODE, O_SIZE, O_RESP_SIZE, O_CONCURRENCY,
	O_SESSIONS, O_COUNT, O_DURATION, O_WARMUP, O_TIMEOUT, O_CONNECT_TIMEOUT, O_VERIFY,
	O_JSON, O_ALLOW_ERRORS, O_STATS, O_KEY, O_PEER_KEY, O_ALLOW, O_PSK, O_PROTECTION, O_CDF,
};

static const struct option long_opts[] = {
	{"driver", required_argument, NULL, O_DRIVER},
	{"bind", required_argument, NULL, O_BIND},
	{"connect", required_argument, NULL, O_CONNECT},
	{"eal", required_argument, NULL, O_EAL},
	{"driver-args", required_argument, NULL, O_DRIVER_ARGS},
	{"faults", required_argument, NULL, O_FAULTS},
	{"key", required_argument, NULL, O_KEY},
	{"peer-key", required_argument, NULL, O_PEER_KEY},
	{"allow", required_argument, NULL, O_ALLOW},
	{"psk", required_argument, NULL, O_PSK},
	{"protection", required_argument, NULL, O_PROTECTION},
	{"mtu", required_argument, NULL, O_MTU},
	{"max-msg", required_argument, NULL, O_MAX_MSG},
	{"slots", required_argument, NULL, O_SLOTS},
	{"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
	{"credits", required_argument, NULL, O_CREDITS},
	{"rto-min-us", required_argument, NULL, O_RTO_MIN},
	{"coalesce-cr", no_argument, NULL, O_COALESCE_CR}, /* the default now; accepted */
	{"no-coalesce-cr", no_argument, NULL, O_NO_COALESCE_CR},
	{"cc", no_argument, NULL, O_CC},
	{"busy-poll", required_argument, NULL, O_BUSY_POLL},
	{"threads", required_argument, NULL, O_THREADS},
	{"cpus", required_argument, NULL, O_CPUS},
	{"mode", required_argument, NULL, O_MODE},
	{"size", required_argument, NULL, O_SIZE},
	{"resp-size", required_argument, NULL, O_RESP_SIZE},
	{"concurrency", required_argument, NULL, O_CONCURRENCY},
	{"sessions", required_argument, NULL, O_SESSIONS},
	{"count", required_argument, NULL, O_COUNT},
	{"duration", required_argument, NULL, O_DURATION},
	{"warmup", required_argument, NULL, O_WARMUP},
	{"timeout-ms", required_argument, NULL, O_TIMEOUT},
	{"connect-timeout-ms", required_argument, NULL, O_CONNECT_TIMEOUT},
	{"verify", no_argument, NULL, O_VERIFY},
	{"json", no_argument, NULL, O_JSON},
	{"allow-errors", no_argument, NULL, O_ALLOW_ERRORS},
	{"stats", no_argument, NULL, O_STATS},
	{"cdf", required_argument, NULL, O_CDF},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void defaults(struct perf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->driver = "udp";
	o->type = PERF_TYPE_RRA;
	o->size = DEF_SIZE;
	o->concurrency = 1;
	o->sessions = 1;
	o->threads = 1;
	o->timeout_ns = DEF_TIMEOUT_MS * PERF_NS_PER_MS;
	o->connect_timeout_ns = DEF_CONNECT_MS * PERF_NS_PER_MS;
	o->busy_poll = 1;
}

/* Reports a bad value; returns the exit code for the caller to pass on. */
static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "tern-perf: bad value for --%s: \"%s\"%s%s\n", opt, val, why ? ": " : "",
		why ? why : "");
	usage_hint();
	return PERF_EXIT_SETUP;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "tern-perf: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	usage_hint();
	return PERF_EXIT_SETUP;
}

static enum perf_cmd cmd_of(const char *s)
{
	if (strcmp(s, "server") == 0)
		return PERF_CMD_SERVER;
	if (strcmp(s, "client") == 0)
		return PERF_CMD_CLIENT;
	if (strcmp(s, "selftest") == 0)
		return PERF_CMD_SELFTEST;
	if (strcmp(s, "drivers") == 0)
		return PERF_CMD_DRIVERS;
	return PERF_CMD_NONE;
}

/* One option; 0, or an exit code. */
static int apply(struct perf_opts *o, int c, const char *arg, bool *count_set)
{
	uint64_t u;
	const char *name = NULL;
	for (const struct option *lo = long_opts; lo->name != NULL; lo++)
		if (lo->val == c)
			name = lo->name;
	switch (c) {
	case O_DRIVER: o->driver = arg; break;
	case O_BIND: o->bind = arg; break;
	case O_CONNECT: o->connect = arg; break;
	case O_EAL: o->eal = arg; break;
	case O_DRIVER_ARGS: o->driver_args = arg; break;
	case O_FAULTS: o->faults = arg; break;
	case O_KEY: o->key = arg; break;
	case O_PEER_KEY: o->peer_key = arg; break;
	case O_ALLOW: o->allow = arg; break;
	case O_PSK: o->psk = arg; break;
	case O_PROTECTION:
		if (strcmp(arg, "none") == 0)
			o->protection = TERN_PROT_NONE;
		else if (strcmp(arg, "integrity") == 0)
			o->protection = TERN_PROT_INTEGRITY;
		else if (strcmp(arg, "privacy") == 0)
			o->protection = TERN_PROT_PRIVACY;
		else
			return bad(name, arg, "none, integrity or privacy");
		break;
	case O_MTU:
		if (parse_u32(arg, false, 1, 65535, &o->mtu) != 0)
			return bad(name, arg, "1..65535");
		break;
	case O_MAX_MSG:
		if (parse_u32(arg, true, 1, MAX_MSG_LIMIT, &o->max_msg) != 0)
			return bad(name, arg, "1..1G");
		break;
	case O_CREDITS:
		if (parse_u32(arg, false, 1, 256, &o->credits) != 0)
			return bad(name, arg, "1..256");
		break;
	case O_COALESCE_CR:
		o->coalesce_cr = 1;
		break;
	case O_NO_COALESCE_CR:
		o->no_coalesce_cr = 1;
		break;
	case O_CC:
		o->cc = 1;
		break;
	case O_RTO_MIN:
		if (parse_u32(arg, false, 1, 10000000, &o->rto_min_us) != 0)
			return bad(name, arg, "1..10000000");
		break;
	case O_MAX_SESSIONS:
		if (parse_u32(arg, false, 1, 65535, &o->max_sessions) != 0)
			return bad(name, arg, "1..65535");
		break;
	case O_SLOTS:
		if (parse_u32(arg, false, 1, 64, &o->slots) != 0 || (o->slots & (o->slots - 1)) != 0)
			return bad(name, arg, "a power of two, 1..64");
		break;
	case O_BUSY_POLL:
		if (parse_u32(arg, false, 0, 1, &o->busy_poll) != 0)
			return bad(name, arg, "0 or 1");
		break;
	case O_THREADS:
		if (parse_u32(arg, false, 1, PERF_MAX_THREADS, &o->threads) != 0)
			return bad(name, arg, "1..64");
		break;
	case O_CPUS:
		if (parse_cpus(arg, o) != 0)
			return bad(name, arg, "a list like 0,2-3");
		break;
	case O_MODE:
		if (strcmp(arg, "rra") == 0)
			o->type = PERF_TYPE_RRA;
		else if (strcmp(arg, "rr") == 0)
			o->type = PERF_TYPE_RR;
		else if (strcmp(arg, "oneway") == 0)
			o->type = PERF_TYPE_ONEWAY;
		else
			return bad(name, arg, "rra, rr or oneway");
		break;
	case O_SIZE:
		if (parse_u32(arg, true, 0, MAX_MSG_LIMIT, &o->size) != 0)
			return bad(name, arg, "0..1G bytes");
		break;
	case O_RESP_SIZE:
		if (parse_u32(arg, true, 0, MAX_MSG_LIMIT, &o->resp_size) != 0)
			return bad(name, arg, "0..1G bytes");
		o->resp_size_set = true;
		break;
	case O_CONCURRENCY:
		if (parse_u32(arg, false, 1, 1u << 20, &o->concurrency) != 0)
			return bad(name, arg, "1..1M");
		break;
	case O_SESSIONS:
		if (parse_u32(arg, false, 1, 65535, &o->sessions) != 0)
			return bad(name, arg, "1..4096");
		break;
	case O_COUNT:
		if (parse_u64(arg, false, &o->count) != 0 || o->count == 0)
			return bad(name, arg, "a positive count");
		*count_set = true;
		break;
	case O_DURATION:
		if (parse_seconds(arg, &o->duration_ns) != 0)
			return bad(name, arg, "seconds > 0");
		break;
	case O_WARMUP:
		if (parse_u64(arg, false, &o->warmup) != 0)
			return bad(name, arg, NULL);
		o->warmup_set = true;
		break;
	case O_TIMEOUT:
	case O_CONNECT_TIMEOUT:
		if (parse_u64(arg, false, &u) != 0 || u == 0 || u > 3600000)
			return bad(name, arg, "1..3600000 ms");
		*(c == O_TIMEOUT ? &o->timeout_ns : &o->connect_timeout_ns) = u * PERF_NS_PER_MS;
		break;
	case O_VERIFY: o->verify = true; break;
	case O_JSON: o->json = true; break;
	case O_ALLOW_ERRORS: o->allow_errors = true; break;
	case O_STATS: o->stats = true; break;
	case O_CDF: o->cdf = arg; break;
	case 'q': o->quiet = true; break;
	case 'v': o->verbose++; break;
	default:
		/* getopt_long already said what was wrong. */
		usage_hint();
		return PERF_EXIT_SETUP;
	}
	return 0;
}

/* Client and selftest: sizes, counts, warmup. 0 or an exit code. */
static int check_client(struct perf_opts *o, bool count_set)
{
	if (o->cmd == PERF_CMD_CLIENT && o->connect == NULL)
		return usage_error("client: --connect IP:PORT is required");
	if (o->cmd == PERF_CMD_SELFTEST && o->connect != NULL)
		return usage_error("selftest: --connect makes no sense: it calls its own server");
	if (count_set && o->duration_ns != 0)
		return usage_error("--count and --duration exclude each other");
	if (!count_set)
		o->count = o->cmd == PERF_CMD_SELFTEST ? DEF_SELF_COUNT : DEF_COUNT;
	if (o->duration_ns == 0 && o->count < o->threads)
		return usage_error("--count must be at least --threads");
	if (!o->resp_size_set)
		o->resp_size = o->size;
	if (o->type == PERF_TYPE_ONEWAY && o->resp_size_set)
		return usage_error("--resp-size makes no sense with --mode oneway");
	if (o->size < PERF_HDR_LEN && o->resp_size != o->size)
		return usage_error("--resp-size differing from --size needs --size >= 16 "
				   "(the request carries the size asked)");
	if (o->cmd == PERF_CMD_SELFTEST && o->type != PERF_TYPE_ONEWAY)
		o->verify = true;
	if (o->verify && o->type == PERF_TYPE_ONEWAY)
		return usage_error("--verify needs responses (not --mode oneway)");
	if (o->sessions > o->concurrency)
		return usage_error("--sessions must not exceed --concurrency");
	if (!o->warmup_set) {
		uint64_t per = o->count / o->threads / 100;
		o->warmup = o->duration_ns != 0 || per > DEF_WARMUP_MAX ? DEF_WARMUP_MAX : per;
	}
	return 0;
}

/* Is name in tern_drivers()' comma-separated list? */
static bool driver_built(const char *name)
{
	size_t n = strlen(name);
	for (const char *p = tern_drivers(); *p != '\0'; p += strcspn(p, ","), p += *p == ',') {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

static int check(struct perf_opts *o, bool count_set)
{
	if (o->cmd == PERF_CMD_DRIVERS)
		return 0;
	if (!driver_built(o->driver) || strcmp(o->driver, "faults") == 0)
		return usage_error("driver \"%s\" is not built into this libtern (built: %s; "
				   "faults is a decorator: use --faults)", o->driver, tern_drivers());
	if (o->cmd == PERF_CMD_SERVER) {
		if (o->connect != NULL)
			return usage_error("server: --connect is a client option");
		o->srv_resp_size = o->resp_size_set ? o->resp_size : 0;
		if (o->bind == NULL && strcmp(o->driver, "dpdk") == 0)
			return usage_error("server: --bind IP:PORT is required with --driver dpdk");
		if (o->bind == NULL)
			o->bind = DEF_PORT_BIND;
	} else {
		int rc = check_client(o, count_set);
		if (rc != 0)
			return rc;
		if (o->cmd == PERF_CMD_CLIENT && o->bind == NULL && strcmp(o->driver, "dpdk") == 0)
			return usage_error("client: --bind IP:PORT is required with --driver dpdk "
					   "(the driver answers ARP for it)");
	}
	/* Room for the largest message either side will carry. */
	uint32_t need = o->size > o->resp_size ? o->size : o->resp_size;
	if (o->max_msg == 0)
		o->max_msg = need > MAX_MSG_DEFAULT ? need : MAX_MSG_DEFAULT;
	else if (o->max_msg < need)
		return usage_error("--max-msg is smaller than --size/--resp-size");
	/* Thread i uses port + i: the port must be a number, with room. (The
	 * host is tern_connect's and the driver's to judge, and say why.) */
	const char *addrs[2][2] = {{"bind", o->bind}, {"connect", o->connect}};
	for (int i = 0; i < 2; i++) {
		char tmp[128];
		if (addrs[i][1] == NULL ||
		    perf_addr_offset(addrs[i][1], o->threads - 1, tmp, sizeof(tmp)) == 0)
			continue;
		if (o->threads > 1)
			return usage_error("--%s \"%s\": need HOST:PORT with room for port + threads - 1",
					   addrs[i][0], addrs[i][1]);
		return usage_error("--%s \"%s\": expected HOST:PORT with a port 0..65535, e.g. "
				   "127.0.0.1:31850", addrs[i][0], addrs[i][1]);
	}
	return 0;
}

/* The command word, found before parsing (GNU getopt permutes argv, and
 * --help and error hints depend on it): the first argument that is neither
 * an option nor an option's value. */
static enum perf_cmd find_cmd(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? cmd_of(argv[i + 1]) : PERF_CMD_NONE;
		if (a[0] != '-' || a[1] == '\0')
			return cmd_of(a);
		if (a[1] != '-' || strchr(a, '=') != NULL)
			continue; /* -q, -v, -h; --name=value */
		for (const struct option *lo = long_opts; lo->name != NULL; lo++)
			if (strcmp(a + 2, lo->name) == 0 && lo->has_arg == required_argument)
				i++;
	}
	return PERF_CMD_NONE;
}

int perf_opts_parse(int argc, char **argv, struct perf_opts *o)
{
	bool count_set = false;
	int c;
	defaults(o);
	hint_cmd = find_cmd(argc, argv);
	opterr = 1;
	while ((c = getopt_long(argc, argv, "hqv", long_opts, NULL)) != -1) {
		if (c == 'h') {
			perf_usage(stdout, hint_cmd);
			return 0;
		}
		int rc = apply(o, c, optarg, &count_set);
		if (rc != 0)
			return rc;
	}
	/* GNU getopt moved the command (the one non-option) to the end. */
	if (optind >= argc)
		return usage_error("missing command: server, client, selftest or drivers");
	if (optind + 1 < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind + 1]);
	o->cmd_name = argv[optind];
	o->cmd = cmd_of(argv[optind]);
	if (o->cmd == PERF_CMD_NONE)
		return usage_error("unknown command \"%s\" (server, client, selftest, drivers)",
				   argv[optind]);
	int rc = check(o, count_set);
	return rc != 0 ? rc : -1;
}
