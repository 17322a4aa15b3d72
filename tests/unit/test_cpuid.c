/* CPUID tables and APIC ID numbering for the configured topology. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/cpuid.h"

static struct cpu_config topo(uint16_t count, bool smt, uint16_t cores, uint8_t sockets, bool contig)
{
	struct cpu_config c = { .count = count };
	c.topology.smt = smt;
	c.topology.cores = cores;
	c.topology.sockets = sockets;
	c.topology.thread_contiguous = contig;
	return c;
}

static void apic_ids_single_socket(void **state)
{
	(void)state;
	struct cpu_config c = topo(4, false, 4, 1, false);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(x86_apic_id(&c, i), i);
}

static void apic_ids_smt_default_numbering(void **state)
{
	(void)state;
	/* 2 sockets x 2 cores x 2 threads; Alioth numbers thread 0 of every core first. */
	struct cpu_config c = topo(8, true, 2, 2, false);
	/* index: socket core thread -> apic = socket<<2 | core<<1 | thread */
	const uint32_t want[8] = { 0, 2, 4, 6, 1, 3, 5, 7 };
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(x86_apic_id(&c, i), want[i]);
}

static void apic_ids_smt_contiguous(void **state)
{
	(void)state;
	struct cpu_config c = topo(8, true, 2, 2, true);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(x86_apic_id(&c, i), i);
}

static void apic_ids_cores_not_power_of_two(void **state)
{
	(void)state;
	/* 3 cores need 2 APIC ID bits: socket 1 starts at 4. */
	struct cpu_config c = topo(6, false, 3, 2, true);
	const uint32_t want[6] = { 0, 1, 2, 4, 5, 6 };
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(x86_apic_id(&c, i), want[i]);
}

static struct kvm_cpuid2 *fake_supported(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(c->entries[0]));
	c->nent = 4;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xAA55, .ecx = 0x1, .edx = 0 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0xB, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xB, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001 };
	return c;
}

static void leaf1_has_hypervisor_bit_and_apic_id(void **state)
{
	(void)state;
	struct kvm_cpuid2 *sup = fake_supported();
	struct cpu_config c = topo(4, true, 2, 1, true);
	struct kvm_cpuid2 *t = x86_cpuid_for_vcpu(sup, &c, 3);
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(t, 1, 0);
	assert_non_null(e);
	assert_true(e->ecx & (1U << 31));
	assert_true(e->ecx & 1U);                    /* host bits kept */
	assert_int_equal(e->ebx >> 24, 3);           /* APIC ID */
	assert_int_equal((e->ebx >> 16) & 0xff, 4);  /* logical CPUs per package */
	assert_int_equal(e->ebx & 0xffff, 0xAA55);   /* low bits untouched */
	assert_true(e->edx & (1U << 28));            /* HTT */
	assert_non_null(x86_cpuid_find(t, 0x40000000, 0));
	free(t);
	free(sup);
}

static void leaf_b_describes_smt_and_core_levels(void **state)
{
	(void)state;
	struct kvm_cpuid2 *sup = fake_supported();
	struct cpu_config c = topo(8, true, 4, 1, true);
	struct kvm_cpuid2 *t = x86_cpuid_for_vcpu(sup, &c, 5);
	struct kvm_cpuid_entry2 *smt = x86_cpuid_find(t, 0xB, 0);
	struct kvm_cpuid_entry2 *core = x86_cpuid_find(t, 0xB, 1);
	assert_int_equal(smt->eax, 1);
	assert_int_equal(smt->ebx, 2);
	assert_int_equal(smt->ecx, 0x100);
	assert_int_equal(smt->edx, 5);
	assert_int_equal(core->eax, 3);
	assert_int_equal(core->ebx, 8);
	assert_int_equal(core->ecx, 0x201);
	assert_int_equal(core->edx, 5);
	free(t);
	free(sup);
}

/* A host whose KVM lists only the SMT level of leaf 0xB (a one-core CPU):
 * the guest still gets the core level and the terminating subleaf. */
static void leaf_b_core_level_added_when_host_lacks_it(void **state)
{
	(void)state;
	struct kvm_cpuid2 *sup = fake_supported();
	sup->nent = 2; /* leaf 1 and 0xB.0 only */
	struct cpu_config c = topo(4, true, 2, 1, false);
	struct kvm_cpuid2 *t = x86_cpuid_for_vcpu(sup, &c, 1);
	struct kvm_cpuid_entry2 *core = x86_cpuid_find(t, 0xB, 1);
	struct kvm_cpuid_entry2 *end = x86_cpuid_find(t, 0xB, 2);
	assert_non_null(core);
	assert_non_null(end);
	assert_int_equal(core->ebx, 4);
	assert_int_equal(core->ecx, 0x201);
	assert_int_equal(core->edx, 2); /* index 1 = core 1, thread 0 */
	assert_int_equal(end->ecx & 0xff00, 0);
	free(t);
	free(sup);
}

static void single_cpu_has_no_htt(void **state)
{
	(void)state;
	struct kvm_cpuid2 *sup = fake_supported();
	sup->entries[0].edx = 1U << 28;
	struct cpu_config c = topo(1, false, 1, 1, false);
	struct kvm_cpuid2 *t = x86_cpuid_for_vcpu(sup, &c, 0);
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(t, 1, 0);
	assert_false(e->edx & (1U << 28));
	assert_int_equal(e->ebx >> 24, 0);
	free(t);
	free(sup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(apic_ids_single_socket),
		cmocka_unit_test(apic_ids_smt_default_numbering),
		cmocka_unit_test(apic_ids_smt_contiguous),
		cmocka_unit_test(apic_ids_cores_not_power_of_two),
		cmocka_unit_test(leaf1_has_hypervisor_bit_and_apic_id),
		cmocka_unit_test(leaf_b_describes_smt_and_core_levels),
		cmocka_unit_test(single_cpu_has_no_htt),
		cmocka_unit_test(leaf_b_core_level_added_when_host_lacks_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
