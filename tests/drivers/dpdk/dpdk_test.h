/*
 * dpdk_test.h — shared by the dpdk driver tests (test_dpdk*.c): the test
 * packet format, the flow engine (send, echo, verify, resend) and frame
 * injection. Helpers return values; only the case files use CHECK, since
 * check.h keeps its counters per translation unit.
 */
#ifndef TERN_DPDK_TEST_H
#define TERN_DPDK_TEST_H

#include <stdint.h>
#include <sys/types.h>

#include <rte_mbuf.h>

#include "driver.h"

extern const struct tern_drv_ops tern_drv_dpdk;
#define ops (&tern_drv_dpdk)

#define MAGIC_DATA  0x7e4e0001u
#define MAGIC_QUIT  0x7e4e0002u
#define MAGIC_STATS 0x7e4e0003u
#define MAGIC_INJ   0x7e4e0004u
#define MAGIC_PROBE 0x7e4e0005u /* first contact, ARP: echoed and ignored */
#define TEST_HDR    32u
#define RESEND_NS   (20ull * 1000 * 1000)
#define MAX_FLOW    4000u

extern char self_path[4096]; /* this binary, to exec the peer */
extern char eal_mem[128];    /* EAL memory flags (hugepages or not) */
extern uint64_t rng_state;
extern unsigned inj_seen;    /* MAGIC_INJ echoes seen by flow_recv */

/* The first 16 bytes of every test packet; the rest is pat(seq, i). */
struct test_hdr {
	uint32_t magic;
	uint32_t seq;
	uint32_t total;
	uint32_t hdr_len;
};

/* Byte i of packet seq: every byte after the 16-byte test header is checkable. */
static inline uint8_t pat(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + 1u);
}

uint64_t now_ns(void);
uint32_t rnd(void);
/* Prints every driver log line; the last is kept in test_log_last. */
void test_log(void *ctx, int level, const char *msg);
extern char test_log_last[512];
void pick_memory(void);
int open_ep(const char *eal, const char *args, const char *bind, unsigned queue, const char *tag,
	    struct tern_drv **out);
/* open_ep() with another log hook (ctx: tag). */
int open_ep_log(const char *eal, const char *args, const char *bind, unsigned queue,
		const char *tag, void (*log)(void *ctx, int level, const char *msg),
		struct tern_drv **out);
struct tern_addr addr(const char *s);
int pkt_ok(const uint8_t *p, uint32_t len, uint32_t *seq_out);
unsigned echo_once(struct tern_drv *d, int *quit, struct tern_drv *const *all, unsigned nall);
void probe_hdr(uint8_t *hdr);
int arp_resolve(struct tern_drv *cli, const char *dst, struct tern_drv **srv, unsigned ns,
		unsigned secs);

/*
 * A flow: a client endpoint sends count packets of random size (32..mtu,
 * random header and trailer split) to an echo server and verifies each
 * echo byte for byte. Lost packets (a full queue, ARP pending) are resent
 * after RESEND_NS. zc: payloads carry a msg (fake; drv_shim counts refs)
 * and live in driver memory (mem_alloc), so big ones go zero copy.
 */
struct flow {
	const char *name;
	struct tern_drv *drv;
	struct tern_addr dst;
	unsigned count, window;
	int zc, trailers;
	uint8_t *area; /* count * stride bytes: payload of seq at seq * stride */
	size_t stride;
	uint8_t state[MAX_FLOW]; /* 0 = to send, 1 = sent, 2 = echoed */
	uint16_t total[MAX_FLOW], hlen[MAX_FLOW], tlen[MAX_FLOW];
	uint64_t sent_at[MAX_FLOW];
	unsigned next, inflight, done, bad, dups, resent;
};

int flow_init(struct flow *f, const char *name, struct tern_drv *drv, const char *dst,
	      unsigned count, int zc, int trailers);
void flow_fini(struct flow *f);
void flow_send(struct flow *f, uint64_t now);
void flow_recv(struct flow *f);
/* Run flows to completion; local echo servers (same thread) are polled too. */
int flows_run(struct flow **fl, unsigned nf, struct tern_drv **srv, unsigned ns, unsigned secs);
void flow_report(const struct flow *f);

enum inj_kind {
	INJ_GOOD,        /* valid: delivered and echoed */
	INJ_GOOD_OPTS,   /* valid with 4 bytes of IPv4 options */
	INJ_BAD_CKSUM,
	INJ_TRUNC,       /* IPv4 total length beyond the frame */
	INJ_WRONG_PORT,
	INJ_WRONG_IP,
	INJ_FRAGMENT,
	INJ_NOT_UDP,
	INJ_UDP_LEN,
	INJ_VERSION,
	INJ_SHORT_IHL,
	INJ_RUNT,        /* 20-byte frame */
	INJ_ETHERTYPE,
	INJ_BAD_ARP,
	INJ_COUNT,
};
#define INJ_BAD (INJ_COUNT - 2) /* frames that must be counted in rx_drop_frame */

/* Fill m[0..INJ_COUNT) with every injection kind from -> to; returns how many. */
unsigned inj_make(struct rte_mbuf **m, const struct tern_addr *from, const uint8_t *smac,
		  const struct tern_addr *to, const uint8_t *dmac);

/* The modes (test_dpdk_ring.c, test_dpdk_pair.c); each returns check_exit(). */
int mode_ring(void);
int mode_pair(const char *kind, const char *netns);
int mode_memif_disconnect(void); /* test_dpdk_quiesce.c */
int mode_peer(const char *kind, const char *where, pid_t parent);
void pair_kill_peer(void);       /* kill and reap the peer, if any */
void pair_on_signal(int sig);    /* kill the peer, _exit(1) */

#endif /* TERN_DPDK_TEST_H */
