/*
 * dpdk.c — the dpdk driver's control path: EAL bring-up, port and queue
 * setup, open/close, DMA-able memory. Works with any ethdev: a NIC by PCI
 * address, or the vdevs that run anywhere (net_memif, net_af_xdp,
 * net_af_packet, net_ring, net_tap). No vendor is named here.
 *
 * Process-wide state — the EAL, the port records, the vdev list — changes
 * only under dpdk_lock, in open and close. The EAL is initialised by the
 * first open from cfg->eal and is never torn down (rte_eal_cleanup cannot
 * be undone in a process); later opens reuse it. A port is configured and
 * started by the first open that names it, with queues=N queue pairs and
 * one mempool per queue; each endpoint takes queue cfg->queue; the last
 * close stops and closes the port. A vdev the EAL args created is also
 * unplugged then and re-created from those args by a later open, so an
 * application can destroy and re-create its endpoints.
 *
 * Arguments (cfg->args, "k=v,..."):
 *   port=NAME|N       ethdev by name (net_memif0, 0000:3b:00.0) or index;
 *                     default: the first port
 *   port=ringpair:NAME:a|b
 *                     one side of an in-process net_ring pair: two ethdevs
 *                     joined by two rte_rings (what side a sends, side b
 *                     receives), created by the first open of either side;
 *                     joins two endpoints of one process with no NIC, no
 *                     vdev and no copy (one queue pair)
 *   queues=N          queue pairs, set by the first open of the port (1..64)
 *   mtu=N             largest tern packet = UDP payload (256..9000); default
 *                     cfg->mtu, else 1472 (a 1500-byte IP MTU)
 *   zc_threshold=N    payloads of >= N bytes that live in a msgbuf are sent
 *                     zero copy (extbuf); 0 (default) = always copy; ignored
 *                     without multi-segment TX (af_xdp)
 *   memif_wait=S      a net_memif client (role=client, memif's default)
 *                     whose server is not up yet retries for up to S
 *                     seconds (default 10, 0..3600; 0 = fail at once) before
 *                     the open fails with -ECONNREFUSED: start the server
 *                     first, or within S seconds of the client
 * cfg->bind is "ipv4:port": this endpoint's IP (answered in ARP) and UDP
 * port (0: 31850 + queue); required. cfg->eal is split like a shell would
 * (blanks, '...', "...", backslash); dpdk_eal.c starts the EAL from it and
 * says why when it does not start.
 *
 * Threading: rte_eal_init pins the calling thread to the main lcore's
 * CPUs (DPDK's behaviour, kept: it is what -l asks for). open registers a
 * non-EAL calling thread with rte_thread_register so mempool caches work
 * (the lcore id stays taken after the thread ends: DPDK has 128).
 *
 * Limits: a PCI port closed by its last queue is not re-probed (only EAL
 * --vdev devices are re-created); a pool whose mbufs are still out at
 * close (a net_ring peer holds them, af_xdp's fill ring keeps them) is
 * kept rather than freed, and logged. DPDK's own log lines go where the
 * EAL's --log-level / --syslog send them, not through the tern log hook.
 *
 * net_memif peer disconnects (DPDK 22.11, unchanged upstream): when the
 * peer goes away, the EAL interrupt thread runs memif_disconnect(), which
 * clears ETH_MEMIF_FLAG_CONNECTED and then munmaps the shared regions; a
 * thread already inside rte_eth_rx_burst()/tx_burst() on the port has
 * tested that flag and reads the unmapped ring (SIGSEGV at
 * librte_net_memif.so.23.0+0x8b03, ring->head). The PMD raises no LSC
 * event and offers no lock. Between tern endpoints, the last close of a
 * memif port first asks the peer to stop bursting (dpdk_quiesce.c); a
 * peer that dies without closing, or one that is not tern, still exposes
 * us to the race. contrib/memif-race reproduces it without tern.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_ring.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk_priv.h"

#define NB_DESC      1024u  /* default RX/TX descriptors per queue */
#define POOL_CACHE   256u
#define ZC_RING_SIZE 1024u  /* extbufs in flight per queue (ring capacity + 1) */
#define MTU_MIN      256u   /* a control header (192) and a trailer (32) must fit */
#define MTU_MAX      9000u
#define CLOSE_WAIT_US 100000u /* bound on waiting for extbufs at close */
#define MEMIF_WAIT_DEF 10u    /* s: a memif client waits this long for its server */
#define MEMIF_WAIT_MAX 3600u
#define MEMIF_RETRY_US 50000u /* between start attempts while waiting */
#define LINK_WAIT_US  1000000u /* a started memif client's handshake, at most */

static pthread_mutex_t dpdk_lock = PTHREAD_MUTEX_INITIALIZER;

static struct dpdk_port *ports[RTE_MAX_ETHPORTS];
static unsigned name_gen; /* keeps pool and ring names unique across re-creation */

/* Arguments after parsing "k=v,..."; 0 = not given. */
struct dpdk_args {
	char port[RTE_ETH_NAME_MAX_LEN];
	uint32_t queues;
	uint32_t mtu;
	uint32_t zc_threshold;
	uint32_t memif_wait; /* seconds */
};

struct args_ctx {
	struct dpdk_drv *d;
	struct dpdk_args *a;
};

static int args_kv(const char *k, const char *v, void *arg)
{
	struct args_ctx *c = arg;
	int rc = 0;

	if (strcmp(k, "port") == 0) {
		if (v[0] == '\0' || strlen(v) >= sizeof(c->a->port))
			rc = -EINVAL;
		else
			snprintf(c->a->port, sizeof(c->a->port), "%s", v);
	} else if (strcmp(k, "queues") == 0) {
		return tern_arg_u32(&c->d->base, k, v, 1, DPDK_MAX_QUEUES, 0, &c->a->queues);
	} else if (strcmp(k, "mtu") == 0) {
		return tern_arg_u32(&c->d->base, k, v, 0, UINT32_MAX, 0, &c->a->mtu);
	} else if (strcmp(k, "zc_threshold") == 0) {
		return tern_arg_u32(&c->d->base, k, v, 0, UINT32_MAX, 0, &c->a->zc_threshold);
	} else if (strcmp(k, "memif_wait") == 0) {
		return tern_arg_u32(&c->d->base, k, v, 0, MEMIF_WAIT_MAX, 0, &c->a->memif_wait);
	} else {
		tern_drv_log(&c->d->base, TERN_LOG_ERR,
			     "dpdk: unknown argument \"%s\" (known: port, queues, mtu, zc_threshold, "
			     "memif_wait)",
			     k);
		return -EINVAL;
	}
	if (rc != 0)
		tern_drv_log(&c->d->base, TERN_LOG_ERR, "dpdk: bad value \"%s\" for %s", v, k);
	return rc;
}

/* A port by name or by decimal index. */
static int port_by_name(const char *name, uint16_t *pid)
{
	uint32_t idx;
	if (tern_arg_u32(NULL, NULL, name, 0, UINT32_MAX, 0, &idx) == 0) {
		if (idx >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)idx))
			return -ENODEV;
		*pid = (uint16_t)idx;
		return 0;
	}
	return rte_eth_dev_get_port_by_name(name, pid) == 0 ? 0 : -ENODEV;
}

/* Re-create a vdev from its EAL spec (closed by an earlier last close). */
static int vdev_revive(struct dpdk_drv *d, const char *spec)
{
	int rc = rte_dev_probe(spec);
	if (rc != 0)
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: re-creating vdev \"%s\" failed: %s",
			     spec, rte_strerror(-rc));
	return rc;
}

/*
 * port=ringpair:NAME:a|b — the two sides of an in-process net_ring pair.
 * rte_eth_from_rings names its ports "net_ring_<name>"; the rings outlive
 * the ports (a later open finds them with rte_ring_lookup).
 */
static int ring_pair_port(struct dpdk_drv *d, const char *spec, uint16_t *pid)
{
	char base[20], want[RTE_ETH_NAME_MAX_LEN];
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof(base) ||
	    (strcmp(colon + 1, "a") != 0 && strcmp(colon + 1, "b") != 0)) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: port=ringpair:NAME:a|b, not \"%s\"", spec);
		return -EINVAL;
	}
	memcpy(base, spec, (size_t)(colon - spec));
	base[colon - spec] = '\0';
	snprintf(want, sizeof(want), "net_ring_%s_%s", base, colon + 1);
	if (rte_eth_dev_get_port_by_name(want, pid) == 0)
		return 0;
	char ra[RTE_RING_NAMESIZE], rb[RTE_RING_NAMESIZE], pa[32], pb[32];
	snprintf(ra, sizeof(ra), "tern_%s_ab", base);
	snprintf(rb, sizeof(rb), "tern_%s_ba", base);
	snprintf(pa, sizeof(pa), "%s_a", base);
	snprintf(pb, sizeof(pb), "%s_b", base);
	struct rte_ring *ab = rte_ring_lookup(ra), *ba = rte_ring_lookup(rb);
	if (ab == NULL)
		ab = rte_ring_create(ra, 4096, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ba == NULL)
		ba = rte_ring_create(rb, 4096, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ab == NULL || ba == NULL) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: ring pair %s: no rings: %s", base,
			     rte_strerror(rte_errno));
		return -ENOMEM;
	}
	uint16_t tmp;
	char name_a[RTE_ETH_NAME_MAX_LEN], name_b[RTE_ETH_NAME_MAX_LEN];
	snprintf(name_a, sizeof(name_a), "net_ring_%s", pa);
	snprintf(name_b, sizeof(name_b), "net_ring_%s", pb);
	if (rte_eth_dev_get_port_by_name(name_a, &tmp) != 0 &&
	    rte_eth_from_rings(pa, &ba, 1, &ab, 1, rte_socket_id()) < 0)
		goto err;
	if (rte_eth_dev_get_port_by_name(name_b, &tmp) != 0 &&
	    rte_eth_from_rings(pb, &ab, 1, &ba, 1, rte_socket_id()) < 0)
		goto err;
	if (rte_eth_dev_get_port_by_name(want, pid) == 0)
		return 0;
err:
	tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: ring pair %s: %s", base, rte_strerror(rte_errno));
	return -ENODEV;
}

static int port_find(struct dpdk_drv *d, const char *name, uint16_t *pid)
{
	if (strncmp(name, "ringpair:", 9) == 0)
		return ring_pair_port(d, name + 9, pid);
	if (name[0] != '\0') {
		const char *spec;
		if (port_by_name(name, pid) == 0)
			return 0;
		if ((spec = dpdk_vdev_find(name)) != NULL && vdev_revive(d, spec) == 0 &&
		    port_by_name(name, pid) == 0)
			return 0;
		char list[256] = "";
		size_t o = 0;
		uint16_t p;
		RTE_ETH_FOREACH_DEV(p) {
			char pn[RTE_ETH_NAME_MAX_LEN];
			if (rte_eth_dev_get_name_by_port(p, pn) == 0 && o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, " %s", pn);
		}
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: no port \"%s\" (ports:%s)", name,
			     o != 0 ? list : " none");
		return -ENODEV;
	}
	for (int pass = 0; pass < 2; pass++) {
		uint16_t p;
		RTE_ETH_FOREACH_DEV(p) {
			*pid = p;
			return 0;
		}
		/* None left: the first vdev of the EAL args may have been closed. */
		if (pass != 0 || dpdk_vdev_first() == NULL || vdev_revive(d, dpdk_vdev_first()) != 0)
			break;
	}
	tern_drv_log(&d->base, TERN_LOG_ERR,
		     "dpdk: no ethdev port (give the EAL a NIC or a --vdev=, or port=)");
	return -ENODEV;
}

/* Stop and close a port, free its pools: failed setup or last queue closed. */
static void port_teardown(struct dpdk_drv *d, struct dpdk_port *p, int started)
{
	struct rte_eth_dev_info di;
	struct rte_device *dev = NULL;
	char name[RTE_ETH_NAME_MAX_LEN] = "";

	if (rte_eth_dev_info_get(p->port_id, &di) == 0)
		dev = di.device;
	rte_eth_dev_get_name_by_port(p->port_id, name);
	if (started)
		dpdk_quiesce_peer(d, p, name); /* memif: the peer's bursts end before ours */
	if (started && rte_eth_dev_stop(p->port_id) != 0)
		tern_drv_log(&d->base, TERN_LOG_WARN, "dpdk: stopping port %s failed", name);
	if (rte_eth_dev_close(p->port_id) != 0)
		tern_drv_log(&d->base, TERN_LOG_WARN, "dpdk: closing port %s failed", name);
	/* Unplug a vdev we can re-create, so a later open probes it afresh. */
	if (dev != NULL && dpdk_vdev_find(name) != NULL && rte_dev_remove(dev) != 0)
		tern_drv_log(&d->base, TERN_LOG_WARN, "dpdk: removing vdev %s failed", name);
	dpdk_arp_forget_port(p->port_id);
	for (unsigned q = 0; q < p->nq; q++) {
		if (p->mp[q] == NULL)
			continue;
		/* A peer (net_ring) may still hold our mbufs: leak rather than corrupt. */
		if (rte_mempool_in_use_count(p->mp[q]) == 0)
			rte_mempool_free(p->mp[q]);
		else
			tern_drv_log(&d->base, TERN_LOG_WARN,
				     "dpdk: %s queue %u: %u mbufs still in use; pool kept", name, q,
				     rte_mempool_in_use_count(p->mp[q]));
	}
	ports[p->port_id] = NULL;
	free(p);
}

/*
 * A net_memif client: 1, with its socket's name in sock; else 0. memif's
 * default role is client and its default socket /run/memif.sock.
 */
static int memif_client(const struct rte_eth_dev_info *di, char *sock, size_t len)
{
	const struct rte_devargs *da = di->device != NULL ? rte_dev_devargs(di->device) : NULL;
	const char *args = da != NULL && da->args != NULL ? da->args : "";
	const char *role = strstr(args, "role=");
	const char *so = strstr(args, "socket=");
	if (di->driver_name == NULL || strcmp(di->driver_name, "net_memif") != 0)
		return 0;
	if (role != NULL && strncmp(role + 5, "client", 6) != 0 && strncmp(role + 5, "slave", 5) != 0)
		return 0;
	if (so != NULL)
		snprintf(sock, len, "%.*s", (int)strcspn(so + 7, ","), so + 7);
	else
		snprintf(sock, len, "/run/memif.sock");
	return 1;
}

/* 1 if the link of port pid is up within us microseconds, else 0. */
static int link_up_within(uint16_t pid, uint64_t us)
{
	for (uint64_t t = 0;; t += 1000) {
		struct rte_eth_link link;
		if (rte_eth_link_get_nowait(pid, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
			return 1;
		if (t >= us)
			return 0;
		rte_delay_us_sleep(1000);
	}
}

/*
 * Start the port. A memif client cannot start before its server listens
 * (the start connects to the server's socket and fails with EPERM), and a
 * server whose socket exists but whose port is not started yet drops it
 * ("ID not found"; memif clients do not reconnect by themselves). So a
 * memif client retries, start and then link up, for up to wait_s seconds,
 * with memif's own log lines silenced after the first failure, then gives
 * up with -ECONNREFUSED. wait_s 0: one start, no retry.
 */
static int port_start(struct dpdk_drv *d, uint16_t pid, const char *name,
		      const struct rte_eth_dev_info *di, uint32_t wait_s)
{
	char sock[128];
	int rc = rte_eth_dev_start(pid);
	int memif = memif_client(di, sock, sizeof(sock));
	if (rc == 0 && (!memif || wait_s == 0 || link_up_within(pid, LINK_WAIT_US)))
		return 0;
	if (!memif) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: starting port %s failed: %s", name,
			     rte_strerror(-rc));
		return rc;
	}
	int accepted = rc == 0; /* the socket connected, the link did not come up */
	if (wait_s != 0) {
		tern_drv_log(&d->base, TERN_LOG_WARN,
			     "dpdk: %s: no memif server on socket %s yet; waiting up to %u s for it "
			     "(start the server first; driver argument memif_wait=S)",
			     name, sock, wait_s);
		int lt = rte_log_register("pmd.net.memif");
		int level = lt >= 0 ? rte_log_get_level((uint32_t)lt) : -1;
		if (level > 0)
			rte_log_set_level((uint32_t)lt, RTE_LOG_CRIT);
		uint64_t hz = rte_get_timer_hz(), t0 = rte_get_timer_cycles();
		for (;;) {
			if (rc == 0 && rte_eth_dev_stop(pid) != 0)
				break;
			if (rte_get_timer_cycles() - t0 >= wait_s * hz)
				break;
			rte_delay_us_sleep(MEMIF_RETRY_US);
			rc = rte_eth_dev_start(pid);
			accepted |= rc == 0;
			if (rc == 0 && link_up_within(pid, LINK_WAIT_US))
				break;
		}
		if (level > 0)
			rte_log_set_level((uint32_t)lt, (uint32_t)level);
		struct rte_eth_link link;
		if (rc == 0 && rte_eth_link_get_nowait(pid, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP) {
			tern_drv_log(&d->base, TERN_LOG_INFO, "dpdk: %s: memif server up after %.1f s",
				     name, (double)(rte_get_timer_cycles() - t0) / (double)hz);
			return 0;
		}
		if (rc == 0)
			rte_eth_dev_stop(pid);
	}
	if (accepted)
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: %s: the memif server on socket %s did not bring the link up "
			     "within %u s: is its port started, with the same id=?",
			     name, sock, wait_s);
	else
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: %s: no memif server on socket %s after %u s: start the server "
			     "(role=server, the same socket= and socket-abstract=) before the client, "
			     "or let the client wait longer (driver argument memif_wait=S)",
			     name, sock, wait_s);
	return -ECONNREFUSED;
}

/* cfg->bind: a concrete IPv4 address (ARP answers for it, RX accepts only
 * it) and a port. 0 or -EINVAL, said why. */
static int bind_parse(struct dpdk_drv *d, const char *bind, struct tern_addr *local)
{
	char why[384];
	if (bind == NULL) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: no bind address: the dpdk driver needs this endpoint's own IPv4 "
			     "address and UDP port, e.g. 10.0.0.2:31851 (--bind in tern-perf and the "
			     "apps); it answers ARP for that address");
		return -EINVAL;
	}
	int rc = tern_addr_parse_why(bind, local, why, sizeof(why));
	if (rc != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: bind %s", why);
		return rc;
	}
	if (local->family != AF_INET) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: bind \"%s\": the dpdk driver speaks IPv4 only", bind);
		return -EINVAL;
	}
	if (memcmp(local->ip, "\0\0\0\0", 4) == 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: bind \"%s\": the dpdk driver needs this endpoint's own IPv4 "
			     "address (it answers ARP for it), not 0.0.0.0",
			     bind);
		return -EINVAL;
	}
	return 0;
}

/* Configure and start port pid with a->queues queue pairs for tern packets of mtu bytes. */
static int port_setup(struct dpdk_drv *d, uint16_t pid, const struct dpdk_args *a, uint32_t mtu,
		      uint32_t rx_ring, struct dpdk_port **out)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	char name[RTE_ETH_NAME_MAX_LEN] = "";
	uint32_t nq = a->queues != 0 ? a->queues : 1;
	int rc;

	rte_eth_dev_get_name_by_port(pid, name);
	rc = rte_eth_dev_info_get(pid, &di);
	if (rc != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: port %s: no device info", name);
		return rc;
	}
	if (nq > di.max_rx_queues || nq > di.max_tx_queues) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: port %s has at most %u/%u queues, %u asked", name,
			     di.max_rx_queues, di.max_tx_queues, nq);
		return -EINVAL;
	}
	/* Jumbo tern packets need a larger port MTU; clamp to what the device takes. */
	if (di.max_mtu != 0 && mtu + DPDK_IP_LEN + DPDK_UDP_LEN > di.max_mtu) {
		if (di.max_mtu < MTU_MIN + DPDK_IP_LEN + DPDK_UDP_LEN) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: port %s: max MTU %u is too small", name, di.max_mtu);
			return -EINVAL;
		}
		uint32_t m = di.max_mtu - DPDK_IP_LEN - DPDK_UDP_LEN;
		tern_drv_log(&d->base, TERN_LOG_WARN, "dpdk: port %s: mtu %u reduced to %u", name,
			     mtu, m);
		mtu = m;
	}

	struct dpdk_port *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->port_id = pid;
	p->nq = (uint16_t)nq;
	p->mtu = mtu;
	p->memif = di.driver_name != NULL && strcmp(di.driver_name, "net_memif") == 0;

	memset(&conf, 0, sizeof(conf));
	if (mtu + DPDK_IP_LEN + DPDK_UDP_LEN > RTE_ETHER_MTU)
		conf.rxmode.mtu = mtu + DPDK_IP_LEN + DPDK_UDP_LEN;
	/* Only what the device offers: software vdevs offer little. */
	conf.txmode.offloads = di.tx_offload_capa &
			       (RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
	conf.rxmode.offloads = di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (nq > 1) {
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf != 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	}
	p->tx_offloads = conf.txmode.offloads;
	p->rx_offloads = conf.rxmode.offloads;
	rc = rte_eth_dev_configure(pid, (uint16_t)nq, (uint16_t)nq, &conf);
	if (rc != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: configuring port %s (%u queues) failed: %s", name, nq,
			     rte_strerror(-rc));
		free(p);
		return rc;
	}
	ports[pid] = p; /* from here on, port_teardown undoes everything */

	uint16_t nrx = (uint16_t)(rx_ring != 0 && rx_ring <= 32768 ? rx_ring : NB_DESC);
	uint16_t ntx = NB_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	if (rc != 0)
		goto err_close;
	int sock = rte_eth_dev_socket_id(pid);
	if (sock < 0)
		sock = (int)rte_socket_id();
	/* Room for a whole frame in one mbuf (af_xdp cannot chain), FCS included. */
	uint32_t room = RTE_ALIGN_CEIL(DPDK_HDR_LEN + mtu + RTE_ETHER_CRC_LEN, 64);
	if (room < RTE_MBUF_DEFAULT_DATAROOM)
		room = RTE_MBUF_DEFAULT_DATAROOM;
	/* rx ring + tx ring + bursts in hand + mbufs lent to the core (tx_lend:
	 * at most a transmit batch, 64) + caches, rounded to 2^k - 1
	 * (mempool's optimum). */
	uint32_t nmb =
	    rte_align32pow2(nrx + ntx + 4 * DPDK_BURST + DPDK_LENT + 2 * POOL_CACHE) - 1;
	unsigned gen = name_gen++;

	for (uint32_t q = 0; q < nq; q++) {
		char pn[RTE_MEMPOOL_NAMESIZE];
		snprintf(pn, sizeof(pn), "tern%u_p%u_q%u", gen, pid, q);
		p->mp[q] = rte_pktmbuf_pool_create(
		    pn, nmb, POOL_CACHE,
		    RTE_ALIGN(sizeof(struct dpdk_zc_priv), RTE_MBUF_PRIV_ALIGN),
		    (uint16_t)(RTE_PKTMBUF_HEADROOM + room), sock);
		if (p->mp[q] == NULL) {
			rc = -rte_errno;
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: mempool %s (%u mbufs) failed: %s", pn, nmb,
				     rte_strerror(rte_errno));
			goto err_close;
		}
		struct rte_eth_rxconf rxc = di.default_rxconf;
		rxc.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(pid, (uint16_t)q, nrx, (unsigned)sock, &rxc, p->mp[q]);
		if (rc != 0) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: port %s rx queue %u setup failed: %s", name, q,
				     rte_strerror(-rc));
			goto err_close;
		}
		struct rte_eth_txconf txc = di.default_txconf;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(pid, (uint16_t)q, ntx, (unsigned)sock, &txc);
		if (rc != 0) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: port %s tx queue %u setup failed: %s", name, q,
				     rte_strerror(-rc));
			goto err_close;
		}
	}
	/* No wait for link up: a memif server has no client yet, a cable may be out. */
	rc = port_start(d, pid, name, &di, a->memif_wait);
	if (rc != 0)
		goto err_close;
	rc = rte_eth_macaddr_get(pid, &p->mac);
	if (rc != 0)
		goto err_stop;
	tern_drv_log(
	    &d->base, TERN_LOG_INFO,
	    "dpdk: port %s up: %u queue pairs, %u/%u descriptors, mtu %u, tx offloads 0x%" PRIx64,
	    name, nq, nrx, ntx, mtu, p->tx_offloads);
	*out = p;
	return 0;

err_stop:
	port_teardown(d, p, 1);
	return rc;
err_close:
	port_teardown(d, p, 0);
	return rc;
}

/* Best effort: steer our IP:port to our queue on NICs with rte_flow. */
static struct rte_flow *flow_steer(struct dpdk_drv *d)
{
	struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = d->ip};
	struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = RTE_BE32(0xffffffff)};
	struct rte_flow_item_udp udp_spec = {.hdr.dst_port = d->udp_port};
	struct rte_flow_item_udp udp_mask = {.hdr.dst_port = RTE_BE16(0xffff)};
	struct rte_flow_item pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH},
		{.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
		{.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	struct rte_flow_action_queue queue = {.index = d->queue};
	struct rte_flow_action actions[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	struct rte_flow_error err;

	if (rte_flow_validate(d->port_id, &attr, pattern, actions, &err) != 0) {
		tern_drv_log(&d->base, TERN_LOG_INFO,
			     "dpdk: no flow steering on port %u (%s): the sender picks the queue",
			     d->port_id, err.message != NULL ? err.message : "unsupported");
		return NULL;
	}
	struct rte_flow *f = rte_flow_create(d->port_id, &attr, pattern, actions, &err);
	if (f == NULL)
		tern_drv_log(&d->base, TERN_LOG_WARN, "dpdk: flow steering to queue %u failed: %s",
			     d->queue, err.message != NULL ? err.message : "unknown");
	return f;
}

static int dpdk_open(const struct tern_drv_config *cfg, struct tern_drv **out);
static void dpdk_close(struct tern_drv *drv);

static void *dpdk_mem_alloc(struct tern_drv *drv, size_t len)
{
	struct dpdk_drv *d = dpdk_of(drv);
	int sock = rte_eth_dev_socket_id(d->port_id);
	/* Hugepage-backed and registered with the device: extbufs can point here. */
	return rte_malloc_socket("tern_msg", len, 4096, sock < 0 ? SOCKET_ID_ANY : sock);
}

/* Called after close (the core's regions outlive the instance): needs none. */
static void dpdk_mem_free(void *p, size_t len)
{
	(void)len;
	rte_free(p);
}

const struct tern_drv_ops tern_drv_dpdk = {
	.name = "dpdk",
	.open = dpdk_open,
	.close = dpdk_close,
	.mem_alloc = dpdk_mem_alloc,
	.mem_free = dpdk_mem_free,
	.wait = NULL, /* busy poll only: rx interrupts cost more than they save here */
	.rx_burst = dpdk_rx_burst,
	.rx_done = dpdk_rx_done,
	.tx_burst = dpdk_tx_burst,
	.tx_lend = dpdk_tx_lend,
	.tx_unlend = dpdk_tx_unlend,
};
TERN_DRIVER_REGISTER(tern_drv_dpdk)

static void fill_info(struct dpdk_drv *d, int multiseg)
{
	struct tern_drv_info *in = &d->base.info;
	memset(in, 0, sizeof(*in));
	in->mtu = d->mtu;
	in->caps = (multiseg ? TERN_DRV_CAP_MULTISEG : 0u) |
		   (d->zc_threshold != 0 ? TERN_DRV_CAP_ZC_TX : 0u);
	in->local.family = AF_INET;
	in->local.port = rte_be_to_cpu_16(d->udp_port);
	memcpy(in->local.ip, &d->ip, 4);
	memcpy(in->lladdr, d->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	/* A kernel-bypass round trip is a few µs: RTOs far below the kernel's. */
	in->rto_min_ns = 100 * 1000;
	in->rto_max_ns = 100 * 1000 * 1000;
	in->scan_ns = 10 * 1000;
}

static int dpdk_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	struct dpdk_args a;
	struct tern_addr local;
	struct dpdk_port *p = NULL;
	struct dpdk_drv *d;
	uint16_t pid;
	int rc;

	if (cfg == NULL || out == NULL)
		return -EINVAL;
	if (posix_memalign((void **)&d, RTE_CACHE_LINE_SIZE, sizeof(*d)) != 0)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->base.ops = &tern_drv_dpdk;
	d->base.log = cfg->log;
	d->base.log_ctx = cfg->log_ctx;

	memset(&a, 0, sizeof(a));
	a.memif_wait = MEMIF_WAIT_DEF;
	struct args_ctx ac = {.d = d, .a = &a};
	rc = tern_kv_parse(cfg->args, args_kv, &ac);
	if (rc != 0)
		goto err_free;
	rc = bind_parse(d, cfg->bind, &local);
	if (rc != 0)
		goto err_free;
	if (cfg->queue >= DPDK_MAX_QUEUES) {
		rc = -EINVAL;
		goto err_free;
	}
	uint32_t mtu = a.mtu != 0 ? a.mtu : cfg->mtu != 0 ? cfg->mtu : DPDK_DEF_MTU;
	if (mtu < MTU_MIN || mtu > MTU_MAX) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: mtu %u out of range [%u, %u]", mtu,
			     MTU_MIN, MTU_MAX);
		rc = -EINVAL;
		goto err_free;
	}
	memcpy(&d->ip, local.ip, 4);
	d->udp_port = rte_cpu_to_be_16(local.port != 0 ? local.port
						       : (uint16_t)(DPDK_DEF_PORT + cfg->queue));
	d->queue = (uint16_t)cfg->queue;

	pthread_mutex_lock(&dpdk_lock);
	rc = dpdk_eal_ensure(d, cfg->eal);
	if (rc != 0)
		goto err_unlock;
	rc = port_find(d, a.port, &pid);
	if (rc != 0)
		goto err_unlock;
	p = ports[pid];
	if (p == NULL) {
		rc = port_setup(d, pid, &a, mtu, cfg->rx_ring, &p);
		if (rc != 0)
			goto err_unlock;
	} else if (a.queues != 0 && a.queues != p->nq) {
		tern_drv_log(&d->base, TERN_LOG_WARN,
			     "dpdk: port %u already has %u queues; queues=%u ignored", pid, p->nq,
			     a.queues);
	}
	if (d->queue >= p->nq) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: queue %u, but port %u has %u", d->queue,
			     pid, p->nq);
		rc = -EINVAL;
		goto err_port;
	}
	if (p->busy & (1ull << d->queue)) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: port %u queue %u is already open", pid,
			     d->queue);
		rc = -EBUSY;
		goto err_port;
	}

	int multiseg = (p->tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	int sock = rte_eth_dev_socket_id(pid);
	if (sock < 0)
		sock = SOCKET_ID_ANY;
	d->port_id = pid;
	d->port = p;
	d->mp = p->mp[d->queue];
	d->mac = p->mac;
	d->tx_ip_cksum = (p->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	d->iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	if (mtu > p->mtu) {
		tern_drv_log(&d->base, TERN_LOG_WARN,
			     "dpdk: port %u is set up for mtu %u; using it", pid, p->mtu);
		mtu = p->mtu;
	}
	d->mtu = mtu;
	d->arp_interval = rte_get_tsc_hz() / 100; /* 10 ms between requests per IP */
	dpdk_tmpl_init(d);

	d->lin_stride = RTE_ALIGN_CEIL(d->mtu, RTE_CACHE_LINE_SIZE);
	d->lin = rte_malloc_socket("tern_lin", (size_t)DPDK_BURST * d->lin_stride,
				   RTE_CACHE_LINE_SIZE, sock);
	if (d->lin == NULL) {
		rc = -ENOMEM;
		goto err_port;
	}
	/* Zero copy needs chained mbufs: af_xdp, for one, cannot send them. */
	if (a.zc_threshold != 0 && !multiseg)
		tern_drv_log(&d->base, TERN_LOG_INFO,
			     "dpdk: port %u has no multi-segment TX: zc_threshold ignored", pid);
	if (a.zc_threshold != 0 && multiseg) {
		char rn[RTE_RING_NAMESIZE];
		snprintf(rn, sizeof(rn), "tern_zc%u", name_gen++);
		d->zc_done = rte_ring_create(rn, ZC_RING_SIZE, sock, RING_F_SC_DEQ);
		if (d->zc_done == NULL) {
			rc = -ENOMEM;
			goto err_lin;
		}
		d->zc_max = (uint32_t)rte_ring_get_capacity(d->zc_done);
		d->zc_threshold = a.zc_threshold;
	}
	p->busy |= 1ull << d->queue;
	atomic_store_explicit(&p->ips[d->queue], d->ip, memory_order_relaxed);
	if (p->nq > 1)
		d->flow = flow_steer(d);
	pthread_mutex_unlock(&dpdk_lock);

	/* Mempool caches are per lcore: give a plain pthread an lcore id. */
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
		tern_drv_log(&d->base, TERN_LOG_INFO,
			     "dpdk: rte_thread_register failed: no mempool cache");

	fill_info(d, multiseg);
	*out = &d->base;
	return 0;

err_lin:
	rte_free(d->lin);
err_port:
	if (p->busy == 0)
		port_teardown(d, p, 1);
err_unlock:
	pthread_mutex_unlock(&dpdk_lock);
err_free:
	free(d);
	return rc;
}

static void dpdk_close(struct tern_drv *drv)
{
	struct dpdk_drv *d = dpdk_of(drv);
	if (drv == NULL)
		return;

	/* Bounded wait for the device (or a net_ring peer) to free our extbufs. */
	for (unsigned us = 0; d->zc_inflight != 0 && us < CLOSE_WAIT_US; us += 100) {
		rte_eth_tx_done_cleanup(d->port_id, d->queue, 0); /* -ENOTSUP is fine */
		dpdk_zc_reap(d);
		if (d->zc_inflight != 0)
			rte_delay_us_sleep(100);
	}

	pthread_mutex_lock(&dpdk_lock);
	struct dpdk_port *p = d->port;
	if (d->flow != NULL) {
		struct rte_flow_error err;
		rte_flow_destroy(d->port_id, d->flow, &err);
	}
	atomic_store_explicit(&p->ips[d->queue], 0, memory_order_relaxed);
	p->busy &= ~(1ull << d->queue);
	if (p->busy == 0)
		port_teardown(d, p, 1); /* stopping frees queued mbufs: callbacks fire now */
	pthread_mutex_unlock(&dpdk_lock);

	if (d->zc_done != NULL) {
		dpdk_zc_reap(d);
		/* A callback may still come (an mbuf parked in a peer's ring): keep the ring. */
		if (d->zc_inflight != 0)
			tern_drv_log(&d->base, TERN_LOG_WARN,
				     "dpdk: %u zero-copy buffers still in flight at close; their "
				     "msgs stay referenced",
				     d->zc_inflight);
		else
			rte_ring_free(d->zc_done);
	}
	rte_free(d->lin);
	free(d);
}
