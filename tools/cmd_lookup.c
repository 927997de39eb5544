/* cmd_lookup.c - placeholder until the command is implemented. */
#include <stdio.h>

#include "cli.h"

int cmd_lookup(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "dance %s: not implemented yet\n", argv[0]);
    return CLI_USAGE;
}
