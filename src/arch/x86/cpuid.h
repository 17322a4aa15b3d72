/* Per-vCPU CPUID tables: what KVM_GET_SUPPORTED_CPUID reports, plus the
 * hypervisor bit (without it Linux ignores kvm-clock and miscalibrates the
 * TSC) and leaves describing the configured socket/core/thread topology. */
#ifndef ALIOTH_ARCH_X86_CPUID_H
#define ALIOTH_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "board/config.h"

/* APIC ID of vCPU `index` (0-based, boot CPU first) under cpu->topology,
 * numbering vCPUs as Alioth does (thread_contiguous or not). */
uint32_t x86_apic_id(const struct cpu_config *cpu, unsigned index);
/* A fresh table for vCPU `index` (free() it). */
struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
				      const struct cpu_config *cpu, unsigned index);
/* Finds (function, index) in a table; NULL if absent. */
struct kvm_cpuid_entry2 *x86_cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index);

#endif
