/* The pvpanic PCI device (1b36:0011, QEMU's "pvpanic-pci"): one byte-wide
 * register in a 4 KiB MEM BAR. Reading it tells the guest which events the
 * device understands; the guest writes PANICKED when its kernel panics,
 * which asks the machine to stop with VM_EVENT_PANIC. */
#ifndef ALIOTH_PCI_PVPANIC_H
#define ALIOTH_PCI_PVPANIC_H

#include "dev/events.h"
#include "pci/config.h"

#define PVPANIC_VENDOR_ID   0x1b36
#define PVPANIC_DEVICE_ID   0x0011
#define PVPANIC_BAR_SIZE    0x1000
#define PVPANIC_PANICKED    0x01 /* the guest kernel panicked */
#define PVPANIC_CRASH_LOADED 0x02 /* it is starting its crash (kdump) kernel */

struct pvpanic;

/* events must outlive the device. */
struct pvpanic *pvpanic_create(const struct vm_events *events);
/* Its configuration space, for pci_bus_add_device. */
struct pci_config *pvpanic_pci_config(struct pvpanic *p);
/* After the device is off the bus. NULL is fine. */
void pvpanic_destroy(struct pvpanic *p);

/* The BAR, for tests. */
extern const struct io_ops pvpanic_bar_ops;

#endif
