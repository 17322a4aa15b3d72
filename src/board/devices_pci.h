/* The PCI devices the command line asks for, in Alioth's order: pvpanic
 * (--pvpanic), virtio-entropy (--entropy) and one virtio-blk per --blk.
 * Virtio devices belong to board/virtio_board.c once added; pvpanic is
 * kept here. */
#ifndef ALIOTH_BOARD_DEVICES_PCI_H
#define ALIOTH_BOARD_DEVICES_PCI_H

struct machine;
struct board_pci_devices;

/* After the PCI bus and IRQ routing exist, before the vCPUs start. A disk
 * image that is missing, unreadable or locked is logged as one error line
 * naming it. Returns 0 or -errno; *out is set either way (may be NULL). */
int board_add_pci_devices(struct machine *m, struct board_pci_devices **out);
/* After pci_bus_destroy. NULL is fine. */
void board_pci_devices_destroy(struct board_pci_devices *d);

#endif
