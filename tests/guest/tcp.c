#include "tcp.h"
#include "klib.h"

enum { LISTEN, SYN_RCVD, ESTABLISHED };

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define WINDOW 4096

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, (uint16_t)(v >> 16)); put_be16(p + 2, (uint16_t)v); }

static uint32_t sum16(const uint8_t *p, unsigned n, uint32_t s)
{
	for (unsigned i = 0; i + 1 < n; i += 2)
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

/* The TCP checksum over the pseudo-header and n bytes of segment. */
static uint16_t tcp_csum(const uint8_t *ip, const uint8_t *seg, unsigned n)
{
	return fold(sum16(seg, n, sum16(ip + 12, 8, 0) + 6 + n));
}

void tcp_init(struct tcp_responder *t, const uint8_t mac[6], const uint8_t ip[4],
	      uint16_t port, const char *banner)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->mac, mac, 6);
	memcpy(t->ip, ip, 4);
	t->port = port;
	t->banner = banner;
	t->state = LISTEN;
}

/* One segment: seq snd_una (iss for the SYN-ACK), the unacknowledged data,
 * and FIN once the peer sent one. */
static unsigned segment(struct tcp_responder *t, uint8_t *o, uint8_t flags)
{
	uint8_t *ip = o + 14, *tcp = ip + 20;
	unsigned data = flags & F_SYN ? 0 : t->out_len;

	memcpy(o, t->peer_mac, 6);
	memcpy(o + 6, t->mac, 6);
	put_be16(o + 12, 0x0800);
	memset(ip, 0, 40);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(40 + data));
	put_be16(ip + 4, t->ip_id++);
	put_be16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, t->ip, 4);
	memcpy(ip + 16, t->peer_ip, 4);
	put_be16(ip + 10, fold(sum16(ip, 20, 0)));
	put_be16(tcp, t->port);
	put_be16(tcp + 2, t->peer_port);
	put_be32(tcp + 4, flags & F_SYN ? t->iss : t->snd_una);
	put_be32(tcp + 8, t->rcv_nxt);
	tcp[12] = 5 << 4;
	if (data)
		flags |= F_PSH;
	if (t->peer_fin && !(flags & F_SYN))
		flags |= F_FIN;
	tcp[13] = flags;
	put_be16(tcp + 14, WINDOW);
	memcpy(tcp + 20, t->out, data);
	put_be16(tcp + 16, tcp_csum(ip, tcp, 20 + data));
	return 14 + 40 + data;
}

static unsigned on_syn(struct tcp_responder *t, const uint8_t *f, const uint8_t *ip,
		       const uint8_t *tcp, uint8_t *out)
{
	if (t->state == LISTEN || (t->state == SYN_RCVD && be16(tcp) == t->peer_port)) {
		if (t->state == LISTEN) {
			t->conns++;
			t->iss = 0x10000000u * (uint32_t)t->conns + 0x1234;
		}
		memcpy(t->peer_mac, f + 6, 6);
		memcpy(t->peer_ip, ip + 12, 4);
		t->peer_port = be16(tcp);
		t->rcv_nxt = be32(tcp + 4) + 1;
		t->snd_una = t->iss + 1;
		t->peer_fin = 0;
		t->out_len = (unsigned)strlen(t->banner);
		memcpy(t->out, t->banner, t->out_len);
		t->state = SYN_RCVD;
		return segment(t, out, F_SYN | F_ACK);
	}
	return 0; /* busy: one connection at a time */
}

/* Drops what the peer acknowledged; 1 when our FIN is among it. */
static int take_ack(struct tcp_responder *t, uint32_t ack)
{
	uint32_t acked = ack - t->snd_una;
	unsigned fin = t->peer_fin ? 1 : 0;

	if (acked == 0 || acked > t->out_len + fin)
		return 0;
	if (acked > t->out_len) {
		t->snd_una += t->out_len;
		t->out_len = 0;
		return 1;
	}
	memmove(t->out, t->out + acked, t->out_len - acked);
	t->out_len -= acked;
	t->snd_una += acked;
	return 0;
}

unsigned tcp_input(struct tcp_responder *t, const uint8_t *f, unsigned len, uint8_t *out)
{
	const uint8_t *ip = f + 14;
	unsigned ihl = (ip[0] & 0xFu) * 4u, total = be16(ip + 2);
	const uint8_t *tcp = ip + ihl;
	unsigned seglen, off, data;
	uint8_t flags;

	if (total < ihl + 20 || 14 + total > len)
		return 0;
	seglen = total - ihl;
	if (tcp_csum(ip, tcp, seglen)) {
		t->bad++;
		return 0;
	}
	off = (tcp[12] >> 4) * 4u;
	if (be16(tcp + 2) != t->port || off < 20 || off > seglen)
		return 0;
	flags = tcp[13];
	data = seglen - off;
	if (flags & F_SYN)
		return flags & F_ACK ? 0 : on_syn(t, f, ip, tcp, out);
	if (t->state == LISTEN || be16(tcp) != t->peer_port || memcmp(ip + 12, t->peer_ip, 4))
		return 0;
	if (flags & F_RST) {
		t->resets++;
		t->state = LISTEN;
		return 0;
	}
	if (!(flags & F_ACK))
		return 0;
	if (t->state == SYN_RCVD) {
		if (be32(tcp + 8) != t->iss + 1)
			return 0;
		t->state = ESTABLISHED;
	}
	int fin_acked = take_ack(t, be32(tcp + 8));
	if (be32(tcp + 4) == t->rcv_nxt && data && t->out_len + data <= TCP_OUT_MAX &&
	    !t->peer_fin) {
		memcpy(t->out + t->out_len, tcp + off, data); /* the echo */
		t->out_len += data;
		t->rcv_nxt += data;
		t->bytes_in += data;
	}
	if ((flags & F_FIN) && !t->peer_fin && be32(tcp + 4) + data == t->rcv_nxt) {
		t->peer_fin = 1;
		t->rcv_nxt++;
	}
	if (fin_acked) {
		t->closed++;
		t->state = LISTEN;
		return 0;
	}
	/* Anything unacknowledged goes (again); a segment that took data or a
	 * FIN is acknowledged even when there is nothing to send. */
	if (t->out_len || t->peer_fin || data || (flags & F_FIN))
		return segment(t, out, F_ACK);
	return 0;
}
