/*
 * plugin/topics.h - the MQTT topic filters of plugin_opt_verify_topics,
 * compiled once at start so that the MESSAGE callback decides with a few
 * byte comparisons whether a message is to be verified.
 *
 * Pure: no Mosquitto headers, no allocation while matching. Matching
 * follows MQTT 3.1.1/5 section 4.7: "+" is exactly one level (possibly
 * empty), "#" is the rest including the parent level ("a/#" matches "a"),
 * and topics starting with "$" never match a filter whose first level is
 * a wildcard.
 *
 * Ownership: a mdp_topics owns copies of its filters; free it with
 * mdp_topics_free (NULL-safe).
 */
#ifndef MDP_TOPICS_H
#define MDP_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mdp_topics mdp_topics;

/* Longest topic filter accepted (the MQTT limit). */
#define MDP_TOPIC_MAX 65535

/* mdp_topics_parse - compile a comma list of topic filters (blanks
 * around items ignored). An empty or blank list gives an empty set (no
 * topic matches). Refuses empty items, "+"/"#" inside a level, "#" before
 * the last level, and filters over MDP_TOPIC_MAX bytes: returns NULL
 * with a reason in why (NULL with "out of memory" on allocation failure). */
mdp_topics *mdp_topics_parse(const char *list, char *why, size_t whylen);

void mdp_topics_free(mdp_topics *t);

/* mdp_topics_count - how many filters; 0 for NULL. */
size_t mdp_topics_count(const mdp_topics *t);

/* mdp_topics_match - true when topic matches one of the filters; false
 * for NULL or an empty set. Cannot fail. */
bool mdp_topics_match(const mdp_topics *t, const char *topic);

/* mdp_topic_filter_matches - one filter against one topic (both valid);
 * exposed for tests. */
bool mdp_topic_filter_matches(const char *filter, const char *topic);

/* mdp_topic_prefix_check - whether prefix is a usable topic prefix for
 * plugin-published trees: non-empty, ends in "/", no "+", "#" or NUL, does
 * not start with "$" (subscribers to "#" would never see it), at most
 * 1024 bytes. 0, or
 * -1 with a reason in why. */
int mdp_topic_prefix_check(const char *prefix, char *why, size_t whylen);

/* mdp_topic_under_prefix - whether topic lies in the tree of prefix (a
 * prefix that passed mdp_topic_prefix_check, so it ends in "/", of
 * plen bytes): topic starts with prefix, or is the bare level prefix
 * without its "/" (the filter "verified/#" matches "verified" too).
 * false for a NULL prefix. Cannot fail. */
bool mdp_topic_under_prefix(const char *topic, const char *prefix, size_t plen);

/* mdp_topics_overlap_prefix - the first filter of t that matches some
 * topic in the tree of prefix (one that passed mdp_topic_prefix_check;
 * the tree as mdp_topic_under_prefix has it), or NULL. Cannot fail. */
const char *mdp_topics_overlap_prefix(const mdp_topics *t, const char *prefix);

#endif
