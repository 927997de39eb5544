/*
 * version.c - the library's version at run time (dance/version.h).
 */
#include "dance/version.h"

const char *dance_version(void)
{
    return DANCE_VERSION_STRING;
}
