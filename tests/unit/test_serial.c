/* 16550A register model, interrupts and host-side flow control. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/serial.h"

struct fake {
	int levels[64];      /* every level the device drove, in order */
	unsigned nr_levels;
	uint8_t tx[64];
	unsigned nr_tx;
	unsigned space_calls;
	struct serial *s;
};

static void fake_set_level(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	assert_int_equal(gsi, 4);
	assert_true(f->nr_levels < 64);
	f->levels[f->nr_levels++] = level;
}

static void fake_tx(void *ctx, uint8_t byte)
{
	struct fake *f = ctx;
	assert_true(f->nr_tx < 64);
	f->tx[f->nr_tx++] = byte;
}

static void fake_space(void *ctx)
{
	struct fake *f = ctx;
	f->space_calls++;
}

static int setup(void **state)
{
	static struct fake f;
	memset(&f, 0, sizeof(f));
	struct irq_line irq = { .set_level = fake_set_level, .ctx = &f, .gsi = 4 };
	struct serial_host host = { .tx = fake_tx, .rx_space = fake_space, .ctx = &f };
	f.s = serial_create(&irq, &host);
	assert_non_null(f.s);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	serial_destroy(f->s);
	return 0;
}

static uint8_t rd(struct fake *f, unsigned reg)
{
	return serial_io_ops.read(f->s, reg, 1);
}

static void wr(struct fake *f, unsigned reg, uint8_t val)
{
	serial_io_ops.write(f->s, reg, 1, val);
}

static int level(struct fake *f)
{
	return f->nr_levels ? f->levels[f->nr_levels - 1] : 0;
}

static void test_reset_state(void **state)
{
	struct fake *f = *state;
	assert_int_equal(rd(f, 1), 0);          /* IER */
	assert_int_equal(rd(f, 2), 0x01);       /* IIR: nothing pending, no FIFO */
	assert_int_equal(rd(f, 5), 0x60);       /* LSR: THRE | TEMT */
	assert_int_equal(rd(f, 6) & 0xF0, 0xB0); /* DCD DSR CTS */
	assert_int_equal(f->nr_levels, 0);
}

static void test_register_readback(void **state)
{
	struct fake *f = *state;
	wr(f, 1, 0xFF);
	assert_int_equal(rd(f, 1), 0x0F); /* only 4 IER bits exist */
	wr(f, 1, 0);
	wr(f, 3, 0x1B);
	assert_int_equal(rd(f, 3), 0x1B);
	wr(f, 4, 0xFF);
	assert_int_equal(rd(f, 4), 0x1F);
	wr(f, 4, 0);
	wr(f, 7, 0xA5);
	assert_int_equal(rd(f, 7), 0xA5);
	wr(f, 7, 0x5A);
	assert_int_equal(rd(f, 7), 0x5A);
}

static void test_divisor_latch(void **state)
{
	struct fake *f = *state;
	wr(f, 1, 0x05);       /* IER before DLAB */
	wr(f, 3, 0x83);       /* DLAB on */
	wr(f, 0, 0x01);
	wr(f, 1, 0x02);
	assert_int_equal(rd(f, 0), 0x01);
	assert_int_equal(rd(f, 1), 0x02);
	assert_int_equal(f->nr_tx, 0); /* DLL writes are not data */
	wr(f, 3, 0x03);       /* DLAB off: IER is back, unchanged */
	assert_int_equal(rd(f, 1), 0x05);
	wr(f, 3, 0x83);
	assert_int_equal(serial_io_ops.read(f->s, 0, 2), 0x0201);
}

static void test_transmit(void **state)
{
	struct fake *f = *state;
	wr(f, 0, 'h');
	wr(f, 0, 'i');
	assert_int_equal(f->nr_tx, 2);
	assert_memory_equal(f->tx, "hi", 2);
	assert_int_equal(rd(f, 5) & 0x60, 0x60);
	assert_int_equal(f->nr_levels, 0); /* THRI disabled: no interrupt */
}

static void test_fifo_bits_in_iir(void **state)
{
	struct fake *f = *state;
	wr(f, 2, 0xC7);
	assert_int_equal(rd(f, 2), 0xC1);
	wr(f, 2, 0x00);
	assert_int_equal(rd(f, 2), 0x01);
}

static void test_thre_irq_on_enable(void **state)
{
	struct fake *f = *state;
	wr(f, 1, 0x02); /* THRI 0 -> 1 with THR empty */
	assert_int_equal(level(f), 1);
	assert_int_equal(rd(f, 2) & 0x0F, 0x02);
	assert_int_equal(level(f), 0);           /* reading IIR acknowledged it */
	assert_int_equal(rd(f, 2) & 0x0F, 0x01);
	/* Linux's probe: disable and re-enable; it must fire again. */
	wr(f, 1, 0x00);
	wr(f, 1, 0x02);
	assert_int_equal(rd(f, 2) & 0x0F, 0x02);
	/* Writing THR with THRI on raises it again. */
	wr(f, 0, 'x');
	assert_int_equal(level(f), 1);
	/* Disabling THRI drops the line. */
	wr(f, 1, 0x00);
	assert_int_equal(level(f), 0);
	/* The line toggled once per change only. */
	for (unsigned i = 1; i < f->nr_levels; i++)
		assert_int_not_equal(f->levels[i], f->levels[i - 1]);
}

static void test_rx_and_dr(void **state)
{
	struct fake *f = *state;
	wr(f, 2, 0x01);
	wr(f, 1, 0x01); /* RDI */
	assert_int_equal(level(f), 0);
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(level(f), 1);
	assert_int_equal(rd(f, 5) & 0x01, 0x01);
	assert_int_equal(rd(f, 2), 0xC4);
	assert_int_equal(rd(f, 0), 'a');
	assert_int_equal(level(f), 1);
	assert_int_equal(rd(f, 0), 'b');
	assert_int_equal(level(f), 0);
	assert_int_equal(rd(f, 5) & 0x01, 0);
	assert_int_equal(rd(f, 2), 0xC1);
}

static void test_loopback(void **state)
{
	struct fake *f = *state;
	wr(f, 2, 0x01);
	wr(f, 4, 0x10 | 0x0A); /* loop, OUT2, RTS: Linux's probe */
	assert_int_equal(rd(f, 6) & 0xF0, 0x90); /* DCD, CTS */
	wr(f, 4, 0x10 | 0x05); /* DTR, OUT1 */
	assert_int_equal(rd(f, 6) & 0xF0, 0x60); /* DSR, RI */
	wr(f, 0, 0x55);
	assert_int_equal(f->nr_tx, 0); /* loopback: nothing leaves */
	assert_int_equal(rd(f, 5) & 0x01, 0x01);
	assert_int_equal(rd(f, 0), 0x55);
	/* Host input is held back while in loopback, then resumes. */
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"z", 1), 0);
	assert_int_equal(f->space_calls, 0);
	wr(f, 4, 0x00);
	assert_int_equal(f->space_calls, 1);
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"z", 1), 1);
	assert_int_equal(rd(f, 0), 'z');
}

static void test_modem_status_deltas(void **state)
{
	struct fake *f = *state;
	wr(f, 1, 0x08); /* MSI */
	wr(f, 4, 0x10); /* loop, all lines drop: DCTS DDSR DDCD */
	assert_int_equal(level(f), 1);
	assert_int_equal(rd(f, 2) & 0x0F, 0x00);
	assert_int_equal(rd(f, 6), 0x0B);
	assert_int_equal(level(f), 0);
	wr(f, 4, 0x14); /* RI rises: no TERI */
	assert_int_equal(rd(f, 6), 0x40);
	wr(f, 4, 0x10); /* RI falls: TERI */
	assert_int_equal(rd(f, 6), 0x04);
	assert_int_equal(rd(f, 6), 0x00);
}

static void test_fifo_fill_and_overrun(void **state)
{
	struct fake *f = *state;
	wr(f, 2, 0x01);
	wr(f, 4, 0x10);
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
		wr(f, 0, i);
	assert_int_equal(rd(f, 5) & 0x03, 0x01); /* full, no overrun yet */
	wr(f, 0, 0xEE);
	assert_int_equal(rd(f, 5) & 0x03, 0x03);
	assert_int_equal(rd(f, 5) & 0x02, 0);    /* OE cleared by reading LSR */
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
		assert_int_equal(rd(f, 0), i);       /* 0xEE was dropped */
	assert_int_equal(rd(f, 5) & 0x01, 0);
	/* FCR bit 1 clears the RX FIFO. */
	wr(f, 0, 1);
	wr(f, 0, 2);
	wr(f, 2, 0x03);
	assert_int_equal(rd(f, 5) & 0x01, 0);
	/* Without FIFOs the receiver holds one byte. */
	wr(f, 2, 0x00);
	wr(f, 0, 7);
	wr(f, 0, 8);
	assert_int_equal(rd(f, 5) & 0x03, 0x03);
	assert_int_equal(rd(f, 0), 7);
}

static void test_iir_priority(void **state)
{
	struct fake *f = *state;
	wr(f, 2, 0x01);
	wr(f, 4, 0x10);
	wr(f, 1, 0x0F);  /* all sources; THRE and MSI become pending */
	wr(f, 4, 0x13);  /* DTR RTS: modem deltas */
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE + 1; i++)
		wr(f, 0, 'a'); /* fills RX and overruns */
	assert_int_equal(rd(f, 2) & 0x0F, 0x06); /* line status first */
	assert_int_equal(rd(f, 2) & 0x0F, 0x06); /* IIR read does not clear it */
	rd(f, 5);
	assert_int_equal(rd(f, 2) & 0x0F, 0x04); /* then RX data */
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
		rd(f, 0);
	assert_int_equal(rd(f, 2) & 0x0F, 0x02); /* then THRE, cleared by the read */
	assert_int_equal(rd(f, 2) & 0x0F, 0x00); /* then modem status */
	assert_int_equal(level(f), 1);
	rd(f, 6);
	assert_int_equal(rd(f, 2) & 0x0F, 0x01);
	assert_int_equal(level(f), 0);
}

static void test_receive_back_pressure(void **state)
{
	struct fake *f = *state;
	uint8_t buf[40];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = 'A' + i;
	/* FIFOs off: one byte at a time. */
	assert_int_equal(serial_receive(f->s, buf, 3), 1);
	rd(f, 0);
	assert_int_equal(f->space_calls, 1);
	wr(f, 2, 0x01); /* enabling the FIFO resets it */
	assert_int_equal(serial_receive(f->s, buf, sizeof(buf)), SERIAL_FIFO_SIZE);
	assert_int_equal(rd(f, 5) & 0x02, 0); /* host input never overruns */
	assert_int_equal(f->space_calls, 1);
	assert_int_equal(serial_receive(f->s, buf + 16, 24), 0);
	assert_int_equal(rd(f, 0), 'A');
	assert_int_equal(f->space_calls, 2); /* one notification per short receive */
	assert_int_equal(rd(f, 0), 'B');
	assert_int_equal(f->space_calls, 2);
	assert_int_equal(serial_receive(f->s, buf + 16, 24), 2);
	for (unsigned i = 2; i < 18; i++)
		assert_int_equal(rd(f, 0), 'A' + i);
	assert_int_equal(f->space_calls, 3);
	/* A complete receive arms nothing. */
	assert_int_equal(serial_receive(f->s, buf, 1), 1);
	rd(f, 0);
	assert_int_equal(f->space_calls, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_bits_in_iir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_irq_on_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_and_dr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_deltas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_fill_and_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_back_pressure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
