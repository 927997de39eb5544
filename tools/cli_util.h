/*
 * cli_util.h - option handling shared by the `dance` sub-commands.
 *
 * Every message goes to stderr as "dance <command>: <reason>", followed by
 * a hint to run --help; the caller then returns CLI_USAGE (exit 2).
 */
#ifndef DANCE_CLI_UTIL_H
#define DANCE_CLI_UTIL_H

#include <getopt.h>
#include <stdbool.h>

/* Room for an error message: a reason plus a path or two. */
#define CLI_ERR_MAX 8192

/* What a command's option parser returns when the command goes on; any
 * other value is the exit status (after --help, or a usage error). */
#define CLI_PARSED (-1)

/* cli_error - "dance <cmd>: <message>" on stderr */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_usage_error - cli_error plus "Try 'dance <cmd> --help'." */
void cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_getopt - getopt_long over long options only (plus -h), with our own
 * messages: returns the option's val, -1 at the end of the options, or
 * '?' after printing why the command line is wrong (unknown option, a
 * missing value, a value given to a flag, or a value that looks like
 * another option, "--out --force"). Call with optind = 1 (the default);
 * argv[0] is the command name. */
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts);

/* cli_set_once - store optarg in *dst; an option given twice is an error
 * (printed) rather than a silent "last one wins". Returns 0 or -1. */
int cli_set_once(const char *cmd, const char *option, const char **dst,
                 const char *value);

/* cli_parse_uint - a decimal number in [min, max] without sign, spaces or
 * trailing text. Prints the error and returns -1 when it is not. */
int cli_parse_uint(const char *cmd, const char *option, const char *value,
                   unsigned long min, unsigned long max, unsigned long *out);

#endif
