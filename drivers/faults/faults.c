/*
 * faults.c — a decorator over any driver that drops, duplicates, reorders,
 * delays and corrupts packets, for reliability testing.
 *
 * open() finds the wrapped driver by cfg->name, opens it with the same
 * config and takes over its info. cfg->faults configures the injector:
 *
 *   loss=P dup=P reorder=P delay=P corrupt=P   probabilities in [0,1]
 *   reorder_depth=N  a reordered packet lets 1..N later packets pass (8)
 *   reorder_us=N     ...or goes out on the first call N µs after it was
 *                    held, so a lull in traffic does not strand it (100)
 *   delay_us=N       a delayed packet goes out N µs later (200)
 *   seed=N           PRNG seed (fixed default: runs are reproducible)
 *   dir=both|tx|rx   where to inject (both)
 *   hold=N           hold buffers per direction (256); when all are in
 *                    use, faults that need a copy are skipped and counted
 *
 * and a bottleneck link (faults_link.c), off unless rate= is given:
 *
 *   rate=R           bits per second: 200m, 1.5g, 10g, 64000 (k/m/g = 10^3/6/9)
 *   queue=B          drop-tail bound in wire bytes: 64k, 1m (k/m/g = 2^10/20/30;
 *                    128k when neither queue= nor qpkts= is given)
 *   qpkts=N          drop-tail bound in packets (both bounds apply if given)
 *   overhead=N       wire bytes per packet beyond the datagram (42: the
 *                    Ethernet, IPv4 and UDP headers, what tc's tbf counts)
 *   prop_us=N        propagation delay after a packet's departure (0)
 *   link_dir=rx|tx|both  where the link is (rx: the endpoint's ingress, the
 *                    port an incast shares; tx: an egress rate limit)
 *
 * Every packet draws its fate from a xoshiro256** stream per instance and
 * direction (seeded by splitmix64), so for a given seed and packet sequence
 * the same packets meet the same faults. A drop wins over everything; a
 * packet drawn for reorder and delay is reordered; held packets are not
 * duplicated; a duplicate is a clean copy of the original. Delay reorders
 * without bound by nature; only reorder promises a displacement of at most
 * reorder_depth.
 *
 * TX faults act before the inner tx_burst. Dropped packets count as
 * accepted. Held packets keep a copy of hdr and trailer and point at the
 * caller's payload under a tern_msg reference (copied only when msg is
 * NULL). Corruption flips 1-3 bits of a copy, never of the caller's memory;
 * a corrupted payload is copied and handed to the inner driver with msg
 * NULL. Thus the inner driver sees, with msg == NULL, payloads that live
 * only until its tx_burst returns: it must copy them (as it copies hdr).
 *
 * RX faults act after the inner rx_burst. Held, corrupted and duplicated
 * packets are copies in faults-owned buffers; the core gets them with priv
 * pointing at our hold descriptor, which rx_done tells from inner handles by
 * address. Inner buffers that are dropped or copied are returned to the
 * inner driver at the end of rx_burst; the inner driver therefore gets
 * rx_done for parts of a burst, and must release buffers entry by entry.
 *
 * Held packets are released by later rx_burst / tx_burst calls (rx_burst
 * also sends due TX packets, since the core polls it constantly), and freed
 * unsent at close.
 *
 * Time is the core's tern_now_ns(), read once per burst and only when a
 * configured fault needs it (delay, reorder, a link).
 *
 * This file is the control path (configuration, open, close, wait,
 * memory); the data path is faults_rxtx.c, the link faults_link.c.
 *
 * Threading: like every driver, one instance belongs to one thread; only
 * the msgbuf region list (mem_alloc / mem_free) is process-wide, and locked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "faults/faults_priv.h"

static int parse_rate(const char *v, uint64_t *thr)
{
	char *end;
	double r;
	if (!((v[0] >= '0' && v[0] <= '9') || v[0] == '.'))
		return -EINVAL; /* no sign, space, "nan" or "inf" */
	errno = 0;
	r = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(r >= 0.0 && r <= 1.0))
		return -EINVAL;
	*thr = (uint64_t)(r * 9007199254740992.0); /* 2^53 */
	return 0;
}

/* Bits per second: a decimal number with an optional k, m or g (SI). */
static int parse_bits(const char *v, uint64_t *out)
{
	char *end;
	double r, mult = 1.0;
	if (v[0] < '0' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	r = strtod(v, &end);
	if (errno != 0 || end == v)
		return -EINVAL;
	if (*end == 'k')
		mult = 1e3;
	else if (*end == 'm')
		mult = 1e6;
	else if (*end == 'g')
		mult = 1e9;
	if (mult != 1.0)
		end++;
	r *= mult;
	if (*end != '\0' || !(r >= 1000.0 && r <= (double)LINK_RATE_MAX))
		return -EINVAL;
	*out = (uint64_t)(r + 0.5);
	return 0;
}

static int parse_dir(const char *v, unsigned *dir)
{
	if (strcmp(v, "both") == 0)
		*dir = DIR_TX | DIR_RX;
	else if (strcmp(v, "tx") == 0)
		*dir = DIR_TX;
	else if (strcmp(v, "rx") == 0)
		*dir = DIR_RX;
	else
		return -EINVAL;
	return 0;
}

/* faults_arg's context: the config it fills, and where bad numbers are told. */
struct parse_ctx {
	struct faults_cfg *c;
	const struct tern_drv *log;
};

/* The link's keys (rate= included); 1 if k is not one of them. */
static int link_arg(const char *k, const char *v, const struct parse_ctx *p)
{
	struct faults_cfg *c = p->c;
	uint64_t x;
	int rc;

	if (strcmp(k, "rate") == 0)
		return parse_bits(v, &c->rate);
	if (strcmp(k, "queue") == 0)
		rc = tern_arg_uint(p->log, k, v, 1, LINK_QUEUE_MAX, TERN_ARG_KMG, &c->qbytes);
	else if (strcmp(k, "link_dir") == 0)
		rc = parse_dir(v, &c->link_dir);
	else if (strcmp(k, "qpkts") == 0)
		rc = tern_arg_u32(p->log, k, v, 1, LINK_BUFS_MAX, 0, &c->qpkts);
	else if (strcmp(k, "overhead") == 0)
		rc = tern_arg_u32(p->log, k, v, 0, LINK_OVERHEAD_MAX, 0, &c->overhead);
	else if (strcmp(k, "prop_us") == 0) {
		if ((rc = tern_arg_uint(p->log, k, v, 0, FAULTS_US_MAX, 0, &x)) == 0)
			c->prop_ns = x * 1000;
	} else {
		return 1;
	}
	c->link_keys = true;
	return rc;
}

static int faults_arg(const char *k, const char *v, void *ctx)
{
	const struct parse_ctx *p = ctx;
	struct faults_cfg *c = p->c;
	uint64_t x;
	int rc;

	if (strcmp(k, "loss") == 0)
		return parse_rate(v, &c->loss);
	if (strcmp(k, "dup") == 0)
		return parse_rate(v, &c->dup);
	if (strcmp(k, "reorder") == 0)
		return parse_rate(v, &c->reorder);
	if (strcmp(k, "delay") == 0)
		return parse_rate(v, &c->delay);
	if (strcmp(k, "corrupt") == 0)
		return parse_rate(v, &c->corrupt);
	if (strcmp(k, "seed") == 0)
		return tern_arg_uint(p->log, k, v, 0, UINT64_MAX, 0, &c->seed);
	if (strcmp(k, "dir") == 0)
		return parse_dir(v, &c->dir);
	if ((rc = link_arg(k, v, p)) <= 0)
		return rc;
	if (strcmp(k, "reorder_depth") == 0) {
		rc = tern_arg_u32(p->log, k, v, 1, FAULTS_DEPTH_MAX, 0, &c->depth);
	} else if (strcmp(k, "hold") == 0) {
		rc = tern_arg_u32(p->log, k, v, 1, FAULTS_HOLD_MAX, 0, &c->hold);
	} else if (strcmp(k, "delay_us") == 0) {
		if ((rc = tern_arg_uint(p->log, k, v, 0, FAULTS_US_MAX, 0, &x)) == 0)
			c->delay_ns = x * 1000;
	} else if (strcmp(k, "reorder_us") == 0) {
		if ((rc = tern_arg_uint(p->log, k, v, 0, FAULTS_US_MAX, 0, &x)) == 0)
			c->reorder_ns = x * 1000;
	} else {
		rc = -EINVAL; /* unknown key */
	}
	return rc;
}

/* Parse the fault list s into c; bad numbers are told through log's hook. */
static int faults_parse(const char *s, struct faults_cfg *c, const struct tern_drv *log)
{
	struct parse_ctx p = {.c = c, .log = log};
	memset(c, 0, sizeof(*c));
	c->depth = 8;
	c->hold = FAULTS_HOLD_DEFAULT;
	c->delay_ns = 200 * 1000;
	c->reorder_ns = 100 * 1000;
	c->seed = FAULTS_SEED_DEFAULT;
	c->dir = DIR_TX | DIR_RX;
	c->overhead = LINK_OVERHEAD_DEFAULT;
	c->link_dir = DIR_RX;
	int rc = tern_kv_parse(s, faults_arg, &p);
	if (rc != 0)
		return rc < 0 ? rc : -EINVAL;
	if (c->link_keys && c->rate == 0)
		return -EINVAL; /* link options without a link */
	if (c->rate != 0 && c->qbytes == 0 && c->qpkts == 0)
		c->qbytes = LINK_QUEUE_DEFAULT;
	return 0;
}

static void dir_fini(struct fdir *d)
{
	free(d->bufs);
	free(d->holds);
	d->bufs = NULL;
	d->holds = NULL;
}

/* Seed the direction's PRNG and preallocate its hold pool, if it needs one. */
static int dir_init(struct faults *f, struct fdir *d, unsigned dir)
{
	const struct faults_cfg *c = &f->cfg;
	uint32_t mtu = f->base.info.mtu;

	memset(d, 0, sizeof(*d));
	d->on = (c->dir & dir) != 0;
	rng_seed(&d->rng, c->seed ^ (dir == DIR_TX ? 0x7478ull : 0x7278ull));
	if (!d->on || (c->dup | c->reorder | c->delay | c->corrupt) == 0)
		return 0; /* drops need no copies */
	d->bufsz = dir == DIR_TX ? TX_PAYLOAD_OFF + (size_t)mtu : (size_t)mtu;
	d->bufsz = (d->bufsz + 63) & ~(size_t)63;
	d->nholds = c->hold;
	d->holds = calloc(d->nholds, sizeof(*d->holds));
	if (d->holds == NULL)
		return -ENOMEM;
	d->bufs = aligned_alloc(64, d->bufsz * d->nholds);
	if (d->bufs == NULL) {
		free(d->holds);
		d->holds = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = d->nholds; i-- > 0;) {
		d->holds[i].buf = d->bufs + (size_t)i * d->bufsz;
		hold_put(d, &d->holds[i]);
	}
	return 0;
}

static int faults_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	const struct tern_drv_ops *iops;
	struct faults *f;
	int rc;

	if (cfg == NULL || out == NULL || cfg->name == NULL)
		return -EINVAL;
	const char *inner = cfg->name;
	if (strcmp(inner, tern_drv_faults.name) == 0)
		return -EINVAL; /* would wrap itself, with the same config, forever */
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->base.ops = &tern_drv_faults;
	f->base.log = cfg->log;
	f->base.log_ctx = cfg->log_ctx;
	rc = faults_parse(cfg->faults, &f->cfg, &f->base);
	if (rc != 0) {
		tern_drv_log(&f->base, TERN_LOG_ERR, "faults: bad fault list \"%s\"",
			     cfg->faults != NULL ? cfg->faults : "");
		goto err_free;
	}
	iops = tern_drv_find(inner);
	if (iops == NULL) {
		tern_drv_log(&f->base, TERN_LOG_ERR, "faults: no driver \"%s\"", inner);
		rc = -ENOENT;
		goto err_free;
	}
	rc = iops->open(cfg, &f->inner);
	if (rc != 0)
		goto err_free;
	f->base.info = f->inner->info;
	if (iops->wait == NULL)
		f->base.info.caps &= ~TERN_DRV_CAP_WAIT;
	rc = dir_init(f, &f->tx, DIR_TX);
	if (rc != 0)
		goto err_inner;
	rc = dir_init(f, &f->rx, DIR_RX);
	if (rc != 0)
		goto err_tx;
	rc = link_init(f, &f->ltx, DIR_TX);
	if (rc != 0)
		goto err_rx;
	rc = link_init(f, &f->lrx, DIR_RX);
	if (rc != 0)
		goto err_ltx;
	f->need_clock = (f->cfg.reorder | f->cfg.delay) != 0 || f->cfg.rate != 0;
	sync_stats(f);
	tern_drv_log(&f->base, TERN_LOG_INFO, "faults: over %s: \"%s\"", inner,
		     cfg->faults != NULL ? cfg->faults : "");
	*out = &f->base;
	return 0;

err_ltx:
	link_fini(&f->ltx);
err_rx:
	dir_fini(&f->rx);
err_tx:
	dir_fini(&f->tx);
err_inner:
	iops->close(f->inner);
err_free:
	free(f);
	return rc;
}

static void faults_close(struct tern_drv *drv)
{
	struct faults *f = to_faults(drv);
	if (f == NULL)
		return;
	/* Held TX packets are never sent: drop the msgbuf references they keep. */
	for (struct hold *h = f->tx.qhead; h != NULL; h = h->next)
		if (h->ref)
			tern_msg_unref(h->tx.msg);
	f->inner->ops->close(f->inner);
	dir_fini(&f->tx);
	dir_fini(&f->rx);
	link_log(f, &f->ltx, "tx");
	link_log(f, &f->lrx, "rx");
	link_fini(&f->ltx);
	link_fini(&f->lrx);
	free(f);
}

/* Time until the first held packet is due: UINT64_MAX if none waits on time. */
static uint64_t hold_next(const struct faults *f, const struct fdir *d, uint64_t now)
{
	uint64_t best = UINT64_MAX;
	for (const struct hold *h = d->qhead; h != NULL; h = h->next) {
		uint64_t at;
		if (h->state == HOLD_DELAY)
			at = h->t;
		else if (h->state == HOLD_REORDER)
			at = h->t + f->cfg.reorder_ns;
		else
			return 0;
		uint64_t w = (int64_t)(at - now) > 0 ? at - now : 0;
		if (w < best)
			best = w;
	}
	return best;
}

/* The inner wait, cut short when a held packet falls due. */
static int faults_wait(struct tern_drv *drv, uint64_t timeout_ns)
{
	struct faults *f = to_faults(drv);
	struct tern_drv *in = f->inner;

	if (in->ops->wait == NULL)
		return 0;
	if (f->tx.qhead != NULL || f->rx.qhead != NULL || link_busy(&f->ltx) ||
	    link_busy(&f->lrx)) {
		uint64_t now = now_ns(), a = hold_next(f, &f->tx, now), b = hold_next(f, &f->rx, now);
		uint64_t c = link_next(f, &f->ltx, now), d = link_next(f, &f->lrx, now);
		uint64_t w = a < b ? a : b;
		w = c < w ? c : w;
		w = d < w ? d : w;
		if (w < timeout_ns)
			timeout_ns = w;
		if (timeout_ns == 0)
			return 0;
	}
	return in->ops->wait(in, timeout_ns);
}

/*
 * msgbuf memory comes from the inner driver (DMA-able under DPDK), or from
 * mmap where it has none, as the core would do. mem_free gets no instance
 * (the core frees after close), so each region remembers its allocator in a
 * process-wide list: control path, a lock and a malloc per region are fine.
 */
struct region {
	struct region *next;
	void *p;
	const struct tern_drv_ops *ops; /* NULL: mmap */
};

static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;

static void *faults_mem_alloc(struct tern_drv *drv, size_t len)
{
	struct tern_drv *in = to_faults(drv)->inner;
	struct region *r = malloc(sizeof(*r));
	if (r == NULL)
		return NULL;
	if (in->ops->mem_alloc != NULL) {
		r->ops = in->ops;
		r->p = in->ops->mem_alloc(in, len);
	} else {
		r->ops = NULL;
		r->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r->p == MAP_FAILED)
			r->p = NULL;
	}
	if (r->p == NULL) {
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&region_lock);
	r->next = regions;
	regions = r;
	pthread_mutex_unlock(&region_lock);
	return r->p;
}

static void faults_mem_free(void *p, size_t len)
{
	struct region **pp, *r = NULL;
	pthread_mutex_lock(&region_lock);
	for (pp = &regions; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			r = *pp;
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&region_lock);
	if (r == NULL)
		return; /* not ours: leak rather than free with the wrong allocator */
	if (r->ops == NULL)
		munmap(p, len);
	else if (r->ops->mem_free != NULL)
		r->ops->mem_free(p, len);
	free(r);
}

void tern_faults_counts(const struct tern_drv *drv, struct tern_faults_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (drv == NULL || drv->ops != &tern_drv_faults)
		return;
	const struct faults *f = (const struct faults *)drv;
	out->tx = f->tx.cnt;
	out->rx = f->rx.cnt;
	out->link_tx = f->ltx.cnt;
	out->link_rx = f->lrx.cnt;
}

const struct tern_drv_ops tern_drv_faults = {
	.name = "faults",
	.open = faults_open,
	.close = faults_close,
	.mem_alloc = faults_mem_alloc,
	.mem_free = faults_mem_free,
	.wait = faults_wait,
	.rx_burst = faults_rx_burst,
	.rx_done = faults_rx_done,
	.tx_burst = faults_tx_burst,
};
TERN_DRIVER_REGISTER(tern_drv_faults)
