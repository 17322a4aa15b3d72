/* The fixed ACPI hardware of a hardware-reduced platform, as the FADT
 * describes it: sleep control (S5 -> VM_EVENT_POWEROFF), sleep status,
 * the reset register (ACPI_RESET_VALUE -> VM_EVENT_RESET) and the 32-bit
 * PM timer at 3.579545 MHz. One device, one io_ops per register. */
#ifndef ALIOTH_DEV_ACPI_PM_H
#define ALIOTH_DEV_ACPI_PM_H

#include <stdint.h>

#include "dev/bus.h"
#include "dev/events.h"

#define ACPI_PM_TIMER_HZ 3579545ULL
#define ACPI_SLP_TYP_S5 5            /* must match the DSDT's _S5 package */
#define ACPI_SLEEP_CTL_SLP_EN 0x20
#define ACPI_SLEEP_CTL_SLP_TYP_SHIFT 2
#define ACPI_SLEEP_CTL_SLP_TYP_MASK 0x1C

struct acpi_pm;

/* Register lengths: sleep control, status and reset 1 port, timer 4. */
extern const struct io_ops acpi_pm_sleep_ctl_ops; /* PORT_ACPI_SLEEP_CTL */
extern const struct io_ops acpi_pm_sleep_sts_ops; /* PORT_ACPI_SLEEP_STS */
extern const struct io_ops acpi_pm_reset_ops;     /* PORT_ACPI_RESET */
extern const struct io_ops acpi_pm_timer_ops;     /* PORT_ACPI_PM_TIMER */

struct acpi_pm *acpi_pm_create(const struct vm_events *events); /* events copied */
void acpi_pm_destroy(struct acpi_pm *pm);

/* The timer value for a point in time (ns of CLOCK_MONOTONIC since the
 * device was created), exposed for tests. */
uint32_t acpi_pm_timer_ticks(uint64_t ns);

#endif
