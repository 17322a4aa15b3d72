#include "irq.h"
#include "apic.h"
#include "klib.h"

#define NR_GATES      256
#define SEL_CODE64    0x10
#define GATE_INTR     0x8E
#define MSR_APIC_BASE 0x1B
#define APIC_BASE_EXTD (1u << 10)
#define XAPIC_EOI     0xB0
#define XAPIC_SVR     0xF0
#define XAPIC_LVT_TIMER 0x320
#define XAPIC_TIMER_INIT 0x380
#define XAPIC_TIMER_DIV 0x3E0
#define X2APIC_MSR(off) (0x800 + ((off) >> 4))
#define SVR_ENABLE    0x100u
#define LVT_MASKED    0x10000u
#define LVT_PERIODIC  0x20000u
#define TIMER_DIV_1   0xB
#define TIMER_TICKS   1000000u   /* ~1 ms at the 1 GHz APIC clock KVM and QEMU model */
#define MSI_ADDR_BASE 0xFEE00000ULL
#define NR_STUBS      32
#define PIC1_CMD      0x20
#define PIC1_DATA     0x21
#define PIC2_CMD      0xA0
#define PIC2_DATA     0xA1
#define PIC_VEC_BASE  0x50   /* its IRQs (all masked; spurious 7/15 included) */

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct idt_desc {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void irq_dispatch(uint64_t vector);
extern const char irq_stubs[];

/* One 16-byte stub per vector 0x40..0x5F pushes its number; the common
 * part saves the caller-saved registers, keeps the stack 16-byte aligned
 * for the C call and returns with iretq. */
__asm__(".text\n"
	".balign 16\n"
	".globl irq_stubs\n"
	"irq_stubs:\n"
	".irp vec, 0x40,0x41,0x42,0x43,0x44,0x45,0x46,0x47,0x48,0x49,0x4a,0x4b,0x4c,0x4d,0x4e,0x4f,"
	"0x50,0x51,0x52,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,0x5b,0x5c,0x5d,0x5e,0x5f\n"
	".balign 16\n"
	"pushq $\\vec\n"
	"jmp irq_common\n"
	".endr\n"
	"irq_common:\n"
	"pushq %rax; pushq %rcx; pushq %rdx; pushq %rsi; pushq %rdi\n"
	"pushq %r8; pushq %r9; pushq %r10; pushq %r11\n"
	"movq 72(%rsp), %rdi\n"
	"subq $8, %rsp\n"
	"call irq_dispatch\n"
	"addq $8, %rsp\n"
	"popq %r11; popq %r10; popq %r9; popq %r8\n"
	"popq %rdi; popq %rsi; popq %rdx; popq %rcx; popq %rax\n"
	"addq $8, %rsp\n"
	"iretq\n");

static struct idt_gate idt[NR_GATES] __attribute__((aligned(16)));
static volatile uint64_t counts[NR_STUBS];

static int x2apic(void)
{
	return (rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD) != 0;
}

static uint32_t lapic_read(unsigned off)
{
	if (x2apic())
		return (uint32_t)rdmsr(X2APIC_MSR(off));
	return *(volatile uint32_t *)(uintptr_t)((rdmsr(MSR_APIC_BASE) & ~0xFFFULL) + off);
}

static void lapic_write(unsigned off, uint32_t v)
{
	if (x2apic())
		wrmsr(X2APIC_MSR(off), v);
	else
		*(volatile uint32_t *)(uintptr_t)((rdmsr(MSR_APIC_BASE) & ~0xFFFULL) + off) = v;
}

void irq_dispatch(uint64_t vector)
{
	if (vector >= IRQ_VEC_FIRST && vector < IRQ_VEC_FIRST + NR_STUBS)
		counts[vector - IRQ_VEC_FIRST]++;
	lapic_write(XAPIC_EOI, 0);
}

static void set_gate(unsigned vector, const void *handler)
{
	uint64_t a = (uint64_t)(uintptr_t)handler;

	idt[vector] = (struct idt_gate){ (uint16_t)a, SEL_CODE64, 0, GATE_INTR, (uint16_t)(a >> 16),
					 (uint32_t)(a >> 32), 0 };
}

/* Keeps the exception gates trap.c installed and adds ours. */
static void load_idt(void)
{
	struct idt_desc cur, ours = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("sidt %0" : "=m"(cur));
	if (cur.base != ours.base) {
		size_t n = (size_t)cur.limit + 1;
		memcpy(idt, (const void *)(uintptr_t)cur.base, n < sizeof(idt) ? n : sizeof(idt));
		for (unsigned v = 0; v < NR_STUBS; v++)
			set_gate(IRQ_VEC_FIRST + v, irq_stubs + 16 * v);
	}
	__asm__ volatile("lidt %0" : : "m"(ours));
}

/* Firmware leaves the 8259s at vector 8 with the PIT unmasked: a timer
 * tick would land on the #DF gate once we sti. Move them out of the
 * exception range and mask every line. */
static void pic_mask_all(void)
{
	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VEC_BASE);
	outb(PIC2_DATA, PIC_VEC_BASE + 8);
	outb(PIC1_DATA, 4);
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 1);
	outb(PIC2_DATA, 1);
	outb(PIC1_DATA, 0xFF);
	outb(PIC2_DATA, 0xFF);
}

void irq_init(void)
{
	load_idt();
	pic_mask_all();
	lapic_write(XAPIC_SVR, lapic_read(XAPIC_SVR) | SVR_ENABLE | 0xFF);
	lapic_write(XAPIC_TIMER_DIV, TIMER_DIV_1);
	lapic_write(XAPIC_LVT_TIMER, LVT_PERIODIC | IRQ_VEC_TIMER);
	lapic_write(XAPIC_TIMER_INIT, TIMER_TICKS);
}

void irq_fini(void)
{
	__asm__ volatile("cli");
	lapic_write(XAPIC_LVT_TIMER, LVT_MASKED | IRQ_VEC_TIMER);
	lapic_write(XAPIC_TIMER_INIT, 0);
}

uint64_t irq_count(unsigned vector)
{
	return counts[vector - IRQ_VEC_FIRST];
}

uint64_t irq_msi_address(void)
{
	return MSI_ADDR_BASE | ((uint64_t)(apic_self_id() & 0xFF) << 12);
}

uint32_t irq_msi_data(unsigned vector)
{
	return vector;
}

int irq_wait_flag(int (*done)(void *arg), void *arg, uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	for (;;) {
		__asm__ volatile("cli" ::: "memory");
		if (done(arg))
			return 1;
		if (rdtsc() - t0 > cycles)
			return 0;
		/* sti's one-instruction shadow: no interrupt slips in before hlt */
		__asm__ volatile("sti; hlt" ::: "memory");
	}
}
