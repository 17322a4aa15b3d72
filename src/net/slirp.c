#include "net/slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

/* Lock discipline: libslirp is not thread-safe, and it is entered from two
 * threads: the stack's own (poll on its sockets, timers) and the device
 * worker (slirp_input for guest frames, recv of queued frames). One mutex
 * covers every libslirp call and everything it calls back into (the receive
 * queue, the timers). Only the stack's thread touches the pollfd array, and
 * it polls without the lock. */

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct rx_frame {
	uint8_t *data; /* NET_HDR_LEN zero bytes, then the frame */
	size_t len;
};

struct slirp_net {
	struct net_backend base;
	pthread_mutex_t lock;
	Slirp *slirp;
	struct slirp_timer *timers;
	struct rx_frame rxq[SLIRP_RXQ_FRAMES];
	unsigned rx_head, rx_count;
	struct slirp_stats stats;
	bool stop;
	/* readable while rxq holds a frame (the device's rx_fd) */
	int rx_efd;
	/* wakes the stack's thread: new sockets to poll, or stop */
	int wake_efd;
	pthread_t thread;
	bool started;
	/* the stack's thread only */
	struct pollfd *pfd;
	unsigned npfd, cap_pfd;
	/* the device worker only (send) */
	uint8_t *txbuf, *scratch;
};

static struct slirp_net *slirp_of(struct net_backend *b)
{
	return (struct slirp_net *)b;
}

/* ---- hostfwd rules ---- */

static bool parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* An address, or dflt when empty. */
static bool parse_addr(const char *s, size_t n, struct in_addr dflt, struct in_addr *out)
{
	char buf[INET_ADDRSTRLEN];

	if (n == 0) {
		*out = dflt;
		return true;
	}
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, out) == 1;
}

/* "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport", n bytes. */
static int parse_rule(const char *s, size_t n, struct slirp_hostfwd *f, char *err, size_t errlen)
{
	const char *end = s + n, *c1, *c2, *dash, *c3;
	struct in_addr any = { htonl(INADDR_ANY) }, guest = { htonl(0x0A00020F) };

	c1 = memchr(s, ':', n);
	c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	dash = c2 ? memchr(c2 + 1, '-', (size_t)(end - c2 - 1)) : NULL;
	c3 = dash ? memchr(dash + 1, ':', (size_t)(end - dash - 1)) : NULL;
	if (!c3) {
		snprintf(err, errlen, "hostfwd: '%.*s' is not [tcp|udp]:[hostaddr]:hostport-"
			 "[guestaddr]:guestport", (int)n, s);
		return -1;
	}
	if (c1 == s || (c1 - s == 3 && !memcmp(s, "tcp", 3))) {
		f->udp = false;
	} else if (c1 - s == 3 && !memcmp(s, "udp", 3)) {
		f->udp = true;
	} else {
		snprintf(err, errlen, "hostfwd: protocol '%.*s' is neither tcp nor udp",
			 (int)(c1 - s), s);
		return -1;
	}
	if (!parse_addr(c1 + 1, (size_t)(c2 - c1 - 1), any, &f->host_addr) ||
	    !parse_addr(dash + 1, (size_t)(c3 - dash - 1), guest, &f->guest_addr)) {
		snprintf(err, errlen, "hostfwd: '%.*s': an address is not IPv4 like 127.0.0.1",
			 (int)n, s);
		return -1;
	}
	if (!parse_port(c2 + 1, (size_t)(dash - c2 - 1), &f->host_port) ||
	    !parse_port(c3 + 1, (size_t)(end - c3 - 1), &f->guest_port)) {
		snprintf(err, errlen, "hostfwd: '%.*s': a port is not 1 to 65535", (int)n, s);
		return -1;
	}
	return 0;
}

int slirp_parse_hostfwds(const char *text, struct slirp_hostfwd *out, unsigned max, char *err,
			 size_t errlen)
{
	unsigned count = 0;
	const char *p = text;

	for (;;) {
		size_t n = strcspn(p, ";,");
		if (count == max) {
			snprintf(err, errlen, "hostfwd: more than %u rules", max);
			return -1;
		}
		if (parse_rule(p, n, &out[count], err, errlen) < 0)
			return -1;
		for (unsigned i = 0; i < count; i++) {
			if (out[i].udp == out[count].udp && out[i].host_port == out[count].host_port &&
			    out[i].host_addr.s_addr == out[count].host_addr.s_addr) {
				snprintf(err, errlen, "hostfwd: '%.*s' repeats a host port", (int)n, p);
				return -1;
			}
		}
		count++;
		if (!p[n])
			return (int)count;
		p += n + 1;
	}
}

/* ---- guest frames: checksum and segmentation offloads ---- */

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get_be16(p + i);
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

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_ 6
#define VIRTIO_GSO_TCPV4_ 1 /* virtio_net_hdr_v1 gso_type */
#define VIRTIO_GSO_TCPV6_ 4
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/* Where the IP and TCP headers of a TCP frame start, and their lengths. */
struct tcp_frame {
	bool v6;
	size_t ip, tcp, payload; /* offsets */
};

static bool locate_tcp(const uint8_t *f, size_t len, struct tcp_frame *t)
{
	uint16_t type;

	if (len < ETH_HLEN + 40)
		return false;
	type = get_be16(f + 12);
	t->ip = ETH_HLEN;
	if (type == ETH_P_IPV4 && (f[t->ip] >> 4) == 4) {
		size_t ihl = (f[t->ip] & 0xFu) * 4u;
		if (ihl < 20 || f[t->ip + 9] != IPPROTO_TCP_)
			return false;
		t->v6 = false;
		t->tcp = t->ip + ihl;
	} else if (type == ETH_P_IPV6 && (f[t->ip] >> 4) == 6) {
		if (f[t->ip + 6] != IPPROTO_TCP_) /* extension headers: not for TSO here */
			return false;
		t->v6 = true;
		t->tcp = t->ip + 40;
	} else {
		return false;
	}
	if (t->tcp + 20 > len)
		return false;
	t->payload = t->tcp + (f[t->tcp + 12] >> 4) * 4u;
	return t->payload >= t->tcp + 20 && t->payload <= len;
}

/* The IP header's lengths (and IPv4 checksum) and the TCP checksum of a
 * frame len bytes long, from scratch. */
static void fix_tcp_frame(uint8_t *f, size_t len, const struct tcp_frame *t)
{
	size_t tcp_len = len - t->tcp;
	uint32_t s;

	if (t->v6) {
		put_be16(f + t->ip + 4, (uint16_t)(len - t->ip - 40));
		s = sum16(f + t->ip + 8, 32, 0);
	} else {
		put_be16(f + t->ip + 2, (uint16_t)(len - t->ip));
		put_be16(f + t->ip + 10, 0);
		put_be16(f + t->ip + 10, fold(sum16(f + t->ip, t->tcp - t->ip, 0)));
		s = sum16(f + t->ip + 12, 8, 0);
	}
	s += IPPROTO_TCP_ + (uint32_t)tcp_len;
	put_be16(f + t->tcp + 16, 0);
	put_be16(f + t->tcp + 16, fold(sum16(f + t->tcp, tcp_len, s)));
}

static int segment_tcp(const uint8_t hdr[NET_HDR_LEN], const uint8_t *f, size_t len,
		       uint8_t *seg, void (*emit)(void *, const uint8_t *, size_t), void *arg)
{
	uint16_t gso_size = get_le16(hdr + 4);
	bool v6 = hdr[1] == VIRTIO_GSO_TCPV6_;
	struct tcp_frame t;
	uint32_t seq;
	uint16_t id;
	uint8_t flags;

	if (!gso_size || !locate_tcp(f, len, &t) || t.v6 != v6)
		return -EINVAL;
	seq = (uint32_t)get_be16(f + t.tcp + 4) << 16 | get_be16(f + t.tcp + 6);
	id = v6 ? 0 : get_be16(f + t.ip + 4);
	flags = f[t.tcp + 13];
	for (size_t off = t.payload, i = 0; off < len || i == 0; off += gso_size, i++) {
		size_t n = MIN((size_t)gso_size, len - off);
		bool last = off + n >= len;
		memcpy(seg, f, t.payload);
		memcpy(seg + t.payload, f + off, n);
		uint32_t s = seq + (uint32_t)(off - t.payload);
		put_be16(seg + t.tcp + 4, (uint16_t)(s >> 16));
		put_be16(seg + t.tcp + 6, (uint16_t)s);
		seg[t.tcp + 13] = (uint8_t)(flags & ~((last ? 0 : TCP_FIN | TCP_PSH) |
						    (i ? TCP_CWR : 0)));
		if (!v6)
			put_be16(seg + t.ip + 4, (uint16_t)(id + i));
		fix_tcp_frame(seg, t.payload + n, &t);
		emit(arg, seg, t.payload + n);
	}
	return 0;
}

int slirp_finish_frame(const uint8_t hdr[NET_HDR_LEN], uint8_t *frame, size_t len,
		       uint8_t *scratch, void (*emit)(void *arg, const uint8_t *f, size_t n),
		       void *arg)
{
	if (len > NET_MAX_FRAME - NET_HDR_LEN)
		return -EINVAL;
	if (hdr[1] == VIRTIO_GSO_TCPV4_ || hdr[1] == VIRTIO_GSO_TCPV6_)
		return segment_tcp(hdr, frame, len, scratch, emit, arg);
	if (hdr[1] != 0)
		return -EINVAL;
	if (hdr[0] & 1) { /* NEEDS_CSUM */
		size_t start = get_le16(hdr + 6), at = start + get_le16(hdr + 8);
		if (start >= len || at + 2 > len)
			return -EINVAL;
		/* The field holds the pseudo-header sum already (virtio 1.2 §5.1.6.2). */
		put_be16(frame + at, fold(sum16(frame + start, len - start, 0)));
	}
	emit(arg, frame, len);
	return 0;
}

/* ---- libslirp callbacks (called with the lock held) ---- */

static void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("net user: eventfd write: %s", strerror(errno));
}

static void drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("net user: eventfd read: %s", strerror(errno));
}

/* A frame for the guest: queued until the device reads it. */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_net *s = opaque;
	struct rx_frame *fr;

	if (s->rx_count == SLIRP_RXQ_FRAMES || len > NET_MAX_FRAME - NET_HDR_LEN) {
		s->stats.rx_dropped++;
		return (ssize_t)len; /* "sent": the guest lost it, as on a wire */
	}
	fr = &s->rxq[(s->rx_head + s->rx_count) % SLIRP_RXQ_FRAMES];
	fr->data = xmalloc(NET_HDR_LEN + len);
	memset(fr->data, 0, NET_HDR_LEN);
	memcpy(fr->data + NET_HDR_LEN, buf, len);
	fr->len = NET_HDR_LEN + len;
	if (s->rx_count++ == 0)
		wake(s->rx_efd);
	s->stats.rx_queued++;
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_debug("net user: guest error: %s", msg);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_net *s = opaque;
	struct slirp_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_net *s = opaque;

	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_net *s = opaque;

	((struct slirp_timer *)timer)->expire_ms = expire_ms;
	wake(s->wake_efd); /* the poll timeout may have to shrink */
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque; /* every fd is handed over again by slirp_pollfds_fill */
}

static void cb_notify(void *opaque)
{
	struct slirp_net *s = opaque;

	wake(s->wake_efd);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_register_poll_fd,
	.notify = cb_notify,
};

/* ---- the stack's thread ---- */

static short poll_events_of(int ev)
{
	short e = 0;

	if (ev & SLIRP_POLL_IN)
		e |= POLLIN;
	if (ev & SLIRP_POLL_OUT)
		e |= POLLOUT;
	if (ev & SLIRP_POLL_PRI)
		e |= POLLPRI;
	return e;
}

static int add_poll(int fd, int events, void *opaque)
{
	struct slirp_net *s = opaque;

	if (s->npfd == s->cap_pfd) {
		s->cap_pfd *= 2;
		s->pfd = realloc(s->pfd, s->cap_pfd * sizeof(*s->pfd));
		if (!s->pfd)
			abort();
	}
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = poll_events_of(events) };
	return (int)s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_net *s = opaque;
	short r;
	int ev = 0;

	if (idx < 1 || (unsigned)idx >= s->npfd) /* 0 is the wake eventfd */
		return 0;
	r = s->pfd[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Runs expired timers one at a time: a callback may re-arm or free timers,
 * so the list is searched again after each. */
static void run_timers(struct slirp_net *s)
{
	int64_t now = now_ns() / 1000000;
	bool ran = true;

	while (ran) {
		ran = false;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				t->cb(t->cb_opaque);
				ran = true;
				break;
			}
		}
	}
}

static uint32_t timer_timeout_ms(const struct slirp_net *s, uint32_t timeout)
{
	int64_t now = now_ns() / 1000000;

	for (const struct slirp_timer *t = s->timers; t; t = t->next) {
		if (t->expire_ms < 0)
			continue;
		int64_t left = t->expire_ms > now ? t->expire_ms - now : 0;
		if (left < (int64_t)timeout)
			timeout = (uint32_t)left;
	}
	return timeout;
}

static void *stack_thread(void *arg)
{
	struct slirp_net *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint32_t timeout = UINT32_MAX;
		s->npfd = 0;
		add_poll(s->wake_efd, SLIRP_POLL_IN, s);
		slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
		timeout = timer_timeout_ms(s, timeout);
		pthread_mutex_unlock(&s->lock);
		int n = poll(s->pfd, s->npfd, timeout == UINT32_MAX ? -1 : (int)MIN(timeout, 60000u));
		bool failed = n < 0 && errno != EINTR;
		pthread_mutex_lock(&s->lock);
		if (n > 0 && s->pfd[0].revents)
			drain(s->wake_efd);
		if (s->stop)
			break;
		slirp_pollfds_poll(s->slirp, failed, get_revents, s);
		run_timers(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- net_backend_ops (the device worker) ---- */

static int slirp_rx_fd(struct net_backend *b, unsigned pair)
{
	return pair == 0 ? slirp_of(b)->rx_efd : -1;
}

static ssize_t copy_out(const struct rx_frame *fr, const struct iovec *iov, int iovcnt)
{
	size_t off = 0;

	for (int i = 0; i < iovcnt && off < fr->len; i++) {
		size_t n = MIN(iov[i].iov_len, fr->len - off);
		memcpy(iov[i].iov_base, fr->data + off, n);
		off += n;
	}
	return off < fr->len ? -EMSGSIZE : (ssize_t)fr->len;
}

static ssize_t slirp_recv(struct net_backend *b, unsigned pair, const struct iovec *iov,
			  int iovcnt)
{
	struct slirp_net *s = slirp_of(b);
	struct rx_frame fr = { 0 };
	ssize_t ret;

	if (pair != 0)
		return -EAGAIN;
	pthread_mutex_lock(&s->lock);
	if (s->rx_count) {
		fr = s->rxq[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SLIRP_RXQ_FRAMES;
		if (--s->rx_count == 0)
			drain(s->rx_efd); /* level-triggered: not readable while empty */
	}
	pthread_mutex_unlock(&s->lock);
	if (!fr.data)
		return -EAGAIN;
	ret = copy_out(&fr, iov, iovcnt);
	free(fr.data);
	return ret;
}

static void input_frame(void *arg, const uint8_t *f, size_t n)
{
	struct slirp_net *s = arg;

	/* called with the lock held (slirp_send) */
	slirp_input(s->slirp, f, (int)n);
	s->stats.tx_frames++;
}

static int slirp_send(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt)
{
	struct slirp_net *s = slirp_of(b);
	size_t len = 0;
	int err;

	(void)pair;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > NET_MAX_FRAME - len)
			return -EMSGSIZE;
		memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < NET_HDR_LEN)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	err = slirp_finish_frame(s->txbuf, s->txbuf + NET_HDR_LEN, len - NET_HDR_LEN, s->scratch,
				 input_frame, s);
	if (err)
		s->stats.tx_bad++;
	pthread_mutex_unlock(&s->lock);
	/* The frame may have opened a socket: the stack's poll must see it. */
	wake(s->wake_efd);
	return err;
}

static int slirp_set_offload(struct net_backend *b, unsigned offloads)
{
	(void)b;
	return offloads ? -EINVAL : 0; /* none offered: frames are always finished */
}

static int slirp_set_active_pairs(struct net_backend *b, unsigned n)
{
	(void)b;
	return n == 1 ? 0 : -EINVAL;
}

static void slirp_destroy(struct net_backend *b)
{
	struct slirp_net *s = slirp_of(b);

	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		wake(s->wake_efd);
		pthread_join(s->thread, NULL);
	}
	if (s->stats.rx_dropped || s->stats.tx_bad)
		log_info("net user: %llu frames for the guest dropped (its ring was full), %llu "
			 "guest frames refused", (unsigned long long)s->stats.rx_dropped,
			 (unsigned long long)s->stats.tx_bad);
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers)
		cb_timer_free(s->timers, s);
	for (unsigned i = 0; i < s->rx_count; i++)
		free(s->rxq[(s->rx_head + i) % SLIRP_RXQ_FRAMES].data);
	if (s->rx_efd >= 0)
		close(s->rx_efd);
	if (s->wake_efd >= 0)
		close(s->wake_efd);
	pthread_mutex_destroy(&s->lock);
	free(s->pfd);
	free(s->txbuf);
	free(s->scratch);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.rx_fd = slirp_rx_fd,
	.recv = slirp_recv,
	.send = slirp_send,
	.set_offload = slirp_set_offload,
	.set_active_pairs = slirp_set_active_pairs,
	.destroy = slirp_destroy,
};

void slirp_get_stats(struct net_backend *b, struct slirp_stats *out)
{
	struct slirp_net *s = slirp_of(b);

	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

/* ---- setup ---- */

static struct in_addr ipv4(uint32_t host_order)
{
	return (struct in_addr){ htonl(host_order) };
}

/* QEMU's user network: 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3, leases
 * from 10.0.2.15; IPv6 fec0::/64 likewise. */
static void default_config(SlirpConfig *c, const struct slirp_params *p)
{
	memset(c, 0, sizeof(*c));
	c->version = 1;
	c->restricted = p->restricted;
	c->in_enabled = true;
	c->vnetwork = ipv4(0x0A000200);
	c->vnetmask = ipv4(0xFFFFFF00);
	c->vhost = ipv4(0x0A000202);
	c->vdhcp_start = ipv4(0x0A00020F);
	c->vnameserver = ipv4(0x0A000203);
	c->in6_enabled = true;
	inet_pton(AF_INET6, "fec0::", &c->vprefix_addr6);
	c->vprefix_len = 64;
	inet_pton(AF_INET6, "fec0::2", &c->vhost6);
	inet_pton(AF_INET6, "fec0::3", &c->vnameserver6);
	c->vhostname = "alioth";
	c->if_mtu = p->mtu ? p->mtu : 1500;
	c->if_mru = c->if_mtu;
}

static int add_forwards(struct slirp_net *s, const struct slirp_params *p, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < p->nfwd; i++) {
		const struct slirp_hostfwd *f = &p->fwd[i];
		char host[INET_ADDRSTRLEN];
		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) == 0)
			continue;
		int e = errno ? errno : EADDRINUSE;
		inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
		snprintf(err, errlen, "net user: hostfwd %s:%s:%u: cannot listen: %s",
			 f->udp ? "udp" : "tcp", host, f->host_port, strerror(e));
		return -e;
	}
	return 0;
}

int slirp_open(const struct slirp_params *p, struct net_backend **out, char *err, size_t errlen)
{
	struct slirp_net *s = xcalloc(1, sizeof(*s));
	SlirpConfig cfg;
	int ret;

	s->base.ops = &slirp_ops;
	s->base.pairs = 1;
	s->base.offloads = 0;
	s->base.name = "user";
	pthread_mutex_init(&s->lock, NULL);
	s->rx_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->wake_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->cap_pfd = 16;
	s->pfd = xcalloc(s->cap_pfd, sizeof(*s->pfd));
	s->txbuf = xmalloc(NET_MAX_FRAME);
	s->scratch = xmalloc(NET_MAX_FRAME);
	if (s->rx_efd < 0 || s->wake_efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "net user: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (p->mtu && (p->mtu < SLIRP_MIN_MTU || p->mtu > SLIRP_MAX_MTU)) {
		ret = -EINVAL;
		snprintf(err, errlen, "net user: mtu must be %d to %d", SLIRP_MIN_MTU, SLIRP_MAX_MTU);
		goto fail;
	}
	default_config(&cfg, p);
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		ret = -EINVAL;
		snprintf(err, errlen, "net user: libslirp refused its configuration");
		goto fail;
	}
	ret = add_forwards(s, p, err, errlen);
	if (ret)
		goto fail;
	ret = -pthread_create(&s->thread, NULL, stack_thread, s);
	if (ret) {
		snprintf(err, errlen, "net user: cannot start its thread: %s", strerror(-ret));
		goto fail;
	}
	s->started = true;
	*out = &s->base;
	return 0;
fail:
	slirp_destroy(&s->base);
	return ret;
}
