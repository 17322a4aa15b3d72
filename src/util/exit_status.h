/* Process exit statuses of `alioth boot`; documented in docs/exit-status.md. */
#ifndef ALIOTH_UTIL_EXIT_STATUS_H
#define ALIOTH_UTIL_EXIT_STATUS_H

enum alioth_exit {
	EXIT_POWEROFF = 0,    /* guest powered off (ACPI S5) */
	EXIT_VMM_ERROR = 1,   /* the VMM failed: setup or runtime error */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_GUEST_PANIC = 3, /* guest reported a panic through pvpanic */
	EXIT_GUEST_RESET = 4, /* guest asked to reboot (ACPI reset, i8042 0xFE) */
	EXIT_GUEST_CRASH = 5, /* triple fault or a vCPU state KVM cannot run */
	/* killed by SIGINT/SIGTERM: 128 + signal number, after a clean teardown */
};

#endif
