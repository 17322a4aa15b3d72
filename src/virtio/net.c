#include "virtio/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/log.h"
#include "util/util.h"

/* Frames received per callback: a busy backend cannot starve the other
 * queues (its fd is level-triggered, so the rest comes next time). */
#define RX_BUDGET 64

#define BIT(b) (1ULL << (b))

/* A chain already filled with part of a merged frame, waiting for the rest
 * before all of them are pushed together. */
struct rx_used {
	uint16_t id, ndesc;
	uint32_t writable, written;
};

struct net_rxq {
	struct virtio_net *owner; /* the watch callback's argument is the queue */
	unsigned pair;
	bool watching;           /* the backend fd is in the worker's epoll */
	bool held;               /* chain: popped, not yet used */
	bool pending;            /* buf holds a frame not (wholly) delivered */
	uint32_t len, off;       /* the pending frame's length, bytes delivered */
	uint8_t *num_buffers[2]; /* where the first chain keeps num_buffers */
	unsigned nused;
	struct rx_used *used;    /* VIRTQ_MAX_SIZE entries */
	uint8_t *buf;            /* NET_MAX_FRAME bytes */
	struct virtq_chain chain;
};

struct virtio_net {
	struct virtio_dev_ops ops; /* virtio_net_ops with this num_queues */
	struct net_backend *be;
	struct virtio_ctx *ctx;    /* while activated */
	uint64_t features;         /* offered */
	uint64_t acked;            /* negotiated, at activation */
	unsigned pairs;            /* max_virtqueue_pairs */
	unsigned usable_pairs;     /* pairs the driver may use: pairs with MQ, else 1 */
	unsigned active_pairs;     /* set by VQ_PAIRS_SET; 1 at first */
	unsigned ctrl_q;
	uint8_t config[VIRTIO_NET_CFG_SIZE];
	struct virtio_net_counters cnt;
	bool logged_tx_error, logged_rx_error;
	struct net_rxq *rxq;       /* pairs entries */
	struct virtq_chain chain;  /* scratch for transmit and control */
	struct iovec iov[VIRTQ_MAX_SIZE + 1];
	uint8_t tx_hdr[NET_HDR_LEN];
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool has(uint64_t features, unsigned bit)
{
	return features & BIT(bit);
}

/* ---- headers ---- */

void virtio_net_rx_hdr_fixup(uint8_t hdr[NET_HDR_LEN], uint64_t features, uint16_t num_buffers)
{
	/* Without GUEST_CSUM the backend was told to finish checksums, and the
	 * driver must see flags 0 (virtio 1.2 §5.1.6.4). */
	if (!has(features, VIRTIO_NET_F_GUEST_CSUM))
		hdr[0] = 0;
	put_le(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, num_buffers, 2);
}

bool virtio_net_tx_hdr_ok(const uint8_t hdr[NET_HDR_LEN], uint64_t features)
{
	uint8_t flags = hdr[0], gso = hdr[1];
	uint16_t gso_size = (uint16_t)(hdr[4] | hdr[5] << 8);

	if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(features, VIRTIO_NET_F_CSUM))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(features, VIRTIO_NET_F_HOST_TSO4) && gso_size;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(features, VIRTIO_NET_F_HOST_TSO6) && gso_size;
	default:
		return false; /* UDP, ECN: never offered */
	}
}

/* ---- setup ---- */

void virtio_net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		/* Never expected; still a valid, if less unique, address. */
		uint64_t t = (uint64_t)(uintptr_t)mac ^ (uint64_t)time(NULL);
		for (unsigned i = 0; i < 6; i++)
			mac[i] = (uint8_t)(t >> (8 * i));
	}
	mac[0] = (uint8_t)((mac[0] & ~1u) | 2u);
}

static uint64_t features_of(const struct net_backend *be)
{
	uint64_t f = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS) |
		     BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX);

	if (be->offloads & NET_OFFLOAD_CSUM)
		f |= BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (be->offloads & NET_OFFLOAD_TSO4)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO4);
	if (be->offloads & NET_OFFLOAD_TSO6)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO6);
	if (be->pairs > 1)
		f |= BIT(VIRTIO_NET_F_MQ);
	return f;
}

static void build_config(struct virtio_net *n, const struct virtio_net_params *p)
{
	uint8_t *c = n->config;

	memcpy(c + VIRTIO_NET_CFG_MAC, p->mac, 6);
	put_le(c + VIRTIO_NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP, 2);
	put_le(c + VIRTIO_NET_CFG_MAX_PAIRS, n->pairs, 2);
	put_le(c + VIRTIO_NET_CFG_MTU, p->mtu, 2);
	put_le(c + VIRTIO_NET_CFG_SPEED, 0xFFFFFFFF, 4); /* unknown */
	c[VIRTIO_NET_CFG_DUPLEX] = 0xFF;                 /* unknown */
}

struct virtio_net *virtio_net_create(const struct virtio_net_params *p)
{
	struct virtio_net *n = xcalloc(1, sizeof(*n));

	n->be = p->backend;
	n->pairs = p->backend->pairs;
	n->ops = virtio_net_ops;
	n->ops.num_queues = (uint16_t)(2 * n->pairs + 1);
	n->features = features_of(p->backend);
	n->rxq = xcalloc(n->pairs, sizeof(*n->rxq));
	for (unsigned i = 0; i < n->pairs; i++) {
		n->rxq[i].owner = n;
		n->rxq[i].pair = i;
		n->rxq[i].buf = xcalloc(1, NET_MAX_FRAME);
		n->rxq[i].used = xcalloc(VIRTQ_MAX_SIZE, sizeof(struct rx_used));
	}
	build_config(n, p);
	return n;
}

const struct virtio_dev_ops *virtio_net_dev_ops(struct virtio_net *n)
{
	return &n->ops;
}

void virtio_net_get_counters(const struct virtio_net *n, struct virtio_net_counters *out)
{
	*out = n->cnt;
}

/* ---- receive: backend -> guest ---- */

static unsigned rx_q(unsigned pair)
{
	return 2 * pair;
}

static void rx_watch(struct virtio_net *n, unsigned pair, bool on);

/* Where byte `off` of the chain's writable part lives (off < writable). */
static uint8_t *writable_byte(const struct virtq_chain *c, uint32_t off)
{
	for (unsigned i = c->nread; i < c->nseg; i++) {
		if (off < c->seg[i].len)
			return (uint8_t *)c->seg[i].host + off;
		off -= c->seg[i].len;
	}
	return NULL;
}

/* Takes a chain for the frame into r->chain unless one is held already.
 * 1: there is one; 0: the queue is empty; -1: the driver broke it. */
static int rx_take_chain(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];
	int got;

	if (r->held)
		return 1;
	got = virtq_pop(virtio_queue(n->ctx, rx_q(pair)), &r->chain);
	if (got < 0) {
		virtio_set_needs_reset(n->ctx, "virtio-net: malformed receive chain");
		return -1;
	}
	r->held = got > 0;
	return got;
}

static void rx_push(struct virtio_net *n, unsigned pair, const struct rx_used *u)
{
	struct virtq_chain *c = &n->chain;

	c->id = u->id;
	c->ndesc = u->ndesc;
	c->writable = u->writable;
	virtq_push(virtio_queue(n->ctx, rx_q(pair)), c, u->written);
}

/* Without MRG_RXBUF a frame takes exactly one chain; one that cannot hold
 * it is kept for the next frame, and this one is dropped. */
static int rx_deliver_single(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];
	int got = rx_take_chain(n, pair);

	if (got <= 0)
		return got;
	r->pending = false;
	if (r->chain.writable < r->len) {
		n->cnt.rx_dropped++;
		return 1;
	}
	virtio_net_rx_hdr_fixup(r->buf, n->acked, 1);
	virtq_chain_write(&r->chain, 0, r->buf, r->len);
	r->held = false;
	virtq_push(virtio_queue(n->ctx, rx_q(pair)), &r->chain, r->len);
	n->cnt.rx_frames++;
	return 1;
}

static void rx_finish_merged(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];

	__atomic_store_n(r->num_buffers[0], (uint8_t)r->nused, __ATOMIC_RELAXED);
	__atomic_store_n(r->num_buffers[1], (uint8_t)(r->nused >> 8), __ATOMIC_RELAXED);
	for (unsigned i = 0; i < r->nused; i++)
		rx_push(n, pair, &r->used[i]);
	r->nused = 0;
	r->pending = false;
	n->cnt.rx_frames++;
}

/* With MRG_RXBUF a frame fills as many chains as it needs; they are pushed
 * together once it is whole, the first one's header saying how many. The
 * first chain must hold the header (virtio 1.2 §5.1.6.3.2). */
static int rx_deliver_merged(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];
	uint16_t qsize = virtio_queue(n->ctx, rx_q(pair))->size;

	if (r->nused == 0)
		virtio_net_rx_hdr_fixup(r->buf, n->acked, 0);
	while (r->off < r->len) {
		int got = rx_take_chain(n, pair);
		if (got < 0 || (got == 0 && r->nused < qsize))
			return got;
		if (got == 0) {
			/* The whole ring cannot hold it: give the chains back empty. */
			for (unsigned i = 0; i < r->nused; i++)
				r->used[i].written = 0;
			r->off = r->len;
			n->cnt.rx_dropped++;
			break;
		}
		const struct virtq_chain *c = &r->chain;
		if (r->nused == 0 && c->writable < NET_HDR_LEN) {
			virtio_set_needs_reset(n->ctx, "virtio-net: receive buffer smaller than the header");
			return -1;
		}
		uint32_t w = (uint32_t)virtq_chain_write(c, 0, r->buf + r->off, r->len - r->off);
		if (r->nused == 0) {
			r->num_buffers[0] = writable_byte(c, VIRTIO_NET_HDR_NUM_BUFFERS);
			r->num_buffers[1] = writable_byte(c, VIRTIO_NET_HDR_NUM_BUFFERS + 1);
		}
		r->used[r->nused++] = (struct rx_used){ c->id, c->ndesc, c->writable, w };
		r->off += w;
		r->held = false;
	}
	if (r->off >= r->len && r->pending) {
		if (r->used[0].written == 0) { /* dropped above */
			for (unsigned i = 0; i < r->nused; i++)
				rx_push(n, pair, &r->used[i]);
			r->nused = 0;
			r->pending = false;
		} else {
			rx_finish_merged(n, pair);
		}
	}
	return 1;
}

static int rx_deliver(struct virtio_net *n, unsigned pair)
{
	if (has(n->acked, VIRTIO_NET_F_MRG_RXBUF))
		return rx_deliver_merged(n, pair);
	return rx_deliver_single(n, pair);
}

enum { READ_FAILED = -1, READ_NONE = 0, READ_FRAME = 1, READ_DROPPED = 2 };

/* Reads the next frame into r->buf (READ_FRAME), or says why not. */
static int rx_read_frame(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];
	struct iovec iov = { r->buf, NET_MAX_FRAME };
	ssize_t len = n->be->ops->recv(n->be, pair, &iov, 1);

	if (len == -EAGAIN)
		return READ_NONE;
	if (len == -EMSGSIZE) {
		n->cnt.rx_dropped++;
		return READ_DROPPED;
	}
	if (len < 0) {
		if (!n->logged_rx_error)
			log_error("virtio-net: %s: receive failed: %s", n->be->name, strerror((int)-len));
		n->logged_rx_error = true;
		return READ_FAILED;
	}
	r->pending = true;
	r->len = (uint32_t)len;
	r->off = 0;
	r->nused = 0;
	return READ_FRAME;
}

/* Moves frames until the backend has none or the ring has no room. With no
 * room the backend fd leaves the worker until the driver adds buffers (its
 * kick on the receive queue): frames wait in the backend, not here. */
static void rx_drain(struct virtio_net *n, unsigned pair)
{
	struct net_rxq *r = &n->rxq[pair];
	struct virtq *vq = virtio_queue(n->ctx, rx_q(pair));
	unsigned budget = RX_BUDGET;
	bool pushed = false;
	int st = 1;

	while (budget-- && st > 0) {
		if (!r->pending) {
			/* No buffer, no read: the frame would have nowhere to go. */
			st = rx_take_chain(n, pair);
			if (st <= 0)
				break;
			st = rx_read_frame(n, pair);
			if (st != READ_FRAME)
				continue; /* READ_DROPPED: the next one */
		}
		uint64_t before = n->cnt.rx_frames + n->cnt.rx_dropped;
		st = rx_deliver(n, pair);
		pushed |= n->cnt.rx_frames + n->cnt.rx_dropped != before;
	}
	if (pushed)
		virtio_notify_queue(n->ctx, rx_q(pair));
	if (st == 0 && !r->held) {
		/* Out of buffers: sleep until a kick, unless some just came. */
		rx_watch(n, pair, false);
		if (virtq_enable_notify(vq))
			rx_watch(n, pair, true);
	} else if (st < 0) {
		rx_watch(n, pair, false);
	}
}

static void rx_on_readable(void *arg)
{
	struct net_rxq *r = arg;

	if (r->owner->ctx)
		rx_drain(r->owner, r->pair);
}

static void rx_watch(struct virtio_net *n, unsigned pair, bool on)
{
	struct net_rxq *r = &n->rxq[pair];
	int fd = n->be->ops->rx_fd(n->be, pair);

	if (on == r->watching || fd < 0)
		return;
	if (on) {
		if (virtio_watch_fd(n->ctx, fd, rx_on_readable, r) == 0)
			r->watching = true;
	} else {
		virtio_unwatch_fd(n->ctx, fd);
		r->watching = false;
	}
}

/* ---- transmit: guest -> backend ---- */

static bool tx_one(struct virtio_net *n, unsigned pair)
{
	const struct virtq_chain *c = &n->chain;
	uint32_t off = NET_HDR_LEN;
	int iovcnt = 1, err;

	if (c->readable < NET_HDR_LEN || c->readable > NET_MAX_FRAME)
		return false;
	/* The backend gets the copy that was checked, not guest memory the
	 * driver could still change. */
	virtq_chain_read(c, 0, n->tx_hdr, NET_HDR_LEN);
	if (!virtio_net_tx_hdr_ok(n->tx_hdr, n->acked))
		return false;
	n->iov[0] = (struct iovec){ n->tx_hdr, NET_HDR_LEN };
	for (unsigned i = 0; i < c->nread; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n->iov[iovcnt++] = (struct iovec){ (uint8_t *)s->host + off, s->len - off };
		off = 0;
	}
	err = n->be->ops->send(n->be, pair, n->iov, iovcnt);
	if (err && !n->logged_tx_error && err != -EAGAIN) {
		log_error("virtio-net: %s: send failed: %s", n->be->name, strerror(-err));
		n->logged_tx_error = true;
	}
	return !err;
}

static void tx_drain(struct virtio_net *n, unsigned pair)
{
	struct virtq *vq = virtio_queue(n->ctx, 2 * pair + 1);
	bool pushed = false;
	int got;

	while ((got = virtq_pop(vq, &n->chain)) > 0) {
		if (tx_one(n, pair))
			n->cnt.tx_frames++;
		else
			n->cnt.tx_dropped++;
		virtq_push(vq, &n->chain, 0);
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(n->ctx, "virtio-net: malformed transmit chain");
	if (pushed)
		virtio_notify_queue(n->ctx, 2 * pair + 1);
}

/* ---- control queue ---- */

static void set_active_pairs(struct virtio_net *n, unsigned pairs)
{
	log_debug("virtio-net: %s: %u of %u queue pair(s) active", n->be->name, pairs, n->pairs);
	n->active_pairs = pairs;
	n->be->ops->set_active_pairs(n->be, pairs);
	for (unsigned i = 0; i < n->pairs; i++) {
		struct virtq *vq = virtio_queue(n->ctx, rx_q(i));
		rx_watch(n, i, i < pairs && vq && vq->ready);
	}
}

static uint8_t ctrl_command(struct virtio_net *n, uint8_t cls, uint8_t cmd, const uint8_t *data,
			    uint32_t len)
{
	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		/* Every frame reaches the guest anyway: promiscuous and
		 * all-multicast are what the device does already. */
		return cmd <= 5 && len >= 1 ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MAC:
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return VIRTIO_NET_OK; /* no filtering, as above */
		if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && len == 6) {
			memcpy(n->config + VIRTIO_NET_CFG_MAC, data, 6);
			return VIRTIO_NET_OK;
		}
		return VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MQ:
		if (cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && len == 2 &&
		    has(n->acked, VIRTIO_NET_F_MQ)) {
			unsigned pairs = data[0] | data[1] << 8;
			if (pairs >= 1 && pairs <= n->pairs) {
				set_active_pairs(n, pairs);
				return VIRTIO_NET_OK;
			}
		}
		return VIRTIO_NET_ERR;
	default:
		return VIRTIO_NET_ERR;
	}
}

static void ctrl_drain(struct virtio_net *n)
{
	struct virtq *vq = virtio_queue(n->ctx, n->ctrl_q);
	const struct virtq_chain *c = &n->chain;
	/* Commands parse at most 6 data bytes (MAC_TABLE_SET's are not read). */
	uint8_t req[2 + 64];
	bool pushed = false;
	int got;

	while ((got = virtq_pop(vq, &n->chain)) > 0) {
		if (c->readable < 2 || c->writable < 1) {
			virtq_push(vq, c, 0);
			pushed = true;
			virtio_set_needs_reset(n->ctx, "virtio-net: control command without header or ack");
			break;
		}
		virtq_chain_read(c, 0, req, sizeof(req));
		uint8_t ack = ctrl_command(n, req[0], req[1], req + 2, c->readable - 2);
		virtq_chain_write(c, 0, &ack, 1);
		virtq_push(vq, c, 1);
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(n->ctx, "virtio-net: malformed control chain");
	if (pushed)
		virtio_notify_queue(n->ctx, n->ctrl_q);
}

/* ---- virtio_dev_ops ---- */

static uint64_t net_features(void *dev)
{
	return ((struct virtio_net *)dev)->features;
}

static void net_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = dev;

	if (off < sizeof(n->config) && len <= sizeof(n->config) - off)
		memcpy(buf, n->config + off, len);
}

static unsigned offloads_of(uint64_t acked)
{
	unsigned o = 0;

	if (has(acked, VIRTIO_NET_F_GUEST_CSUM))
		o |= NET_OFFLOAD_CSUM;
	if (has(acked, VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (has(acked, VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	return o;
}

static bool rx_ready(struct virtio_net *n, unsigned pair)
{
	struct virtq *vq = virtio_queue(n->ctx, rx_q(pair));

	return vq && vq->ready;
}

/* The pairs in use from the start. With a control queue the driver says
 * how many later (VQ_PAIRS_SET), one until then. Without one nobody can
 * say it here: a vhost-user frontend that keeps the control queue to
 * itself (QEMU) answers VQ_PAIRS_SET there and enables the rings of just
 * the pairs in use, so those are the leading pairs whose rings are ready. */
static unsigned initial_pairs(struct virtio_net *n)
{
	unsigned k = 0;

	if (has(n->acked, VIRTIO_NET_F_CTRL_VQ))
		return 1;
	while (k < n->usable_pairs && rx_ready(n, k))
		k++;
	return k ? k : 1;
}

static int net_activate(void *dev, struct virtio_ctx *ctx)
{
	struct virtio_net *n = dev;
	int err;

	n->ctx = ctx;
	n->acked = virtio_features(ctx);
	n->usable_pairs = has(n->acked, VIRTIO_NET_F_MQ) ? n->pairs : 1;
	n->ctrl_q = 2 * n->usable_pairs;
	/* The backend must produce only what the driver can parse. */
	err = n->be->ops->set_offload(n->be, offloads_of(n->acked));
	if (err) {
		log_error("virtio-net: %s: cannot set offloads: %s", n->be->name, strerror(-err));
		n->ctx = NULL;
		return err;
	}
	set_active_pairs(n, initial_pairs(n));
	if (!n->rxq[0].watching)
		log_warn("virtio-net: %s: receive queue 0 not usable", n->be->name);
	return 0;
}

static void net_queue_notify(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	if (!n->ctx)
		return;
	if (q == n->ctrl_q && has(n->acked, VIRTIO_NET_F_CTRL_VQ)) {
		ctrl_drain(n);
	} else if (q < 2 * n->usable_pairs && q % 2) {
		tx_drain(n, q / 2);
	} else if (q < 2 * n->usable_pairs && q / 2 < n->active_pairs) {
		/* New buffers: read the backend again. */
		rx_watch(n, q / 2, true);
		rx_drain(n, q / 2);
	}
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	if (!n->ctx)
		return;
	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_rxq *r = &n->rxq[i];
		rx_watch(n, i, false);
		r->held = r->pending = false;
		r->nused = 0;
	}
	n->be->ops->set_active_pairs(n->be, 1);
	n->be->ops->set_offload(n->be, 0);
	n->active_pairs = 0;
	n->acked = 0;
	n->ctx = NULL;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	net_reset(n);
	n->be->ops->destroy(n->be);
	for (unsigned i = 0; i < n->pairs; i++) {
		free(n->rxq[i].buf);
		free(n->rxq[i].used);
	}
	free(n->rxq);
	free(n);
}

static void net_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = 1,
	.num_queues = 3,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CFG_SIZE,
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.destroy = net_destroy,
};
