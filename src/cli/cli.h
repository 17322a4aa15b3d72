/* The `alioth` command line: global options (-l/--log-spec, --log-dir,
 * --log-file, --help, --version), then a subcommand - boot (alias run),
 * help, img (src/img), and the recognised but not yet built vu. */
#ifndef ALIOTH_CLI_CLI_H
#define ALIOTH_CLI_CLI_H

#include <stdio.h>

#include "board/config.h"

typedef int (*cli_run_fn)(const struct vm_config *cfg);

/* Runs the whole command line; `boot` hands its vm_config to run. Returns
 * the process exit status (util/exit_status.h). */
int cli_main(int argc, char **argv, FILE *out, FILE *err, cli_run_fn run);

void cli_help(FILE *out);

#endif
