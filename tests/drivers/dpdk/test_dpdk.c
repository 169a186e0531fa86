/*
 * test_dpdk.c — driver-level tests of drivers/dpdk: instances opened
 * directly through tern_drv_dpdk, datagrams moved end to end, every byte
 * verified, over four ethdevs that need no NIC:
 *
 *   test_dpdk ring              net_ring in one process (test_dpdk_ring.c)
 *   test_dpdk memif             net_memif between this process and a
 *                               forked+exec'd peer (test_dpdk_pair.c)
 *   test_dpdk memif_disconnect  a memif peer closing, CYCLES times, while
 *                               this side polls (test_dpdk_quiesce.c)
 *   test_dpdk pair af_packet NS a veth pair across network namespaces; run
 *   test_dpdk pair af_xdp NS    by netns.sh, which makes them (NS: the peer's)
 *   test_dpdk peer ...          the echo peer of memif / pair (internal)
 *
 * One mode per process, because the EAL initialises once per process.
 * Memory: --no-huge --no-shconf unless 512 MB of hugepages are free
 * (override with TERN_DPDK_TEST_HUGE=0/1). Random sizes come from a seed,
 * printed; TERN_TEST_SEED=<seed> replays it. Every loop is bounded by a
 * count and a deadline; a peer never outlives the test.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpdk_test.h"


int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		return 1;
	self_path[n] = '\0';
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *env = getenv("TERN_TEST_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	rng_state ^= seed; /* xorshift: the constant keeps the state non-zero */
	pick_memory();

	if (argc == 5 && strcmp(argv[1], "peer") == 0)
		return mode_peer(argv[2], argv[3], (pid_t)atoi(argv[4]));
	printf("# seed %" PRIu64 "\n", seed);
	atexit(pair_kill_peer);
	signal(SIGTERM, pair_on_signal);
	signal(SIGINT, pair_on_signal);
	signal(SIGALRM, pair_on_signal);
	alarm(110); /* under meson's 120 s: the peer is killed on every path */
	if (argc == 2 && strcmp(argv[1], "ring") == 0)
		return mode_ring();
	if (argc == 2 && strcmp(argv[1], "memif") == 0)
		return mode_pair("memif", NULL);
	if (argc == 2 && strcmp(argv[1], "memif_disconnect") == 0)
		return mode_memif_disconnect();
	if (argc == 4 && strcmp(argv[1], "pair") == 0)
		return mode_pair(argv[2], argv[3]);
	fprintf(stderr, "usage: %s ring | memif | memif_disconnect | pair <af_packet|af_xdp> <peer-netns>\n", argv[0]);
	return 2;
}
