/*
 * cli_util.c - option handling shared by the `dance` sub-commands
 * (see cli_util.h). getopt_long does the parsing; this file replaces its
 * messages (which name argv[0], here the bare command) with ours and adds
 * the checks getopt leaves to the caller.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "dance %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "dance %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'dance %s --help'.\n", cmd);
}

/* option_name - the long name of the option whose val is c */
static const char *option_name(const struct option *longopts, int c)
{
    for (; longopts->name != NULL; longopts++)
        if (longopts->flag == NULL && longopts->val == c)
            return longopts->name;
    return "?";
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts)
{
    const char *prev;
    int c;

    opterr = 0;
    c = getopt_long(argc, argv, ":h", longopts, NULL);
    prev = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (c == ':') {
        cli_usage_error(cmd, "option '--%s' needs a value", option_name(longopts, optopt));
        return '?';
    }
    if (c == '?') {
        if (strncmp(prev, "--", 2) == 0 && optopt != 0)
            cli_usage_error(cmd, "option '--%s' takes no value", option_name(longopts, optopt));
        else if (strncmp(prev, "--", 2) == 0)
            cli_usage_error(cmd, "unknown option '%.80s'", prev);
        else
            cli_usage_error(cmd, "unknown option '-%c'", isprint(optopt) ? optopt : '?');
        return '?';
    }
    /* "--out --force" would make a file called "--force": almost surely a
     * forgotten value. A real file of that name can be given as ./--force. */
    if (c != -1 && optarg != NULL && strncmp(optarg, "--", 2) == 0) {
        cli_usage_error(cmd, "option '--%s' needs a value (got the option '%.80s')",
                        option_name(longopts, c), optarg);
        return '?';
    }
    return c;
}

int cli_set_once(const char *cmd, const char *option, const char **dst,
                 const char *value)
{
    if (*dst != NULL) {
        cli_usage_error(cmd, "option '--%s' given twice", option);
        return -1;
    }
    *dst = value;
    return 0;
}

int cli_parse_uint(const char *cmd, const char *option, const char *value,
                   unsigned long min, unsigned long max, unsigned long *out)
{
    unsigned long v;
    char *end;
    const char *p;

    for (p = value; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            break;
    if (*value == '\0' || *p != '\0') {
        cli_usage_error(cmd, "--%s must be a number from %lu to %lu, not '%.80s'",
                        option, min, max, value);
        return -1;
    }
    errno = 0;
    v = strtoul(value, &end, 10);
    if (errno != 0 || v < min || v > max) {
        cli_usage_error(cmd, "--%s must be a number from %lu to %lu, not '%.80s'",
                        option, min, max, value);
        return -1;
    }
    *out = v;
    return 0;
}
