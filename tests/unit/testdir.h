/*
 * testdir.h - a scratch directory for unit tests that write files: made
 * fresh under /tmp, emptied and removed afterwards (one level: the tests
 * write plain files and at most empty directories).
 */
#ifndef DANCE_TESTDIR_H
#define DANCE_TESTDIR_H

#include <stddef.h>

/* testdir_make - a new directory /tmp/<prefix>XXXXXX, its path in dir
 * (len bytes); 0, or -1 when it could not be made. */
int testdir_make(char *dir, size_t len, const char *prefix);

/* testdir_remove - the files and empty directories in dir, then dir. */
void testdir_remove(const char *dir);

#endif
