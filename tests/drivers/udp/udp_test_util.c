/*
 * udp_test_util.c — what test_udp's cases and modes share: opening
 * instances, test datagrams derived from a sequence number (sizes and bytes
 * from a seeded PRNG, sent as header | payload | trailer so the driver has to
 * gather three parts), and the receive-side checker.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "udp_test.h"

static const struct tern_drv_ops *const ops = &tern_drv_udp;

uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic per seed, good enough for sizes and bytes. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

int warnings;

static void test_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= TERN_LOG_WARN && level != TERN_LOG_ERR)
		warnings++;
	if (getenv("TERN_TEST_LOG") != NULL || (level <= TERN_LOG_WARN && level != TERN_LOG_ERR))
		fprintf(stderr, "  log(%d): %s\n", level, msg);
}

const char *test_mode;

int drv_open(const char *bind, const char *args, uint32_t busy_poll, uint32_t mtu,
	     struct tern_drv **out)
{
	struct tern_drv_config cfg;
	char all[256];
	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = bind;
	cfg.args = args;
	if (test_mode != NULL) {
		int len = snprintf(all, sizeof(all), "mode=%s%s%s", test_mode, args != NULL ? "," : "",
				   args != NULL ? args : "");
		if (len < 0 || (size_t)len >= sizeof(all))
			return -E2BIG;
		cfg.args = all;
	}
	cfg.busy_poll = busy_poll;
	cfg.mtu = mtu;
	cfg.log = test_log;
	return ops->open(&cfg, out);
}

int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

char fake_msg_storage;

/* Reap send completions until the driver holds no msgbuf reference. */
void settle(struct tern_drv *d)
{
	for (int i = 0; i < 200 && drv_shim_refs != 0; i++) {
		ops->tx_burst(d, NULL, 0);
		if (drv_shim_refs != 0)
			ops->wait(d, 1000000);
	}
}


struct gen gen_sizes(uint32_t seq, uint32_t mtu)
{
	uint64_t s = seq * 0x9E3779B97F4A7C15ull + 1;
	struct gen g;
	g.hdr_len = 32 + (uint32_t)(rng_next(&s) % (TERN_TX_HDR_MAX - 32 + 1));
	g.trailer_len = (uint32_t)(rng_next(&s) % (TERN_TX_TRAILER_MAX + 1));
	uint32_t room = mtu - g.hdr_len - g.trailer_len;
	/* Half tiny (copied), half anywhere up to a full MTU (referenced). */
	if (rng_next(&s) & 1)
		g.len = (uint32_t)(rng_next(&s) % 300);
	else
		g.len = (uint32_t)(rng_next(&s) % (room + 1));
	if (g.len > room)
		g.len = room;
	if (seq % 97 == 0)
		g.len = room; /* exactly the MTU, now and then */
	return g;
}

void gen_bytes(uint32_t seq, uint8_t *p, uint32_t n)
{
	uint64_t s = seq * 0xD1B54A32D192ED03ull + 7;
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rng_next(&s) >> 56);
	if (n >= 4)
		memcpy(p, &seq, 4);
}


int plan_init(struct tx_plan *p, uint32_t count, uint32_t mtu)
{
	memset(p, 0, sizeof(*p));
	p->mtu = mtu;
	p->count = count;
	p->mem = malloc((size_t)count * mtu);
	if (p->mem == NULL)
		return -ENOMEM;
	for (uint32_t seq = 0; seq < count; seq++) {
		struct gen g = gen_sizes(seq, mtu);
		uint32_t total = g.hdr_len + g.len + g.trailer_len;
		gen_bytes(seq, p->mem + (size_t)seq * mtu, total);
		if (g.len <= 256)
			p->copied_expected += g.len;
		p->bytes_expected += total;
	}
	return 0;
}

void plan_tx(const struct tx_plan *p, uint32_t seq, struct tern_addr *dst, struct tern_tx *t)
{
	struct gen g = gen_sizes(seq, p->mtu);
	const uint8_t *b = p->mem + (size_t)seq * p->mtu;
	t->dst = dst;
	t->hdr = b;
	t->hdr_len = g.hdr_len;
	t->payload = g.len != 0 ? b + g.hdr_len : NULL;
	t->len = g.len;
	t->msg = g.len != 0 ? FAKE_MSG : NULL;
	t->trailer = g.trailer_len != 0 ? b + g.hdr_len + g.len : NULL;
	t->trailer_len = g.trailer_len;
}


void rxc_one(struct rx_check *c, const struct tern_rx *r)
{
	uint32_t seq;
	if (r->flags & TERN_RX_UNREACH) {
		/* A datagram sent before the peer's socket existed came back as
		 * a port unreachable quoting its first bytes: not an echo. */
		c->unreach++;
		return;
	}
	if (r->len < 4) {
		c->bad++;
		return;
	}
	if (((uintptr_t)r->data & 63) != 0)
		c->misaligned++; /* the driver promises a cache-line aligned packet */
	memcpy(&seq, r->data, 4);
	if (seq >= c->count) {
		c->bad++;
		return;
	}
	struct gen g = gen_sizes(seq, c->mtu);
	uint32_t total = g.hdr_len + g.len + g.trailer_len;
	gen_bytes(seq, c->scratch, total);
	if (r->len != total || memcmp(r->data, c->scratch, total) != 0 ||
	    (c->src.family != 0 && !tern_addr_eq(&r->src, &c->src))) {
		if (c->bad++ < 3)
			fprintf(stderr, "  seq %u: len %u want %u\n", seq, r->len, total);
		return;
	}
	if (c->seen[seq]) {
		c->dup++;
		return;
	}
	c->seen[seq] = 1;
	c->got++;
}

/* Receive what is there (one rx_burst), check it, give the buffers back. */
unsigned rxc_poll(struct tern_drv *d, struct rx_check *c)
{
	struct tern_rx rx[BURST];
	unsigned n = ops->rx_burst(d, rx, BURST);
	for (unsigned i = 0; i < n; i++)
		rxc_one(c, &rx[i]);
	ops->rx_done(d, rx, n);
	return n;
}

/*
 * Send plan p from a to b (in bursts of random size), receive and verify at
 * b. busy = spin instead of wait(). Returns the number verified.
 */
uint32_t exchange(struct tern_drv *a, struct tern_drv *b, struct tx_plan *p, bool busy,
		  struct rx_check *c)
{
	struct tern_tx tx[BURST];
	struct tern_addr dst = b->info.local;
	uint64_t s = 42, deadline = now_ns() + 20000000000ull;
	uint32_t sent = 0;

	if (dst.family == AF_INET && memcmp(dst.ip, "\0\0\0\0", 4) == 0)
		dst.ip[0] = 127, dst.ip[3] = 1; /* bound to 0.0.0.0: aim at loopback */
	c->count = p->count;
	c->mtu = p->mtu;
	c->seen = calloc(p->count, 1);
	c->scratch = malloc(p->mtu);
	if (c->seen == NULL || c->scratch == NULL)
		return 0;
	for (unsigned iter = 0; iter < 1000000 && c->got < p->count && now_ns() < deadline; iter++) {
		if (sent < p->count) {
			unsigned k = 1 + (unsigned)(rng_next(&s) % BURST);
			if (k > p->count - sent)
				k = p->count - sent;
			for (unsigned i = 0; i < k; i++)
				plan_tx(p, sent + i, &dst, &tx[i]);
			sent += ops->tx_burst(a, tx, k);
		}
		unsigned n = rxc_poll(b, c);
		if (n == 0 && sent == p->count) {
			if (busy)
				ops->tx_burst(a, NULL, 0);
			else
				ops->wait(b, 10000000);
		}
	}
	settle(a);
	return c->got;
}

int rxc_init(struct rx_check *c, const struct tx_plan *p, const struct tern_addr *src)
{
	memset(c, 0, sizeof(*c));
	c->count = p->count;
	c->mtu = p->mtu;
	if (src != NULL)
		c->src = *src;
	c->seen = calloc(p->count, 1);
	c->scratch = malloc(p->mtu);
	return c->seen != NULL && c->scratch != NULL ? 0 : -1;
}

void rxc_free(struct rx_check *c)
{
	free(c->seen);
	free(c->scratch);
}

struct tern_addr addr_of(const char *s)
{
	struct tern_addr a;
	if (tern_addr_parse(s, &a) != 0)
		memset(&a, 0, sizeof(a));
	return a;
}
