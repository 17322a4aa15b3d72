#include "acpi.h"
#include "klib.h"
#include "serial.h"
#include "trap.h"

#define NR_VECTORS 32
#define STUB_SIZE  16
#define SEL_CODE64 0x10
#define GATE_INTR  0x8E

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct trap_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern const char trap_stubs[];
void trap_handler(const struct trap_frame *f);

static struct idt_gate idt[NR_VECTORS] __attribute__((aligned(16)));
static const struct acpi_info *trap_acpi;

void trap_load_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	if (!idt[0].type) {
		for (int v = 0; v < NR_VECTORS; v++) {
			uint64_t a = (uint64_t)(uintptr_t)(trap_stubs + v * STUB_SIZE);
			idt[v] = (struct idt_gate){ (uint16_t)a, SEL_CODE64, 0, GATE_INTR,
						    (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0 };
		}
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

void trap_set_acpi(const struct acpi_info *ai)
{
	trap_acpi = ai;
}

void trap_handler(const struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kprintf("FAIL exception: vector %lu error 0x%lx rip 0x%lx rsp 0x%lx cr2 0x%lx\n",
		f->vector, f->error, f->rip, f->rsp, cr2);
	if (trap_acpi)
		acpi_poweroff(trap_acpi);
}

void trap_triple_fault(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	/* not int3: this KVM cannot emulate it, and a breakpoint is no fault */
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
	__builtin_unreachable();
}
