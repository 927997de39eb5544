/*
 * plugin/topics.c - compiled topic filters for plugin_opt_verify_topics,
 * and the check of the verified/rejected topic prefixes.
 *
 * Why by hand rather than Mosquitto's mosquitto_topic_matches_sub: this
 * runs for every message the broker receives, so the filters are checked
 * once at start and matched with one pass over the topic and no
 * allocation; and the plugin core stays free of Mosquitto so that it can
 * be unit-tested on its own.
 */
#include "topics.h"

#include "dance/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mdp_topics {
    size_t count;
    char **filters;             /* count validated filters */
};

/* mdp_topic_filter_matches - one pass over both strings. The filter is
 * valid (see check_filter), so "#" only ever appears as the last level. */
bool mdp_topic_filter_matches(const char *f, const char *t)
{
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return false;
    for (;;) {
        if (*f == '#')
            return true;
        if (*f == '+') {
            f++;
            while (*t != '\0' && *t != '/')
                t++;
        } else {
            while (*f != '\0' && *f != '/') {
                if (*f != *t)
                    return false;
                f++;
                t++;
            }
            if (*t != '\0' && *t != '/')
                return false;
        }
        /* both at the end of a level */
        if (*f == '\0')
            return *t == '\0';
        if (*t == '\0')
            return f[1] == '#' && f[2] == '\0';     /* "a/#" matches "a" */
        f++;
        t++;
    }
}

bool mdp_topics_match(const mdp_topics *t, const char *topic)
{
    if (t == NULL || topic == NULL)
        return false;
    for (size_t i = 0; i < t->count; i++)
        if (mdp_topic_filter_matches(t->filters[i], topic))
            return true;
    return false;
}

size_t mdp_topics_count(const mdp_topics *t)
{
    return t != NULL ? t->count : 0;
}

/* check_filter - MQTT filter rules, level by level. */
static int check_filter(const char *f, size_t n, char *why, size_t whylen)
{
    size_t level_start = 0;

    if (n == 0) {
        dance_set_err(why, whylen, "empty topic filter");
        return -1;
    }
    if (n > MDP_TOPIC_MAX) {
        dance_set_err(why, whylen, "a topic filter is longer than %d bytes", MDP_TOPIC_MAX);
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && f[i] != '/')
            continue;
        /* level [level_start, i) */
        for (size_t k = level_start; k < i; k++) {
            if (f[k] != '+' && f[k] != '#')
                continue;
            if (i - level_start != 1) {
                dance_set_err(why, whylen, "'%.*s': '%c' must be a whole level",
                              (int)(n > 100 ? 100 : n), f, f[k]);
                return -1;
            }
            if (f[k] == '#' && i != n) {
                dance_set_err(why, whylen, "'%.*s': '#' must be the last level",
                              (int)(n > 100 ? 100 : n), f);
                return -1;
            }
        }
        level_start = i + 1;
    }
    return 0;
}

void mdp_topics_free(mdp_topics *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->filters[i]);
    free(t->filters);
    free(t);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

mdp_topics *mdp_topics_parse(const char *list, char *why, size_t whylen)
{
    mdp_topics *t = calloc(1, sizeof(*t));
    size_t items = 1;
    const char *p;

    if (t == NULL)
        goto nomem;
    for (p = list; *p != '\0' && is_blank(*p); p++)
        ;
    if (*p == '\0')
        return t;               /* empty list: verification off */
    for (p = list; *p != '\0'; p++)
        if (*p == ',')
            items++;
    t->filters = calloc(items, sizeof(*t->filters));
    if (t->filters == NULL)
        goto nomem;

    p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *s = p;

        while (s < end && is_blank(*s))
            s++;
        while (end > s && is_blank(end[-1]))
            end--;
        if (check_filter(s, (size_t)(end - s), why, whylen) != 0) {
            mdp_topics_free(t);
            return NULL;
        }
        t->filters[t->count] = strndup(s, (size_t)(end - s));
        if (t->filters[t->count] == NULL)
            goto nomem;
        t->count++;
        if (comma == NULL)
            return t;
        p = comma + 1;
    }
nomem:
    mdp_topics_free(t);
    dance_set_err(why, whylen, "out of memory");
    return NULL;
}

int mdp_topic_prefix_check(const char *prefix, char *why, size_t whylen)
{
    size_t n = strlen(prefix);

    if (n == 0 || prefix[n - 1] != '/') {
        dance_set_err(why, whylen, "it must end in '/'");
        return -1;
    }
    if (prefix[0] == '$') {
        dance_set_err(why, whylen, "it must not start with '$' (subscribers to '#' "
                      "would not see it, and clients cannot use such topics everywhere)");
        return -1;
    }
    if (strpbrk(prefix, "+#") != NULL) {
        dance_set_err(why, whylen, "wildcards '+' and '#' are not allowed in a topic");
        return -1;
    }
    if (n > 1024) {
        dance_set_err(why, whylen, "longer than 1024 bytes");
        return -1;
    }
    return 0;
}

bool mdp_topic_under_prefix(const char *topic, const char *prefix, size_t plen)
{
    /* the first byte first: asked several times for every message, and
     * nearly every topic differs there */
    if (prefix == NULL || plen == 0 || (plen > 1 && topic[0] != prefix[0])
        || strncmp(topic, prefix, plen - 1) != 0)
        return false;
    return topic[plen - 1] == '\0' || topic[plen - 1] == prefix[plen - 1];
}

/* filter_overlaps_tree - level by level: every level of the prefix must
 * be matched by the filter's level ('+' or equal) until the filter's "#";
 * a filter that ends before the prefix's last level matches nothing in the
 * tree, one that ends at it matches the bare level ("forwarded"). */
static bool filter_overlaps_tree(const char *f, const char *prefix)
{
    const char *p = prefix;

    for (;;) {
        const char *pend = strchr(p, '/');      /* prefix ends in '/' */
        size_t plen = (size_t)(pend - p);

        if (f[0] == '#')
            return true;
        if (f[0] == '+' && (f[1] == '/' || f[1] == '\0'))
            f++;
        else if (strncmp(f, p, plen) == 0 && (f[plen] == '/' || f[plen] == '\0'))
            f += plen;
        else
            return false;
        p = pend + 1;
        if (*p == '\0')
            return true;                        /* every prefix level matched */
        if (*f == '\0')
            return false;                       /* filter shorter than prefix */
        f++;                                    /* past '/' */
    }
}

const char *mdp_topics_overlap_prefix(const mdp_topics *t, const char *prefix)
{
    if (t == NULL || prefix == NULL)
        return NULL;
    for (size_t i = 0; i < t->count; i++)
        if (filter_overlaps_tree(t->filters[i], prefix))
            return t->filters[i];
    return NULL;
}
