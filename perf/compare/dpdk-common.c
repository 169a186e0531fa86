/*
 * dpdk-common.c — shared plumbing of the bare DPDK baselines: EAL start,
 * one-port bring-up with a bounded wait for link, UDP/IPv4 framing and
 * validation, TSC conversion and the result block. See dpdk-common.h.
 */
#include "dpdk-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "result.h"

volatile sig_atomic_t dp_stop;
double dp_ns_per_cycle;
uint64_t dp_tsc_hz;

static void on_signal(int sig)
{
	(void)sig;
	dp_stop = 1;
}

int dp_eal_init(const char *prog, const char *eal)
{
	enum { MAX_ARGS = 64 };
	static char *argv[MAX_ARGS + 1];
	int argc = 0;
	char *copy = strdup(eal ? eal : ""); /* EAL keeps pointers into it */
	char *save = NULL;

	if (copy == NULL)
		return -1;
	argv[argc++] = (char *)prog;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (argc == MAX_ARGS) {
			fprintf(stderr, "%s: too many --eal words (max %d)\n", prog, MAX_ARGS - 1);
			return -1;
		}
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "%s: rte_eal_init failed: %s\n", prog, rte_strerror(rte_errno));
		return -1;
	}

	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	dp_tsc_init();
	return 0;
}

void dp_tsc_init(void)
{
	dp_tsc_hz = rte_get_tsc_hz();
	dp_ns_per_cycle = 1e9 / (double)dp_tsc_hz;
}

static bool link_up(uint16_t id)
{
	struct rte_eth_link link;
	return rte_eth_link_get_nowait(id, &link) == 0 && link.link_status;
}

int dp_port_init(struct dp_port *p, unsigned nb_mbufs, double timeout_s)
{
	uint16_t id = RTE_MAX_ETHPORTS;
	uint16_t i;
	int ret;

	RTE_ETH_FOREACH_DEV(i)
	{
		id = i;
		break;
	}
	if (id == RTE_MAX_ETHPORTS) {
		fprintf(stderr, "no ethdev: give one with --eal \"... --vdev=net_memif0,...\"\n");
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->id = id;
	rte_eth_dev_get_name_by_port(id, p->name);

	p->mp = rte_pktmbuf_pool_create("dp_pool", nb_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					rte_socket_id());
	if (p->mp == NULL) {
		fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}

	struct rte_eth_dev_info di;
	if ((ret = rte_eth_dev_info_get(id, &di)) != 0) {
		fprintf(stderr, "%s: dev_info: %s\n", p->name, strerror(-ret));
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if ((ret = rte_eth_dev_configure(id, 1, 1, &conf)) != 0) {
		fprintf(stderr, "%s: configure: %s\n", p->name, strerror(-ret));
		return -1;
	}
	uint16_t nrx = 1024, ntx = 1024;
	rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	int sock = rte_eth_dev_socket_id(id);
	if ((ret = rte_eth_rx_queue_setup(id, 0, nrx, sock, NULL, p->mp)) != 0 ||
	    (ret = rte_eth_tx_queue_setup(id, 0, ntx, sock, &di.default_txconf)) != 0) {
		fprintf(stderr, "%s: queue setup: %s\n", p->name, strerror(-ret));
		return -1;
	}
	if ((ret = rte_eth_dev_start(id)) != 0) {
		fprintf(stderr, "%s: start: %s\n", p->name, strerror(-ret));
		return -1;
	}
	rte_eth_promiscuous_enable(id); /* af_packet/af_xdp on veth; fails harmlessly elsewhere */
	rte_eth_macaddr_get(id, &p->mac);

	/* memif connects asynchronously (EAL interrupt thread): wait, bounded. */
	uint64_t deadline = rte_get_tsc_cycles() + dp_sec_to_cycles(timeout_s);
	for (;;) {
		if (link_up(id))
			return 0;
		if (dp_stop) {
			fprintf(stderr, "%s: interrupted while waiting for link\n", p->name);
			break;
		}
		if (timeout_s > 0 && rte_get_tsc_cycles() > deadline) {
			fprintf(stderr, "%s: link still down after %.1f s (is the peer running?)\n", p->name,
				timeout_s);
			break;
		}
		rte_delay_us_sleep(1000);
	}
	dp_port_close(p);
	return -1;
}

int dp_send_frame(struct dp_port *p, const void *frame, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->mp);
	if (m == NULL)
		return -1;
	void *d = rte_pktmbuf_append(m, (uint16_t)len);
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return -1;
	}
	memcpy(d, frame, len);
	uint64_t deadline = rte_get_tsc_cycles() + dp_sec_to_cycles(0.1);
	while (rte_eth_tx_burst(p->id, 0, &m, 1) == 0) {
		if (rte_get_tsc_cycles() > deadline) {
			rte_pktmbuf_free(m);
			return -1;
		}
		rte_delay_us_sleep(100);
	}
	return 0;
}

void dp_linger(void)
{
	rte_delay_us_sleep(50 * 1000);
}

void dp_wait_link_down(struct dp_port *p)
{
	uint64_t deadline = rte_get_tsc_cycles() + dp_sec_to_cycles(2);
	while (link_up(p->id) && !dp_stop && rte_get_tsc_cycles() < deadline)
		rte_delay_us_sleep(1000);
	/* The flag drops before the interrupt thread is done tearing down. */
	rte_delay_us_sleep(20 * 1000);
}

int dp_wait_peer_gone(struct dp_port *p, double wait_up_s)
{
	dp_wait_link_down(p);
	uint64_t deadline = rte_get_tsc_cycles() + dp_sec_to_cycles(wait_up_s);
	while (!link_up(p->id)) {
		if (dp_stop || (wait_up_s > 0 && rte_get_tsc_cycles() > deadline))
			return -1;
		rte_delay_us_sleep(1000);
	}
	return 0;
}

void dp_port_close(struct dp_port *p)
{
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
}

int dp_parse_addr(const char *s, struct dp_addr *out)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	char *end;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return -1;
	out->ip = ntohl(a.s_addr);
	out->port = (uint16_t)port;
	return 0;
}

uint64_t dp_parse_u64(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (s == NULL || errno || *end || end == s || s[0] == '-') {
		fprintf(stderr, "%s: expected a non-negative integer, got '%s'\n", opt, s ? s : "");
		exit(2);
	}
	return v;
}

double dp_parse_double(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = s ? strtod(s, &end) : -1;
	if (s == NULL || errno || *end || end == s || !(v >= 0)) {
		fprintf(stderr, "%s: expected a non-negative number, got '%s'\n", opt, s ? s : "");
		exit(2);
	}
	return v;
}

void dp_frame_init(void *buf, const struct rte_ether_addr *src_mac, const struct rte_ether_addr *dst_mac,
		   struct dp_addr src, struct dp_addr dst, uint16_t payload_len)
{
	struct rte_ether_hdr *e = buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);

	rte_ether_addr_copy(dst_mac, &e->dst_addr);
	rte_ether_addr_copy(src_mac, &e->src_addr);
	e->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*u) + payload_len));
	ip->src_addr = rte_cpu_to_be_32(src.ip);
	ip->dst_addr = rte_cpu_to_be_32(dst.ip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	u->src_port = rte_cpu_to_be_16(src.port);
	u->dst_port = rte_cpu_to_be_16(dst.port);
	u->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*u) + payload_len));
	u->dgram_cksum = 0;
}

void *dp_frame_check(struct rte_mbuf *m, uint16_t dst_port, uint16_t *payload_len)
{
	enum { CONTIG = 16 }; /* payload bytes callers may read from the first segment */

	if (m->data_len < DP_HDR_LEN)
		return NULL;
	struct rte_ether_hdr *e = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	if (e->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ip->version_ihl != RTE_IPV4_VHL_DEF ||
	    ip->next_proto_id != IPPROTO_UDP)
		return NULL;
	uint32_t ip_len = rte_be_to_cpu_16(ip->total_length);
	uint32_t udp_len = rte_be_to_cpu_16(u->dgram_len);
	if (ip_len - sizeof(*ip) - sizeof(*u) > m->pkt_len - DP_HDR_LEN || /* also catches ip_len < 28 */
	    udp_len - sizeof(*u) > ip_len - sizeof(*ip) - sizeof(*u))
		return NULL;
	if (dst_port && u->dst_port != rte_cpu_to_be_16(dst_port))
		return NULL;
	uint32_t plen = udp_len - (uint32_t)sizeof(*u);
	if (DP_HDR_LEN + RTE_MIN(plen, (uint32_t)CONTIG) > m->data_len)
		return NULL;
	*payload_len = (uint16_t)plen;
	return u + 1;
}

long dp_preemptions(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1;
}

void dp_print_latency(const char *title, bool json, const struct hist *h, uint64_t errors,
		      double calls_per_s, const char *extra_json)
{
	result_print(title, json, h, errors, calls_per_s, extra_json);
}

void dp_parse_opts(int argc, char **argv, const char *const roles[2], const struct option *own_lo,
		   void (*own)(int c, const char *arg, void *ctx), void *ctx, void (*usage)(FILE *f),
		   struct dp_opts *co)
{
	static const struct option common[] = {
		{"eal", required_argument, NULL, DP_O_EAL},
		{"bind", required_argument, NULL, DP_O_BIND},
		{"connect", required_argument, NULL, DP_O_CONNECT},
		{"json", no_argument, NULL, DP_O_JSON},
		{"help", no_argument, NULL, DP_O_HELP},
	};
	struct option lo[64];
	size_t n = 0;
	int c;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		lo[n++] = common[i];
	for (; own_lo != NULL && own_lo->name != NULL && n + 1 < sizeof(lo) / sizeof(lo[0]); own_lo++)
		lo[n++] = *own_lo;
	lo[n] = (struct option){NULL, 0, NULL, 0};

	if (argc < 2 || (strcmp(argv[1], roles[0]) && strcmp(argv[1], roles[1]))) {
		usage(stderr);
		exit(2);
	}
	co->first_role = !strcmp(argv[1], roles[0]);
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case DP_O_EAL: co->eal = optarg; break;
		case DP_O_BIND:
		case DP_O_CONNECT:
			if (dp_parse_addr(optarg, c == DP_O_BIND ? &co->bind : &co->connect)) {
				fprintf(stderr, "bad address '%s' (want a.b.c.d:port)\n", optarg);
				exit(2);
			}
			co->bind_set |= c == DP_O_BIND;
			break;
		case DP_O_JSON: co->json = true; break;
		case DP_O_HELP: usage(stdout); exit(0);
		default:
			if (c < DP_O_OWN) {
				usage(stderr);
				exit(2);
			}
			own(c, optarg, ctx);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
}

int dp_run(const char *prog, const char *eal, unsigned nb_mbufs, double timeout_s,
	   int (*run)(struct dp_port *p, void *ctx), void *ctx)
{
	struct dp_port port;
	int rc;

	if (dp_eal_init(prog, eal) != 0)
		return 1;
	if (dp_port_init(&port, nb_mbufs, timeout_s) != 0) {
		rte_eal_cleanup();
		return 1;
	}
	rc = run(&port, ctx);
	dp_port_close(&port);
	rte_eal_cleanup();
	return rc;
}

void dp_say_bye(struct dp_port *p, uint8_t *frame, uint32_t len)
{
	uint64_t bye = DP_BYE;
	memcpy(frame + DP_HDR_LEN, &bye, sizeof(bye));
	if (dp_send_frame(p, frame, len) == 0)
		dp_linger();
}
