/*
 * test_pb.c — tern_pb end to end: a Test service (kitchen.proto) served on
 * one endpoint by a server thread, called from the main thread through the
 * generated stubs, tern_pb_call() and tern_pb_call_sync(), over the driver
 * named by argv[1] (loop or udp).
 *
 * Covered: a message with every field kind (each scalar type, strings,
 * bytes, enums, nested, repeated packed and unpacked, oneof, maps, defaults)
 * round trip, sync and async; raw tern interop both ways; every error path
 * (unknown method index from a newer client, NULL handler, undecodable and
 * hostile-depth requests, closure(NULL), a status code and message from
 * tern_pb_respond_status() through every client form, a reply of the wrong type, replies
 * and requests too big, a session that never comes up, a session closed with
 * a call in flight, a client destroyed with a call in flight, sync inside a
 * closure); deferred replies; tern_pb_ep_release() and serving again; TERN_RR
 * services and registration checks; and no malloc per call once warm, on the
 * server (its thread's mallocs are counted by interposing malloc, when built
 * without sanitizers, and by tern_pb's own arena counters always) and on the
 * client.
 *
 * The server endpoint is owned by the server thread; the main thread reaches
 * server-side state only through on_server() (tern_ep_post()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kitchen.pb-c.h"
#include "tern_pb.h"

#define BASE    0x100u /* Test and TestV2 */
#define BASE_RR 0x200u /* Test again, as a TERN_RR service */
#define MIB     (1u << 20)
#define SEC     1000000000ull

static const char *driver;
static struct tern_ep *srv, *cli;
static struct tern_session *sess;
static ProtobufCService *client;
static pthread_t srv_thread;
static atomic_int srv_stop;
static _Thread_local int thread_role; /* 1 server, 2 client (main) */

/* --- malloc counting ------------------------------------------------------------ */

static atomic_int count_on;
static atomic_ulong srv_mallocs, cli_mallocs;

#ifdef PB_TEST_MALLOC_HOOK
/* Interpose the allocator: every malloc of the process (libtern, libtern_pb,
 * protobuf-c, libc) lands here first. Counted only while count_on is set,
 * per thread role. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t a, size_t b);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static void note_malloc(void)
{
	if (atomic_load_explicit(&count_on, memory_order_relaxed)) {
		if (thread_role == 1)
			atomic_fetch_add(&srv_mallocs, 1);
		else if (thread_role == 2)
			atomic_fetch_add(&cli_mallocs, 1);
	}
}

void *malloc(size_t n)
{
	note_malloc();
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	note_malloc();
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	note_malloc();
	return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	note_malloc();
	void *p = __libc_memalign(align, n);
	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	note_malloc();
	return __libc_memalign(align, n);
}

void free(void *p)
{
	__libc_free(p);
}
#define HAVE_MALLOC_HOOK 1
#else
#define HAVE_MALLOC_HOOK 0
#endif

/* --- running things on the server thread ------------------------------------------ */

struct job {
	void (*fn)(void *arg);
	void *arg;
	atomic_int done;
};

static void job_run(void *p)
{
	struct job *j = p;
	j->fn(j->arg);
	atomic_store(&j->done, 1);
}

/* Run fn(arg) on the server thread, inside its tern_poll(), and wait. */
static int on_server(void (*fn)(void *), void *arg)
{
	struct job j = {.fn = fn, .arg = arg};
	while (tern_ep_post(srv, job_run, &j) == -EAGAIN)
		usleep(100);
	uint64_t end = tern_now_ns() + 10 * SEC;
	while (!atomic_load(&j.done)) {
		(void)tern_poll(cli); /* keep the client side moving meanwhile */
		if (tern_now_ns() > end)
			return -ETIMEDOUT; /* j stays posted: the run is broken anyway */
	}
	return 0;
}

static void stats_job(void *arg)
{
	(void)tern_pb_ep_stats(srv, arg);
}

static void *server_main(void *arg)
{
	(void)arg;
	thread_role = 1;
	while (!atomic_load(&srv_stop))
		(void)tern_poll_wait(srv, 1000000);
	return NULL;
}

/* Poll the client until *flag >= want or 10 s pass. */
static void pump(const int *flag, int want)
{
	uint64_t end = tern_now_ns() + 10 * SEC;
	while (*(const volatile int *)flag < want && tern_now_ns() < end)
		(void)tern_poll(cli);
}

/* --- the service (runs on the server thread) ------------------------------------- */

struct later {
	Tpb__Kitchen_Closure closure;
	void *data;
	const Tpb__Kitchen *in;
};
static struct later later_q[64];
static int later_n;
static atomic_int handler_bad; /* checks inside handlers that failed */

static void h_echo(Tpb__Test_Service *svc, const Tpb__Kitchen *in, Tpb__Kitchen_Closure closure,
		   void *data)
{
	(void)svc;
	struct tern_req *req = tern_pb_req(data);
	if (req == NULL || (tern_req_type(req) != BASE && tern_req_type(req) != BASE_RR))
		atomic_fetch_add(&handler_bad, 1);
	closure(in, data);
}

/* Fail: closure(NULL); or, for i32 = STATUS_REQ + code, answer that status
 * code with the message in str (a bad code or message: refused, the
 * request still unanswered, then closure(NULL)). */
#define STATUS_REQ 1000
static void h_fail(Tpb__Test_Service *svc, const Tpb__Kitchen *in, Tpb__Kitchen_Closure closure,
		   void *data)
{
	(void)svc;
	if (in->i32 >= STATUS_REQ) {
		int code = in->i32 - STATUS_REQ;
		int rc = tern_pb_respond_status(data, code, in->str);
		int want = code >= 1 && code <= TERN_STATUS_MAX && in->str[0] != '\xff' ? 0 : -EINVAL;
		if (rc != want)
			atomic_fetch_add(&handler_bad, 1);
		if (rc == 0) {
			/* answered: not a live request any more */
			if (tern_pb_respond_status(data, code, "again") != -EINVAL ||
			    tern_pb_req(data) != NULL)
				atomic_fetch_add(&handler_bad, 1);
			return;
		}
	}
	closure(NULL, data);
}

static void h_later(Tpb__Test_Service *svc, const Tpb__Kitchen *in, Tpb__Kitchen_Closure closure,
		    void *data)
{
	(void)svc;
	if (later_n == (int)(sizeof(later_q) / sizeof(later_q[0]))) {
		closure(NULL, data);
		return;
	}
	later_q[later_n++] = (struct later){closure, data, in};
}

static void h_big(Tpb__Test_Service *svc, const Tpb__Kitchen *in, Tpb__Kitchen_Closure closure,
		  void *data)
{
	(void)svc;
	Tpb__Kitchen r = TPB__KITCHEN__INIT;
	r.i32 = in->i32;
	r.has_by = 1;
	r.by.len = in->want_bytes;
	r.by.data = tern_pb_req_alloc(data, r.by.len); /* lives until packed */
	if (r.by.data == NULL) {
		closure(NULL, data);
		return;
	}
	memset(r.by.data, 0x5a, r.by.len);
	closure(&r, data);
}

static void h_depth(Tpb__Test_Service *svc, const Tpb__Tree *in, Tpb__Tree_Closure closure,
		    void *data)
{
	(void)svc;
	closure(in, data);
}

static void h_wrong_type(Tpb__Test_Service *svc, const Tpb__Kitchen *in,
			 Tpb__Kitchen_Closure closure, void *data)
{
	(void)svc;
	(void)in;
	Tpb__Tree t = TPB__TREE__INIT;
	closure((const Tpb__Kitchen *)(const void *)&t, data);
}

#define h_missing NULL /* method 3 has no handler */
static Tpb__Test_Service test_svc = TPB__TEST__INIT(h_);

/* --- a message with every field kind --------------------------------------------- */

static Tpb__Inner inner = TPB__INNER__INIT, c_inner = TPB__INNER__INIT;
static Tpb__Inner rinner[3] = {TPB__INNER__INIT, TPB__INNER__INIT, TPB__INNER__INIT};
static Tpb__Inner *rinner_p[3];
static int32_t ri32[] = {0, -1, 2147483647, -2147483647 - 1, 42};
static int64_t rs64[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
static char *rstr[] = {"", "a", "h\xc3\xa9llo w\xc3\xb6rld", "x"};
static uint8_t bytes1[] = {0, 1, 2, 255, 0};
static uint8_t bytes2[300];
static ProtobufCBinaryData rby[2];
static Tpb__Color rcolor[] = {TPB__COLOR__RED, TPB__COLOR__BLUE, TPB__COLOR__GREEN};
static double rdb[] = {0.0, -1.5, 1e300, 4.9e-324};
static Tpb__Kitchen__MSiEntry msi[3] = {TPB__KITCHEN__MSI_ENTRY__INIT,
					TPB__KITCHEN__MSI_ENTRY__INIT,
					TPB__KITCHEN__MSI_ENTRY__INIT};
static Tpb__Kitchen__MSiEntry *msi_p[3];
static Tpb__Kitchen__MImEntry mim[2] = {TPB__KITCHEN__MIM_ENTRY__INIT,
					TPB__KITCHEN__MIM_ENTRY__INIT};
static Tpb__Inner mim_v[2] = {TPB__INNER__INIT, TPB__INNER__INIT};
static Tpb__Kitchen__MImEntry *mim_p[2];

static void storage_init(void)
{
	inner.has_a = 1;
	inner.a = -7;
	inner.s = "inner";
	c_inner.has_a = 1;
	c_inner.a = 99;
	for (int i = 0; i < 3; i++) {
		rinner[i].has_a = 1;
		rinner[i].a = i * 10;
		rinner[i].s = i == 1 ? "one" : NULL;
		rinner_p[i] = &rinner[i];
	}
	for (size_t i = 0; i < sizeof(bytes2); i++)
		bytes2[i] = (uint8_t)(i * 7);
	rby[0] = (ProtobufCBinaryData){sizeof(bytes1), bytes1};
	rby[1] = (ProtobufCBinaryData){sizeof(bytes2), bytes2};
	static char *keys[] = {"k0", "", "key two"};
	for (int i = 0; i < 3; i++) {
		msi[i].key = keys[i];
		msi[i].has_value = 1;
		msi[i].value = (int64_t)i * -1000000000000LL;
		msi_p[i] = &msi[i];
	}
	for (int i = 0; i < 2; i++) {
		mim_v[i].has_a = 1;
		mim_v[i].a = 500 + i;
		mim[i].has_key = 1;
		mim[i].key = -i;
		mim[i].value = &mim_v[i];
		mim_p[i] = &mim[i];
	}
}

/* Fill k; which oneof member is set depends on tag % 3. */
static void kitchen_fill(Tpb__Kitchen *k, int32_t tag)
{
	tpb__kitchen__init(k);
	k->i32 = tag;
	k->has_i64 = 1, k->i64 = INT64_MIN + 5;
	k->has_u32 = 1, k->u32 = UINT32_MAX;
	k->has_u64 = 1, k->u64 = UINT64_MAX - 1;
	k->has_s32 = 1, k->s32 = -123456;
	k->has_s64 = 1, k->s64 = -(INT64_C(1) << 60);
	k->has_f32 = 1, k->f32 = 0xdeadbeefu;
	k->has_f64 = 1, k->f64 = 0x0123456789abcdefull;
	k->has_sf32 = 1, k->sf32 = -2;
	k->has_sf64 = 1, k->sf64 = -3;
	k->has_fl = 1, k->fl = 3.25f;
	k->has_db = 1, k->db = -2.5e-10;
	k->has_b = 1, k->b = 1;
	k->str = "string \xe2\x9c\x93";
	k->has_by = 1, k->by = (ProtobufCBinaryData){sizeof(bytes1), bytes1};
	k->has_color = 1, k->color = TPB__COLOR__BLUE;
	k->inner = &inner;
	k->n_ri32 = 5, k->ri32 = ri32;
	k->n_rs64 = 5, k->rs64 = rs64;
	k->n_rstr = 4, k->rstr = rstr;
	k->n_rby = 2, k->rby = rby;
	k->n_rinner = 3, k->rinner = rinner_p;
	k->n_rcolor = 3, k->rcolor = rcolor;
	k->n_rdb = 4, k->rdb = rdb;
	k->n_m_si = 3, k->m_si = msi_p;
	k->n_m_im = 2, k->m_im = mim_p;
	switch (((tag % 3) + 3) % 3) {
	case 0:
		k->choice_case = TPB__KITCHEN__CHOICE_C_INT;
		k->c_int = -314159;
		break;
	case 1:
		k->choice_case = TPB__KITCHEN__CHOICE_C_STR;
		k->c_str = "chosen";
		break;
	default:
		k->choice_case = TPB__KITCHEN__CHOICE_C_INNER;
		k->c_inner = &c_inner;
		break;
	}
}

static int bin_eq(ProtobufCBinaryData a, const void *p, size_t n)
{
	return a.len == n && (n == 0 || memcmp(a.data, p, n) == 0);
}

/* Every field of r as kitchen_fill(tag) set it. Returns 1 if all match. */
static int kitchen_ok(const Tpb__Kitchen *r, int32_t tag)
{
	int before = check_failures;
	CHECK(r != NULL);
	if (r == NULL)
		return 0;
	CHECK(r->base.descriptor == &tpb__kitchen__descriptor);
	CHECK_EQ(r->i32, tag);
	CHECK(r->has_i64 && r->i64 == INT64_MIN + 5);
	CHECK(r->has_u32 && r->u32 == UINT32_MAX);
	CHECK(r->has_u64 && r->u64 == UINT64_MAX - 1);
	CHECK(r->has_s32 && r->s32 == -123456);
	CHECK(r->has_s64 && r->s64 == -(INT64_C(1) << 60));
	CHECK(r->has_f32 && r->f32 == 0xdeadbeefu);
	CHECK(r->has_f64 && r->f64 == 0x0123456789abcdefull);
	CHECK(r->has_sf32 && r->sf32 == -2);
	CHECK(r->has_sf64 && r->sf64 == -3);
	CHECK(r->has_fl && r->fl == 3.25f);
	CHECK(r->has_db && r->db == -2.5e-10);
	CHECK(r->has_b && r->b == 1);
	CHECK(r->str != NULL && strcmp(r->str, "string \xe2\x9c\x93") == 0);
	CHECK(r->has_by && bin_eq(r->by, bytes1, sizeof(bytes1)));
	CHECK(r->has_color && r->color == TPB__COLOR__BLUE);
	CHECK(r->inner != NULL && r->inner->has_a && r->inner->a == -7 &&
	      strcmp(r->inner->s, "inner") == 0);
	CHECK(r->n_ri32 == 5 && memcmp(r->ri32, ri32, sizeof(ri32)) == 0);
	CHECK(r->n_rs64 == 5 && memcmp(r->rs64, rs64, sizeof(rs64)) == 0);
	CHECK_EQ(r->n_rstr, 4);
	for (size_t i = 0; i < r->n_rstr && i < 4; i++)
		CHECK(strcmp(r->rstr[i], rstr[i]) == 0);
	CHECK(r->n_rby == 2 && bin_eq(r->rby[0], bytes1, sizeof(bytes1)) &&
	      bin_eq(r->rby[1], bytes2, sizeof(bytes2)));
	CHECK_EQ(r->n_rinner, 3);
	for (size_t i = 0; i < r->n_rinner && i < 3; i++) {
		CHECK(r->rinner[i]->has_a && r->rinner[i]->a == (int32_t)i * 10);
		CHECK(i == 1 ? r->rinner[i]->s != NULL && strcmp(r->rinner[i]->s, "one") == 0
			     : r->rinner[i]->s == NULL);
	}
	CHECK(r->n_rcolor == 3 && memcmp(r->rcolor, rcolor, sizeof(rcolor)) == 0);
	CHECK(r->n_rdb == 4 && memcmp(r->rdb, rdb, sizeof(rdb)) == 0);
	CHECK_EQ(r->n_m_si, 3);
	for (size_t i = 0; i < r->n_m_si && i < 3; i++)
		CHECK(strcmp(r->m_si[i]->key, msi[i].key) == 0 && r->m_si[i]->value == msi[i].value);
	CHECK_EQ(r->n_m_im, 2);
	for (size_t i = 0; i < r->n_m_im && i < 2; i++)
		CHECK(r->m_im[i]->key == -(int32_t)i && r->m_im[i]->value != NULL &&
		      r->m_im[i]->value->a == 500 + (int32_t)i);
	CHECK(r->def_str != NULL && strcmp(r->def_str, "dflt") == 0); /* unset: the default */
	CHECK(!r->has_want_bytes);
	switch (((tag % 3) + 3) % 3) {
	case 0:
		CHECK(r->choice_case == TPB__KITCHEN__CHOICE_C_INT && r->c_int == -314159);
		break;
	case 1:
		CHECK(r->choice_case == TPB__KITCHEN__CHOICE_C_STR && strcmp(r->c_str, "chosen") == 0);
		break;
	default:
		CHECK(r->choice_case == TPB__KITCHEN__CHOICE_C_INNER && r->c_inner != NULL &&
		      r->c_inner->a == 99);
		break;
	}
	return check_failures == before;
}

/* --- completion records ------------------------------------------------------------ */

struct out {
	int done;
	int status;
	int ok;
	int32_t tag;
	size_t by_len;
};

/* A generated stub's closure: status from tern_pb_last_status(). */
static void on_kitchen(const Tpb__Kitchen *r, void *data)
{
	struct out *o = data;
	o->status = tern_pb_last_status();
	o->ok = r != NULL && kitchen_ok(r, o->tag);
	if (r != NULL && r->has_by)
		o->by_len = r->by.len;
	o->done++;
}

/* A closure that only records the outcome. */
static void on_any(const Tpb__Kitchen *r, void *data)
{
	struct out *o = data;
	o->status = tern_pb_last_status();
	o->ok = r != NULL;
	if (r != NULL && r->has_by)
		o->by_len = r->by.len;
	o->done++;
}

static void on_done(int status, const ProtobufCMessage *m, void *ctx)
{
	struct out *o = ctx;
	o->status = status;
	o->ok = m != NULL && status == 0 && kitchen_ok((const Tpb__Kitchen *)m, o->tag);
	CHECK((m == NULL) == (status != 0));
	o->done++;
}

/* --- round trips ------------------------------------------------------------------- */

static void round_trip__every_field_kind_sync(void)
{
	for (int32_t tag = 0; tag < 3; tag++) {
		Tpb__Kitchen k;
		kitchen_fill(&k, tag);
		Tpb__Kitchen *r = NULL;
		int rc = tern_pb_call_sync(client, 0, &k.base, (ProtobufCMessage **)&r, NULL, 0);
		REQUIRE(rc == 0);
		CHECK(kitchen_ok(r, tag));
		/* Packed again, the echo is byte for byte the request. */
		size_t n1 = tpb__kitchen__get_packed_size(&k), n2 = tpb__kitchen__get_packed_size(r);
		CHECK_EQ(n1, n2);
		uint8_t *b1 = malloc(n1), *b2 = malloc(n2);
		REQUIRE(b1 != NULL && b2 != NULL);
		tpb__kitchen__pack(&k, b1);
		tpb__kitchen__pack(r, b2);
		CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
		free(b1);
		free(b2);
	}
	/* A caller-supplied arena keeps several responses alive at once. */
	struct tern_pb_arena *a;
	REQUIRE(tern_pb_arena_create(&a) == 0);
	Tpb__Kitchen *r[4];
	for (int32_t i = 0; i < 4; i++) {
		Tpb__Kitchen k;
		kitchen_fill(&k, 100 + i);
		CHECK_EQ(tern_pb_call_sync(client, 0, &k.base, (ProtobufCMessage **)&r[i], a, 0), 0);
	}
	for (int32_t i = 0; i < 4; i++)
		CHECK(kitchen_ok(r[i], 100 + i));
	tern_pb_arena_destroy(a);
}

static void round_trip__every_field_kind_async_stub(void)
{
	enum { N = 40 };
	struct out o[N];
	memset(o, 0, sizeof(o));
	Tpb__Kitchen k;
	for (int i = 0; i < N; i++) {
		o[i].tag = i - 20;
		kitchen_fill(&k, o[i].tag);
		tpb__test__echo(client, &k, on_kitchen, &o[i]);
		CHECK_EQ(o[i].done, 0); /* never inside the stub */
	}
	for (int i = 0; i < N; i++) {
		pump(&o[i].done, 1);
		CHECK_EQ(o[i].done, 1);
		CHECK_EQ(o[i].status, 0);
		CHECK(o[i].ok);
	}
}

static void round_trip__status_variant(void)
{
	struct out o = {.tag = 77};
	Tpb__Kitchen k;
	kitchen_fill(&k, 77);
	REQUIRE(tern_pb_call(client, 0, &k.base, on_done, &o, 0) == 0);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, 0);
	CHECK(o.ok);
	/* Argument errors come back at once, and done never runs. */
	CHECK_EQ(tern_pb_call(client, 99, &k.base, on_done, &o, 0), -ENOENT);
	Tpb__Tree t = TPB__TREE__INIT;
	CHECK_EQ(tern_pb_call(client, 0, &t.base, on_done, &o, 0), -EINVAL);
	CHECK_EQ(tern_pb_call(NULL, 0, &k.base, on_done, &o, 0), -EINVAL);
	CHECK_EQ(o.done, 1);
}

struct raw_out {
	int done;
	int status;
	uint8_t *data;
	size_t len;
};

static void on_raw(const struct tern_result *res, void *ctx)
{
	struct raw_out *o = ctx;
	o->status = res->status;
	o->len = res->len;
	o->data = NULL;
	if (res->status == 0 && res->len != 0) {
		o->data = malloc(res->len);
		if (o->data != NULL)
			memcpy(o->data, res->data, res->len);
	}
	o->done = 1;
}

/* Send bytes as a raw tern call at type; wait for the answer. */
static int raw_call(uint16_t type, const void *bytes, size_t len, struct raw_out *o)
{
	memset(o, 0, sizeof(*o));
	struct tern_msg *m = tern_msg_alloc(cli, len);
	if (m == NULL)
		return -ENOMEM;
	if (len != 0)
		memcpy(tern_msg_data(m), bytes, len);
	int rc = tern_call(sess, type, m, on_raw, o, 0);
	if (rc != 0) {
		tern_msg_free(m);
		return rc;
	}
	pump(&o->done, 1);
	return o->done ? o->status : -ETIMEDOUT;
}

static void round_trip__raw_tern_interop(void)
{
	Tpb__Kitchen k;
	kitchen_fill(&k, 5);
	size_t n = tpb__kitchen__get_packed_size(&k);
	uint8_t *b = malloc(n);
	REQUIRE(b != NULL);
	tpb__kitchen__pack(&k, b);
	struct raw_out o;
	CHECK_EQ(raw_call(BASE + 0, b, n, &o), 0);
	Tpb__Kitchen *r = tpb__kitchen__unpack(NULL, o.len, o.data);
	CHECK(kitchen_ok(r, 5));
	if (r != NULL)
		tpb__kitchen__free_unpacked(r, NULL);
	free(o.data);
	free(b);
}

/* --- errors ----------------------------------------------------------------------- */

static void errors__unknown_method_index(void)
{
	/* A newer client (TestV2: one method appended) on an older server. */
	ProtobufCService *v2;
	REQUIRE(tern_pb_client_create(sess, &tpb__test_v2__descriptor, BASE, &v2) == 0);
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test_v2__added(v2, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -ENOENT);
	CHECK(!o.ok);
	/* Its other methods are the old ones and work. */
	memset(&o, 0, sizeof(o));
	o.tag = 1;
	tpb__test_v2__echo(v2, &k, on_kitchen, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.status, 0);
	CHECK(o.ok);
	protobuf_c_service_destroy(v2); /* the destroy hook is tern_pb_client_destroy */
}

static void errors__null_handler(void)
{
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__missing(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -ENOENT);
	CHECK(!o.ok);
}

static void errors__undecodable_request(void)
{
	struct raw_out o;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	CHECK_EQ(raw_call(BASE + 0, junk, sizeof(junk), &o), -EPROTO);
	/* Well-formed protobuf, but the required i32 is missing. */
	static const uint8_t no_required[] = {0x10, 0x01};
	CHECK_EQ(raw_call(BASE + 0, no_required, sizeof(no_required), &o), -EPROTO);
	CHECK_EQ(raw_call(BASE + 0, NULL, 0, &o), -EPROTO);
	/* A valid message cut short. */
	Tpb__Kitchen k;
	kitchen_fill(&k, 3);
	size_t n = tpb__kitchen__get_packed_size(&k);
	uint8_t *b = malloc(n);
	REQUIRE(b != NULL);
	tpb__kitchen__pack(&k, b);
	CHECK_EQ(raw_call(BASE + 0, b, n - 3, &o), -EPROTO);
	free(b);
	/* Past the service's methods: nothing registered there. */
	CHECK_EQ(raw_call(BASE + 7, junk, sizeof(junk), &o), -ENOENT);
}

/* A Tree nested depth levels deep, encoded by hand. */
static uint8_t *tree_bytes(unsigned depth, size_t *len)
{
	size_t cap = (size_t)depth * 6 + 16, n = 0;
	uint8_t *b = malloc(cap);
	if (b == NULL)
		return NULL;
	/* Built from the innermost out, at the end of b. */
	size_t start = cap;
	b[--start] = 0x01; /* v = 1 at the innermost */
	b[--start] = 0x10;
	for (unsigned i = 0; i < depth; i++) {
		size_t inner_len = cap - start;
		uint8_t v[10];
		size_t vn = 0;
		do {
			v[vn++] = (uint8_t)((inner_len & 0x7f) | (inner_len > 0x7f ? 0x80 : 0));
			inner_len >>= 7;
		} while (inner_len != 0);
		start -= vn;
		memcpy(b + start, v, vn);
		b[--start] = 0x0a; /* field 1, length-delimited */
	}
	n = cap - start;
	memmove(b, b + start, n);
	*len = n;
	return b;
}

static void errors__hostile_nesting_depth(void)
{
	size_t n;
	uint8_t *b = tree_bytes(100000, &n); /* ~400 KB: would overflow unpack's stack */
	REQUIRE(b != NULL);
	struct raw_out o;
	CHECK_EQ(raw_call(BASE + 5, b, n, &o), -EPROTO);
	free(b);
	/* Reasonable depth passes, both ways (the client checks replies too). */
	b = tree_bytes(60, &n);
	REQUIRE(b != NULL);
	Tpb__Tree *t = tpb__tree__unpack(NULL, n, b);
	REQUIRE(t != NULL);
	Tpb__Tree *r = NULL;
	CHECK_EQ(tern_pb_call_sync(client, 5, &t->base, (ProtobufCMessage **)&r, NULL, 0), 0);
	unsigned depth = 0;
	for (const Tpb__Tree *x = r; x != NULL && x->child != NULL; x = x->child)
		depth++;
	CHECK_EQ(depth, 60);
	tpb__tree__free_unpacked(t, NULL);
	free(b);
}

static void errors__handler_failure(void)
{
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__fail(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, TERN_PB_EHANDLER);
	CHECK_EQ(o.status, -EREMOTEIO);
	CHECK(!o.ok);
	Tpb__Kitchen *r = (Tpb__Kitchen *)&k;
	CHECK_EQ(tern_pb_call_sync(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0), -EREMOTEIO);
	CHECK(r == NULL);
	/* A reply of the wrong message type is a handler failure too. */
	memset(&o, 0, sizeof(o));
	tpb__test__wrong_type(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.status, -EREMOTEIO);
}

/* What a closure or done saw of a status answer. */
struct status_out {
	int done, status, code, got_msg;
	char message[TERN_STATUS_MSG_MAX + 1];
};

static void status_seen(struct status_out *o, int got_msg)
{
	o->status = tern_pb_last_status();
	o->code = tern_pb_last_code();
	snprintf(o->message, sizeof(o->message), "%s", tern_pb_last_message());
	o->got_msg = got_msg;
	o->done++;
}

static void on_status(const Tpb__Kitchen *r, void *data)
{
	status_seen(data, r != NULL);
}

static void on_status_done(int status, const ProtobufCMessage *m, void *ctx)
{
	struct status_out *o = ctx;
	status_seen(o, m != NULL);
	CHECK_EQ(status, o->status);
}

static void status_kitchen(Tpb__Kitchen *k, int code, char *msg)
{
	kitchen_fill(k, 1);
	k->i32 = STATUS_REQ + code;
	k->str = msg;
}

/* A handler's tern_pb_respond_status() reaches the caller as code, message
 * and the code's errno, through every client form. */
static void errors__handler_status(void)
{
	char msg[] = "no kitchen \xc2\xabk1\xc2\xbb here";
	Tpb__Kitchen k;
	status_kitchen(&k, TERN_STATUS_NOT_FOUND, msg);
	struct status_out o = {0};
	tpb__test__fail(client, &k, on_status, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.got_msg, 0);
	CHECK_EQ(o.status, -ENOENT);
	CHECK_EQ(o.code, TERN_STATUS_NOT_FOUND);
	CHECK(strcmp(o.message, msg) == 0);
	memset(&o, 0, sizeof(o));
	status_kitchen(&k, TERN_STATUS_PERMISSION_DENIED, msg);
	REQUIRE(tern_pb_call(client, 1, &k.base, on_status_done, &o, 0) == 0);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -EACCES);
	CHECK_EQ(o.code, TERN_STATUS_PERMISSION_DENIED);
	CHECK(strcmp(o.message, msg) == 0);
	/* sync */
	struct tern_status st;
	Tpb__Kitchen *r = (Tpb__Kitchen *)&k;
	char empty[] = "";
	status_kitchen(&k, TERN_STATUS_FAILED_PRECONDITION, empty);
	CHECK_EQ(tern_pb_call_sync_status(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 tern_status_to_errno(TERN_STATUS_FAILED_PRECONDITION));
	CHECK(r == NULL);
	CHECK_EQ(st.code, TERN_STATUS_FAILED_PRECONDITION);
	CHECK_EQ(st.message[0], '\0');
	status_kitchen(&k, TERN_STATUS_UNAVAILABLE, msg);
	CHECK_EQ(tern_pb_call_sync_status(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 -EAGAIN);
	CHECK_EQ(st.code, TERN_STATUS_UNAVAILABLE);
	CHECK(strcmp(st.message, msg) == 0);
	/* closure(NULL) without a status: UNKNOWN, no message */
	kitchen_fill(&k, 1);
	CHECK_EQ(tern_pb_call_sync_status(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 TERN_PB_EHANDLER);
	CHECK_EQ(st.code, TERN_STATUS_UNKNOWN);
	CHECK_EQ(st.message[0], '\0');
	/* a bad code, a message that is not UTF-8: refused on the server, which
	 * then fails as protobuf-c does */
	status_kitchen(&k, 0, msg);
	CHECK_EQ(tern_pb_call_sync_status(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 TERN_PB_EHANDLER);
	char bad[] = "\xff bad";
	status_kitchen(&k, TERN_STATUS_INTERNAL, bad);
	CHECK_EQ(tern_pb_call_sync_status(client, 1, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 TERN_PB_EHANDLER);
	CHECK_EQ(st.code, TERN_STATUS_UNKNOWN);
	/* success: code 0 */
	kitchen_fill(&k, 5);
	CHECK_EQ(tern_pb_call_sync_status(client, 0, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 0);
	CHECK(r != NULL && kitchen_ok(r, 5));
	CHECK_EQ(st.code, TERN_STATUS_OK);
	CHECK_EQ(tern_pb_last_code(), TERN_STATUS_OK);
	CHECK_EQ(tern_pb_last_message()[0], '\0');
	/* not started: the code of the error */
	CHECK_EQ(tern_pb_call_sync_status(client, 99, &k.base, (ProtobufCMessage **)&r, NULL, 0, &st),
		 -ENOENT);
	CHECK_EQ(st.code, TERN_STATUS_NOT_FOUND);
	CHECK_EQ(tern_pb_respond_status(NULL, TERN_STATUS_INTERNAL, "x"), -EINVAL);
	CHECK_EQ(atomic_load(&handler_bad), 0);
}

static void errors__response_too_big(void)
{
	Tpb__Kitchen k = TPB__KITCHEN__INIT;
	k.has_want_bytes = 1;
	/* Fits both: a multi-packet reply. */
	struct out o = {0};
	k.want_bytes = 300000;
	tpb__test__big(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.status, 0);
	CHECK_EQ(o.by_len, 300000);
	/* Over the client's limit (1 MiB), within the server's (4 MiB). */
	memset(&o, 0, sizeof(o));
	k.want_bytes = 3 * MIB / 2;
	tpb__test__big(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -EMSGSIZE);
	/* Over the server's own limit: no msgbuf for it. */
	memset(&o, 0, sizeof(o));
	k.want_bytes = 5 * MIB;
	tpb__test__big(client, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -EMSGSIZE);
}

static void errors__request_too_big(void)
{
	Tpb__Kitchen k = TPB__KITCHEN__INIT;
	k.has_by = 1;
	k.by.len = 2 * MIB; /* over the client endpoint's 1 MiB */
	k.by.data = calloc(1, k.by.len);
	REQUIRE(k.by.data != NULL);
	struct out o = {0};
	tpb__test__echo(client, &k, on_any, &o);
	CHECK_EQ(o.done, 1); /* not started: the closure ran inside the stub */
	CHECK_EQ(o.status, -EMSGSIZE);
	CHECK_EQ(tern_pb_call(client, 0, &k.base, on_done, &o, 0), -EMSGSIZE);
	CHECK_EQ(o.done, 1);
	free(k.by.data);
}

static void errors__session_never_connects(void)
{
	struct tern_session *dead;
	/* Nobody listens there: the connect times out (or is refused). */
	REQUIRE(tern_connect(cli, "127.0.0.1:9", &dead) == 0);
	ProtobufCService *c;
	REQUIRE(tern_pb_client_create(dead, &tpb__test__descriptor, BASE, &c) == 0);
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__echo(c, &k, on_any, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK(!o.ok);
	CHECK(o.status == -ETIMEDOUT || o.status == -ECONNREFUSED || o.status == -EHOSTUNREACH);
	tern_pb_client_destroy(c);
	tern_session_close(dead);
}

static void later_count(void *arg)
{
	*(int *)arg = later_n;
}

static int wait_later(int want)
{
	int n = 0;
	uint64_t end = tern_now_ns() + 10 * SEC;
	while (n < want && tern_now_ns() < end) {
		if (on_server(later_count, &n) != 0)
			return -1;
	}
	return n;
}

/* Answer every deferred request, newest first: a copy of its input (which
 * must still be intact) with i32 + 999; the one at index fail_at with NULL. */
static int fail_at = -1;
static void later_answer(void *arg)
{
	(void)arg;
	while (later_n > 0) {
		struct later l = later_q[--later_n];
		if (later_n == fail_at) {
			l.closure(NULL, l.data);
			continue;
		}
		Tpb__Kitchen r = *l.in;
		r.i32 += 999; /* keeps i32 % 3, which picks the oneof member */
		l.closure(&r, l.data);
		l.closure(&r, l.data); /* a second call is ignored */
	}
}

static void later_drop(void *arg)
{
	(void)arg;
	later_n = 0; /* their requests were cancelled; the closures must not run */
}

static void errors__session_closed_in_flight(void)
{
	struct tern_session *s2;
	REQUIRE(tern_connect(cli, tern_session_peer(sess, (char[64]){0}, 64), &s2) == 0);
	REQUIRE(tern_session_wait(s2, 5 * SEC) == 0);
	ProtobufCService *c;
	REQUIRE(tern_pb_client_create(s2, &tpb__test__descriptor, BASE, &c) == 0);
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__later(c, &k, on_any, &o);
	CHECK_EQ(wait_later(1), 1); /* the handler holds it */
	tern_pb_client_destroy(c);   /* with the call in flight: detached */
	tern_session_close(s2);      /* the call ends (-ECANCELED), no closure runs */
	CHECK_EQ(o.done, 0);
	/* The server answers later, into a closed session: nothing breaks. */
	fail_at = -1;
	CHECK_EQ(on_server(later_answer, NULL), 0);

	/* The same with the client alive: the closure gets NULL + -ECANCELED. */
	REQUIRE(tern_connect(cli, tern_session_peer(sess, (char[64]){0}, 64), &s2) == 0);
	REQUIRE(tern_session_wait(s2, 5 * SEC) == 0);
	REQUIRE(tern_pb_client_create(s2, &tpb__test__descriptor, BASE, &c) == 0);
	memset(&o, 0, sizeof(o));
	tpb__test__later(c, &k, on_any, &o);
	CHECK_EQ(wait_later(1), 1);
	tern_session_close(s2);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(o.status, -ECANCELED);
	tern_pb_client_destroy(c);
	CHECK_EQ(on_server(later_answer, NULL), 0);
}

static int sync_in_closure_rc;
static void on_try_sync(const Tpb__Kitchen *r, void *data)
{
	struct out *o = data;
	Tpb__Kitchen *x;
	if (r != NULL)
		sync_in_closure_rc =
			tern_pb_call_sync(client, 0, &r->base, (ProtobufCMessage **)&x, NULL, 0);
	o->done++;
}

static void errors__sync_inside_closure(void)
{
	struct out o = {0};
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__echo(client, &k, on_try_sync, &o);
	pump(&o.done, 1);
	CHECK_EQ(o.done, 1);
	CHECK_EQ(sync_in_closure_rc, -EDEADLK);
}

/* --- deferred replies ------------------------------------------------------------- */

static void deferred__reply_after_handler_returned(void)
{
	enum { N = 6 };
	struct out o[N];
	memset(o, 0, sizeof(o));
	Tpb__Kitchen k;
	for (int i = 0; i < N; i++) {
		o[i].tag = 40 + i + 999; /* what the reply carries */
		kitchen_fill(&k, 40 + i);
		tpb__test__later(client, &k, on_kitchen, &o[i]);
	}
	CHECK_EQ(wait_later(N), N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(o[i].done, 0); /* nobody answered yet */
	struct tern_pb_stats st;
	CHECK_EQ(tern_pb_ep_stats(srv, &st), 0);
	CHECK(st.in_flight >= N);
	fail_at = 2;
	CHECK_EQ(on_server(later_answer, NULL), 0);
	fail_at = -1;
	for (int i = 0; i < N; i++) {
		pump(&o[i].done, 1);
		CHECK_EQ(o[i].done, 1);
		if (i == 2) {
			CHECK_EQ(o[i].status, -EREMOTEIO);
		} else {
			CHECK_EQ(o[i].status, 0);
		}
	}
	/* The replies carried the inputs, still intact, with i32 + 999. */
	for (int i = 0; i < N; i++)
		CHECK(i == 2 ? !o[i].ok : o[i].ok);
}

static void stats__counted_by_reason(void)
{
	struct tern_pb_stats st;
	CHECK_EQ(on_server(stats_job, &st), 0);
	CHECK_EQ(st.in_flight, 0);
	CHECK(st.requests > st.replies);
	CHECK(st.replies > 50);
	CHECK_EQ(st.bad_request, 5);    /* junk, no required, empty, cut short, deep */
	CHECK_EQ(st.no_method, 1);      /* the NULL slot (past the end: tern's -ENOENT) */
	CHECK_EQ(st.handler_failed, 7); /* closure(NULL) x3, wrong type, deferred NULL,
					   a refused status x2 */
	CHECK_EQ(st.statuses, 4);
	CHECK_EQ(st.too_big, 2);
	CHECK_EQ(st.deferred, 8); /* 6 answered, 2 into closed sessions */
	CHECK(st.arenas >= 1);
}

static void release_srv(void *arg)
{
	(void)arg;
	tern_pb_ep_release(srv);
}

static void serve_again(void *arg)
{
	*(int *)arg = tern_pb_serve(srv, &test_svc.base, BASE, TERN_RRA);
}

static void deferred__release_cancels_and_serve_again(void)
{
	struct out o[2];
	memset(o, 0, sizeof(o));
	Tpb__Kitchen k;
	kitchen_fill(&k, 1);
	tpb__test__later(client, &k, on_any, &o[0]);
	tpb__test__later(client, &k, on_any, &o[1]);
	CHECK_EQ(wait_later(2), 2);
	CHECK_EQ(on_server(release_srv, NULL), 0);
	CHECK_EQ(on_server(later_drop, NULL), 0);
	for (int i = 0; i < 2; i++) {
		pump(&o[i].done, 1);
		CHECK_EQ(o[i].status, -ECANCELED);
	}
	/* Released: its types answer -ENOENT. */
	struct out e = {0};
	tpb__test__echo(client, &k, on_any, &e);
	pump(&e.done, 1);
	CHECK_EQ(e.status, -ENOENT);
	/* And serving again works, with fresh state. */
	int rc = -1;
	CHECK_EQ(on_server(serve_again, &rc), 0);
	CHECK_EQ(rc, 0);
	memset(&e, 0, sizeof(e));
	e.tag = 1;
	tpb__test__echo(client, &k, on_kitchen, &e);
	pump(&e.done, 1);
	CHECK_EQ(e.status, 0);
	CHECK(e.ok);
}

/* --- registration -------------------------------------------------------------------- */

struct serve_args {
	ProtobufCService *svc;
	unsigned base;
	unsigned flags;
	int rc;
};

static void serve_job(void *arg)
{
	struct serve_args *a = arg;
	a->rc = tern_pb_serve(srv, a->svc, (uint16_t)a->base, a->flags);
}

static int serve_on_server(unsigned base, unsigned flags)
{
	struct serve_args a = {&test_svc.base, base, flags, 1};
	if (on_server(serve_job, &a) != 0)
		return -ETIMEDOUT;
	return a.rc;
}

static void serve__rr_service_and_checks(void)
{
	CHECK_EQ(serve_on_server(BASE_RR, TERN_RR), 0);
	ProtobufCService *rr;
	REQUIRE(tern_pb_client_create(sess, &tpb__test__descriptor, BASE_RR, &rr) == 0);
	Tpb__Kitchen k;
	kitchen_fill(&k, 8);
	Tpb__Kitchen *r;
	CHECK_EQ(tern_pb_call_sync(rr, 0, &k.base, (ProtobufCMessage **)&r, NULL, 0), 0);
	CHECK(kitchen_ok(r, 8));
	tern_pb_client_destroy(rr);

	CHECK_EQ(serve_on_server(BASE + 3, TERN_RRA), -EEXIST);        /* overlaps Test */
	CHECK_EQ(serve_on_server(BASE_RR - 6, TERN_RRA), -EEXIST);     /* overlaps its start */
	CHECK_EQ(serve_on_server(BASE + 0x400, TERN_R), -EINVAL);      /* one-way: no */
	CHECK_EQ(serve_on_server(65535 - 5, TERN_RRA), -EINVAL);       /* 7 types past 65535 */
	CHECK_EQ(tern_pb_serve(NULL, &test_svc.base, 1, TERN_RRA), -EINVAL);
	CHECK_EQ(tern_pb_client_create(sess, &tpb__test__descriptor, 65535 - 5, &rr), -EINVAL);
	CHECK_EQ(tern_pb_client_create(NULL, &tpb__test__descriptor, 0, &rr), -EINVAL);
	CHECK_EQ(atomic_load(&handler_bad), 0);
}

/* --- no malloc once warm ------------------------------------------------------------ */

static void on_count(int status, const ProtobufCMessage *m, void *ctx)
{
	struct out *o = ctx;
	o->ok += status == 0 && m != NULL;
	o->done++;
}

static void nomalloc_run(size_t extra_bytes)
{
	Tpb__Kitchen k;
	kitchen_fill(&k, 9);
	uint8_t *big = NULL;
	if (extra_bytes != 0) {
		big = malloc(extra_bytes);
		REQUIRE(big != NULL);
		memset(big, 0x33, extra_bytes);
		k.by = (ProtobufCBinaryData){extra_bytes, big};
	}
	enum { WARM = 200, N = 1000 };
	int ok = 0;
	struct out o = {0};
	/* Warm-up: pools, arenas and msgbuf classes reach their working size.
	 * At most two calls in flight, the sync one and one async (each async
	 * call is waited for before the next is issued): how many run at once
	 * must not depend on timing, or a rare third one (another slot, another
	 * reassembly buffer and cached response on the server) after the
	 * warm-up would be a legitimate first use of the pool, not a leak. */
	for (int i = 0; i < WARM; i++) {
		Tpb__Kitchen *r;
		ok += tern_pb_call_sync(client, 0, &k.base, (ProtobufCMessage **)&r, NULL, 0) == 0;
		pump(&o.done, i);
		tern_pb_call(client, 0, &k.base, on_count, &o, 0);
	}
	pump(&o.done, WARM);
	CHECK_EQ(o.done, WARM);
	struct tern_pb_stats s0, s1;
	REQUIRE(on_server(stats_job, &s0) == 0);
	atomic_store(&srv_mallocs, 0);
	atomic_store(&cli_mallocs, 0);
	atomic_store(&count_on, 1);
	int calls = 0;
	for (int i = 0; i < N; i++) {
		Tpb__Kitchen *r;
		calls += tern_pb_call_sync(client, 0, &k.base, (ProtobufCMessage **)&r, NULL, 0) == 0;
		pump(&o.done, WARM + i);
		calls += tern_pb_call(client, 0, &k.base, on_count, &o, 0) == 0;
	}
	atomic_store(&count_on, 0);
	pump(&o.done, WARM + N);
	CHECK_EQ(o.ok, WARM + N);
	REQUIRE(on_server(stats_job, &s1) == 0);
	CHECK_EQ(ok, WARM);
	CHECK_EQ(calls, 2 * N);
	CHECK_EQ(s1.requests - s0.requests, 2 * N);
	CHECK_EQ(s1.arena_mallocs - s0.arena_mallocs, 0); /* tern_pb's own count */
	if (HAVE_MALLOC_HOOK) {
		printf("# %zu extra bytes: %lu server mallocs, %lu client mallocs in %d calls\n",
		       extra_bytes, (unsigned long)atomic_load(&srv_mallocs),
		       (unsigned long)atomic_load(&cli_mallocs), 2 * N);
		CHECK_EQ(atomic_load(&srv_mallocs), 0);
		CHECK_EQ(atomic_load(&cli_mallocs), 0);
	}
	free(big);
}

static void nomalloc__server_and_client_once_warm(void)
{
	nomalloc_run(0);
}

static void nomalloc__large_fields_once_warm(void)
{
	nomalloc_run(100000); /* past the inline arena chunk: grown once, then kept */
}

/* --- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	driver = argc > 1 ? argv[1] : "loop";
	if (strstr(tern_drivers(), driver) == NULL) {
		printf("driver %s not built: skipped\n", driver);
		return 77;
	}
	thread_role = 2;
	storage_init();
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = driver;
	cfg.bind = "127.0.0.1:0";
	cfg.max_msg_size = 4 * MIB;
	cfg.busy_poll = 0; /* the server thread sleeps when idle: two spinners on 2 cores crawl */
	if (tern_ep_create(&cfg, &srv) != 0) {
		fprintf(stderr, "server endpoint\n");
		return 1;
	}
	cfg.max_msg_size = 1 * MIB;
	cfg.busy_poll = 1;
	cfg.connect_timeout_ns = 300000000ull;
	if (tern_ep_create(&cfg, &cli) != 0) {
		fprintf(stderr, "client endpoint\n");
		return 1;
	}
	if (tern_pb_serve(srv, &test_svc.base, BASE, TERN_RRA) != 0) {
		fprintf(stderr, "tern_pb_serve\n");
		return 1;
	}
	char addr[64];
	tern_ep_addr(srv, addr, sizeof(addr));
	if (pthread_create(&srv_thread, NULL, server_main, NULL) != 0)
		return 1;
	if (tern_connect(cli, addr, &sess) != 0 || tern_session_wait(sess, 5 * SEC) != 0) {
		fprintf(stderr, "connect to %s failed\n", addr);
		return 1;
	}
	if (tern_pb_client_create(sess, &tpb__test__descriptor, BASE, &client) != 0)
		return 1;

	RUN(round_trip__every_field_kind_sync);
	RUN(round_trip__every_field_kind_async_stub);
	RUN(round_trip__status_variant);
	RUN(round_trip__raw_tern_interop);
	RUN(errors__unknown_method_index);
	RUN(errors__null_handler);
	RUN(errors__undecodable_request);
	RUN(errors__hostile_nesting_depth);
	RUN(errors__handler_failure);
	RUN(errors__handler_status);
	RUN(errors__response_too_big);
	RUN(errors__request_too_big);
	RUN(errors__session_never_connects);
	RUN(errors__session_closed_in_flight);
	RUN(errors__sync_inside_closure);
	RUN(deferred__reply_after_handler_returned);
	RUN(stats__counted_by_reason);
	RUN(deferred__release_cancels_and_serve_again);
	RUN(serve__rr_service_and_checks);
	RUN(nomalloc__server_and_client_once_warm);
	RUN(nomalloc__large_fields_once_warm);

	check_case = "teardown";
	struct tern_pb_stats st;
	CHECK_EQ(on_server(stats_job, &st), 0);
	CHECK_EQ(st.in_flight, 0);
	CHECK_EQ(st.bad_request + st.no_method + st.handler_failed + st.too_big, 0); /* since serving again */
	tern_pb_client_destroy(client);
	tern_session_close(sess);
	for (int i = 0; i < 1000; i++)
		(void)tern_poll(cli);
	CHECK_EQ(on_server(release_srv, NULL), 0);
	atomic_store(&srv_stop, 1);
	pthread_join(srv_thread, NULL);
	struct tern_stats cs;
	tern_ep_stats(cli, &cs);
	CHECK_EQ(cs.msgs_in_use, 0);
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
