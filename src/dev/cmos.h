/* The MC146818 RTC and CMOS NVRAM behind ports 0x70 (index) and 0x71
 * (data): the host's UTC clock (guest writes keep an offset), status
 * registers A-D with a UIP that is never stuck, the century byte, and the
 * memory-size bytes firmware reads. Thread-safe. */
#ifndef ALIOTH_DEV_CMOS_H
#define ALIOTH_DEV_CMOS_H

#include <stdint.h>

#include "dev/bus.h"

#define CMOS_NR_PORTS 2

struct cmos;

/* Register at PORT_CMOS_INDEX with CMOS_NR_PORTS ports. */
extern const struct io_ops cmos_io_ops;

/* low_ram: guest RAM below 4 GiB in bytes (from 0), high_ram: above 4 GiB. */
struct cmos *cmos_create(uint64_t low_ram, uint64_t high_ram);
void cmos_destroy(struct cmos *c);

/* Replaces the host clock (CLOCK_REALTIME, ns since the epoch), for tests. */
void cmos_set_clock(struct cmos *c, int64_t (*realtime_ns)(void *ctx), void *ctx);

#endif
