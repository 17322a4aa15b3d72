/* The virtio 1.2 PCI transport (modern only): a PCI function whose one
 * 64-bit BAR holds the common, ISR, device and notify regions and the MSI-X
 * table and PBA, with the vendor capabilities that describe them. It owns
 * feature negotiation, status, queue setup, doorbells (KVM ioeventfds that
 * follow the BAR) and MSI-X interrupts, and the device's I/O worker thread,
 * on which every device callback runs. */
#ifndef ALIOTH_VIRTIO_VIRTIO_PCI_H
#define ALIOTH_VIRTIO_VIRTIO_PCI_H

#include <stdint.h>

#include "hv/ioeventfd.h"
#include "mem/guest_mem.h"
#include "pci/config.h"
#include "pci/msix.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_PCI_VENDOR        0x1AF4
#define VIRTIO_PCI_DEVICE_BASE   0x1040 /* + virtio device type */
#define VIRTIO_F_RING_RESET      40
#define VIRTIO_MSI_NO_VECTOR     0xFFFF
#define VIRTIO_PCI_BAR           0      /* MEM64: also takes BAR1 */

/* Where the regions sit in the BAR. */
#define VIRTIO_PCI_COMMON_OFF    0x0000
#define VIRTIO_PCI_ISR_OFF       0x1000
#define VIRTIO_PCI_DEVICE_OFF    0x2000
#define VIRTIO_PCI_NOTIFY_OFF    0x3000
#define VIRTIO_PCI_NOTIFY_MULT   4      /* queue q's doorbell: NOTIFY_OFF + 4 * q */
#define VIRTIO_PCI_MSIX_OFF      0x4000 /* table, then the PBA on the next 4 KiB */
#define VIRTIO_PCI_MAX_QUEUES    1024   /* the notify region is 4 KiB */
#define VIRTIO_PCI_MAX_CONFIG    0x1000

/* virtio_pci_common_cfg field offsets. */
#define VIRTIO_PCI_DFSELECT      0x00
#define VIRTIO_PCI_DF            0x04
#define VIRTIO_PCI_GFSELECT      0x08
#define VIRTIO_PCI_GF            0x0C
#define VIRTIO_PCI_CONFIG_MSIX   0x10
#define VIRTIO_PCI_NUM_QUEUES    0x12
#define VIRTIO_PCI_STATUS        0x14
#define VIRTIO_PCI_CFG_GEN       0x15
#define VIRTIO_PCI_Q_SELECT      0x16
#define VIRTIO_PCI_Q_SIZE        0x18
#define VIRTIO_PCI_Q_MSIX        0x1A
#define VIRTIO_PCI_Q_ENABLE      0x1C
#define VIRTIO_PCI_Q_NOFF        0x1E
#define VIRTIO_PCI_Q_DESC        0x20   /* lo, then hi at +4 */
#define VIRTIO_PCI_Q_DRIVER      0x28
#define VIRTIO_PCI_Q_DEVICE      0x30
#define VIRTIO_PCI_Q_NDATA       0x38
#define VIRTIO_PCI_Q_RESET       0x3A
#define VIRTIO_PCI_COMMON_LEN    0x3C

/* virtio_pci_cap cfg_type. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

#define VIRTIO_ISR_QUEUE          0x1
#define VIRTIO_ISR_CONFIG         0x2

/* What the transport needs from the machine. */
struct virtio_pci_host {
	const struct guest_mem *gm;
	struct msi_sink msi;            /* for virtio_pci_nr_vectors() vectors */
	struct doorbell_ops doorbells;  /* set NULL: no ioeventfds, every kick exits */
	/* The eventfd that raises MSI-X vector `vector` (an irqfd), so a
	 * remote backend can interrupt the guest directly. May be NULL. */
	int (*vector_eventfd)(void *ctx, unsigned vector);
	void *vector_ctx;
};

struct virtio_pci;

/* Vectors the function has: one per queue plus the configuration vector. */
unsigned virtio_pci_nr_vectors(const struct virtio_dev_ops *ops);

/* Builds the function and its worker (not started). ops->features is called
 * here, once. opts may be NULL. NULL on a bad ops table (logged). */
struct virtio_pci *virtio_pci_create(const struct virtio_dev_ops *ops, void *dev,
				     const struct virtio_pci_opts *opts,
				     const struct virtio_pci_host *host);
/* Starts the I/O worker. 0 or -errno. */
int virtio_pci_start(struct virtio_pci *vp);
/* Stops the worker, removes the doorbells, calls ops->destroy and frees
 * everything. The function must be off every bus (no vCPU can reach it). */
void virtio_pci_destroy(struct virtio_pci *vp);

/* The function's configuration space, for pci_bus_add_device. */
struct pci_config *virtio_pci_config(struct virtio_pci *vp);
/* Places the doorbells where the BAR is now. Guest BAR moves and decode
 * toggles are followed by themselves; call this after the bus assigned
 * the BAR (it writes config space directly, unseen). */
void virtio_pci_sync_doorbells(struct virtio_pci *vp);

/* The virtio_ctx devices get: the transport itself. */
struct virtio_ctx *virtio_pci_ctx(struct virtio_pci *vp);

/* For a device created with virtio_pci_opts.remote_rings, from its
 * activate(): what a vhost-user backend needs to serve queue q directly.
 * The doorbell eventfd (the queue's ioeventfd: guest kicks reach the
 * backend without this process) and the eventfd of the MSI-X vector the
 * driver chose for the queue, or -1 when it chose none (or the board has
 * no irqfds). The transport keeps owning both fds. Features offered to the
 * driver are then the device's bits 0-23 plus VERSION_1, INDIRECT_DESC,
 * EVENT_IDX and RING_PACKED, each only if ops->features has it too. */
int virtio_pci_queue_kick_fd(struct virtio_ctx *ctx, unsigned q);
int virtio_pci_queue_call_fd(struct virtio_ctx *ctx, unsigned q);

/* The BAR, for tests and for the PCI_CFG window. */
extern const struct io_ops virtio_pci_bar_ops;

#endif
