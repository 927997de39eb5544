/*
 * dance/name.h - DNS names as identities.
 *
 * An identity is a DNS name compared case-insensitively, stored normalised:
 * lowercase, no trailing dot. These functions do no DNS queries.
 */
#ifndef DANCE_NAME_H
#define DANCE_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DANCE_NAME_MAX 253          /* presentation form, no trailing dot */
#define DANCE_LABEL_MAX 63

/* dance_name_normalize - validate name and write its normal form into out
 * (out needs DANCE_NAME_MAX + 1 bytes). Lowercases, strips one trailing dot.
 * Refuses: empty name or label, label over 63 octets, name over 253,
 * characters other than letters, digits, hyphen, and an underscore that
 * starts a label. Returns 0, or -1 with a reason in err. */
int dance_name_normalize(const char *name, char *out, size_t outlen,
                         char *err, size_t errlen);

/* dance_name_is_under - true when name equals domain or lies below it on a
 * label boundary. Both must be normalised. "a.example.com" is under
 * "example.com"; "badexample.com" is not. */
bool dance_name_is_under(const char *name, const char *domain);

/* Allow-list of domains ("example.com, org.example"). */
typedef struct dance_allowlist dance_allowlist;

/* dance_allowlist_parse - parse a comma list (spaces around items ignored).
 * An empty list, an empty item or an invalid name is an error: returns NULL
 * with a reason in err (NULL also on allocation failure). */
dance_allowlist *dance_allowlist_parse(const char *list, char *err, size_t errlen);

/* dance_allowlist_match - true when the normalised name is under an entry. */
bool dance_allowlist_match(const dance_allowlist *al, const char *name);

/* dance_allowlist_count - number of entries. */
size_t dance_allowlist_count(const dance_allowlist *al);

void dance_allowlist_free(dance_allowlist *al);

/* dance_owner_name - the owner name of an identity's TLSA RRset.
 * service_label NULL or "" gives the DevID form (the identity itself);
 * "_mqtt" (leading underscore required) gives "_mqtt.<identity>".
 * Returns 0, or -1 with a reason (invalid label, result too long). */
int dance_owner_name(const char *identity, const char *service_label,
                     char *out, size_t outlen, char *err, size_t errlen);

/* dance_dns_uri_name - the DNS name of an RFC 4501 URI naming a TLSA RRset
 * (dns:NAME?type=TLSA, dns://AUTHORITY/NAME?type=TLSA with the authority
 * ignored, or dns://NAME?type=TLSA; query "type=TLSA" or "type=52"
 * required, "class=IN"/"class=1" allowed, case-insensitive; %XX escapes
 * decoded), normalised into out (DANCE_NAME_MAX + 1 bytes). 0, or -1 with
 * a reason. */
int dance_dns_uri_name(const char *uri, char *out, size_t outlen,
                       char *err, size_t errlen);

/* dance_cert_dnsnames - the certificate's dNSName subjectAltNames,
 * normalised; names that fail validation are skipped. *names is a
 * NULL-terminated array the caller frees with dance_names_free.
 * Returns the count (>= 0) or -1 on allocation failure. */
int dance_cert_dnsnames(X509 *cert, char ***names);
void dance_names_free(char **names);

#ifdef __cplusplus
}
#endif
#endif
