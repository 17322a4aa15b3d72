/* `alioth vu`: serves one virtio device as a vhost-user backend on a Unix
 * socket (Alioth's flags: -s/--socket PATH, then a device - blk or net with
 * -p/--param and -o/--object), one connection after another, each with a
 * fresh device, until the process is killed. */
#ifndef ALIOTH_VHOST_VU_CLI_H
#define ALIOTH_VHOST_VU_CLI_H

#include <stdio.h>

/* argv[0] is "vu". Returns the exit status (1 on a runtime error, 2 on a
 * bad command line); on success it only returns for --help. */
int vu_main(int argc, char **argv, FILE *out, FILE *err);

/* `alioth help vu [DEVICE]`: argv[0] is "vu". */
int vu_help_main(int argc, char **argv, FILE *out, FILE *err);

#endif
