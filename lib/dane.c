/*
 * dane.c - offline DANE matching of a certificate against TLSA records with
 * OpenSSL's own DANE verifier (see dance/dane.h).
 *
 * Why OpenSSL and not a hand-written matcher: its DANE code implements the
 * RFC 7671 rules we must not get subtly wrong - digest agility, DANE-EE
 * ignoring dates and (when asked) names, DANE-TA trust anchors that are not
 * in the chain ("2 0 0" / "2 1 0" records), PKIX usages needing a PKIX path.
 * OpenSSL only exposes it through an SSL object, so every check uses a
 * throwaway SSL (DANE can be enabled on an SSL only once) made from the
 * matcher's DANE-enabled SSL_CTX, and drives X509_verify_cert itself the way
 * libssl's ssl_verify_cert_chain does.
 *
 * Ownership: the matcher owns the SSL_CTX, whose X509_STORE holds the CA
 * file's certificates, read once at creation. After creation nothing in it is
 * written, so threads may share one matcher: SSL_new and X509_STORE lookups
 * are thread-safe in OpenSSL 3. The caller keeps ownership of every input.
 *
 * OpenSSL DANE traps handled here:
 * - With no usable record OpenSSL silently falls back to plain PKIX; only
 *   SSL_get0_dane_authority() >= 0 after a passing check counts as DANE.
 * - X509_STORE_CTX_init needs a non-NULL untrusted stack, or OpenSSL 3.0
 *   ignores certificates carried in "x 0 0" records when building the chain.
 * - With only DANE usages (2, 3) in the RRset OpenSSL never looks into the
 *   trust store while building the chain. Mosquitto hands the plugin only
 *   the leaf, so for "2 x 1" records against the organisation's CA to work
 *   the CA file's certificates are also offered as untrusted issuers: at
 *   once for a bare leaf, and as a second attempt (appended after the peer's
 *   chain) when a given chain failed on its own - so a complete chain gets
 *   exactly OpenSSL's verdict and match depth (the conformance vectors
 *   check both). That adds no trust: a DANE-TA record still has to match,
 *   and PKIX usages still end in the store.
 * - OpenSSL's error queue is per thread and the broker's TLS code reads it:
 *   everything we cause is removed again (ERR_set_mark / ERR_pop_to_mark).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dance/dane.h"
#include "dance/error.h"
#include "dance/name.h"

struct dance_matcher {
    SSL_CTX *ctx;               /* DANE-enabled; its cert store holds the CA file */
    STACK_OF(X509) *issuers;    /* the CA file's certificates again, see below */
};

/* last_ssl_error - text of the newest queued OpenSSL error, or a fallback */
static const char *last_ssl_error(const char *fallback)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());

    return r != NULL ? r : fallback;
}

/* dance_matcher_new - DANE-enabled SSL_CTX plus the optional CA file */
dance_matcher *dance_matcher_new(const char *cafile, char *err, size_t errlen)
{
    dance_matcher *m;

    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        dance_set_err(err, errlen, "out of memory");
        return NULL;
    }
    ERR_set_mark();
    m->ctx = SSL_CTX_new(TLS_method());
    if (m->ctx == NULL) {
        dance_set_err(err, errlen, "OpenSSL could not create a TLS context: %s",
                      last_ssl_error("unknown error"));
        goto fail;
    }
    /* Default digest ordering: SHA2-512 (mtype 2) ranks above SHA2-256
     * (mtype 1) for RFC 7671 digest agility. */
    if (SSL_CTX_dane_enable(m->ctx) <= 0) {
        dance_set_err(err, errlen, "OpenSSL could not enable DANE: %s",
                      last_ssl_error("unknown error"));
        goto fail;
    }
    if (cafile != NULL) {
        FILE *f = fopen(cafile, "r");

        /* Check readability ourselves: OpenSSL's message for a missing file
         * ("system lib") does not tell the user what is wrong. */
        if (f == NULL) {
            dance_set_err(err, errlen, "cannot read CA file %s: %s", cafile,
                          strerror(errno));
            goto fail;
        }
        fclose(f);
        if (SSL_CTX_load_verify_file(m->ctx, cafile) != 1) {
            dance_set_err(err, errlen, "CA file %s holds no usable PEM certificate: %s",
                          cafile, last_ssl_error("unknown error"));
            goto fail;
        }
        m->issuers = X509_STORE_get1_all_certs(SSL_CTX_get_cert_store(m->ctx));
    } else {
        m->issuers = sk_X509_new_null();
    }
    if (m->issuers == NULL) {
        dance_set_err(err, errlen, "out of memory");
        goto fail;
    }
    ERR_pop_to_mark();
    return m;

fail:
    ERR_pop_to_mark();
    dance_matcher_free(m);
    return NULL;
}

void dance_matcher_free(dance_matcher *m)
{
    if (m == NULL)
        return;
    SSL_CTX_free(m->ctx);
    sk_X509_pop_free(m->issuers, X509_free);
    free(m);
}

/* describe_rr - "DANE-TA 2 0 1" */
static void describe_rr(const dance_tlsa_rr *rr, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%s %u %u %u", dance_tlsa_usage_name(rr->usage),
             rr->usage, rr->selector, rr->mtype);
}

/* explain - the reason line for a finished check (authenticated or not) */
static void explain(dance_match_result *out, const dance_match_input *in,
                    const char *name, int count, int unusable,
                    const char *unusable_why, int error_depth)
{
    char rr[64];
    char extra[160] = "";
    int err = out->x509_error;

    if (unusable > 0)
        snprintf(extra, sizeof(extra), " (%d more unusable: %s)", unusable,
                 unusable_why);
    if (out->depth >= 0)
        describe_rr(&out->matched, rr, sizeof(rr));

    if (out->authenticated) {
        bool unnamed = name == NULL
                       || (out->matched.usage == 3 && in->no_ee_namechecks);
        dance_set_err(out->reason, sizeof(out->reason), "%s matched at depth %d%s",
                      rr, out->depth, unnamed ? " (name not checked)" : "");
        return;
    }
    if (err == X509_V_OK && out->depth < 0) {
        /* OpenSSL found a PKIX path but no record matched: not DANE. */
        dance_set_err(out->reason, sizeof(out->reason),
                      "no TLSA record matched (a PKIX path alone does not count)%s",
                      extra);
    } else if (err == X509_V_ERR_DANE_NO_MATCH && out->depth < 0) {
        if (count - unusable == 1)
            dance_set_err(out->reason, sizeof(out->reason),
                          "certificate does not match the TLSA record%s", extra);
        else
            dance_set_err(out->reason, sizeof(out->reason),
                          "certificate does not match any of %d TLSA records%s",
                          count - unusable, extra);
    } else if (err == X509_V_ERR_HOSTNAME_MISMATCH) {
        if (out->depth >= 0)
            dance_set_err(out->reason, sizeof(out->reason),
                          "%s matched at depth %d but the certificate has no "
                          "dNSName subjectAltName %s", rr, out->depth, name);
        else
            dance_set_err(out->reason, sizeof(out->reason),
                          "certificate has no dNSName subjectAltName %s", name);
    } else if (out->depth >= 0) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "%s matched at depth %d but %s (certificate at depth %d)",
                      rr, out->depth, X509_verify_cert_error_string(err), error_depth);
    } else {
        dance_set_err(out->reason, sizeof(out->reason),
                      "no TLSA record matched: %s (certificate at depth %d)%s",
                      X509_verify_cert_error_string(err), error_depth, extra);
    }
}

/* verify_with_dane - one X509_verify_cert run with ssl's DANE state.
 * Returns X509_verify_cert's result; *err and *error_depth say what failed. */
static int verify_with_dane(const dance_matcher *m, SSL *ssl,
                            const dance_match_input *in, bool with_issuers,
                            int *err, int *error_depth)
{
    X509_STORE_CTX *sctx;
    STACK_OF(X509) *untrusted;
    X509_VERIFY_PARAM *param;
    int ok = -1, i;

    *err = X509_V_ERR_UNSPECIFIED;
    *error_depth = 0;
    sctx = X509_STORE_CTX_new();
    /* Peer chain first, then maybe the CA file's certificates (see the top
     * of this file). A shallow copy: the stack is ours, the certificates are
     * not. Never NULL, even when empty (also at the top). */
    untrusted = in->chain != NULL ? sk_X509_dup(in->chain) : sk_X509_new_null();
    if (sctx == NULL || untrusted == NULL)
        goto done;
    for (i = 0; with_issuers && i < sk_X509_num(m->issuers); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(m->issuers, i)))
            goto done;
    if (X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(m->ctx), in->leaf,
                            untrusted) != 1)
        goto done;
    switch (in->purpose) {
    case DANCE_PURPOSE_CLIENT:
        if (X509_STORE_CTX_set_default(sctx, "ssl_client") != 1)
            goto done;
        break;
    case DANCE_PURPOSE_SERVER:
        if (X509_STORE_CTX_set_default(sctx, "ssl_server") != 1)
            goto done;
        break;
    case DANCE_PURPOSE_NONE:
    case DANCE_PURPOSE_COUNT:
        break;
    }
    /* The SSL's parameters carry the reference name set by SSL_dane_enable;
     * non-default values override, as in libssl. */
    param = X509_STORE_CTX_get0_param(sctx);
    if (X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl)) != 1)
        goto done;
    /* Same key-strength floor as a TLS handshake with this context. */
    X509_VERIFY_PARAM_set_auth_level(param, SSL_get_security_level(ssl));
    X509_STORE_CTX_set0_dane(sctx, SSL_get0_dane(ssl));

    ok = X509_verify_cert(sctx);
    *err = X509_STORE_CTX_get_error(sctx);
    *error_depth = X509_STORE_CTX_get_error_depth(sctx);

done:
    X509_STORE_CTX_free(sctx);
    sk_X509_free(untrusted);
    return ok;
}

/* match_once - one complete check on a fresh SSL: load the records, build
 * and verify a chain, read back the match. Same returns as dance_match.
 * The caller has validated in and normalised name, and holds an error mark. */
static int match_once(const dance_matcher *m, const dance_match_input *in,
                      const char *name, bool with_issuers, dance_match_result *out)
{
    char unusable_why[128] = "";
    SSL *ssl = NULL;
    size_t i;
    int count = (int)in->tlsa->count, unusable = 0, ok, err, error_depth, depth, rc = -1;
    uint8_t u = 0, s = 0, mt = 0;
    const unsigned char *mdata = NULL;
    size_t mlen = 0;

    memset(out, 0, sizeof(*out));
    out->depth = -1;
    out->x509_error = -1;
    out->matched_index = -1;
    ssl = SSL_new(m->ctx);
    if (ssl == NULL) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "internal error: OpenSSL could not create an SSL: %s",
                      last_ssl_error("out of memory"));
        goto done;
    }
    /* NULL name: SSL_dane_enable clears the reference identifiers, so no
     * name check happens for any usage. */
    if (SSL_dane_enable(ssl, name) <= 0) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "internal error: OpenSSL could not enable DANE for %s: %s",
                      name != NULL ? name : "(no name)", last_ssl_error("unknown error"));
        goto done;
    }
    if (in->no_ee_namechecks)
        SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    /* Identities are exact names in dNSName subjectAltNames: no fallback to
     * the subject CN, and no wildcards at all. OpenSSL's default host check
     * lets "*.example.com" stand for "victim.example.com", so one CA-issued
     * wildcard certificate under a DANE-TA record would speak for every
     * device below it; NO_WILDCARDS makes "*" an ordinary (never matching)
     * character. */
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl),
                                    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
                                    | X509_CHECK_FLAG_NO_WILDCARDS);

    for (i = 0; i < in->tlsa->count; i++) {
        const dance_tlsa_rr *rr = &in->tlsa->rr[i];
        int r = SSL_dane_tlsa_add(ssl, rr->usage, rr->selector, rr->mtype,
                                  rr->data, rr->len);

        if (r > 0) {
            out->usable++;
        } else if (r == 0) {
            /* Unknown usage/selector/mtype, wrong digest length, data that
             * does not parse: RFC 7671 says ignore the record. */
            if (unusable++ == 0)
                snprintf(unusable_why, sizeof(unusable_why), "%u %u %u: %s",
                         rr->usage, rr->selector, rr->mtype,
                         last_ssl_error("unusable"));
        } else {
            dance_set_err(out->reason, sizeof(out->reason),
                          "internal error: OpenSSL could not load TLSA record %u %u %u: %s",
                          rr->usage, rr->selector, rr->mtype,
                          last_ssl_error("out of memory"));
            goto done;
        }
    }
    if (out->usable == 0) {
        if (count == 1)
            dance_set_err(out->reason, sizeof(out->reason),
                          "no usable TLSA record (%s)", unusable_why);
        else
            dance_set_err(out->reason, sizeof(out->reason),
                          "no usable TLSA record among %d (first: %s)", count,
                          unusable_why);
        rc = 1;
        goto done;
    }

    ok = verify_with_dane(m, ssl, in, with_issuers, &err, &error_depth);
    if (ok < 0) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "internal error: OpenSSL certificate verification failed: %s",
                      last_ssl_error(X509_verify_cert_error_string(err)));
        goto done;
    }
    out->x509_error = err;
    /* SSL_get0_dane_tlsa hides the match unless the result is X509_V_OK;
     * look with OK set (as OpenSSL's own DANE test does) so a failure can
     * still say which record matched, then decide on the real result. */
    SSL_set_verify_result(ssl, X509_V_OK);
    depth = SSL_get0_dane_tlsa(ssl, &u, &s, &mt, &mdata, &mlen);
    SSL_set_verify_result(ssl, err);
    if (depth >= 0) {
        out->depth = depth;
        out->matched.usage = u;
        out->matched.selector = s;
        out->matched.mtype = mt;
        /* OpenSSL keeps its own copy of the data: find ours by content. */
        for (i = 0; mdata != NULL && i < in->tlsa->count; i++) {
            const dance_tlsa_rr *rr = &in->tlsa->rr[i];
            if (rr->usage == u && rr->selector == s && rr->mtype == mt
                && rr->len == mlen && memcmp(rr->data, mdata, mlen) == 0) {
                out->matched_index = (int)i;
                break;
            }
        }
    }
    out->authenticated = ok == 1 && err == X509_V_OK
                         && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0;
    explain(out, in, name, count, unusable, unusable_why, error_depth);
    rc = out->authenticated ? 0 : 1;

done:
    SSL_free(ssl);
    return rc;
}

/* pkeys_trap - true for the inputs that crash OpenSSL 3.0's verifier (found
 * by fuzzing, tests/fuzz): a self-issued leaf for which the trust store (the
 * CA file) holds an issuer - itself, typically - while the RRset mixes PKIX
 * usages (0/1, which make OpenSSL search the store) with a DANE-TA "2 1 0"
 * bare key. Chain building then swaps the leaf for its trusted copy, leaves
 * no untrusted certificate, and check_dane_pkeys() calls X509_verify() on
 * chain[num_untrusted - 1] = chain[-1] = NULL. In the JWS x5c path anyone
 * can send a public CA certificate as "leaf", so this is refused up front
 * (fail closed) rather than handed to OpenSSL. */
static bool pkeys_trap(const dance_matcher *m, const dance_match_input *in)
{
    bool bare_ta = false, pkix = false;
    size_t i;
    int j;

    for (i = 0; i < in->tlsa->count; i++) {
        const dance_tlsa_rr *rr = &in->tlsa->rr[i];
        if (rr->usage == 2 && rr->selector == 1 && rr->mtype == 0)
            bare_ta = true;
        else if (rr->usage <= 1)
            pkix = true;
    }
    if (!bare_ta || !pkix || X509_check_issued(in->leaf, in->leaf) != X509_V_OK)
        return false;
    for (j = 0; j < sk_X509_num(m->issuers); j++)
        if (X509_check_issued(sk_X509_value(m->issuers, j), in->leaf) == X509_V_OK)
            return true;
    return false;
}

/* dance_match - see dance/dane.h */
int dance_match(const dance_matcher *m, const dance_match_input *in,
                dance_match_result *out)
{
    char norm[DANCE_NAME_MAX + 1];
    char why[DANCE_NAME_MAX + 128];
    const char *name = NULL;
    bool have_issuers, chain_given;
    int rc;

    if (out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->depth = -1;
    out->x509_error = -1;
    out->matched_index = -1;
    if (m == NULL || in == NULL || in->leaf == NULL) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "internal error: no matcher or no certificate to match");
        return -1;
    }
    if ((unsigned)in->purpose >= DANCE_PURPOSE_COUNT) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "internal error: unknown purpose %d", (int)in->purpose);
        return -1;
    }
    if (in->name != NULL) {
        if (dance_name_normalize(in->name, norm, sizeof(norm), why, sizeof(why)) != 0) {
            dance_set_err(out->reason, sizeof(out->reason),
                          "invalid reference name: %s", why);
            return 1;
        }
        name = norm;
    }
    if (in->tlsa == NULL || in->tlsa->count == 0) {
        dance_set_err(out->reason, sizeof(out->reason),
                      "no usable TLSA record (the record set is empty)");
        return 1;
    }
    if (in->tlsa->count > 100000) {     /* far beyond any DNS message */
        dance_set_err(out->reason, sizeof(out->reason),
                      "no usable TLSA record (%zu records is not a real RRset)",
                      in->tlsa->count);
        return 1;
    }

    /* Which chain to try first: a client that sent only its leaf (always so
     * in the Mosquitto plugin) gets the CA file's certificates as issuers at
     * once; a given chain is first judged exactly as OpenSSL would, and the
     * CA file's certificates are tried only when that fails. Either chain is
     * sound on its own: the extra certificates are candidates, not trust. */
    have_issuers = sk_X509_num(m->issuers) > 0;
    chain_given = in->chain != NULL && sk_X509_num(in->chain) > 0;
    ERR_set_mark();
    if (pkeys_trap(m, in)) {
        ERR_pop_to_mark();
        dance_set_err(out->reason, sizeof(out->reason),
                      "self-signed certificate of a trusted CA checked against DANE-TA "
                      "2 1 0 together with PKIX-TA/PKIX-EE records: refused (OpenSSL 3.0 "
                      "cannot check this combination safely)");
        return 1;
    }
    rc = match_once(m, in, name, have_issuers && !chain_given, out);
    if (rc == 1 && have_issuers && chain_given && out->usable > 0) {
        dance_match_result alt;

        if (match_once(m, in, name, true, &alt) == 0)
            *out = alt;
        /* else keep the first, OpenSSL-native, verdict and reason */
        rc = out->authenticated ? 0 : 1;
    }
    ERR_pop_to_mark();
    return rc;
}
