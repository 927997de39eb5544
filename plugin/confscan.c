/*
 * plugin/confscan.c - scan mosquitto.conf for settings that disable the
 * plugin (see confscan.h). Mosquitto's syntax: one "key value" per line,
 * '#' starts a comment line, blanks around tokens are ignored.
 */
#include "confscan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONF_BYTES (4u << 20)   /* larger files are not configs */

static void hit_set(mdp_confscan_hit *h, const char *file, unsigned line)
{
    if (h->found)
        return;
    h->found = true;
    snprintf(h->file, sizeof(h->file), "%s", file);
    h->line = line;
}

/* next_token - skip blanks, return the token start and its length. */
static const char *next_token(const char *p, const char *end, size_t *len)
{
    const char *s;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    s = p;
    while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
        p++;
    *len = (size_t)(p - s);
    return s;
}

static bool tok_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* close_listener - the listener being read ends: count it when plain */
static void close_listener(mdp_confscan *out)
{
    if (out->in_listener && !out->cur_tls && !out->cur_unix) {
        out->plain_listeners++;
        if (!out->plain_listener.found)
            out->plain_listener = out->cur_listener;
    }
    out->in_listener = false;
}

void mdp_confscan_finish(mdp_confscan *out)
{
    close_listener(out);
    out->default_listener_plain = (!out->any_listener || out->port_line)
                                  && !out->global_tls;
}

int mdp_confscan_bool(const char *t, size_t n)
{
    if (tok_is(t, n, "true") || tok_is(t, n, "1"))
        return 1;
    if (tok_is(t, n, "false") || tok_is(t, n, "0"))
        return 0;
    return -1;
}

/* rest_of_line - val up to the end of the line, without trailing blanks
 * (include_dir and plugin paths may hold spaces). */
static size_t rest_of_line(const char *val, const char *end)
{
    const char *rest = end;

    while (rest > val && (rest[-1] == ' ' || rest[-1] == '\t' || rest[-1] == '\r'))
        rest--;
    return (size_t)(rest - val);
}

static int dirs_append(char ***include_dir, const char *val, size_t n)
{
    char **nd;
    size_t count = 0;
    char *d = malloc(n + 1);

    if (d == NULL)
        return -1;
    memcpy(d, val, n);
    d[n] = '\0';
    while (*include_dir != NULL && (*include_dir)[count] != NULL)
        count++;
    nd = realloc(*include_dir, (count + 2) * sizeof(*nd));
    if (nd == NULL) {
        free(d);
        return -1;
    }
    nd[count] = d;
    nd[count + 1] = NULL;
    *include_dir = nd;
    return 0;
}

static void plugin_line(mdp_confscan *out, const char *file, unsigned line,
                        const char *val, size_t n)
{
    mdp_confscan_plugin *pl;

    if (out->plugin_count++ >= MDP_CONFSCAN_PLUGINS_MAX)
        return;
    pl = &out->plugins[out->plugin_count - 1];
    hit_set(&pl->where, file, line);
    if (n >= sizeof(pl->path))
        n = sizeof(pl->path) - 1;
    memcpy(pl->path, val, n);
    pl->path[n] = '\0';
}

static int scan_dir(const char *dir, mdp_confscan *out, char *err, size_t errlen);

/* scan_text - one file's text. include_dir lines are appended to
 * *include_dir when it is given, else (err != NULL) read in place. */
static int scan_text(const char *text, const char *file, mdp_confscan *out,
                     char ***include_dir, char *err, size_t errlen)
{
    const char *p = text;
    unsigned line = 0;

    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        const char *end = eol != NULL ? eol : p + strlen(p);
        const char *key, *val;
        size_t klen, vlen;

        line++;
        key = next_token(p, end, &klen);
        if (klen > 0 && key[0] != '#') {
            val = next_token(key + klen, end, &vlen);
            if (tok_is(key, klen, "per_listener_settings")) {
                out->per_listener_settings = mdp_confscan_bool(val, vlen) == 1;
                if (out->per_listener_settings)
                    hit_set(&out->per_listener_true, file, line);
            } else if (tok_is(key, klen, "use_identity_as_username")) {
                /* any true spelling anywhere counts, also when a later
                 * line says false: fail closed */
                if (mdp_confscan_bool(val, vlen) == 1)
                    hit_set(&out->identity_as_username, file, line);
            } else if (tok_is(key, klen, "use_subject_as_username")) {
                if (mdp_confscan_bool(val, vlen) == 1)
                    hit_set(&out->subject_as_username, file, line);
            } else if (tok_is(key, klen, "acl_file") && vlen > 0) {
                hit_set(&out->acl_file, file, line);
            } else if (tok_is(key, klen, "max_queued_messages") && vlen > 0) {
                /* the last line counts; Mosquitto reads it with atoi and
                 * takes what is not above 0 as 0, unlimited */
                char num[32];
                size_t n = vlen < sizeof(num) ? vlen : sizeof(num) - 1;

                memcpy(num, val, n);
                num[n] = '\0';
                out->max_queued_unlimited = strtol(num, NULL, 10) <= 0;
                memset(&out->max_queued, 0, sizeof(out->max_queued));
                hit_set(&out->max_queued, file, line);
            } else if ((tok_is(key, klen, "plugin") || tok_is(key, klen, "auth_plugin"))
                       && vlen > 0) {
                plugin_line(out, file, line, val, rest_of_line(val, end));
            } else if (tok_is(key, klen, "listener") && vlen > 0) {
                /* settings up to the next listener line belong to it;
                 * "listener 0 /path" is a unix socket */
                close_listener(out);
                out->in_listener = true;
                out->any_listener = true;
                out->cur_tls = false;
                out->cur_unix = tok_is(val, vlen, "0");
                memset(&out->cur_listener, 0, sizeof(out->cur_listener));
                hit_set(&out->cur_listener, file, line);
            } else if (tok_is(key, klen, "port") && vlen > 0) {
                out->port_line = true;
            } else if ((tok_is(key, klen, "certfile") || tok_is(key, klen, "psk_hint"))
                       && vlen > 0) {
                if (out->in_listener)
                    out->cur_tls = true;
                else
                    out->global_tls = true;
            } else if (tok_is(key, klen, "include_dir") && vlen > 0) {
                size_t n = rest_of_line(val, end);
                if (include_dir != NULL) {
                    if (dirs_append(include_dir, val, n) != 0)
                        return -1;
                } else if (err != NULL) {
                    char dir[MDP_CONFSCAN_PATH_MAX];
                    if (n >= sizeof(dir)) {
                        snprintf(err, errlen, "%s line %u: include_dir path too long",
                                 file, line);
                        return -2;
                    }
                    memcpy(dir, val, n);
                    dir[n] = '\0';
                    if (scan_dir(dir, out, err, errlen) != 0)
                        return -2;
                }
            }
        }
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return 0;
}

int mdp_confscan_text(const char *text, const char *file,
                        mdp_confscan *out, char ***include_dir)
{
    return scan_text(text, file, out, include_dir, NULL, 0) == 0 ? 0 : -1;
}

/* read_all - whole file as a NUL-terminated string. */
static char *read_all(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t n;
        if (cap - len < 4096) {
            char *nb;
            if (cap >= MAX_CONF_BYTES) {
                snprintf(err, errlen, "%s is larger than %u bytes", path,
                         MAX_CONF_BYTES);
                goto fail;
            }
            nb = realloc(buf, cap + 65536);
            if (nb == NULL) {
                snprintf(err, errlen, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s", path);
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* scan_one - one file; with follow, its include_dir lines are read where
 * they stand (only the main file: Mosquitto refuses nested ones). */
static int scan_one(const char *path, mdp_confscan *out, bool follow,
                    char *err, size_t errlen)
{
    char *text = read_all(path, err, errlen);
    char **ignored = NULL;
    int rc;

    if (text == NULL)
        return -1;
    out->files++;
    rc = scan_text(text, path, out, follow ? NULL : &ignored, err, errlen);
    free(text);
    mdp_confscan_dirs_free(ignored);
    if (rc == -1)
        snprintf(err, errlen, "out of memory scanning %s", path);
    return rc == 0 ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with_conf(const char *name)
{
    size_t n = strlen(name);

    return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* scan_dir - the *.conf files of dir in sorted order, as Mosquitto does.
 * Nested include_dir lines are not followed (Mosquitto refuses them). */
static int scan_dir(const char *dir, mdp_confscan *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (d == NULL) {
        snprintf(err, errlen, "cannot open include_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (!ends_with_conf(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
            cap = nc;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0)
        snprintf(err, errlen, "out of memory listing %s", dir);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[MDP_CONFSCAN_PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
            continue;
        rc = scan_one(path, out, false, err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

void mdp_confscan_dirs_free(char **dirs)
{
    if (dirs == NULL)
        return;
    for (size_t i = 0; dirs[i] != NULL; i++)
        free(dirs[i]);
    free(dirs);
}

int mdp_confscan_file(const char *path, mdp_confscan *out,
                        char *err, size_t errlen)
{
    int rc = scan_one(path, out, true, err, errlen);

    if (rc == 0)
        mdp_confscan_finish(out);
    return rc;
}

int mdp_confscan_cmdline(const char *args, size_t len, char *path, size_t pathlen)
{
    size_t i = 0;

    while (i < len) {
        const char *a = args + i;
        size_t alen = strnlen(a, len - i);
        size_t next = i + alen + 1;

        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config-file") == 0) && next < len) {
            const char *v = args + next;
            size_t vlen = strnlen(v, len - next);
            if (vlen == 0 || vlen >= pathlen)
                return -1;
            memcpy(path, v, vlen);
            path[vlen] = '\0';
            return 0;
        }
        i = next;
    }
    return -1;
}

int mdp_confscan_self(mdp_confscan *out, char *err, size_t errlen)
{
    char buf[8192];
    char path[MDP_CONFSCAN_PATH_MAX];
    FILE *f;
    size_t len;

    memset(out, 0, sizeof(*out));
    f = fopen("/proc/self/cmdline", "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read /proc/self/cmdline: %s", strerror(errno));
        return -1;
    }
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (mdp_confscan_cmdline(buf, len, path, sizeof(path)) != 0)
        return 0;
    if (mdp_confscan_file(path, out, err, errlen) != 0)
        return -1;
    return 1;
}
