/*
 * sender.c - resolving and refusing a DNS-named signer, for both verifiers
 * (messages in jws_verify.c, login tokens in token.c; see sender.h): the
 * refusal writer, the refusal for a DNS answer that is not secure, and the
 * fetch of the signer's TLSA answer through the cache or the resolver.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "dance/error.h"
#include "dance/name.h"
#include "sender.h"

dance_status sender_refuse(dance_status *status, char *reason, size_t reasonlen,
                           dance_status st, const char *fmt, ...)
{
    va_list ap;

    *status = st;
    va_start(ap, fmt);
    dance_vset_err(reason, reasonlen, fmt, ap);
    va_end(ap);
    return st;
}

void sender_note(const dance_jws *jws, char *name, dance_jws_alg *alg, bool *has_alg)
{
    const dance_jws_header *h = dance_jws_get_header(jws);

    memcpy(name, h->sender, strlen(h->sender) + 1);
    *alg = h->alg;
    *has_alg = true;
}

dance_status sender_dns_refusal(dance_status *status, char *reason, size_t reasonlen,
                                const char *name, dance_status st, const char *dns_reason)
{
    /* only the refusals a DNS answer can give; a fetch that says anything
     * else (OK included: the caller verifies those) could not ask */
    if (st != DANCE_NO_RECORD && st != DANCE_INSECURE && st != DANCE_BOGUS)
        st = DANCE_LOOKUP_FAILED;
    if (dns_reason != NULL && dns_reason[0] != '\0')
        return sender_refuse(status, reason, reasonlen, st, "%s", dns_reason);
    return sender_refuse(status, reason, reasonlen, st, "TLSA lookup for %s: %s", name,
                         dance_dns_answer_name(st));
}

static void resolver_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    dance_resolver_lookup_tlsa((dance_resolver *)ctx, owner, out);
}

int sender_fetch(const dance_jws_source *src, const char *name, const char *service_label,
                 dance_tlsa_result *out, char *err, size_t errlen)
{
    char owner[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX];

    if (src == NULL || src->resolver == NULL) {
        dance_set_err(err, errlen, "no resolver to look up %s", name);
        return -1;
    }
    if (dance_owner_name(name, service_label, owner, sizeof(owner), why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "no TLSA owner name for %s: %s", name, why);
        return -2;
    }
    if (src->cache != NULL)
        dance_cache_fetch(src->cache, owner, resolver_fetch, src->resolver, out);
    else
        dance_resolver_lookup_tlsa(src->resolver, owner, out);
    return 0;
}

int64_t sender_now(dance_wallclock_fn now, void *ctx)
{
    return now != NULL ? now(ctx) : (int64_t)time(NULL);
}
