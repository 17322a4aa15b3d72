/* The virtio-net check (test=net): a polled split-ring driver for one to
 * NET_MAX_PAIRS queue pairs and a tiny responder that answers ARP and ICMP
 * echo for its static address until the runner writes "STOP" on the
 * console, then reports per-queue frame counters. */
#ifndef GUEST_NET_H
#define GUEST_NET_H

struct bootinfo;
struct acpi_info;

int check_net(const struct bootinfo *bi, const struct acpi_info *ai);

#endif
