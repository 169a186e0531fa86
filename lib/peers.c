/*
 * peers.c — what a server remembers of its clients' handshakes, all of it
 * bounded: the client static keys it knows (its allow-list, or a cache of
 * recent keys when it has none), each with its precomputed static-static
 * Diffie-Hellman and its replay floor; and the accepted handshakes of the
 * freshness window, by ephemeral key.
 *
 * Replays. A CONNECT carries its wall-clock timestamp (encrypted). It is
 * accepted only if the timestamp is within TERN_HS_WINDOW_NS of the
 * server's clock, its ephemeral key is not among the accepted handshakes
 * remembered (a ring of TERN_REPLAY_RING), and, for a static-key pattern,
 * the timestamp is above that key's floor. The ring forgets its oldest
 * entry when full; forgetting an entry of key K raises K's floor to its
 * timestamp, so a forgotten CONNECT stays refused — and only K's floor
 * moves: a client can push no floor but its own (no global floor: one
 * accepted client sending CONNECTs stamped in the future locks out nobody
 * else). The floor is "newer than the last forgotten", not "newer than the
 * last accepted" (WireGuard's rule), because a tern client opens many
 * sessions at once and retransmits each CONNECT byte for byte: a lost
 * CONNECT retransmitted after a later one was accepted must still pass.
 *
 * The bounds and what happens at them:
 *   - allow-list: one entry per listed key, for the endpoint's life; exact.
 *   - no allow-list: TERN_PEER_SETS x TERN_PEER_WAYS entries; a new key
 *     takes the least recently used entry of its set, whose floor (and
 *     precomputed DH) is then lost: that key's CONNECTs forgotten by the
 *     ring could be replayed within the window. Reaching that needs more
 *     than TERN_REPLAY_RING accepted handshakes within the window and more
 *     distinct keys than the set holds; at such a server anyone may open
 *     sessions under keys of their own anyway. A key gets an entry only
 *     once a handshake under it has authenticated (its sender holds the
 *     private key): a CONNECT that only names a key costs that one DH
 *     (uncached) and takes nothing.
 *   - NNpsk0 (no static key) has no floor: a forgotten CONNECT could be
 *     replayed until its timestamp leaves the window. What it protects: a
 *     captured CONNECT is refused while it is among the last
 *     TERN_REPLAY_RING accepted, and always once it is older than the
 *     window. No client can make another's CONNECT refused.
 * A replayed CONNECT that gets through opens a session its sender cannot
 * use (it lacks the ephemeral private key, so it reads no CONNECT_OK and
 * derives no keys); the session times out.
 *
 * Hashes are keyed by a random seed (SHA-256 of seed and key): clients
 * choose their keys and ephemerals, and must not choose collisions.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h> /* CRYPTO_memcmp */

#include "crypto.h"
#include "tern_internal.h"

static uint64_t keyed_hash(const struct tern_peers *pp, const uint8_t v[32])
{
	uint8_t d[32];
	uint64_t h;
	tern_sha256(d, pp->seed, sizeof(pp->seed), v, 32);
	memcpy(&h, d, 8);
	return h;
}

/* --- the peer table ------------------------------------------------------------ */

static int index_add(struct tern_peers *pp, uint32_t i)
{
	uint32_t j = (uint32_t)keyed_hash(pp, pp->p[i].key) & pp->mask;
	for (;; j = (j + 1) & pp->mask) {
		uint32_t v = pp->idx[j];
		if (v == 0)
			break;
		if (memcmp(pp->p[v - 1].key, pp->p[i].key, 32) == 0)
			return 0; /* listed twice */
	}
	pp->idx[j] = i + 1;
	return 1;
}

int tern_peers_init(struct tern_ep *ep, const char *allow_file)
{
	struct tern_sec *sec = ep->sec;
	struct tern_peers *pp = &sec->peers;
	int rc = tern_random(pp->seed, sizeof(pp->seed));
	if (rc != 0)
		return rc;
	if (allow_file == NULL) {
		pp->open = 1;
		pp->n = TERN_PEER_SETS * TERN_PEER_WAYS;
		pp->p = calloc(pp->n, sizeof(*pp->p));
		return pp->p != NULL ? 0 : -ENOMEM;
	}
	uint8_t(*keys)[32] = NULL;
	uint32_t n = 0;
	if ((rc = tern_keys_read(allow_file, &keys, &n)) != 0) {
		tern_log(ep, TERN_LOG_ERR, "cannot read allow-list %s", allow_file);
		return rc;
	}
	uint32_t size = 16;
	while (size < 2 * n)
		size *= 2;
	pp->p = calloc(n != 0 ? n : 1, sizeof(*pp->p));
	pp->idx = calloc(size, sizeof(*pp->idx));
	if (pp->p == NULL || pp->idx == NULL) {
		free(keys);
		return -ENOMEM;
	}
	pp->mask = size - 1;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(pp->p[pp->n].key, keys[i], 32);
		pp->p[pp->n].in_use = 1;
		pp->n += (uint32_t)index_add(pp, pp->n);
	}
	free(keys); /* public keys: nothing to wipe */
	return 0;
}

void tern_peers_fini(struct tern_sec *sec)
{
	struct tern_peers *pp = &sec->peers;
	uint32_t n = pp->open ? TERN_PEER_SETS * TERN_PEER_WAYS : pp->n;
	for (uint32_t i = 0; pp->p != NULL && i < n; i++)
		tern_x25519_pub_free(pp->p[i].pub);
	if (pp->p != NULL) {
		tern_wipe(pp->p, (size_t)(pp->open ? TERN_PEER_SETS * TERN_PEER_WAYS : pp->n) *
					 sizeof(*pp->p)); /* the precomputed DH outputs */
		free(pp->p);
	}
	free(pp->idx);
	pp->p = NULL;
	pp->idx = NULL;
}

/* The entry of client key k if there is one (allow-list: k listed; open
 * server: k in the cache), else NULL; nothing changes. */
struct tern_peer *tern_peer_find(struct tern_ep *ep, const uint8_t key[32])
{
	struct tern_peers *pp = &ep->sec->peers;
	uint64_t h = keyed_hash(pp, key);
	if (!pp->open) {
		for (uint32_t j = (uint32_t)h & pp->mask;; j = (j + 1) & pp->mask) {
			uint32_t v = pp->idx[j];
			if (v == 0)
				return NULL;
			if (CRYPTO_memcmp(pp->p[v - 1].key, key, 32) == 0)
				return &pp->p[v - 1];
		}
	}
	struct tern_peer *set = &pp->p[(h & (TERN_PEER_SETS - 1)) * TERN_PEER_WAYS];
	for (uint32_t w = 0; w < TERN_PEER_WAYS; w++)
		if (set[w].in_use && CRYPTO_memcmp(set[w].key, key, 32) == 0)
			return &set[w];
	return NULL;
}

/*
 * The entry of client key k: NULL if the server has an allow-list and k is
 * not on it; without one, k's cache entry (made now if it has none). An
 * open server calls it only for a key whose holder has just completed a
 * handshake (noise.c): a CONNECT that merely names a key, which anyone who
 * knows the server's public key can send, must not take an entry (and with
 * it another key's floor and precomputed DH).
 */
struct tern_peer *tern_peer_get(struct tern_ep *ep, const uint8_t key[32])
{
	struct tern_peers *pp = &ep->sec->peers;
	struct tern_peer *found = tern_peer_find(ep, key);
	if (found != NULL || !pp->open) {
		if (found != NULL && pp->open)
			found->used = ep->now;
		return found;
	}
	uint64_t h = keyed_hash(pp, key);
	struct tern_peer *set = &pp->p[(h & (TERN_PEER_SETS - 1)) * TERN_PEER_WAYS], *victim = set;
	for (uint32_t w = 0; w < TERN_PEER_WAYS; w++) {
		struct tern_peer *p = &set[w];
		if (!p->in_use ? victim->in_use : victim->in_use && p->used < victim->used)
			victim = p;
	}
	/* The least recently used key of the set is forgotten, floor and all. */
	uint32_t gen = victim->gen + 1;
	tern_x25519_pub_free(victim->pub);
	tern_wipe(victim, sizeof(*victim));
	memcpy(victim->key, key, 32);
	victim->in_use = 1;
	victim->gen = gen;
	victim->used = ep->now;
	return victim;
}

/* DH(server static, p->key) into p->ss, and p->key imported (the
 * handshake's se uses it too), once. */
int tern_peer_ss(struct tern_sec *sec, struct tern_peer *p)
{
	if (p->has_ss)
		return 0;
	struct tern_x25519_pub *pub;
	int rc = tern_x25519_pub_new(&pub, p->key);
	if (rc != 0)
		return rc;
	if (tern_x25519_key_dh_pub(sec->s_key, pub, p->ss) != 0) {
		tern_x25519_pub_free(pub);
		return -EACCES;
	}
	tern_peer_keep(p, pub, p->ss);
	return 0;
}

/* p's ss and imported key, computed elsewhere (p takes pub). */
void tern_peer_keep(struct tern_peer *p, struct tern_x25519_pub *pub, const uint8_t ss[32])
{
	tern_x25519_pub_free(p->pub);
	p->pub = pub;
	memmove(p->ss, ss, 32);
	p->has_ss = 1;
}

/* --- accepted handshakes ------------------------------------------------------ */

static uint64_t fingerprint(const struct tern_peers *pp, const uint8_t e[32])
{
	return keyed_hash(pp, e) | 1; /* 0 marks an empty slot */
}

static uint32_t home(uint64_t fp)
{
	return (uint32_t)(fp >> 32) & (TERN_REPLAY_SLOTS - 1);
}

static int seen(const struct tern_peers *pp, uint64_t fp)
{
	for (uint32_t i = home(fp);; i = (i + 1) & (TERN_REPLAY_SLOTS - 1)) {
		if (pp->set[i] == 0)
			return 0;
		if (pp->set[i] == fp)
			return 1;
	}
}

static void set_del(struct tern_peers *pp, uint64_t fp)
{
	const uint32_t m = TERN_REPLAY_SLOTS - 1;
	uint32_t i = home(fp);
	while (pp->set[i] != fp) {
		if (pp->set[i] == 0)
			return;
		i = (i + 1) & m;
	}
	pp->set[i] = 0;
	for (uint32_t j = (i + 1) & m; pp->set[j] != 0; j = (j + 1) & m) {
		uint32_t hj = home(pp->set[j]);
		if (((j - hj) & m) >= ((j - i) & m)) {
			pp->set[i] = pp->set[j];
			pp->set[j] = 0;
			i = j;
		}
	}
}

static uint32_t peer_index(const struct tern_sec *sec, const struct tern_peer *p)
{
	return p != NULL ? (uint32_t)(p - sec->peers.p) + 1 : 0;
}

/*
 * May a handshake stamped ts (wall-clock ns) with ephemeral key e, from the
 * holder of peer p's key (NULL: no static key), be accepted at now? 0, or
 * -ESTALE (outside the window, or at or below p's floor), or -EALREADY
 * (accepted before and still remembered).
 */
int tern_hs_replay_check(const struct tern_sec *sec, const struct tern_peer *p, const uint8_t e[32],
		      uint64_t ts, uint64_t now)
{
	if (ts + TERN_HS_WINDOW_NS < now || ts > now + TERN_HS_WINDOW_NS)
		return -ESTALE;
	if (p != NULL && ts <= p->floor)
		return -ESTALE;
	return seen(&sec->peers, fingerprint(&sec->peers, e)) ? -EALREADY : 0;
}

/* Remember an accepted handshake; the ring's oldest entry is forgotten
 * when it is full, and raises its own key's floor. */
void tern_hs_replay_add(struct tern_sec *sec, const struct tern_peer *p, const uint8_t e[32],
		     uint64_t ts)
{
	struct tern_peers *pp = &sec->peers;
	struct replay_ent *r = &pp->ring[pp->head];
	if (r->fp != 0) {
		set_del(pp, r->fp);
		if (r->peer != 0) {
			struct tern_peer *o = &pp->p[r->peer - 1];
			if (o->in_use && o->gen == r->gen && r->ts > o->floor)
				o->floor = r->ts;
		}
	}
	r->fp = fingerprint(pp, e);
	r->ts = ts;
	r->peer = peer_index(sec, p);
	r->gen = p != NULL ? p->gen : 0;
	pp->head = (pp->head + 1) & (TERN_REPLAY_RING - 1);
	uint32_t i = home(r->fp);
	while (pp->set[i] != 0)
		i = (i + 1) & (TERN_REPLAY_SLOTS - 1);
	pp->set[i] = r->fp;
}
