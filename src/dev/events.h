/* Requests a device makes of the machine (power-off, reset, panic, quit).
 * The board's handler records the first request and stops the vCPUs; it may
 * be called from any thread. */
#ifndef ALIOTH_DEV_EVENTS_H
#define ALIOTH_DEV_EVENTS_H

enum vm_event {
	VM_EVENT_POWEROFF,  /* ACPI S5 */
	VM_EVENT_RESET,     /* ACPI reset register, i8042 pulse */
	VM_EVENT_PANIC,     /* pvpanic */
	VM_EVENT_QUIT,      /* the user pressed the console escape (Ctrl-A x) */
};

struct vm_events {
	void (*request)(void *ctx, enum vm_event ev);
	void *ctx;
};

static inline void vm_event_request(const struct vm_events *e, enum vm_event ev)
{
	if (e && e->request)
		e->request(e->ctx, ev);
}

#endif
