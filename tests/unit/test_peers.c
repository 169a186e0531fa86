/*
 * test_peers.c — lib/peers.c: the server's memory of client keys and of
 * accepted handshakes, called directly (the handshakes that use it are in
 * test_noise.c).
 *
 * The allow-list (lookup, duplicates, unlisted keys); the bounded cache of
 * a server without one (least recently used of a set evicted, its floor and
 * precomputed DH with it); the static-static DH computed once; the replay
 * rules: the window both ways, a key's floor, ephemeral keys remembered;
 * the ring forgetting its oldest entry raises that entry's own key's floor
 * and nobody else's, NNpsk0 entries raise none, and an entry whose key's
 * cache slot went to another key raises nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"
#include "secpair.h"

#define SEC 1000000000ull
#define NOW (1700000000ull * SEC) /* a wall-clock instant */

/* 32 random bytes: a key or an ephemeral key, as far as peers.c can tell. */
static void random_key(uint8_t k[32])
{
	REQUIRE(tern_random(k, 32) == 0);
}

static void peers__allow_list_lookup(void)
{
	/* cli listed twice, other once */
	char path[256];
	snprintf(path, sizeof(path), "%s/allow_dup", sp_keys.dir);
	FILE *f = fopen(path, "w"), *a = fopen(sp_keys.allow2, "r"), *b = fopen(sp_keys.allow, "r");
	REQUIRE(f != NULL && a != NULL && b != NULL);
	char line[256];
	while (fgets(line, sizeof(line), a) != NULL)
		fputs(line, f);
	while (fgets(line, sizeof(line), b) != NULL)
		fputs(line, f);
	fclose(a);
	fclose(b);
	REQUIRE(fclose(f) == 0);
	struct sp_sec ss = {.key = sp_keys.srv_key, .allow = path};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	const struct tern_peers *pp = &srv->sec->peers;
	CHECK_EQ(pp->open, 0);
	CHECK_EQ(pp->n, 2);
	struct tern_peer *p1 = tern_peer_get(srv, sp_keys.cli_pub_raw);
	struct tern_peer *p2 = tern_peer_get(srv, sp_keys.other_pub_raw);
	REQUIRE(p1 != NULL && p2 != NULL);
	CHECK(p1 != p2);
	CHECK(memcmp(p1->key, sp_keys.cli_pub_raw, 32) == 0);
	CHECK(tern_peer_get(srv, sp_keys.cli_pub_raw) == p1);
	CHECK(tern_peer_get(srv, sp_keys.srv_pub_raw) == NULL);
	for (int i = 0; i < 1000; i++) {
		uint8_t k[32];
		random_key(k);
		CHECK(tern_peer_get(srv, k) == NULL); /* nothing added for unlisted keys */
	}
	CHECK_EQ(pp->n, 2);
	tern_ep_destroy(srv);
	unlink(path);
}

/* The set a key falls in (peers.c: SHA-256 of the seed and the key). */
static uint32_t set_of(const struct tern_ep *ep, const uint8_t k[32])
{
	uint8_t d[32];
	uint64_t h;
	tern_sha256(d, ep->sec->peers.seed, 32, k, 32);
	memcpy(&h, d, 8);
	return (uint32_t)(h & (TERN_PEER_SETS - 1));
}

static void peers__open_cache_evicts_least_recent(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	CHECK_EQ(srv->sec->peers.open, 1);
	/* TERN_PEER_WAYS + 1 keys of one set */
	uint8_t k[TERN_PEER_WAYS + 1][32];
	random_key(k[0]);
	uint32_t set = set_of(srv, k[0]);
	for (unsigned n = 1; n <= TERN_PEER_WAYS;) {
		random_key(k[n]);
		if (set_of(srv, k[n]) == set)
			n++;
	}
	struct tern_peer *p[TERN_PEER_WAYS + 1];
	for (unsigned i = 0; i < TERN_PEER_WAYS; i++) {
		inj_clock_advance(SEC);
		inj_poll(srv);
		p[i] = tern_peer_get(srv, k[i]);
		REQUIRE(p[i] != NULL);
		p[i]->floor = 100 + i;
	}
	/* k[0] used again: k[1] is now the least recent */
	inj_clock_advance(SEC);
	inj_poll(srv);
	CHECK(tern_peer_get(srv, k[0]) == p[0]);
	uint32_t gen = p[1]->gen;
	REQUIRE(tern_peer_ss(srv->sec, p[1]) == 0);
	p[TERN_PEER_WAYS] = tern_peer_get(srv, k[TERN_PEER_WAYS]);
	CHECK(p[TERN_PEER_WAYS] == p[1]); /* took k[1]'s place */
	CHECK(memcmp(p[1]->key, k[TERN_PEER_WAYS], 32) == 0);
	CHECK_EQ(p[1]->floor, 0); /* nothing of k[1] kept */
	CHECK_EQ(p[1]->has_ss, 0);
	CHECK_EQ(p[1]->gen, gen + 1);
	for (unsigned i = 0; i < TERN_PEER_WAYS; i++)
		if (i != 1)
			CHECK_EQ(p[i]->floor, 100 + i);
	/* k[1] comes back: a fresh entry, floor 0 (what the bound costs) */
	struct tern_peer *back = tern_peer_get(srv, k[1]);
	REQUIRE(back != NULL);
	CHECK_EQ(back->floor, 0);
	tern_ep_destroy(srv);
}

/* tern_peer_find only looks: an open server's unknown key gets no entry
 * and a known one keeps its place in the eviction order; with an
 * allow-list it finds exactly the listed keys. */
static void peers__find_changes_nothing(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	uint8_t k[32];
	random_key(k);
	CHECK(tern_peer_find(srv, k) == NULL);
	CHECK(tern_peer_find(srv, k) == NULL); /* still none made */
	inj_clock_advance(SEC);
	inj_poll(srv);
	struct tern_peer *p = tern_peer_get(srv, k);
	REQUIRE(p != NULL);
	uint64_t used = p->used;
	inj_clock_advance(SEC);
	inj_poll(srv);
	CHECK(tern_peer_find(srv, k) == p);
	CHECK_EQ(p->used, used);
	tern_ep_destroy(srv);
	struct sp_sec as = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	srv = sp_ep(&as, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	CHECK(tern_peer_find(srv, sp_keys.cli_pub_raw) == tern_peer_get(srv, sp_keys.cli_pub_raw));
	CHECK(tern_peer_find(srv, sp_keys.cli_pub_raw) != NULL);
	CHECK(tern_peer_find(srv, sp_keys.other_pub_raw) == NULL);
	tern_ep_destroy(srv);
}

static void peers__static_dh_once(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	struct tern_peer *p = tern_peer_get(srv, sp_keys.cli_pub_raw);
	REQUIRE(p != NULL);
	CHECK_EQ(p->has_ss, 0);
	REQUIRE(tern_peer_ss(srv->sec, p) == 0);
	uint8_t want[32], cli_priv[32];
	REQUIRE(tern_key_read(sp_keys.cli_key, cli_priv) == 0);
	REQUIRE(tern_x25519(want, cli_priv, sp_keys.srv_pub_raw) == 0);
	CHECK(memcmp(p->ss, want, 32) == 0);
	p->ss[0] ^= 1; /* not computed again */
	REQUIRE(tern_peer_ss(srv->sec, p) == 0);
	CHECK(p->ss[0] == (uint8_t)(want[0] ^ 1));
	tern_wipe(cli_priv, sizeof(cli_priv));
	tern_ep_destroy(srv);
	/* a low-order key (open server: any key gets an entry) has no DH */
	struct sp_sec os = {.key = sp_keys.srv_key};
	srv = sp_ep(&os, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	static const uint8_t low[32] = {1};
	p = tern_peer_get(srv, low);
	REQUIRE(p != NULL);
	CHECK_EQ(tern_peer_ss(srv->sec, p), -EACCES);
	CHECK_EQ(p->has_ss, 0);
	tern_ep_destroy(srv);
}

static void replay__window_floor_and_seen(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key, .allow = sp_keys.allow2};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	struct tern_sec *sec = srv->sec;
	struct tern_peer *a = tern_peer_get(srv, sp_keys.cli_pub_raw);
	REQUIRE(a != NULL);
	uint8_t e[32], e2[32];
	random_key(e);
	random_key(e2);
	const uint64_t w = TERN_HS_WINDOW_NS;
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW, NOW), 0);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW - w, NOW), 0);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW + w, NOW), 0);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW - w - 1, NOW), -ESTALE);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW + w + 1, NOW), -ESTALE);
	CHECK_EQ(tern_hs_replay_check(sec, NULL, e, NOW - w - 1, NOW), -ESTALE);
	tern_hs_replay_add(sec, a, e, NOW);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW, NOW), -EALREADY);
	CHECK_EQ(tern_hs_replay_check(sec, NULL, e, NOW + 5, NOW), -EALREADY); /* by ephemeral key */
	CHECK_EQ(tern_hs_replay_check(sec, a, e2, NOW, NOW), 0);
	/* the floor: at or below it, refused; above, accepted */
	a->floor = NOW + 10;
	CHECK_EQ(tern_hs_replay_check(sec, a, e2, NOW + 10, NOW), -ESTALE);
	CHECK_EQ(tern_hs_replay_check(sec, a, e2, NOW + 11, NOW), 0);
	CHECK_EQ(tern_hs_replay_check(sec, NULL, e2, NOW, NOW), 0); /* no key, no floor */
	tern_ep_destroy(srv);
}

static void replay__ring_raises_only_its_own_key_floor(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key, .allow = sp_keys.allow2};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	struct tern_sec *sec = srv->sec;
	struct tern_peer *a = tern_peer_get(srv, sp_keys.cli_pub_raw);
	struct tern_peer *b = tern_peer_get(srv, sp_keys.other_pub_raw);
	REQUIRE(a != NULL && b != NULL);
	/* The ring full: b's handshake first, stamped 59 s ahead; then a's and
	 * NNpsk0's, alternately. */
	uint8_t e[32], first_b[32], first_a[32];
	random_key(first_b);
	tern_hs_replay_add(sec, b, first_b, NOW + 59 * SEC);
	for (unsigned i = 1; i < TERN_REPLAY_RING; i++) {
		random_key(e);
		if (i == 1)
			memcpy(first_a, e, 32);
		tern_hs_replay_add(sec, i % 2 ? a : NULL, e, NOW + i);
	}
	CHECK_EQ(a->floor, 0);
	CHECK_EQ(b->floor, 0);
	CHECK_EQ(tern_hs_replay_check(sec, b, first_b, NOW + 59 * SEC, NOW), -EALREADY);
	/* One more: b's entry is forgotten; b's floor goes up, not a's. */
	random_key(e);
	tern_hs_replay_add(sec, a, e, NOW + TERN_REPLAY_RING);
	CHECK_EQ(b->floor, NOW + 59 * SEC);
	CHECK_EQ(a->floor, 0);
	CHECK_EQ(tern_hs_replay_check(sec, b, first_b, NOW + 59 * SEC, NOW), -ESTALE);
	/* a handshake of a's, stamped now, still goes */
	random_key(e);
	CHECK_EQ(tern_hs_replay_check(sec, a, e, NOW, NOW), 0);
	/* Next, a's first: a's floor goes to its stamp. */
	random_key(e);
	tern_hs_replay_add(sec, a, e, NOW + TERN_REPLAY_RING + 1);
	CHECK_EQ(a->floor, NOW + 1);
	CHECK_EQ(tern_hs_replay_check(sec, a, first_a, NOW + 1, NOW), -ESTALE);
	/* An NNpsk0 entry forgotten raises nothing. */
	random_key(e);
	tern_hs_replay_add(sec, a, e, NOW + TERN_REPLAY_RING + 2);
	CHECK_EQ(a->floor, NOW + 1);
	CHECK_EQ(b->floor, NOW + 59 * SEC);
	unsigned entries = 0;
	for (unsigned i = 0; i < TERN_REPLAY_SLOTS; i++)
		entries += sec->peers.set[i] != 0;
	CHECK_EQ(entries, TERN_REPLAY_RING);
	tern_ep_destroy(srv);
}

/* Open server: a ring entry whose key lost its cache slot raises the
 * floor of no other key when it is forgotten. */
static void replay__forgotten_slot_raises_nothing(void)
{
	struct sp_sec ss = {.key = sp_keys.srv_key};
	struct tern_ep *srv = sp_ep(&ss, SP_SRV_ADDR);
	REQUIRE(srv != NULL);
	struct tern_sec *sec = srv->sec;
	uint8_t k[32], e[32];
	random_key(k);
	struct tern_peer *p = tern_peer_get(srv, k);
	REQUIRE(p != NULL);
	random_key(e);
	tern_hs_replay_add(sec, p, e, NOW + 50 * SEC);
	/* the slot goes to another key (as eviction does) */
	p->gen++;
	p->floor = 0;
	for (unsigned i = 0; i < TERN_REPLAY_RING; i++) {
		random_key(e);
		tern_hs_replay_add(sec, NULL, e, NOW + i);
	}
	CHECK_EQ(p->floor, 0);
	tern_ep_destroy(srv);
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(peers__allow_list_lookup);
	RUN(peers__open_cache_evicts_least_recent);
	RUN(peers__find_changes_nothing);
	RUN(peers__static_dh_once);
	RUN(replay__window_floor_and_seen);
	RUN(replay__ring_raises_only_its_own_key_floor);
	RUN(replay__forgotten_slot_raises_nothing);
	sp_keys_fini();
	return check_exit();
}
