/*
 * cli_io.h - reading a whole input stream for `dance sign` and `dance verify`
 * (owned by the JWS CLI; any command may use it).
 */
#ifndef DANCE_CLI_IO_H
#define DANCE_CLI_IO_H

#include <stddef.h>
#include <stdio.h>

/* cli_read_all - read f to its end into *buf (malloc'd, NUL added after
 * *len bytes). More than max bytes is an error. 0, or -1 with a reason. */
int cli_read_all(FILE *f, size_t max, unsigned char **buf, size_t *len,
                 char *err, size_t errlen);

#endif
