#include "hv/ioeventfd.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/kvm.h"

int ioeventfd_set(struct kvm *k, int fd, uint64_t addr, unsigned len, bool on)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

static int doorbell_set(void *ctx, int fd, uint64_t addr, unsigned len, bool on)
{
	return ioeventfd_set(ctx, fd, addr, len, on);
}

struct doorbell_ops ioeventfd_doorbells(struct kvm *k)
{
	return (struct doorbell_ops){ .set = doorbell_set, .ctx = k };
}
