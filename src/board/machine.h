/* The virtual machine: builds the x86 board from a vm_config, runs its
 * vCPUs until the guest powers off, resets, panics or crashes (or the VMM
 * is signalled), tears everything down and returns the process exit status
 * (util/exit_status.h). */
#ifndef ALIOTH_BOARD_MACHINE_H
#define ALIOTH_BOARD_MACHINE_H

#include "board/config.h"

int machine_run(const struct vm_config *cfg);

#endif
