/* Minimal i8042. Port 0x61 (system control port B) is deliberately not
 * claimed: it is a different device. */
#include "dev/i8042.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"

struct i8042 {
	struct vm_events events; /* immutable after create: no lock needed */
};

static uint64_t i8042_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void i8042_data_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)dev;
	(void)off;
	(void)size;
	log_trace("i8042: data 0x%02x ignored", (unsigned)(val & 0xff));
}

static void i8042_cmd_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *k = dev;

	(void)off;
	(void)size;
	if ((val & 0xff) == I8042_CMD_RESET)
		vm_event_request(&k->events, VM_EVENT_RESET);
	else
		log_trace("i8042: command 0x%02x ignored", (unsigned)(val & 0xff));
}

const struct io_ops i8042_data_ops = {
	.read = i8042_read,
	.write = i8042_data_write,
};

const struct io_ops i8042_cmd_ops = {
	.read = i8042_read,
	.write = i8042_cmd_write,
};

struct i8042 *i8042_create(const struct vm_events *events)
{
	struct i8042 *k = xcalloc(1, sizeof(*k));

	if (events)
		k->events = *events;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	free(k);
}
