/*
 * bench.cc — tern-micro: google-benchmark microbenchmarks of tern's building
 * blocks, a C++ harness over the C library (the internal archive, so the
 * wire and crypto internals are reachable; one copy of tern in the process).
 *
 *   tern-micro [--eal "EAL ARGS"] [--benchmark_filter=REGEX] [--benchmark_min_time=S] ...
 *
 * Benchmarks (ns/op is per item unless said; items/s = 1 / that):
 *   wire/put_seal/T       tern_wire_put + tern_wire_seal of one header (T: REQ, whose
 *                         checksum covers the 32-byte header; CONNECT, header + 40-byte body)
 *   wire/check/T          tern_wire_check (+ tern_wire_check_data for REQ) of one packet
 *   msg/alloc_free/N      tern_msg_alloc(N) + tern_msg_free on a loop endpoint
 *   rtt/D/SIZE/W          in-process echo round trips over driver D (loop, or dpdk:
 *                         a net_ring pair, needs --eal) with SIZE-byte request and
 *                         response and W calls outstanding; real time, so ns/op is the
 *                         time per completed call (1/throughput); counters p50_us,
 *                         p99_us, p999_us (RTT of each call, perf/hist.h) and calls_per_s
 *   pb/pack/M, pb/unpack/M  protobuf-c get_packed_size + pack into a buffer; unpack with
 *                         tern_pb's arena allocator + arena reset (M: small, blob4k)
 *   aead/seal|open/SIZE/C one packet's AEAD at the privacy level (40 bytes of header and
 *                         counter authenticated, SIZE bytes encrypted; SIZE 32, 64, 256,
 *                         512, 1440), C: aes-gcm (libgcrypt) or chacha (OpenSSL's
 *                         ChaCha20-Poly1305, used where the CPU lacks AES-NI); contexts
 *                         set up once, as tern's sessions have them (lib/crypto.c)
 *   x25519/dh             one DH with a prepared private key (tern_x25519_key_dh)
 *   x25519/dh_import      one DH importing the raw private key (tern_x25519)
 *   x25519/keypair        a fresh key pair (tern_x25519_key_generate: random bytes,
 *                         one fixed-base multiplication)
 *   hkdf                  Noise's HKDF with two outputs (three HMAC-SHA256)
 *   wheel/...             the timing wheel (lib/wheel.c): arm+cancel, re-arm, arm+fire
 *                         and idle pops with 1k and 100k timers armed (see wheel.cc)
 *
 * perf/micro/providers.c (tern-providers) compares the candidate libraries
 * behind these figures.
 *
 * --eal: DPDK EAL arguments for the dpdk rig, e.g. "-l 0 --no-huge -m 512
 * --no-shconf --no-pci --file-prefix tern-micro --log-level=*:warning"; the
 * tern dpdk driver starts EAL from them when the rig is first used (EAL then
 * pins this thread to the -l core). Without --eal the dpdk benchmarks are
 * skipped.
 *
 * Exit status: 0; 1 if a benchmark failed (an error other than a skip for
 * a missing environment); 77 if only skips happened and a dpdk rig could
 * not come up because this is not root; 2 on bad arguments.
 */
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "rig.h"

extern "C" {
#include "crypto.h"
#include "wire.h"
#ifdef TERN_MICRO_PB
#include "micro.pb-c.h"
#include "tern_pb.h"
#endif
}

namespace {

const char *g_eal = nullptr;
bool g_failed = false;     /* a benchmark failed */
bool g_env_skip = false;   /* a benchmark was skipped for its environment */

/* Skip st with msg; messages starting "skip:" are a missing environment,
 * anything else is a failure (exit status 1). */
void fail(benchmark::State &st, const std::string &msg)
{
	if (msg.compare(0, 5, "skip:") == 0)
		g_env_skip = true;
	else
		g_failed = true;
	st.SkipWithError(msg.c_str());
}

/* ------------------------------------------------------------------ */
/* wire: header build and validation */

void make_hdr(struct tern_hdr *h, unsigned type, uint64_t n)
{
	*h = tern_hdr{};
	h->type = static_cast<uint8_t>(type);
	h->req_type = 1;
	h->dst_session = 3;
	h->src_session = 7;
	h->token = 0x5eed1234u;
	h->pkt_num = 0;
	h->msg_size = 32;
	h->req_num = n;
}

/* arg 0: REQ (32-byte payload), 1: CONNECT (40-byte handshake body) */
size_t pkt_len(int64_t kind)
{
	return TERN_HDR_LEN + (kind == 0 ? 32u : TERN_HS_LEN);
}

void BM_wire_put_seal(benchmark::State &st, int64_t kind)
{
	alignas(64) uint8_t pkt[TERN_HDR_LEN + 64] = {};
	unsigned type = kind == 0 ? TERN_PKT_REQ : TERN_PKT_CONNECT;
	size_t len = pkt_len(kind);
	struct tern_hdr h;
	uint64_t n = 0;
	make_hdr(&h, type, 0);
	for (auto _ : st) {
		h.req_num = n++;
		benchmark::DoNotOptimize(&h);
		tern_wire_put(pkt, &h);
		tern_wire_seal(pkt, len);
		benchmark::DoNotOptimize(pkt);
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void BM_wire_check(benchmark::State &st, int64_t kind)
{
	alignas(64) uint8_t pkt[TERN_HDR_LEN + 64] = {};
	unsigned type = kind == 0 ? TERN_PKT_REQ : TERN_PKT_CONNECT;
	size_t len = pkt_len(kind);
	struct tern_hdr h, out;
	make_hdr(&h, type, 42);
	if (type == TERN_PKT_CONNECT) {
		h.dst_session = TERN_SESSION_NONE;
		h.msg_size = 0;
	}
	tern_wire_put(pkt, &h);
	tern_wire_seal(pkt, len);
	for (auto _ : st) {
		benchmark::DoNotOptimize(pkt);
		enum tern_wire_err e = tern_wire_check(pkt, len, 8u << 20, &out);
		if (e == TERN_WIRE_OK && out.type == TERN_PKT_REQ)
			e = tern_wire_check_data(&out, len - TERN_HDR_LEN, 1440);
		if (e != TERN_WIRE_OK) {
			fail(st, "tern_wire_check rejected a good packet");
			break;
		}
		benchmark::DoNotOptimize(out);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

/* ------------------------------------------------------------------ */
/* msgbufs */

void BM_msg_alloc_free(benchmark::State &st, int64_t size)
{
	std::string err;
	struct rig *r = rig_get("loop", nullptr, &err);
	if (r == nullptr) {
		fail(st, err);
		return;
	}
	size_t n = static_cast<size_t>(size);
	for (auto _ : st) {
		struct tern_msg *m = tern_msg_alloc(r->cli, n);
		if (m == nullptr) {
			fail(st, "tern_msg_alloc failed");
			break;
		}
		benchmark::DoNotOptimize(m);
		tern_msg_free(m);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

/* ------------------------------------------------------------------ */
/* in-process round trips */

void BM_rtt(benchmark::State &st, const char *driver, int64_t size, int64_t window)
{
	std::string err;
	struct rig *r = rig_get(driver, g_eal, &err);
	if (r == nullptr) {
		fail(st, err);
		return;
	}
	closed_loop cl(r, static_cast<size_t>(size), static_cast<unsigned>(window));
	if (!cl.start(&err)) {
		fail(st, err);
		return;
	}
	for (auto _ : st) {
		if (!cl.next(&err)) {
			fail(st, err);
			break;
		}
	}
	cl.drain();
	const struct hist *h = &cl.res.lat;
	st.counters["p50_us"] = static_cast<double>(hist_quantile(h, 0.50)) / 1e3;
	st.counters["p99_us"] = static_cast<double>(hist_quantile(h, 0.99)) / 1e3;
	st.counters["p999_us"] = static_cast<double>(hist_quantile(h, 0.999)) / 1e3;
	st.counters["calls_per_s"] = benchmark::Counter(static_cast<double>(st.iterations()),
							benchmark::Counter::kIsRate);
	if (cl.res.errors != 0)
		st.counters["errors"] = static_cast<double>(cl.res.errors);
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

/* ------------------------------------------------------------------ */
/* protobuf-c through tern_pb's arena */

#ifdef TERN_MICRO_PB
struct pb_case {
	Ternmicro__Small small = TERNMICRO__SMALL__INIT;
	Ternmicro__Blob blob = TERNMICRO__BLOB__INIT;
	std::vector<uint8_t> data;
	char key[32] = "volume-0/block-000123";
	const ProtobufCMessage *msg(int64_t which)
	{
		if (which == 0) {
			small.id = 0x1234567890ull;
			small.op = 2;
			small.offset = 1 << 20;
			small.length = 4096;
			small.key = key;
			return &small.base;
		}
		data.assign(4096, 0xa5);
		blob.id = 77;
		blob.data.data = data.data();
		blob.data.len = data.size();
		return &blob.base;
	}
};

void BM_pb_pack(benchmark::State &st, int64_t which)
{
	pb_case c;
	const ProtobufCMessage *m = c.msg(which);
	std::vector<uint8_t> buf(protobuf_c_message_get_packed_size(m));
	for (auto _ : st) {
		size_t n = protobuf_c_message_get_packed_size(m);
		if (n > buf.size()) {
			fail(st, "packed size grew");
			break;
		}
		benchmark::DoNotOptimize(protobuf_c_message_pack(m, buf.data()));
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * buf.size()));
	st.SetLabel(std::to_string(buf.size()) + " B packed");
}

void BM_pb_unpack(benchmark::State &st, int64_t which)
{
	pb_case c;
	const ProtobufCMessage *m = c.msg(which);
	std::vector<uint8_t> buf(protobuf_c_message_get_packed_size(m));
	protobuf_c_message_pack(m, buf.data());
	struct tern_pb_arena *a;
	if (tern_pb_arena_create(&a) != 0) {
		fail(st, "tern_pb_arena_create failed");
		return;
	}
	ProtobufCAllocator *pa = tern_pb_arena_allocator(a);
	for (auto _ : st) {
		ProtobufCMessage *u = protobuf_c_message_unpack(m->descriptor, pa, buf.size(), buf.data());
		if (u == nullptr) {
			fail(st, "unpack failed");
			break;
		}
		benchmark::DoNotOptimize(u);
		tern_pb_arena_reset(a);
	}
	tern_pb_arena_destroy(a);
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * buf.size()));
	st.SetLabel(std::to_string(buf.size()) + " B packed");
}
#endif

/* ------------------------------------------------------------------ */
/* AEAD per packet */

const char *const aead_names[] = {"aes-gcm", "chacha"};

int aead_make(int64_t impl, int encrypt, struct tern_aead **a)
{
	static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
	return tern_aead_new(a, impl == 1 ? TERN_CIPHER_CHACHAPOLY : TERN_CIPHER_AES256GCM, key,
			     encrypt);
}

struct aead_pkt {
	alignas(64) uint8_t ad[TERN_HDR_LEN + TERN_PROT_CTR_LEN] = {};
	alignas(64) uint8_t in[2048] = {};
	alignas(64) uint8_t out[2048] = {};
	uint8_t tag[16] = {};
};

void BM_aead_seal(benchmark::State &st, int64_t size, int64_t impl)
{
	size_t len = static_cast<size_t>(size);
	struct tern_aead *a;
	aead_pkt p;
	if (aead_make(impl, 1, &a) != 0) {
		fail(st, "tern_aead_new failed");
		return;
	}
	uint64_t ctr = 0;
	for (auto _ : st) {
		if (tern_aead_seal(a, ctr++, p.ad, sizeof(p.ad), nullptr, 0, p.in, len, p.out, p.tag) != 0) {
			fail(st, "tern_aead_seal failed");
			break;
		}
		benchmark::DoNotOptimize(p.tag);
		benchmark::ClobberMemory();
	}
	tern_aead_free(a);
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
}

void BM_aead_open(benchmark::State &st, int64_t size, int64_t impl)
{
	size_t len = static_cast<size_t>(size);
	struct tern_aead *enc, *dec;
	aead_pkt p;
	if (aead_make(impl, 1, &enc) != 0 || aead_make(impl, 0, &dec) != 0) {
		fail(st, "tern_aead_new failed");
		return;
	}
	uint8_t ct[2048];
	tern_aead_seal(enc, 9, p.ad, sizeof(p.ad), nullptr, 0, p.in, len, ct, p.tag);
	tern_aead_free(enc);
	for (auto _ : st) {
		if (tern_aead_open(dec, 9, p.ad, sizeof(p.ad), ct, len, p.out, p.tag) != 0) {
			fail(st, "tern_aead_open rejected a good packet");
			break;
		}
		benchmark::DoNotOptimize(p.out);
		benchmark::ClobberMemory();
	}
	tern_aead_free(dec);
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
}

/* ------------------------------------------------------------------ */
/* Handshake primitives */

/* A peer public key and a private key, fixed so every run does the same work. */
struct x25519_pair {
	uint8_t priv[32] = {};
	uint8_t peer[32] = {};
	x25519_pair()
	{
		uint8_t other[32];
		for (int i = 0; i < 32; i++) {
			priv[i] = static_cast<uint8_t>(i * 29 + 3);
			other[i] = static_cast<uint8_t>(i * 31 + 11);
		}
		tern_x25519_public(other, peer);
	}
};

void BM_x25519_dh(benchmark::State &st, bool prepared)
{
	x25519_pair kp;
	struct tern_x25519_key *k = nullptr;
	uint8_t out[32];
	if (prepared && tern_x25519_key_new(&k, kp.priv, nullptr) != 0) {
		fail(st, "tern_x25519_key_new failed");
		return;
	}
	for (auto _ : st) {
		int rc = prepared ? tern_x25519_key_dh(k, kp.peer, out) : tern_x25519(out, kp.priv, kp.peer);
		if (rc != 0) {
			fail(st, "X25519 failed");
			break;
		}
		benchmark::DoNotOptimize(out);
	}
	tern_x25519_key_free(k);
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void BM_x25519_keypair(benchmark::State &st)
{
	uint8_t pub[32];
	for (auto _ : st) {
		struct tern_x25519_key *k;
		if (tern_x25519_key_generate(&k, pub) != 0) {
			fail(st, "tern_x25519_key_generate failed");
			break;
		}
		tern_x25519_key_free(k);
		benchmark::DoNotOptimize(pub);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void BM_hkdf(benchmark::State &st)
{
	uint8_t ck[32] = {1}, ikm[32] = {2}, o1[32], o2[32];
	for (auto _ : st) {
		tern_hkdf(ck, ikm, sizeof(ikm), o1, o2, nullptr);
		benchmark::DoNotOptimize(o1);
		benchmark::DoNotOptimize(o2);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

/* ------------------------------------------------------------------ */

} // namespace

void register_wheel_benchmarks(); /* wheel.cc */

/* Every benchmark, under a name that says what it runs. */
static void register_all()
{
	using benchmark::RegisterBenchmark;
	for (int64_t k : {0, 1}) {
		std::string t = k == 0 ? "REQ" : "CONNECT";
		RegisterBenchmark(("wire/put_seal/" + t).c_str(), BM_wire_put_seal, k);
		RegisterBenchmark(("wire/check/" + t).c_str(), BM_wire_check, k);
	}
	for (int64_t n : {32, 4096, 65536, 1 << 20})
		RegisterBenchmark(("msg/alloc_free/" + std::to_string(n)).c_str(), BM_msg_alloc_free, n);
	for (const char *d : {"loop", "dpdk"})
		for (int64_t size : {32, 4096})
			for (int64_t w : {1, 32})
				RegisterBenchmark(("rtt/" + std::string(d) + "/" + std::to_string(size) + "B/w" +
						   std::to_string(w)).c_str(),
						  BM_rtt, d, size, w)
					->UseRealTime();
#ifdef TERN_MICRO_PB
	for (int64_t m : {0, 1}) {
		std::string t = m == 0 ? "small" : "blob4k";
		RegisterBenchmark(("pb/pack/" + t).c_str(), BM_pb_pack, m);
		RegisterBenchmark(("pb/unpack/" + t).c_str(), BM_pb_unpack, m);
	}
#endif
	for (std::string op : {"seal", "open"})
		for (int64_t size : {32, 64, 256, 512, 1440})
			for (int64_t impl : {0, 1})
				RegisterBenchmark(("aead/" + op + "/" + std::to_string(size) + "B/" +
						   aead_names[impl]).c_str(),
						  op == "seal" ? BM_aead_seal : BM_aead_open, size, impl);
	RegisterBenchmark("x25519/dh", BM_x25519_dh, true)->Unit(benchmark::kMicrosecond);
	RegisterBenchmark("x25519/dh_import", BM_x25519_dh, false)->Unit(benchmark::kMicrosecond);
	RegisterBenchmark("x25519/keypair", BM_x25519_keypair)->Unit(benchmark::kMicrosecond);
	RegisterBenchmark("hkdf", BM_hkdf);
	register_wheel_benchmarks();
}

static void usage()
{
	printf("usage: tern-micro [--eal \"EAL ARGS\"] [google-benchmark flags]\n"
	       "  --eal ARGS   DPDK EAL arguments for the rtt/dpdk benchmarks (net_ring pair), e.g.\n"
	       "               \"-l 0 --no-huge -m 512 --no-shconf --no-pci --file-prefix tern-micro\n"
	       "               --log-level=*:warning\"; without it they are skipped\n"
	       "exit: 0 ok, 1 a benchmark failed, 2 bad arguments, 77 dpdk could not start (not root)\n\n");
}

int main(int argc, char **argv)
{
	/* Take --eal out of argv before google-benchmark sees it. */
	int n = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--eal") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tern-micro: --eal needs an argument\n");
				return 2;
			}
			g_eal = argv[++i];
		} else if (strncmp(argv[i], "--eal=", 6) == 0) {
			g_eal = argv[i] + 6;
		} else {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
				usage();
			argv[n++] = argv[i];
		}
	}
	argc = n;
	argv[argc] = nullptr;

	register_all();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	rigs_destroy();
	if (g_failed)
		return 1;
	if (g_env_skip && g_eal != nullptr && geteuid() != 0)
		return 77;
	return 0;
}
