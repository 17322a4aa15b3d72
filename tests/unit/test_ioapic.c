/* The userspace IOAPIC against a recording MSI sender: register file (ID,
 * version, entries, read-only bits), message layout, edge and level
 * delivery, masking, Remote IRR and EOI re-delivery, entry writes while a
 * line is asserted, and the route mirror KVM needs for EOI exits; then the
 * same level/EOI cycle with a real-mode guest on /dev/kvm (skipped without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev/ioapic.h"
#include "hv/irq_routing.h"
#include "hv/kvm.h"

#define MAX_SENT 64

struct recorder {
	unsigned nr_sent;
	struct { uint64_t addr; uint32_t data; } sent[MAX_SENT];
	int send_result;          /* what send() returns */
	unsigned nr_routes;
	unsigned route_pin;
	uint64_t route_addr;
	uint32_t route_data;
};

static int rec_send(void *ctx, uint64_t addr, uint32_t data)
{
	struct recorder *r = ctx;
	if (r->nr_sent < MAX_SENT) {
		r->sent[r->nr_sent].addr = addr;
		r->sent[r->nr_sent].data = data;
	}
	r->nr_sent++;
	return r->send_result;
}

static void rec_route(void *ctx, unsigned pin, uint64_t addr, uint32_t data)
{
	struct recorder *r = ctx;
	r->nr_routes++;
	r->route_pin = pin;
	r->route_addr = addr;
	r->route_data = data;
}

struct fixture {
	struct recorder rec;
	struct ioapic *a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->rec.send_result = 1;
	struct ioapic_msi_ops ops = { .send = rec_send, .route = rec_route, .ctx = &f->rec };
	f->a = ioapic_create(&ops);
	*state = f;
	return f->a ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ioapic_destroy(f->a);
	free(f);
	return 0;
}

static uint32_t reg_read(struct ioapic *a, uint32_t index)
{
	ioapic_mmio_ops.write(a, 0x00, 4, index);
	return (uint32_t)ioapic_mmio_ops.read(a, 0x10, 4);
}

static void reg_write(struct ioapic *a, uint32_t index, uint32_t val)
{
	ioapic_mmio_ops.write(a, 0x00, 4, index);
	ioapic_mmio_ops.write(a, 0x10, 4, val);
}

static uint64_t entry(struct ioapic *a, unsigned pin)
{
	return reg_read(a, 0x10 + 2 * pin) | (uint64_t)reg_read(a, 0x11 + 2 * pin) << 32;
}

/* High half first, as Linux does, so the low half's unmask comes last. */
static void set_entry(struct ioapic *a, unsigned pin, uint64_t val)
{
	reg_write(a, 0x11 + 2 * pin, (uint32_t)(val >> 32));
	reg_write(a, 0x10 + 2 * pin, (uint32_t)val);
}

#define MASKED     (1ull << 16)
#define LEVEL      (1ull << 15)
#define REMOTE_IRR (1ull << 14)
#define DEST(d)    ((uint64_t)(d) << 56)

static void test_registers_at_reset(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	assert_int_equal(reg_read(a, 0x01), 0x11 | (23 << 16));
	assert_int_equal(reg_read(a, 0x00), 0);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(entry(a, pin), MASKED);
	/* Past the last entry and unknown indexes read 0. */
	assert_int_equal(reg_read(a, 0x10 + 2 * IOAPIC_PINS), 0);
	assert_int_equal(reg_read(a, 0x03), 0);
	/* IOREGSEL reads back; only its low byte exists. */
	ioapic_mmio_ops.write(a, 0x00, 4, 0x1234);
	assert_int_equal(ioapic_mmio_ops.read(a, 0x00, 4), 0x34);
	/* Non-32-bit accesses are ignored. */
	ioapic_mmio_ops.write(a, 0x00, 1, 0x01);
	assert_int_equal(ioapic_mmio_ops.read(a, 0x00, 4), 0x34);
	assert_int_equal(ioapic_mmio_ops.read(a, 0x10, 2), 0);
}

static void test_id_version_entries_writable(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	/* Only the 4-bit ID field is writable; ARB follows it. */
	reg_write(a, 0x00, 0xFFFFFFFF);
	assert_int_equal(reg_read(a, 0x00), 0x0F000000);
	assert_int_equal(reg_read(a, 0x02), 0x0F000000);
	reg_write(a, 0x01, 0);
	assert_int_equal(reg_read(a, 0x01), 0x11 | (23 << 16));

	/* Each half of an entry is written on its own; delivery status and
	 * Remote IRR cannot be set by the guest. */
	set_entry(a, 23, DEST(0xAB) | MASKED | LEVEL | REMOTE_IRR | (1u << 12) | (1u << 13) |
			 (1u << 11) | (2u << 8) | 0x42);
	assert_int_equal(entry(a, 23), DEST(0xAB) | MASKED | LEVEL | (1u << 13) | (1u << 11) |
				       (2u << 8) | 0x42);
	reg_write(a, 0x10 + 2 * 23, 0x10033);
	assert_int_equal(entry(a, 23), DEST(0xAB) | MASKED | 0x33);
	assert_int_equal(entry(a, 22), MASKED); /* neighbours untouched */
	assert_int_equal(f->rec.nr_sent, 0);   /* masked: nothing sent */
}

static void test_message_layout_and_route_mirror(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	/* Logical destination 0x05, lowest priority (1), level, vector 0x61. */
	set_entry(a, 9, DEST(0x05) | LEVEL | (1u << 11) | (1u << 8) | 0x61);
	assert_int_equal(f->rec.route_pin, 9);
	assert_int_equal(f->rec.route_addr, 0xFEE00000 | 0x05 << 12 | 1 << 2);
	assert_int_equal(f->rec.route_data, 0x61 | 1 << 8 | 1 << 15);
	ioapic_set_level(a, 9, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	assert_int_equal(f->rec.sent[0].addr, 0xFEE00000 | 0x05 << 12 | 1 << 2);
	assert_int_equal(f->rec.sent[0].data, 0x61 | 1 << 8 | 1 << 15);
	/* Physical, fixed, edge, destination 3. */
	unsigned routes = f->rec.nr_routes;
	set_entry(a, 4, DEST(3) | 0x24);
	assert_int_equal(f->rec.nr_routes, routes + 2); /* one per half written */
	assert_int_equal(f->rec.route_pin, 4);
	assert_int_equal(f->rec.route_addr, 0xFEE03000);
	assert_int_equal(f->rec.route_data, 0x24);
	ioapic_set_level(a, 4, 1);
	assert_int_equal(f->rec.nr_sent, 2);
	assert_int_equal(f->rec.sent[1].addr, 0xFEE03000);
	assert_int_equal(f->rec.sent[1].data, 0x24);
}

static void test_edge(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	set_entry(a, 4, 0x24);
	ioapic_set_level(a, 4, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	ioapic_set_level(a, 4, 1);  /* no new edge */
	assert_int_equal(f->rec.nr_sent, 1);
	ioapic_set_level(a, 4, 0);
	assert_int_equal(f->rec.nr_sent, 1);
	ioapic_set_level(a, 4, 1);
	assert_int_equal(f->rec.nr_sent, 2);
	/* An edge needs no EOI and never sets Remote IRR. */
	assert_int_equal(entry(a, 4) & REMOTE_IRR, 0);
	ioapic_eoi(a, 0x24);
	assert_int_equal(f->rec.nr_sent, 2);
	/* Unmasking while high is not an edge. */
	ioapic_set_level(a, 4, 0);
	set_entry(a, 4, MASKED | 0x24);
	ioapic_set_level(a, 4, 1);
	assert_int_equal(f->rec.nr_sent, 2);    /* masked edge is lost */
	set_entry(a, 4, 0x24);
	assert_int_equal(f->rec.nr_sent, 2);
	ioapic_set_level(a, 4, 0);
	ioapic_set_level(a, 4, 1);
	assert_int_equal(f->rec.nr_sent, 3);
	/* Pins out of range are ignored. */
	ioapic_set_level(a, IOAPIC_PINS, 1);
	assert_int_equal(f->rec.nr_sent, 3);
}

static void test_level_remote_irr_eoi(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	set_entry(a, 10, LEVEL | 0x51);
	set_entry(a, 11, LEVEL | 0x52);
	ioapic_set_level(a, 10, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	assert_int_equal(f->rec.sent[0].data, 0x51 | 1 << 15);
	assert_true(entry(a, 10) & REMOTE_IRR);
	/* Still asserted, Remote IRR set: nothing more until the EOI. */
	ioapic_set_level(a, 10, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	/* An EOI for another vector changes nothing. */
	ioapic_eoi(a, 0x52);
	assert_int_equal(f->rec.nr_sent, 1);
	assert_true(entry(a, 10) & REMOTE_IRR);
	/* EOI while still asserted: delivered again. */
	ioapic_eoi(a, 0x51);
	assert_int_equal(f->rec.nr_sent, 2);
	assert_int_equal(f->rec.sent[1].data, 0x51 | 1 << 15);
	assert_true(entry(a, 10) & REMOTE_IRR);
	/* Deasserted, then EOI: Remote IRR clears, nothing sent. */
	ioapic_set_level(a, 10, 0);
	ioapic_eoi(a, 0x51);
	assert_int_equal(f->rec.nr_sent, 2);
	assert_int_equal(entry(a, 10) & REMOTE_IRR, 0);
	/* Asserted again: delivered at once. */
	ioapic_set_level(a, 10, 1);
	assert_int_equal(f->rec.nr_sent, 3);
	/* Two pins sharing a vector: one EOI serves both. */
	set_entry(a, 11, LEVEL | 0x51);
	ioapic_set_level(a, 11, 1);
	assert_int_equal(f->rec.nr_sent, 4);
	ioapic_set_level(a, 10, 0);
	ioapic_eoi(a, 0x51);
	assert_int_equal(f->rec.nr_sent, 5); /* pin 11 only */
	assert_int_equal(entry(a, 10) & REMOTE_IRR, 0);
	assert_true(entry(a, 11) & REMOTE_IRR);
}

static void test_level_masking(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	set_entry(a, 12, MASKED | LEVEL | 0x60);
	ioapic_set_level(a, 12, 1);
	assert_int_equal(f->rec.nr_sent, 0);
	/* Unmasking an asserted level pin delivers it. */
	set_entry(a, 12, LEVEL | 0x60);
	assert_int_equal(f->rec.nr_sent, 1);
	/* Masked with Remote IRR set: the EOI clears it but sends nothing;
	 * the unmask then delivers (still asserted). */
	set_entry(a, 12, MASKED | LEVEL | 0x60);
	ioapic_eoi(a, 0x60);
	assert_int_equal(entry(a, 12) & REMOTE_IRR, 0);
	assert_int_equal(f->rec.nr_sent, 1);
	set_entry(a, 12, LEVEL | 0x60);
	assert_int_equal(f->rec.nr_sent, 2);
	/* Deasserted while masked: the unmask sends nothing. */
	set_entry(a, 12, MASKED | LEVEL | 0x60);
	ioapic_set_level(a, 12, 0);
	ioapic_eoi(a, 0x60);
	set_entry(a, 12, LEVEL | 0x60);
	assert_int_equal(f->rec.nr_sent, 2);
}

static void test_entry_write_while_asserted(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	set_entry(a, 5, LEVEL | 0x70);
	ioapic_set_level(a, 5, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	/* A new vector keeps Remote IRR: no second message before the EOI. */
	set_entry(a, 5, LEVEL | 0x71);
	assert_int_equal(f->rec.nr_sent, 1);
	assert_true(entry(a, 5) & REMOTE_IRR);
	/* The EOI must name the entry's current vector. */
	ioapic_eoi(a, 0x70);
	assert_int_equal(f->rec.nr_sent, 1);
	ioapic_eoi(a, 0x71);
	assert_int_equal(f->rec.nr_sent, 2);
	assert_int_equal(f->rec.sent[1].data, 0x71 | 1 << 15);
	/* Linux's way to clear a stuck Remote IRR without an EOI register:
	 * mask, switch to edge (clears it), back to level. Level and asserted,
	 * so the unmask delivers again. */
	set_entry(a, 5, MASKED | 0x71);
	assert_int_equal(entry(a, 5) & REMOTE_IRR, 0);
	assert_int_equal(f->rec.nr_sent, 2);
	set_entry(a, 5, LEVEL | 0x71);
	assert_int_equal(f->rec.nr_sent, 3);
	/* Level to edge while asserted: no edge, nothing sent. */
	set_entry(a, 5, 0x71);
	assert_int_equal(f->rec.nr_sent, 3);
}

static void test_not_accepted_stays_pending(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	/* A LAPIC that refuses the message will never EOI it. */
	f->rec.send_result = 0;
	set_entry(a, 7, LEVEL | 0x44);
	ioapic_set_level(a, 7, 1);
	assert_int_equal(f->rec.nr_sent, 1);
	assert_int_equal(entry(a, 7) & REMOTE_IRR, 0);
	/* Retried when the guest rewrites the entry. */
	f->rec.send_result = 1;
	set_entry(a, 7, LEVEL | 0x44);
	assert_int_equal(f->rec.nr_sent, 2);
	assert_true(entry(a, 7) & REMOTE_IRR);
}

struct storm {
	struct ioapic *a;
	unsigned pin;
};

static void *toggle_pin(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < 20000; i++)
		ioapic_set_level(s->a, s->pin, i & 1);
	return NULL;
}

/* Device threads and vCPU threads at once: every rising edge is one
 * message, whatever the interleaving. */
static void test_concurrent_edges(void **state)
{
	struct fixture *f = *state;
	struct ioapic *a = f->a;
	set_entry(a, 1, 0x31);
	set_entry(a, 2, 0x32);
	struct storm s1 = { a, 1 }, s2 = { a, 2 };
	pthread_t t1, t2;
	assert_int_equal(pthread_create(&t1, NULL, toggle_pin, &s1), 0);
	assert_int_equal(pthread_create(&t2, NULL, toggle_pin, &s2), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(entry(a, 1) & 0xFF, 0x31);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(f->rec.nr_sent, 20000);
}

/* End to end on the real /dev/kvm with the split irqchip: a real-mode
 * guest turns on its LAPIC (x2APIC, so EOI is an MSR write), says ready on
 * port 0x12, and counts each interrupt on port 0x11 before it EOIs. Pin 4
 * is level-triggered to vector 0x60: KVM must exit with the EOI (the route
 * mirror marked the vector), and the still-asserted pin must come again. */
#define GUEST_CODE    0x1000
#define GUEST_HANDLER 0x1100
#define TEST_VECTOR   0x60
#define PORT_SEEN     0x11
#define PORT_READY    0x12

static const uint8_t guest_main[] = {
	0x66, 0xB9, 0x1B, 0x00, 0x00, 0x00,   /* mov ecx, IA32_APIC_BASE */
	0x0F, 0x32,                           /* rdmsr */
	0x66, 0x0D, 0x00, 0x0C, 0x00, 0x00,   /* or eax, EN | EXTD */
	0x0F, 0x30,                           /* wrmsr */
	0x66, 0xB9, 0x0F, 0x08, 0x00, 0x00,   /* mov ecx, x2APIC SVR */
	0x66, 0xB8, 0xFF, 0x01, 0x00, 0x00,   /* mov eax, 0x1FF (enabled) */
	0x66, 0x31, 0xD2,                     /* xor edx, edx */
	0x0F, 0x30,                           /* wrmsr */
	0xE6, PORT_READY,                     /* out PORT_READY, al */
	0xFB,                                 /* sti */
	0xF4, 0xEB, 0xFD,                     /* 1: hlt; jmp 1b */
};

static const uint8_t guest_handler[] = {
	0xE6, PORT_SEEN,                      /* out PORT_SEEN, al */
	0x66, 0xB9, 0x0B, 0x08, 0x00, 0x00,   /* mov ecx, x2APIC EOI */
	0x66, 0x31, 0xC0,                     /* xor eax, eax */
	0x66, 0x31, 0xD2,                     /* xor edx, edx */
	0x0F, 0x30,                           /* wrmsr */
	0xCF,                                 /* iret */
};

static void on_alarm(int sig)
{
	(void)sig;
}

static int kvm_send(void *ctx, uint64_t addr, uint32_t data)
{
	return irq_routing_signal_msi(ctx, addr, data);
}

static void kvm_route(void *ctx, unsigned pin, uint64_t addr, uint32_t data)
{
	assert_int_equal(irq_routing_ioapic_route(ctx, pin, addr, data), 0);
}

static void real_mode_at(struct kvm_vcpu *vcpu, uint64_t ip)
{
	struct kvm_sregs sr;
	assert_int_equal(ioctl(vcpu->fd, KVM_GET_SREGS, &sr), 0);
	sr.cs.base = 0;
	sr.cs.selector = 0;
	assert_int_equal(ioctl(vcpu->fd, KVM_SET_SREGS, &sr), 0);
	struct kvm_regs r = { .rip = ip, .rflags = 2, .rsp = 0x8000 };
	assert_int_equal(ioctl(vcpu->fd, KVM_SET_REGS, &r), 0);
}

static void test_kvm_level_eoi_exit(void **state)
{
	(void)state;
	int probe = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (probe < 0)
		skip();
	close(probe);
	struct kvm k;
	assert_int_equal(kvm_open_irqchip(&k, NULL, KVM_IRQCHIP_MODE_SPLIT), 0);
	struct irq_routing *r;
	assert_int_equal(irq_routing_create(&k, &r), 0);
	size_t ram_size = 0x10000;
	uint8_t *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	assert_true(ram != MAP_FAILED);
	memcpy(ram + GUEST_CODE, guest_main, sizeof(guest_main));
	memcpy(ram + GUEST_HANDLER, guest_handler, sizeof(guest_handler));
	uint16_t ivt[2] = { GUEST_HANDLER, 0 };
	memcpy(ram + TEST_VECTOR * 4, ivt, sizeof(ivt));
	assert_int_equal(kvm_map_memory(&k, 0, ram_size, ram, false), 0);

	struct kvm_vcpu vcpu;
	assert_int_equal(kvm_vcpu_create(&k, 0, &vcpu), 0);
	/* The guest may set IA32_APIC_BASE.EXTD only if its CPUID has x2APIC. */
	assert_int_equal(ioctl(vcpu.fd, KVM_SET_CPUID2, k.supported_cpuid), 0);
	real_mode_at(&vcpu, GUEST_CODE);

	struct ioapic_msi_ops ops = { .send = kvm_send, .route = kvm_route, .ctx = r };
	struct ioapic *a = ioapic_create(&ops);
	set_entry(a, 4, LEVEL | TEST_VECTOR); /* physical, destination APIC ID 0 */

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	alarm(10); /* a lost interrupt leaves the guest in hlt: KVM_RUN gets EINTR */
	unsigned seen = 0, eois = 0;
	while (eois < 2) {
		assert_int_equal(ioctl(vcpu.fd, KVM_RUN, 0), 0);
		struct kvm_run *run = vcpu.run;
		if (run->exit_reason == KVM_EXIT_IOAPIC_EOI) {
			assert_int_equal(run->eoi.vector, TEST_VECTOR);
			eois++;
			ioapic_eoi(a, run->eoi.vector);
			continue;
		}
		assert_int_equal(run->exit_reason, KVM_EXIT_IO);
		if (run->io.port == PORT_READY) {
			ioapic_set_level(a, 4, 1);
		} else {
			assert_int_equal(run->io.port, PORT_SEEN);
			seen++;
			/* Served twice (first delivery, then after the EOI): the
			 * device now drops its line. */
			if (seen == 2)
				ioapic_set_level(a, 4, 0);
			assert_int_equal(seen, eois + 1);
		}
	}
	alarm(0);
	assert_int_equal(seen, 2);
	assert_int_equal(entry(a, 4) & REMOTE_IRR, 0);
	ioapic_destroy(a);
	kvm_vcpu_destroy(&k, &vcpu);
	irq_routing_destroy(r);
	kvm_close(&k);
	munmap(ram, ram_size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers_at_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_version_entries_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_layout_and_route_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_remote_irr_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_write_while_asserted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_accepted_stays_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_edges, setup, teardown),
		cmocka_unit_test(test_kvm_level_eoi_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
