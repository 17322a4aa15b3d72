/* A 16550A UART (COM1): the guest side is an io_ops on 8 ports, the host
 * side a byte-out callback plus serial_receive(), which never takes more
 * than the 16-byte RX FIFO can hold and calls rx_space once room frees up,
 * so host input is neither dropped nor polled for. Thread-safe. */
#ifndef ALIOTH_DEV_SERIAL_H
#define ALIOTH_DEV_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/irq.h"

#define SERIAL_NR_PORTS 8
#define SERIAL_FIFO_SIZE 16

struct serial_host {
	/* A byte the guest transmitted. Called from vCPU threads without the
	 * device lock held; it may block (output must not be lost). */
	void (*tx)(void *ctx, uint8_t byte);
	/* serial_receive() last returned less than asked, and the guest has now
	 * made room. Called at most once per short receive, from a vCPU thread,
	 * without the device lock held; must not block. May be NULL. */
	void (*rx_space)(void *ctx);
	void *ctx;
};

struct serial;

extern const struct io_ops serial_io_ops;

/* irq and host are copied. set_level is called with the device lock held
 * (so level changes stay ordered) and only when the level changes; it must
 * not call back into the device. Returns NULL only on allocation failure
 * (which aborts) or a mutex failure. */
struct serial *serial_create(const struct irq_line *irq, const struct serial_host *host);
void serial_destroy(struct serial *s);

/* Queues host input in the RX FIFO; returns how many bytes were taken
 * (0 .. len). A short count arms the rx_space notification. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* The same, with an untyped device pointer, for callback tables
 * (console_input.receive). */
size_t serial_receive_cb(void *s, const uint8_t *buf, size_t len);

#endif
