/* test=blkbench: virtio-blk read throughput and IOPS measured from inside
 * the guest with the TSC, up to 16 requests in flight on one split queue
 * (bench/blk-bench.py drives it; bench/README.md explains the numbers). */
#ifndef GUEST_BLKBENCH_H
#define GUEST_BLKBENCH_H

struct bootinfo;
struct acpi_info;

/* Runs the benchmark phases named by bb=, checking every sector's tag;
 * prints BLKBENCH lines, then PASS or FAIL blkbench. 1 if it passed. */
int check_blkbench(const struct bootinfo *bi, const struct acpi_info *ai);

#endif
