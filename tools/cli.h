/*
 * cli.h - the `dance` command-line tool: one function per sub-command.
 *
 * Exit codes, shared by every command:
 *   0 success (verified, authenticated, secure records)
 *   1 a negative verdict (not authenticated, not verified, no/insecure/bogus record)
 *   2 bad usage or unreadable input
 *   3 lookup failure (DNS could not be asked)
 * Every error goes to stderr as "dance <command>: <reason>".
 */
#ifndef DANCE_CLI_H
#define DANCE_CLI_H

#include <stdbool.h>

enum { CLI_OK = 0, CLI_NEGATIVE = 1, CLI_USAGE = 2, CLI_LOOKUP_FAILED = 3 };

/* Each takes argv with argv[0] = the command name ("keygen", ...). */
int cmd_keygen(int argc, char **argv);   /* tools/cmd_keygen.c */
int cmd_cert(int argc, char **argv);     /* tools/cmd_cert.c */
int cmd_tlsa(int argc, char **argv);     /* tools/cmd_tlsa.c */
int cmd_match(int argc, char **argv);    /* tools/cmd_match.c */
int cmd_lookup(int argc, char **argv);   /* tools/cmd_lookup.c */
int cmd_sign(int argc, char **argv);     /* tools/cmd_sign.c */
int cmd_verify(int argc, char **argv);   /* tools/cmd_verify.c */
int cmd_token(int argc, char **argv);    /* tools/cmd_token.c */
int cmd_encrypt(int argc, char **argv);  /* tools/cmd_encrypt.c */
int cmd_decrypt(int argc, char **argv);  /* tools/cmd_decrypt.c */

/* cli_jwe_report - a decryption's verdict on stderr ("decrypted: ..." or
 * "not decrypted (REASON): ..."), the plaintext on stdout when print is
 * set and it decrypted; returns the exit status (tools/cmd_decrypt.c, also
 * used by `dance verify --decrypt-key`). */
struct dance_jwe_result;
int cli_jwe_report(const char *cmd, const struct dance_jwe_result *res, bool print);

#endif
