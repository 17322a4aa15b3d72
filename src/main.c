/* The alioth binary: the command line (src/cli) hands a parsed vm_config to
 * the board (src/board), whose result is the exit status. */
#include <stdio.h>

#include "board/machine.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv, stdout, stderr, machine_run);
}
