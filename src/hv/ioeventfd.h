/* KVM_IOEVENTFD: binds an eventfd to a guest MMIO address so that a guest
 * write there signals the eventfd inside the kernel, without an exit to
 * userspace. Transports reach it through struct doorbell_ops, so they (and
 * their unit tests) never see KVM. */
#ifndef ALIOTH_HV_IOEVENTFD_H
#define ALIOTH_HV_IOEVENTFD_H

#include <stdbool.h>
#include <stdint.h>

struct kvm;

struct doorbell_ops {
	/* As ioeventfd_set. */
	int (*set)(void *ctx, int fd, uint64_t addr, unsigned len, bool on);
	void *ctx;
};

/* Assigns (on) or removes (!on) the binding of fd to guest writes of len
 * bytes (1, 2, 4 or 8) at MMIO address addr, whatever value is written.
 * Returns 0 or -errno (-EEXIST: the address already has one). */
int ioeventfd_set(struct kvm *k, int fd, uint64_t addr, unsigned len, bool on);
/* doorbell_ops over k's VM. */
struct doorbell_ops ioeventfd_doorbells(struct kvm *k);

#endif
