/*
 * app.c — the example apps' shared scaffolding (app.h): options, log hook,
 * endpoint creation, connecting, the server loop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app.h"

#define SERVE_WAIT_NS 100000000ull /* idle sleep, at most; then look at the signal flag */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

void app_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int app_stopping(void)
{
	return stop != 0;
}

int app_parse(struct app *a, int argc, char **argv, const struct option *opts,
	      void (*usage)(FILE *f))
{
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((rc = app_option(a, c, optarg)) != 0) {
			if (rc < 0)
				return 2;
			continue;
		}
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

void app_log(void *ctx, int level, const char *msg)
{
	if (level <= TERN_LOG_WARN)
		fprintf(stderr, "%s: %s\n", (const char *)ctx, msg);
}

void app_init(struct app *a, const char *prog, const char *bind)
{
	a->prog = prog;
	tern_ep_config_init(&a->cfg);
	a->cfg.bind = bind;
	a->cfg.busy_poll = 0;
	a->cfg.log = app_log;
	a->cfg.log_ctx = (void *)prog;
}

int app_option(struct app *a, int c, const char *arg)
{
	struct tern_ep_config *cfg = &a->cfg;
	switch (c) {
	case APP_O_BIND: cfg->bind = arg; return 1;
	case APP_O_DRIVER: cfg->driver = arg; return 1;
	case APP_O_EAL: cfg->eal = arg; return 1;
	case APP_O_DRIVER_ARGS: cfg->driver_args = arg; return 1;
	case APP_O_FAULTS: cfg->faults = arg; return 1;
	case APP_O_BUSY_POLL: cfg->busy_poll = 1; return 1;
	case APP_O_NO_COALESCE_CR: cfg->flags |= TERN_EP_NO_COALESCE_CR; return 1;
	case APP_O_CC: cfg->flags |= TERN_EP_CC; return 1;
	case APP_O_KEY: cfg->key_file = arg; return 1;
	case APP_O_PEER_KEY: cfg->peer_key_file = arg; return 1;
	case APP_O_ALLOW: cfg->allow_file = arg; return 1;
	case APP_O_PSK: cfg->psk_file = arg; return 1;
	case APP_O_PROTECTION:
		if (strcmp(arg, "none") == 0)
			cfg->protection = TERN_PROT_NONE;
		else if (strcmp(arg, "integrity") == 0)
			cfg->protection = TERN_PROT_INTEGRITY;
		else if (strcmp(arg, "privacy") == 0)
			cfg->protection = TERN_PROT_PRIVACY;
		else {
			fprintf(stderr, "%s: bad --protection '%s': none, integrity or privacy\n",
				a->prog, arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int app_ep_create(struct app *a, struct tern_ep **ep)
{
	const char *driver = a->cfg.driver != NULL ? a->cfg.driver : "udp";
	int rc = tern_ep_create(&a->cfg, ep);
	if (rc == 0)
		return 0;
	/* The log hook said the cause (the driver's line) just above. */
	if (a->cfg.bind != NULL)
		fprintf(stderr, "%s: cannot open %s on %s: %s\n", a->prog, driver, a->cfg.bind,
			strerror(-rc));
	else
		fprintf(stderr, "%s: cannot open %s: %s\n", a->prog, driver, strerror(-rc));
	if (rc == -ENOENT)
		fprintf(stderr, "%s: drivers built into libtern: %s\n", a->prog, tern_drivers());
	return rc;
}

int app_connect(struct app *a, struct tern_ep *ep, const char *server, uint64_t timeout_ns,
		struct tern_session **s)
{
	int rc = tern_connect(ep, server, s);
	if (rc == 0)
		rc = tern_session_wait(*s, timeout_ns);
	if (rc == 0)
		return 0;
	if (*s != NULL)
		tern_session_close(*s);
	*s = NULL;
	/* A bad address was logged by tern_connect: "PROG: tern_connect: ...". */
	fprintf(stderr, "%s: cannot reach %s: %s%s\n", a->prog, server, strerror(-rc),
		rc == -EACCES ? " (the server refused the handshake: its key, the allow-list, "
				"the PSK or the protection level)"
			      : rc == -ETIMEDOUT ? " (is the server running and reachable?)" : "");
	return rc;
}

void app_serve(struct app *a, struct tern_ep *ep)
{
	char addr[64];
	app_catch_signals();
	printf("%s: listening on %s (%s)\n", a->prog, tern_ep_addr(ep, addr, sizeof(addr)),
	       a->cfg.driver != NULL ? a->cfg.driver : "udp");
	fflush(stdout);
	while (!stop) {
		if (a->cfg.busy_poll)
			(void)tern_poll(ep);
		else
			(void)tern_poll_wait(ep, SERVE_WAIT_NS);
	}
}
