/* `alioth img`: the subcommands convert (Alioth's flags: -f/--source-format,
 * -O/--target-format) and info, their --help texts, and the exit status
 * (0, 1 on a failed operation, 2 on a bad command line). */
#ifndef ALIOTH_IMG_IMG_CLI_H
#define ALIOTH_IMG_IMG_CLI_H

#include <stdio.h>

/* argv[0] is "img". */
int img_main(int argc, char **argv, FILE *out, FILE *err);

/* `alioth help img [COMMAND]`: argv[0] is "img", argv[1] a subcommand. */
int img_help_main(int argc, char **argv, FILE *out, FILE *err);

void img_help(FILE *out);

#endif
