/*
 * name.c - DNS names as identities: normalisation, allow-lists, TLSA owner
 * names, dNSName extraction from certificates and the names of RFC 4501 DNS
 * URIs (see dance/name.h).
 *
 * Owns: nothing global. An allow-list owns its entries; the array returned
 * by dance_cert_dnsnames belongs to the caller (dance_names_free).
 *
 * Hand-written rather than taken from getdns or OpenSSL: getdns validates
 * wire-format names (it allows any octet), and OpenSSL's X509_check_host
 * compares names but does not validate or normalise them. The rules here are
 * the stricter host-name rules the project wants for identities, plus the
 * leading underscore that TLSA owner names (_device, _mqtt) need.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "dance/error.h"
#include "dance/name.h"

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* show - a name quoted into a reason: escaped (dance_escape), at most 64
 * characters, so a hostile name cannot forge log lines nor fill the reason. */
#define SHOW_MAX 64

static const char *show(const char *name, char *buf, size_t buflen)
{
    return dance_escape(name, strlen(name), buf, buflen);
}

/* dance_name_normalize - validate, lowercase, strip one trailing dot */
int dance_name_normalize(const char *name, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    size_t len, i, label_len = 0;
    char sb[SHOW_MAX + 1];

    if (name == NULL || name[0] == '\0') {
        dance_set_err(err, errlen, "empty name");
        return -1;
    }
    len = strlen(name);
    if (name[len - 1] == '.')
        len--;                          /* absolute form: one dot only */
    if (len == 0) {
        dance_set_err(err, errlen, "the root name \".\" is not an identity");
        return -1;
    }
    if (len > DANCE_NAME_MAX) {
        dance_set_err(err, errlen, "name \"%s\" is %zu octets long, more than %d",
                      show(name, sb, sizeof(sb)), len, DANCE_NAME_MAX);
        return -1;
    }
    if (out == NULL || outlen <= len) {
        dance_set_err(err, errlen, "no room for a %zu-octet name", len);
        return -1;
    }
    for (i = 0; i < len; i++) {
        char c = ascii_lower(name[i]);

        if (c == '.') {
            if (label_len == 0) {
                dance_set_err(err, errlen, "name \"%s\" has an empty label",
                              show(name, sb, sizeof(sb)));
                return -1;
            }
            label_len = 0;
        } else {
            if (!is_ldh(c) && !(c == '_' && label_len == 0)) {
                unsigned char uc = (unsigned char)name[i];
                if (uc == '_')
                    dance_set_err(err, errlen, "name \"%s\": an underscore may only "
                                  "start a label", show(name, sb, sizeof(sb)));
                else if (uc >= 0x21 && uc < 0x7f)
                    dance_set_err(err, errlen, "name \"%s\" has a character '%c' "
                                  "outside letters, digits and hyphen",
                                  show(name, sb, sizeof(sb)), uc);
                else
                    dance_set_err(err, errlen, "name has a byte 0x%02x outside letters, "
                                  "digits and hyphen", uc);
                return -1;
            }
            if (++label_len > DANCE_LABEL_MAX) {
                dance_set_err(err, errlen, "name \"%s\" has a label longer than %d octets",
                              show(name, sb, sizeof(sb)), DANCE_LABEL_MAX);
                return -1;
            }
        }
        out[i] = c;
    }
    if (label_len == 0) {               /* "a..", trailing dot after a dot */
        dance_set_err(err, errlen, "name \"%s\" has an empty label", show(name, sb, sizeof(sb)));
        return -1;
    }
    out[len] = '\0';
    return 0;
}

/* ascii_ieq - compare n octets ignoring ASCII case */
static int ascii_ieq(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return 0;
    return 1;
}

/* dance_name_is_under - equal, or a suffix that starts at a label boundary.
 * Case is ignored too, so a caller that forgot to normalise fails safe only
 * on trailing dots, not on case. */
bool dance_name_is_under(const char *name, const char *domain)
{
    size_t nlen, dlen;

    if (name == NULL || domain == NULL)
        return false;
    nlen = strlen(name);
    dlen = strlen(domain);
    if (dlen == 0 || nlen < dlen)
        return false;
    if (!ascii_ieq(name + nlen - dlen, domain, dlen))
        return false;
    return nlen == dlen || name[nlen - dlen - 1] == '.';
}

struct dance_allowlist {
    size_t count;
    char **domains;                     /* normalised, owned */
};

void dance_allowlist_free(dance_allowlist *al)
{
    size_t i;

    if (al == NULL)
        return;
    for (i = 0; i < al->count; i++)
        free(al->domains[i]);
    free(al->domains);
    free(al);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* dance_allowlist_parse - "example.com, org.example" into a list */
dance_allowlist *dance_allowlist_parse(const char *list, char *err, size_t errlen)
{
    dance_allowlist *al;
    const char *p = list;
    char item[DANCE_NAME_MAX + 2];      /* room for a trailing dot */
    char norm[DANCE_NAME_MAX + 1];
    char why[DANCE_NAME_MAX + 128];
    char sb[SHOW_MAX + 1];

    if (list == NULL) {
        dance_set_err(err, errlen, "empty allow-list");
        return NULL;
    }
    al = calloc(1, sizeof(*al));
    if (al == NULL) {
        dance_set_err(err, errlen, "out of memory");
        return NULL;
    }
    for (;;) {
        const char *start, *end, *comma;
        size_t n;
        char **grown, *copy;

        comma = strchr(p, ',');
        end = comma != NULL ? comma : p + strlen(p);
        start = p;
        while (start < end && is_space(*start))
            start++;
        while (end > start && is_space(end[-1]))
            end--;
        n = (size_t)(end - start);
        if (n == 0) {
            if (comma == NULL && al->count == 0)
                dance_set_err(err, errlen, "empty allow-list");
            else
                dance_set_err(err, errlen, "allow-list \"%s\" has an empty item",
                              show(list, sb, sizeof(sb)));
            goto fail;
        }
        if (n >= sizeof(item)) {
            dance_set_err(err, errlen, "allow-list item \"%s\" is longer than %d octets",
                          show(start, sb, sizeof(sb)), DANCE_NAME_MAX);
            goto fail;
        }
        memcpy(item, start, n);
        item[n] = '\0';
        if (dance_name_normalize(item, norm, sizeof(norm), why, sizeof(why)) != 0) {
            dance_set_err(err, errlen, "allow-list item: %s", why);
            goto fail;
        }
        copy = strdup(norm);
        if (copy == NULL) {
            dance_set_err(err, errlen, "out of memory");
            goto fail;
        }
        grown = realloc(al->domains, (al->count + 1) * sizeof(*grown));
        if (grown == NULL) {
            free(copy);
            dance_set_err(err, errlen, "out of memory");
            goto fail;
        }
        al->domains = grown;
        al->domains[al->count++] = copy;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return al;

fail:
    dance_allowlist_free(al);
    return NULL;
}

/* dance_allowlist_match - the name is normalised again here (cheap, no
 * allocation) so that an unnormalised or invalid name fails closed. */
bool dance_allowlist_match(const dance_allowlist *al, const char *name)
{
    char norm[DANCE_NAME_MAX + 1];
    size_t i;

    if (al == NULL || name == NULL)
        return false;
    if (dance_name_normalize(name, norm, sizeof(norm), NULL, 0) != 0)
        return false;
    for (i = 0; i < al->count; i++)
        if (dance_name_is_under(norm, al->domains[i]))
            return true;
    return false;
}

size_t dance_allowlist_count(const dance_allowlist *al)
{
    return al != NULL ? al->count : 0;
}

/* dance_owner_name - DevID form (identity) or service form (_label.identity) */
int dance_owner_name(const char *identity, const char *service_label,
                     char *out, size_t outlen, char *err, size_t errlen)
{
    char id[DANCE_NAME_MAX + 1];
    char label[DANCE_NAME_MAX + 1];
    char why[DANCE_NAME_MAX + 128];
    char sb[SHOW_MAX + 1];
    int n;

    if (dance_name_normalize(identity, id, sizeof(id), why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "identity: %s", why);
        return -1;
    }
    if (service_label == NULL || service_label[0] == '\0') {
        n = snprintf(out, outlen, "%s", id);
    } else {
        if (service_label[0] != '_') {
            dance_set_err(err, errlen, "service label \"%s\" must start with an "
                          "underscore (e.g. _mqtt)", show(service_label, sb, sizeof(sb)));
            return -1;
        }
        if (strchr(service_label, '.') != NULL) {
            dance_set_err(err, errlen, "service label \"%s\" must be a single label "
                          "(no dots)", show(service_label, sb, sizeof(sb)));
            return -1;
        }
        if (dance_name_normalize(service_label, label, sizeof(label),
                                 why, sizeof(why)) != 0) {
            dance_set_err(err, errlen, "service label: %s", why);
            return -1;
        }
        if (strlen(label) + 1 + strlen(id) > DANCE_NAME_MAX) {
            dance_set_err(err, errlen, "owner name %s.%s would be longer than %d octets",
                          label, show(id, sb, sizeof(sb)), DANCE_NAME_MAX);
            return -1;
        }
        n = snprintf(out, outlen, "%s.%s", label, id);
    }
    if (out == NULL || n < 0 || (size_t)n >= outlen) {
        dance_set_err(err, errlen, "no room for the owner name");
        return -1;
    }
    return 0;
}

void dance_names_free(char **names)
{
    size_t i;

    if (names == NULL)
        return;
    for (i = 0; names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

/* dance_cert_dnsnames - dNSName SANs that pass dance_name_normalize, in
 * certificate order, duplicates dropped. Wildcards ("*.example.com") fail
 * validation and are skipped: an identity is one exact name. */
int dance_cert_dnsnames(X509 *cert, char ***names)
{
    GENERAL_NAMES *gens = NULL;
    char **list;
    int i, n, count = 0;

    if (names == NULL)
        return -1;
    *names = NULL;
    if (cert == NULL)
        return -1;
    /* NULL for an absent extension and for an undecodable one: either way
     * there is no name to trust. */
    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
    list = calloc((size_t)n + 1, sizeof(*list));
    if (list == NULL) {
        GENERAL_NAMES_free(gens);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const unsigned char *data;
        char raw[DANCE_NAME_MAX + 2];
        char norm[DANCE_NAME_MAX + 1];
        int len, j, dup = 0;

        if (g->type != GEN_DNS)
            continue;
        data = ASN1_STRING_get0_data(g->d.dNSName);
        len = ASN1_STRING_length(g->d.dNSName);
        /* Longer names and embedded NULs are invalid: never truncate. */
        if (data == NULL || len <= 0 || (size_t)len >= sizeof(raw)
            || memchr(data, '\0', (size_t)len) != NULL)
            continue;
        memcpy(raw, data, (size_t)len);
        raw[len] = '\0';
        if (dance_name_normalize(raw, norm, sizeof(norm), NULL, 0) != 0)
            continue;
        for (j = 0; j < count; j++)
            if (strcmp(list[j], norm) == 0)
                dup = 1;
        if (dup)
            continue;
        list[count] = strdup(norm);
        if (list[count] == NULL) {
            GENERAL_NAMES_free(gens);
            dance_names_free(list);
            return -1;
        }
        count++;
    }
    GENERAL_NAMES_free(gens);
    *names = list;
    return count;
}

/* ------------------------------------------------------------ DNS URIs */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* pct_decode - %XX-decode s[0..len) into out (NUL-terminated). -1 when an
 * escape is broken, decodes to NUL, or out is too small. */
static int pct_decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t i, o = 0;
    int hi, lo;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* uri_query_ok - RFC 4501 dnsquery: ";"-separated TYPE=/CLASS= elements,
 * case-insensitive; we need type TLSA (or its number 52), class IN if any. */
static int uri_query_ok(const char *q, char *err, size_t errlen)
{
    bool have_type = false;
    const char *p = q;

    while (*p != '\0') {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 5 && strncasecmp(p, "type=", 5) == 0) {
            if (!((n - 5 == 4 && strncasecmp(p + 5, "TLSA", 4) == 0)
                  || (n - 5 == 2 && strncmp(p + 5, "52", 2) == 0))) {
                dance_set_err(err, errlen, "DNS URI asks for type %.*s, not TLSA",
                              (int)(n - 5 > 20 ? 20 : n - 5), p + 5);
                return -1;
            }
            have_type = true;
        } else if (n > 6 && strncasecmp(p, "class=", 6) == 0) {
            if (!((n - 6 == 2 && strncasecmp(p + 6, "IN", 2) == 0)
                  || (n - 6 == 1 && p[6] == '1'))) {
                dance_set_err(err, errlen, "DNS URI asks for class %.*s, not IN",
                              (int)(n - 6 > 20 ? 20 : n - 6), p + 6);
                return -1;
            }
        } else {
            dance_set_err(err, errlen, "DNS URI query element '%.*s' is not TYPE= or CLASS=",
                          (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    if (!have_type) {
        dance_set_err(err, errlen, "DNS URI does not say type=TLSA");
        return -1;
    }
    return 0;
}

int dance_dns_uri_name(const char *uri, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    char name[4 * DANCE_NAME_MAX];
    char nerr[DANCE_REASON_MAX];
    const char *p, *q, *name_start, *name_end;

    if (uri == NULL || strncasecmp(uri, "dns:", 4) != 0) {
        dance_set_err(err, errlen, "not a DNS URI (RFC 4501 dns:NAME?type=TLSA)");
        return -1;
    }
    p = uri + 4;
    if (strchr(p, '#') != NULL) {
        dance_set_err(err, errlen, "DNS URI has a fragment");
        return -1;
    }
    q = strchr(p, '?');
    if (q == NULL) {
        dance_set_err(err, errlen, "DNS URI has no query: add ?type=TLSA");
        return -1;
    }
    if (p[0] == '/' && p[1] == '/') {
        /* dns://authority/name: the authority (the DNS server to ask) is
         * ignored, we ask our own validating resolver. dns://name (no path)
         * is what existing DANCE prototypes emit for the name itself. */
        const char *auth = p + 2;
        const char *slash = memchr(auth, '/', (size_t)(q - auth));
        if (slash != NULL) {
            name_start = slash + 1;
        } else {
            if (memchr(auth, ':', (size_t)(q - auth)) != NULL
                || memchr(auth, '@', (size_t)(q - auth)) != NULL) {
                dance_set_err(err, errlen, "DNS URI dns://%.*s names a server, not a DNS name "
                              "(use dns://SERVER/NAME?type=TLSA)",
                              (int)((q - auth) > 60 ? 60 : (q - auth)), auth);
                return -1;
            }
            name_start = auth;
        }
    } else {
        name_start = p;
    }
    name_end = q;
    if (name_end == name_start) {
        dance_set_err(err, errlen, "DNS URI has no DNS name");
        return -1;
    }
    if (memchr(name_start, '/', (size_t)(name_end - name_start)) != NULL) {
        dance_set_err(err, errlen, "DNS URI name contains '/'");
        return -1;
    }
    if (pct_decode(name_start, (size_t)(name_end - name_start), name, sizeof(name)) != 0) {
        dance_set_err(err, errlen, "DNS URI name has a bad %%-escape or is too long");
        return -1;
    }
    if (uri_query_ok(q + 1, err, errlen) != 0)
        return -1;
    if (dance_name_normalize(name, out, outlen, nerr, sizeof(nerr)) != 0) {
        dance_set_err(err, errlen, "DNS URI name is not a valid DNS name: %s", nerr);
        return -1;
    }
    return 0;
}
