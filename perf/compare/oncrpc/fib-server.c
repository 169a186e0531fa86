/*
 * oncrpc-fib-server (fib-server.c) — the ONC RPC FIBCALCULATION server (fib.x) over libtirpc,
 * on fixed ports and without rpcbind.
 *
 *   oncrpc-fib-server [--bind IP] [--udp PORT] [--tcp PORT] [--max-time S]
 *
 * Serves CALCULATE_FIB on a UDP socket and a TCP socket (either may be
 * turned off with port 0) bound to IP:PORT, created here and handed to
 * svcudp_create / svctcp_create; svc_register with protocol 0 leaves the
 * portmapper out, so clients must be told the port (oncrpc-fib-client does). One
 * thread, libtirpc's own loop (svc_run: poll, then recv): ONC RPC as it
 * runs, blocking, no busy polling. Exits on SIGINT/SIGTERM, or after
 * --max-time seconds (default 900) so it can never be left behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rpc/rpc.h>

#include "fib.h"

/* The dispatch function rpcgen -m writes (fib_svc.c); fib.h does not declare it. */
void fibcalculation_1(struct svc_req *rqstp, SVCXPRT *transp);

/* fib(n) by iteration; n past 46 overflows int32 (the result is only a load). */
bool_t calculate_fib_1_svc(int *argp, int *result, struct svc_req *rqstp)
{
	(void)rqstp;
	int a = 0, b = 1;
	for (int i = 0; i < *argp; i++) {
		int t = (int)((unsigned)a + (unsigned)b);
		a = b;
		b = t;
	}
	*result = a;
	return TRUE;
}

int fibcalculation_1_freeresult(SVCXPRT *transp, xdrproc_t xdr_result, caddr_t result)
{
	(void)transp;
	xdr_free(xdr_result, result);
	return 1;
}

/* A socket of type bound to ip:port (and listening, for TCP), or -1. */
static int bound_socket(int type, const char *ip, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		fprintf(stderr, "oncrpc-fib-server: bad address %s\n", ip);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) != 0)) {
		fprintf(stderr, "oncrpc-fib-server: %s %s:%d: %s\n", type == SOCK_STREAM ? "tcp" : "udp", ip,
			port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: oncrpc-fib-server [--bind IP] [--udp PORT] [--tcp PORT] [--max-time S]\n"
		   "defaults: --bind 127.0.0.1 --udp 31880 --tcp 31881 --max-time 900 (port 0: off)\n");
}

static void on_signal(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"bind", required_argument, NULL, 'b'},
		{"udp", required_argument, NULL, 'u'},
		{"tcp", required_argument, NULL, 't'},
		{"max-time", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *ip = "127.0.0.1";
	int udp = 31880, tcp = 31881, max_time = 900, c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': ip = optarg; break;
		case 'u': udp = atoi(optarg); break;
		case 't': tcp = atoi(optarg); break;
		case 'm': max_time = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || udp < 0 || udp > 65535 || tcp < 0 || tcp > 65535 || (!udp && !tcp)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	if (max_time > 0)
		alarm((unsigned)max_time);

	if (udp) {
		int fd = bound_socket(SOCK_DGRAM, ip, udp);
		SVCXPRT *x = fd < 0 ? NULL : svcudp_create(fd);
		/* protocol 0: not registered with the portmapper */
		if (x == NULL || !svc_register(x, FIBCALCULATION, FIBVERS, fibcalculation_1, 0)) {
			fprintf(stderr, "oncrpc-fib-server: cannot serve udp %s:%d\n", ip, udp);
			return 1;
		}
	}
	if (tcp) {
		int fd = bound_socket(SOCK_STREAM, ip, tcp);
		SVCXPRT *x = fd < 0 ? NULL : svctcp_create(fd, 0, 0);
		if (x == NULL || !svc_register(x, FIBCALCULATION, FIBVERS, fibcalculation_1, 0)) {
			fprintf(stderr, "oncrpc-fib-server: cannot serve tcp %s:%d\n", ip, tcp);
			return 1;
		}
	}
	fprintf(stderr, "oncrpc-fib-server: serving FIBCALCULATION on %s udp %d tcp %d\n", ip, udp, tcp);
	svc_run();
	fprintf(stderr, "oncrpc-fib-server: svc_run returned\n");
	return 1;
}
