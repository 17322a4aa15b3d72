/* COM1 (0x3F8) by polling: output waits for THRE, input for LSR.DR; and a
 * printf subset (%s %c %d %u %x %p, 'l' and 'll', width and '0' flag). */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include <stddef.h>
#include <stdint.h>

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
/* Turns the 16-byte FIFOs on (FCR), as Linux's 8250 driver does. */
void serial_fifo_enable(void);
/* Raw bytes, no newline translation, 16 per wait for THRE like a driver
 * with the FIFO on: about one port exit per byte instead of two. */
void serial_write_burst(const char *buf, size_t len);
/* Reads one byte; returns -1 if none arrived within `spins` polls. */
int serial_getc(uint64_t spins);
/* Reads up to a newline (not stored); returns the length or -1 on timeout. */
int serial_getline(char *buf, size_t cap, uint64_t spins);

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
