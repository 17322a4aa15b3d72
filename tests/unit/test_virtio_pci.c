/* The virtio-pci transport against a throwaway device (two queues, an
 * 8-byte config) and guest RAM in a malloc'd buffer: IDs and capabilities,
 * feature negotiation and refusal, status and reset, queue setup (bad sizes
 * and rings outside RAM set NEEDS_RESET), kicks run the device on its worker
 * thread and used buffers raise the queue's MSI-X vector (recording sink),
 * config generation, the PCI_CFG window, doorbells following BAR moves (a
 * recording registry, and KVM_IOEVENTFD on /dev/kvm when it can be opened). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hv/ioeventfd.h"
#include "hv/kvm.h"
#include "pci/config.h"
#include "pci/msix.h"
#include "virtio/entropy.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_spec.h"

#define RAM_SIZE   0x40000ULL
#define QMAX       256
#define NQ         2
#define DEV_FEAT   ((1ULL << 0) | (1ULL << 5))
#define DESC_GPA   0x1000ULL
#define AVAIL_GPA  0x3000ULL
#define USED_GPA   0x4000ULL
#define BUF_GPA    0x10000ULL
#define BAR_BASE   0x800000000ULL
#define NOTIFY(q)  (VIRTIO_PCI_NOTIFY_OFF + 4 * (q))

/* ---- the throwaway device ---- */

struct fake_dev {
	struct virtio_ctx *ctx;
	pthread_t worker;          /* the thread activate() ran on */
	atomic_int activations, resets, notifies[NQ], destroyed;
	atomic_bool notify_off_worker, config_off_worker;
	int activate_err;
	bool ready[NQ];            /* sampled on the worker by config_read */
	uint8_t config[8];
	struct virtq_chain chain;
};

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return DEV_FEAT;
}

static bool on_worker(struct fake_dev *d)
{
	return pthread_equal(pthread_self(), d->worker);
}

static int fake_activate(void *dev, struct virtio_ctx *ctx)
{
	struct fake_dev *d = dev;
	d->ctx = ctx;
	d->worker = pthread_self();
	atomic_fetch_add(&d->activations, 1);
	return d->activate_err;
}

/* Fills every writable buffer with "hello" and returns it. */
static void fake_notify(void *dev, unsigned q)
{
	struct fake_dev *d = dev;
	if (!on_worker(d))
		atomic_store(&d->notify_off_worker, true);
	struct virtq *vq = virtio_queue(d->ctx, q);
	int r;
	while ((r = virtq_pop(vq, &d->chain)) == 1) {
		size_t n = virtq_chain_write(&d->chain, 0, "hello", 5);
		virtq_push(vq, &d->chain, (uint32_t)n);
	}
	if (r < 0)
		virtio_set_needs_reset(d->ctx, "bad chain");
	virtio_notify_queue(d->ctx, q);
	atomic_fetch_add(&d->notifies[q], 1);
}

static void fake_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct fake_dev *d = dev;
	if (d->activations && !on_worker(d))
		atomic_store(&d->config_off_worker, true);
	for (unsigned q = 0; q < NQ; q++)
		d->ready[q] = virtio_queue(d->ctx, q)->ready;
	memcpy(buf, d->config + off, len);
}

static void fake_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct fake_dev *d = dev;
	memcpy(d->config + off, buf, len);
}

static void fake_reset(void *dev)
{
	struct fake_dev *d = dev;
	if (d->activations && !on_worker(d))
		atomic_store(&d->notify_off_worker, true);
	atomic_fetch_add(&d->resets, 1);
}

static void fake_destroy(void *dev)
{
	struct fake_dev *d = dev;
	atomic_fetch_add(&d->destroyed, 1);
}

static const struct virtio_dev_ops fake_ops = {
	.name = "virtio-fake",
	.device_id = 2, /* block: class 01/00 */
	.num_queues = NQ,
	.queue_max_size = QMAX,
	.config_size = 8,
	.features = fake_features,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.queue_notify = fake_notify,
	.reset = fake_reset,
	.destroy = fake_destroy,
};

/* ---- recording MSI sink and doorbell registry ---- */

struct msi_rec {
	atomic_int fired[NQ + 1];
};

static int rec_update(void *ctx, unsigned vector, uint64_t addr, uint32_t data, bool masked)
{
	(void)ctx, (void)vector, (void)addr, (void)data, (void)masked;
	return 0;
}

static void rec_fire(void *ctx, unsigned vector)
{
	struct msi_rec *r = ctx;
	atomic_fetch_add(&r->fired[vector], 1);
}

#define MAX_BELLS 16
struct bells {
	unsigned nr;
	struct { int fd; uint64_t addr; } on[MAX_BELLS];
	unsigned calls;
};

static int bells_set(void *ctx, int fd, uint64_t addr, unsigned len, bool on)
{
	struct bells *b = ctx;
	b->calls++;
	if (len != 2)
		return -EINVAL;
	for (unsigned i = 0; i < b->nr; i++) {
		if (b->on[i].addr != addr)
			continue;
		if (on)
			return -EEXIST;
		if (b->on[i].fd != fd)
			return -ENOENT;
		b->on[i] = b->on[--b->nr];
		return 0;
	}
	if (!on || b->nr == MAX_BELLS)
		return -ENOENT;
	b->on[b->nr].fd = fd;
	b->on[b->nr++].addr = addr;
	return 0;
}

static bool bell_at(const struct bells *b, uint64_t addr)
{
	for (unsigned i = 0; i < b->nr; i++)
		if (b->on[i].addr == addr)
			return true;
	return false;
}

/* ---- fixture ---- */

struct fx {
	uint8_t *ram;
	struct guest_mem gm;
	struct fake_dev dev;
	struct msi_rec msi;
	struct bells bells;
	struct virtio_pci *vp;
	struct pci_config *cfg;
};

static struct fx *make_with(const struct virtio_dev_ops *ops, void *dev,
			    const struct virtio_pci_opts *opts);

static struct fx *make(const struct virtio_pci_opts *opts)
{
	return make_with(&fake_ops, NULL, opts);
}

static struct fx *make_with(const struct virtio_dev_ops *ops, void *dev,
			    const struct virtio_pci_opts *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->ram = aligned_alloc(4096, RAM_SIZE);
	memset(f->ram, 0, RAM_SIZE);
	gm_init_buffer(&f->gm, 0, f->ram, RAM_SIZE);
	const struct virtio_pci_host host = {
		.gm = &f->gm,
		.msi = { .update = rec_update, .fire = rec_fire, .ctx = &f->msi },
		.doorbells = { .set = bells_set, .ctx = &f->bells },
	};
	f->vp = virtio_pci_create(ops, dev ? dev : &f->dev, opts, &host);
	assert_non_null(f->vp);
	f->cfg = virtio_pci_config(f->vp);
	f->dev.ctx = virtio_pci_ctx(f->vp);
	/* What pci_bus_add_device does: place the BAR, enable decoding. */
	pci_config_set_bar_addr(f->cfg, VIRTIO_PCI_BAR, BAR_BASE);
	pci_cfg_put(f->cfg, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	virtio_pci_sync_doorbells(f->vp);
	assert_int_equal(virtio_pci_start(f->vp), 0);
	return f;
}

static int setup(void **state)
{
	*state = make(NULL);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	virtio_pci_destroy(f->vp);
	assert_int_equal(f->dev.destroyed, 1);
	free(f->ram);
	free(f);
	return 0;
}

static uint64_t rd(struct fx *f, uint64_t off, unsigned size)
{
	return virtio_pci_bar_ops.read(virtio_pci_ctx(f->vp), off, size);
}

static void wr(struct fx *f, uint64_t off, unsigned size, uint64_t val)
{
	virtio_pci_bar_ops.write(virtio_pci_ctx(f->vp), off, size, val);
}

/* Worker jobs are asynchronous: poll for up to two seconds. */
#define WAIT_FOR(cond)                                                        \
	do {                                                                  \
		for (int i_ = 0; i_ < 2000 && !(cond); i_++)                  \
			usleep(1000);                                         \
		assert_true(cond);                                            \
	} while (0)

/* Whether queue q is ready, as the worker (its owner) sees it: a device
 * config read runs there and samples it. */
static bool queue_ready(struct fx *f, unsigned q)
{
	rd(f, VIRTIO_PCI_DEVICE_OFF, 1);
	return f->dev.ready[q];
}

static uint8_t status(struct fx *f)
{
	return (uint8_t)rd(f, VIRTIO_PCI_STATUS, 1);
}

static uint64_t device_features(struct fx *f)
{
	wr(f, VIRTIO_PCI_DFSELECT, 4, 0);
	uint64_t lo = rd(f, VIRTIO_PCI_DF, 4);
	wr(f, VIRTIO_PCI_DFSELECT, 4, 1);
	return lo | rd(f, VIRTIO_PCI_DF, 4) << 32;
}

/* Reset, ACKNOWLEDGE|DRIVER, the features, FEATURES_OK; returns the status. */
static uint8_t negotiate(struct fx *f, uint64_t features)
{
	wr(f, VIRTIO_PCI_STATUS, 1, 0);
	WAIT_FOR(status(f) == 0);
	wr(f, VIRTIO_PCI_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (unsigned w = 0; w < 2; w++) {
		wr(f, VIRTIO_PCI_GFSELECT, 4, w);
		wr(f, VIRTIO_PCI_GF, 4, (uint32_t)(features >> (32 * w)));
	}
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_FEATURES_OK);
	return status(f);
}

static void setup_queue(struct fx *f, unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
			uint64_t used, uint16_t vector)
{
	wr(f, VIRTIO_PCI_Q_SELECT, 2, q);
	wr(f, VIRTIO_PCI_Q_SIZE, 2, size);
	wr(f, VIRTIO_PCI_Q_DESC, 4, (uint32_t)desc);
	wr(f, VIRTIO_PCI_Q_DESC + 4, 4, (uint32_t)(desc >> 32));
	wr(f, VIRTIO_PCI_Q_DRIVER, 4, (uint32_t)avail);
	wr(f, VIRTIO_PCI_Q_DRIVER + 4, 4, (uint32_t)(avail >> 32));
	wr(f, VIRTIO_PCI_Q_DEVICE, 4, (uint32_t)used);
	wr(f, VIRTIO_PCI_Q_DEVICE + 4, 4, (uint32_t)(used >> 32));
	wr(f, VIRTIO_PCI_Q_MSIX, 2, vector);
	wr(f, VIRTIO_PCI_Q_ENABLE, 2, 1);
}

static const uint64_t split_features = (1ULL << VIRTIO_F_VERSION_1) | DEV_FEAT;

static unsigned find_cap(struct pci_config *cfg, uint8_t id, int vndr_type)
{
	for (unsigned off = (unsigned)pci_config_read(cfg, PCI_CAP_PTR, 1); off;
	     off = (unsigned)pci_config_read(cfg, off + 1, 1))
		if (pci_config_read(cfg, off, 1) == id &&
		    (vndr_type < 0 || pci_config_read(cfg, off + 3, 1) == (uint64_t)vndr_type))
			return off;
	return 0;
}

/* MSI-X on, every vector unmasked. */
static void enable_msix(struct fx *f)
{
	unsigned cap = find_cap(f->cfg, PCI_CAP_ID_MSIX, -1);
	assert_int_not_equal(cap, 0);
	pci_config_write(f->cfg, cap + 2, 2, MSIX_CTRL_ENABLE);
	uint32_t table = (uint32_t)pci_config_read(f->cfg, cap + 4, 4) & ~7U;
	for (unsigned v = 0; v < NQ + 1; v++) {
		wr(f, table + 16 * v, 4, 0xFEE00000);
		wr(f, table + 16 * v + 8, 4, 0x40 + v);
		wr(f, table + 16 * v + 12, 4, 0);
	}
}

/* ---- tests ---- */

static void test_ids_bar_and_caps(void **state)
{
	struct fx *f = *state;
	struct pci_config *cfg = f->cfg;
	assert_int_equal(pci_config_read(cfg, PCI_VENDOR_ID, 2), 0x1AF4);
	assert_int_equal(pci_config_read(cfg, PCI_DEVICE_ID, 2), 0x1042);
	assert_int_equal(pci_config_read(cfg, PCI_SUBSYSTEM_ID, 2), 0x1042);
	assert_int_equal(pci_config_read(cfg, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_config_read(cfg, PCI_CLASS_DEVICE, 2), 0x0100);
	/* BAR0: 64-bit prefetchable memory; sizing gives its size. */
	assert_int_equal(pci_config_read(cfg, PCI_BAR0, 4) & 0xF, 0xC);
	pci_config_write(cfg, PCI_BAR0, 4, 0xFFFFFFFF);
	uint32_t size = ~((uint32_t)pci_config_read(cfg, PCI_BAR0, 4) & ~0xFU) + 1;
	assert_true(size >= 0x6000 && (size & (size - 1)) == 0);

	struct { int type; uint32_t off; } want[] = {
		{ VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF },
		{ VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF },
		{ VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF },
		{ VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF },
		{ VIRTIO_PCI_CAP_PCI_CFG, 0 },
	};
	for (unsigned i = 0; i < 5; i++) {
		unsigned cap = find_cap(cfg, PCI_CAP_ID_VNDR, want[i].type);
		assert_int_not_equal(cap, 0);
		assert_int_equal(pci_config_read(cfg, cap + 4, 1), 0); /* BAR 0 */
		assert_int_equal(pci_config_read(cfg, cap + 8, 4), want[i].off);
	}
	unsigned notify = find_cap(cfg, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(pci_config_read(cfg, notify + 2, 1), 20);
	assert_int_equal(pci_config_read(cfg, notify + 12, 4), 4 * NQ);
	assert_int_equal(pci_config_read(cfg, notify + 16, 4), 4);
	unsigned msix = find_cap(cfg, PCI_CAP_ID_MSIX, -1);
	assert_int_equal(pci_config_read(cfg, msix + 2, 2) & 0x7FF, NQ); /* N-1 */
	assert_int_equal(rd(f, VIRTIO_PCI_NUM_QUEUES, 2), NQ);
}

static void test_feature_negotiation(void **state)
{
	struct fx *f = *state;
	uint64_t df = device_features(f);
	uint64_t transport = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_PACKED) |
			     (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC) |
			     (1ULL << VIRTIO_F_RING_RESET);
	assert_int_equal(df, DEV_FEAT | transport);
	uint64_t take = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5) | (1ULL << VIRTIO_F_EVENT_IDX);
	assert_true(negotiate(f, take) & VIRTIO_STATUS_FEATURES_OK);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(f->dev.activations == 1);
	assert_int_equal(virtio_features(f->dev.ctx), take);
	assert_true(virtio_has_feature(f->dev.ctx, VIRTIO_F_EVENT_IDX));
	assert_false(virtio_has_feature(f->dev.ctx, 0));
	assert_false(pthread_equal(f->dev.worker, pthread_self()));
}

static void test_feature_refusal(void **state)
{
	struct fx *f = *state;
	/* Bit 7 was never offered. */
	uint8_t st = negotiate(f, split_features | (1ULL << 7));
	assert_false(st & VIRTIO_STATUS_FEATURES_OK);
	assert_true(st & VIRTIO_STATUS_DRIVER);
	/* Without VERSION_1 (a legacy driver) too. */
	assert_false(negotiate(f, DEV_FEAT) & VIRTIO_STATUS_FEATURES_OK);
	/* And DRIVER_OK without FEATURES_OK activates nothing. */
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	usleep(20000);
	assert_int_equal(f->dev.activations, 0);
	assert_true(negotiate(f, split_features) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_no_packed_option(void **state)
{
	(void)state;
	const struct virtio_pci_opts opts = { .no_packed = true };
	struct fx *f = make(&opts);
	assert_false(device_features(f) >> VIRTIO_F_RING_PACKED & 1);
	assert_false(negotiate(f, split_features | (1ULL << VIRTIO_F_RING_PACKED)) &
		     VIRTIO_STATUS_FEATURES_OK);
	teardown((void **)&f);
}

static void test_status_and_reset(void **state)
{
	struct fx *f = *state;
	negotiate(f, split_features);
	wr(f, VIRTIO_PCI_CONFIG_MSIX, 2, 0);
	assert_int_equal(rd(f, VIRTIO_PCI_CONFIG_MSIX, 2), 0);
	wr(f, VIRTIO_PCI_CONFIG_MSIX, 2, NQ + 1); /* no such vector */
	assert_int_equal(rd(f, VIRTIO_PCI_CONFIG_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	wr(f, VIRTIO_PCI_CONFIG_MSIX, 2, 0);
	setup_queue(f, 1, 64, DESC_GPA, AVAIL_GPA, USED_GPA, 2);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(f->dev.activations == 1);
	assert_true(queue_ready(f, 1));
	int resets = f->dev.resets;

	wr(f, VIRTIO_PCI_STATUS, 1, 0);
	WAIT_FOR(status(f) == 0);
	assert_int_equal(f->dev.resets, resets + 1);
	assert_false(f->dev.notify_off_worker); /* reset ran on the worker */
	assert_false(queue_ready(f, 1));
	assert_int_equal(rd(f, VIRTIO_PCI_CONFIG_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	wr(f, VIRTIO_PCI_Q_SELECT, 2, 1);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_ENABLE, 2), 0);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_SIZE, 2), QMAX);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_DESC, 4), 0);
	wr(f, VIRTIO_PCI_GFSELECT, 4, 1);
	assert_int_equal(rd(f, VIRTIO_PCI_GF, 4), 0);
}

static void test_queue_registers(void **state)
{
	struct fx *f = *state;
	negotiate(f, split_features);
	wr(f, VIRTIO_PCI_Q_SELECT, 2, 1);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_SIZE, 2), QMAX);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_NOFF, 2), 1);
	wr(f, VIRTIO_PCI_Q_DESC, 8, 0x123456789ULL);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_DESC, 4), 0x23456789);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_DESC + 4, 4), 1);
	wr(f, VIRTIO_PCI_Q_SELECT, 2, NQ); /* no such queue: size 0 */
	assert_int_equal(rd(f, VIRTIO_PCI_Q_SIZE, 2), 0);
}

static void expect_needs_reset(struct fx *f, uint16_t size, uint64_t desc)
{
	enable_msix(f);
	negotiate(f, split_features);
	wr(f, VIRTIO_PCI_CONFIG_MSIX, 2, NQ);
	int before = f->msi.fired[NQ];
	setup_queue(f, 0, size, desc, AVAIL_GPA, USED_GPA, 0);
	WAIT_FOR(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(queue_ready(f, 0));
	WAIT_FOR(f->msi.fired[NQ] == before + 1); /* config interrupt */
	assert_true(rd(f, VIRTIO_PCI_ISR_OFF, 1) & VIRTIO_ISR_CONFIG);
	assert_int_equal(rd(f, VIRTIO_PCI_ISR_OFF, 1), 0); /* read to clear */
	/* The driver keeps the bit set when it writes status back. */
	wr(f, VIRTIO_PCI_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	assert_true(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset clears it and the queue can then be set up. */
	negotiate(f, split_features);
	assert_false(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	setup_queue(f, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 0);
	WAIT_FOR(queue_ready(f, 0));
	assert_false(status(f) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_bad_size_needs_reset(void **state)
{
	expect_needs_reset(*state, 100, DESC_GPA); /* not a power of two */
}

static void test_size_above_max_needs_reset(void **state)
{
	expect_needs_reset(*state, 2 * QMAX, DESC_GPA);
}

static void test_ring_outside_ram_needs_reset(void **state)
{
	expect_needs_reset(*state, 8, RAM_SIZE - 16);
}

/* One writable 64-byte buffer on a split queue of size 8 at queue q's rings. */
static void post_buffer(struct fx *f, uint64_t desc, uint64_t avail, uint16_t idx)
{
	uint8_t *d = f->ram + desc + 16 * (idx % 8);
	uint64_t addr = BUF_GPA + 64 * idx;
	memcpy(d, &addr, 8);
	uint32_t len = 64;
	memcpy(d + 8, &len, 4);
	uint16_t flags = VIRTQ_DESC_F_WRITE, next = 0, head = idx % 8, new_idx = idx + 1;
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	memcpy(f->ram + avail + VIRTQ_AVAIL_RING(idx % 8), &head, 2);
	__atomic_store_n((uint16_t *)(f->ram + avail + VIRTQ_AVAIL_IDX), new_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct fx *f, uint64_t used)
{
	return __atomic_load_n((uint16_t *)(f->ram + used + VIRTQ_USED_IDX), __ATOMIC_ACQUIRE);
}

static void test_kick_runs_device_on_worker_and_interrupts(void **state)
{
	struct fx *f = *state;
	enable_msix(f);
	negotiate(f, split_features);
	setup_queue(f, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	/* A buffer made available before DRIVER_OK is served on activation. */
	post_buffer(f, DESC_GPA, AVAIL_GPA, 0);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(used_idx(f, USED_GPA) == 1);
	WAIT_FOR(f->msi.fired[1] == 1);
	assert_memory_equal(f->ram + BUF_GPA, "hello", 5);

	/* A kick through MMIO (no ioeventfd delivered it). */
	post_buffer(f, DESC_GPA, AVAIL_GPA, 1);
	int n = f->dev.notifies[0];
	wr(f, NOTIFY(0), 2, 0);
	WAIT_FOR(f->dev.notifies[0] == n + 1);
	WAIT_FOR(used_idx(f, USED_GPA) == 2);
	WAIT_FOR(f->msi.fired[1] == 2);
	uint32_t len;
	memcpy(&len, f->ram + USED_GPA + VIRTQ_USED_RING(1) + 4, 4);
	assert_int_equal(len, 5);
	assert_memory_equal(f->ram + BUF_GPA + 64, "hello", 5);
	assert_false(f->dev.notify_off_worker);
	assert_int_equal(f->msi.fired[0], 0);
	assert_int_equal(f->msi.fired[2], 0);
	assert_true(rd(f, VIRTIO_PCI_ISR_OFF, 1) & VIRTIO_ISR_QUEUE);
}

static void test_kick_through_doorbell_fd(void **state)
{
	struct fx *f = *state;
	enable_msix(f);
	negotiate(f, split_features);
	setup_queue(f, 1, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 2);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(f->dev.activations == 1);
	post_buffer(f, DESC_GPA, AVAIL_GPA, 0);
	/* What KVM does on a guest write to the doorbell: signal its eventfd. */
	int fd = -1;
	for (unsigned i = 0; i < f->bells.nr; i++)
		if (f->bells.on[i].addr == BAR_BASE + NOTIFY(1))
			fd = f->bells.on[i].fd;
	assert_true(fd >= 0);
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
	WAIT_FOR(used_idx(f, USED_GPA) == 1);
	WAIT_FOR(f->msi.fired[2] == 1);
	assert_int_equal(f->dev.notifies[0], 0);
}

static void test_no_msix_no_interrupt(void **state)
{
	struct fx *f = *state;
	negotiate(f, split_features); /* MSI-X stays disabled */
	setup_queue(f, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	post_buffer(f, DESC_GPA, AVAIL_GPA, 0);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(used_idx(f, USED_GPA) == 1);
	usleep(10000);
	assert_int_equal(f->msi.fired[1], 0);
}

static void test_config_space_and_generation(void **state)
{
	struct fx *f = *state;
	enable_msix(f);
	negotiate(f, split_features);
	wr(f, VIRTIO_PCI_CONFIG_MSIX, 2, 0);
	memcpy(f->dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	assert_int_equal(rd(f, VIRTIO_PCI_DEVICE_OFF + 4, 4), 0x88776655);
	assert_int_equal(rd(f, VIRTIO_PCI_DEVICE_OFF + 7, 2), 0); /* past the end */
	wr(f, VIRTIO_PCI_DEVICE_OFF + 2, 2, 0xBEEF);
	assert_int_equal(f->dev.config[2], 0xEF);
	assert_int_equal(f->dev.config[3], 0xBE);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(f->dev.activations == 1);
	rd(f, VIRTIO_PCI_DEVICE_OFF, 4);
	assert_false(f->dev.config_off_worker);

	uint8_t gen = (uint8_t)rd(f, VIRTIO_PCI_CFG_GEN, 1);
	virtio_notify_config(f->dev.ctx);
	assert_int_equal(rd(f, VIRTIO_PCI_CFG_GEN, 1), (uint8_t)(gen + 1));
	assert_int_equal(f->msi.fired[0], 1);
}

static void test_activation_failure_needs_reset(void **state)
{
	struct fx *f = *state;
	f->dev.activate_err = -EIO;
	negotiate(f, split_features);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(status(f) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_queue_reset(void **state)
{
	struct fx *f = *state;
	negotiate(f, split_features | (1ULL << VIRTIO_F_RING_RESET));
	setup_queue(f, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	WAIT_FOR(f->dev.activations == 1);
	assert_true(queue_ready(f, 0));
	wr(f, VIRTIO_PCI_Q_SELECT, 2, 0);
	wr(f, VIRTIO_PCI_Q_RESET, 2, 1);
	WAIT_FOR(rd(f, VIRTIO_PCI_Q_RESET, 2) == 1);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_ENABLE, 2), 0);
	assert_false(queue_ready(f, 0));
	assert_int_equal(rd(f, VIRTIO_PCI_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	/* Re-enabled at other rings, it serves buffers again. */
	setup_queue(f, 0, 8, DESC_GPA + 0x800, AVAIL_GPA + 0x800, USED_GPA + 0x800, 1);
	assert_int_equal(rd(f, VIRTIO_PCI_Q_RESET, 2), 0);
	post_buffer(f, DESC_GPA + 0x800, AVAIL_GPA + 0x800, 0);
	wr(f, NOTIFY(0), 2, 0);
	WAIT_FOR(used_idx(f, USED_GPA + 0x800) == 1);
	assert_int_equal(f->dev.activations, 1);
}

static void test_pci_cfg_window(void **state)
{
	struct fx *f = *state;
	unsigned cap = find_cap(f->cfg, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_PCI_CFG);
	assert_int_not_equal(cap, 0);
	assert_int_equal(pci_config_read(f->cfg, cap + 2, 1), 20);
	pci_config_write(f->cfg, cap + 4, 1, 0);
	pci_config_write(f->cfg, cap + 8, 4, VIRTIO_PCI_NUM_QUEUES);
	pci_config_write(f->cfg, cap + 12, 4, 2);
	assert_int_equal(pci_config_read(f->cfg, cap + 16, 2), NQ);
	/* Writes: device_feature_select = 1 through the window. */
	pci_config_write(f->cfg, cap + 8, 4, VIRTIO_PCI_DFSELECT);
	pci_config_write(f->cfg, cap + 12, 4, 4);
	pci_config_write(f->cfg, cap + 16, 4, 1);
	assert_int_equal(rd(f, VIRTIO_PCI_DFSELECT, 4), 1);
	/* Device config through the window. */
	memcpy(f->dev.config, "\x01\x02\x03\x04", 4);
	pci_config_write(f->cfg, cap + 8, 4, VIRTIO_PCI_DEVICE_OFF);
	assert_int_equal(pci_config_read(f->cfg, cap + 16, 4), 0x04030201);
	/* Status write 0 through the window resets. */
	negotiate(f, split_features);
	pci_config_write(f->cfg, cap + 8, 4, VIRTIO_PCI_STATUS);
	pci_config_write(f->cfg, cap + 12, 4, 1);
	pci_config_write(f->cfg, cap + 16, 1, 0);
	WAIT_FOR(status(f) == 0);
	/* A misaligned window does nothing. */
	wr(f, VIRTIO_PCI_DFSELECT, 4, 0);
	pci_config_write(f->cfg, cap + 8, 4, VIRTIO_PCI_DFSELECT + 1);
	pci_config_write(f->cfg, cap + 12, 4, 2);
	pci_config_write(f->cfg, cap + 16, 2, 0xFFFF);
	assert_int_equal(rd(f, VIRTIO_PCI_DFSELECT, 4), 0);
}

static void test_doorbells_follow_bar(void **state)
{
	struct fx *f = *state;
	assert_int_equal(f->bells.nr, NQ);
	assert_true(bell_at(&f->bells, BAR_BASE + NOTIFY(0)));
	assert_true(bell_at(&f->bells, BAR_BASE + NOTIFY(1)));
	/* The guest moves the BAR (64-bit: low half, then high half). */
	uint64_t to = 0x1000000000ULL;
	pci_config_write(f->cfg, PCI_BAR0, 4, (uint32_t)to);
	pci_config_write(f->cfg, PCI_BAR0 + 4, 4, (uint32_t)(to >> 32));
	assert_int_equal(f->bells.nr, NQ);
	assert_true(bell_at(&f->bells, to + NOTIFY(0)));
	assert_true(bell_at(&f->bells, to + NOTIFY(1)));
	/* Memory decode off: no doorbells; on again: back. */
	pci_config_write(f->cfg, PCI_COMMAND, 2, 0);
	assert_int_equal(f->bells.nr, 0);
	unsigned calls = f->bells.calls;
	pci_config_write(f->cfg, PCI_COMMAND, 2, 0); /* nothing changed: no ioctl */
	assert_int_equal(f->bells.calls, calls);
	pci_config_write(f->cfg, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(bell_at(&f->bells, to + NOTIFY(1)));
	/* Sizing leaves an all-ones address: not decoded. */
	pci_config_write(f->cfg, PCI_BAR0, 4, 0xFFFFFFFF);
	pci_config_write(f->cfg, PCI_BAR0 + 4, 4, 0xFFFFFFFF);
	assert_int_equal(f->bells.nr, 0);
}

static void test_kvm_ioeventfd_follows_bar(void **state)
{
	(void)state;
	struct kvm k;
	if (kvm_open(&k, NULL) != 0) {
		printf("SKIPPED: cannot open /dev/kvm: the KVM_IOEVENTFD test did not run\n");
		skip();
	}
	uint8_t *ram = calloc(1, RAM_SIZE);
	struct guest_mem gm;
	gm_init_buffer(&gm, 0, ram, RAM_SIZE);
	struct fake_dev dev = { 0 };
	struct msi_rec msi = { 0 };
	const struct virtio_pci_host host = {
		.gm = &gm,
		.msi = { .update = rec_update, .fire = rec_fire, .ctx = &msi },
		.doorbells = ioeventfd_doorbells(&k),
	};
	struct virtio_pci *vp = virtio_pci_create(&fake_ops, &dev, NULL, &host);
	assert_non_null(vp);
	struct pci_config *cfg = virtio_pci_config(vp);
	pci_config_set_bar_addr(cfg, VIRTIO_PCI_BAR, BAR_BASE);
	pci_cfg_put(cfg, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	virtio_pci_sync_doorbells(vp);
	int probe = eventfd(0, EFD_CLOEXEC);
	/* KVM refuses a second ioeventfd on an address that has one. */
	assert_int_equal(ioeventfd_set(&k, probe, BAR_BASE + NOTIFY(1), 2, true), -EEXIST);
	uint64_t to = 0x1000000000ULL;
	pci_config_write(cfg, PCI_BAR0, 4, (uint32_t)to);
	pci_config_write(cfg, PCI_BAR0 + 4, 4, (uint32_t)(to >> 32));
	assert_int_equal(ioeventfd_set(&k, probe, to + NOTIFY(1), 2, true), -EEXIST);
	assert_int_equal(ioeventfd_set(&k, probe, BAR_BASE + NOTIFY(1), 2, true), 0);
	assert_int_equal(ioeventfd_set(&k, probe, BAR_BASE + NOTIFY(1), 2, false), 0);
	virtio_pci_destroy(vp);
	/* Destroy removed them. */
	assert_int_equal(ioeventfd_set(&k, probe, to + NOTIFY(1), 2, true), 0);
	close(probe);
	kvm_close(&k);
	free(ram);
}

/* The project's virtio-entropy over this transport, as a guest driver
 * would use it: MSI-X, negotiation, one queue, a kick, random bytes back. */
static void test_entropy_end_to_end(void **state)
{
	(void)state;
	struct virtio_entropy *e = virtio_entropy_create();
	assert_non_null(e);
	struct fx *f = make_with(&virtio_entropy_ops, e, NULL);
	assert_int_equal(pci_config_read(f->cfg, PCI_DEVICE_ID, 2), 0x1044);
	enable_msix(f);
	uint64_t df = device_features(f);
	assert_true(df >> VIRTIO_F_VERSION_1 & 1);
	assert_true(negotiate(f, 1ULL << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(f, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	wr(f, VIRTIO_PCI_STATUS, 1, status(f) | VIRTIO_STATUS_DRIVER_OK);
	post_buffer(f, DESC_GPA, AVAIL_GPA, 0);
	wr(f, NOTIFY(0), 2, 0);
	WAIT_FOR(used_idx(f, USED_GPA) == 1);
	WAIT_FOR(f->msi.fired[1] == 1);
	uint32_t len;
	memcpy(&len, f->ram + USED_GPA + VIRTQ_USED_RING(0) + 4, 4);
	assert_int_equal(len, 64);
	static const uint8_t zero[64];
	assert_memory_not_equal(f->ram + BUF_GPA, zero, 64);
	assert_false(status(f) & VIRTIO_STATUS_NEEDS_RESET);
	virtio_pci_destroy(f->vp); /* destroys e */
	free(f->ram);
	free(f);
}

static void test_bad_ops_refused(void **state)
{
	(void)state;
	struct virtio_dev_ops ops = fake_ops;
	ops.queue_max_size = VIRTQ_MAX_SIZE + 1;
	struct fake_dev dev = { 0 };
	struct guest_mem gm;
	gm_init_buffer(&gm, 0, NULL, 0);
	const struct virtio_pci_host host = { .gm = &gm };
	assert_null(virtio_pci_create(&ops, &dev, NULL, &host));
	ops = fake_ops;
	ops.num_queues = 0;
	assert_null(virtio_pci_create(&ops, &dev, NULL, &host));
	assert_int_equal(dev.destroyed, 0); /* the caller still owns dev */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ids_bar_and_caps),
		T(test_feature_negotiation),
		T(test_feature_refusal),
		cmocka_unit_test(test_no_packed_option),
		T(test_status_and_reset),
		T(test_queue_registers),
		T(test_bad_size_needs_reset),
		T(test_size_above_max_needs_reset),
		T(test_ring_outside_ram_needs_reset),
		T(test_kick_runs_device_on_worker_and_interrupts),
		T(test_kick_through_doorbell_fd),
		T(test_no_msix_no_interrupt),
		T(test_config_space_and_generation),
		T(test_activation_failure_needs_reset),
		T(test_queue_reset),
		T(test_pci_cfg_window),
		T(test_doorbells_follow_bar),
		cmocka_unit_test(test_kvm_ioeventfd_follows_bar),
		cmocka_unit_test(test_entropy_end_to_end),
		cmocka_unit_test(test_bad_ops_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
