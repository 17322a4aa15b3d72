/* --net user (src/net/slirp.c, src/cli/boot_args.c): hostfwd rules and the
 * command line, the checksum/TSO finishing of guest frames, and the backend
 * against a real libslirp (restricted, loopback only): a DHCP offer, the
 * bounded receive queue, a host forward that reaches the guest side and a
 * host port already taken. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "board/config.h"
#include "cli/boot_args.h"
#include "net/slirp.h"
#include "util/exit_status.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- hostfwd rules ---- */

static int parse(const char *text, struct slirp_hostfwd *f, char *err)
{
	return slirp_parse_hostfwds(text, f, SLIRP_MAX_HOSTFWD, err, 256);
}

static void test_hostfwd_rules(void **state)
{
	struct slirp_hostfwd f[SLIRP_MAX_HOSTFWD];
	char err[256];

	(void)state;
	assert_int_equal(parse("tcp:127.0.0.1:2222-:22;udp::5353-10.0.2.16:53;::8080-:80", f, err), 3);
	assert_false(f[0].udp);
	assert_int_equal(ntohl(f[0].host_addr.s_addr), 0x7F000001);
	assert_int_equal(f[0].host_port, 2222);
	assert_int_equal(ntohl(f[0].guest_addr.s_addr), 0x0A00020F); /* the first lease */
	assert_int_equal(f[0].guest_port, 22);
	assert_true(f[1].udp);
	assert_int_equal(f[1].host_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(ntohl(f[1].guest_addr.s_addr), 0x0A000210);
	assert_int_equal(f[1].guest_port, 53);
	assert_false(f[2].udp); /* no protocol: tcp, as QEMU */
	assert_int_equal(f[2].host_port, 8080);
	/* ',' separates too (only an -o object can carry it) */
	assert_int_equal(parse("tcp::1-:2,udp::1-:2", f, err), 2);
}

static void test_hostfwd_errors(void **state)
{
	static const struct { const char *text, *word; } bad[] = {
		{ "tcp:127.0.0.1:2222", "is not [tcp|udp]" },
		{ "sctp::1-:2", "neither tcp nor udp" },
		{ "tcp:localhost:1-:2", "not IPv4" },
		{ "tcp::0-:22", "not 1 to 65535" },
		{ "tcp::65536-:22", "not 1 to 65535" },
		{ "tcp::22-:x", "not 1 to 65535" },
		{ "tcp::22-:", "not 1 to 65535" },
		{ "tcp::1-:2;", "is not [tcp|udp]" },
		{ "tcp::1-:2;tcp::1-:3", "repeats a host port" },
	};
	struct slirp_hostfwd f[SLIRP_MAX_HOSTFWD];
	char err[256], many[1024] = "";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i].text, f, err), -1);
		if (!strstr(err, bad[i].word))
			fail_msg("'%s': '%s' lacks '%s'", bad[i].text, err, bad[i].word);
	}
	/* udp and tcp may share a port */
	assert_int_equal(parse("tcp::1-:2;udp::1-:2", f, err), 2);
	for (int i = 0; i <= SLIRP_MAX_HOSTFWD; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%stcp::%d-:1",
			 i ? ";" : "", 1000 + i);
	assert_int_equal(parse(many, f, err), -1);
	assert_non_null(strstr(err, "more than"));
}

/* ---- the command line ---- */

struct boot_result {
	int ret;
	struct vm_config cfg;
	char *err;
};

static int boot(struct boot_result *r, const char *net)
{
	char *argv[] = { "boot", "-k", "vmlinuz", "--net", (char *)net };
	size_t out_len, err_len;
	char *out = NULL;
	FILE *fo = open_memstream(&out, &out_len), *fe = open_memstream(&r->err, &err_len);

	r->ret = boot_args_parse(5, argv, &r->cfg, fo, fe);
	fclose(fo);
	fclose(fe);
	free(out);
	return r->ret;
}

static void boot_done(struct boot_result *r)
{
	vm_config_free(&r->cfg);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void test_cli_user(void **state)
{
	struct boot_result r = { 0 };

	(void)state;
	assert_int_equal(boot(&r, "user"), 0);
	assert_int_equal(r.cfg.nr_net, 1);
	assert_true(r.cfg.net[0].user);
	assert_false(r.cfg.net[0].restricted);
	assert_false(r.cfg.net[0].has_mac);
	assert_null(r.cfg.net[0].hostfwd);
	assert_null(r.cfg.net[0].if_name);
	assert_int_equal(r.cfg.net[0].mtu, 1500);
	assert_int_equal(r.cfg.net[0].queue_pairs, 1);
	boot_done(&r);

	assert_int_equal(boot(&r, "user,mac=06:3a:76:53:da:3d,mtu=9000,restrict=true,"
				  "hostfwd=tcp:127.0.0.1:2222-:22;udp::5353-:53"), 0);
	assert_true(r.cfg.net[0].user);
	assert_true(r.cfg.net[0].restricted);
	assert_true(r.cfg.net[0].has_mac);
	assert_int_equal(r.cfg.net[0].mac[5], 0x3d);
	assert_int_equal(r.cfg.net[0].mtu, 9000);
	assert_string_equal(r.cfg.net[0].hostfwd, "tcp:127.0.0.1:2222-:22;udp::5353-:53");
	boot_done(&r);

	/* the tap forms still mean a TAP */
	assert_int_equal(boot(&r, "if=tap0"), 0);
	assert_false(r.cfg.net[0].user);
	boot_done(&r);
}

static void assert_cli_usage(const char *net, const char *word)
{
	struct boot_result r = { 0 };

	assert_int_equal(boot(&r, net), EXIT_USAGE);
	/* one line naming the cause */
	assert_non_null(r.err);
	assert_true(strlen(r.err) > 1);
	assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	if (!strstr(r.err, word))
		fail_msg("--net %s: '%s' lacks '%s'", net, r.err, word);
	boot_done(&r);
}

static void test_cli_user_errors(void **state)
{
	(void)state;
	assert_cli_usage("user,hostfwd=tcp:127.0.0.1:2222", "hostfwd");
	assert_cli_usage("user,hostfwd=icmp::1-:2", "neither tcp nor udp");
	assert_cli_usage("user,hostfwd=tcp::1-:2;tcp::1-:3", "repeats");
	assert_cli_usage("user,mtu=65530", "mtu");
	assert_cli_usage("user,mtu=60", "mtu");
	assert_cli_usage("user,mac=01:00:00:00:00:01", "mac");
	assert_cli_usage("user,if=tap0", "if");
	assert_cli_usage("user,restrict=maybe", "restrict");
}

/* ---- frames ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)~s;
}

/* 0 when the IPv4 TCP/UDP checksum of frame f is right. */
static uint16_t l4_check(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl = (ip[0] & 0xF) * 4u, l4 = len - 14 - ihl;

	return fold(sum(ip + ihl, l4, sum(ip + 12, 8, 0) + ip[9] + (uint32_t)l4));
}

/* An IPv4 frame from 10.0.2.15 to 10.0.2.2 with an l4-byte payload of proto. */
static size_t ip_frame(uint8_t *f, uint8_t proto, size_t l4)
{
	uint8_t *ip = f + 14;

	memset(f, 0, 14 + 20 + l4);
	memset(f, 0xFF, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 12, 0x0A00);
	put16(ip + 14, 0x020F);
	put16(ip + 16, 0x0A00);
	put16(ip + 18, 0x0202);
	put16(ip + 10, fold(sum(ip, 20, 0)));
	return 14 + 20 + l4;
}

struct emitted {
	unsigned n;
	uint8_t f[8][2048];
	size_t len[8];
};

static void collect(void *arg, const uint8_t *f, size_t n)
{
	struct emitted *e = arg;

	assert_true(e->n < 8 && n <= sizeof(e->f[0]));
	memcpy(e->f[e->n], f, n);
	e->len[e->n++] = n;
}

static void test_finish_csum(void **state)
{
	static uint8_t f[2048], scratch[NET_MAX_FRAME];
	static struct emitted e;
	uint8_t hdr[NET_HDR_LEN] = { 1 /* NEEDS_CSUM */ };
	size_t len = ip_frame(f, 17, 8 + 33);
	uint8_t *udp = f + 34;

	(void)state;
	put16(udp, 5000);
	put16(udp + 2, 9);
	put16(udp + 4, 8 + 33);
	for (int i = 0; i < 33; i++)
		udp[8 + i] = (uint8_t)(i * 7);
	/* as Linux leaves it: the pseudo-header sum, not complemented */
	put16(udp + 6, (uint16_t)~fold(sum(f + 26, 8, 0) + 17 + 8 + 33));
	hdr[6] = 34;  /* csum_start */
	hdr[8] = 6;   /* csum_offset */
	e.n = 0;
	assert_int_equal(slirp_finish_frame(hdr, f, len, scratch, collect, &e), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(l4_check(e.f[0], e.len[0]), 0);
	/* the field must lie inside the frame */
	hdr[6] = (uint8_t)(len - 1);
	hdr[8] = 0;
	assert_int_equal(slirp_finish_frame(hdr, f, len, scratch, collect, &e), -EINVAL);
	/* a GSO type that is never offered (UDP) */
	hdr[0] = 0;
	hdr[1] = 3;
	assert_int_equal(slirp_finish_frame(hdr, f, len, scratch, collect, &e), -EINVAL);
}

static void test_finish_tso4(void **state)
{
	static uint8_t f[8192], scratch[NET_MAX_FRAME];
	static struct emitted e;
	uint8_t hdr[NET_HDR_LEN] = { 1, 1 /* GSO TCPv4 */ };
	const size_t payload = 2500, mss = 1000;
	size_t len = ip_frame(f, 6, 20 + payload);
	uint8_t *tcp = f + 34;

	(void)state;
	put16(tcp, 40000);
	put16(tcp + 2, 22);
	put16(tcp + 4, 0xFFFF); /* seq 0xFFFFFC00: wraps in the last segment */
	put16(tcp + 6, 0xFC00);
	tcp[12] = 5 << 4;
	tcp[13] = 0x10 | 0x08 | 0x01 | 0x80; /* ACK PSH FIN CWR */
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i % 251);
	hdr[4] = (uint8_t)mss;
	hdr[5] = (uint8_t)(mss >> 8);
	e.n = 0;
	assert_int_equal(slirp_finish_frame(hdr, f, len, scratch, collect, &e), 0);
	assert_int_equal(e.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *s = e.f[i], *st = s + 34;
		size_t n = i < 2 ? mss : payload - 2 * mss;
		uint32_t seq = (uint32_t)be16(st + 4) << 16 | be16(st + 6);
		assert_int_equal(e.len[i], 54 + n);
		assert_int_equal(be16(s + 16), 40 + n);          /* IP total length */
		assert_int_equal(be16(s + 18), 0x1234 + i);      /* IP id */
		assert_int_equal(fold(sum(s + 14, 20, 0)), 0);  /* IP checksum */
		assert_int_equal(l4_check(s, e.len[i]), 0);      /* TCP checksum */
		assert_int_equal(seq, (uint32_t)(0xFFFFFC00u + i * mss));
		assert_memory_equal(st + 20, tcp + 20 + i * mss, n);
		assert_int_equal(st[13] & 0x09, i == 2 ? 0x09 : 0); /* PSH FIN: last only */
		assert_int_equal(st[13] & 0x80, i == 0 ? 0x80 : 0); /* CWR: first only */
		assert_int_equal(st[13] & 0x10, 0x10);
	}
	/* GSO on a frame that is not TCPv4 */
	ip_frame(f, 17, 100);
	assert_int_equal(slirp_finish_frame(hdr, f, 134, scratch, collect, &e), -EINVAL);
}

/* ---- the backend with libslirp ---- */

static struct net_backend *open_backend_r(const struct slirp_hostfwd *fwd, unsigned nfwd,
					  bool restricted)
{
	struct slirp_params p = { .mtu = 1500, .restricted = restricted, .fwd = fwd, .nfwd = nfwd };
	struct net_backend *b = NULL;
	char err[256];
	int ret = slirp_open(&p, &b, err, sizeof(err));

	if (ret)
		fail_msg("slirp_open: %s", err);
	assert_int_equal(b->pairs, 1);
	assert_int_equal(b->offloads, 0);
	return b;
}

static struct net_backend *open_backend(const struct slirp_hostfwd *fwd, unsigned nfwd)
{
	return open_backend_r(fwd, nfwd, true);
}

static int send_frame(struct net_backend *b, const uint8_t *f, size_t len)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)f, len } };

	return b->ops->send(b, 0, iov, 2);
}

/* The next frame for the guest within ms, without its header; 0: none. */
static size_t recv_frame(struct net_backend *b, uint8_t *f, size_t cap, int ms)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct pollfd pfd = { .fd = b->ops->rx_fd(b, 0), .events = POLLIN };
	struct iovec iov = { buf, sizeof(buf) };
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = b->ops->recv(b, 0, &iov, 1);
	assert_true(n >= NET_HDR_LEN);
	for (int i = 0; i < NET_HDR_LEN; i++)
		assert_int_equal(buf[i], 0);
	assert_true((size_t)n - NET_HDR_LEN <= cap);
	memcpy(f, buf + NET_HDR_LEN, (size_t)n - NET_HDR_LEN);
	return (size_t)n - NET_HDR_LEN;
}

#define BOOTP_LEN 548 /* libslirp drops shorter requests */

static size_t dhcp_discover(uint8_t *f, uint32_t xid)
{
	size_t len = ip_frame(f, 17, 8 + BOOTP_LEN);
	uint8_t *ip = f + 14, *udp = f + 34, *bp = udp + 8;

	memset(ip + 12, 0, 4);       /* from 0.0.0.0 */
	memset(ip + 16, 0xFF, 4);    /* to 255.255.255.255 */
	put16(ip + 10, 0);
	put16(ip + 10, fold(sum(ip, 20, 0)));
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, 8 + BOOTP_LEN);
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	memcpy(bp + 28, guest_mac, 6);
	memcpy(bp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8); /* cookie, DISCOVER, end */
	return len;
}

/* An option's value in a BOOTP reply (at bp), or NULL. */
static const uint8_t *dhcp_option(const uint8_t *bp, size_t len, uint8_t code, uint8_t *olen)
{
	for (size_t i = 240; i + 1 < len && bp[i] != 255;) {
		if (bp[i] == 0) {
			i++;
			continue;
		}
		if (bp[i] == code && i + 2 + bp[i + 1] <= len) {
			*olen = bp[i + 1];
			return bp + i + 2;
		}
		i += 2u + bp[i + 1];
	}
	return NULL;
}

/* A DISCOVER gets an OFFER of the first lease; router and DNS only when
 * not restricted (libslirp leaves them out then). */
static void dhcp_offer(bool restricted)
{
	static uint8_t f[2048];
	struct net_backend *b = open_backend_r(NULL, 0, restricted);
	const uint32_t xid = 0x5EED1234;
	const uint8_t *o, *bp = f + 42;
	struct slirp_stats st;
	uint8_t olen;
	size_t n;

	n = dhcp_discover(f, xid);
	assert_int_equal(send_frame(b, f, n), 0);
	do
		n = recv_frame(b, f, sizeof(f), 5000);
	while (n && !(be16(f + 12) == 0x0800 && f[23] == 17 && be16(f + 36) == 68));
	assert_true(n > 42 + 240);
	assert_int_equal(bp[0], 2); /* BOOTREPLY */
	assert_memory_equal(bp + 4, &xid, 4);
	assert_memory_equal(bp + 16, "\x0a\x00\x02\x0f", 4); /* yiaddr 10.0.2.15 */
	assert_non_null(o = dhcp_option(bp, n - 42, 53, &olen));
	assert_int_equal(o[0], 2); /* OFFER */
	if (restricted) {
		assert_null(dhcp_option(bp, n - 42, 3, &olen));
		assert_null(dhcp_option(bp, n - 42, 6, &olen));
	} else {
		assert_non_null(o = dhcp_option(bp, n - 42, 3, &olen));
		assert_memory_equal(o, "\x0a\x00\x02\x02", 4); /* router */
		assert_non_null(o = dhcp_option(bp, n - 42, 6, &olen));
		assert_memory_equal(o, "\x0a\x00\x02\x03", 4); /* DNS */
	}
	assert_non_null(o = dhcp_option(bp, n - 42, 1, &olen));
	assert_memory_equal(o, "\xff\xff\xff\x00", 4); /* mask */
	slirp_get_stats(b, &st);
	assert_int_equal(st.tx_frames, 1);
	assert_int_equal(st.tx_bad, 0);
	b->ops->destroy(b);
}

static void test_backend_dhcp_offer(void **state)
{
	(void)state;
	dhcp_offer(false);
	dhcp_offer(true);
}

static size_t arp_request(uint8_t *f, const uint8_t tpa[4])
{
	memset(f, 0xFF, 6);
	memcpy(f + 6, guest_mac, 6);
	memcpy(f + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10);
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, "\x0a\x00\x02\x0f", 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, tpa, 4);
	return 42;
}

/* Frames wait (up to SLIRP_RXQ_FRAMES) while the device does not read;
 * the rest are dropped and counted; rx_fd is readable exactly while some
 * wait. */
static void test_backend_rx_bound(void **state)
{
	const unsigned extra = 10;
	static uint8_t f[2048];
	struct net_backend *b = open_backend(NULL, 0);
	struct pollfd pfd = { .fd = b->ops->rx_fd(b, 0), .events = POLLIN };
	struct slirp_stats st;
	unsigned got = 0;
	size_t n;

	(void)state;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	for (unsigned i = 0; i < SLIRP_RXQ_FRAMES + extra; i++) {
		n = arp_request(f, (const uint8_t *)"\x0a\x00\x02\x02");
		assert_int_equal(send_frame(b, f, n), 0);
	}
	slirp_get_stats(b, &st);
	assert_int_equal(st.rx_queued, SLIRP_RXQ_FRAMES);
	assert_int_equal(st.rx_dropped, extra);
	while ((n = recv_frame(b, f, sizeof(f), 0))) {
		assert_int_equal(be16(f + 12), 0x0806);
		assert_int_equal(be16(f + 20), 2);                   /* reply */
		assert_memory_equal(f + 28, "\x0a\x00\x02\x02", 4); /* 10.0.2.2 is at ... */
		assert_memory_equal(f, guest_mac, 6);
		got++;
	}
	assert_int_equal(got, SLIRP_RXQ_FRAMES);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	uint8_t buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	assert_int_equal(b->ops->recv(b, 0, &iov, 1), -EAGAIN);
	b->ops->destroy(b);
}

/* A free TCP port on 127.0.0.1 (bound, listening, and returned in *fd). */
static uint16_t take_port(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*fd, 1), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &alen), 0);
	return ntohs(a.sin_port);
}

/* A connection to a forwarded host port makes slirp look for the guest:
 * an ARP request for 10.0.2.15 (or the SYN, when it knows the MAC). */
static void test_backend_hostfwd(void **state)
{
	static uint8_t f[2048];
	int held, c;
	uint16_t port = take_port(&held);
	struct slirp_hostfwd fwd = { .host_addr = { htonl(INADDR_LOOPBACK) }, .host_port = port,
				     .guest_addr = { htonl(0x0A00020F) }, .guest_port = 22 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct slirp_params p = { .restricted = true, .fwd = &fwd, .nfwd = 1 };
	struct net_backend *b = NULL;
	char err[256];
	bool seen = false;
	size_t n;

	(void)state;
	/* the port is taken: a clear error naming it */
	assert_int_equal(slirp_open(&p, &b, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "hostfwd tcp:127.0.0.1:"));
	close(held);

	b = open_backend(&fwd, 1);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	while (!seen && (n = recv_frame(b, f, sizeof(f), 5000))) {
		if (be16(f + 12) == 0x0806 && be16(f + 20) == 1)
			seen = !memcmp(f + 38, "\x0a\x00\x02\x0f", 4);
		else if (be16(f + 12) == 0x0800 && f[23] == 6)
			seen = be16(f + 36) == 22;
	}
	assert_true(seen);
	close(c);
	b->ops->destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostfwd_rules),
		cmocka_unit_test(test_hostfwd_errors),
		cmocka_unit_test(test_cli_user),
		cmocka_unit_test(test_cli_user_errors),
		cmocka_unit_test(test_finish_csum),
		cmocka_unit_test(test_finish_tso4),
		cmocka_unit_test(test_backend_dhcp_offer),
		cmocka_unit_test(test_backend_rx_bound),
		cmocka_unit_test(test_backend_hostfwd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
