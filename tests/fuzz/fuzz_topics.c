/*
 * fuzz_topics.c - libFuzzer harness for the MQTT topic filters of
 * plugin_opt_verify_topics (plugin/topics.c, linked from
 * dance_plugin_core): parsing, and matching, which the plugin runs in the
 * MESSAGE callback for every message.
 *
 * Input: the first line is the filter list ("sensors/#, gw/+/data"), every
 * further line a published topic. Checked against a plain reference
 * matcher written here from MQTT 3.1.1 section 4.7 (level by level, "+"
 * one level, "#" the rest including the parent, "$" topics never under a
 * leading wildcard): mdp_topics_match must equal "some filter of the
 * list matches", filter by filter; mdp_topic_prefix_check accepts only
 * prefixes ending in '/' without wildcards or a leading '$'.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "topics.h"

#define MAX_FILTERS 16

/* level - the level of s starting at *pos; advances *pos past it and its
 * '/'; false when s has no more levels */
static bool level(const char *s, size_t *pos, bool *more, const char **lv, size_t *n)
{
    if (!*more)
        return false;
    *lv = s + *pos;
    *n = strcspn(*lv, "/");
    *more = (*lv)[*n] == '/';
    *pos += *n + 1;
    return true;
}

static bool ref_match(const char *filter, const char *topic)
{
    size_t fp = 0, tp = 0, fn, tn;
    bool fmore = true, tmore = true;
    const char *fl, *tl;

    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false;
    while (level(filter, &fp, &fmore, &fl, &fn)) {
        if (fn == 1 && fl[0] == '#')
            return true;                /* the rest, parent level included */
        if (!level(topic, &tp, &tmore, &tl, &tn))
            return false;
        if (fn == 1 && fl[0] == '+')
            continue;
        if (fn != tn || memcmp(fl, tl, fn) != 0)
            return false;
    }
    return !tmore;                      /* the topic has no level left */
}

/* split - the filter list as the parser reads it: comma separated, blanks
 * around items dropped */
static size_t split(char *list, char **out)
{
    size_t n = 0;
    char *p = list;

    for (;;) {
        char *comma = strchr(p, ',');
        char *end = comma != NULL ? comma : p + strlen(p);
        while (*p == ' ' || *p == '\t')
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (n < MAX_FILTERS) {
            *end = '\0';
            out[n++] = p;
        }
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *line, *next, *copy, *filters[MAX_FILTERS];
    char why[256];
    mdp_topics *t;
    size_t nf, i, k = 0;

    if (size > 8192)
        return 0;
    text = fz_strndup0(data, size);
    next = strchr(text, '\n');
    if (next != NULL)
        *next++ = '\0';
    why[0] = '\0';
    t = mdp_topics_parse(text, why, sizeof(why));
    if (mdp_topic_prefix_check(text, NULL, 0) == 0) {
        size_t n = strlen(text);
        FZ_ASSERT(n > 0 && text[n - 1] == '/' && text[0] != '$'
                  && strpbrk(text, "+#") == NULL);
    }
    if (t == NULL) {
        FZ_ASSERT(why[0] != '\0');
        free(text);
        return 0;
    }
    copy = strdup(text);
    FZ_ASSERT(copy != NULL);
    nf = split(copy, filters);
    if (mdp_topics_count(t) == 0)
        nf = 0;                         /* blank list: nothing matches */
    else
        FZ_ASSERT(mdp_topics_count(t) == nf || nf == MAX_FILTERS);

    for (line = next; line != NULL && k < 64; line = next, k++) {
        bool any = false;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        /* what Mosquitto lets through as a PUBLISH topic */
        if (line[0] == '\0' || strpbrk(line, "+#") != NULL)
            continue;
        for (i = 0; i < nf; i++) {
            bool r = ref_match(filters[i], line);
            FZ_ASSERT(mdp_topic_filter_matches(filters[i], line) == r);
            any = any || r;
        }
        if (nf < MAX_FILTERS)
            FZ_ASSERT(mdp_topics_match(t, line) == any);
        else if (any)
            FZ_ASSERT(mdp_topics_match(t, line));
    }
    mdp_topics_free(t);
    free(copy);
    free(text);
    return 0;
}
