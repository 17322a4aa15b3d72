/* A small virtio 1.x PCI (modern) driver for the checks: capabilities and
 * BARs, reset and status handshake, feature negotiation, split or packed
 * queues (optionally with indirect tables and event-index suppression),
 * one request in flight at a time, completion by polling the used ring or
 * by MSI-X interrupt. Ring memory is identity-mapped guest RAM. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdint.h>

#include "pci.h"

#define VIRTIO_VENDOR          0x1AF4
#define VIRTIO_ID_BLOCK        2
#define VIRTIO_ID_ENTROPY      4
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_F_RING_PACKED   34
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED   0x80
#define VQ_MAX                 16   /* queue size used (smaller rings wrap sooner) */
#define VQ_MAX_CHAIN           4

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;   /* packed: id, flags */
};

struct vbuf {
	uint64_t addr;
	uint32_t len;
	int device_writes;
};

struct vq {
	/* split: desc, avail (+used_event), used (+avail_event);
	 * packed: desc, driver and device event suppression */
	struct vring_desc desc[VQ_MAX] __attribute__((aligned(4096)));
	struct vring_desc indirect[VQ_MAX_CHAIN] __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx, ring[VQ_MAX + 1];
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct { uint32_t id, len; } ring[VQ_MAX + 1];
	} used __attribute__((aligned(16)));
	struct { uint16_t off_wrap, flags; } drv_event __attribute__((aligned(16)));
	struct { uint16_t off_wrap, flags; } dev_event __attribute__((aligned(16)));
	volatile uint16_t *notify;
	uint16_t size, index, msix;
	uint16_t avail_idx, last_used;           /* split */
	uint16_t next_avail, next_used;          /* packed */
	int avail_wrap, used_wrap;
	uint16_t chain_len[VQ_MAX];
};

struct vdev {
	struct pci_fn fn;
	const char *name;
	volatile uint8_t *common, *isr, *devcfg, *notify_base;
	uint32_t notify_mult;
	volatile uint32_t *msix_table;
	unsigned msix_cap, msix_n;
	uint64_t offered, features;
	int use_irq, packed, indirect, event_idx;
	uint64_t irqs_before;                    /* queue vector count at submit */
	struct vq vq;                            /* queue 0, the one these checks use */
};

/* Finds the first virtio PCI function of `type` and maps its structures.
 * NULL or why not. */
const char *vdev_probe(struct vdev *d, const struct pci_host *h, unsigned type, const char *name);
/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 | want & offered),
 * FEATURES_OK, MSI-X (if use_irq), queue 0, DRIVER_OK. NULL or why not. */
const char *vdev_start(struct vdev *d, uint64_t want, int use_irq);
void vdev_reset(struct vdev *d);
uint8_t vdev_status(const struct vdev *d);
uint64_t vdev_cfg_read(const struct vdev *d, unsigned off, unsigned size);
/* The vector the queue's MSI-X entry delivers (use_irq only). */
unsigned vdev_queue_vector(const struct vdev *d);

/* Puts one chain on queue 0 (through an indirect table if negotiated and
 * asked for) and notifies the device. */
void vq_submit(struct vdev *d, const struct vbuf *bufs, unsigned n);
/* Waits for the chain's completion (interrupt or polling); 1 and the
 * written length, or 0 on timeout. */
int vq_wait(struct vdev *d, uint32_t *len);
/* submit + wait */
int vq_transfer(struct vdev *d, const struct vbuf *bufs, unsigned n, uint32_t *len);

/* Rule-breaking requests for the hostile check (split ring). */
void vq_submit_loop(struct vdev *d);                 /* desc 0 -> 1 -> 0 */
void vq_submit_avail_jump(struct vdev *d);           /* idx moves by size + 1 */
/* Waits until the device sets NEEDS_RESET; 1 if it did. */
int vdev_wait_needs_reset(const struct vdev *d);

#endif
