/* The host bridge function at 00:00.0: a type 0 header with no BARs and
 * Alioth's IDs (AMD 0x1022:0x1480, class 06/00 "host bridge"). */
#ifndef ALIOTH_PCI_HOST_BRIDGE_H
#define ALIOTH_PCI_HOST_BRIDGE_H

#include "pci/config.h"

#define PCI_HOST_BRIDGE_VENDOR 0x1022
#define PCI_HOST_BRIDGE_DEVICE 0x1480

void pci_host_bridge_init(struct pci_config *cfg);

#endif
