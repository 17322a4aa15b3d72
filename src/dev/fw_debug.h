/* The firmware debug port (0x402, QEMU's isa-debugcon as SeaBIOS and OVMF
 * use it): bytes written are collected into lines and logged at info
 * level. Reads return 0xe9, the value firmware probes for. Thread-safe. */
#ifndef ALIOTH_DEV_FW_DEBUG_H
#define ALIOTH_DEV_FW_DEBUG_H

#include "dev/bus.h"

#define FW_DEBUG_LINE_MAX 256

struct fw_debug;

/* Register at PORT_FW_DEBUG, 1 port. */
extern const struct io_ops fw_debug_io_ops;

struct fw_debug *fw_debug_create(void);
/* Logs a pending partial line. */
void fw_debug_destroy(struct fw_debug *d);

#endif
