/*
 * fuzz_names.c - libFuzzer harness for identities (lib/name.c):
 * dance_name_normalize, dance_name_is_under, allow-lists and TLSA owner
 * names.
 *
 * Input: the first line is an allow-list ("a.example, b.example"), every
 * further line a name. Checked: normal forms are fixed points, fit the
 * limits and are lowercase; dance_name_is_under agrees with a plain
 * reference implementation written here; the allow-list gives the same
 * answer for a name and its normal form; the owner name of the service
 * form is exactly "_mqtt." + identity.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dance/name.h"
#include "fuzz_common.h"

/* ref_is_under - name == domain or name ends in "." + domain, ignoring
 * ASCII case; an empty domain is under nothing */
static bool ref_is_under(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);

    if (d == 0 || n < d)
        return false;
    if (strncasecmp(name + n - d, domain, d) != 0)
        return false;
    return n == d || name[n - d - 1] == '.';
}

static void check_name(const dance_allowlist *al, const char *name, const char *prev)
{
    char out[DANCE_NAME_MAX + 1], again[DANCE_NAME_MAX + 1], owner[DANCE_NAME_MAX + 1];
    char err[256], small[8];
    size_t i, len;
    int rc;

    FZ_ASSERT(dance_name_is_under(name, prev) == ref_is_under(name, prev));
    FZ_ASSERT(dance_name_is_under(prev, name) == ref_is_under(prev, name));

    err[0] = '\0';
    rc = dance_name_normalize(name, out, sizeof(out), err, sizeof(err));
    FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
    /* a too-small buffer is refused, never overrun */
    if (dance_name_normalize(name, small, sizeof(small), NULL, 0) == 0)
        FZ_ASSERT(strlen(small) < sizeof(small) && rc == 0 && strcmp(small, out) == 0);
    if (rc != 0) {
        FZ_ASSERT(err[0] != '\0');
        FZ_ASSERT(!dance_allowlist_match(al, name));
        return;
    }
    len = strlen(out);
    FZ_ASSERT(len > 0 && len <= DANCE_NAME_MAX);
    for (i = 0; i < len; i++)
        FZ_ASSERT(!(out[i] >= 'A' && out[i] <= 'Z'));
    FZ_ASSERT(out[len - 1] != '.' && out[0] != '.');
    FZ_ASSERT(dance_name_normalize(out, again, sizeof(again), NULL, 0) == 0);
    FZ_ASSERT(strcmp(out, again) == 0);
    FZ_ASSERT(dance_name_is_under(out, out));
    FZ_ASSERT(dance_allowlist_match(al, name) == dance_allowlist_match(al, out));

    rc = dance_owner_name(out, "_mqtt", owner, sizeof(owner), err, sizeof(err));
    if (rc == 0) {
        FZ_ASSERT(strncmp(owner, "_mqtt.", 6) == 0 && strcmp(owner + 6, out) == 0);
        FZ_ASSERT(dance_name_is_under(owner, out));
    } else {
        FZ_ASSERT(len + 6 > DANCE_NAME_MAX);
    }
    FZ_ASSERT(dance_owner_name(out, NULL, owner, sizeof(owner), NULL, 0) == 0);
    FZ_ASSERT(strcmp(owner, out) == 0);
    /* the name as a service label: only single underscore labels pass */
    if (dance_owner_name("a.example", name, owner, sizeof(owner), NULL, 0) == 0)
        FZ_ASSERT(name[0] == '_' && strchr(name, '.') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *line, *next, *prev = "";
    dance_allowlist *al;
    char err[256];
    int n = 0;

    if (size > 4096)
        return 0;
    text = fz_strndup0(data, size);
    line = text;
    next = strchr(line, '\n');
    if (next != NULL)
        *next++ = '\0';
    err[0] = '\0';
    al = dance_allowlist_parse(line, err, sizeof(err));
    FZ_ASSERT(al != NULL || err[0] != '\0');
    FZ_ASSERT(al == NULL || dance_allowlist_count(al) > 0);
    for (line = next; line != NULL && n < 64; line = next, n++) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        check_name(al, line, prev);
        prev = line;
    }
    dance_allowlist_free(al);
    free(text);
    return 0;
}
