#include "arch/x86/regs.h"

#include <asm/kvm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "util/log.h"
#include "util/util.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define MSR_IA32_TSC          0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE_WRITEBACK ((1ULL << 11) | 6)

/* GDT selectors required by the Linux boot protocol (__BOOT_CS, __BOOT_DS). */
#define SEL_CODE 0x10
#define SEL_DATA 0x18
#define SEL_TSS  0x20

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI    4
#define APIC_MODE_EXTINT 7

static int vcpu_ioctl(struct kvm_vcpu *v, unsigned long req, void *arg, const char *what)
{
	if (ioctl(v->fd, req, arg) < 0) {
		int err = -errno;
		log_error("kvm: vCPU %u: %s failed: %s", v->id, what, strerror(errno));
		return err;
	}
	return 0;
}

static int set_cpuid(struct kvm *k, struct kvm_vcpu *v, unsigned index,
		     const struct cpu_config *cpu)
{
	struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(k->supported_cpuid, cpu, index);
	int err = vcpu_ioctl(v, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	return err;
}

static int set_msrs(struct kvm_vcpu *v)
{
	static const struct { uint32_t index; uint64_t data; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		/* All vCPUs start their TSC together at 0, so it is synchronized. */
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		/* With MTRRs off, guest memory would be uncacheable for the guest. */
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITEBACK },
	};
	/* kvm_msrs ends in a flexible array: build it in an aligned buffer. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + ARRAY_SIZE(init) * sizeof(struct kvm_msr_entry)];
	} buf;
	memset(&buf, 0, sizeof(buf));
	struct kvm_msrs *msrs = &buf.hdr;
	for (size_t i = 0; i < ARRAY_SIZE(init); i++) {
		msrs->entries[i].index = init[i].index;
		msrs->entries[i].data = init[i].data;
	}
	msrs->nmsrs = ARRAY_SIZE(init);
	int n = ioctl(v->fd, KVM_SET_MSRS, msrs);
	if (n < 0)
		return vcpu_ioctl(v, KVM_SET_MSRS, msrs, "KVM_SET_MSRS");
	if (n < (int)ARRAY_SIZE(init))
		log_debug("kvm: vCPU %u: MSR %#x not accepted; continuing", v->id, init[n].index);
	return 0;
}

static int set_fpu(struct kvm_vcpu *v)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return vcpu_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

static void set_lvt_mode(struct kvm_lapic_state *l, unsigned reg, unsigned mode)
{
	uint32_t val;
	memcpy(&val, &l->regs[reg], 4);
	val = (val & ~0x700U) | (mode << 8);
	memcpy(&l->regs[reg], &val, 4);
}

/* LINT0 carries the PIC's ExtINT and LINT1 NMIs, as on a PC. */
static int set_lapic_lint(struct kvm_vcpu *v)
{
	struct kvm_lapic_state l;
	int err = vcpu_ioctl(v, KVM_GET_LAPIC, &l, "KVM_GET_LAPIC");
	if (err)
		return err;
	set_lvt_mode(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt_mode(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	return vcpu_ioctl(v, KVM_SET_LAPIC, &l, "KVM_SET_LAPIC");
}

int x86_vcpu_init(struct kvm *k, struct kvm_vcpu *vcpu, unsigned index,
		  const struct cpu_config *cpu)
{
	int err = set_cpuid(k, vcpu, index, cpu);
	if (!err)
		err = set_msrs(vcpu);
	if (!err)
		err = set_fpu(vcpu);
	if (!err)
		err = set_lapic_lint(vcpu);
	return err;
}

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0x0000ffff);
}

static struct kvm_segment segment_from(uint64_t desc, uint16_t selector)
{
	struct kvm_segment s = {
		.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000),
		.limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000)),
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = (desc >> 55) & 1,
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

/* Writes the boot GDT and returns the code/data/TSS segments for the mode. */
static int write_gdt(struct guest_mem *gm, bool long_mode, struct kvm_sregs *sr)
{
	uint64_t gdt[5] = {
		0, 0,
		long_mode ? gdt_entry(0xa09b, 0, 0xfffff) : gdt_entry(0xc09b, 0, 0xfffff),
		gdt_entry(0xc093, 0, 0xfffff),
		gdt_entry(0x808b, 0, 0xfffff),
	};
	if (!gm_write(gm, X86_BOOT_GDT, gdt, sizeof(gdt)))
		return -EFAULT;
	sr->gdt.base = X86_BOOT_GDT;
	sr->gdt.limit = sizeof(gdt) - 1;
	sr->idt.base = X86_BOOT_IDT;
	sr->idt.limit = 0;
	sr->cs = segment_from(gdt[2], SEL_CODE);
	struct kvm_segment data = segment_from(gdt[3], SEL_DATA);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = data;
	sr->tr = segment_from(gdt[4], SEL_TSS);
	return 0;
}

/* Identity map of [0, 4 GiB) with 2 MiB pages: what the 64-bit boot protocol
 * requires to cover the kernel, zero page, command line and initramfs. */
static int write_page_tables(struct guest_mem *gm)
{
	uint64_t pml4[512] = { X86_BOOT_PDPT | 3 };
	uint64_t pdpt[512] = { 0 };
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (X86_BOOT_PD + i * 0x1000) | 3;
	if (!gm_write(gm, X86_BOOT_PML4, pml4, sizeof(pml4)) ||
	    !gm_write(gm, X86_BOOT_PDPT, pdpt, sizeof(pdpt)))
		return -EFAULT;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t pd[512];
		for (unsigned j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30) + ((uint64_t)j << 21) + 0x83; /* P|RW|PS */
		if (!gm_write(gm, X86_BOOT_PD + i * 0x1000, pd, sizeof(pd)))
			return -EFAULT;
	}
	return 0;
}

static int setup_protected(struct kvm_vcpu *v, struct guest_mem *gm, bool long_mode)
{
	struct kvm_sregs sr;
	int err = vcpu_ioctl(v, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	if (err)
		return err;
	if (write_gdt(gm, long_mode, &sr))
		return -EFAULT;
	sr.cr0 = CR0_PE | CR0_ET | CR0_NE;
	sr.cr4 = 0;
	sr.efer = 0;
	if (long_mode) {
		if (write_page_tables(gm))
			return -EFAULT;
		sr.cr3 = X86_BOOT_PML4;
		sr.cr4 |= CR4_PAE;
		sr.cr0 |= CR0_PG;
		sr.efer |= EFER_LME | EFER_LMA;
	}
	return vcpu_ioctl(v, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
}

int x86_boot_vcpu_setup(struct kvm_vcpu *vcpu, struct guest_mem *gm, const struct boot_entry *entry)
{
	if (entry->mode == BOOT_RESET)
		return 0; /* KVM's reset state is the reset vector */
	int err = setup_protected(vcpu, gm, entry->mode == BOOT_LINUX64);
	if (err) {
		if (err == -EFAULT)
			log_error("boot: guest memory too small for the boot page tables");
		return err;
	}
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = entry->rip;
	r.rsi = entry->rsi;
	r.rbx = entry->rbx;
	r.rsp = X86_BOOT_STACK_TOP;
	return vcpu_ioctl(vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
}
