/*
 * main.c - `dance` command dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dance/version.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "keygen", cmd_keygen, "generate a private key" },
    { "cert",   cmd_cert,   "issue a certificate for a DNS identity" },
    { "tlsa",   cmd_tlsa,   "print the TLSA record for a certificate" },
    { "match",  cmd_match,  "DANE-match a certificate against TLSA records" },
    { "lookup", cmd_lookup, "look up TLSA records with DNSSEC validation" },
    { "sign",   cmd_sign,   "sign stdin as a JWS from a DNS identity" },
    { "verify", cmd_verify, "verify a JWS against the sender's TLSA records" },
    { "encrypt", cmd_encrypt, "encrypt stdin as a JWE to a DNS identity's key" },
    { "decrypt", cmd_decrypt, "decrypt a JWE with one's own private key" },
    { "token",  cmd_token,  "make (or check) an MQTT password token signed by a DNS identity" },
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: dance <command> [options]\n       dance --version\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'dance <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 && argc == 2) {
        printf("dance (mosquitto-dance) %s\n", dance_version());
        return CLI_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dance: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
