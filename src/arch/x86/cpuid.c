#include "arch/x86/cpuid.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define CPUID1_ECX_HYPERVISOR (1U << 31)
#define CPUID1_EDX_HTT        (1U << 28)

struct topo {
	unsigned threads;    /* per core */
	unsigned cores;      /* per socket */
	unsigned sockets;
	unsigned smt_bits;   /* APIC ID bits for the thread */
	unsigned core_bits;  /* APIC ID bits for the core */
};

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1U << b) < n)
		b++;
	return b;
}

static struct topo topo_of(const struct cpu_config *cpu)
{
	struct topo t;
	t.threads = cpu->topology.smt ? 2 : 1;
	t.sockets = cpu->topology.sockets ? cpu->topology.sockets : 1;
	t.cores = cpu->topology.cores;
	if (t.cores == 0)
		t.cores = MAX(1U, cpu->count / t.sockets / t.threads);
	t.smt_bits = bits_for(t.threads);
	t.core_bits = bits_for(t.cores);
	return t;
}

uint32_t x86_apic_id(const struct cpu_config *cpu, unsigned index)
{
	struct topo t = topo_of(cpu);
	unsigned socket, core, thread;
	if (cpu->topology.thread_contiguous) {
		thread = index % t.threads;
		core = index / t.threads % t.cores;
		socket = index / t.threads / t.cores;
	} else {
		/* Alioth's default numbering: first thread of every core, then the siblings. */
		unsigned total_cores = t.cores * t.sockets;
		thread = index / total_cores;
		core = index % total_cores % t.cores;
		socket = index % total_cores / t.cores;
	}
	return (socket << (t.core_bits + t.smt_bits)) | (core << t.smt_bits) | thread;
}

struct kvm_cpuid_entry2 *x86_cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

static void set_leaf1(struct kvm_cpuid_entry2 *e, const struct topo *t, uint32_t apic_id)
{
	unsigned logical = 1U << (t->core_bits + t->smt_bits);
	e->ecx |= CPUID1_ECX_HYPERVISOR;
	e->ebx = (e->ebx & 0x0000FFFF) | (MIN(logical, 255U) << 16) | ((apic_id & 0xFF) << 24);
	if (logical > 1)
		e->edx |= CPUID1_EDX_HTT;
	else
		e->edx &= ~CPUID1_EDX_HTT;
}

static void set_leaf4(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	if ((e->eax & 0x1F) == 0) /* no cache at this subleaf */
		return;
	unsigned level = (e->eax >> 5) & 7;
	unsigned sharing = level >= 3 ? (1U << (t->core_bits + t->smt_bits)) : t->threads;
	e->eax &= 0x00003FFF;
	e->eax |= (((1U << t->core_bits) - 1) << 26) | ((sharing - 1) << 14);
}

/* Leaf 0xB / 0x1F: subleaf 0 is the SMT level, 1 the core level. */
static void set_ext_topology(struct kvm_cpuid_entry2 *e, const struct topo *t, uint32_t apic_id)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0:
		e->eax = t->smt_bits;
		e->ebx = t->threads;
		e->ecx = (1U << 8) | 0;
		break;
	case 1:
		e->eax = t->smt_bits + t->core_bits;
		e->ebx = t->threads * t->cores;
		e->ecx = (2U << 8) | 1;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void set_amd_leaves(struct kvm_cpuid2 *c, const struct topo *t, uint32_t apic_id)
{
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(c, 0x80000008, 0);
	if (e) {
		e->ecx &= ~0xF0FFU;
		e->ecx |= ((t->threads * t->cores - 1) & 0xFF) | ((t->core_bits + t->smt_bits) << 12);
	}
	e = x86_cpuid_find(c, 0x8000001E, 0);
	if (e) {
		e->eax = apic_id;
		e->ebx = ((t->threads - 1) << 8) | ((apic_id >> t->smt_bits) & 0xFF);
		e->ecx = apic_id >> (t->core_bits + t->smt_bits);
	}
}

/* KVM lists leaf 0xB only down to the levels the host has (a single-core
 * host gives just the SMT level); the guest's own topology needs the core
 * level and the terminating subleaf. No feature bit is invented. */
static void complete_leaf_b(struct kvm_cpuid2 *c)
{
	if (!x86_cpuid_find(c, 0xB, 0))
		return;
	for (uint32_t sub = 1; sub <= 2; sub++) {
		if (x86_cpuid_find(c, 0xB, sub))
			continue;
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = 0xB;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	}
}

struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
				      const struct cpu_config *cpu, unsigned index)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = xcalloc(1, size + 2 * sizeof(supported->entries[0]));
	memcpy(c, supported, size);
	complete_leaf_b(c);
	struct topo t = topo_of(cpu);
	uint32_t apic_id = x86_apic_id(cpu, index);

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			set_leaf1(e, &t, apic_id);
			break;
		case 4:
			set_leaf4(e, &t);
			break;
		case 0xB:
		case 0x1F:
			set_ext_topology(e, &t, apic_id);
			break;
		default:
			break;
		}
	}
	set_amd_leaves(c, &t, apic_id);
	return c;
}
