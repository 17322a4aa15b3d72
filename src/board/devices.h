/* The x86 board's platform devices: COM1 + console, ACPI PM registers,
 * CMOS RTC, i8042 reset line, POST port. Created on the machine's buses. */
#ifndef ALIOTH_BOARD_DEVICES_H
#define ALIOTH_BOARD_DEVICES_H

struct machine;

int board_devices_create(struct machine *m);
/* Starts device threads (console input) once the vCPUs can be started. */
int board_devices_start(struct machine *m);
/* Before the vCPUs are stopped: nothing may block their exit any more. */
void board_devices_quiesce(struct machine *m);
void board_devices_destroy(struct machine *m);

#endif
