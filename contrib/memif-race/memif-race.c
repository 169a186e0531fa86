/*
 * memif-race.c — reproduces DPDK net_memif's disconnect race without tern:
 * a data-path thread inside rte_eth_rx_burst() on a memif port faults when
 * the peer disconnects, because the EAL interrupt thread's
 * memif_disconnect() unmaps the shared regions while the burst still reads
 * the ring (drivers/net/memif/memif_socket.c: memif_disconnect clears
 * ETH_MEMIF_FLAG_CONNECTED, then memif_free_regions() munmaps;
 * rte_eth_memif.c: eth_memif_rx tests the flag once, then reads ring->head;
 * nothing orders the two). Seen with DPDK 22.11.11 and unchanged upstream
 * as of 2025.
 *
 * One process, two ports on one control socket: net_memif0 (role=server)
 * and net_memif1 (role=client). The main lcore polls port 0 without pause;
 * a second thread stops port 1 (which sends DISCONNECT to port 0), waits
 * until port 0 reports link down, starts port 1 again and waits for link
 * up: CYCLES times (bounded; each wait bounded too). A run that survives
 * prints "survived N disconnects"; one that hits the race dies of SIGSEGV
 * inside librte_net_memif.so. Progress ("cycle N") goes to stderr.
 *
 *   taskset -c 1 memif-race -l 1 --no-pci --huge-unlink --file-prefix mr \
 *     --vdev=net_memif0,role=server,socket=/tmp/mr.sock \
 *     --vdev=net_memif1,role=client,socket=/tmp/mr.sock -- [CYCLES]
 *
 * CYCLES defaults to 300. Exit status: 0 survived, 1 setup failed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define WAIT_TRIES 20000 /* x 100 us: 2 s for a link change */

static atomic_int done;
static atomic_int cycles;

static void pause_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

static int link_becomes(uint16_t port, uint16_t status)
{
	for (int i = 0; i < WAIT_TRIES; i++) {
		struct rte_eth_link l;
		if (rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == status)
			return 1;
		pause_us(100);
	}
	return 0;
}

static void *churn(void *arg)
{
	int n = *(const int *)arg;
	for (int i = 0; i < n; i++) {
		if (!link_becomes(0, RTE_ETH_LINK_UP)) {
			fprintf(stderr, "memif-race: no link up at cycle %d\n", i);
			break;
		}
		pause_us(1000 + (i * 7919) % 1000); /* let the poller run a while */
		if (rte_eth_dev_stop(1) != 0 || !link_becomes(0, RTE_ETH_LINK_DOWN) ||
		    rte_eth_dev_start(1) != 0) {
			fprintf(stderr, "memif-race: stop/start failed at cycle %d\n", i);
			break;
		}
		atomic_store(&cycles, i + 1);
		fprintf(stderr, "cycle %d\n", i + 1);
	}
	atomic_store(&done, 1);
	return NULL;
}

static int setup(uint16_t port, struct rte_mempool *mp)
{
	struct rte_eth_conf conf = {0};
	return rte_eth_dev_configure(port, 1, 1, &conf) == 0 &&
	       rte_eth_rx_queue_setup(port, 0, 1024, 0, NULL, mp) == 0 &&
	       rte_eth_tx_queue_setup(port, 0, 1024, 0, NULL) == 0 &&
	       rte_eth_dev_start(port) == 0;
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "memif-race: rte_eal_init failed\n");
		return 1;
	}
	argc -= used;
	argv += used;
	int n = argc > 1 ? atoi(argv[1]) : 300;
	if (n <= 0 || rte_eth_dev_count_avail() != 2) {
		fprintf(stderr, "memif-race: want CYCLES > 0 and exactly two memif ports\n");
		return 1;
	}
	struct rte_mempool *mp = rte_pktmbuf_pool_create("memif_race", 8191, 256, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (mp == NULL || !setup(0, mp) || !setup(1, mp)) {
		fprintf(stderr, "memif-race: port setup failed\n");
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, churn, &n) != 0)
		return 1;
	struct rte_mbuf *b[32];
	unsigned long polls = 0;
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		uint16_t k = rte_eth_rx_burst(0, 0, b, 32);
		if (k != 0)
			rte_pktmbuf_free_bulk(b, k);
		polls++;
	}
	pthread_join(t, NULL);
	printf("survived %d disconnects (%lu polls)\n", atomic_load(&cycles), polls);
	return 0;
}
