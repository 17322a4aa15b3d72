#include <stdarg.h>

#include "klib.h"
#include "serial.h"

#define COM1     0x3F8
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_LSR 5
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define FCR_ENABLE_CLEAR 0x07 /* enable, clear RX and TX */
#define TX_FIFO  16

void serial_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
}

static void wait_thre(void)
{
	/* bounded: a UART that never sets THRE must not hang the guest */
	for (int i = 0; i < 1000000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	wait_thre();
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void serial_fifo_enable(void)
{
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
}

void serial_write_burst(const char *buf, size_t len)
{
	while (len) {
		size_t n = len < TX_FIFO ? len : TX_FIFO;

		wait_thre();
		/* one string instruction: KVM hands the VMM all n bytes at once */
		__asm__ volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"(COM1) : "memory");
		len -= len < TX_FIFO ? len : TX_FIFO;
	}
}

int serial_getc(uint64_t spins)
{
	for (uint64_t i = 0; i < spins; i++) {
		if (inb(COM1 + UART_LSR) & LSR_DR)
			return inb(COM1);
		cpu_relax();
	}
	return -1;
}

int serial_getline(char *buf, size_t cap, uint64_t spins)
{
	size_t n = 0;

	for (;;) {
		int c = serial_getc(spins);
		if (c < 0)
			return -1;
		if (c == '\n' || c == '\r') {
			if (n == 0)
				continue; /* a CR LF pair, or a leading newline */
			break;
		}
		if (n + 1 < cap)
			buf[n++] = (char)c;
	}
	buf[n] = 0;
	return (int)n;
}

static void put_number(uint64_t v, unsigned base, int width, char pad, int negative)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (negative)
		tmp[n++] = '-';
	while (width-- > n)
		serial_putc(pad);
	while (n)
		serial_putc(tmp[--n]);
}

static uint64_t take_unsigned(va_list *ap, int longs)
{
	if (longs >= 1)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static int64_t take_signed(va_list *ap, int longs)
{
	if (longs >= 1)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

static void vkprintf(const char *fmt, va_list *ap_in)
{
	va_list ap;

	va_copy(ap, *ap_in);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			serial_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 'u':
			put_number(take_unsigned(&ap, longs), 10, width, pad, 0);
			break;
		case 'x':
			put_number(take_unsigned(&ap, longs), 16, width, pad, 0);
			break;
		case 'p':
			serial_puts("0x");
			put_number((uintptr_t)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case 'd': {
			int64_t v = take_signed(&ap, longs);
			put_number(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case '%':
			serial_putc('%');
			break;
		default:
			serial_putc('%');
			if (!*fmt) {
				va_end(ap);
				return;
			}
			serial_putc(*fmt);
		}
	}
	va_end(ap);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vkprintf(fmt, &ap);
	va_end(ap);
}
