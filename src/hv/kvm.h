/* The KVM interface: the system fd (API version, capabilities, supported
 * CPUID), the VM fd (memory slots, in-kernel irqchip and PIT, IRQ lines) and
 * vCPU fds with their shared kvm_run page. Every failure is logged with the
 * ioctl that failed and returns -errno. */
#ifndef ALIOTH_HV_KVM_H
#define ALIOTH_HV_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct kvm {
	int sys_fd;
	int vm_fd;
	int run_size;              /* KVM_GET_VCPU_MMAP_SIZE */
	int max_vcpus;
	unsigned next_slot;
	struct kvm_cpuid2 *supported_cpuid;
	bool has_immediate_exit;
};

struct kvm_vcpu {
	int fd;
	unsigned id;
	struct kvm_run *run;
};

/* Opens dev (NULL: /dev/kvm), checks the API version and the capabilities
 * the board relies on, and creates the VM with its in-kernel LAPIC, IOAPIC,
 * PIC and PIT. */
int kvm_open(struct kvm *k, const char *dev);
void kvm_close(struct kvm *k);
int kvm_check_extension(const struct kvm *k, long cap);

int kvm_map_memory(struct kvm *k, uint64_t gpa, uint64_t size, void *host, bool readonly);
int kvm_irq_line(struct kvm *k, unsigned gsi, int level);

int kvm_vcpu_create(struct kvm *k, unsigned id, struct kvm_vcpu *vcpu);
void kvm_vcpu_destroy(struct kvm *k, struct kvm_vcpu *vcpu);

#endif
