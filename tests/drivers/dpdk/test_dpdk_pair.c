/*
 * test_dpdk_pair.c — the dpdk driver between two processes: net_memif
 * (this process is the server, a fork+exec'd peer the client, 2 queue
 * pairs) and net_af_packet / net_af_xdp over a veth pair across network
 * namespaces (netns.sh makes them; the peer runs in the other one). This
 * process runs the flows and checks; the peer echoes, and reports its
 * counters when asked (QUIT -> STATS). The peer dies with us: PDEATHSIG,
 * atexit, signal handlers, and its own deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "check.h"
#include "dpdk/dpdk_priv.h" /* dpdk_arp_lookup: the neighbour table */
#include "dpdk_test.h"
#include "drv_shim.h"

static pid_t child_pid;

/*
 * kind: memif, af_packet or af_xdp; side 'a' (this process, the client of
 * the flows) or 'b' (the echo peer). For memif, where is the socket path;
 * for the others it is unused (the veth names are fixed by netns.sh).
 */
static void pair_eal(char *out, size_t len, const char *kind, char side, const char *where, int id)
{
	char vdev[512];
	if (strcmp(kind, "memif") == 0)
		snprintf(vdev, sizeof(vdev),
			 "--vdev=net_memif0,role=%s,id=0,socket=%s,socket-abstract=no",
			 side == 'a' ? "server" : "client", where);
	else if (strcmp(kind, "af_packet") == 0)
		snprintf(vdev, sizeof(vdev),
			 "--vdev=net_af_packet0,iface=veth-%c,qpairs=1,qdisc_bypass=1", side);
	else
		snprintf(vdev, sizeof(vdev),
			 "--vdev=net_af_xdp0,iface=veth-%c,start_queue=0,queue_count=1", side);
	/* TERN_DPDK_TEST_LOG: extra EAL args, e.g. --log-level=pmd.net.memif:debug */
	const char *extra = getenv("TERN_DPDK_TEST_LOG");
	snprintf(
	    out, len,
	    "-l %d %s --no-pci --file-prefix=tern-dpdk-test-%s-%c-%d %s --log-level=*:warning %s",
	    side == 'a' ? 0 : 1, eal_mem, kind, side, id, extra != NULL ? extra : "", vdev);
}

static const char *vdev_name(const char *kind)
{
	return strcmp(kind, "memif") == 0 ? "net_memif0"
	       : strcmp(kind, "af_packet") == 0 ? "net_af_packet0" : "net_af_xdp0";
}

static unsigned pair_queues(const char *kind)
{
	return strcmp(kind, "memif") == 0 ? 2 : 1;
}

void pair_kill_peer(void)
{
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
		child_pid = 0;
	}
}

void pair_on_signal(int sig)
{
	(void)sig;
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	_exit(1);
}

/* The echo peer: nq endpoints at 10.9.0.2:7000+q until QUIT or its deadline. */
int mode_peer(const char *kind, const char *where, pid_t parent)
{
	char eal[1024], args[128], bind[64], tag[4][24];
	struct tern_drv *d[4] = {0};
	unsigned nq = pair_queues(kind);
	int rc = 0, quit = 0;

	pair_eal(eal, sizeof(eal), kind, 'b', where, (int)parent);
	snprintf(args, sizeof(args), "port=%s,queues=%u", vdev_name(kind), nq);
	for (unsigned q = 0; q < nq; q++) {
		snprintf(bind, sizeof(bind), "10.9.0.2:%u", 7000 + q);
		snprintf(tag[q], sizeof(tag[q]), "peer.q%u", q);
		rc = open_ep(eal, args, bind, q, tag[q], &d[q]);
		if (rc != 0) {
			fprintf(stderr, "peer: open %s queue %u: %s\n", kind, q, strerror(-rc));
			goto out;
		}
	}
	/*
	 * Serve until QUIT, then until QUITs stop coming: the client repeats
	 * QUIT until our STATS answer arrives, and a memif client's close
	 * takes its rings, unread packets included, with it.
	 */
	uint64_t end = now_ns() + 100ull * 1000000000ull, last_quit = 0;
	for (unsigned long it = 0; it < 4000000000ul; it++) {
		int q_now = 0;
		for (unsigned q = 0; q < nq; q++)
			echo_once(d[q], &q_now, d, nq);
		if (q_now) {
			quit = 1;
			last_quit = now_ns();
		}
		if ((it & 0xff) == 0 &&
		    ((quit && now_ns() - last_quit > 500ull * 1000 * 1000) || now_ns() > end ||
		     getppid() != parent))
			break;
	}
	rc = quit ? 0 : -ETIMEDOUT;
	for (unsigned q = 0; q < nq; q++)
		fprintf(stderr, "peer q%u: %s; rx %" PRIu64 " tx %" PRIu64 " drop frame %" PRIu64
			" tx full %" PRIu64 "\n", q, quit ? "quit" : "no QUIT before the deadline",
			d[q]->stats.rx_pkts, d[q]->stats.tx_pkts, d[q]->stats.rx_drop_frame,
			d[q]->stats.tx_drop_full);
out:;
	uint64_t t0 = now_ns();
	for (unsigned q = 0; q < nq; q++)
		if (d[q] != NULL)
			ops->close(d[q]);
	fprintf(stderr, "peer: closed in %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	return rc == 0 ? 0 : 1;
}

static pid_t spawn_peer(const char *kind, const char *where, const char *netns)
{
	char ppid[32];
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
	if (netns != NULL)
		execlp("ip", "ip", "netns", "exec", netns, self_path, "peer", kind, where, ppid,
		       (char *)NULL);
	else
		execl(self_path, self_path, "peer", kind, where, ppid, (char *)NULL);
	_exit(127);
}

static int wait_link(const char *kind, unsigned secs)
{
	uint16_t pid;
	if (rte_eth_dev_get_port_by_name(vdev_name(kind), &pid) != 0)
		return -ENODEV;
	uint64_t end = now_ns() + (uint64_t)secs * 1000000000ull;
	for (unsigned i = 0; i < 100000 && now_ns() < end; i++) {
		struct rte_eth_link l;
		if (rte_eth_link_get_nowait(pid, &l) == 0 && l.link_status == RTE_ETH_LINK_UP)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static const char *pair_kind;
static char pair_where[256];
static char pair_ns[64];
static struct tern_drv *pa[4];
static unsigned pair_nq;

static void pair__flows(void)
{
	char eal[1024], args[160], bind[64];
	const char *kind = pair_kind;
	pair_nq = pair_queues(kind);
	int multiseg_pmd = strcmp(kind, "af_xdp") != 0;

	pair_eal(eal, sizeof(eal), kind, 'a', pair_where, (int)getpid());
	printf("# EAL a: %s\n", eal);
	for (unsigned q = 0; q < pair_nq; q++) {
		/* The last queue sends big payloads zero copy (where the PMD chains). */
		snprintf(args, sizeof(args), "port=%s,queues=%u%s", vdev_name(kind), pair_nq,
			 q == pair_nq - 1 ? ",zc_threshold=512" : "");
		snprintf(bind, sizeof(bind), "10.9.0.1:%u", 7000 + q);
		REQUIRE(open_ep(eal, args, bind, q, q ? "a.q1" : "a.q0", &pa[q]) == 0);
		CHECK_EQ(!!(pa[q]->info.caps & TERN_DRV_CAP_MULTISEG), multiseg_pmd);
		CHECK_EQ(!!(pa[q]->info.caps & TERN_DRV_CAP_ZC_TX),
			 multiseg_pmd && q == pair_nq - 1);
	}
	child_pid = spawn_peer(kind, pair_where, pair_ns[0] ? pair_ns : NULL);
	REQUIRE(child_pid > 0);
	CHECK_EQ(wait_link(kind, 30), 0);

	/* First contact on queue 0 goes through ARP; the other queues share the table. */
	struct tern_addr dst = addr("10.9.0.2:7000");
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	struct tern_tx tx = {.dst = &dst, .hdr = hdr, .hdr_len = TEST_HDR};
	CHECK_EQ(ops->tx_burst(pa[0], &tx, 1), 1);
	CHECK_EQ(pa[0]->stats.tx_drop_noroute, 1);
	REQUIRE(arp_resolve(pa[0], "10.9.0.2:7000", NULL, 0, 30) == 0);
	CHECK(pa[0]->stats.arp_rx >= 1);
	for (unsigned q = 1; q < pair_nq; q++) {
		char d[32];
		snprintf(d, sizeof(d), "10.9.0.2:%u", 7000 + q);
		struct tern_addr a = addr(d);
		tx.dst = &a;
		CHECK_EQ(ops->tx_burst(pa[q], &tx, 1), 1);
		CHECK_EQ(pa[q]->stats.tx_drop_noroute, 0); /* resolved by queue 0's ARP */
	}

	struct flow *f[4];
	for (unsigned q = 0; q < pair_nq; q++) {
		char d[32];
		snprintf(d, sizeof(d), "10.9.0.2:%u", 7000 + q);
		f[q] = calloc(1, sizeof(*f[q]));
		REQUIRE(f[q] != NULL);
		REQUIRE(flow_init(f[q], q ? "q1" : "q0", pa[q], d, 2000, q == pair_nq - 1, 1) == 0);
	}
	CHECK_EQ(flows_run(f, pair_nq, NULL, 0, 60), 0);
	for (unsigned q = 0; q < pair_nq; q++) {
		CHECK_EQ(f[q]->bad, 0);
		flow_report(f[q]);
		flow_fini(f[q]);
		free(f[q]);
	}
	CHECK_EQ(drv_shim_refs, 0); /* these PMDs copy at TX and free at once */
}

static void pool_dump(struct rte_mempool *mp, void *arg)
{
	(void)arg;
	fprintf(stderr, "pool %s: %u available, %u in use\n", mp->name, rte_mempool_avail_count(mp),
		rte_mempool_in_use_count(mp));
}

static void pair__malformed_and_stats(void)
{
	REQUIRE(pa[0] != NULL && child_pid > 0);
	uint16_t pid;
	REQUIRE(rte_eth_dev_get_port_by_name(vdev_name(pair_kind), &pid) == 0);
	struct tern_addr peer = addr("10.9.0.2:7000");
	struct tern_rx rx[32];
	/* The peer's MAC, from the process-wide neighbour table once ARP ran. */
	REQUIRE(arp_resolve(pa[0], "10.9.0.2:7000", NULL, 0, 5) == 0);
	struct rte_ether_addr peer_mac;
	uint32_t peer_ip;
	memcpy(&peer_ip, peer.ip, 4);
	REQUIRE(dpdk_arp_lookup(pid, peer_ip, &peer_mac) == 1);
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	struct tern_tx tx = {.dst = &peer, .hdr = hdr, .hdr_len = TEST_HDR};

	/* This thread owns queue 0: injecting on it between driver calls is safe. */
	struct rte_mbuf *m[INJ_COUNT];
	REQUIRE(inj_make(m, &pa[0]->info.local, pa[0]->info.lladdr, &peer,
			 peer_mac.addr_bytes) == INJ_COUNT);
	uint16_t sent = rte_eth_tx_burst(pid, 0, m, INJ_COUNT);
	if (sent < INJ_COUNT)
		rte_pktmbuf_free_bulk(m + sent, INJ_COUNT - sent);
	CHECK_EQ(sent, INJ_COUNT);

	/* Then QUIT until the peer answers with its counters. */
	struct tern_drv_stats ps[4];
	int got = 0;
	inj_seen = 0;
	uint64_t end = now_ns() + 20ull * 1000000000ull, last = 0;
	struct test_hdr q = {MAGIC_QUIT, 0, TEST_HDR, TEST_HDR};
	memcpy(hdr, &q, sizeof(q));
	tx.dst = &peer;
	for (unsigned long it = 0; !got && it < 100000000ul && now_ns() < end; it++) {
		if (now_ns() - last > 50ull * 1000 * 1000) {
			last = now_ns();
			ops->tx_burst(pa[0], &tx, 1);
		}
		unsigned n = ops->rx_burst(pa[0], rx, 32);
		for (unsigned k = 0; k < n; k++) {
			struct test_hdr h;
			if (rx[k].len < sizeof(h))
				continue;
			memcpy(&h, rx[k].data, sizeof(h));
			if (h.magic == MAGIC_INJ)
				inj_seen++;
			if (h.magic == MAGIC_STATS && h.seq == pair_nq &&
			    rx[k].len == TEST_HDR + pair_nq * sizeof(struct tern_drv_stats)) {
				memcpy(ps, (const uint8_t *)rx[k].data + TEST_HDR,
				       pair_nq * sizeof(struct tern_drv_stats));
				got = 1;
			}
		}
		ops->rx_done(pa[0], rx, n);
	}
	if (!got) {
		int st = 0;
		pid_t w = waitpid(child_pid, &st, WNOHANG);
		fprintf(stderr, "no STATS from the peer: %s (status 0x%x); our rx %" PRIu64
			" drop frame %" PRIu64 " tx full %" PRIu64 "\n",
			w == child_pid ? "it exited" : "still running", st, pa[0]->stats.rx_pkts,
			pa[0]->stats.rx_drop_frame, pa[0]->stats.tx_drop_full);
		if (w == child_pid)
			child_pid = 0;
		struct rte_eth_stats es;
		if (rte_eth_stats_get(pid, &es) == 0)
			fprintf(stderr,
				"port: ipackets %" PRIu64 " opackets %" PRIu64 " imissed %" PRIu64
				" ierrors %" PRIu64 " rx_nombuf %" PRIu64 " q0 in %" PRIu64
				" q1 in %" PRIu64 "\n",
				es.ipackets, es.opackets, es.imissed, es.ierrors, es.rx_nombuf,
				es.q_ipackets[0], es.q_ipackets[1]);
		rte_mempool_walk(pool_dump, NULL);
	}
	REQUIRE(got);
	CHECK_EQ(inj_seen, 2);
	/*
	 * Exactly: netns.sh keeps the kernel quiet on the veths (no IPv6, no
	 * addresses). af_packet's fanout group has PACKET_FANOUT_FLAG_DEFRAG:
	 * the kernel holds our lone fragment for reassembly, the PMD never
	 * sees it.
	 */
	CHECK_EQ(ps[0].rx_drop_frame, INJ_BAD - (strcmp(pair_kind, "af_packet") == 0));
	for (unsigned k = 0; k < pair_nq; k++) {
		CHECK_EQ(ps[k].tx_drop_noroute, 0); /* the peer answers from rx.src's MAC */
		CHECK(ps[k].rx_pkts >= 2000);
		printf("#   peer q%u: rx %" PRIu64 " tx %" PRIu64 " arp rx %" PRIu64 " tx %" PRIu64
		       " drop frame %" PRIu64 " full %" PRIu64 "\n",
		       k, ps[k].rx_pkts, ps[k].tx_pkts, ps[k].arp_rx, ps[k].arp_tx,
		       ps[k].rx_drop_frame, ps[k].tx_drop_full);
	}
	CHECK(ps[0].arp_rx >= 1 && ps[0].arp_tx >= 1);

	int status = -1;
	for (int i = 0; i < 500; i++) {
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = 0;
			break;
		}
		usleep(10000);
	}
	CHECK(child_pid == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void pair__close(void)
{
	for (unsigned q = 0; q < pair_nq; q++)
		if (pa[q] != NULL)
			ops->close(pa[q]);
	CHECK_EQ(drv_shim_refs, 0);
}

int mode_pair(const char *kind, const char *netns)
{
	pair_kind = kind;
	if (strcmp(kind, "memif") == 0)
		snprintf(pair_where, sizeof(pair_where), "/tmp/tern-dpdk-test-%d.sock",
			 (int)getpid());
	else
		snprintf(pair_where, sizeof(pair_where), "-");
	snprintf(pair_ns, sizeof(pair_ns), "%s", netns != NULL ? netns : "");
	RUN(pair__flows);
	RUN(pair__malformed_and_stats);
	RUN(pair__close);
	pair_kill_peer();
	if (strcmp(kind, "memif") == 0)
		unlink(pair_where);
	return check_exit();
}
