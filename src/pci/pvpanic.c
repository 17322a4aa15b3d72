#include "pci/pvpanic.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"

struct pvpanic {
	struct pci_config cfg;
	const struct vm_events *events;
};

static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)size;
	/* Only the first byte is the register; the rest of the page is empty. */
	return off == 0 ? PVPANIC_PANICKED | PVPANIC_CRASH_LOADED : 0;
}

/* Linux writes CRASH_LOADED when it is about to boot its kdump kernel: the
 * VM must keep running for the dump to be taken, so that is only logged. */
static void bar_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pvpanic *p = dev;

	(void)size;
	if (off != 0)
		return;
	if (val & PVPANIC_PANICKED) {
		log_error("pvpanic: the guest reported a kernel panic");
		vm_event_request(p->events, VM_EVENT_PANIC);
	} else if (val & PVPANIC_CRASH_LOADED) {
		log_warn("pvpanic: the guest is loading its crash kernel");
	}
}

const struct io_ops pvpanic_bar_ops = { .read = bar_read, .write = bar_write };

struct pvpanic *pvpanic_create(const struct vm_events *events)
{
	static const struct pci_ids ids = {
		.vendor = PVPANIC_VENDOR_ID,
		.device = PVPANIC_DEVICE_ID,
		.revision = 1,
		.class_code = 0x08, /* base system peripheral */
		.subclass = 0x80,   /* other */
	};
	struct pvpanic *p = xcalloc(1, sizeof(*p));
	struct pci_bar bar = {
		.kind = PCI_BAR_MEM64,
		.prefetchable = true,
		.size = PVPANIC_BAR_SIZE,
		.ops = &pvpanic_bar_ops,
		.dev = p,
	};

	p->events = events;
	pci_config_init(&p->cfg, &ids);
	if (pci_config_set_bar(&p->cfg, 0, &bar)) {
		pci_config_destroy(&p->cfg);
		free(p);
		return NULL;
	}
	return p;
}

struct pci_config *pvpanic_pci_config(struct pvpanic *p)
{
	return &p->cfg;
}

void pvpanic_destroy(struct pvpanic *p)
{
	if (!p)
		return;
	pci_config_destroy(&p->cfg);
	free(p);
}
