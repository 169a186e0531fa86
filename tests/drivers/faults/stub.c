/*
 * stub.c — see stub.h.
 */
#include <limits.h>
#include <string.h>

#include "stub.h"
#include "vclock.h"

struct stub stub;

static int stub_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	(void)cfg;
	memset(&stub, 0, sizeof(stub));
	stub.drv.ops = &stub_ops;
	stub.drv.info.mtu = 1472;
	stub.drv.info.caps = TERN_DRV_CAP_WAIT;
	stub.budget = UINT_MAX;
	*out = &stub.drv;
	return 0;
}

static void stub_close(struct tern_drv *d)
{
	(void)d;
}

static unsigned stub_rx_burst(struct tern_drv *d, struct tern_rx *rx, unsigned n)
{
	unsigned k = 0;
	(void)d;
	for (; k < n && stub.pending != 0; k++, stub.pending--)
		rx[k] = (struct tern_rx){.data = stub.pkt, .len = sizeof(stub.pkt)};
	return k;
}

static void stub_rx_done(struct tern_drv *d, struct tern_rx *rx, unsigned n)
{
	(void)d, (void)rx, (void)n;
}

static unsigned stub_tx_burst(struct tern_drv *d, struct tern_tx *tx, unsigned n)
{
	unsigned k = n < stub.budget ? n : stub.budget;
	(void)d;
	for (unsigned i = 0; i < k; i++, stub.n++)
		if (stub.n < STUB_TAGS && tx[i].hdr_len >= sizeof(uint64_t))
			memcpy(&stub.tags[stub.n], tx[i].hdr, sizeof(uint64_t));
	stub.budget -= k;
	return k;
}

static int stub_wait(struct tern_drv *d, uint64_t timeout_ns)
{
	(void)d;
	if (stub.waits < STUB_WAITS)
		stub.wait_ns[stub.waits] = timeout_ns;
	stub.waits++;
	stub.waited = timeout_ns;
	if (stub.wait_moves_clock)
		vclock_advance(timeout_ns);
	return 0;
}

const struct tern_drv_ops stub_ops = {
	.name = "stub",
	.open = stub_open,
	.close = stub_close,
	.rx_burst = stub_rx_burst,
	.rx_done = stub_rx_done,
	.tx_burst = stub_tx_burst,
	.wait = stub_wait,
};
