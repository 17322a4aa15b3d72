/* virtio-net through the virtio_dev.h API with a fake transport and a fake
 * backend: a SOCK_SEQPACKET socketpair keeps frame boundaries like a TAP
 * fd, the test plays the network on the other end. Covers the virtio-net
 * header rules, receive into one chain or merged over several, stopping
 * the backend watch when the ring is empty, transmit, and the control
 * queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_virtio.h"
#include "net/tap.h"
#include "virtio/net.h"

#define RXQ 0
#define TXQ 1
#define CTRLQ 2
#define F(b) (1ULL << (b))

struct fake_be {
	struct net_backend base;
	int fd, peer;
	unsigned offloads_set, active_pairs;
};

static int fb_rx_fd(struct net_backend *b, unsigned pair)
{
	return pair == 0 ? ((struct fake_be *)b)->fd : -1;
}

static ssize_t fb_recv(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt)
{
	ssize_t n = readv(((struct fake_be *)b)->fd, iov, iovcnt);
	(void)pair;
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}

static int fb_send(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt)
{
	(void)pair;
	return writev(((struct fake_be *)b)->fd, iov, iovcnt) < 0 ? -errno : 0;
}

static int fb_set_offload(struct net_backend *b, unsigned offloads)
{
	((struct fake_be *)b)->offloads_set = offloads;
	return 0;
}

static int fb_set_active_pairs(struct net_backend *b, unsigned n)
{
	((struct fake_be *)b)->active_pairs = n;
	return 0;
}

static void fb_destroy(struct net_backend *b)
{
	struct fake_be *f = (struct fake_be *)b;
	close(f->fd);
	close(f->peer);
	free(f);
}

static const struct net_backend_ops fake_ops = {
	fb_rx_fd, fb_recv, fb_send, fb_set_offload, fb_set_active_pairs, fb_destroy,
};

struct rig {
	struct virtio_ctx *ctx;
	struct virtio_net *net;
	const struct virtio_dev_ops *ops;
	struct fake_be *be;
};

static void rig_up(struct rig *r, uint64_t features, uint16_t qsize)
{
	int sv[2];
	struct virtio_net_params p = { .mac = { 0x06, 0x3a, 0x76, 0x53, 0xda, 0x3d }, .mtu = 1500 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	r->be = calloc(1, sizeof(*r->be));
	r->be->base = (struct net_backend){ &fake_ops, 1, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4, "fake" };
	r->be->fd = sv[0];
	r->be->peer = sv[1];
	p.backend = &r->be->base;
	r->net = virtio_net_create(&p);
	r->ops = virtio_net_dev_ops(r->net);
	r->ctx = fake_virtio_new(3, qsize, features);
	assert_int_equal(r->ops->activate(r->net, r->ctx), 0);
}

static void rig_down(struct rig *r)
{
	r->ops->destroy(r->net);
	fake_virtio_free(r->ctx);
}

/* A frame from "the network": header (zero but for flags) and bytes. */
static void peer_send(struct rig *r, uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t hdr[NET_HDR_LEN] = { flags };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)data, len } };
	assert_int_equal(writev(r->be->peer, iov, 2), (ssize_t)(sizeof(hdr) + len));
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void test_ops_and_config(void **state)
{
	struct rig r;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE];

	(void)state;
	rig_up(&r, 0, 8);
	assert_int_equal(r.ops->device_id, 1);
	assert_int_equal(r.ops->num_queues, 3);
	uint64_t f = r.ops->features(r.net);
	assert_true(f & F(VIRTIO_NET_F_MAC));
	assert_true(f & F(VIRTIO_NET_F_MTU));
	assert_true(f & F(VIRTIO_NET_F_STATUS));
	assert_true(f & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & F(VIRTIO_NET_F_CTRL_VQ));
	assert_true(f & F(VIRTIO_NET_F_GUEST_CSUM)); /* the backend can */
	assert_true(f & F(VIRTIO_NET_F_GUEST_TSO4));
	assert_false(f & F(VIRTIO_NET_F_GUEST_TSO6)); /* the backend cannot */
	assert_false(f & F(VIRTIO_NET_F_MQ));        /* one pair */
	r.ops->config_read(r.net, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, "\x06\x3a\x76\x53\xda\x3d", 6);
	assert_int_equal(le16(cfg + VIRTIO_NET_CFG_STATUS), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(le16(cfg + VIRTIO_NET_CFG_MAX_PAIRS), 1);
	assert_int_equal(le16(cfg + VIRTIO_NET_CFG_MTU), 1500);
	/* activation told the backend: no offloads negotiated, one pair */
	assert_int_equal(r.be->offloads_set, 0);
	assert_int_equal(r.be->active_pairs, 1);
	assert_int_equal(r.ctx->watch_fd, r.be->fd);
	rig_down(&r);
}

static void test_rx_hdr_fixup(void **state)
{
	uint8_t h[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID, 1, 2, 3,
				   4, 5, 6, 7, 8, 9, 0xAA, 0xBB };

	(void)state;
	virtio_net_rx_hdr_fixup(h, F(VIRTIO_NET_F_GUEST_CSUM), 0x0102);
	assert_int_equal(h[0], 3);
	assert_int_equal(h[1], 1);
	assert_int_equal(le16(h + VIRTIO_NET_HDR_NUM_BUFFERS), 0x0102);
	virtio_net_rx_hdr_fixup(h, 0, 1);
	assert_int_equal(h[0], 0);
	assert_int_equal(le16(h + VIRTIO_NET_HDR_NUM_BUFFERS), 1);
}

static void test_tx_hdr_rules(void **state)
{
	const uint64_t all = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
			     F(VIRTIO_NET_F_HOST_TSO6);
	uint8_t plain[NET_HDR_LEN] = { 0 };
	uint8_t csum[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM };
	uint8_t tso4[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0,
				      0xA8, 0x05 };
	uint8_t tso6[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 74, 0,
				      0x94, 0x05 };
	uint8_t tso_no_size[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 };
	uint8_t udp[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 3, 42, 0, 0xA8, 0x05 };
	uint8_t ecn[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 0x81, 54, 0, 0xA8, 0x05 };
	uint8_t valid[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_DATA_VALID };

	(void)state;
	assert_true(virtio_net_tx_hdr_ok(plain, 0));
	assert_true(virtio_net_tx_hdr_ok(csum, F(VIRTIO_NET_F_CSUM)));
	assert_false(virtio_net_tx_hdr_ok(csum, 0));
	assert_true(virtio_net_tx_hdr_ok(tso4, all));
	assert_false(virtio_net_tx_hdr_ok(tso4, F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO6)));
	assert_true(virtio_net_tx_hdr_ok(tso6, all));
	assert_false(virtio_net_tx_hdr_ok(tso6, F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)));
	assert_false(virtio_net_tx_hdr_ok(tso_no_size, all));
	assert_false(virtio_net_tx_hdr_ok(udp, all));
	assert_false(virtio_net_tx_hdr_ok(ecn, all));
	assert_false(virtio_net_tx_hdr_ok(valid, all)); /* a device-to-driver flag */
}

static void test_random_mac(void **state)
{
	uint8_t a[6], b[6];

	(void)state;
	virtio_net_random_mac(a);
	virtio_net_random_mac(b);
	assert_int_equal(a[0] & 3, 2); /* locally administered, unicast */
	assert_int_equal(b[0] & 3, 2);
	assert_memory_not_equal(a, b, 6);
}

/* Without MRG_RXBUF: one chain per frame, num_buffers 1, flags cleared
 * (no GUEST_CSUM); a frame too big for the chain is dropped and the chain
 * serves the next frame. */
static void test_rx_single_chain(void **state)
{
	struct rig r;
	uint8_t frame[1514], big[3000];
	uint32_t id, len;

	(void)state;
	rig_up(&r, 0, 8);
	pattern(frame, sizeof(frame), 1);
	pattern(big, sizeof(big), 2);
	uint64_t buf = fake_alloc(r.ctx, 2048);
	struct fake_seg s = { buf, 2048, true };
	uint16_t head = fake_add_chain(r.ctx, RXQ, &s, 1);
	r.ops->queue_notify(r.net, RXQ);

	peer_send(&r, VIRTIO_NET_HDR_F_DATA_VALID, big, sizeof(big));
	peer_send(&r, VIRTIO_NET_HDR_F_DATA_VALID, frame, sizeof(frame));
	assert_true(fake_run_watch(r.ctx, 1000));
	assert_true(fake_take_used(r.ctx, RXQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, NET_HDR_LEN + sizeof(frame));
	const uint8_t *got = fake_host(r.ctx, buf);
	assert_int_equal(got[0], 0);
	assert_int_equal(le16(got + VIRTIO_NET_HDR_NUM_BUFFERS), 1);
	assert_memory_equal(got + NET_HDR_LEN, frame, sizeof(frame));
	assert_false(fake_take_used(r.ctx, RXQ, &id, &len));
	struct virtio_net_counters c;
	virtio_net_get_counters(r.net, &c);
	assert_int_equal(c.rx_frames, 1);
	assert_int_equal(c.rx_dropped, 1);
	assert_true(r.ctx->notified[RXQ] >= 1);
	rig_down(&r);
}

/* With MRG_RXBUF: a 1514-byte frame over chains of 600 bytes (two of them
 * two segments each) takes three, pushed together, num_buffers 3 in the
 * first header, the bytes in order. */
static void test_rx_merged(void **state)
{
	struct rig r;
	uint8_t frame[1514], back[NET_HDR_LEN + 1514];
	uint32_t id, len, total = 0;
	uint64_t a[5];
	uint16_t heads[3];

	(void)state;
	rig_up(&r, F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM), 16);
	assert_int_equal(r.be->offloads_set, NET_OFFLOAD_CSUM);
	pattern(frame, sizeof(frame), 3);
	for (unsigned i = 0; i < 5; i++)
		a[i] = fake_alloc(r.ctx, 600);
	struct fake_seg c0[] = { { a[0], 5, true }, { a[1], 595, true } }; /* header split */
	struct fake_seg c1[] = { { a[2], 600, true } };
	struct fake_seg c2[] = { { a[3], 300, true }, { a[4], 300, true } };
	heads[0] = fake_add_chain(r.ctx, RXQ, c0, 2);
	heads[1] = fake_add_chain(r.ctx, RXQ, c1, 1);
	heads[2] = fake_add_chain(r.ctx, RXQ, c2, 2);
	r.ops->queue_notify(r.net, RXQ);
	peer_send(&r, VIRTIO_NET_HDR_F_DATA_VALID, frame, sizeof(frame));
	assert_true(fake_run_watch(r.ctx, 1000));
	for (unsigned i = 0; i < 3; i++) {
		assert_true(fake_take_used(r.ctx, RXQ, &id, &len));
		assert_int_equal(id, heads[i]);
		const struct fake_seg *segs = i == 0 ? c0 : i == 1 ? c1 : c2;
		unsigned nseg = i == 1 ? 1 : 2;
		uint32_t left = len;
		for (unsigned k = 0; k < nseg && left; k++) {
			uint32_t take = segs[k].len < left ? segs[k].len : left;
			memcpy(back + total, fake_host(r.ctx, segs[k].gpa), take);
			total += take;
			left -= take;
		}
	}
	assert_false(fake_take_used(r.ctx, RXQ, &id, &len));
	assert_int_equal(total, sizeof(back));
	assert_int_equal(back[0], VIRTIO_NET_HDR_F_DATA_VALID); /* kept with GUEST_CSUM */
	assert_int_equal(le16(back + VIRTIO_NET_HDR_NUM_BUFFERS), 3);
	assert_memory_equal(back + NET_HDR_LEN, frame, sizeof(frame));
	rig_down(&r);
}

/* No buffers: the backend fd leaves the watch and the frame stays in the
 * backend; a kick after new buffers brings it in. A frame that ran out of
 * chains halfway is finished after the kick. */
static void test_rx_waits_for_buffers(void **state)
{
	struct rig r;
	uint8_t frame[1000];
	uint32_t id, len;
	char probe;

	(void)state;
	rig_up(&r, F(VIRTIO_NET_F_MRG_RXBUF), 8);
	pattern(frame, sizeof(frame), 4);
	peer_send(&r, 0, frame, sizeof(frame));
	assert_true(fake_run_watch(r.ctx, 1000));
	assert_int_equal(r.ctx->watch_fd, -1);
	assert_false(fake_run_watch(r.ctx, 10));
	/* still queued in the backend, not read into the device */
	assert_int_equal(recv(r.be->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT), 1);

	uint64_t a = fake_alloc(r.ctx, 512), b = fake_alloc(r.ctx, 512);
	struct fake_seg s1 = { a, 512, true }, s2 = { b, 512, true };
	fake_add_chain(r.ctx, RXQ, &s1, 1);
	r.ops->queue_notify(r.net, RXQ);
	/* half the frame is in, the rest waits for a second buffer */
	assert_false(fake_take_used(r.ctx, RXQ, &id, &len));
	assert_int_equal(r.ctx->watch_fd, -1);
	fake_add_chain(r.ctx, RXQ, &s2, 1);
	r.ops->queue_notify(r.net, RXQ);
	assert_true(fake_take_used(r.ctx, RXQ, &id, &len));
	assert_int_equal(len, 512);
	assert_true(fake_take_used(r.ctx, RXQ, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + sizeof(frame) - 512);
	assert_memory_equal((uint8_t *)fake_host(r.ctx, a) + NET_HDR_LEN, frame, 500);
	assert_memory_equal(fake_host(r.ctx, b), frame + 500, 500);
	assert_int_equal(le16((uint8_t *)fake_host(r.ctx, a) + VIRTIO_NET_HDR_NUM_BUFFERS), 2);
	/* the ring is empty again: no watch until the next kick */
	assert_int_equal(r.ctx->watch_fd, -1);
	rig_down(&r);
}

/* Transmit: header and data gathered from the readable segments, in one
 * frame; a header asking for what was not negotiated, or a chain shorter
 * than a header, is dropped and still returned to the driver. */
static void test_tx(void **state)
{
	struct rig r;
	uint8_t data[1400], got[2048];
	uint32_t id, len;

	(void)state;
	rig_up(&r, F(VIRTIO_NET_F_CSUM), 8);
	pattern(data, sizeof(data), 5);
	/* header in two segments, the data's start sharing the second */
	uint64_t hd = fake_alloc(r.ctx, NET_HDR_LEN + 100), d = fake_alloc(r.ctx, sizeof(data));
	uint8_t *hh = fake_host(r.ctx, hd);
	hh[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hh[6] = 34; /* csum_start */
	hh[8] = 16; /* csum_offset */
	memcpy(hh + NET_HDR_LEN, data, 100);
	memcpy(fake_host(r.ctx, d), data + 100, sizeof(data) - 100);
	struct fake_seg s[] = { { hd, 8, false }, { hd + 8, 4 + 100, false },
				{ d, sizeof(data) - 100, false } };
	uint16_t head = fake_add_chain(r.ctx, TXQ, s, 3);
	r.ops->queue_notify(r.net, TXQ);
	assert_true(fake_take_used(r.ctx, TXQ, &id, &len));
	assert_int_equal(id, head);
	ssize_t n = recv(r.be->peer, got, sizeof(got), MSG_DONTWAIT);
	assert_int_equal(n, NET_HDR_LEN + sizeof(data));
	assert_int_equal(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(got[6], 34);
	assert_memory_equal(got + NET_HDR_LEN, data, sizeof(data));

	/* GSO was not negotiated */
	uint8_t *gh = hh;
	gh[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	gh[4] = 0xA8;
	gh[5] = 0x05;
	fake_add_chain(r.ctx, TXQ, s, 3);
	struct fake_seg tiny = { hd, 6, false };
	fake_add_chain(r.ctx, TXQ, &tiny, 1);
	r.ops->queue_notify(r.net, TXQ);
	assert_true(fake_take_used(r.ctx, TXQ, &id, &len));
	assert_true(fake_take_used(r.ctx, TXQ, &id, &len));
	assert_int_equal(recv(r.be->peer, got, sizeof(got), MSG_DONTWAIT), -1);
	struct virtio_net_counters c;
	virtio_net_get_counters(r.net, &c);
	assert_int_equal(c.tx_frames, 1);
	assert_int_equal(c.tx_dropped, 2);
	assert_int_equal(r.ctx->needs_reset, 0);
	rig_down(&r);
}

static uint8_t ctrl(struct rig *r, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint64_t h = fake_alloc(r->ctx, 2 + len), ack = fake_alloc(r->ctx, 1);
	uint8_t *p = fake_host(r->ctx, h);
	uint32_t id, used;

	p[0] = cls;
	p[1] = cmd;
	memcpy(p + 2, data, len);
	*(uint8_t *)fake_host(r->ctx, ack) = 0xEE;
	struct fake_seg s[] = { { h, 2 + len, false }, { ack, 1, true } };
	fake_add_chain(r->ctx, CTRLQ, s, 2);
	r->ops->queue_notify(r->net, CTRLQ);
	assert_true(fake_take_used(r->ctx, CTRLQ, &id, &used));
	assert_int_equal(used, 1);
	return *(uint8_t *)fake_host(r->ctx, ack);
}

static void test_ctrl(void **state)
{
	struct rig r;
	uint8_t on = 1, mac[6] = { 0x02, 1, 2, 3, 4, 5 }, cfg[6];
	uint8_t table[8] = { 0 };
	uint16_t pairs = 1;

	(void)state;
	rig_up(&r, F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX), 8);
	assert_int_equal(ctrl(&r, VIRTIO_NET_CTRL_RX, 0, &on, 1), VIRTIO_NET_OK); /* promisc */
	assert_int_equal(ctrl(&r, VIRTIO_NET_CTRL_RX, 1, &on, 1), VIRTIO_NET_OK); /* allmulti */
	assert_int_equal(ctrl(&r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 8),
			 VIRTIO_NET_OK);
	assert_int_equal(ctrl(&r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VIRTIO_NET_OK);
	r.ops->config_read(r.net, 0, cfg, 6);
	assert_memory_equal(cfg, mac, 6);
	/* MQ was not negotiated */
	assert_int_equal(ctrl(&r, VIRTIO_NET_CTRL_MQ, 0, &pairs, 2), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(&r, 9, 0, &on, 1), VIRTIO_NET_ERR);
	/* no ack byte: the driver broke the protocol */
	uint64_t h = fake_alloc(r.ctx, 3);
	struct fake_seg s = { h, 3, false };
	fake_add_chain(r.ctx, CTRLQ, &s, 1);
	r.ops->queue_notify(r.net, CTRLQ);
	assert_int_equal(r.ctx->needs_reset, 1);
	rig_down(&r);
}

/* Two pairs: queue 4 is the control queue once MQ is negotiated, and
 * VQ_PAIRS_SET takes 1..max_virtqueue_pairs. */
static void test_ctrl_mq(void **state)
{
	struct rig r;
	int sv[2];
	uint16_t two = 2, three = 3, zero = 0;
	uint32_t id, used;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	r.be = calloc(1, sizeof(*r.be));
	r.be->base = (struct net_backend){ &fake_ops, 2, 0, "fake" };
	r.be->fd = sv[0];
	r.be->peer = sv[1];
	struct virtio_net_params p = { .backend = &r.be->base, .mtu = 9000 };
	r.net = virtio_net_create(&p);
	r.ops = virtio_net_dev_ops(r.net);
	assert_int_equal(r.ops->num_queues, 5);
	assert_true(r.ops->features(r.net) & F(VIRTIO_NET_F_MQ));
	assert_false(r.ops->features(r.net) & F(VIRTIO_NET_F_GUEST_CSUM));
	r.ctx = fake_virtio_new(5, 8, F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ));
	assert_int_equal(r.ops->activate(r.net, r.ctx), 0);
	assert_int_equal(r.be->active_pairs, 1);
	const uint16_t *vals[] = { &two, &three, &zero };
	const uint8_t want[] = { VIRTIO_NET_OK, VIRTIO_NET_ERR, VIRTIO_NET_ERR };
	for (unsigned i = 0; i < 3; i++) {
		uint64_t h = fake_alloc(r.ctx, 4), ack = fake_alloc(r.ctx, 1);
		uint8_t *q = fake_host(r.ctx, h);
		q[0] = VIRTIO_NET_CTRL_MQ;
		q[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
		memcpy(q + 2, vals[i], 2);
		struct fake_seg s[] = { { h, 4, false }, { ack, 1, true } };
		fake_add_chain(r.ctx, 4, s, 2);
		r.ops->queue_notify(r.net, 4);
		assert_true(fake_take_used(r.ctx, 4, &id, &used));
		assert_int_equal(*(uint8_t *)fake_host(r.ctx, ack), want[i]);
	}
	assert_int_equal(r.be->active_pairs, 2);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_and_config),
		cmocka_unit_test(test_rx_hdr_fixup),
		cmocka_unit_test(test_tx_hdr_rules),
		cmocka_unit_test(test_random_mac),
		cmocka_unit_test(test_rx_single_chain),
		cmocka_unit_test(test_rx_merged),
		cmocka_unit_test(test_rx_waits_for_buffers),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_ctrl),
		cmocka_unit_test(test_ctrl_mq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
