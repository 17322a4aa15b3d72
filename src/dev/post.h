/* Port 0x80, the POST code port: firmware and test guests write progress
 * bytes here; they are logged at debug level (a boot timeline can hang off
 * this later). Reads give the last code written. */
#ifndef ALIOTH_DEV_POST_H
#define ALIOTH_DEV_POST_H

#include <stdint.h>

#include "dev/bus.h"

struct post;

extern const struct io_ops post_io_ops; /* one port at PORT_POST */

struct post *post_create(void);
void post_destroy(struct post *p);
uint8_t post_last_code(const struct post *p);

#endif
