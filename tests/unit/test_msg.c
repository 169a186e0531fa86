/*
 * test_msg.c — lib/msg.c: msgbuf allocation, size classes, references,
 * length and capacity, the memory limit, and pools returning to their
 * starting level after traffic.
 */
#include "check.h"
#include "inject.h"

static struct tern_ep *ep;

static int setup_limit(uint64_t limit)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.mem_limit = limit;
	cfg.max_msg_size = 8u << 20;
	ep = inj_ep_create(&cfg);
	return ep != NULL ? 0 : -1;
}

static struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static void teardown(void)
{
	tern_ep_destroy(ep);
	ep = NULL;
}

static void msg_alloc__sizes_and_classes(void)
{
	REQUIRE(setup_limit(256ull << 20) == 0);
	const size_t sizes[] = {0, 1, 63, 64, 127, 128, 129, 1000, 4096, 65536 - 128, 65536,
				100000, 1u << 20, 8u << 20};
	struct tern_msg *m[sizeof(sizes) / sizeof(sizes[0])];
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		m[i] = tern_msg_alloc(ep, sizes[i]);
		REQUIRE(m[i] != NULL);
		CHECK_EQ(tern_msg_len(m[i]), sizes[i]);
		size_t cap = tern_msg_cap(m[i]);
		CHECK(cap >= sizes[i]);
		/* A power-of-two chunk minus the metadata, and the smallest that fits. */
		size_t chunk = cap + TERN_MSG_META;
		CHECK((chunk & (chunk - 1)) == 0);
		CHECK(chunk >= 256);
		CHECK(chunk == 256 || (chunk / 2) < sizes[i] + TERN_MSG_META);
		CHECK(((uintptr_t)tern_msg_data(m[i]) & 63) == 0);
		memset(tern_msg_data(m[i]), 0xa5, cap); /* every byte usable */
	}
	CHECK_EQ(tern_msg_cap(m[0]), 256 - TERN_MSG_META);
	CHECK_EQ(tern_msg_cap(m[5]), 256 - TERN_MSG_META); /* 128 + 128 fits 256 */
	CHECK_EQ(tern_msg_cap(m[6]), 512 - TERN_MSG_META);
	CHECK_EQ(stats().msgs_in_use, sizeof(sizes) / sizeof(sizes[0]));
	/* Distinct, non-overlapping buffers. */
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (unsigned j = i + 1; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			uint8_t *a = tern_msg_data(m[i]), *b = tern_msg_data(m[j]);
			CHECK(a + tern_msg_cap(m[i]) <= b || b + tern_msg_cap(m[j]) <= a);
		}
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tern_msg_free(m[i]);
	CHECK_EQ(stats().msgs_in_use, 0);
	/* Over max_msg_size, or no endpoint. */
	CHECK(tern_msg_alloc(ep, (8u << 20) + 1) == NULL);
	CHECK(tern_msg_alloc(ep, SIZE_MAX) == NULL);
	CHECK(tern_msg_alloc(NULL, 1) == NULL);
	CHECK_EQ(stats().msgs_in_use, 0);
	tern_msg_free(NULL); /* no-op */
	teardown();
}

static void msg_free__reuses_buffers(void)
{
	REQUIRE(setup_limit(64ull << 20) == 0);
	struct tern_msg *a = tern_msg_alloc(ep, 100);
	REQUIRE(a != NULL);
	uint64_t reserved = stats().msg_bytes_reserved;
	CHECK(reserved > 0);
	tern_msg_free(a);
	struct tern_msg *b = tern_msg_alloc(ep, 50); /* same class */
	CHECK(b == a);
	CHECK_EQ(tern_msg_len(b), 50);
	tern_msg_free(b);
	/* Churn: no growth after warm-up (each class's first region). */
	for (int k = 0; k < 200; k++)
		tern_msg_free(tern_msg_alloc(ep, (size_t)k));
	reserved = stats().msg_bytes_reserved;
	for (int k = 0; k < 10000; k++) {
		struct tern_msg *x = tern_msg_alloc(ep, (size_t)(k % 200));
		REQUIRE(x != NULL);
		tern_msg_free(x);
	}
	CHECK_EQ(stats().msg_bytes_reserved, reserved);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

static void msg_ref__last_reference_frees(void)
{
	REQUIRE(setup_limit(64ull << 20) == 0);
	struct tern_msg *m = tern_msg_alloc(ep, 10);
	REQUIRE(m != NULL);
	tern_msg_ref(m);
	tern_msg_ref(m);
	tern_msg_free(m);
	CHECK_EQ(stats().msgs_in_use, 1);
	tern_msg_unref(m);
	CHECK_EQ(stats().msgs_in_use, 1);
	/* Not on the free list yet: a new allocation is another buffer. */
	struct tern_msg *n = tern_msg_alloc(ep, 10);
	CHECK(n != m);
	tern_msg_unref(m);
	CHECK_EQ(stats().msgs_in_use, 1);
	tern_msg_free(n);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

static void msg_set_len__bounds(void)
{
	REQUIRE(setup_limit(64ull << 20) == 0);
	struct tern_msg *m = tern_msg_alloc(ep, 10);
	REQUIRE(m != NULL);
	size_t cap = tern_msg_cap(m);
	CHECK_EQ(tern_msg_set_len(m, 0), 0);
	CHECK_EQ(tern_msg_len(m), 0);
	CHECK_EQ(tern_msg_set_len(m, cap), 0);
	CHECK_EQ(tern_msg_len(m), cap);
	CHECK_EQ(tern_msg_set_len(m, cap + 1), -EINVAL);
	CHECK_EQ(tern_msg_len(m), cap);
	CHECK_EQ(tern_msg_set_len(NULL, 0), -EINVAL);
	tern_msg_free(m);
	teardown();
}

static void msg_alloc__mem_limit(void)
{
	REQUIRE(setup_limit(4u << 20) == 0); /* two 2 MiB slabs */
	enum { MAX = 20000 };
	static struct tern_msg *m[MAX];
	int n = 0;
	while (n < MAX && (m[n] = tern_msg_alloc(ep, 100)) != NULL)
		n++;
	CHECK(n > 0);
	CHECK(n < MAX);
	CHECK_EQ(n, (4 << 20) / 256); /* every chunk of both slabs, then no more */
	struct tern_stats st = stats();
	CHECK(st.msg_bytes_reserved <= (4u << 20));
	CHECK_EQ(st.msgs_in_use, (uint64_t)n);
	/* Other classes need new regions: refused as well. */
	CHECK(tern_msg_alloc(ep, 5000) == NULL);
	CHECK(tern_msg_alloc(ep, 1u << 20) == NULL);
	/* A freed buffer is allocatable again. */
	tern_msg_free(m[--n]);
	m[n] = tern_msg_alloc(ep, 1);
	CHECK(m[n] != NULL);
	n++;
	for (int i = 0; i < n; i++)
		tern_msg_free(m[i]);
	CHECK_EQ(stats().msgs_in_use, 0);
	/* One large message over the whole limit. */
	CHECK(tern_msg_alloc(ep, 5u << 20) == NULL);
	teardown();
	/* A limit below one slab: nothing small fits, nothing crashes. */
	REQUIRE(setup_limit(1u << 20) == 0);
	CHECK(tern_msg_alloc(ep, 1) == NULL);
	CHECK(tern_msg_alloc(ep, 500000) != NULL); /* 512 KiB chunk: its own region */
	teardown();
}

static void msg_alloc__driver_memory_fails(void)
{
	REQUIRE(setup_limit(64ull << 20) == 0);
	inj_mem_fail_after(inj_of(ep), 1);
	struct tern_msg *a = tern_msg_alloc(ep, 10);  /* first region */
	struct tern_msg *b = tern_msg_alloc(ep, 5000); /* another class: refused */
	CHECK(a != NULL);
	CHECK(b == NULL);
	CHECK_EQ(stats().msgs_in_use, 1);
	tern_msg_free(a);
	teardown();
}

static void echo_handler(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

/* Traffic through a server session: every buffer comes back. */
static void msg_pools__back_to_start_after_traffic(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.mtu = 96;
	ep = inj_ep_create(&cfg);
	REQUIRE(ep != NULL);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	uint8_t msg[1000];
	inj_fill(msg, sizeof(msg), 2);
	tern_handle(ep, 1, echo_handler, NULL, TERN_RRA);
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t rn = 8 + 8 * k;
		inj_req_msg(&p, rn, 1, msg, sizeof(msg), 0);
		inj_poll(ep);
		for (uint32_t j = 1; j < tern_wire_npkts(sizeof(msg), 64); j++)
			inj_rfr(&p, rn, 1, j, sizeof(msg));
		inj_ack(&p, rn, 1);
		inj_poll(ep);
		inj_tx_clear(p.d);
	}
	struct tern_stats st = stats();
	CHECK_EQ(st.requests_executed, 20);
	CHECK_EQ(st.acks_rx, 20);
	CHECK_EQ(st.cached_responses, 0);
	CHECK_EQ(st.msgs_in_use, 0);
	teardown();
}

int main(void)
{
	RUN(msg_alloc__sizes_and_classes);
	RUN(msg_free__reuses_buffers);
	RUN(msg_ref__last_reference_frees);
	RUN(msg_set_len__bounds);
	RUN(msg_alloc__mem_limit);
	RUN(msg_alloc__driver_memory_fails);
	RUN(msg_pools__back_to_start_after_traffic);
	return check_exit();
}
