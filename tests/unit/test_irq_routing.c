/* KVM GSI routing on the real /dev/kvm, with the full and the split
 * irqchip: the default IOAPIC/PIC routes survive KVM_SET_GSI_ROUTING (full),
 * GSIs 0-23 carry exactly the IOAPIC's mirrored MSI routes (split), MSI GSIs
 * are allocated from 24, irqfds are attached on unmask and detached on mask
 * (checked against KVM's own irqfd list), and the msi_sink adapter drives it
 * from msix. Skipped without /dev/kvm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv/irq_routing.h"
#include "hv/kvm.h"
#include "pci/msix.h"

struct fixture {
	struct kvm kvm;
	struct irq_routing *r;
};

static int setup_mode(void **state, enum kvm_irqchip_mode mode)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (kvm_open_irqchip(&f->kvm, NULL, mode) != 0) {
		free(f);
		return -1;
	}
	if (irq_routing_create(&f->kvm, &f->r) != 0) {
		kvm_close(&f->kvm);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_full(void **state)
{
	return setup_mode(state, KVM_IRQCHIP_MODE_FULL);
}

static int setup_split(void **state)
{
	return setup_mode(state, KVM_IRQCHIP_MODE_SPLIT);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	irq_routing_destroy(f->r);
	kvm_close(&f->kvm);
	free(f);
	return 0;
}

/* KVM_IRQ_LINE_STATUS reports -1 when no route exists for the GSI. */
static int status_of(int vm_fd, unsigned gsi, int level);

static int line_status(struct fixture *f, unsigned gsi, int level)
{
	return status_of(f->kvm.vm_fd, gsi, level);
}

/* Asks KVM whether fd is bound as an irqfd, leaving things as they were. */
static bool irqfd_bound(struct fixture *f, int fd, unsigned gsi)
{
	struct kvm_irqfd q = { .fd = (uint32_t)fd, .gsi = gsi };
	/* Assigning an eventfd that is already bound fails with EBUSY. */
	if (ioctl(f->kvm.vm_fd, KVM_IRQFD, &q) < 0)
		return errno == EBUSY;
	q.flags = KVM_IRQFD_FLAG_DEASSIGN;
	ioctl(f->kvm.vm_fd, KVM_IRQFD, &q);
	return false;
}

static int status_of(int vm_fd, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };
	if (ioctl(vm_fd, KVM_IRQ_LINE_STATUS, &l) < 0)
		return -1000 - errno;
	return l.status;
}

static void test_default_routes_kept(void **state)
{
	struct fixture *f = *state;
	/* A VM with KVM's own table answers exactly like ours (level 1 then
	 * 0 on each GSI: PIC and IOAPIC give distinct statuses, no route -1). */
	struct kvm plain;
	assert_false(f->kvm.split_irqchip);
	assert_int_equal(kvm_open_irqchip(&plain, NULL, KVM_IRQCHIP_MODE_FULL), 0);
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		for (int level = 1; level >= 0; level--) {
			int want = status_of(plain.vm_fd, gsi, level);
			assert_true(want > -1000);
			assert_int_equal(line_status(f, gsi, level), want);
		}
		assert_true(line_status(f, gsi, 0) >= 0);
	}
	kvm_close(&plain);
	/* An MSI GSI without a route is not delivered anywhere; with its route
	 * it reaches vCPU 0's LAPIC (status 0: the LAPIC is not enabled yet). */
	struct kvm_vcpu vcpu;
	assert_int_equal(kvm_vcpu_create(&f->kvm, 0, &vcpu), 0);
	int gsi = irq_routing_msi_alloc(f->r);
	assert_int_equal(gsi, 24);
	assert_int_equal(line_status(f, (unsigned)gsi, 1), -1);
	assert_int_equal(irq_routing_msi_set(f->r, (unsigned)gsi, 0xFEE00000, 0x31, false), 0);
	assert_true(line_status(f, (unsigned)gsi, 1) >= 0);
	/* The IOAPIC routes are still there. */
	assert_true(line_status(f, 4, 0) >= 0);
	assert_true(line_status(f, 23, 0) >= 0);
	irq_routing_msi_free(f->r, (unsigned)gsi);
	assert_int_equal(line_status(f, (unsigned)gsi, 1), -1);
	kvm_vcpu_destroy(&f->kvm, &vcpu);
	/* Pin routes are the split irqchip's only. */
	assert_int_equal(irq_routing_ioapic_route(f->r, 4, 0xFEE00000, 0x24), -EINVAL);
}

static void test_split_pin_routes(void **state)
{
	struct fixture *f = *state;
	assert_true(f->kvm.split_irqchip);
	struct kvm_vcpu vcpu;
	assert_int_equal(kvm_vcpu_create(&f->kvm, 0, &vcpu), 0);
	/* No PIC, no in-kernel IOAPIC: GSIs 0-23 lead nowhere at first. */
	for (unsigned gsi = 0; gsi < 24; gsi++)
		assert_int_equal(line_status(f, gsi, 1), -1);
	/* A pin's route is the IOAPIC's message (status 0: LAPIC not enabled). */
	assert_int_equal(irq_routing_ioapic_route(f->r, 4, 0xFEE00000, 0x24), 0);
	assert_true(line_status(f, 4, 1) >= 0);
	assert_int_equal(line_status(f, 3, 1), -1);
	assert_int_equal(irq_routing_ioapic_route(f->r, 23, 0xFEE00000, 0x8031), 0);
	assert_true(line_status(f, 23, 1) >= 0);
	assert_int_equal(irq_routing_ioapic_route(f->r, 24, 0xFEE00000, 0x24), -EINVAL);
	/* MSI vectors come and go without disturbing the pin routes. */
	int gsi = irq_routing_msi_alloc(f->r);
	assert_int_equal(gsi, 24);
	assert_int_equal(irq_routing_msi_set(f->r, (unsigned)gsi, 0xFEE00000, 0x41, false), 0);
	assert_true(line_status(f, (unsigned)gsi, 1) >= 0);
	irq_routing_msi_free(f->r, (unsigned)gsi);
	assert_int_equal(line_status(f, (unsigned)gsi, 1), -1);
	assert_true(line_status(f, 4, 1) >= 0);
	assert_true(line_status(f, 23, 1) >= 0);
	kvm_vcpu_destroy(&f->kvm, &vcpu);
}

static void test_irqfd_follows_mask(void **state)
{
	struct fixture *f = *state;
	int a = irq_routing_msi_alloc(f->r), b = irq_routing_msi_alloc(f->r);
	assert_int_equal(a, 24);
	assert_int_equal(b, 25);
	int fd = irq_routing_msi_eventfd(f->r, (unsigned)a);
	assert_true(fd >= 0);
	assert_int_equal(irq_routing_msi_eventfd(f->r, 200), -EINVAL);
	assert_int_equal(irq_routing_msi_set(f->r, 23, 0xFEE00000, 0x31, false), -EINVAL);

	assert_false(irqfd_bound(f, fd, (unsigned)a));  /* not attached before set */
	assert_int_equal(irq_routing_msi_set(f->r, (unsigned)a, 0xFEE00000, 0x31, false), 0);
	assert_true(irqfd_bound(f, fd, (unsigned)a));
	assert_int_equal(irq_routing_msi_trigger(f->r, (unsigned)a), 0);
	/* New message while unmasked: still attached. */
	assert_int_equal(irq_routing_msi_set(f->r, (unsigned)a, 0xFEE00000, 0x32, false), 0);
	assert_true(irqfd_bound(f, fd, (unsigned)a));
	assert_int_equal(irq_routing_msi_set(f->r, (unsigned)a, 0xFEE00000, 0x32, true), 0);
	assert_false(irqfd_bound(f, fd, (unsigned)a));
	/* Freed GSIs are reused. */
	irq_routing_msi_free(f->r, (unsigned)a);
	assert_int_equal(irq_routing_msi_alloc(f->r), 24);

	/* The direct path: no vCPU accepts it, but KVM takes the message. */
	int ret = irq_routing_signal_msi(f->r, 0xFEE00000, 0x33);
	assert_true(ret >= 0 || ret == -EPERM);
}

static void test_msix_sink_drives_kvm(void **state)
{
	struct fixture *f = *state;
	struct msi_vectors *v;
	assert_int_equal(msi_vectors_create(f->r, 3, &v), 0);
	assert_int_equal(msi_vectors_gsi(v, 0), 24);
	assert_int_equal(msi_vectors_gsi(v, 2), 26);
	assert_int_equal(msi_vectors_gsi(v, 3), -EINVAL);
	struct msi_sink sink = msi_vectors_sink(v);
	struct msix *x = msix_create(3, &sink);
	struct pci_config cfg;
	const struct pci_ids ids = { .vendor = 0x1AF4, .device = 0x1041 };
	pci_config_init(&cfg, &ids);
	int cap = msix_add_cap(x, &cfg, 0, 0, 0, 0x800);
	assert_true(cap > 0);
	pci_config_write(&cfg, (unsigned)cap + 2, 2, MSIX_CTRL_ENABLE);
	msix_table_write(x, 16, 8, 0xFEE00000);
	msix_table_write(x, 16 + 8, 4, 0x41);
	int fd1 = msi_vectors_eventfd(v, 1);
	assert_false(irqfd_bound(f, fd1, 25));
	msix_table_write(x, 16 + 12, 4, 0);  /* unmask vector 1 */
	assert_true(irqfd_bound(f, fd1, 25));
	assert_true(msix_notify(x, 1));
	/* The function mask detaches it again. */
	pci_config_write(&cfg, (unsigned)cap + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	assert_false(irqfd_bound(f, fd1, 25));
	pci_config_write(&cfg, (unsigned)cap + 2, 2, MSIX_CTRL_ENABLE);
	assert_true(irqfd_bound(f, fd1, 25));
	msix_destroy(x);
	pci_config_destroy(&cfg);
	msi_vectors_destroy(v);
	assert_int_equal(irq_routing_msi_alloc(f->r), 24);
}

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("skipping: cannot open /dev/kvm (%s)\n", strerror(errno));
		return 77;
	}
	close(fd);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_routes_kept, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_follows_mask, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_msix_sink_drives_kvm, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_split_pin_routes, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_follows_mask, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_msix_sink_drives_kvm, setup_split, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
