/* `alioth boot` (alias `run`): turns its flags - every flag of Alioth's
 * BootArgs, the ones not built yet refused by name - into a vm_config, and
 * prints `alioth boot --help`. */
#ifndef ALIOTH_CLI_BOOT_ARGS_H
#define ALIOTH_CLI_BOOT_ARGS_H

#include <stdio.h>

#include "board/config.h"

/* Returned when help was printed and nothing should run. */
#define BOOT_ARGS_HELP (-1)

/* argv[0] is the subcommand name. Initialises *cfg (the caller must
 * vm_config_free it whatever the result) and returns 0, BOOT_ARGS_HELP, or
 * EXIT_USAGE after writing one line to err. Help goes to out. */
int boot_args_parse(int argc, char **argv, struct vm_config *cfg, FILE *out, FILE *err);

void boot_args_help(FILE *out);

#endif
