/* MSI-X: capability layout and writable bits, table entries, pending bits
 * for masked vectors delivered on unmask, function mask, enable bit, reset;
 * with a recording msi_sink in place of KVM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pci/config.h"
#include "pci/msix.h"

#define NR 70 /* more than 64: the PBA has two qwords */

struct recorder {
	unsigned fired[NR];
	unsigned updates;
	unsigned last_vector;
	uint64_t last_addr;
	uint32_t last_data;
	bool last_masked;
};

static int rec_update(void *ctx, unsigned vector, uint64_t addr, uint32_t data, bool masked)
{
	struct recorder *r = ctx;
	r->updates++;
	r->last_vector = vector;
	r->last_addr = addr;
	r->last_data = data;
	r->last_masked = masked;
	return 0;
}

static void rec_fire(void *ctx, unsigned vector)
{
	struct recorder *r = ctx;
	__atomic_add_fetch(&r->fired[vector], 1, __ATOMIC_RELAXED);
}

struct fixture {
	struct recorder rec;
	struct pci_config cfg;
	struct msix *x;
	unsigned cap;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct pci_ids ids = { .vendor = 0x1AF4, .device = 0x1041 };
	pci_config_init(&f->cfg, &ids);
	struct msi_sink sink = { .update = rec_update, .fire = rec_fire, .ctx = &f->rec };
	f->x = msix_create(NR, &sink);
	int off = msix_add_cap(f->x, &f->cfg, 1, 0, 1, 0x800);
	if (!f->x || off <= 0)
		return -1;
	f->cap = (unsigned)off;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	msix_destroy(f->x);
	pci_config_destroy(&f->cfg);
	free(f);
	return 0;
}

static void set_control(struct fixture *f, uint16_t bits)
{
	pci_config_write(&f->cfg, f->cap + 2, 2, bits);
}

static void program(struct fixture *f, unsigned v, uint64_t addr, uint32_t data, bool masked)
{
	uint64_t base = (uint64_t)v * MSIX_ENTRY_SIZE;
	msix_table_write(f->x, base, 8, addr);
	msix_table_write(f->x, base + 8, 4, data);
	msix_table_write(f->x, base + 12, 4, masked ? MSIX_VECTOR_MASKED : 0);
}

static bool pba_bit(struct fixture *f, unsigned v)
{
	return msix_pba_read(f->x, v / 64 * 8, 8) >> (v % 64) & 1;
}

static void test_capability(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->cap, 0x40);
	assert_int_equal(pci_config_read(&f->cfg, PCI_CAP_PTR, 1), 0x40);
	assert_true(pci_config_read(&f->cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(pci_config_read(&f->cfg, f->cap, 4), (NR - 1) << 16 | PCI_CAP_ID_MSIX);
	assert_int_equal(pci_config_read(&f->cfg, f->cap + 4, 4), 0x000 | 1);   /* table, BIR 1 */
	assert_int_equal(pci_config_read(&f->cfg, f->cap + 8, 4), 0x800 | 1);   /* PBA, BIR 1 */
	/* Only enable and function mask are writable. */
	set_control(f, 0xFFFF);
	assert_int_equal(pci_config_read(&f->cfg, f->cap + 2, 2), 0xC000 | (NR - 1));
	assert_true(msix_enabled(f->x));
	pci_config_write(&f->cfg, f->cap + 4, 4, 0xFFFFFFFF);
	assert_int_equal(pci_config_read(&f->cfg, f->cap + 4, 4), 1);
	/* A dword write at the capability start reaches Message Control too. */
	pci_config_write(&f->cfg, f->cap, 4, 0);
	assert_false(msix_enabled(f->x));
	assert_int_equal(msix_table_size(NR), NR * 16);
	assert_int_equal(msix_pba_size(NR), 16);
	assert_null(msix_create(0, &(struct msi_sink){ 0 }));
	assert_null(msix_create(2049, &(struct msi_sink){ 0 }));
}

static void test_table_entries(void **state)
{
	struct fixture *f = *state;
	/* Reset state: every vector masked, message zero. */
	for (unsigned v = 0; v < NR; v++)
		assert_int_equal(msix_table_read(f->x, v * 16 + 12, 4), 1);
	assert_int_equal(msix_table_read(f->x, 16, 8), 0);
	msix_table_write(f->x, 5 * 16, 4, 0xFEE01007);  /* low 2 bits are not stored */
	msix_table_write(f->x, 5 * 16 + 4, 4, 0x1);
	msix_table_write(f->x, 5 * 16 + 8, 4, 0x4041);
	msix_table_write(f->x, 5 * 16 + 12, 4, 0xFFFFFFFE);  /* unmask; reserved bits drop */
	assert_int_equal(msix_table_read(f->x, 5 * 16, 8), 0x1FEE01004ULL);
	assert_int_equal(msix_table_read(f->x, 5 * 16 + 8, 8), 0x4041);
	assert_int_equal(msix_table_read(f->x, 5 * 16 + 9, 1), 0x40);
	/* Past the table: all ones, writes dropped. */
	assert_int_equal(msix_table_read(f->x, NR * 16, 4), 0xFFFFFFFF);
	msix_table_write(f->x, NR * 16, 4, 0);
	/* The io_ops wrappers see the same table. */
	assert_int_equal(msix_table_ops.read(f->x, 5 * 16 + 8, 4), 0x4041);
	/* The PBA is read-only. */
	msix_pba_ops.write(f->x, 0, 8, ~0ULL);
	assert_int_equal(msix_pba_ops.read(f->x, 0, 8), 0);
	assert_int_equal(msix_pba_read(f->x, 8, 8), 0);
}

static void test_disabled_sends_nothing(void **state)
{
	struct fixture *f = *state;
	program(f, 0, 0xFEE00000, 0x30, false);
	assert_false(msix_notify(f->x, 0));
	assert_int_equal(f->rec.fired[0], 0);
	assert_false(pba_bit(f, 0));
	/* While disabled the sink sees the vector as masked. */
	assert_true(f->rec.last_masked);
	assert_false(msix_notify(f->x, NR));  /* out of range */
}

static void test_masked_vector_pends_and_unmask_delivers(void **state)
{
	struct fixture *f = *state;
	set_control(f, MSIX_CTRL_ENABLE);
	program(f, 67, 0xFEE00000, 0x41, true);
	assert_true(msix_notify(f->x, 67));
	assert_true(msix_notify(f->x, 67));
	assert_int_equal(f->rec.fired[67], 0);
	assert_true(pba_bit(f, 67));
	assert_false(pba_bit(f, 3));
	unsigned updates = f->rec.updates;
	/* Unmask: one delivery for any number of pending notifications. */
	msix_table_write(f->x, 67 * 16 + 12, 4, 0);
	assert_int_equal(f->rec.fired[67], 1);
	assert_false(pba_bit(f, 67));
	assert_int_equal(f->rec.updates, updates + 1);
	assert_int_equal(f->rec.last_vector, 67);
	assert_false(f->rec.last_masked);
	assert_int_equal(f->rec.last_addr, 0xFEE00000);
	assert_int_equal(f->rec.last_data, 0x41);
	/* Unmasked: delivered at once. */
	assert_true(msix_notify(f->x, 67));
	assert_int_equal(f->rec.fired[67], 2);
	/* A new message while unmasked is passed on; the same one is not. */
	msix_table_write(f->x, 67 * 16 + 8, 4, 0x42);
	assert_int_equal(f->rec.last_data, 0x42);
	updates = f->rec.updates;
	msix_table_write(f->x, 67 * 16 + 8, 4, 0x42);
	assert_int_equal(f->rec.updates, updates);
}

static void test_function_mask(void **state)
{
	struct fixture *f = *state;
	set_control(f, MSIX_CTRL_ENABLE);
	program(f, 1, 0xFEE00000, 0x51, false);
	program(f, 2, 0xFEE00000, 0x52, true);
	set_control(f, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	assert_true(f->rec.last_masked);
	assert_true(msix_notify(f->x, 1));
	assert_true(msix_notify(f->x, 2));
	assert_int_equal(f->rec.fired[1], 0);
	assert_true(pba_bit(f, 1));
	assert_true(pba_bit(f, 2));
	/* Clearing the function mask delivers vector 1; 2 is still masked. */
	set_control(f, MSIX_CTRL_ENABLE);
	assert_int_equal(f->rec.fired[1], 1);
	assert_false(pba_bit(f, 1));
	assert_int_equal(f->rec.fired[2], 0);
	assert_true(pba_bit(f, 2));
	/* Disabling keeps the pending bit; re-enabling alone does not unmask. */
	set_control(f, 0);
	set_control(f, MSIX_CTRL_ENABLE);
	assert_true(pba_bit(f, 2));
	msix_table_write(f->x, 2 * 16 + 12, 4, 0);
	assert_int_equal(f->rec.fired[2], 1);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;
	set_control(f, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	program(f, 9, 0xFEE00000, 0x61, false);
	msix_notify(f->x, 9);
	assert_true(pba_bit(f, 9));
	msix_reset(f->x);
	assert_false(msix_enabled(f->x));
	assert_int_equal(pci_config_read(&f->cfg, f->cap + 2, 2), NR - 1);
	assert_false(pba_bit(f, 9));
	assert_int_equal(msix_table_read(f->x, 9 * 16 + 12, 4), 1);
	assert_int_equal(msix_table_read(f->x, 9 * 16, 8), 0);
}

struct notifier {
	struct msix *x;
	unsigned vector;
};

static void *notify_many(void *arg)
{
	struct notifier *n = arg;
	for (int i = 0; i < 10000; i++)
		msix_notify(n->x, n->vector);
	return NULL;
}

static void test_concurrent_notify(void **state)
{
	struct fixture *f = *state;
	set_control(f, MSIX_CTRL_ENABLE);
	program(f, 4, 0xFEE00000, 0x70, false);
	pthread_t t[4];
	struct notifier n = { f->x, 4 };
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, notify_many, &n);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(f->rec.fired[4], 40000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_sends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masked_vector_pends_and_unmask_delivers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_notify, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
