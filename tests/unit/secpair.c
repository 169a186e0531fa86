/*
 * secpair.c — the security tests' fixture (secpair.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "secpair.h"

struct sp_keys sp_keys;

/* --- the wall clock, as the library sees it --------------------------------- */

static int64_t rt_shift;

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	int rc = __real_clock_gettime(clk, ts);
	if (rc == 0 && clk == CLOCK_REALTIME && rt_shift != 0) {
		int64_t ns = (int64_t)ts->tv_sec * 1000000000ll + ts->tv_nsec + rt_shift;
		ts->tv_sec = ns / 1000000000ll;
		ts->tv_nsec = ns % 1000000000ll;
	}
	return rc;
}

void sp_realtime_shift(int64_t ns)
{
	rt_shift = ns;
}

/* --- keys ----------------------------------------------------------------------- */

static int pair(const char *name, char *key, char *pub, uint8_t raw[32])
{
	char base[160];
	snprintf(base, sizeof(base), "%s/%s", sp_keys.dir, name);
	if (tern_keygen(base) != 0)
		return -1;
	snprintf(key, 192, "%s.key", base);
	snprintf(pub, 192, "%s.pub", base);
	return raw != NULL && tern_key_read(pub, raw) != 0 ? -1 : 0;
}

int sp_keys_init(void)
{
	memset(&sp_keys, 0, sizeof(sp_keys));
	snprintf(sp_keys.dir, sizeof(sp_keys.dir), "/tmp/tern-secpair-XXXXXX");
	if (mkdtemp(sp_keys.dir) == NULL)
		return -1;
	char unused[192];
	if (pair("srv", sp_keys.srv_key, sp_keys.srv_pub, sp_keys.srv_pub_raw) != 0 ||
	    pair("cli", sp_keys.cli_key, sp_keys.cli_pub, sp_keys.cli_pub_raw) != 0 ||
	    pair("other", sp_keys.other_key, sp_keys.other_pub, sp_keys.other_pub_raw) != 0 ||
	    pair("psk1", sp_keys.psk, unused, NULL) != 0 || pair("psk2", sp_keys.psk2, unused, NULL) != 0 ||
	    tern_key_read(sp_keys.psk, sp_keys.psk_raw) != 0)
		return -1;
	snprintf(sp_keys.allow, sizeof(sp_keys.allow), "%s/allow", sp_keys.dir);
	snprintf(sp_keys.allow2, sizeof(sp_keys.allow2), "%s/allow2", sp_keys.dir);
	FILE *f = fopen(sp_keys.allow, "w"), *f2 = fopen(sp_keys.allow2, "w");
	FILE *p = fopen(sp_keys.cli_pub, "r"), *q = fopen(sp_keys.other_pub, "r");
	char line[128], line2[128];
	int rc = f != NULL && f2 != NULL && p != NULL && q != NULL &&
			 fgets(line, sizeof(line), p) != NULL && fgets(line2, sizeof(line2), q) != NULL
		 ? 0
		 : -1;
	if (rc == 0) {
		fprintf(f, "# the one allowed client\n%s", line);
		fprintf(f2, "# two allowed clients\n%s\n%s", line, line2);
	}
	FILE *all[] = {f, f2, p, q};
	for (int i = 0; i < 4; i++)
		if (all[i] != NULL && fclose(all[i]) != 0)
			rc = -1;
	return rc;
}

void sp_keys_fini(void)
{
	static const char *const files[] = {"srv.key", "srv.pub", "cli.key", "cli.pub", "other.key",
					    "other.pub", "psk1.key", "psk1.pub", "psk2.key", "psk2.pub",
					    "allow", "allow2"};
	char path[256];
	if (sp_keys.dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sp_keys.dir, files[i]);
		unlink(path);
	}
	rmdir(sp_keys.dir);
	sp_keys.dir[0] = '\0';
}

/* --- endpoints -------------------------------------------------------------------- */

static void sec_apply(struct tern_ep_config *cfg, const struct sp_sec *sec, const char *addr)
{
	cfg->bind = addr;
	if (sec != NULL) {
		cfg->key_file = sec->key;
		cfg->peer_key_file = sec->peer;
		cfg->allow_file = sec->allow;
		cfg->psk_file = sec->psk;
		cfg->protection = sec->protection;
		cfg->handshake_rate = sec->handshake_rate;
		cfg->handshake_load = sec->handshake_load;
	}
}

struct tern_ep *sp_ep_cfg(struct tern_ep_config *cfg, const struct sp_sec *sec, const char *addr)
{
	sec_apply(cfg, sec, addr);
	return inj_ep_create(cfg);
}

static void sp_config(struct tern_ep_config *cfg, const struct sp_sec *sec, const char *addr)
{
	inj_config(cfg);
	cfg->call_timeout_ns = 60000000000ull; /* calls end when the test says */
	cfg->connect_timeout_ns = 60000000000ull;
	cfg->keepalive_ns = 20000000000ull;
	cfg->session_timeout_ns = 50000000000ull;
	sec_apply(cfg, sec, addr);
}

int sp_ep_try(const struct sp_sec *sec, const char *addr, struct tern_ep **out)
{
	struct tern_ep_config cfg;
	*out = NULL;
	int rc = inj_register();
	if (rc != 0)
		return rc;
	sp_config(&cfg, sec, addr);
	return tern_ep_create(&cfg, out);
}

struct tern_ep *sp_ep(const struct sp_sec *sec, const char *addr)
{
	struct tern_ep_config cfg;
	sp_config(&cfg, sec, addr);
	return inj_ep_create(&cfg);
}

const struct tern_addr *sp_addr(const struct tern_ep *ep)
{
	return &ep->drv->info.local;
}

int sp_take(struct tern_ep *ep, uint8_t type, struct sp_pkt *out)
{
	const struct inj_pkt *p = inj_pop_tx(inj_of(ep));
	if (p == NULL) {
		fprintf(stderr, "  sp: expected %s, nothing was sent\n", tern_wire_type_name(type));
		return -1;
	}
	if (p->len > sizeof(out->data) || p->len < TERN_HDR_LEN) {
		fprintf(stderr, "  sp: transmitted packet of %u bytes\n", p->len);
		return -1;
	}
	memcpy(out->data, p->data, p->len);
	out->len = p->len;
	out->h = p->h;
	out->dst = p->dst;
	if (type != 0 && p->h.type != type) {
		fprintf(stderr, "  sp: expected %s, got %s (status %u)\n", tern_wire_type_name(type),
			tern_wire_type_name(p->h.type), p->h.status);
		return -1;
	}
	return 0;
}

void sp_inject_raw(struct tern_ep *ep, const void *data, size_t len, const struct tern_addr *src)
{
	inj_push_raw(inj_of(ep), data, len, src, 0);
}

void sp_inject(struct tern_ep *ep, const struct sp_pkt *p, const struct tern_addr *src)
{
	sp_inject_raw(ep, p->data, p->len, src);
}

unsigned sp_pump(struct tern_ep *from, struct tern_ep *to)
{
	struct inj *d = inj_of(from);
	const struct inj_pkt *p;
	unsigned n = 0;
	while ((p = inj_pop_tx(d)) != NULL) {
		inj_push_raw(inj_of(to), p->data, p->len, sp_addr(from), 0);
		n++;
	}
	return n;
}

void sp_settle(struct tern_ep *a, struct tern_ep *b)
{
	for (int i = 0; i < 1000; i++) {
		inj_poll(a);
		unsigned n = sp_pump(a, b);
		inj_poll(b);
		n += sp_pump(b, a);
		if (n == 0 && inj_rx_pending(inj_of(a)) == 0)
			return;
	}
}

int sp_connect(struct tern_ep *cli, struct tern_ep *srv, struct tern_session **out,
	       struct sp_pkt *connect, struct sp_pkt *ok)
{
	struct sp_pkt c, k;
	struct tern_session *s = NULL;
	*out = NULL;
	int rc = tern_connect(cli, SP_SRV_ADDR, &s);
	if (rc != 0)
		return rc;
	*out = s;
	tern_poll(cli);
	if (sp_take(cli, TERN_PKT_CONNECT, &c) != 0)
		return -1;
	sp_inject(srv, &c, sp_addr(cli));
	inj_poll(srv);
	if (connect != NULL)
		*connect = c;
	if (sp_take(srv, TERN_PKT_CONNECT_OK, &k) != 0)
		return -1;
	if (ok != NULL)
		*ok = k;
	sp_inject(cli, &k, sp_addr(srv));
	inj_poll(cli);
	switch (tern_session_state(s)) {
	case TERN_SS_CONNECTED:
		return 0;
	case TERN_SS_FAILED:
		return s->err != 0 ? s->err : -ENOTCONN;
	default:
		return -1;
	}
}

struct tern_session *sp_server_session(struct tern_ep *srv, const struct tern_session *cs)
{
	if (cs == NULL || cs->peer_id >= srv->cfg.max_sessions)
		return NULL;
	struct tern_session *s = srv->sessions[cs->peer_id];
	return s->state == SESS_CONNECTED && s->peer_id == cs->id ? s : NULL;
}

uint64_t sp_drops(const struct tern_ep *ep)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	uint64_t n = 0;
	for (int i = 0; i < TERN_DROP_MAX; i++)
		n += st.drops[i];
	return n;
}

struct tern_stats sp_stats(const struct tern_ep *ep)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

void sp_mac1_stamp(uint8_t *pkt, const uint8_t key_material[32])
{
	/* noise.c: mac1 = HMAC(SHA256("mac1----" || key), packet up to mac1)[0..16] */
	const size_t off = TERN_HDR_LEN + TERN_SHS_OFF_MAC1;
	uint8_t key[32], full[32];
	tern_sha256(key, "mac1----", 8, key_material, 32);
	tern_hmac(full, key, 32, pkt, off, NULL, 0);
	memcpy(pkt + off, full, 16);
}

void sp_mac2_stamp(uint8_t *pkt, const uint8_t cookie[16])
{
	/* cookie.c: mac2 = HMAC(cookie, packet up to mac2)[0..16] */
	const size_t off = TERN_HDR_LEN + TERN_SHS_OFF_MAC2;
	static const uint8_t zero[16];
	uint8_t full[32];
	if (memcmp(cookie, zero, 16) == 0) {
		memset(pkt + off, 0, 16);
		return;
	}
	tern_hmac(full, cookie, 16, pkt, off, NULL, 0);
	memcpy(pkt + off, full, 16);
}

void sp_forge_connect(uint8_t *pkt, unsigned pattern, const uint8_t *key_material)
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = (uint16_t)(sp_rand() % TERN_SESSION_NONE);
	tern_wire_put(pkt, &h);
	uint8_t *b = pkt + TERN_HDR_LEN;
	sp_rand_fill(b, TERN_SHS_CONNECT_LEN);
	memset(b, 0, 8);
	b[0] = (uint8_t)pattern;
	if (pattern == TERN_PAT_NNPSK0)
		memset(b + TERN_SHS_OFF_MSG + TERN_SHS_MSG1_NN, 0, TERN_SHS_MSG1_LEN - TERN_SHS_MSG1_NN);
	memset(b + TERN_SHS_OFF_MAC2, 0, 16);
	tern_wire_seal(pkt, TERN_HDR_LEN + TERN_SHS_CONNECT_LEN);
	if (key_material != NULL)
		sp_mac1_stamp(pkt, key_material);
}

unsigned sp_deliver(struct tern_ep *from, struct tern_ep *to)
{
	const struct inj_pkt *p;
	unsigned n = 0;
	while ((p = inj_pop_tx(inj_of(from))) != NULL)
		if (tern_addr_same(&p->dst, sp_addr(to))) {
			inj_push_raw(inj_of(to), p->data, p->len, sp_addr(from), 0);
			n++;
		}
	return n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t sp_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

void sp_rand_fill(void *p, size_t n)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)sp_rand();
}

void sp_echo(struct tern_req *req, void *ctx)
{
	if (ctx != NULL)
		(*(int *)ctx)++;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	if (tern_req_len(req) != 0)
		memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}
