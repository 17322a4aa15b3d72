#include "vhost/vu_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"
#include "vhost/vu_proto.h"
#include "virtio/virtio_spec.h"
#include "virtio/worker.h"

static const uint64_t OFFERED_PROTOCOL =
	1ULL << VU_PROTO_MQ | 1ULL << VU_PROTO_REPLY_ACK | 1ULL << VU_PROTO_CONFIG |
	1ULL << VU_PROTO_RESET_DEVICE | 1ULL << VU_PROTO_CONFIGURE_MEM_SLOTS |
	1ULL << VU_PROTO_STATUS;

/* Handler results: FAILED answers a NEED_REPLY with a nonzero ack and
 * keeps the connection; VIOLATION ends it. */
enum { DONE = 0, FAILED = -EINVAL, VIOLATION = -EPROTO };

/* Everything below belongs to the worker thread (messages are handled
 * there too, through worker_call), except the call / err fds and status,
 * which notifications from any thread read under `lock`. */
struct vu_ring {
	struct virtio_ctx *c;
	unsigned index;
	struct virtq vq;
	uint16_t num;            /* SET_VRING_NUM */
	uint32_t base;           /* SET_VRING_BASE, or saved when the ring went down */
	struct vu_vring_addr addr;
	bool has_addr;
	int kick_fd, call_fd, err_fd;
	bool started;            /* has a kick fd; GET_VRING_BASE stops it */
	bool enabled;            /* SET_VRING_ENABLE */
	bool live;               /* configured and handed to the device */
};

struct vu_map {
	uint64_t uva;
	void *addr;
	size_t len;
	unsigned adds; /* ADD_MEM_REGs of this very region not yet removed */
};

struct virtio_ctx {
	struct virtio_transport t; /* first: what virtio_dev.c dispatches through */
	const struct virtio_dev_ops *ops;
	void *dev;
	const char *name;
	struct worker *worker;
	unsigned nq;
	struct vu_ring *ring;
	struct guest_mem gm;     /* regions only; each has its own mapping in map[] */
	struct vu_map map[VU_MAX_MEM_REGIONS];
	uint64_t offered, acked; /* virtio features; acked without bit 30 */
	bool protocol_acked;     /* VHOST_USER_F_PROTOCOL_FEATURES negotiated */
	uint64_t protocol;       /* negotiated protocol features */
	bool active;             /* ops->activate succeeded */
	bool config_change_logged;

	pthread_mutex_t lock;
	uint8_t status;
	bool needs_reset_logged;
};

struct vu_backend {
	struct virtio_ctx ctx;
};

/* ---- what devices get (virtio_dev.h) ---- */

static struct virtq *vu_queue(struct virtio_ctx *c, unsigned q)
{
	return q < c->nq ? &c->ring[q].vq : NULL;
}

static uint64_t vu_features(const struct virtio_ctx *c)
{
	return c->acked;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) != sizeof(one))
		log_debug("vhost-user: cannot signal an eventfd: %s", strerror(errno));
}

static void vu_notify_queue(struct virtio_ctx *c, unsigned q)
{
	if (q >= c->nq || !virtq_needs_notify(&c->ring[q].vq))
		return;
	pthread_mutex_lock(&c->lock);
	signal_fd(c->ring[q].call_fd);
	pthread_mutex_unlock(&c->lock);
}

static void vu_notify_config(struct virtio_ctx *c)
{
	/* It would take the backend request channel (BACKEND_REQ), not offered. */
	if (!c->config_change_logged)
		log_info("%s: configuration change not sent to the frontend", c->name);
	c->config_change_logged = true;
}

static void vu_set_needs_reset(struct virtio_ctx *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	bool first = !c->needs_reset_logged;
	c->needs_reset_logged = true;
	c->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* The frontend learns of it through the rings' error eventfds. */
	for (unsigned i = 0; i < c->nq; i++)
		signal_fd(c->ring[i].err_fd);
	pthread_mutex_unlock(&c->lock);
	if (first)
		log_warn("%s: device needs reset: %s", c->name, why);
}

static int vu_watch_fd(struct virtio_ctx *c, int fd, void (*cb)(void *arg), void *arg)
{
	return worker_watch(c->worker, fd, cb, arg);
}

static void vu_unwatch_fd(struct virtio_ctx *c, int fd)
{
	worker_unwatch(c->worker, fd);
}

static const struct virtio_transport_ops vu_transport = {
	.queue = vu_queue,
	.features = vu_features,
	.notify_queue = vu_notify_queue,
	.notify_config = vu_notify_config,
	.set_needs_reset = vu_set_needs_reset,
	.watch_fd = vu_watch_fd,
	.unwatch_fd = vu_unwatch_fd,
};

/* ---- guest memory ---- */

/* Frontend virtual address -> guest physical address, or false. */
static bool uva_to_gpa(const struct virtio_ctx *c, uint64_t uva, uint64_t *gpa)
{
	for (unsigned i = 0; i < c->gm.nr_regions; i++) {
		const struct gm_region *r = &c->gm.region[i];
		if (uva >= c->map[i].uva && uva - c->map[i].uva < r->size) {
			*gpa = r->gpa + (uva - c->map[i].uva);
			return true;
		}
	}
	return false;
}

static void unmap_region(struct virtio_ctx *c, unsigned i)
{
	munmap(c->map[i].addr, c->map[i].len);
	for (unsigned j = i; j + 1 < c->gm.nr_regions; j++) {
		c->gm.region[j] = c->gm.region[j + 1];
		c->map[j] = c->map[j + 1];
	}
	c->gm.nr_regions--;
}

static void unmap_all(struct virtio_ctx *c)
{
	while (c->gm.nr_regions)
		unmap_region(c, c->gm.nr_regions - 1);
}

/* Maps r from fd (not consumed). The fd must be a regular file (a memfd)
 * that covers the region: touching a mapping past the end of its file
 * would kill the process with SIGBUS. */
static int map_region(struct virtio_ctx *c, const struct vu_mem_region *r, int fd)
{
	if (c->gm.nr_regions >= VU_MAX_MEM_REGIONS) {
		log_warn("%s: more than %d memory regions", c->name, VU_MAX_MEM_REGIONS);
		return FAILED;
	}
	for (unsigned i = 0; i < c->gm.nr_regions; i++) {
		const struct vu_mem_region have = { c->gm.region[i].gpa, c->gm.region[i].size,
						    c->map[i].uva, 0 };
		if (vu_regions_overlap(&have, r)) {
			log_warn("%s: memory region at %#" PRIx64 " overlaps another", c->name, r->gpa);
			return VIOLATION;
		}
	}
	struct stat st;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = r->mmap_offset & ~(page - 1), lead = r->mmap_offset - start;
	uint64_t len = r->size + lead; /* r->mmap_offset + r->size does not overflow */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < r->mmap_offset + r->size || len > SIZE_MAX) {
		log_warn("%s: memory region at %#" PRIx64 ": the fd is not a file that holds "
			 "[%#" PRIx64 ", +%#" PRIx64 ")", c->name, r->gpa, r->mmap_offset, r->size);
		return FAILED;
	}
	void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		       (off_t)start);
	if (p == MAP_FAILED) {
		log_warn("%s: cannot map memory region at %#" PRIx64 ": %s", c->name, r->gpa,
			 strerror(errno));
		return FAILED;
	}
	madvise(p, (size_t)len, MADV_DONTDUMP);
	unsigned n = c->gm.nr_regions++;
	c->map[n] = (struct vu_map){ .uva = r->uva, .addr = p, .len = (size_t)len, .adds = 1 };
	c->gm.region[n] = (struct gm_region){
		.gpa = r->gpa, .size = r->size, .host = (uint8_t *)p + lead, .offset = r->mmap_offset,
	};
	log_debug("%s: memory gpa %#" PRIx64 "+%#" PRIx64 " uva %#" PRIx64, c->name, r->gpa,
		  r->size, r->uva);
	return DONE;
}

/* ---- rings ---- */

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The index state GET_VRING_BASE reports: split, the next available index;
 * packed, last_avail | avail_wrap << 15 | used_idx << 16 | used_wrap << 31
 * (what QEMU's frontend keeps). */
static uint32_t ring_base_of(const struct virtq *vq)
{
	if (vq->format == VIRTQ_SPLIT)
		return vq->last_avail;
	return (uint32_t)vq->last_avail | (uint32_t)vq->avail_wrap << 15 |
	       (uint32_t)vq->used_idx << 16 | (uint32_t)vq->used_wrap << 31;
}

static void ring_restore_base(struct vu_ring *r)
{
	struct virtq *vq = &r->vq;
	if (vq->format == VIRTQ_SPLIT) {
		vq->last_avail = (uint16_t)r->base;
		/* The used index is the guest-visible one (as vhost does). */
		vq->used_idx = le16_at(vq->device + VIRTQ_USED_IDX);
		vq->signalled_used = vq->used_idx;
		return;
	}
	uint16_t avail = (uint16_t)r->base, used = (uint16_t)(r->base >> 16);
	if ((avail & 0x7fff) >= vq->size || (used & 0x7fff) >= vq->size)
		avail = used = 0x8000; /* out of the ring: start afresh */
	if (r->base >> 16 == 0)
		used = avail; /* a frontend that keeps only the avail half */
	vq->last_avail = avail & 0x7fff;
	vq->avail_wrap = avail >> 15;
	vq->used_idx = used & 0x7fff;
	vq->used_wrap = used >> 15;
	vq->used_since_signal = 0;
}

static int ring_configure(struct virtio_ctx *c, struct vu_ring *r)
{
	uint64_t desc, avail, used;
	if (!r->has_addr || !r->num || !uva_to_gpa(c, r->addr.desc, &desc) ||
	    !uva_to_gpa(c, r->addr.avail, &avail) || !uva_to_gpa(c, r->addr.used, &used)) {
		virtq_reset(&r->vq);
		return -EINVAL;
	}
	if (virtq_configure(&r->vq, r->num, desc, avail, used, c->acked))
		return -EINVAL;
	ring_restore_base(r);
	return 0;
}

static bool ring_wanted(const struct virtio_ctx *c, const struct vu_ring *r)
{
	/* Without protocol features a ring is enabled from the start. */
	return r->started && (r->enabled || !c->protocol_acked);
}

static void device_stop(struct virtio_ctx *c)
{
	if (!c->active)
		return;
	c->active = false;
	if (c->ops->reset)
		c->ops->reset(c->dev);
}

static void ring_down(struct virtio_ctx *c, struct vu_ring *r)
{
	(void)c;
	if (!r->live)
		return;
	r->base = ring_base_of(&r->vq);
	virtq_reset(&r->vq);
	r->live = false;
}

/* Every live ring down, its indices saved: before guest memory changes. */
static void all_rings_down(struct virtio_ctx *c)
{
	device_stop(c);
	for (unsigned i = 0; i < c->nq; i++)
		ring_down(c, &c->ring[i]);
}

static void ring_error(struct virtio_ctx *c, struct vu_ring *r, const char *what)
{
	log_warn("%s: queue %u: %s", c->name, r->index, what);
	pthread_mutex_lock(&c->lock);
	signal_fd(r->err_fd);
	pthread_mutex_unlock(&c->lock);
}

/* Brings the device in line with the rings: the device is (re)activated
 * over exactly the rings that are started and enabled. The device's
 * activate sees the rings that are ready then, so a change to that set
 * means a device reset and a new activation. Returns FAILED if a wanted
 * ring could not be configured. */
static int reconcile(struct virtio_ctx *c)
{
	bool change = false, any = false;
	int ret = DONE;
	for (unsigned i = 0; i < c->nq; i++)
		change |= c->ring[i].live != ring_wanted(c, &c->ring[i]);
	if (!change)
		return DONE;
	device_stop(c);
	for (unsigned i = 0; i < c->nq; i++) {
		struct vu_ring *r = &c->ring[i];
		bool want = ring_wanted(c, r);
		if (r->live && !want)
			ring_down(c, r);
		if (!r->live && want) {
			if (ring_configure(c, r)) {
				ring_error(c, r, "size or ring address invalid (or not in guest memory)");
				ret = FAILED;
				continue;
			}
			r->live = true;
		}
		any |= r->live;
	}
	/* Every device needs its first queue; a frontend stopping the rings one
	 * by one (QEMU and ours stop ring 0 first) must not restart the device
	 * on what is left. */
	if (!any || !c->ring[0].live)
		return ret;
	int err = c->ops->activate ? c->ops->activate(c->dev, c) : 0;
	if (err) {
		char why[80];
		snprintf(why, sizeof(why), "activation failed: %s", strerror(-err));
		vu_set_needs_reset(c, why);
		return FAILED;
	}
	c->active = true;
	log_debug("%s: active, features %#" PRIx64, c->name, c->acked);
	for (unsigned i = 0; i < c->nq; i++)
		if (c->ring[i].live && virtq_has_available(&c->ring[i].vq))
			c->ops->queue_notify(c->dev, i);
	return ret;
}

/* One read resets an eventfd. The fd is the frontend's: it may be blocking
 * (one read after epoll said readable does not block) or not an eventfd at
 * all; one that reports end of file or an error would keep the worker
 * spinning, so it is dropped. */
static bool consume_kick(int fd)
{
	uint64_t n;
	ssize_t got = read(fd, &n, sizeof(n));
	return got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR));
}

static void kick_job(void *arg)
{
	struct vu_ring *r = arg;
	struct virtio_ctx *c = r->c;
	if (!consume_kick(r->kick_fd)) {
		log_warn("%s: queue %u: the kick fd is not an eventfd that can be read; ignored",
			 c->name, r->index);
		worker_unwatch(c->worker, r->kick_fd);
		return;
	}
	if (c->active && r->live)
		c->ops->queue_notify(c->dev, r->index);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drop_kick(struct virtio_ctx *c, struct vu_ring *r)
{
	if (r->kick_fd >= 0)
		worker_unwatch(c->worker, r->kick_fd);
	close_fd(&r->kick_fd);
	r->started = false;
}

/* Replaces *slot (a call or err fd) under the lock notifications take. */
static void swap_fd(struct virtio_ctx *c, int *slot, int fd)
{
	pthread_mutex_lock(&c->lock);
	int old = *slot;
	*slot = fd;
	pthread_mutex_unlock(&c->lock);
	if (old >= 0)
		close(old);
}

static void ring_forget(struct virtio_ctx *c, struct vu_ring *r)
{
	drop_kick(c, r);
	swap_fd(c, &r->call_fd, -1);
	swap_fd(c, &r->err_fd, -1);
	r->enabled = false;
	r->has_addr = false;
	r->num = 0;
	r->base = 0;
}

/* ---- requests ---- */

struct reply {
	uint32_t size;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_config config;
	} p;
};

static int reply_u64(struct reply *rep, uint64_t v)
{
	rep->size = sizeof(v);
	rep->p.u64 = v;
	return DONE;
}

static int take_fd(struct vu_msg *m, unsigned i)
{
	int fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

static void reset_device(struct virtio_ctx *c)
{
	all_rings_down(c);
	for (unsigned i = 0; i < c->nq; i++)
		ring_forget(c, &c->ring[i]);
	c->acked = 0;
	c->protocol_acked = false;
	pthread_mutex_lock(&c->lock);
	c->status = 0;
	c->needs_reset_logged = false;
	pthread_mutex_unlock(&c->lock);
}

static int set_features(struct virtio_ctx *c, uint64_t f)
{
	if (f & ~c->offered) {
		log_warn("%s: SET_FEATURES %#" PRIx64 " has bits not offered", c->name, f);
		return VIOLATION;
	}
	uint64_t virtio = f & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	bool proto = f >> VHOST_USER_F_PROTOCOL_FEATURES & 1;
	if (virtio == c->acked && proto == c->protocol_acked)
		return DONE;
	/* Ring formats follow the features: rebuild any live ring. */
	all_rings_down(c);
	c->acked = virtio;
	c->protocol_acked = proto;
	return reconcile(c);
}

static int set_mem_table(struct virtio_ctx *c, struct vu_msg *m)
{
	all_rings_down(c);
	unmap_all(c);
	int ret = DONE;
	for (uint32_t i = 0; i < m->p.mem.nregions && ret == DONE; i++)
		ret = map_region(c, &m->p.mem.region[i], m->fds[i]);
	if (ret != DONE) {
		unmap_all(c);
		return ret;
	}
	return reconcile(c);
}

/* The region mapped with exactly r's place and size, or -1. */
static int same_region(const struct virtio_ctx *c, const struct vu_mem_region *r)
{
	for (unsigned i = 0; i < c->gm.nr_regions; i++)
		if (c->gm.region[i].gpa == r->gpa && c->gm.region[i].size == r->size &&
		    c->map[i].uva == r->uva && c->gm.region[i].offset == r->mmap_offset)
			return (int)i;
	return -1;
}

/* QEMU 7.2 (before ADD/REM_MEM_REG became one-time requests) sends them
 * from every vhost device, and a multi-queue net has one per queue pair:
 * the same region arrives again on the same connection. It is counted, not
 * mapped twice, and goes with its last REM_MEM_REG. */
static int add_mem_reg(struct virtio_ctx *c, struct vu_msg *m)
{
	int same = same_region(c, &m->p.reg.region);
	if (same >= 0) {
		c->map[same].adds++;
		return DONE;
	}
	all_rings_down(c);
	int ret = map_region(c, &m->p.reg.region, m->fds[0]);
	int again = reconcile(c);
	return ret != DONE ? ret : again;
}

static int rem_mem_reg(struct virtio_ctx *c, struct vu_msg *m)
{
	const struct vu_mem_region *r = &m->p.reg.region;
	for (unsigned i = 0; i < c->gm.nr_regions; i++) {
		if (c->gm.region[i].gpa != r->gpa || c->gm.region[i].size != r->size)
			continue;
		if (c->map[i].adds > 1) {
			c->map[i].adds--;
			return DONE;
		}
		all_rings_down(c);
		unmap_region(c, i);
		return reconcile(c);
	}
	log_warn("%s: REM_MEM_REG: no region at %#" PRIx64 "+%#" PRIx64, c->name, r->gpa, r->size);
	return FAILED;
}

static int set_vring_kick(struct virtio_ctx *c, struct vu_ring *r, struct vu_msg *m)
{
	if (m->nfds == 0) {
		log_warn("%s: queue %u: a ring without a kick eventfd (polling) is not supported",
			 c->name, r->index);
		return VIOLATION;
	}
	drop_kick(c, r);
	r->kick_fd = take_fd(m, 0);
	int err = worker_watch(c->worker, r->kick_fd, kick_job, r);
	if (err) {
		log_warn("%s: queue %u: cannot watch the kick eventfd: %s", c->name, r->index,
			 strerror(-err));
		close_fd(&r->kick_fd);
		return FAILED;
	}
	r->started = true;
	return reconcile(c);
}

static int get_vring_base(struct virtio_ctx *c, struct vu_ring *r, struct reply *rep)
{
	drop_kick(c, r);
	swap_fd(c, &r->call_fd, -1);
	/* The device is reset on the way: requests still in its hands are
	 * abandoned (the used ring does not get them). */
	int ret = reconcile(c);
	rep->size = sizeof(rep->p.state);
	rep->p.state = (struct vu_vring_state){ r->index, r->base };
	log_debug("%s: queue %u stopped at %#x", c->name, r->index, r->base);
	return ret;
}

static int config_access(struct virtio_ctx *c, struct vu_msg *m, struct reply *rep, bool write)
{
	struct vu_config *cfg = &m->p.config;
	uint32_t off = cfg->offset, len = cfg->size, have = c->ops->config_size;
	uint32_t inside = off < have ? MIN(len, have - off) : 0;
	if (write) {
		if (inside && c->ops->config_write)
			c->ops->config_write(c->dev, off, cfg->data, inside);
		return DONE;
	}
	rep->size = VU_CONFIG_HDR_SIZE + len;
	rep->p.config = (struct vu_config){ .offset = off, .size = len, .flags = cfg->flags };
	if (inside && c->ops->config_read)
		c->ops->config_read(c->dev, off, rep->p.config.data, inside);
	return DONE;
}

static int ring_request(struct virtio_ctx *c, struct vu_msg *m, struct reply *rep)
{
	unsigned idx = m->hdr.request == VU_SET_VRING_ADDR ? m->p.addr.index
		       : (m->hdr.request == VU_SET_VRING_KICK || m->hdr.request == VU_SET_VRING_CALL ||
			  m->hdr.request == VU_SET_VRING_ERR)
			       ? (unsigned)(m->p.u64 & VU_VRING_IDX_MASK)
			       : m->p.state.index;
	struct vu_ring *r = &c->ring[idx]; /* idx < nq: vu_msg_check */
	uint32_t num = m->p.state.num;
	switch (m->hdr.request) {
	case VU_SET_VRING_NUM:
		if (num == 0 || num > c->ops->queue_max_size) {
			log_warn("%s: queue %u: size %u (at most %u)", c->name, idx, num,
				 c->ops->queue_max_size);
			return FAILED;
		}
		r->num = (uint16_t)num;
		return DONE;
	case VU_SET_VRING_ADDR:
		if (m->p.addr.flags & VU_VRING_F_LOG) {
			log_warn("%s: queue %u: dirty logging is not supported", c->name, idx);
			return VIOLATION;
		}
		r->addr = m->p.addr;
		r->has_addr = true;
		return DONE;
	case VU_SET_VRING_BASE:
		r->base = num;
		return DONE;
	case VU_GET_VRING_BASE:
		return get_vring_base(c, r, rep);
	case VU_SET_VRING_KICK:
		return set_vring_kick(c, r, m);
	case VU_SET_VRING_CALL:
		swap_fd(c, &r->call_fd, m->nfds ? take_fd(m, 0) : -1);
		return DONE;
	case VU_SET_VRING_ERR:
		swap_fd(c, &r->err_fd, m->nfds ? take_fd(m, 0) : -1);
		return DONE;
	case VU_SET_VRING_ENABLE:
		if (num > 1)
			return VIOLATION;
		r->enabled = num;
		return reconcile(c);
	default:
		return VIOLATION;
	}
}

static int handle(struct virtio_ctx *c, struct vu_msg *m, struct reply *rep)
{
	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		return reply_u64(rep, c->offered);
	case VU_SET_FEATURES:
		return set_features(c, m->p.u64);
	case VU_GET_PROTOCOL_FEATURES:
		return reply_u64(rep, OFFERED_PROTOCOL);
	case VU_SET_PROTOCOL_FEATURES:
		if (m->p.u64 & ~OFFERED_PROTOCOL) {
			log_warn("%s: protocol features %#" PRIx64 " were not offered", c->name,
				 m->p.u64 & ~OFFERED_PROTOCOL);
			return VIOLATION;
		}
		c->protocol = m->p.u64;
		return DONE;
	case VU_SET_OWNER:
		return DONE;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		reset_device(c);
		return DONE;
	case VU_GET_QUEUE_NUM:
		return reply_u64(rep, c->nq);
	case VU_GET_MAX_MEM_SLOTS:
		return reply_u64(rep, VU_MAX_MEM_REGIONS);
	case VU_SET_MEM_TABLE:
		return set_mem_table(c, m);
	case VU_ADD_MEM_REG:
		return add_mem_reg(c, m);
	case VU_REM_MEM_REG:
		return rem_mem_reg(c, m);
	case VU_GET_CONFIG:
		return config_access(c, m, rep, false);
	case VU_SET_CONFIG:
		return config_access(c, m, rep, true);
	case VU_SET_STATUS:
		pthread_mutex_lock(&c->lock);
		/* NEEDS_RESET is the device's to set; a reset (0) clears it. */
		c->status = (uint8_t)m->p.u64 |
			    (m->p.u64 ? c->status & VIRTIO_STATUS_NEEDS_RESET : 0);
		pthread_mutex_unlock(&c->lock);
		return DONE;
	case VU_GET_STATUS:
		pthread_mutex_lock(&c->lock);
		reply_u64(rep, c->status);
		pthread_mutex_unlock(&c->lock);
		return DONE;
	default:
		return ring_request(c, m, rep);
	}
}

struct handle_job {
	struct virtio_ctx *c;
	struct vu_msg *m;
	struct reply *rep;
	int ret;
};

static void handle_job(void *arg)
{
	struct handle_job *j = arg;
	j->ret = handle(j->c, j->m, j->rep);
}

/* Messages that need the protocol feature they belong to. */
static bool allowed(const struct virtio_ctx *c, uint32_t req)
{
	switch (req) {
	case VU_GET_PROTOCOL_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		return true; /* offered in GET_FEATURES: bit 30 */
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		return c->protocol >> VU_PROTO_CONFIG & 1;
	case VU_GET_QUEUE_NUM:
		return c->protocol >> VU_PROTO_MQ & 1;
	case VU_ADD_MEM_REG:
	case VU_REM_MEM_REG:
	case VU_GET_MAX_MEM_SLOTS:
		return c->protocol >> VU_PROTO_CONFIGURE_MEM_SLOTS & 1;
	case VU_SET_STATUS:
	case VU_GET_STATUS:
		return c->protocol >> VU_PROTO_STATUS & 1;
	case VU_RESET_DEVICE:
		return c->protocol >> VU_PROTO_RESET_DEVICE & 1;
	default:
		return true;
	}
}

static int send_reply(int conn, const struct vu_hdr *req, const void *payload, uint32_t size)
{
	struct vu_hdr h = { req->request, VU_VERSION | VU_FLAG_REPLY, size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	do {
		n = sendmsg(conn, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + size ? 0 : -EIO;
}

/* One request: checked, handled on the worker, answered. 0 to go on. */
static int serve_one(struct virtio_ctx *c, int conn, struct vu_msg *m)
{
	char why[160];
	if (vu_msg_check(m, c->nq, why, sizeof(why))) {
		log_warn("%s: closing the connection: %s", c->name, why);
		return -EPROTO;
	}
	if (!allowed(c, m->hdr.request)) {
		log_warn("%s: closing the connection: %s before its protocol feature was "
			 "negotiated", c->name, vu_request_name(m->hdr.request));
		return -EPROTO;
	}
	if (m->hdr.request == VU_SET_LOG_BASE || m->hdr.request == VU_SET_LOG_FD) {
		log_warn("%s: closing the connection: dirty logging is not supported", c->name);
		return -EPROTO;
	}
	struct reply rep = { 0 };
	struct handle_job j = { c, m, &rep, 0 };
	log_debug("%s: %s", c->name, vu_request_name(m->hdr.request));
	worker_call(c->worker, handle_job, &j);
	if (j.ret == VIOLATION) {
		log_warn("%s: closing the connection after %s", c->name,
			 vu_request_name(m->hdr.request));
		return -EPROTO;
	}
	int err = 0;
	if (rep.size) {
		err = send_reply(conn, &m->hdr, &rep.p, rep.size);
	} else if ((m->hdr.flags & VU_FLAG_NEED_REPLY) && (c->protocol >> VU_PROTO_REPLY_ACK & 1)) {
		uint64_t ack = j.ret ? 1 : 0;
		err = send_reply(conn, &m->hdr, &ack, sizeof(ack));
	}
	if (err)
		log_warn("%s: cannot answer %s: %s", c->name, vu_request_name(m->hdr.request),
			 strerror(-err));
	return err;
}

int vu_backend_serve(struct vu_backend *vu, int conn)
{
	struct virtio_ctx *c = &vu->ctx;
	static struct vu_msg zero;
	struct vu_msg *m = xcalloc(1, sizeof(*m));
	int ret;
	for (;;) {
		char why[160];
		*m = zero;
		ret = vu_msg_recv(conn, m, why, sizeof(why));
		if (ret == 0) {
			log_info("%s: the frontend closed the connection", c->name);
			break;
		}
		if (ret < 0) {
			log_warn("%s: closing the connection: %s", c->name, why);
			break;
		}
		ret = serve_one(c, conn, m);
		vu_msg_close_fds(m);
		if (ret)
			break;
	}
	free(m);
	return ret;
}

/* ---- lifetime ---- */

static bool ops_valid(const struct virtio_dev_ops *ops, unsigned nq)
{
	return ops->num_queues && nq <= ops->num_queues && nq <= VU_VRING_IDX_MASK + 1 &&
	       ops->queue_max_size && ops->queue_max_size <= VIRTQ_MAX_SIZE && ops->queue_notify &&
	       ops->config_size <= VU_MAX_CONFIG;
}

static uint64_t offered_features(struct virtio_ctx *c, const struct vu_backend_opts *opts)
{
	uint64_t f = c->ops->features ? c->ops->features(c->dev) : 0;
	f |= 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
	     1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	if (!opts || !opts->no_packed)
		f |= 1ULL << VIRTIO_F_RING_PACKED;
	return f;
}

struct vu_backend *vu_backend_create(const struct virtio_dev_ops *ops, void *dev,
				     const struct vu_backend_opts *opts)
{
	unsigned nq = opts && opts->nr_queues ? opts->nr_queues : ops->num_queues;
	const char *name = ops->name ? ops->name : "virtio";
	if (!ops_valid(ops, nq)) {
		log_error("%s: invalid device description for vhost-user", name);
		return NULL;
	}
	struct vu_backend *vu = xcalloc(1, sizeof(*vu));
	struct virtio_ctx *c = &vu->ctx;
	c->t.ops = &vu_transport;
	c->ops = ops;
	c->dev = dev;
	c->name = name;
	c->nq = nq;
	c->gm.memfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->ring = xcalloc(nq, sizeof(c->ring[0]));
	for (unsigned i = 0; i < nq; i++) {
		struct vu_ring *r = &c->ring[i];
		r->c = c;
		r->index = i;
		r->kick_fd = r->call_fd = r->err_fd = -1;
		virtq_init(&r->vq, &c->gm);
	}
	c->offered = offered_features(c, opts);
	c->worker = worker_create(name);
	if (!c->worker || worker_start(c->worker)) {
		worker_destroy(c->worker);
		pthread_mutex_destroy(&c->lock);
		free(c->ring);
		free(vu);
		return NULL;
	}
	return vu;
}

uint64_t vu_backend_features(const struct vu_backend *vu)
{
	return vu->ctx.offered;
}

static void teardown_job(void *arg)
{
	struct virtio_ctx *c = arg;
	reset_device(c);
}

void vu_backend_destroy(struct vu_backend *vu)
{
	if (!vu)
		return;
	struct virtio_ctx *c = &vu->ctx;
	worker_call(c->worker, teardown_job, c);
	worker_stop(c->worker);
	if (c->ops->destroy)
		c->ops->destroy(c->dev);
	worker_destroy(c->worker);
	unmap_all(c);
	pthread_mutex_destroy(&c->lock);
	free(c->ring);
	free(vu);
}
