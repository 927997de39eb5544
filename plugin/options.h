/*
 * plugin/options.h - the plugin's `plugin_opt_*` options: table, parsing,
 * validation.
 *
 * Pure code with no Mosquitto headers, so that it can be unit-tested and
 * fuzzed: the input is an array of key/value pairs (the keys without the
 * "plugin_opt_" prefix, as Mosquitto hands them over), the output a filled
 * mdp_plugin_config or one error line a user can act on, of the form
 *   plugin_opt_<name> '<value>': expected <what>
 * An unknown option, a repeated option or a bad value is an error;
 * allowed_domains is required. The message verification options need
 * verify_topics (empty or absent: verification off).
 *
 * Message defaults are the strict profile: require_iat true, max_skew 300,
 * require_topic_binding true, replay_window 600 (or 2 x max_skew if more).
 * message_profile compat drops those defaults to what senders without iat
 * or topic can meet (require_iat false, no topic binding, replay_window 0)
 * while each stays settable; strict refuses settings that weaken them.
 * Combinations that leave a replay hole are refused in either profile.
 *
 * forwarders (empty or absent: off) and forwarded_prefix (default
 * "forwarded/") belong to message verification; the forwarded tree must be
 * apart from the verified and rejected trees and from verify_topics, every
 * forwarder must be under allowed_domains, and a replay window is required
 * (a copy that reaches the hub through two brokers is delivered once).
 *
 * Ownership: mdp_plugin_config owns its strings and its allow-list; free
 * it with mdp_plugin_config_clear. The resolver/cache views it fills point
 * into the config and live as long as it does.
 */
#ifndef MDP_OPTIONS_H
#define MDP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/name.h"
#include "dance/resolver.h"
#include "topics.h"

/* Where the identity of a connecting client comes from. */
typedef enum mdp_identity_source {
    MDP_IDSRC_SAN,        /* the certificate's one dNSName */
    MDP_IDSRC_USERNAME,   /* the MQTT username names it */
    MDP_IDSRC_COUNT
} mdp_identity_source;

/* What to answer for clients the plugin does not handle (no certificate,
 * identity outside allowed_domains). */
typedef enum mdp_fallback {
    MDP_FALLBACK_DENY,    /* refuse */
    MDP_FALLBACK_DEFER,   /* MOSQ_ERR_PLUGIN_DEFER: let other auth decide */
    MDP_FALLBACK_COUNT
} mdp_fallback;

/* How much a signed message must prove besides its signature. */
typedef enum mdp_message_profile {
    MDP_PROFILE_STRICT,   /* iat, topic binding and a replay window required */
    MDP_PROFILE_COMPAT,   /* prototype-style messages: each check as configured */
    MDP_PROFILE_COUNT
} mdp_message_profile;

typedef struct mdp_plugin_opt {
    const char *key;        /* without the "plugin_opt_" prefix */
    const char *value;
} mdp_plugin_opt;

typedef struct mdp_plugin_config {
    /* DNS */
    char *resolver;                 /* NULL: system resolver */
    char *trust_anchor;             /* NULL: system root key */
    dance_dns_transport dns_transport;
    char *tls_auth_name;            /* only with DANCE_TRANSPORT_TLS */
    unsigned lookup_timeout_ms;
    /* who may be looked up, and how */
    char *allowed_domains;          /* as given */
    dance_allowlist *allowlist;     /* parsed */
    mdp_identity_source identity_source;
    char *tlsa_owner_label;         /* "_mqtt" for the service form; NULL: identity */
    char *cafile;                   /* NULL: none */
    mdp_fallback fallback;
    bool client_id_binding;         /* client id = identity[/suffix] */
    unsigned connect_budget_ms;
    /* cache */
    size_t cache_size;
    uint32_t min_ttl, max_ttl, negative_ttl, failure_ttl;
    /* background work */
    unsigned revalidate_interval;   /* seconds; 0: off */
    unsigned stats_interval;        /* seconds; 0: off */
    unsigned worker_threads;
    size_t queue_size;
    unsigned dns_inflight;          /* lookups in flight at once */
    char *identities_file;          /* NULL: no warm start (prefetch.h) */
    /* message verification (signed payloads, see mosquitto-dance(5)) */
    char *verify_topics;            /* as given; NULL: not given */
    mdp_topics *topics;           /* compiled; empty: verification off */
    char *verified_prefix;          /* set after a successful parse */
    char *rejected_prefix;          /* NULL: no diagnostics */
    size_t max_payload;
    bool require_iat;
    uint32_t max_skew;              /* seconds */
    uint32_t replay_window;         /* seconds; 0: no replay cache */
    size_t replay_cache_size;       /* verified messages remembered */
    bool require_jti;
    bool require_topic_binding;
    mdp_message_profile message_profile;
    unsigned verify_threads;
    size_t verify_queue_size;
    size_t key_cache_size;          /* decoded sender keys kept */
    size_t verify_queue_bytes;      /* bytes held by the verify queue */
    unsigned sender_lookup_rate;    /* cold sender lookups per second and */
    unsigned sender_lookup_burst;   /*   burst, per publishing client */
    bool encrypted_pass;            /* a JWE on verify_topics: delivered as
                                       is, never verified (pass); false:
                                       refused, not delivered (refuse) */
    /* forwarding between brokers: the identities whose copies arriving
     * under forwarded_prefix are verified again (see mosquitto-dance(5)) */
    char *forwarders;               /* as given; NULL: not given */
    char **forwarder_names;         /* normalised; forwarder_count of them */
    size_t forwarder_count;         /* 0: forwarding off */
    char *forwarded_prefix;         /* set when forwarder_count > 0 */
    /* token authentication (MQTT password = JWS signed with the device's
     * DANE-bound key, see mosquitto-dance(5)) */
    bool token_auth;
    char *token_audience;           /* required when token_auth */
    uint32_t token_max_lifetime;    /* seconds */
    bool token_disconnect_on_expiry;
    char *token_replay_file;        /* NULL: the jti cache is not kept
                                       across restarts */
    size_t token_replay_per_identity; /* jtis one identity may hold */
} mdp_plugin_config;

/* Defaults (also documented in man/mosquitto-dance.5.scd). */
#define MDP_OPT_DEFAULT_LOOKUP_TIMEOUT_MS   2000u
#define MDP_OPT_DEFAULT_CONNECT_BUDGET_MS   500u
#define MDP_OPT_DEFAULT_CACHE_SIZE          10000u
#define MDP_OPT_DEFAULT_MIN_TTL             0u
#define MDP_OPT_DEFAULT_MAX_TTL             3600u
#define MDP_OPT_DEFAULT_NEGATIVE_TTL        60u
#define MDP_OPT_DEFAULT_FAILURE_TTL         5u
#define MDP_OPT_DEFAULT_REVALIDATE_INTERVAL 60u
#define MDP_OPT_DEFAULT_STATS_INTERVAL      10u
#define MDP_OPT_DEFAULT_WORKER_THREADS      8u
#define MDP_OPT_DEFAULT_QUEUE_SIZE          1024u
#define MDP_OPT_DEFAULT_DNS_INFLIGHT        256u
#define MDP_OPT_DEFAULT_VERIFIED_PREFIX     "verified/"
#define MDP_OPT_DEFAULT_FORWARDED_PREFIX    "forwarded/"
#define MDP_OPT_DEFAULT_MAX_PAYLOAD         65536u
#define MDP_OPT_DEFAULT_MAX_SKEW            300u
#define MDP_OPT_DEFAULT_REPLAY_WINDOW       600u  /* strict; at least 2 x max_skew */
#define MDP_OPT_DEFAULT_REPLAY_CACHE_SIZE   100000u
#define MDP_OPT_DEFAULT_VERIFY_THREADS      2u
#define MDP_OPT_DEFAULT_VERIFY_QUEUE_SIZE   10000u
#define MDP_OPT_DEFAULT_KEY_CACHE_SIZE      1024u
#define MDP_OPT_DEFAULT_VERIFY_QUEUE_BYTES  (64u * 1024u * 1024u)
#define MDP_OPT_DEFAULT_SENDER_LOOKUP_RATE  10u
#define MDP_OPT_DEFAULT_SENDER_LOOKUP_BURST 50u
#define MDP_OPT_DEFAULT_TOKEN_MAX_LIFETIME  300u
#define MDP_OPT_TOKEN_REPLAY_CAPACITY       100000u /* jtis kept, all identities */
#define MDP_OPT_DEFAULT_TOKEN_REPLAY_PER_IDENTITY 1000u

/* Room for an error line. */
#define MDP_OPT_ERR_MAX 1024

/* mdp_plugin_options_parse - validate opts[0..count) into out (which is
 * overwritten; clear it afterwards either way). Returns 0, or -1 with one
 * error line in err ("plugin_opt_min_ttl 'x': expected ..."). Also -1
 * ("out of memory") on allocation failure. Does not touch the file system
 * or the network. */
int mdp_plugin_options_parse(const mdp_plugin_opt *opts, size_t count,
                               mdp_plugin_config *out,
                               char *err, size_t errlen);

/* mdp_plugin_config_verifying - true when verify_topics names at least
 * one filter (message verification on). */
bool mdp_plugin_config_verifying(const mdp_plugin_config *cfg);

/* mdp_plugin_config_forwarder - true when the normalised identity is one
 * of forwarders (exact match; false when forwarding is off). */
bool mdp_plugin_config_forwarder(const mdp_plugin_config *cfg, const char *identity);

/* mdp_plugin_config_clear - free what cfg owns and zero it; NULL-safe. */
void mdp_plugin_config_clear(mdp_plugin_config *cfg);

/* mdp_plugin_config_resolver - the resolver configuration cfg describes
 * (strings borrowed from cfg). Cannot fail. */
void mdp_plugin_config_resolver(const mdp_plugin_config *cfg,
                                  dance_resolver_config *out);

/* mdp_plugin_config_cache - the cache configuration cfg describes.
 * Cannot fail. */
void mdp_plugin_config_cache(const mdp_plugin_config *cfg,
                               dance_cache_config *out);

/* mdp_plugin_options_check_resolver - run the library's resolver config
 * check (trust anchor readable and parseable, ...) and name the option at
 * fault in err. Returns 0 or -1. Reads files. */
int mdp_plugin_options_check_resolver(const mdp_plugin_config *cfg,
                                        char *err, size_t errlen);

/* The option table, for documentation checks: names without the prefix,
 * in table order; NULL past the end. */
const char *mdp_plugin_option_name(size_t i);

const char *mdp_identity_source_name(mdp_identity_source s);
const char *mdp_fallback_name(mdp_fallback f);
const char *mdp_message_profile_name(mdp_message_profile m);

#endif
