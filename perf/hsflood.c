/*
 * hsflood — a spoofed-source flood of secure CONNECTs with a valid mac1,
 * what anyone who knows a server's public key can send, to measure what
 * the server's cookie defence (lib/cookie.c) leaves to honest clients.
 *
 *   hsflood --peer-key server.pub --to 127.0.0.1:31850 [--seconds S] [--rate PPS]
 *           [--src 127.0.0.0/8] [--batch B]
 *
 * Needs root (a raw socket with IP_HDRINCL). Each datagram is an IPv4/UDP
 * packet from a random source address in --src (default 127.0.0.0/8,
 * never 127.0.0.1) and a random port, to --to, carrying one of 4,096
 * pre-built CONNECTs (pattern IK, random body and session id, mac1 keyed
 * by the server's public key, mac2 zero). --rate 0 (default): as fast as
 * one process sends (sendmmsg batches of --batch). Prints what it sent per
 * second and in total. Bounded by --seconds (default 10).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "wire.h"

#define NPKT    4096u
#define CONNECT_LEN (TERN_HDR_LEN + TERN_SHS_CONNECT_LEN)
#define DGRAM   (sizeof(struct iphdr) + sizeof(struct udphdr) + CONNECT_LEN)
#define MAXBATCH 256u

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* A CONNECT anyone knowing the server's public key can make. */
static void make_connect(uint8_t *pkt, const uint8_t mac1_key[32])
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.flags = TERN_WF_SECURE;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = (uint16_t)(rnd() % TERN_SESSION_NONE);
	tern_wire_put(pkt, &h);
	uint8_t *b = pkt + TERN_HDR_LEN;
	for (unsigned i = 0; i < TERN_SHS_CONNECT_LEN; i++)
		b[i] = (uint8_t)rnd();
	memset(b, 0, 8);
	b[0] = TERN_PAT_IK;
	memset(b + TERN_SHS_OFF_MAC2, 0, 16);
	tern_wire_seal(pkt, CONNECT_LEN);
	uint8_t full[32];
	tern_hmac(full, mac1_key, 32, pkt, TERN_HDR_LEN + TERN_SHS_OFF_MAC1, NULL, 0);
	memcpy(b + TERN_SHS_OFF_MAC1, full, 16);
}

static uint16_t ip_csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

int main(int argc, char **argv)
{
	const char *peer_key = NULL, *to = NULL, *src = "127.0.0.0/8";
	double seconds = 10;
	unsigned long rate = 0;
	unsigned batch = 64;
	static const struct option lo[] = {
		{"peer-key", required_argument, NULL, 'k'}, {"to", required_argument, NULL, 't'},
		{"seconds", required_argument, NULL, 's'},  {"rate", required_argument, NULL, 'r'},
		{"src", required_argument, NULL, 'S'},      {"batch", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': peer_key = optarg; break;
		case 't': to = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'r': rate = strtoul(optarg, NULL, 10); break;
		case 'S': src = optarg; break;
		case 'b': batch = (unsigned)strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (peer_key == NULL || to == NULL || seconds <= 0 || seconds > 3600 || batch == 0 ||
	    batch > MAXBATCH)
		goto usage;
	char host[64];
	unsigned port, bits;
	char net[64];
	const char *colon = strrchr(to, ':');
	if (colon == NULL || (size_t)(colon - to) >= sizeof(host) ||
	    sscanf(colon + 1, "%u", &port) != 1 || port == 0 || port > 65535 ||
	    sscanf(src, "%63[^/]/%u", net, &bits) != 2 || bits > 32)
		goto usage;
	memcpy(host, to, (size_t)(colon - to));
	host[colon - to] = '\0';
	struct in_addr dst, srcnet;
	if (inet_pton(AF_INET, host, &dst) != 1 || inet_pton(AF_INET, net, &srcnet) != 1)
		goto usage;
	uint32_t mask = bits == 0 ? 0 : ~0u << (32 - bits), base = ntohl(srcnet.s_addr) & mask;

	uint8_t pub[32], mac1_key[32];
	if (tern_key_read(peer_key, pub) != 0) {
		fprintf(stderr, "hsflood: cannot read %s\n", peer_key);
		return 1;
	}
	tern_sha256(mac1_key, "mac1----", 8, pub, 32);
	static uint8_t connects[NPKT][CONNECT_LEN];
	for (unsigned i = 0; i < NPKT; i++)
		make_connect(connects[i], mac1_key);

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	int one = 1;
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) != 0) {
		perror("hsflood: raw socket (root needed)");
		return 1;
	}
	static uint8_t dgrams[MAXBATCH][DGRAM];
	struct mmsghdr msgs[MAXBATCH];
	struct iovec iov[MAXBATCH];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = dst};
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < batch; i++) {
		iov[i].iov_base = dgrams[i];
		iov[i].iov_len = DGRAM;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sin;
		msgs[i].msg_hdr.msg_namelen = sizeof(sin);
	}
	uint64_t start = mono_ns(), end = start + (uint64_t)(seconds * 1e9), sent = 0, errors = 0;
	uint64_t next_report = start + 1000000000ull, last_sent = 0;
	while (mono_ns() < end) {
		if (rate != 0) { /* pace: no more than rate * elapsed */
			uint64_t allowed = (uint64_t)((double)(mono_ns() - start) / 1e9 * (double)rate);
			if (sent >= allowed) {
				struct timespec ts = {0, 50000};
				nanosleep(&ts, NULL);
				continue;
			}
		}
		for (unsigned i = 0; i < batch; i++) {
			uint8_t *d = dgrams[i];
			struct iphdr *ip = (struct iphdr *)d;
			struct udphdr *u = (struct udphdr *)(d + sizeof(*ip));
			uint32_t s;
			do
				s = base | ((uint32_t)rnd() & ~mask);
			while (s == ntohl(dst.s_addr) || (s & 0xff) == 0 || (s & 0xff) == 0xff);
			memset(ip, 0, sizeof(*ip));
			ip->version = 4;
			ip->ihl = 5;
			ip->ttl = 64;
			ip->protocol = IPPROTO_UDP;
			ip->tot_len = htons((uint16_t)DGRAM);
			ip->id = (uint16_t)rnd();
			ip->saddr = htonl(s);
			ip->daddr = dst.s_addr;
			ip->check = ip_csum(ip, sizeof(*ip));
			u->source = htons((uint16_t)(1024 + rnd() % 64000));
			u->dest = htons((uint16_t)port);
			u->len = htons((uint16_t)(sizeof(*u) + CONNECT_LEN));
			u->check = 0; /* none (IPv4) */
			memcpy(d + sizeof(*ip) + sizeof(*u), connects[rnd() % NPKT], CONNECT_LEN);
		}
		int n = sendmmsg(fd, msgs, batch, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else
			errors++;
		uint64_t now = mono_ns();
		if (now >= next_report) {
			fprintf(stderr, "hsflood: %llu pkt/s\n", (unsigned long long)(sent - last_sent));
			last_sent = sent;
			next_report += 1000000000ull;
		}
	}
	double secs = (mono_ns() - start) / 1e9;
	printf("hsflood: sent %llu CONNECTs in %.2f s: %.0f pkt/s (%llu send errors)\n",
	       (unsigned long long)sent, secs, sent / secs, (unsigned long long)errors);
	close(fd);
	tern_wipe(mac1_key, sizeof(mac1_key));
	return 0;
usage:
	fprintf(stderr, "usage: hsflood --peer-key server.pub --to IP:PORT [--seconds S] "
			"[--rate PPS] [--src NET/BITS] [--batch B]\n");
	return 2;
}
