/* The contract between a virtio device and its transport. A device is one
 * file with one `const struct virtio_dev_ops` table and knows nothing of PCI
 * (or MMIO, or vhost-user): the transport owns feature negotiation, status,
 * queue configuration, notifications and interrupts, and runs every device
 * callback on the device's own I/O worker thread — never on a vCPU thread. */
#ifndef ALIOTH_VIRTIO_VIRTIO_DEV_H
#define ALIOTH_VIRTIO_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct virtio_ctx;

/* Per-device transport options (the device's command-line options that are
 * not the device's business). A NULL pointer means all defaults. */
struct virtio_pci_opts {
	bool no_packed; /* offer split rings only (VIRTIO_F_RING_PACKED off) */
	int slot;       /* PCI slot 1..31; 0 or -1: the first free one */
	/* Another process serves the rings (vhost-user frontend): the
	 * transport neither watches the doorbells nor signals interrupts
	 * itself, and offers only features it can hand over (virtio_pci.h). */
	bool remote_rings;
};

struct virtio_dev_ops {
	const char *name;         /* "virtio-blk", for logs */
	uint16_t device_id;       /* virtio device type: 2 blk, 4 entropy ... */
	uint16_t num_queues;
	uint16_t queue_max_size;  /* <= VIRTQ_MAX_SIZE */
	uint32_t config_size;     /* device-specific configuration bytes */
	/* Device-specific feature bits. The transport adds VERSION_1,
	 * RING_PACKED, EVENT_IDX, INDIRECT_DESC and RING_RESET itself (a
	 * device option may forbid packed rings: virtio_pci_opts.no_packed). */
	uint64_t (*features)(void *dev);
	/* off + len <= config_size is checked by the transport. May be NULL. */
	void (*config_read)(void *dev, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const void *buf, uint32_t len);
	/* The driver set DRIVER_OK: features are final and every enabled queue
	 * is configured. Return 0, or -errno to set NEEDS_RESET. */
	int (*activate)(void *dev, struct virtio_ctx *ctx);
	/* The driver kicked queue `q` (worker thread). */
	void (*queue_notify)(void *dev, unsigned q);
	/* The driver reset the device: drop all queue state; in-flight requests
	 * must be finished or abandoned before returning. May be NULL. */
	void (*reset)(void *dev);
	/* Called once when the VM is torn down. May be NULL. */
	void (*destroy)(void *dev);
};

/* What a transport implements for its devices: the functions below dispatch
 * through it. A transport defines `struct virtio_ctx` itself, with a
 * `struct virtio_transport` as its first member (so one device file serves
 * PCI and vhost-user alike). A unit-test double may instead define the
 * functions below directly and link them in place of virtio_dev.c. */
struct virtio_transport_ops {
	struct virtq *(*queue)(struct virtio_ctx *ctx, unsigned q);
	uint64_t (*features)(const struct virtio_ctx *ctx);
	void (*notify_queue)(struct virtio_ctx *ctx, unsigned q);
	void (*notify_config)(struct virtio_ctx *ctx);
	void (*set_needs_reset)(struct virtio_ctx *ctx, const char *why);
	int (*watch_fd)(struct virtio_ctx *ctx, int fd, void (*cb)(void *arg), void *arg);
	void (*unwatch_fd)(struct virtio_ctx *ctx, int fd);
};

struct virtio_transport {
	const struct virtio_transport_ops *ops;
};

/* What the transport offers a device once activated. */
struct virtq *virtio_queue(struct virtio_ctx *ctx, unsigned q);
uint64_t virtio_features(const struct virtio_ctx *ctx);   /* negotiated */
bool virtio_has_feature(const struct virtio_ctx *ctx, unsigned bit);
/* After pushing used buffers on queue q: interrupts the driver if the queue's
 * notification suppression allows (virtq_needs_notify). Any thread. */
void virtio_notify_queue(struct virtio_ctx *ctx, unsigned q);
/* The device configuration changed (e.g. capacity): config interrupt. */
void virtio_notify_config(struct virtio_ctx *ctx);
/* The driver broke the rules (virtq_pop returned -1) or the device failed:
 * set NEEDS_RESET and raise a configuration interrupt. Logged once. */
void virtio_set_needs_reset(struct virtio_ctx *ctx, const char *why);
/* Watch fd on the device's worker thread: cb(arg) runs there whenever fd is
 * readable (an io_uring completion eventfd, a TAP fd ...). 0 or -errno. */
int virtio_watch_fd(struct virtio_ctx *ctx, int fd, void (*cb)(void *arg), void *arg);
void virtio_unwatch_fd(struct virtio_ctx *ctx, int fd);

#endif
