/*
 * zonekeys.c - validated DNSKEY sets of the zones TLSA answers come from,
 * kept between lookups so that a cold lookup in a zone seen before costs
 * one query instead of the whole chain (see resolver_internal.h).
 *
 * Written here because getdns 1.6 in stub mode keeps nothing between
 * lookups: every validated lookup asks DS and DNSKEY up to the trust anchor
 * again (six queries for a name two zones below the root). What getdns
 * does offer is the validation chain of a lookup
 * (dnssec_return_validation_chain) and offline validation against trust
 * anchors of our choosing (getdns_validate_dnssec2): a DNSKEY set that a
 * full lookup validated from our anchors is as good an anchor for later
 * answers from that zone as the configured one, for as long as the set's
 * TTL and signature allow. That is what a validating resolver's key cache
 * does.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include "dance/name.h"
#include "resolver_internal.h"

/* Zones are few (one per allowed domain, a handful of sub-zones). */
#define ZONEKEYS_MAX 64
/* Re-learn a zone's keys at least hourly even with longer TTLs, so a key
 * the zone withdrew stops being trusted within the hour. */
#define ZONEKEYS_MAX_S 3600u

typedef struct zonekey {
    char *zone;             /* lowercase, no trailing dot; never the root */
    getdns_list *keys;      /* the zone's DNSKEY rr dicts, validated */
    uint64_t expires_ms;    /* monotonic */
} zonekey;

struct resolver_zonekeys {
    zonekey e[ZONEKEYS_MAX];
    unsigned n;
};

resolver_zonekeys *resolver_zonekeys_new(void)
{
    return calloc(1, sizeof(resolver_zonekeys));
}

static void zonekey_clear(zonekey *k)
{
    free(k->zone);
    getdns_list_destroy(k->keys);
    memset(k, 0, sizeof(*k));
}

void resolver_zonekeys_free(resolver_zonekeys *z)
{
    unsigned i;

    if (z == NULL)
        return;
    for (i = 0; i < z->n; i++)
        zonekey_clear(&z->e[i]);
    free(z);
}

/* fqdn_lower - a wire-format name as lowercase text without the trailing
 * dot (malloc'd), or NULL */
static char *fqdn_lower(const getdns_bindata *wire)
{
    char *s = NULL;
    size_t n, i;

    if (wire == NULL || getdns_convert_dns_name_to_fqdn(wire, &s) != GETDNS_RETURN_GOOD
        || s == NULL)
        return NULL;
    n = strlen(s);
    if (n > 0 && s[n - 1] == '.')
        s[--n] = '\0';
    for (i = 0; i < n; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    return s;
}

/* label_count - labels of a presentation name, as an RRSIG's labels field
 * counts them (the root and a trailing dot count none) */
static uint32_t label_count(const char *name)
{
    uint32_t n = 0;
    size_t i, len = strlen(name);

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0)
        return 0;
    for (i = 0, n = 1; i < len; i++)
        if (name[i] == '.')
            n++;
    return n;
}

static void zonekeys_remove(resolver_zonekeys *z, unsigned i)
{
    zonekey_clear(&z->e[i]);
    z->e[i] = z->e[--z->n];
    memset(&z->e[z->n], 0, sizeof(z->e[z->n]));
}

getdns_list *resolver_zonekeys_find(resolver_zonekeys *z, const char *owner,
                                    uint64_t now_ms)
{
    getdns_list *best = NULL;
    size_t best_len = 0;
    unsigned i = 0;

    if (z == NULL)
        return NULL;
    while (i < z->n) {
        zonekey *k = &z->e[i];

        if (k->expires_ms <= now_ms) {
            zonekeys_remove(z, i);
            continue;
        }
        if (dance_name_is_under(owner, k->zone)
            && (best == NULL || strlen(k->zone) > best_len)) {
            best = k->keys;
            best_len = strlen(k->zone);
        }
        i++;
    }
    return best;
}

/* tlsa_signer - the signer name of the first RRSIG over a TLSA RRset in
 * the reply's answer section (malloc'd, lowercase), or NULL */
static char *tlsa_signer(getdns_dict *reply)
{
    getdns_list *answer = NULL;
    size_t n = 0, i;

    if (getdns_dict_get_list(reply, "answer", &answer) != GETDNS_RETURN_GOOD)
        return NULL;
    (void)getdns_list_get_length(answer, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        getdns_bindata *signer = NULL;
        uint32_t type = 0, covered = 0;

        if (getdns_list_get_dict(answer, i, &rr) == GETDNS_RETURN_GOOD
            && getdns_dict_get_int(rr, "type", &type) == GETDNS_RETURN_GOOD
            && type == GETDNS_RRTYPE_RRSIG
            && getdns_dict_get_int(rr, "/rdata/type_covered", &covered) == GETDNS_RETURN_GOOD
            && covered == GETDNS_RRTYPE_TLSA
            && getdns_dict_get_bindata(rr, "/rdata/signers_name", &signer)
               == GETDNS_RETURN_GOOD)
            return fqdn_lower(signer);
    }
    return NULL;
}

void resolver_zonekeys_learn(resolver_zonekeys *z, getdns_dict *response,
                             const char *owner, uint32_t now, uint64_t now_ms)
{
    getdns_list *replies = NULL, *chain = NULL, *keys = NULL;
    getdns_dict *reply = NULL;
    char *signer = NULL;
    uint32_t life = ZONEKEYS_MAX_S;
    size_t n = 0, i, nkeys = 0;
    unsigned slot;

    if (z == NULL
        || getdns_dict_get_list(response, "replies_tree", &replies) != GETDNS_RETURN_GOOD
        || getdns_list_get_length(replies, &n) != GETDNS_RETURN_GOOD || n != 1
        || getdns_list_get_dict(replies, 0, &reply) != GETDNS_RETURN_GOOD
        || getdns_dict_get_list(response, "validation_chain", &chain) != GETDNS_RETURN_GOOD)
        return;
    signer = tlsa_signer(reply);
    /* a signer is the apex of a zone the owner is in; anything else is not
     * a key we should hold for this owner */
    if (signer == NULL || !dance_name_is_under(owner, signer))
        goto out;
    keys = getdns_list_create();
    if (keys == NULL)
        goto out;
    (void)getdns_list_get_length(chain, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        getdns_bindata *name = NULL;
        uint32_t type = 0, ttl = 0, covered = 0, expires = 0;

        if (getdns_list_get_dict(chain, i, &rr) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD
            || getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD
            || !resolver_name_equal(name, signer))
            continue;
        if (type == GETDNS_RRTYPE_DNSKEY) {
            if (getdns_dict_get_int(rr, "ttl", &ttl) == GETDNS_RETURN_GOOD && ttl < life)
                life = ttl;
            if (getdns_list_set_dict(keys, nkeys, rr) != GETDNS_RETURN_GOOD)
                goto out;
            nkeys++;
        } else if (type == GETDNS_RRTYPE_RRSIG
                   && getdns_dict_get_int(rr, "/rdata/type_covered", &covered)
                      == GETDNS_RETURN_GOOD
                   && covered == GETDNS_RRTYPE_DNSKEY
                   && getdns_dict_get_int(rr, "/rdata/signature_expiration", &expires)
                      == GETDNS_RETURN_GOOD) {
            /* not past the key set's own signature (serial arithmetic) */
            int32_t left = (int32_t)(expires - now);

            if (left <= 0)
                goto out;
            if ((uint32_t)left < life)
                life = (uint32_t)left;
        }
    }
    if (nkeys == 0 || life == 0)
        goto out;

    /* replace the zone's entry, else a free slot, else the soonest to expire */
    for (slot = 0; slot < z->n; slot++)
        if (strcmp(z->e[slot].zone, signer) == 0)
            break;
    if (slot == z->n && z->n == ZONEKEYS_MAX) {
        unsigned j;

        slot = 0;
        for (j = 1; j < z->n; j++)
            if (z->e[j].expires_ms < z->e[slot].expires_ms)
                slot = j;
    }
    if (slot < z->n) {
        zonekey_clear(&z->e[slot]);
    } else {
        z->n++;
    }
    z->e[slot].zone = signer;
    z->e[slot].keys = keys;
    z->e[slot].expires_ms = now_ms + (uint64_t)life * 1000u;
    return;

out:
    free(signer);
    getdns_list_destroy(keys);
}

int resolver_zonekeys_validate(getdns_list *keys, getdns_dict *response,
                               const char *owner, uint32_t now)
{
    getdns_list *replies = NULL, *answer = NULL, *rrset = NULL, *support = NULL;
    getdns_dict *reply = NULL;
    uint32_t rcode = 0, owner_labels = label_count(owner);
    size_t n = 0, i, tlsa = 0, sigs = 0;
    int secure = 0;

    if (keys == NULL
        || getdns_dict_get_list(response, "replies_tree", &replies) != GETDNS_RETURN_GOOD
        || getdns_list_get_length(replies, &n) != GETDNS_RETURN_GOOD || n != 1
        || getdns_list_get_dict(replies, 0, &reply) != GETDNS_RETURN_GOOD
        || getdns_dict_get_int(reply, "/header/rcode", &rcode) != GETDNS_RETURN_GOOD
        || rcode != GETDNS_RCODE_NOERROR
        || getdns_dict_get_list(reply, "answer", &answer) != GETDNS_RETURN_GOOD)
        return 0;
    rrset = getdns_list_create();
    support = getdns_list_create();
    if (rrset == NULL || support == NULL)
        goto out;
    /* Only the plain case: the TLSA RRset at the owner and its signatures.
     * A CNAME or anything else in the answer goes the full way. */
    (void)getdns_list_get_length(answer, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        getdns_bindata *name = NULL;
        uint32_t type = 0, covered = 0, labels = 0;

        if (getdns_list_get_dict(answer, i, &rr) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD
            || getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD
            || !resolver_name_equal(name, owner))
            goto out;
        if (type == GETDNS_RRTYPE_TLSA) {
            tlsa++;
        } else if (type == GETDNS_RRTYPE_RRSIG
                   && getdns_dict_get_int(rr, "/rdata/type_covered", &covered)
                      == GETDNS_RETURN_GOOD
                   && covered == GETDNS_RRTYPE_TLSA
                   && getdns_dict_get_int(rr, "/rdata/labels", &labels)
                      == GETDNS_RETURN_GOOD
                   && labels == owner_labels) {
            /* A signature with fewer labels than the owner is a wildcard
             * expansion, which is only proven together with the NSEC(3)
             * records saying no closer name exists: the full way. */
            sigs++;
        } else {
            goto out;
        }
        if (getdns_list_set_dict(rrset, i, rr) != GETDNS_RETURN_GOOD)
            goto out;
    }
    if (tlsa == 0 || sigs == 0)
        goto out;
    /* skew 0, as getdns' own validation of the full lookups */
    secure = getdns_validate_dnssec2(rrset, support, keys, (time_t)now, 0)
             == GETDNS_DNSSEC_SECURE;
out:
    getdns_list_destroy(rrset);
    getdns_list_destroy(support);
    return secure;
}
