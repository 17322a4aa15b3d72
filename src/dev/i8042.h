/* Just enough of the PC keyboard controller for Linux: the status port
 * 0x64 reads 0 (no data, input buffer empty) so probe and reboot loops
 * never spin, the data port 0x60 reads 0, and the pulse-reset command
 * 0xFE written to 0x64 requests VM_EVENT_RESET. */
#ifndef ALIOTH_DEV_I8042_H
#define ALIOTH_DEV_I8042_H

#include "dev/bus.h"
#include "dev/events.h"

#define I8042_CMD_RESET 0xFE

struct i8042;

/* Each on one port: data at PORT_I8042_DATA, command at PORT_I8042_CMD. */
extern const struct io_ops i8042_data_ops;
extern const struct io_ops i8042_cmd_ops;

struct i8042 *i8042_create(const struct vm_events *events); /* events copied */
void i8042_destroy(struct i8042 *k);

#endif
