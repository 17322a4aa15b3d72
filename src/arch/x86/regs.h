/* Initial vCPU state on x86: CPUID, MSRs, FPU and LAPIC LINT pins for every
 * vCPU; the boot GDT, identity page tables and entry registers for the boot
 * vCPU according to the loader's boot_entry. Application processors are left
 * in KVM's wait-for-SIPI state: the guest starts them. */
#ifndef ALIOTH_ARCH_X86_REGS_H
#define ALIOTH_ARCH_X86_REGS_H

#include "board/config.h"
#include "hv/kvm.h"
#include "loader/loader.h"
#include "mem/guest_mem.h"

/* index: the vCPU's position (boot CPU 0); vcpu->id is its APIC ID. */
int x86_vcpu_init(struct kvm *k, struct kvm_vcpu *vcpu, unsigned index,
		  const struct cpu_config *cpu);
int x86_boot_vcpu_setup(struct kvm_vcpu *vcpu, struct guest_mem *gm, const struct boot_entry *entry);

#endif
