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
	/* Only the LAPICs are in the kernel: the IOAPIC is the VMM's
	 * (dev/ioapic.h), there is no PIC, KVM_IRQ_LINE must not be used. */
	bool split_irqchip;
};

/* Which interrupt controllers KVM emulates. AUTO: split when the kernel
 * has KVM_CAP_SPLIT_IRQCHIP (much cheaper to create and tear down), else
 * full (KVM_CREATE_IRQCHIP: PIC + IOAPIC + LAPIC). */
enum kvm_irqchip_mode {
	KVM_IRQCHIP_MODE_AUTO,
	KVM_IRQCHIP_MODE_FULL,
	KVM_IRQCHIP_MODE_SPLIT,
};

struct kvm_vcpu {
	int fd;
	unsigned id;
	struct kvm_run *run;
};

/* Opens dev (NULL: /dev/kvm), checks the API version and the capabilities
 * the board relies on, and creates the VM with its in-kernel irqchip
 * (KVM_IRQCHIP_MODE_AUTO; no PIT). */
int kvm_open(struct kvm *k, const char *dev);
/* The same with a chosen irqchip mode; SPLIT fails without the capability. */
int kvm_open_irqchip(struct kvm *k, const char *dev, enum kvm_irqchip_mode mode);
void kvm_close(struct kvm *k);
int kvm_check_extension(const struct kvm *k, long cap);

int kvm_map_memory(struct kvm *k, uint64_t gpa, uint64_t size, void *host, bool readonly);
int kvm_irq_line(struct kvm *k, unsigned gsi, int level);

int kvm_vcpu_create(struct kvm *k, unsigned id, struct kvm_vcpu *vcpu);
void kvm_vcpu_destroy(struct kvm *k, struct kvm_vcpu *vcpu);

#endif
