/* CPU exceptions become a FAIL line on the console and a power-off attempt
 * instead of a silent triple fault. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

struct acpi_info;

/* Builds the IDT (once) and loads it on the calling CPU. */
void trap_load_idt(void);
/* Lets the handler power off through ACPI once the tables are known. */
void trap_set_acpi(const struct acpi_info *ai);
/* Loads an IDT with limit 0 and executes ud2: #UD cannot be delivered,
 * nor the #GP, nor the #DF that follow, so the CPU shuts down. */
void trap_triple_fault(void) __attribute__((noreturn));
/* cli; hlt forever (head.S): a guest that is alive but never exits. */
void halt_forever(void) __attribute__((noreturn));

#endif
