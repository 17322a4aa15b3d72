/* Virtio devices on the machine's PCI bus: each gets a virtio-pci function
 * with its own MSI-X vectors, ioeventfd doorbells and I/O worker thread.
 * Devices are added while the machine is built (before vCPUs start) and
 * all torn down together. */
#ifndef ALIOTH_BOARD_VIRTIO_BOARD_H
#define ALIOTH_BOARD_VIRTIO_BOARD_H

#include "virtio/virtio_dev.h"

struct machine;

/* Places the device (ops + its state dev) in a PCI slot and starts its
 * worker. opts may be NULL. From then on the machine owns dev (ops->destroy
 * at teardown); on failure dev is destroyed here too. Returns 0 or -errno. */
int board_add_virtio(struct machine *m, const struct virtio_dev_ops *ops, void *dev,
		     const struct virtio_pci_opts *opts);
/* Stops every worker and frees every device. Call with the vCPUs stopped,
 * after pci_bus_destroy (the bus reads the functions' BARs until then) and
 * before irq_routing_destroy (the MSI vectors are freed here). */
void board_virtio_destroy_all(struct machine *m);

#endif
