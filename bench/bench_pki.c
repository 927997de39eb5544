/*
 * bench/bench_pki.c - make the device identities the benchmarks use: a CA,
 * N P-256 device keys and certificates issued by it, and each device's
 * DANE-EE TLSA record. Uses libdance's provisioning calls (what `dance
 * keygen/cert/tlsa` use), in one process because the cold-storm figure
 * needs thousands of devices.
 *
 *   bench_pki --dir DIR --count N [--first I] [--prefix dev]
 *             [--usage 3 --selector 1 --mtype 1] [--ca-only | --reuse-ca]
 *
 * Writes DIR/ca.key, DIR/ca.pem (unless --reuse-ca, which reads them), and
 * for i in I..I+N-1 (I = --first, default 0) DIR/<prefix><i>.key,
 * DIR/<prefix><i>.pem; prints one
 * line per device:
 *   <name> <cert path> <key path> <U S M HEX>
 * where name is <prefix><i>._device.acme.example. The device key also
 * makes a good JWS signing key (bench_pubsub signs with it).
 *
 * Device files are written with plain PEM_write_* (no fsync, no atomic
 * rename): dance_key_write syncs every file, which made thousands of
 * throw-away benchmark identities take longer than the benchmark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "bench_util.h"
#include "dance/provision.h"
#include "dance/tlsa.h"

/* write_pem - key (unencrypted PKCS#8) or certificate to path, or die */
static void write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (f == NULL)
        bu_die("cannot write %s", path);
    ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
             : PEM_write_X509(f, cert);
    if (fclose(f) != 0 || ok != 1)
        bu_die("cannot write %s", path);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *prefix = "dev";
    long count = 0, first = 0, usage = 3, selector = 1, mtype = 1;
    int reuse_ca = 0, ca_only = 0;
    char err[DANCE_REASON_MAX], path[4096], kpath[4096], name[256];
    EVP_PKEY *ca_key;
    X509 *ca;

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--dir") == 0 && v) { dir = v; i++; }
        else if (strcmp(argv[i], "--count") == 0) { count = bu_arg_long(argv[i], v, 0, 1000000); i++; }
        else if (strcmp(argv[i], "--first") == 0) { first = bu_arg_long(argv[i], v, 0, 1000000); i++; }
        else if (strcmp(argv[i], "--prefix") == 0 && v) { prefix = v; i++; }
        else if (strcmp(argv[i], "--usage") == 0) { usage = bu_arg_long(argv[i], v, 0, 3); i++; }
        else if (strcmp(argv[i], "--selector") == 0) { selector = bu_arg_long(argv[i], v, 0, 1); i++; }
        else if (strcmp(argv[i], "--mtype") == 0) { mtype = bu_arg_long(argv[i], v, 0, 2); i++; }
        else if (strcmp(argv[i], "--reuse-ca") == 0) reuse_ca = 1;
        else if (strcmp(argv[i], "--ca-only") == 0) ca_only = 1;
        else {
            fprintf(stderr, "usage: bench_pki --dir DIR --count N [--first I] [--prefix P] "
                    "[--usage U --selector S --mtype M] [--ca-only | --reuse-ca]\n");
            return 2;
        }
    }
    if (dir == NULL)
        bu_die("--dir is required");

    snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    if (reuse_ca) {
        ca_key = dance_key_load(kpath, err, sizeof(err));
        ca = ca_key ? dance_cert_load(path, err, sizeof(err)) : NULL;
        if (ca == NULL)
            bu_die("%s", err);
    } else {
        dance_cert_request rq;

        ca_key = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
        if (ca_key == NULL)
            bu_die("%s", err);
        memset(&rq, 0, sizeof(rq));
        rq.key = ca_key;
        rq.name = "Dance Bench Device CA";
        rq.is_ca = true;
        rq.days = 30;
        ca = dance_cert_issue(&rq, err, sizeof(err));
        if (ca == NULL || dance_key_write(kpath, ca_key, true, err, sizeof(err)) != 0
            || dance_cert_write(path, ca, true, err, sizeof(err)) != 0)
            bu_die("%s", err);
    }
    if (ca_only)
        count = 0;

    for (long i = first; i < first + count; i++) {
        dance_cert_request rq;
        dance_tlsa_rrset set = { 0, NULL };
        EVP_PKEY *k;
        X509 *cert;
        char *tlsa;
        size_t tlen;

        snprintf(name, sizeof(name), "%s%ld._device.acme.example", prefix, i);
        k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
        if (k == NULL)
            bu_die("%s", err);
        memset(&rq, 0, sizeof(rq));
        rq.key = k;
        rq.name = name;
        rq.days = 30;
        rq.issuer_cert = ca;
        rq.issuer_key = ca_key;
        cert = dance_cert_issue(&rq, err, sizeof(err));
        if (cert == NULL)
            bu_die("%s", err);
        snprintf(kpath, sizeof(kpath), "%s/%s%ld.key", dir, prefix, i);
        snprintf(path, sizeof(path), "%s/%s%ld.pem", dir, prefix, i);
        write_pem(kpath, k, NULL);
        write_pem(path, NULL, cert);
        if (dance_tlsa_from_cert(cert, (uint8_t)usage, (uint8_t)selector, (uint8_t)mtype,
                                 &set, err, sizeof(err)) != 0)
            bu_die("%s", err);
        tlen = 16 + 2 * set.rr[0].len;
        tlsa = bu_xmalloc(tlen);
        dance_tlsa_format(&set.rr[0], 0, tlsa, tlen);
        printf("%s %s %s %s\n", name, path, kpath, tlsa);
        free(tlsa);
        dance_tlsa_rrset_clear(&set);
        X509_free(cert);
        EVP_PKEY_free(k);
    }
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return fflush(stdout) == 0 ? 0 : 2;
}
