/*
 * cli_io.h - reading inputs for the `dance` sub-commands: a whole stream
 * (`dance sign`, `dance verify`) and public keys (`dance tlsa`, `dance verify`).
 */
#ifndef DANCE_CLI_IO_H
#define DANCE_CLI_IO_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>

/* cli_read_all - read f to its end into *buf (malloc'd, NUL added after
 * *len bytes). More than max bytes is an error. 0, or -1 with a reason. */
int cli_read_all(FILE *f, size_t max, unsigned char **buf, size_t *len,
                 char *err, size_t errlen);

/* cli_load_pubkey - a PEM PUBLIC KEY file, or the public half of a private
 * key file (dance_key_load). NULL with a reason naming the file. */
EVP_PKEY *cli_load_pubkey(const char *path, char *err, size_t errlen);

#endif
