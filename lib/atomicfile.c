/*
 * atomicfile.c - replace a file atomically (dance/atomicfile.h): the
 * writer of the files the plugin keeps across restarts (the token replay
 * cache, the identities to prefetch).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
