/*
 * faults_rxtx.c — the faults driver's data path: each packet draws its fate,
 * and held packets wait in a per-direction queue (oldest first) until they
 * are due.
 *
 * Reordering keeps its promise — a packet is overtaken by at most
 * reorder_depth later ones — by counting every packet passed on (`passed`)
 * and releasing a held packet right after the one that reaches its count,
 * the oldest first. Wherever a release could find no room (the inner TX
 * burst, the caller's rx[]), the burst stops or reserves room ahead, so no
 * later packet slips past a due one.
 *
 * TX: caller packets are turned into entries of out[] (0, 1 or 2 each) and
 * given to the inner tx_burst in chunks; tx_settle() maps what the inner
 * driver took back to the caller's packets, so tx_burst still returns the
 * caller's packets accepted, in order.
 *
 * RX: inner packets are fetched into scr[], their fates applied, and the
 * result (inner buffers and our copies) written to the caller's rx[].
 *
 * With a link (faults_link.c), it stands between the injector and the inner
 * driver: TX entries go to the link instead of the inner tx_burst, and RX
 * packets come from the link, as its copies, instead of from the inner
 * rx_burst.
 */
#include <string.h>

#include "faults/faults_priv.h"

/* One packet's fate. Only configured faults draw, so they cost nothing else. */
static unsigned draw(const struct faults_cfg *c, struct fdir *d)
{
	unsigned m = 0;
	if (c->loss != 0 && chance(&d->rng, c->loss))
		return F_DROP;
	if (c->dup != 0 && chance(&d->rng, c->dup))
		m |= F_DUP;
	if (c->corrupt != 0 && chance(&d->rng, c->corrupt))
		m |= F_CORRUPT;
	if (c->reorder != 0 && chance(&d->rng, c->reorder))
		m |= F_REORDER;
	if (c->delay != 0 && chance(&d->rng, c->delay) && !(m & F_REORDER))
		m |= F_DELAY;
	return m;
}

/* 1-3 distinct bit positions below nbits (distinct: a bit flipped twice is intact). */
static unsigned pick_bits(struct rng *r, uint32_t nbits, uint32_t b[3])
{
	unsigned k = 1 + rng_below(r, 3), i = 0;
	if (k > nbits)
		k = nbits;
	while (i < k) {
		uint32_t x = rng_below(r, nbits);
		bool seen = false;
		for (unsigned j = 0; j < i; j++)
			seen |= b[j] == x;
		if (!seen)
			b[i++] = x;
	}
	return k;
}

/* --- hold pool and queue --- */

static struct hold *hold_get(struct fdir *d)
{
	struct hold *h = d->free;
	if (h == NULL) {
		d->cnt.pool_empty++;
		return NULL;
	}
	d->free = h->next;
	h->next = h->prev = NULL;
	return h;
}

/* Free a TX hold, dropping the msgbuf reference it kept. */
static void tx_hold_put(struct fdir *d, struct hold *h)
{
	if (h->ref)
		tern_msg_unref(h->tx.msg);
	hold_put(d, h);
}

static void set_state(struct fdir *d, struct hold *h, uint8_t s)
{
	if (h->state == HOLD_REORDER)
		d->n_reorder--;
	if (s == HOLD_REORDER)
		d->n_reorder++;
	h->state = s;
}

static void q_push(struct fdir *d, struct hold *h, uint8_t s)
{
	h->state = HOLD_FREE;
	set_state(d, h, s);
	h->next = NULL;
	h->prev = d->qtail;
	if (d->qtail != NULL)
		d->qtail->next = h;
	else
		d->qhead = h;
	d->qtail = h;
	d->cnt.held++;
}

static void q_remove(struct fdir *d, struct hold *h)
{
	set_state(d, h, HOLD_LENT);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		d->qhead = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		d->qtail = h->prev;
	h->next = h->prev = NULL;
	d->cnt.held--;
}

/*
 * Whether a held packet may go now. Mid-burst (count_only) only reordered
 * packets whose later packets have passed qualify: timed releases wait for
 * the start of a call, so they never take room reserved for the burst.
 */
static inline bool hold_due(const struct faults *f, const struct fdir *d, const struct hold *h,
			    uint64_t now, bool count_only)
{
	switch (h->state) {
	case HOLD_REORDER:
		return d->passed >= h->release_at || (!count_only && now - h->t >= f->cfg.reorder_ns);
	case HOLD_DELAY:
		return !count_only && (int64_t)(now - h->t) >= 0;
	case HOLD_READY:
		return !count_only;
	default:
		return false;
	}
}

/* --- TX --- */

static bool tx_fits(const struct fdir *d, const struct tern_tx *t)
{
	return t->hdr_len <= TERN_TX_HDR_MAX && t->trailer_len <= TERN_TX_TRAILER_MAX &&
	       t->len <= d->bufsz - TX_PAYLOAD_OFF;
}

/*
 * A hold with copies of t's hdr and trailer (valid only during tx_burst) and
 * of its payload when no msgbuf owns it. A payload under a msgbuf is still
 * the caller's: the caller of tx_copy() references it if it keeps the hold.
 */
static struct hold *tx_copy(struct fdir *d, const struct tern_tx *t)
{
	struct hold *h = hold_get(d);
	if (h == NULL)
		return NULL;
	memcpy(h->buf, t->hdr, t->hdr_len);
	if (t->trailer_len != 0)
		memcpy(h->buf + TX_TRAILER_OFF, t->trailer, t->trailer_len);
	h->tx = *t;
	h->dst = *t->dst;
	h->tx.dst = &h->dst;
	h->tx.hdr = h->buf;
	h->tx.trailer = h->buf + TX_TRAILER_OFF;
	h->ref = false;
	if (t->len == 0) {
		h->tx.payload = NULL;
		h->tx.msg = NULL;
	} else if (t->msg == NULL) {
		memcpy(h->buf + TX_PAYLOAD_OFF, t->payload, t->len);
		h->tx.payload = h->buf + TX_PAYLOAD_OFF;
	}
	return h;
}

static void tx_corrupt(struct fdir *d, struct hold *h)
{
	struct tern_tx *t = &h->tx;
	uint32_t b[3], nbits = (t->hdr_len + t->len + t->trailer_len) * 8;
	unsigned k = pick_bits(&d->rng, nbits, b);

	for (unsigned i = 0; i < k; i++) {
		uint32_t at = b[i] >> 3;
		uint8_t bit = (uint8_t)(1u << (b[i] & 7));
		if (at < t->hdr_len) {
			h->buf[at] ^= bit;
			continue;
		}
		at -= t->hdr_len;
		if (at >= t->len) {
			h->buf[TX_TRAILER_OFF + at - t->len] ^= bit;
			continue;
		}
		if (t->payload != h->buf + TX_PAYLOAD_OFF) {
			/* Never flip the caller's msgbuf: flip our own copy. */
			memcpy(h->buf + TX_PAYLOAD_OFF, t->payload, t->len);
			t->payload = h->buf + TX_PAYLOAD_OFF;
			if (h->ref)
				tern_msg_unref(t->msg);
			h->ref = false;
			t->msg = NULL;
		}
		h->buf[TX_PAYLOAD_OFF + at] ^= bit;
	}
}

/*
 * Due held packets into out[], oldest first. Each one out counts as a packet
 * passed (it overtakes the packets still held), which may make more reordered
 * packets due: scan again until none is. Returns false when one found no
 * room: it waits as READY and the chunk must end, or later packets would
 * overtake it.
 */
static bool tx_release(struct faults *f, unsigned *o, uint64_t now, bool count_only)
{
	struct fdir *d = &f->tx;
	for (bool more = true; more;) {
		more = false;
		for (struct hold *h = d->qhead; h != NULL; h = h->next) {
			if (!hold_due(f, d, h, now, count_only))
				continue;
			if (*o == FAULTS_BURST) {
				set_state(d, h, HOLD_READY);
				return false;
			}
			set_state(d, h, HOLD_SENDING);
			f->out[*o] = h->tx;
			f->out_hold[(*o)++] = h;
			d->passed++;
			more = true;
			break; /* from the oldest again: this one may have made it due */
		}
	}
	return true;
}

/* Apply faults to one caller packet: 0-2 entries into out[]. */
static bool tx_one(struct faults *f, const struct tern_tx *t, struct txpkt *pk, unsigned *o,
		   uint64_t now)
{
	struct fdir *d = &f->tx;
	unsigned m = draw(&f->cfg, d);
	struct hold *h = NULL;

	pk->pos = (uint16_t)*o;
	pk->dup_pos = UINT16_MAX;
	pk->emitted = 0;
	pk->held = NULL;
	pk->faults = (uint8_t)m;
	if (m & F_DROP)
		return false;
	if ((m & (F_HOLD | F_CORRUPT)) && (d->holds == NULL || !tx_fits(d, t)))
		m &= ~(F_HOLD | F_CORRUPT); /* too big to copy: pass it as it is */
	if (m & F_HOLD) {
		h = tx_copy(d, t);
		if (h != NULL) {
			if (h->tx.msg != NULL) {
				tern_msg_ref(h->tx.msg);
				h->ref = true;
			}
			if (m & F_CORRUPT)
				tx_corrupt(d, h);
			if (m & F_REORDER) {
				h->t = now;
				h->release_at = d->passed + 1 + rng_below(&d->rng, f->cfg.depth);
				q_push(d, h, HOLD_REORDER);
			} else {
				h->t = now + f->cfg.delay_ns;
				q_push(d, h, HOLD_DELAY);
			}
			pk->held = h;
			pk->faults = (uint8_t)(m & (F_HOLD | F_CORRUPT));
			return false;
		}
		m &= ~(F_HOLD | F_CORRUPT);
	}
	if (m & F_CORRUPT) {
		h = tx_copy(d, t); /* lives for this inner call only: no reference */
		if (h != NULL) {
			tx_corrupt(d, h);
			h->state = HOLD_LENT;
		} else {
			m &= ~F_CORRUPT;
		}
	}
	f->out[*o] = h != NULL ? h->tx : *t;
	f->out_hold[(*o)++] = h;
	pk->emitted = 1;
	if (m & F_DUP) {
		pk->dup_pos = (uint16_t)*o;
		f->out[*o] = *t;
		f->out_hold[(*o)++] = NULL;
	}
	pk->faults = (uint8_t)m;
	d->passed++;
	return d->n_reorder != 0 && !tx_release(f, o, now, true);
}

/*
 * After the inner tx_burst took k of out[0..o): free what went out, requeue
 * held packets that did not, count the faults of the accepted caller packets
 * and undo the holds of the others. Returns the caller packets accepted.
 */
static unsigned tx_settle(struct faults *f, unsigned k, unsigned o, unsigned np)
{
	struct fdir *d = &f->tx;
	unsigned acc = np;

	for (unsigned j = 0; j < o; j++) {
		struct hold *h = f->out_hold[j];
		if (h == NULL)
			continue;
		if (h->state == HOLD_LENT) {
			hold_put(d, h);
		} else if (j < k) {
			q_remove(d, h);
			tx_hold_put(d, h);
		} else {
			set_state(d, h, HOLD_READY);
		}
	}
	for (unsigned c = 0; c < np; c++) {
		const struct txpkt *pk = &f->pk[c];
		/* A packet without an entry is accepted once all before it were. */
		if (pk->emitted ? pk->pos >= k : pk->pos > k) {
			acc = c;
			break;
		}
		d->cnt.seen++;
		d->cnt.dropped += (pk->faults & F_DROP) != 0;
		d->cnt.reordered += (pk->faults & F_REORDER) != 0;
		d->cnt.delayed += (pk->faults & F_DELAY) != 0;
		d->cnt.corrupted += (pk->faults & F_CORRUPT) != 0;
		d->cnt.duplicated += pk->dup_pos < k;
	}
	for (unsigned c = acc; c < np; c++) {
		struct hold *h = f->pk[c].held;
		if (h != NULL) {
			q_remove(d, h);
			tx_hold_put(d, h);
		}
	}
	return acc;
}

/* The wire side of TX: the link when there is one, else the inner driver. */
static inline unsigned tx_sink(struct faults *f, struct tern_tx *tx, unsigned n, uint64_t now)
{
	if (f->ltx.on)
		return link_tx_burst(f, tx, n, now);
	return f->inner->ops->tx_burst(f->inner, tx, n);
}

/* Send due held packets and tx[0..n) through the injector, in chunks. */
static unsigned tx_run(struct faults *f, struct tern_tx *tx, unsigned n, uint64_t now)
{
	unsigned i = 0;

	for (;;) {
		unsigned o = 0, first = i, np = 0;
		bool spill = false, backlog = f->tx.qhead != NULL && !tx_release(f, &o, now, false);

		/* Held packets that are due go first, or they would be overtaken. */
		if (!backlog)
			while (i < n && np < FAULTS_BURST && o + 2 <= FAULTS_BURST && !spill) {
				spill = tx_one(f, &tx[i], &f->pk[np], &o, now);
				i++;
				np++;
			}
		if (o == 0 && np == 0)
			break;
		unsigned k = o != 0 ? tx_sink(f, f->out, o, now) : 0;
		unsigned acc = tx_settle(f, k, o, np);
		if (k < o)
			return first + acc; /* the inner queue is full: stop here */
		if (i >= n && !backlog)
			break;
	}
	return n;
}

unsigned faults_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n)
{
	struct faults *f = to_faults(drv);
	uint64_t now = f->need_clock ? now_ns() : 0;
	unsigned k;

	if (f->tx.on)
		k = tx_run(f, tx, n, now);
	else
		k = tx_sink(f, tx, n, now);
	sync_stats(f);
	return k;
}

/* --- RX --- */

/* The wire side of RX: the link when there is one, else the inner driver. */
static inline unsigned rx_source(struct faults *f, struct tern_rx *rx, unsigned n, uint64_t now)
{
	if (f->lrx.on)
		return link_rx_release(f, rx, n, now);
	return f->inner->ops->rx_burst(f->inner, rx, n);
}

/* Give back what rx_source() gave that the injector dropped or copied. */
static inline void rx_return(struct faults *f, struct tern_rx *rx, unsigned n)
{
	if (!f->lrx.on) {
		f->inner->ops->rx_done(f->inner, rx, n);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		link_rx_put(&f->lrx, rx[i].priv);
}

static struct hold *rx_copy(struct fdir *d, const struct tern_rx *p)
{
	struct hold *h = hold_get(d);
	if (h == NULL)
		return NULL;
	memcpy(h->buf, p->data, p->len);
	h->rx = *p;
	h->rx.data = h->buf;
	h->rx.priv = h;
	return h;
}

static void rx_corrupt(struct fdir *d, struct hold *h)
{
	uint32_t b[3];
	unsigned k = pick_bits(&d->rng, h->rx.len * 8, b);
	for (unsigned i = 0; i < k; i++)
		h->buf[b[i] >> 3] ^= (uint8_t)(1u << (b[i] & 7));
}

/* Lend a copy to the core, or queue it READY when rx[] is full. */
static void rx_give(struct fdir *d, struct hold *h, struct tern_rx *rx, unsigned n, unsigned *out)
{
	if (*out < n) {
		h->state = HOLD_LENT;
		rx[(*out)++] = h->rx;
	} else {
		q_push(d, h, HOLD_READY);
	}
}

/* tx_release()'s twin: due held packets into rx[], counting as passed. */
static void rx_release(struct faults *f, struct tern_rx *rx, unsigned n, unsigned *out,
		       uint64_t now, bool count_only, bool *backlog)
{
	struct fdir *d = &f->rx;
	for (bool more = true; more;) {
		more = false;
		for (struct hold *h = d->qhead; h != NULL; h = h->next) {
			if (!hold_due(f, d, h, now, count_only))
				continue;
			if (*out == n) {
				set_state(d, h, HOLD_READY);
				*backlog = true;
				return;
			}
			q_remove(d, h);
			rx[(*out)++] = h->rx;
			d->passed++;
			more = true;
			break;
		}
	}
}

/*
 * Apply faults to wire-side packet scr[j] (the inner driver's, or the
 * link's copy). Those we drop or copy are compacted into scr[0..*nrel)
 * (never past j) and returned at the end.
 */
static void rx_one(struct faults *f, unsigned j, struct tern_rx *rx, unsigned n, unsigned *out,
		   unsigned *nrel, uint64_t now)
{
	struct fdir *d = &f->rx;
	const struct tern_rx p = f->scr[j];
	unsigned m = draw(&f->cfg, d);
	struct hold *h;

	d->cnt.seen++;
	if (d->holds == NULL || p.len > d->bufsz)
		m &= F_DROP; /* nothing to copy into: only a drop applies */
	if (p.len == 0)
		m &= ~F_CORRUPT;
	if (m & F_DROP) {
		d->cnt.dropped++;
		f->scr[(*nrel)++] = p;
		return;
	}
	if ((m & F_HOLD) && (h = rx_copy(d, &p)) != NULL) {
		if (m & F_CORRUPT) {
			rx_corrupt(d, h);
			d->cnt.corrupted++;
		}
		if (m & F_REORDER) {
			h->t = now;
			h->release_at = d->passed + 1 + rng_below(&d->rng, f->cfg.depth);
			q_push(d, h, HOLD_REORDER);
			d->cnt.reordered++;
		} else {
			h->t = now + f->cfg.delay_ns;
			q_push(d, h, HOLD_DELAY);
			d->cnt.delayed++;
		}
		f->scr[(*nrel)++] = p;
		return;
	}
	/* rx_burst reserved room for every original: *out < n here. */
	if ((m & F_CORRUPT) && (h = rx_copy(d, &p)) != NULL) {
		rx_corrupt(d, h);
		d->cnt.corrupted++;
		h->state = HOLD_LENT;
		rx[(*out)++] = h->rx;
		f->scr[(*nrel)++] = p; /* its data stays readable until the inner rx_done */
	} else {
		rx[(*out)++] = p;
	}
	if ((m & F_DUP) && (h = rx_copy(d, &p)) != NULL) {
		d->cnt.duplicated++;
		rx_give(d, h, rx, n, out);
	}
	d->passed++;
	if (d->n_reorder != 0) {
		bool full = false;
		rx_release(f, rx, n, out, now, true, &full);
	}
}

unsigned faults_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct faults *f = to_faults(drv);
	struct fdir *d = &f->rx;
	uint64_t now = f->need_clock ? now_ns() : 0;
	bool backlog = false;
	unsigned out = 0;

	if (f->tx.qhead != NULL)
		tx_run(f, NULL, 0, now);
	if (f->ltx.on && link_busy(&f->ltx))
		link_tx_flush(f, now);
	if (f->lrx.on) /* arrivals are stamped at every poll, whatever is passed on */
		link_rx_pull(f, now);
	if (!d->on) {
		out = rx_source(f, rx, n, now);
		goto done;
	}
	if (d->qhead != NULL)
		rx_release(f, rx, n, &out, now, false, &backlog);
	/*
	 * Take no more than fits in the worst case: every packet (at once, or
	 * later if held), its duplicate, and every reordered packet already
	 * held. Otherwise a release could wait behind later packets, past
	 * reorder_depth. One packet may always come: whatever finds no room
	 * after it waits READY, and nothing else of the batch is left to
	 * overtake it.
	 */
	if (!backlog && out < n) {
		unsigned m = n - out > d->n_reorder ? n - out - d->n_reorder : 1, got, nrel = 0;
		if (f->cfg.dup != 0 && m >= 2)
			m /= 2;
		if (m > FAULTS_BURST)
			m = FAULTS_BURST;
		got = rx_source(f, f->scr, m, now);
		for (unsigned j = 0; j < got; j++)
			rx_one(f, j, rx, n, &out, &nrel, now);
		if (nrel != 0)
			rx_return(f, f->scr, nrel);
	}
done:
	sync_stats(f);
	return out;
}

void faults_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct faults *f = to_faults(drv);
	struct tern_drv *in = f->inner;
	struct fdir *d = &f->rx;
	const uintptr_t base = (uintptr_t)d->holds, span = (uintptr_t)d->nholds * sizeof(struct hold);
	unsigned k = 0;

	if (d->holds == NULL && !f->lrx.on) {
		in->ops->rx_done(in, rx, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct hold *h = rx[i].priv;
		if ((uintptr_t)h - base < span) {
			if (h->state == HOLD_LENT) /* ignore a second rx_done */
				hold_put(d, h);
			continue;
		}
		if (link_rx_put(&f->lrx, rx[i].priv))
			continue;
		f->scr[k++] = rx[i];
		if (k == FAULTS_BURST) {
			in->ops->rx_done(in, f->scr, k);
			k = 0;
		}
	}
	if (k != 0)
		in->ops->rx_done(in, f->scr, k);
}

