#include "virtio/virtio_pci.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"
#include "virtio/virtio_spec.h"
#include "virtio/worker.h"

#define CAP_LEN          16 /* struct virtio_pci_cap */
#define CAP_BAR          4
#define CAP_OFFSET       8
#define CAP_LENGTH       12
#define CAP_EXTRA        16 /* notify_off_multiplier / pci_cfg_data */
#define DOORBELL_LEN     2  /* the driver writes the 16-bit queue index */

/* Register state lives under ctx->lock and is touched by vCPU threads; the
 * virtq and `active` belong to the worker; doorbell placement is serialized
 * by cfg.lock (it follows config-space writes). The lock order is cfg.lock,
 * then ctx->lock, then the MSI-X lock; the worker never takes cfg.lock and
 * nobody waits for the worker while holding ctx->lock. */
struct vp_queue {
	struct virtio_ctx *c;
	unsigned index;
	struct virtq vq;
	int kick_fd;
	/* registers */
	uint16_t size, vector;
	bool enabled, reset_done;
	uint64_t desc, driver, device;
	/* doorbell */
	bool bell_on;
	uint64_t bell_addr;
};

struct virtio_ctx {
	struct virtio_transport t; /* first: what virtio_dev.c dispatches through */
	const struct virtio_dev_ops *ops;
	void *dev;
	const char *name;
	struct pci_config cfg;
	struct msix *msix;
	struct worker *worker;
	struct doorbell_ops doorbells;
	int (*vector_eventfd)(void *ctx, unsigned vector);
	void *vector_ctx;
	bool remote;             /* opts->remote_rings: a backend serves the rings */
	uint64_t bar_size;
	uint32_t table_off, pba_off;
	unsigned nr_vectors, pcicfg_cap, nq;
	struct vp_queue *q;

	pthread_mutex_t lock;
	uint64_t dev_features, drv_features, negotiated;
	uint32_t dfselect, gfselect;
	uint8_t status, isr, generation;
	uint16_t config_vector, queue_select;
	bool resetting;          /* 0 written; the worker has not finished */
	bool needs_reset_logged;
	bool no_msix_logged;

	bool active;             /* worker: activate() succeeded */
};

struct virtio_pci {
	struct virtio_ctx ctx;
};

/* What a common-config write asks of the worker, done once ctx->lock is
 * released. */
enum vp_action { ACT_NONE, ACT_RESET, ACT_ACTIVATE, ACT_CONFIGURE, ACT_QUEUE_RESET };

static const uint8_t pci_class[][3] = {
	/* device type, class, subclass (as Alioth) */
	{ 1, 0x02, 0x00 },  /* net */
	{ 2, 0x01, 0x00 },  /* block */
	{ 19, 0x02, 0x80 }, /* vsock */
	{ 26, 0x01, 0x80 }, /* fs */
};

static void class_of(uint16_t type, uint8_t *cls, uint8_t *sub)
{
	*cls = 0xFF;
	*sub = 0x00;
	for (unsigned i = 0; i < ARRAY_SIZE(pci_class); i++)
		if (pci_class[i][0] == type) {
			*cls = pci_class[i][1];
			*sub = pci_class[i][2];
		}
}

unsigned virtio_pci_nr_vectors(const struct virtio_dev_ops *ops)
{
	return ops->num_queues + 1u;
}

/* ---- interrupts and the device-facing API ---- */

static void raise_irq(struct virtio_ctx *c, uint16_t vector, uint8_t isr_bit)
{
	pthread_mutex_lock(&c->lock);
	c->isr |= isr_bit;
	bool warn = false;
	pthread_mutex_unlock(&c->lock);
	if (vector == VIRTIO_MSI_NO_VECTOR || msix_notify(c->msix, vector))
		return;
	pthread_mutex_lock(&c->lock);
	warn = !c->no_msix_logged;
	c->no_msix_logged = true;
	pthread_mutex_unlock(&c->lock);
	if (warn)
		log_warn("%s: the driver has MSI-X disabled; this transport has no INTx, so the guest "
			 "gets no interrupts from the device", c->name);
}

static struct virtq *vp_queue_of(struct virtio_ctx *c, unsigned q)
{
	return q < c->nq ? &c->q[q].vq : NULL;
}

static uint64_t vp_features(const struct virtio_ctx *c)
{
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	uint64_t f = c->negotiated;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
	return f;
}

static void vp_notify_queue(struct virtio_ctx *c, unsigned q)
{
	if (q >= c->nq || !virtq_needs_notify(&c->q[q].vq))
		return;
	pthread_mutex_lock(&c->lock);
	uint16_t vector = c->q[q].vector;
	pthread_mutex_unlock(&c->lock);
	raise_irq(c, vector, VIRTIO_ISR_QUEUE);
}

static void config_irq(struct virtio_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	uint16_t vector = c->config_vector;
	pthread_mutex_unlock(&c->lock);
	raise_irq(c, vector, VIRTIO_ISR_CONFIG);
}

static void vp_notify_config(struct virtio_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	c->generation++;
	pthread_mutex_unlock(&c->lock);
	config_irq(c);
}

static void vp_set_needs_reset(struct virtio_ctx *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	bool live = c->status != 0 && !c->resetting;
	bool first = live && !c->needs_reset_logged;
	if (live) {
		c->status |= VIRTIO_STATUS_NEEDS_RESET;
		c->needs_reset_logged = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (!live)
		return;
	if (first)
		log_warn("%s: device needs reset: %s", c->name, why);
	config_irq(c);
}

static int vp_watch_fd(struct virtio_ctx *c, int fd, void (*cb)(void *arg), void *arg)
{
	return worker_watch(c->worker, fd, cb, arg);
}

static void vp_unwatch_fd(struct virtio_ctx *c, int fd)
{
	worker_unwatch(c->worker, fd);
}

static const struct virtio_transport_ops vp_transport = {
	.queue = vp_queue_of,
	.features = vp_features,
	.notify_queue = vp_notify_queue,
	.notify_config = vp_notify_config,
	.set_needs_reset = vp_set_needs_reset,
	.watch_fd = vp_watch_fd,
	.unwatch_fd = vp_unwatch_fd,
};

/* ---- worker jobs ---- */

static void queue_regs_default(struct virtio_ctx *c, struct vp_queue *q)
{
	q->size = c->ops->queue_max_size;
	q->vector = VIRTIO_MSI_NO_VECTOR;
	q->enabled = false;
	q->desc = q->driver = q->device = 0;
}

/* ctx->lock held. */
static void reset_registers(struct virtio_ctx *c)
{
	for (unsigned i = 0; i < c->nq; i++) {
		queue_regs_default(c, &c->q[i]);
		c->q[i].reset_done = false;
	}
	c->drv_features = c->negotiated = 0;
	c->dfselect = c->gfselect = 0;
	c->config_vector = VIRTIO_MSI_NO_VECTOR;
	c->queue_select = 0;
	c->isr = 0;
	c->needs_reset_logged = false;
	c->status = 0; /* only now does the driver see the reset complete */
}

/* One read returns and clears an eventfd's whole count (non-semaphore mode):
 * a second read would only fail with EAGAIN. */
static void drain_fd(int fd)
{
	uint64_t n;
	while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
}

static void kick_job(void *arg)
{
	struct vp_queue *q = arg;
	struct virtio_ctx *c = q->c;
	drain_fd(q->kick_fd);
	/* Kicks before DRIVER_OK are picked up by activate_job. */
	if (c->active && q->vq.ready)
		c->ops->queue_notify(c->dev, q->index);
}

static void reset_job(void *arg)
{
	struct virtio_ctx *c = arg;
	c->active = false;
	if (c->ops->reset)
		c->ops->reset(c->dev);
	for (unsigned i = 0; i < c->nq; i++) {
		virtq_reset(&c->q[i].vq);
		if (!c->remote)
			drain_fd(c->q[i].kick_fd);
	}
	pthread_mutex_lock(&c->lock);
	reset_registers(c);
	c->resetting = false;
	pthread_mutex_unlock(&c->lock);
	log_debug("%s: reset", c->name);
}

static void configure_job(void *arg)
{
	struct vp_queue *q = arg;
	struct virtio_ctx *c = q->c;
	pthread_mutex_lock(&c->lock);
	bool enabled = q->enabled && !c->resetting;
	uint16_t size = q->size;
	uint64_t desc = q->desc, drv = q->driver, dev = q->device, features = c->negotiated;
	pthread_mutex_unlock(&c->lock);
	if (!enabled)
		return;
	char why[96];
	if (size > c->ops->queue_max_size) {
		snprintf(why, sizeof(why), "queue %u: size %u is above the maximum %u", q->index, size,
			 c->ops->queue_max_size);
		vp_set_needs_reset(c, why);
		return;
	}
	if (virtq_configure(&q->vq, size, desc, drv, dev, features)) {
		snprintf(why, sizeof(why), "queue %u: size %u or a ring address is invalid", q->index,
			 size);
		vp_set_needs_reset(c, why);
		return;
	}
	log_debug("%s: queue %u enabled, size %u", c->name, q->index, size);
}

static void queue_reset_job(void *arg)
{
	struct vp_queue *q = arg;
	struct virtio_ctx *c = q->c;
	virtq_reset(&q->vq);
	drain_fd(q->kick_fd);
	pthread_mutex_lock(&c->lock);
	queue_regs_default(c, q);
	q->reset_done = true;
	pthread_mutex_unlock(&c->lock);
}

static void activate_job(void *arg)
{
	struct virtio_ctx *c = arg;
	pthread_mutex_lock(&c->lock);
	bool go = (c->status & VIRTIO_STATUS_DRIVER_OK) && !c->resetting &&
		  !(c->status & VIRTIO_STATUS_NEEDS_RESET);
	pthread_mutex_unlock(&c->lock);
	if (!go || c->active)
		return;
	int err = c->ops->activate ? c->ops->activate(c->dev, c) : 0;
	if (err) {
		char why[96];
		snprintf(why, sizeof(why), "activation failed: %s", strerror(-err));
		vp_set_needs_reset(c, why);
		return;
	}
	c->active = true;
	log_debug("%s: activated, features %#" PRIx64, c->name, vp_features(c));
	/* Buffers the driver made available (and kicked) before DRIVER_OK;
	 * a remote backend finds such kicks still counted in the doorbells. */
	for (unsigned i = 0; !c->remote && i < c->nq; i++)
		if (c->q[i].vq.ready && virtq_has_available(&c->q[i].vq))
			c->ops->queue_notify(c->dev, i);
}

struct config_access {
	struct virtio_ctx *c;
	uint32_t off, len;
	uint8_t buf[8];
};

static void config_read_job(void *arg)
{
	struct config_access *a = arg;
	if (a->c->ops->config_read)
		a->c->ops->config_read(a->c->dev, a->off, a->buf, a->len);
}

static void config_write_job(void *arg)
{
	struct config_access *a = arg;
	if (a->c->ops->config_write)
		a->c->ops->config_write(a->c->dev, a->off, a->buf, a->len);
}

/* ---- common configuration ---- */

static uint64_t le_bytes(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void put_le_bytes(uint8_t *b, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static struct vp_queue *selected(struct virtio_ctx *c)
{
	return c->queue_select < c->nq ? &c->q[c->queue_select] : NULL;
}

static uint16_t valid_vector(struct virtio_ctx *c, uint64_t v)
{
	return v < c->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* A 64-bit queue address register accessed as a whole or as one half. */
static bool addr_field(unsigned off, unsigned size, unsigned base, unsigned *shift)
{
	if (size == 8 && off == base)
		*shift = 0;
	else if (size == 4 && (off == base || off == base + 4))
		*shift = (off - base) * 8;
	else
		return false;
	return true;
}

static uint64_t addr_read(uint64_t reg, unsigned size, unsigned shift)
{
	return size == 8 ? reg : (uint32_t)(reg >> shift);
}

static void addr_write(uint64_t *reg, unsigned size, unsigned shift, uint64_t val)
{
	if (size == 8)
		*reg = val;
	else
		*reg = (*reg & ~(0xFFFFFFFFULL << shift)) | (uint64_t)(uint32_t)val << shift;
}

static uint64_t queue_read(struct virtio_ctx *c, unsigned off, unsigned size)
{
	struct vp_queue *q = selected(c);
	unsigned shift;
	if (addr_field(off, size, VIRTIO_PCI_Q_DESC, &shift))
		return q ? addr_read(q->desc, size, shift) : 0;
	if (addr_field(off, size, VIRTIO_PCI_Q_DRIVER, &shift))
		return q ? addr_read(q->driver, size, shift) : 0;
	if (addr_field(off, size, VIRTIO_PCI_Q_DEVICE, &shift))
		return q ? addr_read(q->device, size, shift) : 0;
	if (size != 2)
		return 0;
	switch (off) {
	case VIRTIO_PCI_Q_SIZE:
		return q ? q->size : 0; /* 0: no such queue */
	case VIRTIO_PCI_Q_MSIX:
		return q ? q->vector : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_Q_ENABLE:
		return q && q->enabled;
	case VIRTIO_PCI_Q_NOFF:
	case VIRTIO_PCI_Q_NDATA:
		return q ? q->index : 0;
	case VIRTIO_PCI_Q_RESET:
		return q && q->reset_done;
	default:
		return 0;
	}
}

static uint64_t common_read(struct virtio_ctx *c, unsigned off, unsigned size)
{
	if (off >= VIRTIO_PCI_Q_SIZE)
		return queue_read(c, off, size);
	switch (off | size << 8) {
	case VIRTIO_PCI_DFSELECT | 4 << 8:
		return c->dfselect;
	case VIRTIO_PCI_DF | 4 << 8:
		return c->dfselect < 2 ? (uint32_t)(c->dev_features >> (32 * c->dfselect)) : 0;
	case VIRTIO_PCI_GFSELECT | 4 << 8:
		return c->gfselect;
	case VIRTIO_PCI_GF | 4 << 8:
		return c->gfselect < 2 ? (uint32_t)(c->drv_features >> (32 * c->gfselect)) : 0;
	case VIRTIO_PCI_CONFIG_MSIX | 2 << 8:
		return c->config_vector;
	case VIRTIO_PCI_NUM_QUEUES | 2 << 8:
		return c->nq;
	case VIRTIO_PCI_STATUS | 1 << 8:
		return c->status;
	case VIRTIO_PCI_CFG_GEN | 1 << 8:
		return c->generation;
	case VIRTIO_PCI_Q_SELECT | 2 << 8:
		return c->queue_select;
	default:
		return 0;
	}
}

static bool features_acceptable(struct virtio_ctx *c)
{
	uint64_t extra = c->drv_features & ~c->dev_features;
	if (extra) {
		log_warn("%s: the driver accepted features %#" PRIx64 " that were not offered; "
			 "FEATURES_OK refused", c->name, extra);
		return false;
	}
	if (!(c->drv_features >> VIRTIO_F_VERSION_1 & 1)) {
		log_warn("%s: the driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not "
			 "supported); FEATURES_OK refused", c->name);
		return false;
	}
	return true;
}

static enum vp_action status_write(struct virtio_ctx *c, uint8_t val)
{
	if (val == 0) {
		if (c->resetting)
			return ACT_NONE;
		if (c->status == 0) {
			/* Nothing started (the driver's first write): no device work,
			 * and the driver must see the reset done at once. */
			reset_registers(c);
			return ACT_NONE;
		}
		c->resetting = true;
		/* Registers read as reset at once; status reads 0 when the worker is done. */
		c->config_vector = VIRTIO_MSI_NO_VECTOR;
		for (unsigned i = 0; i < c->nq; i++)
			c->q[i].vector = VIRTIO_MSI_NO_VECTOR;
		return ACT_RESET;
	}
	uint8_t old = c->status;
	uint8_t now = val | (old & VIRTIO_STATUS_NEEDS_RESET);
	enum vp_action act = ACT_NONE;
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		if (features_acceptable(c))
			c->negotiated = c->drv_features;
		else
			now &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (now & VIRTIO_STATUS_FEATURES_OK) {
			act = ACT_ACTIVATE;
		} else {
			log_warn("%s: DRIVER_OK without FEATURES_OK ignored", c->name);
			now &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
		}
	}
	c->status = now;
	return act;
}

static enum vp_action queue_write(struct virtio_ctx *c, unsigned off, unsigned size, uint64_t val)
{
	struct vp_queue *q = selected(c);
	if (!q)
		return ACT_NONE;
	unsigned shift;
	uint64_t *addr = NULL;
	if (addr_field(off, size, VIRTIO_PCI_Q_DESC, &shift))
		addr = &q->desc;
	else if (addr_field(off, size, VIRTIO_PCI_Q_DRIVER, &shift))
		addr = &q->driver;
	else if (addr_field(off, size, VIRTIO_PCI_Q_DEVICE, &shift))
		addr = &q->device;
	if (addr) {
		if (!q->enabled)
			addr_write(addr, size, shift, val);
		return ACT_NONE;
	}
	if (size != 2)
		return ACT_NONE;
	switch (off) {
	case VIRTIO_PCI_Q_SIZE:
		/* Checked when the queue is enabled: a bad size then sets NEEDS_RESET. */
		if (!q->enabled)
			q->size = (uint16_t)val;
		return ACT_NONE;
	case VIRTIO_PCI_Q_MSIX:
		q->vector = valid_vector(c, val);
		return ACT_NONE;
	case VIRTIO_PCI_Q_ENABLE:
		if (val != 1 || q->enabled)
			return ACT_NONE; /* the driver disables a queue through queue_reset */
		q->enabled = true;
		q->reset_done = false;
		return ACT_CONFIGURE;
	case VIRTIO_PCI_Q_RESET:
		if (val != 1 || !(c->negotiated >> VIRTIO_F_RING_RESET & 1))
			return ACT_NONE;
		q->reset_done = false;
		return ACT_QUEUE_RESET;
	default:
		return ACT_NONE;
	}
}

static enum vp_action common_write(struct virtio_ctx *c, unsigned off, unsigned size, uint64_t val)
{
	if (c->resetting)
		return ACT_NONE; /* the driver waits for status 0 before anything else */
	if (off >= VIRTIO_PCI_Q_SIZE)
		return queue_write(c, off, size, val);
	switch (off | size << 8) {
	case VIRTIO_PCI_DFSELECT | 4 << 8:
		c->dfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_GFSELECT | 4 << 8:
		c->gfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_GF | 4 << 8:
		if (c->gfselect < 2 && !(c->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned shift = 32 * c->gfselect;
			c->drv_features = (c->drv_features & ~(0xFFFFFFFFULL << shift)) |
					  (uint64_t)(uint32_t)val << shift;
		}
		break;
	case VIRTIO_PCI_CONFIG_MSIX | 2 << 8:
		c->config_vector = valid_vector(c, val);
		break;
	case VIRTIO_PCI_STATUS | 1 << 8:
		return status_write(c, (uint8_t)val);
	case VIRTIO_PCI_Q_SELECT | 2 << 8:
		c->queue_select = (uint16_t)val;
		break;
	default:
		log_debug("%s: ignored common config write at %#x size %u", c->name, off, size);
		break;
	}
	return ACT_NONE;
}

static void perform(struct virtio_ctx *c, enum vp_action act, struct vp_queue *q)
{
	switch (act) {
	case ACT_RESET:
		worker_post(c->worker, reset_job, c);
		break;
	case ACT_ACTIVATE:
		worker_post(c->worker, activate_job, c);
		break;
	case ACT_CONFIGURE:
		worker_post(c->worker, configure_job, q);
		break;
	case ACT_QUEUE_RESET:
		worker_post(c->worker, queue_reset_job, q);
		break;
	case ACT_NONE:
		break;
	}
}

/* ---- the BAR ---- */

static bool in(uint64_t off, unsigned size, uint64_t start, uint64_t len)
{
	return off >= start && off - start < len && size <= len - (off - start);
}

static uint64_t device_cfg_read(struct virtio_ctx *c, uint64_t off, unsigned size)
{
	struct config_access a = { .c = c, .off = (uint32_t)off, .len = size };
	worker_call(c->worker, config_read_job, &a);
	return le_bytes(a.buf, size);
}

static void device_cfg_write(struct virtio_ctx *c, uint64_t off, unsigned size, uint64_t val)
{
	struct config_access a = { .c = c, .off = (uint32_t)off, .len = size };
	put_le_bytes(a.buf, size, val);
	worker_call(c->worker, config_write_job, &a);
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct virtio_ctx *c = opaque;
	if (in(off, size, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN)) {
		pthread_mutex_lock(&c->lock);
		uint64_t v = common_read(c, (unsigned)(off - VIRTIO_PCI_COMMON_OFF), size);
		pthread_mutex_unlock(&c->lock);
		return v;
	}
	if (off == VIRTIO_PCI_ISR_OFF) {
		pthread_mutex_lock(&c->lock);
		uint8_t isr = c->isr;
		c->isr = 0; /* read to clear */
		pthread_mutex_unlock(&c->lock);
		return isr;
	}
	if (in(off, size, VIRTIO_PCI_DEVICE_OFF, c->ops->config_size))
		return device_cfg_read(c, off - VIRTIO_PCI_DEVICE_OFF, size);
	if (in(off, size, c->table_off, msix_table_size(c->nr_vectors)))
		return msix_table_read(c->msix, off - c->table_off, size);
	if (in(off, size, c->pba_off, msix_pba_size(c->nr_vectors)))
		return msix_pba_read(c->msix, off - c->pba_off, size);
	return 0;
}

static void kick(struct vp_queue *q)
{
	uint64_t one = 1;
	if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("%s: queue %u: cannot signal the worker: %s", q->c->name, q->index,
			 strerror(errno));
}

static void bar_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_ctx *c = opaque;
	if (in(off, size, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN)) {
		pthread_mutex_lock(&c->lock);
		enum vp_action act = common_write(c, (unsigned)(off - VIRTIO_PCI_COMMON_OFF), size, val);
		struct vp_queue *q = selected(c);
		pthread_mutex_unlock(&c->lock);
		perform(c, act, q);
	} else if (in(off, size, VIRTIO_PCI_NOTIFY_OFF, (uint64_t)c->nq * VIRTIO_PCI_NOTIFY_MULT)) {
		/* Reaches here only when the queue's ioeventfd is not (yet) in place. */
		uint64_t rel = off - VIRTIO_PCI_NOTIFY_OFF;
		if (rel % VIRTIO_PCI_NOTIFY_MULT == 0)
			kick(&c->q[rel / VIRTIO_PCI_NOTIFY_MULT]);
	} else if (in(off, size, VIRTIO_PCI_DEVICE_OFF, c->ops->config_size)) {
		device_cfg_write(c, off - VIRTIO_PCI_DEVICE_OFF, size, val);
	} else if (in(off, size, c->table_off, msix_table_size(c->nr_vectors))) {
		msix_table_write(c->msix, off - c->table_off, size, val);
	}
}

const struct io_ops virtio_pci_bar_ops = { .read = bar_read, .write = bar_write };

/* ---- doorbells: follow the BAR (cfg.lock held) ---- */

static bool bar_decodes(struct virtio_ctx *c, uint64_t *base)
{
	uint16_t command = (uint16_t)pci_cfg_get(&c->cfg, PCI_COMMAND, 2);
	*base = pci_config_bar_addr(&c->cfg, VIRTIO_PCI_BAR);
	uint64_t last = *base + c->bar_size - 1;
	return (command & PCI_COMMAND_MEMORY) && *base && last > *base && last != ~0ULL;
}

static void sync_doorbells_locked(struct virtio_ctx *c)
{
	if (!c->doorbells.set)
		return;
	uint64_t base;
	bool decodes = bar_decodes(c, &base);
	for (unsigned i = 0; i < c->nq; i++) {
		struct vp_queue *q = &c->q[i];
		uint64_t want = base + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)i * VIRTIO_PCI_NOTIFY_MULT;
		if (q->bell_on && (!decodes || q->bell_addr != want)) {
			c->doorbells.set(c->doorbells.ctx, q->kick_fd, q->bell_addr, DOORBELL_LEN, false);
			q->bell_on = false;
		}
	}
	for (unsigned i = 0; decodes && i < c->nq; i++) {
		struct vp_queue *q = &c->q[i];
		uint64_t want = base + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)i * VIRTIO_PCI_NOTIFY_MULT;
		if (q->bell_on)
			continue;
		int err = c->doorbells.set(c->doorbells.ctx, q->kick_fd, want, DOORBELL_LEN, true);
		/* A half-written 64-bit BAR may pass over another doorbell: the
		 * MMIO path still works, and the next BAR write retries. */
		if (err) {
			log_debug("%s: queue %u: no ioeventfd at %#" PRIx64 ": %s", c->name, i, want,
				  strerror(-err));
			continue;
		}
		q->bell_on = true;
		q->bell_addr = want;
	}
}

static void header_written(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	(void)cfg, (void)off, (void)size;
	sync_doorbells_locked(ctx);
}

static const struct pci_cap_hook header_hook = { .after_write = header_written };

void virtio_pci_sync_doorbells(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->ctx.cfg.lock);
	sync_doorbells_locked(&vp->ctx);
	pthread_mutex_unlock(&vp->ctx.cfg.lock);
}

/* ---- the PCI_CFG window: BAR access through config space ---- */

static bool window(struct virtio_ctx *c, uint32_t *off, uint32_t *len)
{
	const uint8_t *cap = &c->cfg.data[c->pcicfg_cap];
	*off = (uint32_t)le_bytes(cap + CAP_OFFSET, 4);
	*len = (uint32_t)le_bytes(cap + CAP_LENGTH, 4);
	return cap[CAP_BAR] == VIRTIO_PCI_BAR && (*len == 1 || *len == 2 || *len == 4) &&
	       *off % *len == 0 && *off < c->bar_size && *len <= c->bar_size - *off;
}

static bool touches_data(unsigned off, unsigned size)
{
	return off + size > CAP_EXTRA;
}

static void window_before_read(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	struct virtio_ctx *c = ctx;
	uint32_t woff, wlen;
	if (!touches_data(off, size) || !window(c, &woff, &wlen))
		return;
	put_le_bytes(&cfg->data[c->pcicfg_cap + CAP_EXTRA], wlen, bar_read(c, woff, wlen));
}

static void window_after_write(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	struct virtio_ctx *c = ctx;
	uint32_t woff, wlen;
	if (!touches_data(off, size) || !window(c, &woff, &wlen))
		return;
	bar_write(c, woff, wlen, le_bytes(&cfg->data[c->pcicfg_cap + CAP_EXTRA], wlen));
}

static const struct pci_cap_hook window_hook = {
	.before_read = window_before_read,
	.after_write = window_after_write,
};

/* ---- construction ---- */

static unsigned add_vendor_cap(struct virtio_ctx *c, uint8_t type, uint32_t off, uint32_t len,
			       const uint8_t *extra, const uint8_t *wmask,
			       const struct pci_cap_hook *hook)
{
	uint8_t body[CAP_LEN + 4] = { PCI_CAP_ID_VNDR, 0, CAP_LEN, type, VIRTIO_PCI_BAR };
	unsigned n = extra ? CAP_LEN + 4 : CAP_LEN;
	body[2] = (uint8_t)n;
	put_le_bytes(body + CAP_OFFSET, 4, off);
	put_le_bytes(body + CAP_LENGTH, 4, len);
	if (extra)
		memcpy(body + CAP_EXTRA, extra, 4);
	return pci_config_add_cap(&c->cfg, body, n, wmask, hook, c);
}

static bool add_caps(struct virtio_ctx *c)
{
	const struct virtio_dev_ops *ops = c->ops;
	uint8_t mult[4];
	put_le_bytes(mult, 4, VIRTIO_PCI_NOTIFY_MULT);
	bool ok = add_vendor_cap(c, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
				 VIRTIO_PCI_COMMON_LEN, NULL, NULL, NULL) &&
		  add_vendor_cap(c, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				 c->nq * VIRTIO_PCI_NOTIFY_MULT, mult, NULL, NULL) &&
		  add_vendor_cap(c, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, NULL, NULL, NULL);
	if (ok && ops->config_size)
		ok = add_vendor_cap(c, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
				    ops->config_size, NULL, NULL, NULL);
	/* The window's bar, offset, length and data are the driver's to write. */
	uint8_t wmask[CAP_LEN + 4] = { 0 };
	wmask[CAP_BAR] = 0xFF;
	memset(wmask + CAP_OFFSET, 0xFF, 12);
	uint8_t zero[4] = { 0 };
	if (ok) {
		c->pcicfg_cap = add_vendor_cap(c, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, zero, wmask,
					       &window_hook);
		ok = c->pcicfg_cap != 0;
	}
	return ok && msix_add_cap(c->msix, &c->cfg, VIRTIO_PCI_BAR, c->table_off, VIRTIO_PCI_BAR,
				  c->pba_off) > 0 &&
	       pci_config_watch_header(&c->cfg, PCI_COMMAND, PCI_BAR0 + 8 - PCI_COMMAND,
				       &header_hook, c);
}

static bool ops_valid(const struct virtio_dev_ops *ops)
{
	const char *name = ops->name ? ops->name : "virtio";
	const char *bad = NULL;
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_PCI_MAX_QUEUES)
		bad = "num_queues";
	else if (ops->queue_max_size == 0 || ops->queue_max_size > VIRTQ_MAX_SIZE)
		bad = "queue_max_size";
	else if (ops->config_size > VIRTIO_PCI_MAX_CONFIG)
		bad = "config_size";
	else if (!ops->queue_notify)
		bad = "queue_notify";
	if (bad)
		log_error("%s: invalid device description (%s)", name, bad);
	return !bad;
}

static void layout_bar(struct virtio_ctx *c)
{
	c->nr_vectors = virtio_pci_nr_vectors(c->ops);
	c->table_off = VIRTIO_PCI_MSIX_OFF;
	c->pba_off = c->table_off + (uint32_t)ALIGN_UP(msix_table_size(c->nr_vectors), 4 * KiB);
	uint64_t end = c->pba_off + ALIGN_UP(msix_pba_size(c->nr_vectors), 4 * KiB);
	c->bar_size = 4 * KiB;
	while (c->bar_size < end)
		c->bar_size <<= 1;
}

static bool init_queues(struct virtio_ctx *c, const struct guest_mem *gm)
{
	c->q = xcalloc(c->nq, sizeof(c->q[0]));
	for (unsigned i = 0; i < c->nq; i++)
		c->q[i].kick_fd = -1;
	for (unsigned i = 0; i < c->nq; i++) {
		struct vp_queue *q = &c->q[i];
		q->c = c;
		q->index = i;
		virtq_init(&q->vq, gm);
		queue_regs_default(c, q);
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0 ||
		    (!c->remote && worker_watch(c->worker, q->kick_fd, kick_job, q))) {
			log_error("%s: cannot create the doorbell of queue %u", c->name, i);
			return false;
		}
	}
	return true;
}

/* What a remote backend may serve: its device bits, and the ring features
 * that need nothing of the transport (RING_RESET would: it is done here). */
static uint64_t remote_features(uint64_t backend, const struct virtio_pci_opts *opts)
{
	uint64_t ring = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
			1ULL << VIRTIO_F_INDIRECT_DESC;
	if (!opts->no_packed)
		ring |= 1ULL << VIRTIO_F_RING_PACKED;
	return backend & (ring | ((1ULL << 24) - 1));
}

static uint64_t offered_features(struct virtio_ctx *c, const struct virtio_pci_opts *opts)
{
	uint64_t f = c->ops->features ? c->ops->features(c->dev) : 0;
	if (c->remote)
		return remote_features(f, opts);
	f |= 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
	     1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_RING_RESET;
	if (!opts || !opts->no_packed)
		f |= 1ULL << VIRTIO_F_RING_PACKED;
	return f;
}

static void release(struct virtio_pci *vp, bool destroy_dev);

struct virtio_pci *virtio_pci_create(const struct virtio_dev_ops *ops, void *dev,
				     const struct virtio_pci_opts *opts,
				     const struct virtio_pci_host *host)
{
	if (!ops_valid(ops))
		return NULL;
	struct virtio_pci *vp = xcalloc(1, sizeof(*vp));
	struct virtio_ctx *c = &vp->ctx;
	c->t.ops = &vp_transport;
	c->ops = ops;
	c->dev = dev;
	c->nq = ops->num_queues;
	c->name = ops->name ? ops->name : "virtio";
	c->doorbells = host->doorbells;
	c->vector_eventfd = host->vector_eventfd;
	c->vector_ctx = host->vector_ctx;
	c->remote = opts && opts->remote_rings;
	c->config_vector = VIRTIO_MSI_NO_VECTOR;
	pthread_mutex_init(&c->lock, NULL);
	uint8_t cls, sub;
	class_of(ops->device_id, &cls, &sub);
	const struct pci_ids ids = {
		.vendor = VIRTIO_PCI_VENDOR,
		.device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
		.subsystem_vendor = VIRTIO_PCI_VENDOR,
		.subsystem = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
		.revision = 1,
		.class_code = cls,
		.subclass = sub,
	};
	pci_config_init(&c->cfg, &ids);
	layout_bar(c);
	const struct pci_bar bar = {
		.kind = PCI_BAR_MEM64,
		.prefetchable = true,
		.size = c->bar_size,
		.ops = &virtio_pci_bar_ops,
		.dev = c,
	};
	c->msix = msix_create(c->nr_vectors, &host->msi);
	c->worker = worker_create(c->name);
	bool ok = c->msix && c->worker && pci_config_set_bar(&c->cfg, VIRTIO_PCI_BAR, &bar) == 0;
	if (ok && !add_caps(c)) {
		log_error("%s: the capabilities do not fit in config space", c->name);
		ok = false;
	}
	ok = ok && init_queues(c, host->gm);
	c->dev_features = offered_features(c, opts);
	if (!ok) {
		release(vp, false); /* dev stays the caller's */
		return NULL;
	}
	return vp;
}

int virtio_pci_start(struct virtio_pci *vp)
{
	return worker_start(vp->ctx.worker);
}

struct pci_config *virtio_pci_config(struct virtio_pci *vp)
{
	return &vp->ctx.cfg;
}

struct virtio_ctx *virtio_pci_ctx(struct virtio_pci *vp)
{
	return &vp->ctx;
}

/* ---- rings served by another process ---- */

int virtio_pci_queue_kick_fd(struct virtio_ctx *c, unsigned q)
{
	return q < c->nq ? c->q[q].kick_fd : -1;
}

int virtio_pci_queue_call_fd(struct virtio_ctx *c, unsigned q)
{
	if (q >= c->nq || !c->vector_eventfd)
		return -1;
	pthread_mutex_lock(&c->lock);
	uint16_t vector = c->q[q].vector;
	pthread_mutex_unlock(&c->lock);
	if (vector == VIRTIO_MSI_NO_VECTOR)
		return -1;
	int fd = c->vector_eventfd(c->vector_ctx, vector);
	return fd >= 0 ? fd : -1;
}

static void release(struct virtio_pci *vp, bool destroy_dev)
{
	struct virtio_ctx *c = &vp->ctx;
	if (c->worker)
		worker_stop(c->worker);
	for (unsigned i = 0; c->q && i < c->nq; i++) {
		struct vp_queue *q = &c->q[i];
		if (q->bell_on)
			c->doorbells.set(c->doorbells.ctx, q->kick_fd, q->bell_addr, DOORBELL_LEN, false);
		if (q->kick_fd >= 0) {
			if (c->worker && !c->remote)
				worker_unwatch(c->worker, q->kick_fd);
			close(q->kick_fd);
		}
	}
	if (destroy_dev && c->ops->destroy)
		c->ops->destroy(c->dev);
	if (c->worker)
		worker_destroy(c->worker);
	msix_destroy(c->msix);
	pci_config_destroy(&c->cfg);
	pthread_mutex_destroy(&c->lock);
	free(c->q);
	free(vp);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (vp)
		release(vp, true);
}
