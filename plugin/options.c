/*
 * plugin/options.c - parse and validate the plugin's `plugin_opt_*` options.
 *
 * One table lists every option with its kind and bounds; one loop walks the
 * key/value pairs Mosquitto hands over. Every error names the option, the
 * value and what was expected, because the broker refuses to start on it
 * and the log line is all the administrator gets. Nothing here reads files
 * or talks to the network except mdp_plugin_options_check_resolver.
 */
#include "options.h"

#include "dance/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_kind {
    OPT_STRING,         /* non-empty string */
    OPT_UINT,           /* decimal integer within [min, max] */
    OPT_RESOLVER,       /* comma list of IP[@PORT] */
    OPT_TRANSPORT,      /* udp|tcp|tls */
    OPT_DOMAINS,        /* comma list of DNS names */
    OPT_IDSRC,          /* san|username */
    OPT_OWNER,          /* identity|_label */
    OPT_FALLBACK,       /* deny|defer */
    OPT_BOOL,           /* true|false */
    OPT_TOPICS,         /* comma list of MQTT topic filters (may be empty) */
    OPT_PREFIX,         /* topic prefix ending in '/' */
    OPT_ONOFF,          /* on|off (true|false also taken) */
    OPT_AUDIENCE,       /* a token audience: 1-256 printable characters */
    OPT_RATE,           /* RATE/BURST, each within [min, max] */
    OPT_PROFILE,        /* strict|compat */
    OPT_NAMES,          /* comma list of DNS identities (may be empty) */
    OPT_ENCRYPTED,      /* refuse|pass */
    OPT_KIND_COUNT
} opt_kind;

typedef enum opt_id {
    O_RESOLVER, O_TRUST_ANCHOR, O_DNS_TRANSPORT, O_TLS_AUTH_NAME,
    O_LOOKUP_TIMEOUT_MS, O_ALLOWED_DOMAINS, O_IDENTITY_SOURCE, O_TLSA_OWNER,
    O_CAFILE, O_FALLBACK, O_CLIENT_ID_BINDING, O_CONNECT_BUDGET_MS, O_CACHE_SIZE,
    O_MIN_TTL, O_MAX_TTL, O_NEGATIVE_TTL, O_FAILURE_TTL, O_REVALIDATE_INTERVAL,
    O_STATS_INTERVAL, O_WORKER_THREADS, O_QUEUE_SIZE, O_DNS_INFLIGHT, O_IDENTITIES_FILE,
    /* token authentication: every option after O_TOKEN_AUTH up to
     * O_VERIFY_TOPICS belongs to it (cross_check_tokens relies on it) */
    O_TOKEN_AUTH, O_TOKEN_AUDIENCE, O_TOKEN_MAX_LIFETIME,
    O_TOKEN_DISCONNECT_ON_EXPIRY, O_TOKEN_REPLAY_FILE, O_TOKEN_REPLAY_PER_IDENTITY,
    /* message verification: every option from O_VERIFY_TOPICS on belongs
     * to it (cross_check relies on the order) */
    O_VERIFY_TOPICS, O_VERIFIED_PREFIX, O_REJECTED_PREFIX, O_MAX_PAYLOAD,
    O_REQUIRE_IAT, O_MAX_SKEW, O_REPLAY_WINDOW, O_REQUIRE_JTI,
    O_REQUIRE_TOPIC_BINDING, O_MESSAGE_PROFILE, O_VERIFY_THREADS, O_VERIFY_QUEUE_SIZE,
    O_KEY_CACHE_SIZE, O_VERIFY_QUEUE_BYTES, O_SENDER_LOOKUPS_PER_CLIENT,
    O_FORWARDERS, O_FORWARDED_PREFIX, O_REPLAY_CACHE_SIZE, O_ENCRYPTED,
    O_COUNT
} opt_id;

typedef struct opt_def {
    const char *name;
    opt_kind kind;
    unsigned long min, max;     /* OPT_UINT only */
    const char *expected;       /* for the error line */
} opt_def;

#define WEEK 604800ul
#define QUEUE_BYTES_MIN 1048576ul
#define QUEUE_BYTES_MAX 68719476736ul
#define BURST_MAX 100000ul

/* Indexed by opt_id. Bounds keep values sane rather than merely
 * representable: a connect budget of minutes would stall the broker,
 * a zero-thread pool would never answer. */
static const opt_def opt_table[O_COUNT] = {
    [O_RESOLVER] = {"resolver", OPT_RESOLVER, 0, 0,
        "a comma list of IP[@PORT] (e.g. 127.0.0.1@53,::1)"},
    [O_TRUST_ANCHOR] = {"trust_anchor", OPT_STRING, 0, 0,
        "the path of a file with DS or DNSKEY records"},
    [O_DNS_TRANSPORT] = {"dns_transport", OPT_TRANSPORT, 0, 0,
        "udp, tcp or tls"},
    [O_TLS_AUTH_NAME] = {"tls_auth_name", OPT_STRING, 0, 0,
        "the name in the resolver's TLS certificate"},
    [O_LOOKUP_TIMEOUT_MS] = {"lookup_timeout_ms", OPT_UINT, 1, 60000,
        "milliseconds from 1 to 60000"},
    [O_ALLOWED_DOMAINS] = {"allowed_domains", OPT_DOMAINS, 0, 0,
        "a comma list of DNS domain names (e.g. acme.example,other.example)"},
    [O_IDENTITY_SOURCE] = {"identity_source", OPT_IDSRC, 0, 0,
        "san or username"},
    [O_TLSA_OWNER] = {"tlsa_owner", OPT_OWNER, 0, 0,
        "identity or an underscore label such as _mqtt"},
    [O_CAFILE] = {"cafile", OPT_STRING, 0, 0,
        "the path of a PEM file with CA certificates"},
    [O_FALLBACK] = {"fallback", OPT_FALLBACK, 0, 0, "deny or defer"},
    [O_CLIENT_ID_BINDING] = {"client_id_binding", OPT_ONOFF, 0, 0, "on or off"},
    [O_CONNECT_BUDGET_MS] = {"connect_budget_ms", OPT_UINT, 0, 10000,
        "milliseconds from 0 to 10000"},
    [O_CACHE_SIZE] = {"cache_size", OPT_UINT, 1, 10000000,
        "a number of entries from 1 to 10000000"},
    [O_MIN_TTL] = {"min_ttl", OPT_UINT, 0, WEEK,
        "seconds from 0 to 604800"},
    [O_MAX_TTL] = {"max_ttl", OPT_UINT, 1, WEEK,
        "seconds from 1 to 604800"},
    [O_NEGATIVE_TTL] = {"negative_ttl", OPT_UINT, 0, WEEK,
        "seconds from 0 to 604800"},
    [O_FAILURE_TTL] = {"failure_ttl", OPT_UINT, 0, 3600,
        "seconds from 0 to 3600"},
    [O_REVALIDATE_INTERVAL] = {"revalidate_interval", OPT_UINT, 0, 86400,
        "seconds from 0 (off) to 86400"},
    [O_STATS_INTERVAL] = {"stats_interval", OPT_UINT, 0, 86400,
        "seconds from 0 (off) to 86400"},
    [O_WORKER_THREADS] = {"worker_threads", OPT_UINT, 1, 64,
        "a number of threads from 1 to 64"},
    [O_QUEUE_SIZE] = {"queue_size", OPT_UINT, 1, 1000000,
        "a number of jobs from 1 to 1000000"},
    [O_DNS_INFLIGHT] = {"dns_inflight", OPT_UINT, 1, 65536,
        "a number of lookups from 1 to 65536"},
    [O_IDENTITIES_FILE] = {"identities_file", OPT_STRING, 0, 0,
        "the absolute path of a file the broker may create and replace "
        "(e.g. /var/lib/mosquitto/dance-identities)"},
    [O_TOKEN_AUTH] = {"token_auth", OPT_ONOFF, 0, 0, "on or off"},
    [O_TOKEN_AUDIENCE] = {"token_audience", OPT_AUDIENCE, 0, 0,
        "this broker's name for tokens, 1 to 256 printable characters without "
        "spaces (e.g. broker.acme.example)"},
    [O_TOKEN_MAX_LIFETIME] = {"token_max_lifetime", OPT_UINT, 1, 86400,
        "seconds from 1 to 86400"},
    [O_TOKEN_DISCONNECT_ON_EXPIRY] = {"token_disconnect_on_expiry", OPT_ONOFF, 0, 0,
        "on or off"},
    [O_TOKEN_REPLAY_FILE] = {"token_replay_file", OPT_STRING, 0, 0,
        "the absolute path of a file the broker may create and replace "
        "(e.g. /var/lib/mosquitto/dance-jti.db)"},
    [O_TOKEN_REPLAY_PER_IDENTITY] = {"token_replay_per_identity", OPT_UINT, 1,
        MDP_OPT_TOKEN_REPLAY_CAPACITY, "a number of token ids from 1 to 100000"},
    [O_VERIFY_TOPICS] = {"verify_topics", OPT_TOPICS, 0, 0,
        "a comma list of MQTT topic filters (e.g. sensors/#,gw/+/data), or "
        "nothing to switch message verification off"},
    [O_VERIFIED_PREFIX] = {"verified_prefix", OPT_PREFIX, 0, 0,
        "a topic prefix ending in '/' without wildcards (e.g. verified/)"},
    [O_REJECTED_PREFIX] = {"rejected_prefix", OPT_PREFIX, 0, 0,
        "a topic prefix ending in '/' without wildcards (e.g. rejected/)"},
    [O_MAX_PAYLOAD] = {"max_payload", OPT_UINT, 1, 268435455,
        "bytes from 1 to 268435455"},
    [O_REQUIRE_IAT] = {"require_iat", OPT_BOOL, 0, 0, "true or false"},
    [O_MAX_SKEW] = {"max_skew", OPT_UINT, 1, 86400,
        "seconds from 1 to 86400"},
    [O_REPLAY_WINDOW] = {"replay_window", OPT_UINT, 0, 86400,
        "seconds from 0 (off) to 86400"},
    [O_REPLAY_CACHE_SIZE] = {"replay_cache_size", OPT_UINT, 1000, 100000000,
        "a number of messages from 1000 to 100000000"},
    [O_REQUIRE_JTI] = {"require_jti", OPT_BOOL, 0, 0, "true or false"},
    [O_REQUIRE_TOPIC_BINDING] = {"require_topic_binding", OPT_BOOL, 0, 0,
        "true or false"},
    [O_MESSAGE_PROFILE] = {"message_profile", OPT_PROFILE, 0, 0,
        "strict (iat, topic binding and a replay window required) or compat "
        "(for senders that cannot: each check as configured)"},
    [O_VERIFY_THREADS] = {"verify_threads", OPT_UINT, 1, 64,
        "a number of threads from 1 to 64"},
    [O_VERIFY_QUEUE_SIZE] = {"verify_queue_size", OPT_UINT, 1, 1000000,
        "a number of messages from 1 to 1000000"},
    [O_KEY_CACHE_SIZE] = {"key_cache_size", OPT_UINT, 1, 10000000,
        "a number of keys from 1 to 10000000"},
    [O_VERIFY_QUEUE_BYTES] = {"verify_queue_bytes", OPT_UINT, QUEUE_BYTES_MIN,
        QUEUE_BYTES_MAX, "bytes from 1048576 (1 MiB) to 68719476736 (64 GiB)"},
    /* min/max bound the rate; the burst goes up to BURST_MAX */
    [O_SENDER_LOOKUPS_PER_CLIENT] = {"sender_lookups_per_client", OPT_RATE, 1, 1000,
        "RATE/BURST: cold sender lookups per second (1-1000) and at once "
        "(1-100000) per publishing client, e.g. 10/50"},
    [O_FORWARDERS] = {"forwarders", OPT_NAMES, 0, 0,
        "a comma list of the DNS identities of brokers allowed to forward "
        "verified messages (e.g. edge1._broker.acme.example,edge2._broker.acme.example), "
        "or nothing to switch forwarding off"},
    [O_FORWARDED_PREFIX] = {"forwarded_prefix", OPT_PREFIX, 0, 0,
        "a topic prefix ending in '/' without wildcards (e.g. forwarded/)"},
    [O_ENCRYPTED] = {"encrypted", OPT_ENCRYPTED, 0, 0,
        "refuse (encrypted messages on verify_topics are not delivered) or pass "
        "(delivered on their own topics, never verified)"},
};

/* mdp_plugin_option_name - table order, NULL past the end. */
const char *mdp_plugin_option_name(size_t i)
{
    return i < O_COUNT ? opt_table[i].name : NULL;
}

const char *mdp_identity_source_name(mdp_identity_source s)
{
    switch (s) {
    case MDP_IDSRC_SAN: return "san";
    case MDP_IDSRC_USERNAME: return "username";
    case MDP_IDSRC_COUNT: break;
    }
    return "unknown";
}

const char *mdp_fallback_name(mdp_fallback f)
{
    switch (f) {
    case MDP_FALLBACK_DENY: return "deny";
    case MDP_FALLBACK_DEFER: return "defer";
    case MDP_FALLBACK_COUNT: break;
    }
    return "unknown";
}

const char *mdp_message_profile_name(mdp_message_profile m)
{
    switch (m) {
    case MDP_PROFILE_STRICT: return "strict";
    case MDP_PROFILE_COMPAT: return "compat";
    case MDP_PROFILE_COUNT: break;
    }
    return "unknown";
}

/* bad_value - the one error format for a value that does not fit. */
static int bad_value(const opt_def *d, const char *value, const char *why,
                     char *err, size_t errlen)
{
    if (why != NULL && why[0] != '\0')
        dance_set_err(err, errlen, "plugin_opt_%s '%s': expected %s (%s)",
                      d->name, value, d->expected, why);
    else
        dance_set_err(err, errlen, "plugin_opt_%s '%s': expected %s",
                      d->name, value, d->expected);
    return -1;
}

/* parse_uint - strictly decimal digits, no sign, no spaces, no overflow. */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    unsigned long v = 0;

    if (s[0] == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if ((unsigned long)(*p - '0') > max ||
            v > (max - (unsigned long)(*p - '0')) / 10)
            return -1;          /* above max (and so no overflow either) */
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* trim_copy - copy [s, s+n) without surrounding blanks into buf. */
static void trim_copy(const char *s, size_t n, char *buf, size_t buflen)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

/* check_upstream - one "IP[@PORT]" item. getdns takes the same syntax;
 * checking it here lets the error name the option and the item. */
static int check_upstream(const char *item, char *why, size_t whylen)
{
    char addr[64];
    const char *at = strrchr(item, '@');
    size_t alen = at != NULL ? (size_t)(at - item) : strlen(item);
    unsigned char buf[16];
    unsigned long port;

    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(why, whylen, "'%s' has no address", item);
        return -1;
    }
    memcpy(addr, item, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1) {
        snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    if (at != NULL && parse_uint(at + 1, 1, 65535, &port) != 0) {
        snprintf(why, whylen, "'%s' is not a port from 1 to 65535", at + 1);
        return -1;
    }
    return 0;
}

static int check_resolver_list(const char *value, char *why, size_t whylen)
{
    const char *p = value;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char item[128];

        if (n >= sizeof(item)) {
            snprintf(why, whylen, "an item is too long");
            return -1;
        }
        trim_copy(p, n, item, sizeof(item));
        if (item[0] == '\0') {
            snprintf(why, whylen, "empty item");
            return -1;
        }
        if (check_upstream(item, why, whylen) != 0)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* check_owner_label - "_" followed by letters, digits, hyphens; one label. */
static int check_owner_label(const char *v)
{
    size_t n = strlen(v);

    if (n < 2 || n > DANCE_LABEL_MAX || v[0] != '_')
        return -1;
    for (size_t i = 1; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return -1;
    }
    return 0;
}

static int set_string(char **slot, const char *value)
{
    char *s = strdup(value);

    if (s == NULL)
        return -1;
    free(*slot);
    *slot = s;
    return 0;
}

static void set_defaults(mdp_plugin_config *c)
{
    memset(c, 0, sizeof(*c));
    c->dns_transport = DANCE_TRANSPORT_UDP;
    c->lookup_timeout_ms = MDP_OPT_DEFAULT_LOOKUP_TIMEOUT_MS;
    c->identity_source = MDP_IDSRC_SAN;
    c->fallback = MDP_FALLBACK_DENY;
    c->client_id_binding = true;
    c->connect_budget_ms = MDP_OPT_DEFAULT_CONNECT_BUDGET_MS;
    c->cache_size = MDP_OPT_DEFAULT_CACHE_SIZE;
    c->min_ttl = MDP_OPT_DEFAULT_MIN_TTL;
    c->max_ttl = MDP_OPT_DEFAULT_MAX_TTL;
    c->negative_ttl = MDP_OPT_DEFAULT_NEGATIVE_TTL;
    c->failure_ttl = MDP_OPT_DEFAULT_FAILURE_TTL;
    c->revalidate_interval = MDP_OPT_DEFAULT_REVALIDATE_INTERVAL;
    c->stats_interval = MDP_OPT_DEFAULT_STATS_INTERVAL;
    c->worker_threads = MDP_OPT_DEFAULT_WORKER_THREADS;
    c->queue_size = MDP_OPT_DEFAULT_QUEUE_SIZE;
    c->dns_inflight = MDP_OPT_DEFAULT_DNS_INFLIGHT;
    c->max_payload = MDP_OPT_DEFAULT_MAX_PAYLOAD;
    c->max_skew = MDP_OPT_DEFAULT_MAX_SKEW;
    /* strict profile; compat and the replay window's default are settled
     * in cross_check_messages, once max_skew and the profile are known */
    c->message_profile = MDP_PROFILE_STRICT;
    c->require_iat = true;
    c->require_topic_binding = true;
    c->verify_threads = MDP_OPT_DEFAULT_VERIFY_THREADS;
    c->verify_queue_size = MDP_OPT_DEFAULT_VERIFY_QUEUE_SIZE;
    c->key_cache_size = MDP_OPT_DEFAULT_KEY_CACHE_SIZE;
    c->replay_cache_size = MDP_OPT_DEFAULT_REPLAY_CACHE_SIZE;
    c->verify_queue_bytes = MDP_OPT_DEFAULT_VERIFY_QUEUE_BYTES;
    c->sender_lookup_rate = MDP_OPT_DEFAULT_SENDER_LOOKUP_RATE;
    c->sender_lookup_burst = MDP_OPT_DEFAULT_SENDER_LOOKUP_BURST;
    c->token_max_lifetime = MDP_OPT_DEFAULT_TOKEN_MAX_LIFETIME;
    c->token_replay_per_identity = MDP_OPT_DEFAULT_TOKEN_REPLAY_PER_IDENTITY;
}

/* store_uint - put an already range-checked number where it belongs. */
static void store_uint(mdp_plugin_config *c, opt_id id, unsigned long v)
{
    switch (id) {
    case O_LOOKUP_TIMEOUT_MS: c->lookup_timeout_ms = (unsigned)v; break;
    case O_CONNECT_BUDGET_MS: c->connect_budget_ms = (unsigned)v; break;
    case O_CACHE_SIZE: c->cache_size = (size_t)v; break;
    case O_MIN_TTL: c->min_ttl = (uint32_t)v; break;
    case O_MAX_TTL: c->max_ttl = (uint32_t)v; break;
    case O_NEGATIVE_TTL: c->negative_ttl = (uint32_t)v; break;
    case O_FAILURE_TTL: c->failure_ttl = (uint32_t)v; break;
    case O_REVALIDATE_INTERVAL: c->revalidate_interval = (unsigned)v; break;
    case O_STATS_INTERVAL: c->stats_interval = (unsigned)v; break;
    case O_WORKER_THREADS: c->worker_threads = (unsigned)v; break;
    case O_QUEUE_SIZE: c->queue_size = (size_t)v; break;
    case O_DNS_INFLIGHT: c->dns_inflight = (unsigned)v; break;
    case O_MAX_PAYLOAD: c->max_payload = (size_t)v; break;
    case O_MAX_SKEW: c->max_skew = (uint32_t)v; break;
    case O_REPLAY_WINDOW: c->replay_window = (uint32_t)v; break;
    case O_VERIFY_THREADS: c->verify_threads = (unsigned)v; break;
    case O_VERIFY_QUEUE_SIZE: c->verify_queue_size = (size_t)v; break;
    case O_KEY_CACHE_SIZE: c->key_cache_size = (size_t)v; break;
    case O_REPLAY_CACHE_SIZE: c->replay_cache_size = (size_t)v; break;
    case O_VERIFY_QUEUE_BYTES: c->verify_queue_bytes = (size_t)v; break;
    case O_TOKEN_MAX_LIFETIME: c->token_max_lifetime = (uint32_t)v; break;
    case O_TOKEN_REPLAY_PER_IDENTITY: c->token_replay_per_identity = (size_t)v; break;
    default: break;
    }
}

/* The apply_ steps: validate one value of their option kind and store it.
 * 0, or -1 with the error line in err (bad_value, or out_of_memory). */

static int out_of_memory(const opt_def *d, char *err, size_t errlen)
{
    dance_set_err(err, errlen, "plugin_opt_%s: out of memory", d->name);
    return -1;
}

/* set_checked - store value in *slot, naming the option when memory is
 * short. */
static int set_checked(const opt_def *d, char **slot, const char *value,
                       char *err, size_t errlen)
{
    return set_string(slot, value) != 0 ? out_of_memory(d, err, errlen) : 0;
}

/* parse_word - the index of value in words (n of them), or -1. */
static int parse_word(const char *value, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(value, words[i]) == 0)
            return i;
    return -1;
}

static int apply_uint(mdp_plugin_config *c, const opt_def *d, opt_id id,
                      const char *value, char *err, size_t errlen)
{
    unsigned long v;

    if (parse_uint(value, d->min, d->max, &v) != 0)
        return bad_value(d, value, NULL, err, errlen);
    store_uint(c, id, v);
    return 0;
}

static int apply_string(mdp_plugin_config *c, const opt_def *d, opt_id id,
                        const char *value, char *err, size_t errlen)
{
    char **slot = id == O_TRUST_ANCHOR ? &c->trust_anchor
                : id == O_TLS_AUTH_NAME ? &c->tls_auth_name
                : id == O_TOKEN_REPLAY_FILE ? &c->token_replay_file
                : id == O_IDENTITIES_FILE ? &c->identities_file
                : &c->cafile;

    if (value[0] == '\0')
        return bad_value(d, value, NULL, err, errlen);
    /* Mosquitto may run as a daemon from another directory */
    if ((id == O_TOKEN_REPLAY_FILE || id == O_IDENTITIES_FILE) && value[0] != '/')
        return bad_value(d, value, NULL, err, errlen);
    return set_checked(d, slot, value, err, errlen);
}

static int apply_resolver(mdp_plugin_config *c, const opt_def *d,
                          const char *value, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];

    why[0] = '\0';
    if (check_resolver_list(value, why, sizeof(why)) != 0)
        return bad_value(d, value, why, err, errlen);
    return set_checked(d, &c->resolver, value, err, errlen);
}

static int apply_domains(mdp_plugin_config *c, const opt_def *d,
                         const char *value, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];
    dance_allowlist *al;

    why[0] = '\0';
    al = dance_allowlist_parse(value, why, sizeof(why));
    if (al == NULL)
        return bad_value(d, value, why, err, errlen);
    dance_allowlist_free(c->allowlist);
    c->allowlist = al;
    return set_checked(d, &c->allowed_domains, value, err, errlen);
}

static int apply_owner(mdp_plugin_config *c, const opt_def *d,
                       const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "identity") == 0) {
        free(c->tlsa_owner_label);
        c->tlsa_owner_label = NULL;
        return 0;
    }
    if (check_owner_label(value) != 0)
        return bad_value(d, value, NULL, err, errlen);
    return set_checked(d, &c->tlsa_owner_label, value, err, errlen);
}

/* apply_choice - the keyword kinds: identity source, fallback, message
 * profile, encrypted, the true|false and on|off switches. */
static int apply_choice(mdp_plugin_config *c, const opt_def *d, opt_id id,
                        const char *value, char *err, size_t errlen)
{
    static const char *const idsrc[] = {"san", "username"};
    static const char *const fallback[] = {"deny", "defer"};
    static const char *const profile[] = {"strict", "compat"};
    static const char *const encrypted[] = {"refuse", "pass"};
    static const char *const boolean[] = {"false", "true"};
    static const char *const onoff[] = {"off", "on", "false", "true"};
    int w;

    switch (d->kind) {
    case OPT_IDSRC:
        if ((w = parse_word(value, idsrc, 2)) < 0)
            break;
        c->identity_source = w == 0 ? MDP_IDSRC_SAN : MDP_IDSRC_USERNAME;
        return 0;
    case OPT_FALLBACK:
        if ((w = parse_word(value, fallback, 2)) < 0)
            break;
        c->fallback = w == 0 ? MDP_FALLBACK_DENY : MDP_FALLBACK_DEFER;
        return 0;
    case OPT_PROFILE:
        if ((w = parse_word(value, profile, 2)) < 0)
            break;
        c->message_profile = w == 0 ? MDP_PROFILE_STRICT : MDP_PROFILE_COMPAT;
        return 0;
    case OPT_ENCRYPTED:
        if ((w = parse_word(value, encrypted, 2)) < 0)
            break;
        c->encrypted_pass = w == 1;
        return 0;
    case OPT_BOOL:
        if ((w = parse_word(value, boolean, 2)) < 0)
            break;
        if (id == O_REQUIRE_IAT)
            c->require_iat = w == 1;
        else if (id == O_REQUIRE_JTI)
            c->require_jti = w == 1;
        else
            c->require_topic_binding = w == 1;
        return 0;
    case OPT_ONOFF:
        if ((w = parse_word(value, onoff, 4)) < 0)
            break;
        if (id == O_TOKEN_AUTH)
            c->token_auth = w % 2 == 1;
        else if (id == O_CLIENT_ID_BINDING)
            c->client_id_binding = w % 2 == 1;
        else
            c->token_disconnect_on_expiry = w % 2 == 1;
        return 0;
    default:
        break;
    }
    return bad_value(d, value, NULL, err, errlen);
}

static int apply_topics(mdp_plugin_config *c, const opt_def *d,
                        const char *value, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];
    mdp_topics *t;

    why[0] = '\0';
    t = mdp_topics_parse(value, why, sizeof(why));
    if (t == NULL)
        return bad_value(d, value, why, err, errlen);
    mdp_topics_free(c->topics);
    c->topics = t;
    return set_checked(d, &c->verify_topics, value, err, errlen);
}

static int apply_prefix(mdp_plugin_config *c, const opt_def *d, opt_id id,
                        const char *value, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];

    why[0] = '\0';
    if (mdp_topic_prefix_check(value, why, sizeof(why)) != 0)
        return bad_value(d, value, why, err, errlen);
    return set_checked(d, id == O_VERIFIED_PREFIX ? &c->verified_prefix
                        : id == O_FORWARDED_PREFIX ? &c->forwarded_prefix
                        : &c->rejected_prefix,
                       value, err, errlen);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* name_item - the identity in [b, e) without surrounding blanks,
 * normalised into norm (DANCE_NAME_MAX + 1 bytes). 0, or -1 with a reason
 * in why. */
static int name_item(const char *b, const char *e, char *norm, char *why, size_t whylen)
{
    char item[DANCE_NAME_MAX + 2];      /* one trailing dot allowed */

    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (b == e) {
        snprintf(why, whylen, "empty item");
        return -1;
    }
    if ((size_t)(e - b) >= sizeof(item)) {
        snprintf(why, whylen, "a name is longer than %d bytes", DANCE_NAME_MAX);
        return -1;
    }
    memcpy(item, b, (size_t)(e - b));
    item[e - b] = '\0';
    why[0] = '\0';
    if (dance_name_normalize(item, norm, DANCE_NAME_MAX + 1, why, whylen) != 0) {
        if (why[0] == '\0')
            snprintf(why, whylen, "not a DNS name");
        return -1;
    }
    return 0;
}

/* apply_names - a comma list of identities, each normalised (lowercase, no
 * trailing dot) so that it compares with the identities clients
 * authenticate as; blanks around items ignored, a blank list is empty. */
static int apply_names(mdp_plugin_config *c, const opt_def *d,
                       const char *value, char *err, size_t errlen)
{
    char **names = NULL;
    size_t count = 0, items = 1;
    const char *p;

    for (p = value; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p != '\0') {
        for (p = value; *p != '\0'; p++)
            items += *p == ',';
        if ((names = calloc(items, sizeof(*names))) == NULL)
            return out_of_memory(d, err, errlen);
        for (p = value;;) {
            const char *comma = strchr(p, ',');
            char norm[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX];

            if (name_item(p, comma != NULL ? comma : p + strlen(p), norm, why,
                          sizeof(why)) != 0) {
                free_names(names, count);
                return bad_value(d, value, why, err, errlen);
            }
            if ((names[count] = strdup(norm)) == NULL) {
                free_names(names, count);
                return out_of_memory(d, err, errlen);
            }
            count++;
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    if (set_checked(d, &c->forwarders, value, err, errlen) != 0) {
        free_names(names, count);
        return -1;
    }
    free_names(c->forwarder_names, c->forwarder_count);
    c->forwarder_names = names;
    c->forwarder_count = count;
    return 0;
}

/* apply_audience - compared byte for byte with the tokens' aud: keep it
 * to something that cannot hide a difference in a log line */
static int apply_audience(mdp_plugin_config *c, const opt_def *d,
                          const char *value, char *err, size_t errlen)
{
    size_t n = strlen(value);

    if (n == 0 || n > 256)
        return bad_value(d, value, NULL, err, errlen);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] <= ' ' || (unsigned char)value[i] >= 0x7f)
            return bad_value(d, value, NULL, err, errlen);
    return set_checked(d, &c->token_audience, value, err, errlen);
}

/* apply_rate - "RATE/BURST": two strict decimals around one slash */
static int apply_rate(mdp_plugin_config *c, const opt_def *d,
                      const char *value, char *err, size_t errlen)
{
    const char *slash = strchr(value, '/');
    unsigned long rate, burst;
    char num[16];
    size_t n = slash != NULL ? (size_t)(slash - value) : 0;

    if (slash == NULL || n == 0 || n >= sizeof(num))
        return bad_value(d, value, NULL, err, errlen);
    memcpy(num, value, n);
    num[n] = '\0';
    if (parse_uint(num, d->min, d->max, &rate) != 0 ||
        parse_uint(slash + 1, 1, BURST_MAX, &burst) != 0)
        return bad_value(d, value, NULL, err, errlen);
    c->sender_lookup_rate = (unsigned)rate;
    c->sender_lookup_burst = (unsigned)burst;
    return 0;
}

/* apply - validate one value for option id and store it: the step for
 * its kind. */
static int apply(mdp_plugin_config *c, opt_id id, const char *value,
                 char *err, size_t errlen)
{
    const opt_def *d = &opt_table[id];

    switch (d->kind) {
    case OPT_UINT: return apply_uint(c, d, id, value, err, errlen);
    case OPT_STRING: return apply_string(c, d, id, value, err, errlen);
    case OPT_RESOLVER: return apply_resolver(c, d, value, err, errlen);
    case OPT_TRANSPORT:
        if (dance_dns_transport_parse(value, &c->dns_transport) != 0)
            return bad_value(d, value, NULL, err, errlen);
        return 0;
    case OPT_DOMAINS: return apply_domains(c, d, value, err, errlen);
    case OPT_OWNER: return apply_owner(c, d, value, err, errlen);
    case OPT_IDSRC:
    case OPT_FALLBACK:
    case OPT_BOOL:
    case OPT_ONOFF:
    case OPT_PROFILE:
    case OPT_ENCRYPTED: return apply_choice(c, d, id, value, err, errlen);
    case OPT_TOPICS: return apply_topics(c, d, value, err, errlen);
    case OPT_PREFIX: return apply_prefix(c, d, id, value, err, errlen);
    case OPT_AUDIENCE: return apply_audience(c, d, value, err, errlen);
    case OPT_RATE: return apply_rate(c, d, value, err, errlen);
    case OPT_NAMES: return apply_names(c, d, value, err, errlen);
    case OPT_KIND_COUNT: break;
    }
    dance_set_err(err, errlen, "plugin_opt_%s: internal error (unknown kind)", d->name);
    return -1;
}

static void list_known(char *buf, size_t buflen)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < O_COUNT && off < buflen; i++) {
        int n = snprintf(buf + off, buflen - off, "%s%s", i ? ", " : "",
                         opt_table[i].name);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

/* starts_with - whether s begins with prefix. */
static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* message_profile_check - settle the profile's defaults and refuse what
 * strict does not allow. Strict: iat and topic binding required, a replay
 * window of MDP_OPT_DEFAULT_REPLAY_WINDOW or 2 x max_skew, whichever is
 * more, unless given; weakening any of them needs compat, so that the one
 * switch (and its warning at start) is where the holes are. Compat: what
 * is not given is off (today's prototype behaviour). */
static int message_profile_check(mdp_plugin_config *c, const bool *seen,
                                 char *err, size_t errlen)
{
    if (c->message_profile == MDP_PROFILE_COMPAT) {
        if (!seen[O_REQUIRE_IAT])
            c->require_iat = false;
        if (!seen[O_REQUIRE_TOPIC_BINDING])
            c->require_topic_binding = false;
        if (!seen[O_REPLAY_WINDOW])
            c->replay_window = 0;
        return 0;
    }
    if (!seen[O_REPLAY_WINDOW]) {
        uint64_t w = 2 * (uint64_t)c->max_skew;
        c->replay_window = w > MDP_OPT_DEFAULT_REPLAY_WINDOW
                         ? (uint32_t)w : MDP_OPT_DEFAULT_REPLAY_WINDOW;
    }
    /* a blank verify_topics (verification off) may keep the other options */
    if (!mdp_plugin_config_verifying(c))
        return 0;
    if (!c->require_iat) {
        dance_set_err(err, errlen, "plugin_opt_require_iat 'false': refused by "
                      "plugin_opt_message_profile strict (the default): without iat a "
                      "captured message is accepted again once it has left the replay "
                      "cache; sign messages with iat (dance sign does by default), or set "
                      "plugin_opt_message_profile compat for senders that cannot");
        return -1;
    }
    if (!c->require_topic_binding) {
        dance_set_err(err, errlen, "plugin_opt_require_topic_binding 'false': refused by "
                      "plugin_opt_message_profile strict (the default): a message without "
                      "a topic header can be republished on any topic; sign messages with "
                      "their topic (dance sign --topic), or set plugin_opt_message_profile "
                      "compat for senders that cannot");
        return -1;
    }
    if (c->replay_window == 0) {
        dance_set_err(err, errlen, "plugin_opt_replay_window '0': refused by "
                      "plugin_opt_message_profile strict (the default): without a replay "
                      "cache every copy of a signed message is verified again (a QoS 2 "
                      "resend, a replay); give a window of at least twice "
                      "plugin_opt_max_skew (%u s), or set plugin_opt_message_profile "
                      "compat", (unsigned)c->max_skew);
        return -1;
    }
    return 0;
}

/* trees_overlap - neither prefix contains the other. */
static bool trees_overlap(const char *a, const char *b)
{
    return starts_with(a, b) || starts_with(b, a);
}

/* cross_check_forwarding - forwarders and forwarded_prefix. The forwarded
 * tree is where copies arrive to be verified again, so it must not overlap
 * a tree the plugin publishes in (a verified copy would come back as a
 * forwarded one) nor verify_topics (a copy would also be verified as a
 * direct message on the wrong topic). */
static int cross_check_forwarding(mdp_plugin_config *c, const bool *seen,
                                  char *err, size_t errlen)
{
    const char *filter;

    if (c->forwarder_count > 0 && !mdp_plugin_config_verifying(c)) {
        dance_set_err(err, errlen, "plugin_opt_forwarders '%s': expected message "
                      "verification on too (plugin_opt_verify_topics is empty), since "
                      "forwarded copies are verified again", c->forwarders);
        return -1;
    }
    if (c->forwarder_count == 0) {
        if (seen[O_FORWARDED_PREFIX]) {
            dance_set_err(err, errlen, "plugin_opt_forwarded_prefix is set but "
                          "plugin_opt_forwarders %s, so nothing would be forwarded; add "
                          "plugin_opt_forwarders (the identities of the brokers that "
                          "forward, e.g. edge1._broker.acme.example), or remove "
                          "plugin_opt_forwarded_prefix", seen[O_FORWARDERS]
                          ? "is empty" : "is not");
            return -1;
        }
        return 0;
    }
    if (c->forwarded_prefix == NULL &&
        set_string(&c->forwarded_prefix, MDP_OPT_DEFAULT_FORWARDED_PREFIX) != 0) {
        dance_set_err(err, errlen, "plugin_opt_forwarded_prefix: out of memory");
        return -1;
    }
    if (trees_overlap(c->forwarded_prefix, c->verified_prefix) ||
        (c->rejected_prefix != NULL &&
         trees_overlap(c->forwarded_prefix, c->rejected_prefix))) {
        dance_set_err(err, errlen, "plugin_opt_forwarded_prefix '%s': expected a topic "
                      "tree apart from plugin_opt_verified_prefix '%s'%s%s%s (neither may "
                      "contain the other, or the plugin's own copies would arrive as "
                      "forwarded ones)", c->forwarded_prefix, c->verified_prefix,
                      c->rejected_prefix ? " and plugin_opt_rejected_prefix '" : "",
                      c->rejected_prefix ? c->rejected_prefix : "",
                      c->rejected_prefix ? "'" : "");
        return -1;
    }
    if ((filter = mdp_topics_overlap_prefix(c->topics, c->forwarded_prefix)) != NULL) {
        dance_set_err(err, errlen, "plugin_opt_forwarded_prefix '%s': expected a topic "
                      "tree apart from plugin_opt_verify_topics, but its filter '%.200s' "
                      "matches topics in it (forwarded copies are verified on the topic "
                      "below the prefix; narrow the filter, e.g. devices/# rather than #)",
                      c->forwarded_prefix, filter);
        return -1;
    }
    for (size_t i = 0; i < c->forwarder_count; i++)
        if (!dance_allowlist_match(c->allowlist, c->forwarder_names[i])) {
            dance_set_err(err, errlen, "plugin_opt_forwarders '%s': expected identities "
                          "under plugin_opt_allowed_domains '%s', but %s is not (it could "
                          "never authenticate)", c->forwarders, c->allowed_domains,
                          c->forwarder_names[i]);
            return -1;
        }
    if (c->replay_window == 0) {
        dance_set_err(err, errlen, "plugin_opt_forwarders '%s': expected "
                      "plugin_opt_replay_window too (a message that reaches this broker "
                      "through two forwarders, or directly and forwarded, is delivered "
                      "once only thanks to the replay cache)", c->forwarders);
        return -1;
    }
    return 0;
}

/* cross_check_messages - the message verification options. They need
 * verify_topics, so that a configuration that forgot it does not look
 * like it verifies anything. (An empty verify_topics, which Mosquitto's
 * own configuration parser never passes on, also switches verification
 * off.) */
static int cross_check_messages(mdp_plugin_config *c, const bool *seen,
                                char *err, size_t errlen)
{
    if (!seen[O_VERIFY_TOPICS]) {
        for (size_t id = O_VERIFY_TOPICS + 1; id < O_COUNT; id++)
            if (seen[id]) {
                dance_set_err(err, errlen, "plugin_opt_%s is set but "
                              "plugin_opt_verify_topics is not, so no message would be "
                              "verified; add plugin_opt_verify_topics (the topic filters "
                              "to verify, e.g. sensors/#), or remove the message "
                              "verification options", opt_table[id].name);
                return -1;
            }
    }
    if (c->verified_prefix == NULL &&
        set_string(&c->verified_prefix, MDP_OPT_DEFAULT_VERIFIED_PREFIX) != 0) {
        dance_set_err(err, errlen, "plugin_opt_verified_prefix: out of memory");
        return -1;
    }
    if (c->rejected_prefix != NULL &&
        (starts_with(c->rejected_prefix, c->verified_prefix) ||
         starts_with(c->verified_prefix, c->rejected_prefix))) {
        dance_set_err(err, errlen, "plugin_opt_rejected_prefix '%s': expected a topic "
                      "tree apart from plugin_opt_verified_prefix '%s' (neither may "
                      "contain the other, or diagnostics would pass for verified "
                      "messages)", c->rejected_prefix, c->verified_prefix);
        return -1;
    }
    /* One message of max_payload must fit (twice the payload, the topic,
     * overhead: 4 x max_payload, or 1 MiB, covers it); the default grows
     * with a large max_payload rather than refuse a configuration that
     * never named the byte bound. */
    {
        size_t need = c->max_payload > QUEUE_BYTES_MIN / 4 ? 4 * c->max_payload
                                                           : QUEUE_BYTES_MIN;
        if (c->verify_queue_bytes < need) {
            if (seen[O_VERIFY_QUEUE_BYTES]) {
                dance_set_err(err, errlen, "plugin_opt_verify_queue_bytes '%zu': "
                              "expected at least %zu (4 x plugin_opt_max_payload %zu, "
                              "so that a message of the largest size fits)",
                              c->verify_queue_bytes, need, c->max_payload);
                return -1;
            }
            c->verify_queue_bytes = need;
        }
    }
    if (message_profile_check(c, seen, err, errlen) != 0)
        return -1;
    if (seen[O_REPLAY_CACHE_SIZE] && c->replay_window == 0) {
        dance_set_err(err, errlen, "plugin_opt_replay_cache_size is set but "
                      "plugin_opt_replay_window is 0, so there is no replay cache; set "
                      "plugin_opt_replay_window, or remove plugin_opt_replay_cache_size");
        return -1;
    }
    if (c->require_jti && c->replay_window == 0) {
        dance_set_err(err, errlen, "plugin_opt_require_jti 'true': expected "
                      "plugin_opt_replay_window too (message ids are only checked "
                      "against a replay cache)");
        return -1;
    }
    if (c->require_jti && !c->require_iat) {
        dance_set_err(err, errlen, "plugin_opt_require_jti 'true': expected "
                      "plugin_opt_require_iat true too (a jti leaves the replay cache "
                      "after plugin_opt_replay_window %u s, and a message without iat "
                      "would then be accepted again)", (unsigned)c->replay_window);
        return -1;
    }
    if (cross_check_forwarding(c, seen, err, errlen) != 0)
        return -1;
    if (c->require_iat && c->replay_window > 0 &&
        (uint64_t)c->replay_window < 2 * (uint64_t)c->max_skew) {
        dance_set_err(err, errlen, "plugin_opt_replay_window '%u': expected at least "
                      "twice plugin_opt_max_skew (%u s), so that a message that has left "
                      "the replay cache is too old to pass its iat check%s",
                      (unsigned)c->replay_window, (unsigned)c->max_skew,
                      c->message_profile == MDP_PROFILE_STRICT
                      ? "" : " (with plugin_opt_require_iat true)");
        return -1;
    }
    return 0;
}

/* cross_check_tokens - token_audience is required with token_auth on (a
 * token for any broker must not be good here), and the other token options
 * without token_auth on would look like they do something. */
static int cross_check_tokens(const mdp_plugin_config *c, const bool *seen,
                              char *err, size_t errlen)
{
    if (c->token_auth && c->token_audience == NULL) {
        dance_set_err(err, errlen, "plugin_opt_token_audience is required with "
                      "plugin_opt_token_auth on: the name tokens must carry in their aud "
                      "claim (e.g. plugin_opt_token_audience broker.acme.example)");
        return -1;
    }
    if (!c->token_auth) {
        for (size_t id = O_TOKEN_AUTH + 1; id < O_VERIFY_TOPICS; id++)
            if (seen[id]) {
                dance_set_err(err, errlen, "plugin_opt_%s is set but plugin_opt_token_auth "
                              "is not on, so no token would be accepted; add "
                              "plugin_opt_token_auth on, or remove the token options",
                              opt_table[id].name);
                return -1;
            }
    }
    return 0;
}

/* cross_check - rules between options, after every value is in. */
static int cross_check(mdp_plugin_config *c, const bool *seen,
                       const char *min_ttl_value, char *err, size_t errlen)
{
    if (c->allowlist == NULL) {
        dance_set_err(err, errlen, "plugin_opt_allowed_domains is required: the "
                      "comma list of domains whose names may be looked up "
                      "(e.g. plugin_opt_allowed_domains acme.example)");
        return -1;
    }
    if (c->min_ttl > c->max_ttl) {
        dance_set_err(err, errlen, "plugin_opt_min_ttl '%s': expected at most "
                      "plugin_opt_max_ttl (%u)", min_ttl_value, (unsigned)c->max_ttl);
        return -1;
    }
    if (c->dns_transport == DANCE_TRANSPORT_TLS && c->tls_auth_name == NULL) {
        dance_set_err(err, errlen, "plugin_opt_dns_transport 'tls': expected "
                      "plugin_opt_tls_auth_name too (the name the resolver's "
                      "certificate must carry)");
        return -1;
    }
    if (c->dns_transport == DANCE_TRANSPORT_TLS && c->resolver == NULL) {
        dance_set_err(err, errlen, "plugin_opt_dns_transport 'tls': expected "
                      "plugin_opt_resolver too (DNS over TLS needs an explicit "
                      "resolver address)");
        return -1;
    }
    if (c->dns_transport != DANCE_TRANSPORT_TLS && c->tls_auth_name != NULL) {
        dance_set_err(err, errlen, "plugin_opt_tls_auth_name '%s': only used with "
                      "plugin_opt_dns_transport tls", c->tls_auth_name);
        return -1;
    }
    if (cross_check_tokens(c, seen, err, errlen) != 0)
        return -1;
    return cross_check_messages(c, seen, err, errlen);
}

/* mdp_plugin_options_parse - see options.h. */
int mdp_plugin_options_parse(const mdp_plugin_opt *opts, size_t count,
                               mdp_plugin_config *out,
                               char *err, size_t errlen)
{
    bool seen[O_COUNT] = {false};
    const char *min_ttl_value = "";

    set_defaults(out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    for (size_t i = 0; i < count; i++) {
        const char *key = opts[i].key != NULL ? opts[i].key : "";
        const char *value = opts[i].value != NULL ? opts[i].value : "";
        size_t id;

        for (id = 0; id < O_COUNT; id++)
            if (strcmp(key, opt_table[id].name) == 0)
                break;
        if (id == O_COUNT) {
            char known[MDP_OPT_ERR_MAX];
            list_known(known, sizeof(known));
            dance_set_err(err, errlen, "plugin_opt_%s '%s': unknown option "
                          "(known: %s)", key, value, known);
            return -1;
        }
        if (seen[id]) {
            dance_set_err(err, errlen, "plugin_opt_%s '%s': given twice; expected "
                          "each option once", key, value);
            return -1;
        }
        seen[id] = true;
        if (id == O_MIN_TTL)
            min_ttl_value = value;
        if (apply(out, (opt_id)id, value, err, errlen) != 0)
            return -1;
    }
    return cross_check(out, seen, min_ttl_value, err, errlen);
}

void mdp_plugin_config_clear(mdp_plugin_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->resolver);
    free(cfg->trust_anchor);
    free(cfg->tls_auth_name);
    free(cfg->allowed_domains);
    dance_allowlist_free(cfg->allowlist);
    free(cfg->tlsa_owner_label);
    free(cfg->cafile);
    free(cfg->verify_topics);
    mdp_topics_free(cfg->topics);
    free(cfg->verified_prefix);
    free(cfg->rejected_prefix);
    free(cfg->forwarders);
    free_names(cfg->forwarder_names, cfg->forwarder_count);
    free(cfg->forwarded_prefix);
    free(cfg->token_audience);
    free(cfg->token_replay_file);
    free(cfg->identities_file);
    memset(cfg, 0, sizeof(*cfg));
}

bool mdp_plugin_config_forwarder(const mdp_plugin_config *cfg, const char *identity)
{
    if (identity == NULL)
        return false;
    for (size_t i = 0; i < cfg->forwarder_count; i++)
        if (strcmp(cfg->forwarder_names[i], identity) == 0)
            return true;
    return false;
}

bool mdp_plugin_config_verifying(const mdp_plugin_config *cfg)
{
    return mdp_topics_count(cfg->topics) > 0;
}

void mdp_plugin_config_resolver(const mdp_plugin_config *cfg,
                                  dance_resolver_config *out)
{
    memset(out, 0, sizeof(*out));
    out->upstreams = cfg->resolver;
    out->trust_anchor_file = cfg->trust_anchor;
    out->timeout_ms = cfg->lookup_timeout_ms;
    out->transport = cfg->dns_transport;
    out->tls_auth_name = cfg->tls_auth_name;
}

void mdp_plugin_config_cache(const mdp_plugin_config *cfg,
                               dance_cache_config *out)
{
    memset(out, 0, sizeof(*out));
    out->capacity = cfg->cache_size;
    out->min_ttl = cfg->min_ttl;
    out->max_ttl = cfg->max_ttl;
    out->negative_ttl = cfg->negative_ttl;
    out->failure_ttl = cfg->failure_ttl;
}

/* mdp_plugin_options_check_resolver - the syntax of resolver and
 * dns_transport is checked by the parser already, so what the library can
 * still object to is the trust anchor file (or, without one, the system
 * root key). */
int mdp_plugin_options_check_resolver(const mdp_plugin_config *cfg,
                                        char *err, size_t errlen)
{
    dance_resolver_config rc;
    char why[DANCE_REASON_MAX];

    mdp_plugin_config_resolver(cfg, &rc);
    why[0] = '\0';
    if (dance_resolver_config_check(&rc, why, sizeof(why)) == 0)
        return 0;
    if (cfg->trust_anchor != NULL)
        dance_set_err(err, errlen, "plugin_opt_trust_anchor '%s': expected %s (%s)",
                      cfg->trust_anchor, opt_table[O_TRUST_ANCHOR].expected, why);
    else
        dance_set_err(err, errlen, "resolver configuration rejected: %s (check "
                      "plugin_opt_resolver '%s' and plugin_opt_trust_anchor, which "
                      "defaults to the system root key)", why,
                      cfg->resolver != NULL ? cfg->resolver : "");
    return -1;
}
