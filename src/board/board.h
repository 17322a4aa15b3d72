/* Internal to src/board: the machine object shared by machine.c (assembly
 * and lifecycle) and vcpu.c (vCPU threads). Everything mutable in the VMM
 * hangs off this one object. */
#ifndef ALIOTH_BOARD_BOARD_H
#define ALIOTH_BOARD_BOARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "arch/x86/e820.h"
#include "board/config.h"
#include "dev/bus.h"
#include "dev/events.h"
#include "hv/kvm.h"
#include "loader/loader.h"
#include "mem/guest_mem.h"

struct machine;
struct irq_routing;
struct ioapic;
struct pci_bus;
struct board_pci_devices;

struct vcpu_thread {
	struct kvm_vcpu vcpu;
	unsigned index;
	pthread_t thread;
	bool running;
	struct machine *m;
};

struct machine {
	const struct vm_config *cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct e820_map e820;
	struct boot_entry entry;
	unsigned nr_vcpus;
	struct vcpu_thread *vcpus;
	struct vm_events events;

	/* The first stop request wins; its exit status is the process's. */
	pthread_mutex_t stop_lock;
	bool stop_requested;
	int exit_status;
	int stop_fd;             /* eventfd the main thread waits on */
	atomic_bool stopping;    /* vCPU threads leave their loop */

	struct irq_routing *irq_routing; /* GSI routes: MSI vectors from GSI 24 */
	struct ioapic *ioapic;   /* dev/ioapic.h; NULL with the full in-kernel irqchip */
	struct pci_bus *pci;
	struct board_devices *devs;
	struct board_firmware *fw; /* board/firmware.h: -f and --fw-cfg; NULL without */
	struct board_virtio *virtio; /* board/virtio_board.h: virtio-pci devices */
	struct board_pci_devices *pci_devs; /* board/devices_pci.h: --blk, --entropy, --pvpanic */
};

/* Records the first stop request with its exit status and wakes the main
 * thread. Safe from any thread. */
void machine_request_stop(struct machine *m, int exit_status, const char *why);

int vcpu_threads_start(struct machine *m);
/* Makes every vCPU leave KVM_RUN and joins its thread. */
void vcpu_threads_stop(struct machine *m);

#endif
