/*
 * atomicfile.c - the files kept across restarts (dance/atomicfile.h):
 * their atomic writer and their strict reader, shared by the token replay
 * cache and the plugin's identities to prefetch.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dance/atomicfile.h"
#include "dance/error.h"

/* dir_of - the directory part of path ("." when none) into buf */
static void dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int dance_file_replace(const char *path, dance_file_write_fn fn, void *ctx,
                       char *err, size_t errlen)
{
    char tmp[PATH_MAX], dir[PATH_MAX], why[DANCE_REASON_MAX];
    FILE *f;
    int fd, dfd, werr;

    if (path == NULL || path[0] == '\0') {
        dance_set_err(err, errlen, "no file name");
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        dance_set_err(err, errlen, "%s: path too long", path);
        return -1;
    }
    fd = mkstemp(tmp);          /* mode 0600 */
    if (fd < 0) {
        dance_set_err(err, errlen, "cannot create a temporary file beside %s: %s",
                      path, strerror(errno));
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        dance_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    /* fewer write calls while the caller may hold its lock */
    setvbuf(f, NULL, _IOFBF, 1u << 16);
    why[0] = '\0';
    werr = fn(f, ctx, why, sizeof(why));
    if (werr == 0 && fflush(f) != 0)
        werr = errno ? errno : EIO;
    if (werr == 0 && fsync(fileno(f)) != 0)
        werr = errno ? errno : EIO;
    if (fclose(f) != 0 && werr == 0)
        werr = errno ? errno : EIO;
    if (werr != 0) {
        dance_set_err(err, errlen, "cannot write %s: %s", tmp,
                      why[0] ? why : strerror(werr));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        dance_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path,
                      strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* the rename itself is durable once the directory is synced */
    dir_of(path, dir, sizeof(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        dance_set_err(err, errlen, "cannot sync the directory %s: %s", dir,
                      strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    close(dfd);
    return 0;
}

int dance_file_read_lines(const char *path, const char *magic, const char *kind,
                          uint64_t max_bytes, dance_file_line_fn fn, void *ctx,
                          char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0, count = 0;
    ssize_t len;
    bool ended = false;
    struct stat st;
    FILE *f;
    int rc = -1;

    f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return DANCE_FILE_MISSING;
        dance_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        dance_set_err(err, errlen, "cannot read %s: %s", path,
                      S_ISDIR(st.st_mode) ? "it is a directory"
                      : S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
        goto out;
    }
    if (max_bytes != 0 && (uint64_t)st.st_size > max_bytes) {
        dance_set_err(err, errlen, "%s is larger (%lld bytes) than %s can be (%llu "
                      "bytes)", path, (long long)st.st_size, kind,
                      (unsigned long long)max_bytes);
        rc = DANCE_FILE_CORRUPT;
        goto out;
    }
    rc = DANCE_FILE_CORRUPT;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len == 0 || line[len - 1] != '\n') {
            dance_set_err(err, errlen, "%s line %zu: truncated (no newline)", path, lineno);
            goto out;
        }
        line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            dance_set_err(err, errlen, "%s line %zu: NUL byte", path, lineno);
            goto out;
        }
        if (lineno == 1) {
            if (strcmp(line, magic) != 0) {
                dance_set_err(err, errlen, "%s line 1: not %s (expected '%s')", path,
                              kind, magic);
                goto out;
            }
            continue;
        }
        if (ended) {
            dance_set_err(err, errlen, "%s line %zu: text after the end line", path,
                          lineno);
            goto out;
        }
        if (strncmp(line, "end ", 4) == 0) {
            char *end;
            unsigned long long c;

            errno = 0;
            c = strtoull(line + 4, &end, 10);
            if (errno != 0 || *end != '\0' || line[4] < '0' || line[4] > '9'
                || c != count) {
                dance_set_err(err, errlen, "%s line %zu: end line does not match the "
                              "%zu entries read", path, lineno, count);
                goto out;
            }
            ended = true;
            continue;
        }
        count++;
        if (err != NULL && errlen > 0)
            err[0] = '\0';
        switch (fn(line, (size_t)len, lineno, ctx, err, errlen)) {
        case 0:
            break;
        case DANCE_FILE_CORRUPT:
            if (err != NULL && errlen > 0 && err[0] == '\0')
                dance_set_err(err, errlen, "%s line %zu: not a valid entry", path, lineno);
            goto out;
        default:
            rc = -1;
            goto out;
        }
    }
    if (ferror(f)) {
        dance_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
        goto out;
    }
    if (lineno == 0 || !ended) {
        dance_set_err(err, errlen, "%s: %s", path, lineno == 0 ? "empty file"
                      : "truncated (no end line)");
        goto out;
    }
    rc = DANCE_FILE_READ;
out:
    fclose(f);
    free(line);
    return rc;
}
