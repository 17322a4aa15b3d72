#include "board/devices.h"

#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "board/board.h"
#include "dev/acpi_pm.h"
#include "dev/cmos.h"
#include "dev/console.h"
#include "dev/i8042.h"
#include "dev/ioapic.h"
#include "dev/post.h"
#include "dev/serial.h"
#include "hv/irq_routing.h"
#include "util/log.h"
#include "util/util.h"

struct board_devices {
	struct console *console;
	struct serial *com1;
	struct acpi_pm *acpi_pm;
	struct cmos *cmos;
	struct i8042 *i8042;
	struct post *post;
};

static void set_gsi_level(void *ctx, unsigned gsi, int level)
{
	struct machine *m = ctx;
	if (m->ioapic)
		ioapic_set_level(m->ioapic, gsi, level);
	else
		kvm_irq_line(&m->kvm, gsi, level);
}

static int ioapic_send(void *ctx, uint64_t addr, uint32_t data)
{
	return irq_routing_signal_msi(ctx, addr, data);
}

static void ioapic_route(void *ctx, unsigned pin, uint64_t addr, uint32_t data)
{
	if (irq_routing_ioapic_route(ctx, pin, addr, data) < 0)
		log_warn("board: cannot route IOAPIC pin %u", pin);
}

/* With the split irqchip the IOAPIC is ours; the full irqchip has its own. */
static int add_ioapic(struct machine *m)
{
	if (!m->kvm.split_irqchip)
		return 0;
	struct ioapic_msi_ops ops = { .send = ioapic_send, .route = ioapic_route,
				      .ctx = m->irq_routing };
	m->ioapic = ioapic_create(&ops);
	if (!m->ioapic)
		return -ENOMEM;
	int err = io_bus_add(&m->mmio, X86_IOAPIC_BASE, IOAPIC_MMIO_SIZE, &ioapic_mmio_ops,
			     m->ioapic, "ioapic");
	if (err)
		log_error("board: cannot place the IOAPIC at %#llx: it overlaps another device",
			  (unsigned long long)X86_IOAPIC_BASE);
	return err;
}

static int add_pio(struct machine *m, uint16_t port, uint16_t len, const struct io_ops *ops,
		   void *dev, const char *name)
{
	int err = io_bus_add(&m->pio, port, len, ops, dev, name);
	if (err)
		log_error("board: cannot place %s at port %#x: it overlaps another device", name, port);
	return err;
}

static int add_com1(struct machine *m, struct board_devices *d)
{
	int err = console_open(&m->cfg->console, &m->events, &d->console);
	if (err)
		return err;
	struct irq_line irq = { .set_level = set_gsi_level, .ctx = m, .gsi = COM1_IRQ };
	struct serial_host host = {
		.tx = console_tx_byte, .rx_space = console_input_space, .ctx = d->console,
	};
	d->com1 = serial_create(&irq, &host);
	if (!d->com1)
		return -ENOMEM;
	return add_pio(m, PORT_COM1, SERIAL_NR_PORTS, &serial_io_ops, d->com1, "com1");
}

static int add_acpi_pm(struct machine *m, struct board_devices *d)
{
	d->acpi_pm = acpi_pm_create(&m->events);
	if (!d->acpi_pm)
		return -ENOMEM;
	int err = add_pio(m, PORT_ACPI_SLEEP_CTL, 1, &acpi_pm_sleep_ctl_ops, d->acpi_pm, "acpi-sleep-ctl");
	if (!err)
		err = add_pio(m, PORT_ACPI_SLEEP_STS, 1, &acpi_pm_sleep_sts_ops, d->acpi_pm, "acpi-sleep-sts");
	if (!err)
		err = add_pio(m, PORT_ACPI_RESET, 1, &acpi_pm_reset_ops, d->acpi_pm, "acpi-reset");
	if (!err)
		err = add_pio(m, PORT_ACPI_PM_TIMER, 4, &acpi_pm_timer_ops, d->acpi_pm, "acpi-pm-timer");
	return err;
}

/* Linux probes these legacy ports; answering 0xff would make it spin. */
static int add_legacy(struct machine *m, struct board_devices *d)
{
	uint64_t size = m->cfg->mem.size;
	uint64_t low = MIN(size, X86_RAM32_END);
	d->cmos = cmos_create(low, size - low);
	d->i8042 = i8042_create(&m->events);
	d->post = post_create();
	if (!d->cmos || !d->i8042 || !d->post)
		return -ENOMEM;
	int err = add_pio(m, PORT_CMOS_INDEX, CMOS_NR_PORTS, &cmos_io_ops, d->cmos, "cmos");
	if (!err)
		err = add_pio(m, PORT_I8042_DATA, 1, &i8042_data_ops, d->i8042, "i8042-data");
	if (!err)
		err = add_pio(m, PORT_I8042_CMD, 1, &i8042_cmd_ops, d->i8042, "i8042-cmd");
	if (!err)
		err = add_pio(m, PORT_POST, 1, &post_io_ops, d->post, "post");
	return err;
}

int board_devices_create(struct machine *m)
{
	struct board_devices *d = xcalloc(1, sizeof(*d));
	m->devs = d;
	int err = add_ioapic(m);
	if (!err)
		err = add_com1(m, d);
	if (!err)
		err = add_acpi_pm(m, d);
	if (!err)
		err = add_legacy(m, d);
	return err;
}

int board_devices_start(struct machine *m)
{
	struct board_devices *d = m->devs;
	struct console_input in = { .receive = serial_receive_cb, .ctx = d->com1 };
	return console_start(d->console, &in);
}

void board_devices_quiesce(struct machine *m)
{
	if (m->devs)
		console_discard_output(m->devs->console);
}

void board_devices_destroy(struct machine *m)
{
	struct board_devices *d = m->devs;
	if (!d)
		return;
	/* The console first: its input thread feeds the UART. */
	console_destroy(d->console);
	if (d->com1)
		serial_destroy(d->com1);
	if (d->acpi_pm)
		acpi_pm_destroy(d->acpi_pm);
	if (d->cmos)
		cmos_destroy(d->cmos);
	if (d->i8042)
		i8042_destroy(d->i8042);
	if (d->post)
		post_destroy(d->post);
	ioapic_destroy(m->ioapic); /* after every device that drives a pin */
	m->ioapic = NULL;
	free(d);
	m->devs = NULL;
}
