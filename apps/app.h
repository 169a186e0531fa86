/*
 * app.h — what the example apps and tools share (hello, fib and blkstore,
 * servers and clients): the endpoint and security options of their command
 * lines, the log hook, creating the endpoint and connecting with a failure
 * said once and clearly, and a server's poll loop until SIGINT/SIGTERM.
 *
 * A program lists the options it takes in its getopt_long table with the
 * APP_OPT_* entries (or the APP_OPTS_* groups), hands every option to
 * app_option() first, and prints the APP_HELP_* lines in its usage:
 *
 *   --bind IP:PORT        the endpoint's address (struct tern_ep_config.bind)
 *   --driver NAME         udp (default), dpdk, loop
 *   --eal "ARGS"          dpdk: the EAL arguments
 *   --driver-args K=V,..  driver arguments
 *   --faults SPEC         the fault injector around the driver
 *   --busy-poll           spin instead of sleeping in the driver when idle
 *   --no-coalesce-cr      server: one credit return per request packet
 *                         (TERN_EP_NO_COALESCE_CR), not one per run a burst
 *   --cc                  congestion control (TERN_EP_CC): for many clients
 *                         sending to one server through a bottleneck
 *   --key FILE            this endpoint's private key (tern-keygen NAME -> NAME.key)
 *   --peer-key FILE       client: the server's public key (NAME.pub), pinned
 *   --allow FILE          server: the client public keys it accepts, one per line
 *   --psk FILE            a pre-shared key (any key file) both sides hold
 *   --protection LEVEL    none|integrity|privacy (client: asked; server: minimum)
 *
 * Each maps onto struct tern_ep_config (lib/tern.h; docs/security.md for
 * the keys, which tern_ep_create() reads and whose complaints, like every
 * library error, reach stderr through app_log).
 */
#ifndef TERN_APPS_APP_H
#define TERN_APPS_APP_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "tern.h"

enum {
	APP_O_BIND = 0x1000, APP_O_DRIVER, APP_O_EAL, APP_O_DRIVER_ARGS, APP_O_FAULTS,
	APP_O_BUSY_POLL, APP_O_NO_COALESCE_CR, APP_O_KEY, APP_O_PEER_KEY, APP_O_ALLOW, APP_O_PSK, APP_O_PROTECTION,
	APP_O_CC,
};

#define APP_OPT_BIND        {"bind", required_argument, NULL, APP_O_BIND}
#define APP_OPT_DRIVER      {"driver", required_argument, NULL, APP_O_DRIVER}
#define APP_OPT_EAL         {"eal", required_argument, NULL, APP_O_EAL}
#define APP_OPT_DRIVER_ARGS {"driver-args", required_argument, NULL, APP_O_DRIVER_ARGS}
#define APP_OPT_FAULTS      {"faults", required_argument, NULL, APP_O_FAULTS}
#define APP_OPT_BUSY_POLL   {"busy-poll", no_argument, NULL, APP_O_BUSY_POLL}
#define APP_OPT_NO_COALESCE_CR {"no-coalesce-cr", no_argument, NULL, APP_O_NO_COALESCE_CR}
#define APP_OPT_CC          {"cc", no_argument, NULL, APP_O_CC}
#define APP_OPT_KEY         {"key", required_argument, NULL, APP_O_KEY}
#define APP_OPT_PEER_KEY    {"peer-key", required_argument, NULL, APP_O_PEER_KEY}
#define APP_OPT_ALLOW       {"allow", required_argument, NULL, APP_O_ALLOW}
#define APP_OPT_PSK         {"psk", required_argument, NULL, APP_O_PSK}
#define APP_OPT_PROTECTION  {"protection", required_argument, NULL, APP_O_PROTECTION}

/* The endpoint options every app takes, and each side's security options. */
#define APP_OPTS_ENDPOINT   APP_OPT_BIND, APP_OPT_DRIVER, APP_OPT_EAL, APP_OPT_DRIVER_ARGS, APP_OPT_CC
#define APP_OPTS_SERVER_SEC APP_OPT_KEY, APP_OPT_ALLOW, APP_OPT_PSK, APP_OPT_PROTECTION
#define APP_OPTS_CLIENT_SEC APP_OPT_PEER_KEY, APP_OPT_KEY, APP_OPT_PSK, APP_OPT_PROTECTION

#define APP_HELP_ENDPOINT                                                                        \
	"  --driver NAME       udp (default), dpdk, loop\n"                                     \
	"  --eal \"ARGS\"        dpdk: EAL arguments (each process its own --file-prefix)\n"     \
	"  --driver-args K=V   driver arguments (dpdk: port=, mtu=, memif_wait=S, ...)\n"       \
	"  --cc                congestion control (many senders through one bottleneck)\n"
#define APP_HELP_SERVER_SEC                                                                      \
	"  --key FILE          the server's private key (tern-keygen NAME writes NAME.key/.pub)\n" \
	"  --allow FILE        accept only clients whose public key is listed (one per line)\n" \
	"  --psk FILE          a pre-shared key (a key file) clients must hold too\n"           \
	"  --protection LEVEL  lowest level accepted: none (default), integrity, privacy\n"
#define APP_HELP_CLIENT_SEC                                                                      \
	"  --peer-key FILE     the server's public key (NAME.pub): authenticate it\n"           \
	"  --key FILE          this client's private key (for a server with --allow)\n"         \
	"  --psk FILE          a pre-shared key (a key file) the server holds too\n"            \
	"  --protection LEVEL  none (default), integrity (authenticated packets) or\n"          \
	"                      privacy (encrypted too); needs --peer-key or --psk\n"

/* One program's endpoint: its name (the prefix of what it prints) and config. */
struct app {
	const char *prog;
	struct tern_ep_config cfg;
};

/* tern's defaults, then: bind (may be NULL), sleeping when idle
 * (busy_poll 0), the log hook app_log. */
void app_init(struct app *a, const char *prog, const char *bind);

/* Apply option c (getopt_long's return) with its argument. 1: it was one of
 * the APP_OPT_* options and is applied; 0: not one; -1: a bad value (said on
 * stderr; exit 2). */
int app_option(struct app *a, int c, const char *arg);

/* The whole command line of a program whose options are the APP_OPT_* ones
 * plus --help ('h') and no operands: -1 to go on; else the exit status
 * (0 after printing usage to stdout for --help; 2 after a bad option or
 * operand, with usage on stderr). */
int app_parse(struct app *a, int argc, char **argv, const struct option *opts,
	      void (*usage)(FILE *f));

/* Log hook: the library's errors and warnings on stderr, "PROG: msg". */
void app_log(void *ctx, int level, const char *msg);

/* tern_ep_create(), saying why not on stderr. 0 or -errno. */
int app_ep_create(struct app *a, struct tern_ep **ep);

/* tern_connect() and tern_session_wait() up to timeout_ns, saying why not
 * on stderr (with a hint for a refused handshake). 0 or -errno; on failure
 * the session (if any) is closed. */
int app_connect(struct app *a, struct tern_ep *ep, const char *server, uint64_t timeout_ns,
		struct tern_session **s);

/* SIGINT and SIGTERM set a flag app_stopping() reads. */
void app_catch_signals(void);
int app_stopping(void);

/* A server's life: print "PROG: listening on ADDR (DRIVER)", catch the
 * signals, poll (spinning with --busy-poll, else sleeping in the driver)
 * until one comes. */
void app_serve(struct app *a, struct tern_ep *ep);

#endif
