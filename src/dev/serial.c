/* 16550A UART. Transmission is instantaneous: THR and the shift register
 * are always empty again by the time the guest's OUT returns, so LSR.THRE
 * and LSR.TEMT always read 1 and every THR write re-arms the THRE
 * interrupt. The IRQ is not gated by MCR.OUT2 (QEMU does not gate it
 * either, and firmware that never sets OUT2 would otherwise lose it). */
#include "dev/serial.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/util.h"

enum {
	REG_DATA = 0, /* RBR (read) / THR (write); DLL with DLAB */
	REG_IER = 1,  /* DLM with DLAB */
	REG_IIR = 2,  /* IIR (read) / FCR (write) */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI  0x08

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_FIFO   0xC0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP     0xC9 /* enable, DMA mode, RX trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1F

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_ERRORS 0x1E /* OE, PE, FE, BI: the line status interrupt sources */
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
/* With nothing attached but a console, report a modem that is present and
 * ready (as QEMU does), so guests with flow control still transmit. */
#define MSR_IDLE_LINES (MSR_DCD | MSR_DSR | MSR_CTS)

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct serial_host host;
	uint8_t ier, lcr, mcr, lsr, scr, fcr;
	uint8_t msr_lines; /* CTS, DSR, RI, DCD as the guest sees them */
	uint8_t msr_delta; /* DCTS, DDSR, TERI, DDCD since the last MSR read */
	uint16_t divisor;
	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned rx_head, rx_count;
	bool thr_ipending;
	bool host_waiting; /* a short serial_receive() awaits rx_space */
	int irq_level;
};

/* What one locked access leaves to do once the lock is dropped. */
struct deferred {
	uint8_t tx[8];
	unsigned nr_tx;
	bool notify_space;
};

static bool loopback(const struct serial *s)
{
	return s->mcr & MCR_LOOP;
}

static bool dlab(const struct serial *s)
{
	return s->lcr & LCR_DLAB;
}

static unsigned rx_capacity(const struct serial *s)
{
	/* Without FIFOs the receiver holds a single byte (RBR). */
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned rx_room(const struct serial *s)
{
	unsigned cap = rx_capacity(s);
	return s->rx_count < cap ? cap - s->rx_count : 0;
}

static uint8_t identify_interrupt(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_ipending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	int level = identify_interrupt(s) != IIR_NO_INT;

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

/* Host input may flow again: outside loopback, with room in the FIFO. */
static void check_host_space(struct serial *s, struct deferred *d)
{
	if (s->host_waiting && !loopback(s) && rx_room(s)) {
		s->host_waiting = false;
		d->notify_space = true;
	}
}

static void rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
	s->lsr &= ~LSR_DR;
}

static void rx_push(struct serial *s, uint8_t byte)
{
	if (!rx_room(s)) {
		/* A 16550 drops the incoming character and flags the overrun. */
		s->lsr |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= LSR_DR;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	if (--s->rx_count == 0)
		s->lsr &= ~LSR_DR;
	return byte;
}

/* In loopback the modem inputs are wired to the modem outputs. */
static uint8_t modem_lines(const struct serial *s)
{
	uint8_t lines = 0;

	if (!loopback(s))
		return MSR_IDLE_LINES;
	if (s->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

static void update_modem_lines(struct serial *s)
{
	uint8_t now = modem_lines(s);
	uint8_t changed = now ^ s->msr_lines;

	if (changed & MSR_CTS)
		s->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr_delta |= MSR_DDCD;
	if ((s->msr_lines & MSR_RI) && !(now & MSR_RI))
		s->msr_delta |= MSR_TERI;
	s->msr_lines = now;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t id = identify_interrupt(s);

	/* Reading IIR acknowledges a THRE interrupt, and only that one. */
	if (id == IIR_THRI)
		s->thr_ipending = false;
	return id | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

static uint8_t read_reg(struct serial *s, unsigned reg, struct deferred *d)
{
	uint8_t val;

	switch (reg) {
	case REG_DATA:
		if (dlab(s))
			return s->divisor & 0xff;
		val = rx_pop(s);
		check_host_space(s, d);
		return val;
	case REG_IER:
		return dlab(s) ? s->divisor >> 8 : s->ier;
	case REG_IIR:
		return read_iir(s);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		val = s->lsr;
		s->lsr &= ~LSR_ERRORS;
		return val;
	case REG_MSR:
		val = s->msr_lines | s->msr_delta;
		s->msr_delta = 0;
		return val;
	case REG_SCR:
		return s->scr;
	}
	return 0xff;
}

static void write_thr(struct serial *s, uint8_t byte, struct deferred *d)
{
	if (loopback(s))
		rx_push(s, byte);
	else
		d->tx[d->nr_tx++] = byte;
	/* The byte left at once, so THR is empty again. */
	s->thr_ipending = true;
}

static void write_ier(struct serial *s, uint8_t val)
{
	uint8_t old = s->ier;

	s->ier = val & 0x0F;
	/* Enabling THRI with THR empty raises THRE at once: Linux's 8250 probe
	 * relies on it, and marks the port broken without it. */
	if ((s->ier & IER_THRI) && !(old & IER_THRI))
		s->thr_ipending = true;
	else if (!(s->ier & IER_THRI))
		s->thr_ipending = false;
}

static void write_fcr(struct serial *s, uint8_t val, struct deferred *d)
{
	/* Switching FIFO mode on or off resets the FIFOs, as does bit 1. */
	if (((val ^ s->fcr) & FCR_ENABLE) || (val & FCR_CLEAR_RX))
		rx_clear(s);
	s->fcr = (val & FCR_ENABLE) ? val & FCR_KEEP : 0;
	check_host_space(s, d);
}

static void write_reg(struct serial *s, unsigned reg, uint8_t val, struct deferred *d)
{
	switch (reg) {
	case REG_DATA:
		if (dlab(s))
			s->divisor = (s->divisor & 0xff00) | val;
		else
			write_thr(s, val, d);
		break;
	case REG_IER:
		if (dlab(s))
			s->divisor = (s->divisor & 0x00ff) | (uint16_t)val << 8;
		else
			write_ier(s, val);
		break;
	case REG_IIR:
		write_fcr(s, val, d);
		break;
	case REG_LCR:
		s->lcr = val;
		break;
	case REG_MCR:
		s->mcr = val & MCR_MASK;
		update_modem_lines(s);
		check_host_space(s, d);
		break;
	case REG_LSR: /* factory test register: ignored */
	case REG_MSR:
		break;
	case REG_SCR:
		s->scr = val;
		break;
	}
}

static void run_deferred(struct serial *s, const struct deferred *d)
{
	for (unsigned i = 0; i < d->nr_tx; i++)
		if (s->host.tx)
			s->host.tx(s->host.ctx, d->tx[i]);
	if (d->notify_space && s->host.rx_space)
		s->host.rx_space(s->host.ctx);
}

/* A wider access touches consecutive registers, low byte first, like an
 * ISA bus splitting it into byte cycles. */
static uint64_t serial_read(void *dev, uint64_t off, unsigned size)
{
	struct serial *s = dev;
	struct deferred d = { 0 };
	uint64_t val = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = off + i;
		uint8_t byte = reg < SERIAL_NR_PORTS ? read_reg(s, reg, &d) : 0xff;
		val |= (uint64_t)byte << (8 * i);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	run_deferred(s, &d);
	return val;
}

static void serial_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct serial *s = dev;
	struct deferred d = { 0 };

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = off + i;
		if (reg < SERIAL_NR_PORTS)
			write_reg(s, reg, (val >> (8 * i)) & 0xff, &d);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	run_deferred(s, &d);
}

const struct io_ops serial_io_ops = {
	.read = serial_read,
	.write = serial_write,
};

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is cut off from the line: hold input back. */
	if (!loopback(s))
		for (; n < len && rx_room(s); n++)
			rx_push(s, buf[n]);
	if (n < len)
		s->host_waiting = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_receive_cb(void *s, const uint8_t *buf, size_t len)
{
	return serial_receive(s, buf, len);
}

struct serial *serial_create(const struct irq_line *irq, const struct serial_host *host)
{
	struct serial *s = xcalloc(1, sizeof(*s));

	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	if (irq)
		s->irq = *irq;
	if (host)
		s->host = *host;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->lcr = 0x03;     /* 8N1 */
	s->divisor = 12;   /* 9600 baud from the 1.8432 MHz clock */
	s->msr_lines = modem_lines(s);
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}
