/*
 * udp_test.h — helpers shared by test_udp.c (the cases), udp_peer.c (the
 * netns and bench modes) and udp_test_util.c (their definitions).
 */
#ifndef TERN_TEST_UDP_H
#define TERN_TEST_UDP_H

#include <stdbool.h>
#include <stdint.h>

#include "drv_shim.h"

extern const struct tern_drv_ops tern_drv_udp;

#define BURST 32u

/* Any distinct non-NULL pointer will do as a msgbuf: drv_shim only counts. */
extern char fake_msg_storage;
#define FAKE_MSG ((struct tern_msg *)(void *)&fake_msg_storage)

/*
 * The driver mode under test (test_udp --mode MODE): NULL = the default
 * (mmsg), else drv_open() puts "mode=MODE" before the case's arguments.
 */
extern const char *test_mode;
static inline bool mode_mmsg(void)
{
	return test_mode == NULL || test_mode[0] == 'm';
}

/* Driver log lines at WARN (close that could not reap, leaks): cases assert none. */
extern int warnings;

uint64_t now_ns(void);
uint64_t rng_next(uint64_t *s);
int drv_open(const char *bind, const char *args, uint32_t busy_poll, uint32_t mtu, struct tern_drv **out);
int count_fds(void);
/* Reap send completions until the driver holds no msgbuf reference (bounded). */
void settle(struct tern_drv *d);
struct tern_addr addr_of(const char *s);

/*
 * A test datagram, derived from its sequence number: sizes and bytes come
 * from a PRNG seeded with seq; the first 4 bytes carry seq so the receiver
 * can regenerate and compare. Sent as header | payload | trailer so the
 * driver has to gather three parts.
 */
struct gen {
	uint32_t hdr_len, len, trailer_len;
};

struct gen gen_sizes(uint32_t seq, uint32_t mtu);
void gen_bytes(uint32_t seq, uint8_t *p, uint32_t n);

/* Sender side of an exchange: one buffer per datagram, kept until the end. */
struct tx_plan {
	uint32_t mtu, count;
	uint8_t *mem; /* count * mtu bytes */
	uint64_t copied_expected, bytes_expected;
};

int plan_init(struct tx_plan *p, uint32_t count, uint32_t mtu);
void plan_tx(const struct tx_plan *p, uint32_t seq, struct tern_addr *dst, struct tern_tx *t);

/* Receiver side: each seq seen once, with the right bytes. */
struct rx_check {
	uint32_t count, got, bad, dup, misaligned;
	uint32_t unreach; /* port unreachable notices (TERN_RX_UNREACH): not datagrams */
	uint8_t *seen;
	uint8_t *scratch;
	uint32_t mtu;
	struct tern_addr src; /* expected source */
};

/* A checker for plan p's datagrams, from src (NULL: any source). 0, or -1
 * without memory. */
int rxc_init(struct rx_check *c, const struct tx_plan *p, const struct tern_addr *src);
void rxc_one(struct rx_check *c, const struct tern_rx *r);
/* Receive what is there (one rx_burst), check it, give the buffers back. */
unsigned rxc_poll(struct tern_drv *d, struct rx_check *c);
void rxc_free(struct rx_check *c);
/* Send plan p from a to b, check at b (c filled); busy = spin, not wait(). */
uint32_t exchange(struct tern_drv *a, struct tern_drv *b, struct tx_plan *p, bool busy, struct rx_check *c);

/* udp_gso_cases.c: the transmit segmentation cases (RUN by main) */
void udp_gso_cases(void);

/* udp_peer.c */
int udp_netns_server(const char *bind, unsigned seconds);
int udp_netns_client(const char *bind, const char *to, unsigned count, const char *args, bool quit);
int udp_bench(void);

#endif
