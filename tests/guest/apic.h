/* The local APIC in xAPIC (MMIO) or x2APIC (MSR) mode, whichever this CPU
 * is in, and AP start-up with INIT-SIPI-SIPI through the real-mode
 * trampoline at 0x30000. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdint.h>

#define SMP_MAX_CPUS 64

uint32_t apic_self_id(void);
int apic_x2apic_enabled(void);
/* Switches the calling CPU's LAPIC to x2APIC mode (the CPU must support it). */
void apic_enable_x2apic(void);

struct smp_result {
	unsigned nr_started;            /* APs that reached C code */
	uint32_t reported_id[SMP_MAX_CPUS]; /* by CPU index, BSP at 0 */
	int started[SMP_MAX_CPUS];
};

/* Starts every CPU in `ids` but the calling one, one at a time, each on its
 * own stack; every AP stores its APIC ID and halts. */
void smp_start_aps(const uint32_t *ids, unsigned n, struct smp_result *res);

#endif
