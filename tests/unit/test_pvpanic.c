/* pvpanic PCI: IDs and BAR as the guest sees them in config space, the
 * register's supported-events value, and which writes ask for
 * VM_EVENT_PANIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pci/pvpanic.h"

struct recorder {
	unsigned panics, others;
};

static void record(void *ctx, enum vm_event ev)
{
	struct recorder *r = ctx;
	if (ev == VM_EVENT_PANIC)
		r->panics++;
	else
		r->others++;
}

static void test_config_space(void **state)
{
	struct recorder r = { 0, 0 };
	struct vm_events ev = { record, &r };
	struct pvpanic *p = pvpanic_create(&ev);
	struct pci_config *cfg = pvpanic_pci_config(p);

	(void)state;
	assert_int_equal(pci_config_read(cfg, PCI_VENDOR_ID, 2), 0x1b36);
	assert_int_equal(pci_config_read(cfg, PCI_DEVICE_ID, 2), 0x0011);
	assert_int_equal(pci_config_read(cfg, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_config_read(cfg, PCI_CLASS_DEVICE, 2), 0x0880);
	/* BAR0: 64-bit prefetchable memory, 4 KiB (sizing). */
	assert_int_equal(pci_config_read(cfg, PCI_BAR0, 4) & 0xF,
			 PCI_BAR_MEM_TYPE_64 | PCI_BAR_MEM_PREFETCH);
	pci_config_write(cfg, PCI_BAR0, 4, 0xFFFFFFFF);
	pci_config_write(cfg, PCI_BAR0 + 4, 4, 0xFFFFFFFF);
	assert_int_equal(pci_config_read(cfg, PCI_BAR0, 4) & ~0xFu, 0xFFFFF000u);
	assert_int_equal(pci_config_read(cfg, PCI_BAR0 + 4, 4), 0xFFFFFFFFu);
	pvpanic_destroy(p);
}

static void test_register(void **state)
{
	struct recorder r = { 0, 0 };
	struct vm_events ev = { record, &r };
	struct pvpanic *p = pvpanic_create(&ev);

	(void)state;
	assert_int_equal(pvpanic_bar_ops.read(p, 0, 1), PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	assert_int_equal(pvpanic_bar_ops.read(p, 8, 1), 0);
	/* The crash kernel is loading: the VM keeps running. */
	pvpanic_bar_ops.write(p, 0, 1, PVPANIC_CRASH_LOADED);
	pvpanic_bar_ops.write(p, 0, 1, 0);
	pvpanic_bar_ops.write(p, 4, 1, PVPANIC_PANICKED); /* not the register */
	assert_int_equal(r.panics, 0);
	pvpanic_bar_ops.write(p, 0, 1, PVPANIC_PANICKED);
	assert_int_equal(r.panics, 1);
	pvpanic_bar_ops.write(p, 0, 1, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	assert_int_equal(r.panics, 2);
	assert_int_equal(r.others, 0);
	pvpanic_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_register),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
