#include "dev/acpi_pm.h"

#include <stdlib.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "util/util.h"

struct acpi_pm {
	struct vm_events events; /* immutable after create, like start_ns */
	uint64_t start_ns;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t acpi_pm_timer_ticks(uint64_t ns)
{
	/* Split so the product cannot overflow 64 bits. */
	uint64_t sec = ns / 1000000000, rem = ns % 1000000000;
	return (uint32_t)(sec * ACPI_PM_TIMER_HZ + rem * ACPI_PM_TIMER_HZ / 1000000000);
}

static uint64_t read_zero(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void write_ignored(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)dev;
	(void)off;
	(void)size;
	(void)val;
}

static void sleep_ctl_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = dev;
	unsigned typ = (val & ACPI_SLEEP_CTL_SLP_TYP_MASK) >> ACPI_SLEEP_CTL_SLP_TYP_SHIFT;

	(void)off;
	(void)size;
	if (!(val & ACPI_SLEEP_CTL_SLP_EN))
		return;
	if (typ == ACPI_SLP_TYP_S5)
		vm_event_request(&pm->events, VM_EVENT_POWEROFF);
	else
		log_warn("acpi: sleep type %u is not supported", typ);
}

static void reset_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = dev;

	(void)off;
	(void)size;
	if ((val & 0xff) == ACPI_RESET_VALUE)
		vm_event_request(&pm->events, VM_EVENT_RESET);
}

static uint64_t timer_read(void *dev, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = dev;
	uint64_t val = acpi_pm_timer_ticks(monotonic_ns() - pm->start_ns);

	/* Narrow reads see the matching bytes of the 32-bit register. */
	val >>= 8 * MIN(off, 4);
	return size >= 4 ? val : val & ((1ULL << (8 * size)) - 1);
}

const struct io_ops acpi_pm_sleep_ctl_ops = { .read = read_zero, .write = sleep_ctl_write };
const struct io_ops acpi_pm_sleep_sts_ops = { .read = read_zero, .write = write_ignored };
const struct io_ops acpi_pm_reset_ops = { .read = read_zero, .write = reset_write };
const struct io_ops acpi_pm_timer_ops = { .read = timer_read, .write = write_ignored };

struct acpi_pm *acpi_pm_create(const struct vm_events *events)
{
	struct acpi_pm *pm = xcalloc(1, sizeof(*pm));

	if (events)
		pm->events = *events;
	pm->start_ns = monotonic_ns();
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}
