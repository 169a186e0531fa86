/*
 * rekey.c — key epochs of protected sessions. Owns struct tern_rekey (the
 * chain secrets and the receive keys other than the current one) and the
 * session's tx_rekey_ctr, tx_rekey_ns, tx_epoch, rx_epoch and rx_prev.
 * It does not seal, open or judge replays (protect.c, replay.c).
 *
 * Each direction has a chain: from the key the handshake gave, c0 =
 * HKDF(k0, "tern rekey")[0]; epoch n+1's chain secret and key are
 * (c(n+1), k(n+1)) = HKDF(c(n), "tern rekey"). Both sides compute it; no
 * packet is exchanged. HKDF is one-way, and every secret is wiped once the
 * next one is made, so a key taken from a running session does not open
 * what was sent under earlier epochs (forward secrecy within a session;
 * like any ratchet without a new Diffie-Hellman, it does not heal after a
 * compromise: a later handshake does).
 *
 * Sending: the key turns over when tern_seal finds the counter at
 * s->tx_rekey_ctr (rekey_pkts packets into the epoch, and 2^60 at most) or
 * the clock at s->tx_rekey_ns (rekey_ns into it). The counter goes on
 * across epochs (one replay window serves them all); the epoch, mod 16,
 * rides in the counter field's top 4 bits.
 *
 * Receiving: a packet of the current epoch opens with s->rx_aead. One of
 * the epoch before opens with s->rx_prev, kept until the replay window has
 * slid a whole window past the first counter of the current epoch (later
 * packets of the old epoch would be refused as too old anyway) or until
 * the next turnover. One of a later epoch (up to TERN_REKEY_MAX_AHEAD:
 * every packet in between lost) opens with keys derived for it — the next
 * epoch's key is derived once and kept, so a flood of forged packets
 * stamped with it costs one failed open each — and only a packet that
 * opens moves the current epoch. Nothing in flight is lost or held back
 * at a turnover: the sender switches between two packets, and the
 * receiver holds both keys while both can arrive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rekey.h"
#include "tern_internal.h"

static const char label[] = "tern rekey";

struct tern_rekey {
	uint8_t tx_chain[32], rx_chain[32];
	uint8_t next_chain[32];     /* the chain after rx_next's key */
	struct tern_aead *rx_next;  /* the next epoch's key, derived on first need */
	uint64_t rx_first;          /* the first counter opened in the current epoch */
	uint8_t cipher;
};

/* (chain, key) of the epoch after the one whose chain secret is c. */
static void step(const uint8_t c[32], uint8_t chain[32], uint8_t key[32])
{
	tern_hkdf(c, label, sizeof(label) - 1, chain, key, NULL);
}

static void chain0(const uint8_t k0[32], uint8_t chain[32])
{
	uint8_t unused[32];
	tern_hkdf(k0, label, sizeof(label) - 1, chain, unused, NULL);
	tern_wipe(unused, sizeof(unused));
}

static void limits(struct tern_ep *ep, struct tern_session *s)
{
	const struct tern_sec *sec = ep->sec;
	uint64_t room = TERN_CTR_REJECT - s->tx_ctr;
	s->tx_rekey_ctr = s->tx_ctr + (sec->rekey_pkts < room ? sec->rekey_pkts : room);
	s->tx_rekey_ns = tern_deadline(ep->now, sec->rekey_ns);
}

int tern_rekey_init(struct tern_ep *ep, struct tern_session *s, unsigned cipher,
		    const uint8_t tx[32], const uint8_t rx[32])
{
	tern_rekey_free(s);
	struct tern_rekey *rk = calloc(1, sizeof(*rk));
	if (rk == NULL)
		return -ENOMEM;
	chain0(tx, rk->tx_chain);
	chain0(rx, rk->rx_chain);
	rk->cipher = (uint8_t)cipher;
	s->rk = rk;
	s->tx_epoch = s->rx_epoch = 0;
	limits(ep, s);
	return 0;
}

void tern_rekey_free(struct tern_session *s)
{
	tern_aead_free(s->rx_prev);
	s->rx_prev = NULL;
	if (s->rk != NULL) {
		tern_aead_free(s->rk->rx_next);
		tern_wipe(s->rk, sizeof(*s->rk));
		free(s->rk);
		s->rk = NULL;
	}
	s->tx_epoch = s->rx_epoch = 0;
	s->tx_rekey_ctr = s->tx_rekey_ns = 0;
}

int tern_rekey_tx(struct tern_ep *ep, struct tern_session *s)
{
	struct tern_rekey *rk = s->rk;
	if (s->tx_ctr >= TERN_CTR_REJECT)
		return -EOVERFLOW; /* 2^60 packets on one session: never reuse a nonce */
	if (rk == NULL)
		return -EINVAL;
	uint8_t chain[32], key[32];
	struct tern_aead *a;
	step(rk->tx_chain, chain, key);
	int rc = tern_aead_new(&a, rk->cipher, key, 1);
	tern_wipe(key, sizeof(key));
	if (rc != 0) {
		tern_wipe(chain, sizeof(chain));
		return rc;
	}
	memcpy(rk->tx_chain, chain, sizeof(chain));
	tern_wipe(chain, sizeof(chain));
	tern_aead_free(s->tx_aead); /* wipes the old key schedule */
	s->tx_aead = a;
	s->tx_epoch = (uint8_t)((s->tx_epoch + 1) % TERN_EPOCHS);
	limits(ep, s);
	ep->st.rekeys++;
	return 0;
}

int tern_rekey_rx_pick(struct tern_session *s, unsigned epoch, struct rekey_pick *p)
{
	struct tern_rekey *rk = s->rk;
	unsigned d = (epoch - s->rx_epoch) % TERN_EPOCHS;
	p->ahead = 0;
	p->prev = 0;
	p->aead = NULL;
	if (d == 0) {
		p->aead = s->rx_aead;
		return 0;
	}
	if (d == TERN_EPOCHS - 1) {
		p->aead = s->rx_prev;
		p->prev = 1;
		return p->aead != NULL ? 0 : -1;
	}
	if (d > TERN_REKEY_MAX_AHEAD || rk == NULL)
		return -1;
	if (rk->rx_next == NULL) {
		uint8_t key[32];
		step(rk->rx_chain, rk->next_chain, key);
		int rc = tern_aead_new(&rk->rx_next, rk->cipher, key, 0);
		tern_wipe(key, sizeof(key));
		if (rc != 0) {
			rk->rx_next = NULL;
			tern_wipe(rk->next_chain, sizeof(rk->next_chain));
			return -1;
		}
	}
	memcpy(p->chain, rk->next_chain, sizeof(p->chain));
	p->ahead = (uint8_t)d;
	if (d == 1) {
		p->aead = rk->rx_next;
		return 0;
	}
	/* Epochs lost whole: derive up to this one, for this packet only. */
	uint8_t key[32];
	for (unsigned i = 1; i < d; i++)
		step(p->chain, p->chain, key);
	int rc = tern_aead_new(&p->aead, rk->cipher, key, 0);
	tern_wipe(key, sizeof(key));
	if (rc != 0) {
		tern_wipe(p->chain, sizeof(p->chain));
		p->aead = NULL;
		return -1;
	}
	return 0;
}

void tern_rekey_rx_done(struct tern_session *s, struct rekey_pick *p, int ok, uint64_t ctr)
{
	struct tern_rekey *rk = s->rk;
	if (p->ahead == 0)
		return;
	if (!ok) {
		if (p->ahead > 1)
			tern_aead_free(p->aead); /* rx_next (ahead 1) is kept */
		tern_wipe(p->chain, sizeof(p->chain));
		return;
	}
	/* A later epoch opened: it is the current one now. */
	tern_aead_free(s->rx_prev);
	if (p->ahead == 1) {
		s->rx_prev = s->rx_aead;
	} else {
		tern_aead_free(s->rx_aead); /* the epochs in between are gone */
		tern_aead_free(rk->rx_next);
		s->rx_prev = NULL;
	}
	rk->rx_next = NULL;
	tern_wipe(rk->next_chain, sizeof(rk->next_chain));
	s->rx_aead = p->aead;
	memcpy(rk->rx_chain, p->chain, sizeof(rk->rx_chain));
	tern_wipe(p->chain, sizeof(p->chain));
	s->rx_epoch = (uint8_t)((s->rx_epoch + p->ahead) % TERN_EPOCHS);
	rk->rx_first = ctr;
}

void tern_rekey_rx_age(struct tern_session *s, uint64_t ctr)
{
	/* ctr may be below rx_first (reordered within the epoch). */
	if (s->rk != NULL && ctr < s->rk->rx_first + TERN_REPLAY_WINDOW)
		return;
	tern_aead_free(s->rx_prev);
	s->rx_prev = NULL;
}
