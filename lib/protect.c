/*
 * protect.c — the data path of protected sessions (integrity, privacy).
 *
 *   | header (32) | epoch (4 bits) counter (60 bits) | payload | tag (16) |
 *
 * Sending: every packet of a protected session (requests, responses, CRs,
 * RFRs, ACKs, PING/PONG, DISCONNECT) takes the session's next counter — a
 * retransmission is a new packet with a fresh counter — and is sealed when
 * tx.c queues it, into the places tx.c chose (tern_seal). This file only
 * seals and opens; the batch and its buffers are tx.c's. integrity: the
 * tag authenticates header, counter and payload, and the payload is still
 * sent in place from its msgbuf (zero copy). privacy: the payload is
 * encrypted where tx.c says (straight into a buffer the driver lent, or a
 * fresh msgbuf); header and counter are authenticated.
 *
 * Receiving: a packet of a protected session must carry the flag, a
 * counter the replay window has not seen and is not too old for, and a
 * tag that verifies; privacy payloads are decrypted in place in the
 * receive buffer, or straight into their place in a reassembly buffer
 * when rx.c found one still unfilled (a bad tag zeroes that place, which
 * held nothing yet, and nothing else). Anything else is dropped and counted (auth, replay)
 * before any field past the header is believed, so nothing unauthenticated
 * reaches a handler.
 *
 * The replay window (which counters are new) is replay.c's; which key
 * seals and which opens, as keys turn over (the epoch in the counter
 * field's top bits), is rekey.c's.
 */
#include <string.h>

#include "crypto.h"
#include "rekey.h"
#include "tern_internal.h"

/* --- sending ------------------------------------------------------------------ */

int tern_seal(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *hin, uint8_t *hb,
	      const void *payload, uint32_t len, void *ct, uint8_t *tag)
{
	/* The key turns over (rekey.c), or at 2^60 packets nothing more is
	 * sent: a nonce is never reused. */
	if (tern_unlikely(s->tx_ctr >= s->tx_rekey_ctr || ep->now >= s->tx_rekey_ns)) {
		int rc = tern_rekey_tx(ep, s);
		if (rc != 0)
			return rc;
	}
	struct tern_hdr h = *hin;
	h.flags |= TERN_WF_PROTECTED;
	uint64_t ctr = s->tx_ctr++;
	uint64_t le = tern_le64(ctr | (uint64_t)s->tx_epoch << TERN_EPOCH_SHIFT);
	tern_wire_put(hb, &h);
	tern_wire_seal(hb, TERN_HDR_LEN);
	memcpy(hb + TERN_HDR_LEN, &le, 8);
	if (s->prot == TERN_PROT_INTEGRITY || len == 0) /* the tag covers the payload as it is */
		return tern_aead_seal(s->tx_aead, ctr, hb, TERN_HDR_LEN + TERN_PROT_CTR_LEN, payload,
				      len, NULL, 0, NULL, tag);
	if (tern_unlikely(ct == NULL))
		return -EINVAL; /* never the payload in clear on a private session */
	return tern_aead_seal(s->tx_aead, ctr, hb, TERN_HDR_LEN + TERN_PROT_CTR_LEN, NULL, 0, payload,
			      len, ct, tag);
}

/* --- receiving ------------------------------------------------------------------ */

int tern_rx_unprotect(struct tern_ep *ep, struct tern_session *s, struct tern_rx *rx,
		      const struct tern_hdr *h, uint8_t *dest)
{
	uint8_t *p = rx->data;
	if (tern_unlikely(!(h->flags & TERN_WF_PROTECTED) || s->prot == TERN_PROT_NONE)) {
		tern_rx_drop(ep, TERN_DROP_AUTH); /* unauthenticated on a protected session, or v.v. */
		return -1;
	}
	/* tern_wire_check guaranteed len >= header + counter + tag. */
	uint32_t body = rx->len - TERN_HDR_LEN - TERN_PROT_OVERHEAD;
	uint64_t ctr;
	memcpy(&ctr, p + TERN_HDR_LEN, 8);
	ctr = tern_le64(ctr);
	unsigned epoch = (unsigned)(ctr >> TERN_EPOCH_SHIFT);
	ctr &= TERN_CTR_MASK;
	if (tern_unlikely(!tern_replay_check(&s->rxwin, ctr))) {
		tern_rx_drop(ep, TERN_DROP_REPLAY);
		return -1;
	}
	struct rekey_pick pick;
	struct tern_aead *key = s->rx_aead;
	if (tern_unlikely(epoch != s->rx_epoch)) {
		if (tern_rekey_rx_pick(s, epoch, &pick) != 0) {
			tern_rx_drop(ep, TERN_DROP_REPLAY); /* an epoch whose key is gone */
			return -1;
		}
		key = pick.aead;
	}
	uint8_t *tag = p + rx->len - TERN_PROT_TAG_LEN;
	uint8_t *pl = p + TERN_HDR_LEN + TERN_PROT_CTR_LEN;
	int rc;
	if (s->prot == TERN_PROT_INTEGRITY || body == 0)
		rc = tern_aead_open(key, ctr, p, TERN_HDR_LEN + TERN_PROT_CTR_LEN + body, NULL, 0,
				    NULL, tag);
	else
		rc = tern_aead_open(key, ctr, p, TERN_HDR_LEN + TERN_PROT_CTR_LEN, pl, body,
				    dest != NULL ? dest : pl, tag);
	if (tern_unlikely(epoch != s->rx_epoch))
		tern_rekey_rx_done(s, &pick, rc == 0, ctr);
	else if (tern_unlikely(s->rx_prev != NULL) && rc == 0)
		tern_rekey_rx_age(s, ctr);
	if (tern_unlikely(rc != 0)) {
		tern_rx_drop(ep, TERN_DROP_AUTH);
		return -1;
	}
	tern_replay_commit(&s->rxwin, ctr);
	return 0;
}
