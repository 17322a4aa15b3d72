/* test=netbench: virtio-net frame rate measured from inside the guest with
 * the TSC on one polled queue pair of 256 entries (bench/net-bench.py drives
 * it): nb=tx sends nb_count frames of nb_size bytes as fast as the TX ring
 * allows, nb=rx counts the frames the host sends until nb_count or silence. */
#ifndef GUEST_NETBENCH_H
#define GUEST_NETBENCH_H

struct bootinfo;
struct acpi_info;

/* Prints NETBENCH lines, then PASS or FAIL netbench. 1 if it passed. */
int check_netbench(const struct bootinfo *bi, const struct acpi_info *ai);

#endif
