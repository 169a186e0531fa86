/*
 * test_dpdk_quiesce.c — dpdk_quiesce.c: a memif peer that disconnects
 * while this side polls (test_dpdk memif_disconnect).
 *
 * One process, two net_memif ports on one control socket: net_memif0
 * (role=server) is opened once by a poller thread that calls rx_burst and
 * tx_burst without pause; the main thread opens an instance on net_memif1
 * (role=client), lets the poller run a little, and closes it, CYCLES times.
 * Each close stops the client port, and the server's EAL interrupt thread
 * then unmaps the shared rings. Before the handshake the poller died of
 * SIGSEGV inside librte_net_memif.so within tens of cycles (the bug:
 * "tern-perf server segfaults when its memif client exits"); now every
 * close first quiesces the poller, which the server's log says each time.
 * Bounded: CYCLES closes, each open waits at most memif_wait, and alarm().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dpdk/dpdk_priv.h" /* DPDK_QSC_*: where the poller's handshake stands */
#include "dpdk_test.h"

#define CYCLES 100u

static atomic_int poll_stop;
static atomic_int srv_ready;
static atomic_uint srv_quiesced;  /* "memif peer is stopping" logged by the server */
static atomic_uint cli_unanswered; /* "did not confirm" logged by a closing client */
static atomic_ulong srv_polls;
static atomic_int srv_state;       /* the poller's dpdk_drv.quiesce after its last poll */
static char eal[1024];

static void count_log(void *ctx, int level, const char *msg)
{
	if (strstr(msg, "memif peer is stopping") != NULL)
		atomic_fetch_add(&srv_quiesced, 1);
	else if (strstr(msg, "did not confirm") != NULL)
		atomic_fetch_add(&cli_unanswered, 1);
	else
		test_log(ctx, level, msg);
}

static int open_logged(const char *args, const char *bind, const char *tag, struct tern_drv **out)
{
	return open_ep_log(eal, args, bind, 0, tag, count_log, out);
}

/* The server's endpoint lives on this thread, as tern requires. */
static void *poller(void *arg)
{
	struct tern_drv *srv = NULL;
	int *rc = arg;
	*rc = open_logged("port=net_memif0", "10.0.0.1:31850", "srv", &srv);
	atomic_store(&srv_ready, *rc == 0 ? 1 : -1);
	if (*rc != 0)
		return NULL;
	struct tern_rx rx[32];
	while (!atomic_load_explicit(&poll_stop, memory_order_relaxed)) {
		unsigned n = ops->rx_burst(srv, rx, 32);
		if (n != 0)
			ops->rx_done(srv, rx, n);
		ops->tx_burst(srv, NULL, 0);
		atomic_store_explicit(&srv_state, ((struct dpdk_drv *)srv)->quiesce,
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&srv_polls, 1, memory_order_relaxed);
	}
	ops->close(srv);
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

/* Up to 2 s for the poller to poll n more times and stand at a state other than not. */
static void poller_wait(unsigned long n, int not)
{
	unsigned long before = atomic_load(&srv_polls);
	for (unsigned k = 0; k < 20000; k++) {
		if (atomic_load(&srv_polls) >= before + n && atomic_load(&srv_state) != not)
			return;
		sleep_us(100);
	}
}

/* The bug's scenario, CYCLES times; the process surviving is the main check. */
static void memif__peer_disconnect_while_polling(void)
{
	char sock[128];
	snprintf(sock, sizeof(sock), "/tmp/tern-dpdk-quiesce-%d.sock", (int)getpid());
	unlink(sock);
	snprintf(eal, sizeof(eal),
		 "-l 0 %s --no-pci --file-prefix=tern-dpdk-quiesce-%d --log-level=*:warning "
		 "--vdev=net_memif0,role=server,id=0,socket=%s,socket-abstract=no "
		 "--vdev=net_memif1,role=client,id=0,socket=%s,socket-abstract=no",
		 eal_mem, (int)getpid(), sock, sock);

	pthread_t t;
	int prc = 0;
	REQUIRE(pthread_create(&t, NULL, poller, &prc) == 0);
	for (unsigned i = 0; i < 20000 && atomic_load(&srv_ready) == 0; i++)
		sleep_us(100);
	CHECK_EQ(atomic_load(&srv_ready), 1);

	unsigned closes = 0;
	for (unsigned i = 0; i < CYCLES && atomic_load(&srv_ready) == 1; i++) {
		struct tern_drv *cli = NULL;
		int rc = open_logged("port=net_memif1,memif_wait=5", "10.0.0.2:31851", "cli", &cli);
		CHECK_EQ(rc, 0);
		if (rc != 0)
			break;
		/* The poller is bursting again (link up seen) when the close comes. */
		poller_wait(100, DPDK_QSC_WAIT_UP);
		sleep_us(rnd() % 1000);
		ops->close(cli);
		closes++;
		/* It saw the link go down before the next open brings it up (a
		 * reconnect it never saw go down would hold it for 1 s). */
		poller_wait(1, DPDK_QSC_WAIT_DOWN);
	}
	atomic_store(&poll_stop, 1);
	pthread_join(t, NULL);
	unlink(sock);

	CHECK_EQ(closes, CYCLES);
	/* Every close asked, and the poller answered (a missed answer only
	 * costs the closer its DPDK_QUIESCE_WAIT_MS; allow a few on a loaded machine). */
	printf("# %u closes, %u quiesced by the poller, %u unanswered\n", closes,
	       atomic_load(&srv_quiesced), atomic_load(&cli_unanswered));
	CHECK(atomic_load(&srv_quiesced) >= closes * 9 / 10);
	CHECK(atomic_load(&cli_unanswered) <= closes / 10);
}

int mode_memif_disconnect(void)
{
	RUN(memif__peer_disconnect_while_polling);
	return check_exit();
}
