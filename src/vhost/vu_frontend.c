#include "vhost/vu_frontend.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_spec.h"

/* The configuration bytes fetched: virtio_blk_config up to the write-zeroes
 * fields (what QEMU 7.2's backends serve), virtio_net_config up to its
 * RSS fields. */
#define CONFIG_SIZE_BLK 60
#define CONFIG_SIZE_NET 24
/* QEMU's packed layout of a ring base: both wrap counters start at 1. */
#define PACKED_START_BASE (1u << 15 | 1u << 31)

/* Every request is made on the device's worker thread (or before it runs,
 * or in tests on one thread), one at a time: no locking. */
struct vu_frontend;

struct queue_watch {
	struct vu_frontend *fe;
	unsigned q;
};

struct vu_frontend {
	struct virtio_dev_ops ops;
	char name[16];
	char *path;
	int sock;
	const struct guest_mem *gm;
	uint64_t features;  /* the backend's, with bit 30 */
	uint64_t protocol;  /* negotiated */
	unsigned nq;
	int err_fd[VU_FRONTEND_MAX_QUEUES];
	/* The call fd of a queue the driver polls (no MSI-X vector): drained
	 * here, because libvhost-user aborts when it has no call fd to write. */
	int idle_call_fd[VU_FRONTEND_MAX_QUEUES];
	struct queue_watch watch[VU_FRONTEND_MAX_QUEUES];
	bool started[VU_FRONTEND_MAX_QUEUES];
	uint8_t config[CONFIG_SIZE_BLK > CONFIG_SIZE_NET ? CONFIG_SIZE_BLK : CONFIG_SIZE_NET];
	bool alive;
	bool opened;         /* set up: failures are logged from now on */
	char why[160];       /* why the last request failed */
	struct virtio_ctx *ctx; /* while activated: the watches are on */
};

static void set_why(struct vu_frontend *fe, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_why(struct vu_frontend *fe, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fe->why, sizeof(fe->why), fmt, ap);
	va_end(ap);
}

/* The backend stopped answering sensibly: nothing more is sent to it. */
static int gone(struct vu_frontend *fe, int err)
{
	if (fe->alive && fe->opened)
		log_error("%s: the vhost-user backend at %s is gone (%s); the device needs a reset, "
			  "and reconnecting is not supported", fe->name, fe->path, fe->why);
	if (fe->alive && fe->ctx)
		virtio_set_needs_reset(fe->ctx, "vhost-user backend gone");
	fe->alive = false;
	return err;
}

/* ---- messages ---- */

static int send_msg(struct vu_frontend *fe, uint32_t req, bool need_reply, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	if (!fe->alive) {
		set_why(fe, "%s: the backend is gone", vu_request_name(req));
		return -EPIPE;
	}
	struct vu_hdr h = { req, VU_VERSION | (need_reply ? VU_FLAG_NEED_REPLY : 0), size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(fe->sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = errno;
		set_why(fe, "%s: %s", vu_request_name(req), strerror(err));
		return gone(fe, -err);
	}
	if ((size_t)n != sizeof(h) + size) {
		set_why(fe, "%s: short write", vu_request_name(req));
		return gone(fe, -EIO);
	}
	return 0;
}

/* Reads the reply to req, which must carry exactly size payload bytes and
 * no fds. */
static int recv_reply(struct vu_frontend *fe, uint32_t req, struct vu_msg *m, uint32_t size)
{
	const char *name = vu_request_name(req);
	struct pollfd p = { .fd = fe->sock, .events = POLLIN };
	int n;
	do {
		n = poll(&p, 1, VU_FRONTEND_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		set_why(fe, "%s: no reply in %d ms", name, VU_FRONTEND_TIMEOUT_MS);
		return gone(fe, -ETIMEDOUT);
	}
	char why[96] = "";
	int ret = n < 0 ? -errno : vu_msg_recv(fe->sock, m, why, sizeof(why));
	if (ret <= 0) {
		set_why(fe, "%s: %s", name, ret == 0 ? "the socket was closed" : why[0] ? why
										      : strerror(-ret));
		return gone(fe, ret ? ret : -EPIPE);
	}
	bool fds = m->nfds != 0;
	vu_msg_close_fds(m);
	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION || !(m->hdr.flags & VU_FLAG_REPLY) ||
	    m->hdr.request != req || m->hdr.size != size || fds) {
		set_why(fe, "%s: bad reply (request %u, flags %#x, %u bytes%s; expected %u bytes)",
			name, m->hdr.request, m->hdr.flags, m->hdr.size, fds ? ", with fds" : "",
			size);
		return gone(fe, -EPROTO);
	}
	return 0;
}

static bool acked(const struct vu_frontend *fe)
{
	return fe->protocol >> VU_PROTO_REPLY_ACK & 1;
}

/* A request without a reply of its own: with REPLY_ACK, waits for the ack. */
static int request(struct vu_frontend *fe, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	bool ack = acked(fe);
	int ret = send_msg(fe, req, ack, payload, size, fds, nfds);
	if (ret || !ack)
		return ret;
	struct vu_msg m;
	ret = recv_reply(fe, req, &m, sizeof(uint64_t));
	if (!ret && m.p.u64) {
		/* Refused, not broken: the connection itself is still in order. */
		set_why(fe, "%s: refused by the backend (%" PRIu64 ")", vu_request_name(req), m.p.u64);
		ret = -EIO;
	}
	return ret;
}

static int set_u64(struct vu_frontend *fe, uint32_t req, uint64_t val)
{
	return request(fe, req, &val, sizeof(val), NULL, 0);
}

static int get_u64(struct vu_frontend *fe, uint32_t req, uint64_t *val)
{
	struct vu_msg m;
	int ret = send_msg(fe, req, false, NULL, 0, NULL, 0);
	if (!ret)
		ret = recv_reply(fe, req, &m, sizeof(uint64_t));
	if (!ret)
		*val = m.p.u64;
	return ret;
}

static int set_state(struct vu_frontend *fe, uint32_t req, unsigned q, uint32_t num)
{
	struct vu_vring_state s = { q, num };
	return request(fe, req, &s, sizeof(s), NULL, 0);
}

/* SET_VRING_KICK / CALL / ERR: the fd, or the no-fd flag for -1. */
static int set_ring_fd(struct vu_frontend *fe, uint32_t req, unsigned q, int fd)
{
	uint64_t val = q | (fd < 0 ? VU_VRING_NOFD : 0);
	return request(fe, req, &val, sizeof(val), &fd, fd < 0 ? 0 : 1);
}

/* ---- setting up ---- */

static uint32_t config_size(const struct vu_frontend *fe)
{
	return fe->ops.config_size;
}

static int fetch_config(struct vu_frontend *fe)
{
	struct vu_config c = { .offset = 0, .size = config_size(fe), .flags = 0 };
	struct vu_msg m;
	int ret = send_msg(fe, VU_GET_CONFIG, false, &c, VU_CONFIG_HDR_SIZE + c.size, NULL, 0);
	if (!ret)
		ret = recv_reply(fe, VU_GET_CONFIG, &m, VU_CONFIG_HDR_SIZE + c.size);
	if (!ret)
		memcpy(fe->config, m.p.config.data, c.size);
	return ret;
}

static int send_mem_table(struct vu_frontend *fe)
{
	const struct guest_mem *gm = fe->gm;
	struct vu_mem_table t = { .nregions = gm->nr_regions };
	int fds[VU_MAX_MEM_REGIONS];
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->region[i];
		t.region[i] = (struct vu_mem_region){ .gpa = r->gpa, .size = r->size,
						      .uva = (uintptr_t)r->host,
						      .mmap_offset = r->offset };
		fds[i] = gm->memfd;
	}
	uint32_t size = VU_MEM_TABLE_HDR_SIZE + gm->nr_regions * (uint32_t)sizeof(t.region[0]);
	return request(fe, VU_SET_MEM_TABLE, &t, size, fds, gm->nr_regions);
}

static int negotiate_protocol(struct vu_frontend *fe)
{
	uint64_t offered;
	int ret = get_u64(fe, VU_GET_PROTOCOL_FEATURES, &offered);
	if (ret)
		return ret;
	uint64_t missing = VU_FRONTEND_NEEDED_PROTOCOL & ~offered;
	if (missing) {
		set_why(fe, "the backend lacks protocol features %#" PRIx64
			    " (MQ, REPLY_ACK and CONFIG are needed)", missing);
		return -ENOTSUP;
	}
	ret = set_u64(fe, VU_SET_PROTOCOL_FEATURES, VU_FRONTEND_NEEDED_PROTOCOL);
	if (!ret)
		fe->protocol = VU_FRONTEND_NEEDED_PROTOCOL;
	return ret;
}

static int get_queue_num(struct vu_frontend *fe)
{
	uint64_t nq;
	int ret = get_u64(fe, VU_GET_QUEUE_NUM, &nq);
	if (ret)
		return ret;
	if (nq == 0 || nq > VU_FRONTEND_MAX_QUEUES) {
		set_why(fe, "the backend has %" PRIu64 " queues (1 to %d are supported)", nq,
			VU_FRONTEND_MAX_QUEUES);
		return -ENOTSUP;
	}
	fe->nq = (unsigned)nq;
	return 0;
}

/* The backend reports a failed ring through its error eventfd. */
static int give_error_fds(struct vu_frontend *fe)
{
	for (unsigned q = 0; q < fe->nq; q++) {
		fe->err_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		fe->idle_call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fe->err_fd[q] < 0 || fe->idle_call_fd[q] < 0) {
			int err = errno;
			set_why(fe, "eventfd: %s", strerror(err));
			return -err;
		}
		int ret = set_ring_fd(fe, VU_SET_VRING_ERR, q, fe->err_fd[q]);
		if (ret)
			return ret;
	}
	return 0;
}

static int handshake(struct vu_frontend *fe)
{
	int ret = get_u64(fe, VU_GET_FEATURES, &fe->features);
	if (ret)
		return ret;
	uint64_t need = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	if ((fe->features & need) != need) {
		set_why(fe, "the backend's features %#" PRIx64 " lack VERSION_1 or "
			    "PROTOCOL_FEATURES", fe->features);
		return -ENOTSUP;
	}
	if ((ret = request(fe, VU_SET_OWNER, NULL, 0, NULL, 0)) ||
	    (ret = negotiate_protocol(fe)) || (ret = get_queue_num(fe)) ||
	    (ret = fetch_config(fe)) || (ret = give_error_fds(fe)))
		return ret;
	return send_mem_table(fe);
}

static const struct virtio_dev_ops frontend_ops;

static struct vu_frontend *frontend_new(int sock, const char *path, uint16_t device_id,
					const struct guest_mem *gm)
{
	struct vu_frontend *fe = xcalloc(1, sizeof(*fe));
	fe->ops = frontend_ops;
	fe->ops.device_id = device_id;
	fe->ops.config_size = device_id == VU_FRONTEND_BLK ? CONFIG_SIZE_BLK : CONFIG_SIZE_NET;
	snprintf(fe->name, sizeof(fe->name), "vu-%s", device_id == VU_FRONTEND_BLK ? "blk" : "net");
	fe->ops.name = fe->name;
	fe->path = xstrdup(path);
	fe->sock = sock;
	fe->gm = gm;
	fe->alive = true;
	for (unsigned q = 0; q < VU_FRONTEND_MAX_QUEUES; q++) {
		fe->err_fd[q] = fe->idle_call_fd[q] = -1;
		fe->watch[q] = (struct queue_watch){ fe, q };
	}
	return fe;
}

int vu_frontend_open(int sock, const char *path, uint16_t device_id, const struct guest_mem *gm,
		     struct vu_frontend **out, char *err, size_t errlen)
{
	*out = NULL;
	if (device_id != VU_FRONTEND_BLK && device_id != VU_FRONTEND_NET) {
		close(sock);
		snprintf(err, errlen, "vhost-user: device type %u is not supported", device_id);
		return -ENOTSUP;
	}
	struct vu_frontend *fe = frontend_new(sock, path, device_id, gm);
	int ret = -EINVAL;
	if (gm->memfd < 0)
		set_why(fe, "guest memory is not backed by sharable file descriptors; "
			    "use --memory size=...,backend=memfd");
	else
		ret = handshake(fe);
	if (ret) {
		snprintf(err, errlen, "%s: vhost-user backend at %s: %s", fe->name, path, fe->why);
		vu_frontend_destroy(fe);
		return ret;
	}
	fe->ops.num_queues = (uint16_t)fe->nq;
	fe->opened = true;
	log_info("%s: vhost-user backend at %s: %u queue(s), features %#" PRIx64, fe->name, path,
		 fe->nq, fe->features);
	*out = fe;
	return 0;
}

int vu_frontend_connect(const char *path, uint16_t device_id, const struct guest_mem *gm,
			struct vu_frontend **out, char *err, size_t errlen)
{
	const char *kind = device_id == VU_FRONTEND_BLK ? "blk" : "net";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "vu-%s: the socket path %s is too long", kind, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		snprintf(err, errlen, "vu-%s: cannot connect to the vhost-user backend at %s: %s",
			 kind, path, strerror(e));
		if (sock >= 0)
			close(sock);
		return -e;
	}
	return vu_frontend_open(sock, path, device_id, gm, out, err, errlen);
}

void vu_frontend_destroy(struct vu_frontend *fe)
{
	if (!fe)
		return;
	if (fe->sock >= 0)
		close(fe->sock);
	for (unsigned q = 0; q < VU_FRONTEND_MAX_QUEUES; q++) {
		if (fe->err_fd[q] >= 0)
			close(fe->err_fd[q]);
		if (fe->idle_call_fd[q] >= 0)
			close(fe->idle_call_fd[q]);
	}
	free(fe->path);
	free(fe);
}

uint64_t vu_frontend_backend_features(const struct vu_frontend *fe)
{
	return fe->features & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

unsigned vu_frontend_num_queues(const struct vu_frontend *fe)
{
	return fe->nq;
}

bool vu_frontend_alive(const struct vu_frontend *fe)
{
	return fe->alive;
}

/* ---- rings ---- */

static int start_ring(struct vu_frontend *fe, unsigned q, const struct vu_frontend_ring *r,
		      bool packed)
{
	struct vu_vring_addr a = { .index = q, .desc = r->desc, .used = r->used, .avail = r->avail };
	int ret;
	/* The call fd goes first: the kick fd starts the ring in libvhost-user,
	 * and the driver may have kicked already (DRIVER_OK does not wait for
	 * this), so a completion could otherwise find no interrupt to raise. */
	if ((ret = set_state(fe, VU_SET_VRING_NUM, q, r->size)) ||
	    (ret = set_state(fe, VU_SET_VRING_BASE, q, packed ? PACKED_START_BASE : 0)) ||
	    (ret = request(fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0)) ||
	    (ret = set_ring_fd(fe, VU_SET_VRING_CALL, q, r->call_fd)))
		return ret;
	fe->started[q] = true; /* from the kick on, the backend may serve it */
	if ((ret = set_ring_fd(fe, VU_SET_VRING_KICK, q, r->kick_fd)))
		return ret;
	return set_state(fe, VU_SET_VRING_ENABLE, q, 1);
}

int vu_frontend_start(struct vu_frontend *fe, uint64_t features,
		      const struct vu_frontend_ring *rings, unsigned n)
{
	int ret = set_u64(fe, VU_SET_FEATURES, features | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	bool packed = features >> VIRTIO_F_RING_PACKED & 1;
	for (unsigned q = 0; !ret && q < n && q < fe->nq; q++)
		if (rings[q].size)
			ret = start_ring(fe, q, &rings[q], packed);
	return ret;
}

int vu_frontend_stop(struct vu_frontend *fe)
{
	int ret = 0;
	for (unsigned q = 0; q < fe->nq; q++) {
		if (!fe->started[q])
			continue;
		fe->started[q] = false;
		struct vu_vring_state s = { q, 0 };
		struct vu_msg m;
		int r = set_state(fe, VU_SET_VRING_ENABLE, q, 0);
		if (!r)
			r = send_msg(fe, VU_GET_VRING_BASE, false, &s, sizeof(s), NULL, 0);
		if (!r)
			r = recv_reply(fe, VU_GET_VRING_BASE, &m, sizeof(s));
		if (!r)
			log_debug("%s: queue %u stopped at %#x", fe->name, q, m.p.state.num);
		if (!ret)
			ret = r;
	}
	return ret;
}

static bool config_range_ok(const struct vu_frontend *fe, uint32_t off, uint32_t len)
{
	return off <= config_size(fe) && len <= config_size(fe) - off;
}

int vu_frontend_read_config(struct vu_frontend *fe, uint32_t off, void *buf, uint32_t len)
{
	if (!config_range_ok(fe, off, len))
		return -EINVAL;
	int ret = fe->alive ? fetch_config(fe) : -EPIPE;
	memcpy(buf, fe->config + off, len);
	return ret;
}

int vu_frontend_write_config(struct vu_frontend *fe, uint32_t off, const void *buf, uint32_t len)
{
	if (!config_range_ok(fe, off, len))
		return -EINVAL;
	struct vu_config c = { .offset = off, .size = len, .flags = 0 };
	memcpy(c.data, buf, len);
	return request(fe, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + len, NULL, 0);
}

bool vu_frontend_check_socket(struct vu_frontend *fe)
{
	if (!fe->alive)
		return false;
	char byte;
	ssize_t n = recv(fe->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n > 0)
		set_why(fe, "it sent a message nobody asked for");
	else
		set_why(fe, "%s", n == 0 ? "it closed the socket" : strerror(errno));
	gone(fe, -EPIPE);
	return false;
}

/* ---- the device the PCI transport hosts ---- */

static void socket_readable(void *arg)
{
	struct vu_frontend *fe = arg;
	struct virtio_ctx *ctx = fe->ctx;
	if (!vu_frontend_check_socket(fe))
		virtio_unwatch_fd(ctx, fe->sock); /* level-triggered: it would fire on */
}

static void drain(int fd)
{
	uint64_t n;
	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

static void idle_call(void *arg)
{
	struct queue_watch *w = arg;
	drain(w->fe->idle_call_fd[w->q]);
}

static void error_signalled(void *arg)
{
	struct queue_watch *w = arg;
	struct vu_frontend *fe = w->fe;
	drain(fe->err_fd[w->q]);
	char why[64];
	snprintf(why, sizeof(why), "the vhost-user backend failed queue %u", w->q);
	virtio_set_needs_reset(fe->ctx, why);
}

static uint64_t fe_features(void *dev)
{
	return vu_frontend_backend_features(dev);
}

static void fe_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	vu_frontend_read_config(dev, off, buf, len);
}

static void fe_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct vu_frontend *fe = dev;
	if (vu_frontend_write_config(fe, off, buf, len))
		log_warn("%s: a configuration write was lost: %s", fe->name, fe->why);
}

static void watch_backend(struct vu_frontend *fe, struct virtio_ctx *ctx)
{
	fe->ctx = ctx;
	if (virtio_watch_fd(ctx, fe->sock, socket_readable, fe))
		log_warn("%s: cannot watch the backend's socket; its end goes unnoticed", fe->name);
	for (unsigned q = 0; q < fe->nq; q++)
		if (virtio_watch_fd(ctx, fe->err_fd[q], error_signalled, &fe->watch[q]) ||
		    virtio_watch_fd(ctx, fe->idle_call_fd[q], idle_call, &fe->watch[q]))
			log_warn("%s: queue %u: cannot watch the backend's eventfds", fe->name, q);
}

static void unwatch_backend(struct vu_frontend *fe)
{
	if (!fe->ctx)
		return;
	virtio_unwatch_fd(fe->ctx, fe->sock);
	for (unsigned q = 0; q < fe->nq; q++) {
		virtio_unwatch_fd(fe->ctx, fe->err_fd[q]);
		virtio_unwatch_fd(fe->ctx, fe->idle_call_fd[q]);
	}
	fe->ctx = NULL;
}

static int fe_activate(void *dev, struct virtio_ctx *ctx)
{
	struct vu_frontend *fe = dev;
	struct vu_frontend_ring rings[VU_FRONTEND_MAX_QUEUES] = { { 0 } };
	for (unsigned q = 0; q < fe->nq; q++) {
		struct virtq *vq = virtio_queue(ctx, q);
		if (!vq || !vq->ready)
			continue;
		rings[q] = (struct vu_frontend_ring){
			.size = vq->size,
			.desc = (uintptr_t)vq->desc,
			.avail = (uintptr_t)vq->driver,
			.used = (uintptr_t)vq->device,
			.kick_fd = virtio_pci_queue_kick_fd(ctx, q),
			.call_fd = virtio_pci_queue_call_fd(ctx, q),
		};
		if (rings[q].call_fd < 0)
			rings[q].call_fd = fe->idle_call_fd[q];
	}
	watch_backend(fe, ctx);
	int ret = vu_frontend_start(fe, virtio_features(ctx), rings, fe->nq);
	if (ret && fe->alive) {
		log_error("%s: the vhost-user backend at %s did not start the rings: %s", fe->name,
			  fe->path, fe->why);
		virtio_set_needs_reset(ctx, "vhost-user backend refused the rings");
	}
	return ret;
}

static void fe_queue_notify(void *dev, unsigned q)
{
	/* Kicks go to the backend through the ioeventfds, never here. */
	(void)dev, (void)q;
}

static void fe_reset(void *dev)
{
	struct vu_frontend *fe = dev;
	if (vu_frontend_stop(fe) && fe->alive)
		log_warn("%s: stopping the rings failed: %s", fe->name, fe->why);
	unwatch_backend(fe);
}

static void fe_destroy(void *dev)
{
	vu_frontend_destroy(dev);
}

static const struct virtio_dev_ops frontend_ops = {
	.queue_max_size = VU_FRONTEND_QUEUE_SIZE,
	.features = fe_features,
	.config_read = fe_config_read,
	.config_write = fe_config_write,
	.activate = fe_activate,
	.queue_notify = fe_queue_notify,
	.reset = fe_reset,
	.destroy = fe_destroy,
};

const struct virtio_dev_ops *vu_frontend_ops(struct vu_frontend *fe)
{
	return &fe->ops;
}
