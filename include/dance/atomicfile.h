/*
 * dance/atomicfile.h - replace a file atomically.
 *
 * Internal support API: shared by libdance and the plugin, not part of
 * the library's public interface, not installed and not exported from
 * libdance.so (like dance/hashtab.h).
 *
 * dance_file_replace writes a temporary file in the same directory as
 * path (mkstemp: mode 0600, owner the calling process), lets the caller
 * fill it, flushes and fsyncs it, renames it over path and fsyncs the
 * directory, so that a crash leaves either the old file or the new one,
 * never a mix, and the contents are never readable by other users.
 */
#ifndef DANCE_ATOMICFILE_H
#define DANCE_ATOMICFILE_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(hidden)

/* Fills the temporary file: 0, or an errno value (the file is then
 * discarded and path left as it was). May set a reason of its own in
 * err; when it leaves err empty, the reason is strerror of its return. */
typedef int (*dance_file_write_fn)(FILE *f, void *ctx, char *err, size_t errlen);

/* dance_file_replace - write path atomically with fn(f, ctx) (see the
 * file comment). 0, or -1 with a reason naming the file; path is then
 * unchanged, except when only the final directory sync failed (the new
 * file is in place but may not survive a crash). */
int dance_file_replace(const char *path, dance_file_write_fn fn, void *ctx,
                       char *err, size_t errlen);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
