/* The PCI/virtio checks (test=blk, blk-ro, blk-durable, blk-hostile,
 * entropy, pvpanic), with ring and completion mode from the command line
 * (vring=split|packed, vfeat=indirect,event_idx, vmode=irq|poll). */
#ifndef GUEST_VTESTS_H
#define GUEST_VTESTS_H

struct bootinfo;
struct acpi_info;

/* Runs those of its checks that test= names; returns how many it ran. */
unsigned vtests_run(const struct bootinfo *bi, const struct acpi_info *ai);

#endif
