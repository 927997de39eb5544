/*
 * testdir.c - scratch directories for unit tests (testdir.h).
 */
#include "testdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int testdir_make(char *dir, size_t len, const char *prefix)
{
    int n = snprintf(dir, len, "/tmp/%sXXXXXX", prefix);

    if (n < 0 || (size_t)n >= len)
        return -1;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

void testdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(dir);
}
