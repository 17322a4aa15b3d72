/* vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching exits.
 * Default-deny: an exit reason not handled here stops the VM with an error. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>

#include "board/board.h"
#include "dev/ioapic.h"
#include "pci/bus.h"
#include "util/exit_status.h"
#include "util/log.h"

/* Sent to a vCPU thread to make KVM_RUN return with EINTR. */
#define SIG_VCPU_KICK SIGUSR1

static void on_kick(int sig)
{
	(void)sig;
}

static void handle_pio(struct machine *m, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint64_t val = 0;
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&val, data, size);
			if (!io_bus_write(&m->pio, run->io.port, size, val))
				log_debug("pio: unclaimed write %#x <- %#llx", run->io.port,
					  (unsigned long long)val);
		} else {
			if (!io_bus_read(&m->pio, run->io.port, size, &val))
				log_debug("pio: unclaimed read %#x", run->io.port);
			memcpy(data, &val, size);
		}
	}
}

static void handle_mmio(struct machine *m, struct kvm_run *run)
{
	unsigned len = run->mmio.len;
	uint64_t val = 0;
	if (len == 0 || len > 8)
		return;
	if (run->mmio.is_write) {
		memcpy(&val, run->mmio.data, len);
		if (!io_bus_write(&m->mmio, run->mmio.phys_addr, len, val))
			log_debug("mmio: unclaimed write %#llx", (unsigned long long)run->mmio.phys_addr);
	} else {
		if (!io_bus_read(&m->mmio, run->mmio.phys_addr, len, &val))
			log_debug("mmio: unclaimed read %#llx", (unsigned long long)run->mmio.phys_addr);
		memcpy(run->mmio.data, &val, len);
	}
}

static void handle_system_event(struct machine *m, struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		machine_request_stop(m, EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		machine_request_stop(m, EXIT_GUEST_RESET, "guest requested a reset");
		break;
	default:
		machine_request_stop(m, EXIT_GUEST_CRASH, "guest crashed (KVM system event)");
		break;
	}
}

static void report_internal_error(struct vcpu_thread *t, struct kvm_run *run)
{
	struct kvm_regs r;
	unsigned long long rip = 0;
	if (ioctl(t->vcpu.fd, KVM_GET_REGS, &r) == 0)
		rip = r.rip;
	log_error("vCPU %u: KVM internal error, suberror %u at rip %#llx%s", t->index,
		  run->internal.suberror, rip,
		  run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		  " (KVM could not emulate an instruction)" : "");
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vcpu_thread *t)
{
	struct machine *m = t->m;
	struct kvm_run *run = t->vcpu.run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_pio(m, run);
		/* A config write may have moved a BAR: apply it outside the bus lock. */
		if (m->pci)
			pci_bus_commit(m->pci);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(m, run);
		if (m->pci)
			pci_bus_commit(m->pci);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_IOAPIC_EOI:
		/* Split irqchip: the guest EOIed a level-triggered IOAPIC vector. */
		if (m->ioapic)
			ioapic_eoi(m->ioapic, run->eoi.vector);
		return true;
	case KVM_EXIT_HLT:
		/* Only reached without an in-kernel LAPIC: treat as halt forever. */
		machine_request_stop(m, EXIT_POWEROFF, "guest halted");
		return false;
	case KVM_EXIT_SHUTDOWN:
		machine_request_stop(m, EXIT_GUEST_CRASH, "guest triple-faulted");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(m, run);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(t, run);
		machine_request_stop(m, EXIT_GUEST_CRASH, "vCPU cannot continue");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vCPU %u: VM entry failed, reason %#llx", t->index,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		machine_request_stop(m, EXIT_GUEST_CRASH, "vCPU entry failed");
		return false;
	default:
		log_error("vCPU %u: unexpected KVM exit %u", t->index, run->exit_reason);
		machine_request_stop(m, EXIT_VMM_ERROR, "unexpected KVM exit");
		return false;
	}
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;
	struct machine *m = t->m;
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	while (!atomic_load(&m->stopping)) {
		if (ioctl(t->vcpu.fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				t->vcpu.run->immediate_exit = 0;
				continue;
			}
			log_error("vCPU %u: KVM_RUN failed: %s", t->index, strerror(errno));
			machine_request_stop(m, EXIT_VMM_ERROR, "KVM_RUN failed");
			break;
		}
		if (!handle_exit(t))
			break;
	}
	return NULL;
}

int vcpu_threads_start(struct machine *m)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(SIG_VCPU_KICK, &sa, NULL);

	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct vcpu_thread *t = &m->vcpus[i];
		int err = pthread_create(&t->thread, NULL, vcpu_main, t);
		if (err) {
			log_error("cannot start vCPU thread %u: %s", i, strerror(err));
			return -err;
		}
		t->running = true;
	}
	return 0;
}

void vcpu_threads_stop(struct machine *m)
{
	atomic_store(&m->stopping, true);
	if (!m->vcpus)
		return; /* setup failed before the vCPUs existed */
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct vcpu_thread *t = &m->vcpus[i];
		if (!t->running)
			continue;
		/* immediate_exit covers a kick that lands just before KVM_RUN. */
		if (t->vcpu.run)
			t->vcpu.run->immediate_exit = 1;
		pthread_kill(t->thread, SIG_VCPU_KICK);
	}
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct vcpu_thread *t = &m->vcpus[i];
		if (t->running)
			pthread_join(t->thread, NULL);
		t->running = false;
	}
}
