/* Machine assembly and lifecycle: KVM, guest RAM, platform devices, ACPI,
 * the kernel, vCPUs; then wait for the first stop request or signal. */
#include "board/machine.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "board/board.h"
#include "board/devices.h"
#include "board/devices_pci.h"
#include "board/virtio_board.h"
#include "board/firmware.h"
#include "hv/irq_routing.h"
#include "pci/bus.h"
#include "util/exit_status.h"
#include "util/log.h"
#include "util/util.h"

#define MIN_RAM (16 * MiB)

void machine_request_stop(struct machine *m, int exit_status, const char *why)
{
	pthread_mutex_lock(&m->stop_lock);
	bool first = !m->stop_requested;
	if (first) {
		m->stop_requested = true;
		m->exit_status = exit_status;
		/* The requesting vCPU must not run the guest any further. */
		atomic_store(&m->stopping, true);
	}
	pthread_mutex_unlock(&m->stop_lock);
	if (!first)
		return;
	log_info("stopping: %s (exit status %d)", why, exit_status);
	uint64_t one = 1;
	if (write(m->stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the main thread: %s", strerror(errno));
}

static void on_device_event(void *ctx, enum vm_event ev)
{
	struct machine *m = ctx;
	switch (ev) {
	case VM_EVENT_POWEROFF:
		machine_request_stop(m, EXIT_POWEROFF, "guest powered off");
		break;
	case VM_EVENT_RESET:
		machine_request_stop(m, EXIT_GUEST_RESET, "guest requested a reboot");
		break;
	case VM_EVENT_PANIC:
		machine_request_stop(m, EXIT_GUEST_PANIC, "guest panicked");
		break;
	case VM_EVENT_QUIT:
		machine_request_stop(m, EXIT_POWEROFF, "quit from the console");
		break;
	}
}

static int check_config(struct machine *m)
{
	const struct vm_config *cfg = m->cfg;
	if (cfg->mem.size < MIN_RAM) {
		log_error("--memory: size must be at least 16 MiB");
		return -EINVAL;
	}
	if (cfg->cpu.count == 0 || (int)cfg->cpu.count > m->kvm.max_vcpus) {
		log_error("--cpu: count %u is outside 1..%d (this KVM's limit)", cfg->cpu.count,
			  m->kvm.max_vcpus);
		return -EINVAL;
	}
	return 0;
}

/* RAM below the 32-bit hole from offset 0, the rest from 4 GiB on. */
static int setup_memory(struct machine *m)
{
	uint64_t size = m->cfg->mem.size;
	int err = gm_alloc(&m->mem, &m->cfg->mem);
	if (err) {
		log_error("--memory: cannot allocate %llu bytes: %s", (unsigned long long)size,
			  strerror(-err));
		return err;
	}
	uint64_t low = MIN(size, X86_RAM32_END);
	err = gm_add_region(&m->mem, 0, 0, low);
	if (!err && size > low)
		err = gm_add_region(&m->mem, X86_RAM64_START, low, size - low);
	for (unsigned i = 0; !err && i < m->mem.nr_regions; i++) {
		const struct gm_region *r = &m->mem.region[i];
		err = kvm_map_memory(&m->kvm, r->gpa, r->size, r->host, false);
	}
	e820_build(&m->e820, size);
	return err;
}

/* The 64-bit BAR window starts at the first power of two above RAM (as
 * Alioth's board) and spans 64 GiB, well inside any x86-64 CPU's physical
 * address width. */
#define PCI_MEM64_SIZE (64 * GiB)

static uint64_t pci_mem64_start(uint64_t ram_size)
{
	uint64_t top = X86_RAM64_START + (ram_size > X86_RAM32_END ? ram_size - X86_RAM32_END : 0);
	uint64_t start = X86_RAM64_START;
	while (start < top)
		start <<= 1;
	return start;
}

static int setup_pci(struct machine *m)
{
	int err = irq_routing_create(&m->kvm, &m->irq_routing);
	if (err) {
		log_error("board: cannot set up interrupt routing: %s", strerror(-err));
		return err;
	}
	uint64_t mem64 = pci_mem64_start(m->cfg->mem.size);
	struct pci_bus_params p;
	pci_bus_params_x86(&p, &m->pio, &m->mmio, mem64, mem64 + PCI_MEM64_SIZE);
	err = pci_bus_create(&p, &m->pci);
	if (err) {
		log_error("board: cannot create the PCI host bridge: %s", strerror(-err));
		return err;
	}
	if (e820_reserve(&m->e820, p.ecam_base, p.ecam_base + p.ecam_size)) {
		log_error("board: the PCI ECAM range overlaps the memory map");
		return -EINVAL;
	}
	return 0;
}

static int setup_acpi(struct machine *m, uint32_t *apic_ids)
{
	struct pci_host_info pci;
	pci_bus_host_info(m->pci, &pci);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		apic_ids[i] = x86_apic_id(&m->cfg->cpu, i);
	struct acpi_config ac = {
		.nr_cpus = m->nr_vcpus,
		.apic_ids = apic_ids,
		.ioapic_base = X86_IOAPIC_BASE,
		.ioapic_id = 0,
		.ioapic_gsi_base = 0,
		.pci = &pci,
		.no_pic = m->kvm.split_irqchip,
	};
	uint64_t cap = X86_RESET_STUB - X86_ACPI_START;
	uint8_t *buf = gm_ptr(&m->mem, X86_ACPI_START, cap);
	if (!buf || acpi_build(&ac, X86_ACPI_START, buf, cap) == 0) {
		log_error("acpi: tables do not fit in %llu bytes", (unsigned long long)cap);
		return -ENOSPC;
	}
	return 0;
}

/* Linux picks the BIOS reboot method (a real-mode jump to F000:FFF0) when it
 * sees hardware-reduced ACPI without EFI and no reboot= option. Without
 * firmware nothing is there, so put a stub that pulses the i8042 reset line:
 * mov al,0xfe; out 0x64,al; 1: hlt; jmp 1b. */
static int write_reset_stub(struct machine *m)
{
	static const uint8_t stub[] = { 0xB0, 0xFE, 0xE6, 0x64, 0xF4, 0xEB, 0xFD };
	if (!gm_write(&m->mem, X86_RESET_STUB, stub, sizeof(stub))) {
		log_error("board: guest memory too small for the reset stub");
		return -EFAULT;
	}
	return 0;
}

static int load_kernel(struct machine *m)
{
	const struct vm_config *cfg = m->cfg;
	struct boot_input in = {
		.kernel_path = cfg->kernel ? cfg->kernel : cfg->pvh,
		.cmdline = cfg->cmdline,
		.initramfs_path = cfg->initramfs,
		.e820 = &m->e820,
		.rsdp_addr = X86_ACPI_START,
	};
	if (cfg->firmware)
		return 0; /* board_firmware_setup() hands -k to the firmware */
	if (cfg->kernel)
		return load_bzimage(&m->mem, &in, &m->entry);
	if (cfg->pvh)
		return load_pvh(&m->mem, &in, &m->entry);
	log_error("boot: no kernel given (-k/--kernel or --pvh)");
	return -EINVAL;
}

static int create_vcpus(struct machine *m)
{
	m->vcpus = xcalloc(m->nr_vcpus, sizeof(m->vcpus[0]));
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct vcpu_thread *t = &m->vcpus[i];
		t->index = i;
		t->m = m;
		t->vcpu.fd = -1;
		/* KVM uses the vCPU id as the initial APIC ID. */
		int err = kvm_vcpu_create(&m->kvm, x86_apic_id(&m->cfg->cpu, i), &t->vcpu);
		if (!err)
			err = x86_vcpu_init(&m->kvm, &t->vcpu, i, &m->cfg->cpu);
		if (err)
			return err;
	}
	return x86_boot_vcpu_setup(&m->vcpus[0].vcpu, &m->mem, &m->entry);
}

static int build(struct machine *m)
{
	int err = kvm_open(&m->kvm, m->cfg->dev_kvm);
	if (!err)
		err = check_config(m);
	if (!err)
		err = setup_memory(m);
	if (!err)
		err = setup_pci(m);
	if (!err)
		err = board_devices_create(m);
	if (!err)
		err = board_add_pci_devices(m, &m->pci_devs);
	uint32_t *apic_ids = xcalloc(m->nr_vcpus, sizeof(uint32_t));
	if (!err && !m->cfg->firmware) /* firmware gets ACPI through fw_cfg */
		err = setup_acpi(m, apic_ids);
	if (!err && !m->cfg->firmware)
		err = write_reset_stub(m);
	free(apic_ids);
	if (!err)
		err = load_kernel(m);
	if (!err)
		err = board_firmware_setup(m);
	if (!err)
		err = create_vcpus(m);
	return err;
}

/* Waits for a stop request or SIGINT/SIGTERM/SIGHUP. */
static void wait_for_stop(struct machine *m, int sig_fd)
{
	struct pollfd fds[2] = {
		{ .fd = m->stop_fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
	};
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			machine_request_stop(m, EXIT_VMM_ERROR, "poll failed");
			return;
		}
		if (fds[0].revents)
			return;
		struct signalfd_siginfo si;
		if (fds[1].revents && read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			machine_request_stop(m, 128 + (int)si.ssi_signo, strsignal((int)si.ssi_signo));
			return;
		}
	}
}

static void teardown(struct machine *m)
{
	board_devices_quiesce(m);
	vcpu_threads_stop(m);
	board_devices_destroy(m);
	board_firmware_destroy(m);
	/* The bus reads device BARs until it is gone; MSI vectors go before routing. */
	if (m->pci)
		pci_bus_destroy(m->pci);
	board_virtio_destroy_all(m);
	board_pci_devices_destroy(m->pci_devs);
	if (m->irq_routing)
		irq_routing_destroy(m->irq_routing);
	for (unsigned i = 0; m->vcpus && i < m->nr_vcpus; i++)
		if (m->vcpus[i].vcpu.fd >= 0)
			kvm_vcpu_destroy(&m->kvm, &m->vcpus[i].vcpu);
	free(m->vcpus);
	kvm_close(&m->kvm);
	gm_free(&m->mem);
	io_bus_destroy(&m->pio);
	io_bus_destroy(&m->mmio);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	pthread_mutex_destroy(&m->stop_lock);
}

static int block_termination_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, set, NULL);
	return signalfd(-1, set, SFD_CLOEXEC);
}

int machine_run(const struct vm_config *cfg)
{
	struct machine m;
	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.nr_vcpus = cfg->cpu.count;
	m.kvm.sys_fd = m.kvm.vm_fd = -1;
	m.mem.memfd = -1;
	m.events = (struct vm_events){ .request = on_device_event, .ctx = &m };
	pthread_mutex_init(&m.stop_lock, NULL);
	io_bus_init(&m.pio, "pio");
	io_bus_init(&m.mmio, "mmio");
	m.stop_fd = eventfd(0, EFD_CLOEXEC);

	sigset_t sigs;
	int sig_fd = block_termination_signals(&sigs);
	int err = (m.stop_fd < 0 || sig_fd < 0) ? -errno : build(&m);
	if (!err)
		err = board_devices_start(&m);
	if (!err)
		err = vcpu_threads_start(&m);
	if (err)
		machine_request_stop(&m, EXIT_VMM_ERROR, "setup failed");
	else
		wait_for_stop(&m, sig_fd);
	teardown(&m);
	if (sig_fd >= 0)
		close(sig_fd);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	return m.exit_status;
}
