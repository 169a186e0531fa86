/*
 * rekey.h — key epochs of protected sessions (rekey.c): each direction's
 * key turns over in-band after a time or a packet limit, by a one-way
 * derivation both sides compute, with no packet exchanged and no call
 * held. Private to the core; used by noise.c (keys installed and wiped)
 * and protect.c (which key seals, which key opens).
 *
 * The epoch travels in the top 4 bits of a protected packet's 8-byte
 * counter field (counters themselves stop below 2^60), so it is covered by
 * the tag like the rest of the counter.
 */
#ifndef TERN_REKEY_H
#define TERN_REKEY_H

#include <stdint.h>

struct tern_ep;
struct tern_session;
struct tern_aead;

#define TERN_EPOCH_SHIFT 60u
#define TERN_CTR_MASK    ((1ull << TERN_EPOCH_SHIFT) - 1)
#define TERN_EPOCHS      16u /* epochs are numbered mod 16 on the wire */
/* A receiver follows at most this many epochs ahead of its own in one step
 * (every packet of the epochs in between lost). */
#define TERN_REKEY_MAX_AHEAD 7u

#define TERN_REKEY_NS_DEFAULT   (120ull * 1000000000ull) /* WireGuard's REKEY_AFTER_TIME */
#define TERN_REKEY_PKTS_DEFAULT (1ull << 23) /* RFC 9001 6.6: AES-GCM confidentiality limit */

/* Keys tx and rx (raw, the caller wipes them) were just installed on s for
 * cipher: set up both chains at epoch 0 and the first turnover limits.
 * 0, or -ENOMEM. */
int tern_rekey_init(struct tern_ep *ep, struct tern_session *s, unsigned cipher,
		    const uint8_t tx[32], const uint8_t rx[32]);
/* Wipe and free what tern_rekey_init and the epochs since made. NULL-safe
 * on a session that never had keys. */
void tern_rekey_free(struct tern_session *s);

/* The sending key is due to turn over (s->tx_ctr reached s->tx_rekey_ctr,
 * or ep->now s->tx_rekey_ns): derive the next one and start its epoch.
 * 0; -EOVERFLOW when the counter reached 2^60 (nothing is sent any more);
 * -ENOMEM or -EIO if the new key could not be made (the packet is not
 * sent; the next one tries again). */
int tern_rekey_tx(struct tern_ep *ep, struct tern_session *s);

/* Which key opens a packet of wire epoch `epoch`. */
struct rekey_pick {
	struct tern_aead *aead; /* the key to open with */
	uint8_t ahead;          /* epochs past the current one (0: current or previous) */
	uint8_t prev;           /* the previous epoch's key */
	uint8_t chain[32];      /* ahead > 0: the chain secret after that epoch's key */
};
/* 0 with p filled; -1 when no key applies (an epoch older than the previous
 * one, too far ahead, or no memory): the caller drops the packet. */
int tern_rekey_rx_pick(struct tern_session *s, unsigned epoch, struct rekey_pick *p);
/* The packet p was picked for has been opened (ok 1) or refused (ok 0).
 * A packet of a later epoch that opened makes that epoch the current one
 * (the current key becomes the previous one); ctr is its counter. Every
 * secret in p is wiped. */
void tern_rekey_rx_done(struct tern_session *s, struct rekey_pick *p, int ok, uint64_t ctr);

/* A packet of the current epoch with counter ctr opened while the previous
 * epoch's key is still held: drop that key once the replay window has
 * moved past every counter it could have sealed. */
void tern_rekey_rx_age(struct tern_session *s, uint64_t ctr);

#endif
