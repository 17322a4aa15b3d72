/* PCI config space: header fields, write masks, RW1C status bits, BAR sizing
 * for every BAR kind, capability list walk and capability hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pci/config.h"

static const struct pci_ids ids = {
	.vendor = 0x1AF4, .device = 0x1042, .subsystem_vendor = 0x1AF4, .subsystem = 0x0002,
	.revision = 1, .class_code = 0x01, .subclass = 0x80, .prog_if = 0x00,
};

static void test_header_ids(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	assert_int_equal(pci_config_read(&c, PCI_VENDOR_ID, 4), 0x10421AF4);
	assert_int_equal(pci_config_read(&c, PCI_REVISION_ID, 4), 0x01800001);
	assert_int_equal(pci_config_read(&c, PCI_SUBSYSTEM_VENDOR, 4), 0x00021AF4);
	assert_int_equal(pci_config_read(&c, PCI_HEADER_TYPE, 1), 0);
	/* Unaligned and 1-byte reads see the same bytes. */
	assert_int_equal(pci_config_read(&c, 1, 2), 0x421A);
	assert_int_equal(pci_config_read(&c, 0xB, 1), 0x01);
	/* IDs are read-only. */
	pci_config_write(&c, PCI_VENDOR_ID, 4, 0xFFFFFFFF);
	assert_int_equal(pci_config_read(&c, PCI_VENDOR_ID, 4), 0x10421AF4);
	/* No capabilities yet: the list bit is clear. */
	assert_int_equal(pci_config_read(&c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	pci_config_destroy(&c);
}

static void test_command_mask_and_status_rw1c(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	pci_config_write(&c, PCI_COMMAND, 2, 0xFFFF);
	assert_int_equal(pci_config_read(&c, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
			 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	pci_config_write(&c, PCI_COMMAND, 1, 0x02);  /* low byte only */
	assert_int_equal(pci_config_read(&c, PCI_COMMAND, 2),
			 PCI_COMMAND_INTX_DISABLE | PCI_COMMAND_SERR | PCI_COMMAND_MEMORY);

	/* Error bits set by the device; the guest clears them with 1s. */
	c.data[PCI_STATUS + 1] = 0xF9;  /* 0xF900 */
	c.data[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	pci_config_write(&c, PCI_STATUS, 2, 0x2000);  /* clears only bit 13 */
	assert_int_equal(pci_config_read(&c, PCI_STATUS, 2), 0xD900 | PCI_STATUS_INTERRUPT);
	/* Writing 0 clears nothing; the interrupt bit is read-only. */
	pci_config_write(&c, PCI_STATUS, 2, PCI_STATUS_INTERRUPT);
	assert_int_equal(pci_config_read(&c, PCI_STATUS, 2), 0xD900 | PCI_STATUS_INTERRUPT);
	/* A dword write to COMMAND|STATUS sets command and clears status bits. */
	pci_config_write(&c, PCI_COMMAND, 4, 0xFFFF0000 | PCI_COMMAND_MASTER);
	assert_int_equal(pci_config_read(&c, PCI_COMMAND, 4),
			 (uint32_t)PCI_STATUS_INTERRUPT << 16 | PCI_COMMAND_MASTER);
	pci_config_destroy(&c);
}

static void test_interrupt_line_pin(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	pci_config_set_intx(&c, 1, 10);
	assert_int_equal(pci_config_read(&c, PCI_INTERRUPT_LINE, 2), 0x010A);
	pci_config_write(&c, PCI_INTERRUPT_LINE, 2, 0x0405);
	/* Line is a scratch register for the OS; the pin is fixed. */
	assert_int_equal(pci_config_read(&c, PCI_INTERRUPT_LINE, 2), 0x0105);
	pci_config_destroy(&c);
}

static uint32_t size_bar(struct pci_config *c, unsigned idx)
{
	unsigned off = PCI_BAR0 + 4 * idx;
	uint32_t old = (uint32_t)pci_config_read(c, off, 4);
	pci_config_write(c, off, 4, 0xFFFFFFFF);
	uint32_t v = (uint32_t)pci_config_read(c, off, 4);
	pci_config_write(c, off, 4, old);
	return v;
}

static void test_bar_sizing(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	struct pci_bar io = { .kind = PCI_BAR_IO, .size = 0x20 };
	struct pci_bar m32 = { .kind = PCI_BAR_MEM32, .size = 0x1000 };
	struct pci_bar m32p = { .kind = PCI_BAR_MEM32, .size = 0x100000, .prefetchable = true };
	struct pci_bar m64 = { .kind = PCI_BAR_MEM64, .size = 0x200000000ULL, .prefetchable = true };
	assert_int_equal(pci_config_set_bar(&c, 0, &io), 0);
	assert_int_equal(pci_config_set_bar(&c, 1, &m32), 0);
	assert_int_equal(pci_config_set_bar(&c, 2, &m32p), 0);
	assert_int_equal(pci_config_set_bar(&c, 3, &m64), 0);

	assert_int_equal(size_bar(&c, 0), 0x0000FFE1);  /* 16-bit decoder, IO flag */
	assert_int_equal(size_bar(&c, 1), 0xFFFFF000);
	assert_int_equal(size_bar(&c, 2), 0xFFF00008);
	/* 8 GiB 64-bit: low dword all address bits zero, high dword ~1. */
	assert_int_equal(size_bar(&c, 3), 0x0000000C);
	assert_int_equal(size_bar(&c, 4), 0xFFFFFFFE);
	assert_int_equal(size_bar(&c, 5), 0);  /* unused BAR */

	/* Sizing restored the old value (0) and flags survive address writes. */
	pci_config_write(&c, PCI_BAR0 + 4, 4, 0x80001234);
	assert_int_equal(pci_config_read(&c, PCI_BAR0 + 4, 4), 0x80001000);
	pci_config_write(&c, PCI_BAR0, 4, 0xC0A3);
	assert_int_equal(pci_config_read(&c, PCI_BAR0, 4), 0xC0A1);
	assert_int_equal(pci_config_bar_addr(&c, 0), 0xC0A0);
	pci_config_write(&c, PCI_BAR0 + 16, 4, 0x00000003);
	pci_config_set_bar_addr(&c, 3, 0x1200000000ULL);
	assert_int_equal(pci_config_read(&c, PCI_BAR0 + 12, 4), 0x0000000C);
	assert_int_equal(pci_config_bar_addr(&c, 3), 0x1200000000ULL);

	/* Bad descriptions are refused. */
	struct pci_bar odd = { .kind = PCI_BAR_MEM32, .size = 0x3000 };
	struct pci_bar tiny_io = { .kind = PCI_BAR_IO, .size = 2 };
	assert_int_equal(pci_config_set_bar(&c, 5, &odd), -EINVAL);
	assert_int_equal(pci_config_set_bar(&c, 5, &tiny_io), -EINVAL);
	assert_int_equal(pci_config_set_bar(&c, 5, &m64), -EINVAL); /* needs BAR 6 */
	pci_config_destroy(&c);
}

static void test_small_mem64_bar(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	struct pci_bar m64 = { .kind = PCI_BAR_MEM64, .size = 0x4000 };
	assert_int_equal(pci_config_set_bar(&c, 0, &m64), 0);
	assert_int_equal(size_bar(&c, 0), 0xFFFFC004);
	assert_int_equal(size_bar(&c, 1), 0xFFFFFFFF);
	pci_config_destroy(&c);
}

struct hook_log {
	unsigned reads, writes, last_off, last_size;
};

static void hook_read(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	struct hook_log *l = ctx;
	l->reads++;
	l->last_off = off;
	l->last_size = size;
	(void)cfg;
}

static void hook_write(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	struct hook_log *l = ctx;
	l->writes++;
	l->last_off = off;
	l->last_size = size;
	(void)cfg;
}

static const struct pci_cap_hook logging_hook = { .before_read = hook_read, .after_write = hook_write };

static void test_capability_list(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	uint8_t vndr[16] = { PCI_CAP_ID_VNDR, 0xEE, 16, 1, 2, 3 };
	uint8_t vmask[16] = { 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF };
	uint8_t msix[12] = { PCI_CAP_ID_MSIX, 0, 0x07, 0x00 };
	uint8_t vndr2[5] = { PCI_CAP_ID_VNDR, 0, 5, 9, 9 };
	struct hook_log log = { 0 };
	unsigned a = pci_config_add_cap(&c, vndr, sizeof(vndr), vmask, NULL, NULL);
	unsigned b = pci_config_add_cap(&c, msix, sizeof(msix), NULL, &logging_hook, &log);
	unsigned d = pci_config_add_cap(&c, vndr2, sizeof(vndr2), NULL, NULL, NULL);
	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x50);
	assert_int_equal(d, 0x5C);
	assert_true(pci_config_read(&c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);

	/* Walk the list like a guest does. */
	unsigned ids_seen[8], n = 0;
	for (unsigned p = pci_config_read(&c, PCI_CAP_PTR, 1); p && n < 8;
	     p = pci_config_read(&c, p + 1, 1))
		ids_seen[n++] = (unsigned)pci_config_read(&c, p, 1);
	assert_int_equal(n, 3);
	assert_int_equal(ids_seen[0], PCI_CAP_ID_VNDR);
	assert_int_equal(ids_seen[1], PCI_CAP_ID_MSIX);
	assert_int_equal(ids_seen[2], PCI_CAP_ID_VNDR);
	assert_int_equal(pci_config_read(&c, 0x42, 4), 0x03020110);

	/* ID and next stay read-only even when the wmask says otherwise;
	 * masked bytes take writes. */
	pci_config_write(&c, 0x40, 2, 0xFFFF);
	assert_int_equal(pci_config_read(&c, 0x40, 2), 0x5009);
	pci_config_write(&c, 0x48, 4, 0xCAFEF00D);
	assert_int_equal(pci_config_read(&c, 0x48, 4), 0xCAFEF00D);
	pci_config_write(&c, 0x44, 4, 0xFFFFFFFF);
	assert_int_equal(pci_config_read(&c, 0x44, 4), 0x00000302);

	/* The hook sees capability-relative offsets, clipped to the cap. The
	 * walk above read the MSI-X ID and next pointer. */
	assert_int_equal(log.reads, 2);
	log.reads = 0;
	pci_config_read(&c, 0x52, 2);
	assert_int_equal(log.reads, 1);
	assert_int_equal(log.last_off, 2);
	assert_int_equal(log.last_size, 2);
	pci_config_write(&c, 0x4C, 8, 0);  /* last dword of vndr, first of msix */
	assert_int_equal(log.writes, 1);
	assert_int_equal(log.last_off, 0);
	assert_int_equal(log.last_size, 4);
	pci_config_read(&c, 0x48, 4);  /* another capability */
	assert_int_equal(log.reads, 1);

	/* Capabilities must fit below 0x100. */
	uint8_t big[0xA0] = { PCI_CAP_ID_VNDR };
	assert_int_equal(pci_config_add_cap(&c, big, sizeof(big), NULL, NULL, NULL), 0);
	pci_config_destroy(&c);
}

static void test_out_of_range_access(void **state)
{
	(void)state;
	struct pci_config c;
	pci_config_init(&c, &ids);
	/* Extended space exists and reads 0; bytes past 4 KiB read all ones. */
	assert_int_equal(pci_config_read(&c, 0x100, 4), 0);
	assert_int_equal(pci_config_read(&c, 0xFFE, 4), 0xFFFF0000);
	assert_int_equal(pci_config_read(&c, 0x1000, 4), 0xFFFFFFFFFFFFFFFFULL);
	pci_config_write(&c, 0xFFF, 4, 0xFFFFFFFF);  /* must not write past the end */
	assert_int_equal(pci_config_read(&c, 0xFFC, 4), 0);
	pci_config_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_ids),
		cmocka_unit_test(test_command_mask_and_status_rw1c),
		cmocka_unit_test(test_interrupt_line_pin),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_small_mem64_bar),
		cmocka_unit_test(test_capability_list),
		cmocka_unit_test(test_out_of_range_access),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
