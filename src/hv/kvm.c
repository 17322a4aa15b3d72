#include "hv/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "util/util.h"

/* Just below the 32-bit MMIO region end, away from RAM and the LAPIC/IOAPIC:
 * Intel VMX needs three pages for the TSS and one for the identity map. */
#define KVM_TSS_ADDR          0xFFFBC000ULL
#define KVM_IDENTITY_MAP_ADDR 0xFFFBF000ULL

static int sys_ioctl_err(const char *what)
{
	int err = -errno;
	log_error("kvm: %s failed: %s", what, strerror(errno));
	return err;
}

int kvm_check_extension(const struct kvm *k, long cap)
{
	int r = ioctl(k->vm_fd >= 0 ? k->vm_fd : k->sys_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

static const struct { long cap; const char *name; } required_caps[] = {
	{ KVM_CAP_IRQCHIP, "IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" },
	{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "MP_STATE" },
	{ KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING" },
};

static int check_caps(struct kvm *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (!kvm_check_extension(k, required_caps[i].cap)) {
			log_error("kvm: required capability KVM_CAP_%s is missing", required_caps[i].name);
			return -ENOTSUP;
		}
	}
	k->has_immediate_exit = kvm_check_extension(k, KVM_CAP_IMMEDIATE_EXIT) > 0;
	k->max_vcpus = kvm_check_extension(k, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = kvm_check_extension(k, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4;
	return 0;
}

static int load_supported_cpuid(struct kvm *k)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = xcalloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		c->nent = n;
		if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->supported_cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return sys_ioctl_err("KVM_GET_SUPPORTED_CPUID");
	}
	return -E2BIG;
}

/* The LAPICs in the kernel, the IOAPIC's pins reserved as GSIs 0-23 whose
 * MSI routes tell KVM which vectors need an EOI exit. Before any vCPU. */
static int enable_split_irqchip(struct kvm *k)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_SPLIT_IRQCHIP,
		.args = { IOAPIC_NR_PINS },
	};
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return sys_ioctl_err("KVM_ENABLE_CAP(SPLIT_IRQCHIP)");
	k->split_irqchip = true;
	return 0;
}

static int create_irqchip(struct kvm *k, enum kvm_irqchip_mode mode)
{
	if (mode == KVM_IRQCHIP_MODE_AUTO)
		mode = kvm_check_extension(k, KVM_CAP_SPLIT_IRQCHIP) ? KVM_IRQCHIP_MODE_SPLIT :
		       KVM_IRQCHIP_MODE_FULL;
	log_debug("kvm: irqchip %s", mode == KVM_IRQCHIP_MODE_SPLIT ?
		  "split (LAPIC in the kernel, IOAPIC in userspace, no PIC)" :
		  "full in-kernel (PIC, IOAPIC, LAPIC)");
	if (mode == KVM_IRQCHIP_MODE_SPLIT)
		return enable_split_irqchip(k);
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return sys_ioctl_err("KVM_CREATE_IRQCHIP");
	return 0;
}

static int create_vm(struct kvm *k, enum kvm_irqchip_mode mode)
{
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return sys_ioctl_err("KVM_CREATE_VM");
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return sys_ioctl_err("KVM_SET_TSS_ADDR");
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (kvm_check_extension(k, KVM_CAP_SET_IDENTITY_MAP_ADDR) &&
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return sys_ioctl_err("KVM_SET_IDENTITY_MAP_ADDR");
	/* No PIT: Linux on KVM keeps time with kvm-clock and the LAPIC timer, and
	 * an in-kernel PIT costs milliseconds to create and to destroy. */
	return create_irqchip(k, mode);
}

int kvm_open(struct kvm *k, const char *dev)
{
	return kvm_open_irqchip(k, dev, KVM_IRQCHIP_MODE_AUTO);
}

int kvm_open_irqchip(struct kvm *k, const char *dev, enum kvm_irqchip_mode mode)
{
	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	if (!dev)
		dev = "/dev/kvm";
	k->sys_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		int err = -errno;
		log_error("kvm: cannot open %s: %s%s", dev, strerror(errno),
			  errno == ENOENT ? " (is KVM enabled in this kernel/VM?)" :
			  errno == EACCES ? " (add yourself to the 'kvm' group?)" : "");
		return err;
	}
	int version = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		log_error("kvm: %s speaks API version %d, need %d", dev, version, KVM_API_VERSION);
		kvm_close(k);
		return -ENOTSUP;
	}
	int err = check_caps(k);
	if (!err)
		err = load_supported_cpuid(k);
	if (!err) {
		k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
		if (k->run_size < (int)sizeof(struct kvm_run))
			err = sys_ioctl_err("KVM_GET_VCPU_MMAP_SIZE");
	}
	if (!err)
		err = create_vm(k, mode);
	if (err)
		kvm_close(k);
	return err;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->supported_cpuid);
	k->supported_cpuid = NULL;
	k->vm_fd = k->sys_fd = -1;
}

int kvm_map_memory(struct kvm *k, uint64_t gpa, uint64_t size, void *host, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.slot = k->next_slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return sys_ioctl_err("KVM_SET_USER_MEMORY_REGION");
	k->next_slot++;
	return 0;
}

int kvm_irq_line(struct kvm *k, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };
	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return sys_ioctl_err("KVM_IRQ_LINE");
	return 0;
}

int kvm_vcpu_create(struct kvm *k, unsigned id, struct kvm_vcpu *vcpu)
{
	vcpu->id = id;
	vcpu->run = NULL;
	vcpu->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return sys_ioctl_err("KVM_CREATE_VCPU");
	void *run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int err = sys_ioctl_err("mmap(kvm_run)");
		close(vcpu->fd);
		vcpu->fd = -1;
		return err;
	}
	vcpu->run = run;
	return 0;
}

void kvm_vcpu_destroy(struct kvm *k, struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)k->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
