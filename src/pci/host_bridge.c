#include "pci/host_bridge.h"

void pci_host_bridge_init(struct pci_config *cfg)
{
	const struct pci_ids ids = {
		.vendor = PCI_HOST_BRIDGE_VENDOR,
		.device = PCI_HOST_BRIDGE_DEVICE,
		.class_code = 0x06,
		.subclass = 0x00,
	};
	pci_config_init(cfg, &ids);
}
