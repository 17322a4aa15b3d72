/* The host end of the guest's serial console: `--console stdio` (raw TTY,
 * Ctrl-A escapes, an input thread feeding the UART with back-pressure) or
 * `--console log,path=P,append=B` (output to a file, no input). Output is
 * written synchronously by the caller and never dropped. */
#ifndef ALIOTH_DEV_CONSOLE_H
#define ALIOTH_DEV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board/config.h"
#include "dev/events.h"

/* Where console input goes: returns how many bytes were taken; a short
 * count means "full", and the receiver must later call
 * console_input_space() (serial_receive_cb + serial_host.rx_space). */
struct console_input {
	size_t (*receive)(void *ctx, const uint8_t *buf, size_t len);
	void *ctx;
};

struct console;

/* Opens the console: stdio switches a TTY stdin to raw mode (restored by
 * console_destroy(), console_restore() and at exit); log opens the file.
 * events (copied) receives VM_EVENT_QUIT on Ctrl-A x. Returns 0 or -errno
 * after logging why. */
int console_open(const struct console_config *cfg, const struct vm_events *events,
		 struct console **out);
/* Starts the input thread (stdio only; a no-op for log). in is copied. */
int console_start(struct console *c, const struct console_input *in);
/* Stops and joins the input thread; idempotent. */
void console_stop(struct console *c);
/* console_stop(), restores the terminal, closes files, frees. NULL is fine. */
void console_destroy(struct console *c);

/* Guest output: blocks until every byte is written (EINTR, partial writes
 * and EAGAIN are handled). Callable from any thread. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* Callback shapes for serial_host: tx = console_tx_byte, rx_space =
 * console_input_space, ctx = the console. rx_space only signals an
 * eventfd, so it is safe from a vCPU thread. */
void console_tx_byte(void *console, uint8_t byte);
/* The VM is stopping: writes blocked on a reader that does not read give
 * up when their thread is interrupted, and later output is dropped, so a
 * signal can always end the VMM. */
void console_discard_output(struct console *c);
void console_input_space(void *console);

/* Puts the terminal back as it was before console_open(). Idempotent and
 * async-signal-safe (only tcsetattr), so the board may call it from a
 * fatal-signal handler; also registered with atexit(). */
void console_restore(void);

/* Ctrl-A escape decoding, pure so it can be tested. Escapes are decoded only
 * when stdin is a TTY: piped or redirected input reaches the guest
 * byte-for-byte (QEMU's mon:stdio decodes them always). */
#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */
#define CONSOLE_ESC_QUIT 0x1u    /* Ctrl-A x */
#define CONSOLE_ESC_HELP 0x2u    /* Ctrl-A h or ? */

struct console_escape {
	bool pending; /* the previous chunk ended with Ctrl-A */
	bool quit;    /* Ctrl-A x seen: everything after it is discarded */
};

/* Copies in[0..len) to out (room for len bytes), removing escapes:
 * Ctrl-A Ctrl-A gives one 0x01, Ctrl-A x/h OR their flag into *actions,
 * any other Ctrl-A pair is dropped. Input after a quit is discarded. State
 * carries over between calls (an escape may be split across reads).
 * Returns the number of bytes written to out. */
size_t console_escape_filter(struct console_escape *st, const uint8_t *in, size_t len,
			     uint8_t *out, unsigned *actions);

#endif
