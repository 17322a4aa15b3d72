#include "board/devices.h"

#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "board/board.h"
#include "dev/console.h"
#include "dev/serial.h"
#include "util/log.h"
#include "util/util.h"

struct board_devices {
	struct console *console;
	struct serial *com1;
};

static void set_gsi_level(void *ctx, unsigned gsi, int level)
{
	struct machine *m = ctx;
	kvm_irq_line(&m->kvm, gsi, level);
}

static int add_pio(struct machine *m, uint16_t port, uint16_t len, const struct io_ops *ops,
		   void *dev, const char *name)
{
	int err = io_bus_add(&m->pio, port, len, ops, dev, name);
	if (err)
		log_error("board: cannot place %s at port %#x: %s", name, port, "overlap");
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

int board_devices_create(struct machine *m)
{
	struct board_devices *d = xcalloc(1, sizeof(*d));
	m->devs = d;
	return add_com1(m, d);
}

int board_devices_start(struct machine *m)
{
	struct board_devices *d = m->devs;
	struct console_input in = { .receive = serial_receive_cb, .ctx = d->com1 };
	return console_start(d->console, &in);
}

void board_devices_destroy(struct machine *m)
{
	struct board_devices *d = m->devs;
	if (!d)
		return;
	console_destroy(d->console);
	if (d->com1)
		serial_destroy(d->com1);
	free(d);
	m->devs = NULL;
}
