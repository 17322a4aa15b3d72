#include "apic.h"
#include "klib.h"
#include "paging.h"
#include "serial.h"
#include "trap.h"

#define MSR_APIC_BASE   0x1B
#define APIC_BASE_EXTD  (1u << 10)
#define APIC_BASE_EN    (1u << 11)
#define XAPIC_ID        0x20
#define XAPIC_SVR       0xF0
#define XAPIC_ICR_LO    0x300
#define XAPIC_ICR_HI    0x310
#define X2APIC_MSR_ID   0x802
#define X2APIC_MSR_SVR  0x80F
#define X2APIC_MSR_ICR  0x830
#define ICR_INIT        0x00000500u
#define ICR_STARTUP     0x00000600u
#define ICR_LEVEL_ASSERT 0x00004000u
#define ICR_PENDING     0x00001000u
#define SVR_ENABLE      0x100u
#define TRAMP_BASE      0x30000UL
#define AP_STACK_SIZE   8192

extern const char tramp_start[], tramp_end[], tramp_cr3[], tramp_stack[], tramp_entry[], tramp_arg[];

static volatile uint32_t ap_id[SMP_MAX_CPUS];
static volatile int ap_alive[SMP_MAX_CPUS];
static int tramp_x2apic; /* APs follow the BSP into x2APIC mode */
static uint8_t ap_stacks[SMP_MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));

static volatile uint32_t *xapic_reg(unsigned off)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) & ~0xFFFULL;
	return (volatile uint32_t *)(uintptr_t)(base + off);
}

int apic_x2apic_enabled(void)
{
	return (rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD) != 0;
}

void apic_enable_x2apic(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
}

uint32_t apic_self_id(void)
{
	if (apic_x2apic_enabled())
		return (uint32_t)rdmsr(X2APIC_MSR_ID);
	return *xapic_reg(XAPIC_ID) >> 24;
}

static void apic_software_enable(void)
{
	if (apic_x2apic_enabled())
		wrmsr(X2APIC_MSR_SVR, rdmsr(X2APIC_MSR_SVR) | SVR_ENABLE | 0xFF);
	else
		*xapic_reg(XAPIC_SVR) |= SVR_ENABLE | 0xFF;
}

static void send_ipi(uint32_t dest, uint32_t icr)
{
	if (apic_x2apic_enabled()) {
		wrmsr(X2APIC_MSR_ICR, ((uint64_t)dest << 32) | icr);
		return;
	}
	*xapic_reg(XAPIC_ICR_HI) = dest << 24;
	*xapic_reg(XAPIC_ICR_LO) = icr;
	for (int i = 0; i < 1000000 && (*xapic_reg(XAPIC_ICR_LO) & ICR_PENDING); i++)
		cpu_relax();
}


static void ap_main(uint64_t index)
{
	trap_load_idt();
	if (tramp_x2apic)
		apic_enable_x2apic();
	ap_id[index] = apic_self_id();
	__asm__ volatile("" ::: "memory");
	ap_alive[index] = 1;
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void tramp_set(const char *field, uint64_t v, unsigned size)
{
	memcpy((void *)(TRAMP_BASE + (uintptr_t)(field - tramp_start)), &v, size);
}

static int wait_alive(unsigned index, uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles) {
		if (ap_alive[index])
			return 1;
		cpu_relax();
	}
	return ap_alive[index];
}

void smp_start_aps(const uint32_t *ids, unsigned n, struct smp_result *res)
{
	uint32_t self = apic_self_id();

	memset(res, 0, sizeof(*res));
	memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
	tramp_set(tramp_cr3, paging_cr3(), 4);
	tramp_set(tramp_entry, (uint64_t)(uintptr_t)ap_main, 8);
	tramp_x2apic = apic_x2apic_enabled();
	apic_software_enable();
	kprintf("smp: BSP apic id %u, %s mode\n", self, apic_x2apic_enabled() ? "x2apic" : "xapic");
	res->reported_id[0] = self;
	res->started[0] = 1;

	unsigned index = 1;
	for (unsigned i = 0; i < n && index < SMP_MAX_CPUS; i++) {
		if (ids[i] == self)
			continue;
		tramp_set(tramp_stack, (uint64_t)(uintptr_t)(ap_stacks[index] + AP_STACK_SIZE), 8);
		tramp_set(tramp_arg, index, 8);
		__asm__ volatile("mfence" ::: "memory");
		send_ipi(ids[i], ICR_INIT | ICR_LEVEL_ASSERT);
		spin_cycles(10000000);
		send_ipi(ids[i], ICR_STARTUP | (TRAMP_BASE >> 12));
		if (!wait_alive(index, 20000000))
			send_ipi(ids[i], ICR_STARTUP | (TRAMP_BASE >> 12));
		if (wait_alive(index, 6000000000ULL)) {
			res->started[index] = 1;
			res->reported_id[index] = ap_id[index];
			res->nr_started++;
			kprintf("smp: AP %u (madt apic id %u) up, reports apic id %u\n",
				index, ids[i], ap_id[index]);
		} else {
			kprintf("smp: AP %u (madt apic id %u) did not start\n", index, ids[i]);
		}
		index++;
	}
}
