/*
 * dance/atomicfile.h - the files kept across restarts: replace one
 * atomically, read one back strictly.
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
 *
 * Such a file is lines of text: a magic first line naming the format,
 * entry lines, and "end N" with N the number of entry lines, so that a
 * file cut short is told from a complete one. dance_file_read_lines reads
 * that frame and hands each entry line to the caller.
 */
#ifndef DANCE_ATOMICFILE_H
#define DANCE_ATOMICFILE_H

#include <stddef.h>
#include <stdint.h>
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

/* One entry line, NUL-terminated, without its newline (no NUL inside).
 * 0 to go on; DANCE_FILE_CORRUPT when the line is not what the format
 * wants (the reason in err, or a generic one naming the line when err is
 * left empty); -1 for an error of the caller's own (ENOMEM), reason in
 * err. */
typedef int (*dance_file_line_fn)(char *line, size_t len, size_t lineno, void *ctx,
                                  char *err, size_t errlen);

enum {
    DANCE_FILE_READ = 0,        /* every entry line taken */
    DANCE_FILE_MISSING = 1,     /* no such file: nothing read */
    DANCE_FILE_CORRUPT = 2      /* not the format; err says where */
};

/* dance_file_read_lines - read path, a file of the kind named by kind
 * ("a replay cache file", for reasons): the first line must be magic, then
 * entry lines go to fn, then "end N" must close the file. A file larger
 * than max_bytes (0: no bound) or not a regular file is CORRUPT (too
 * large) or an error (not a file). Returns DANCE_FILE_READ, _MISSING,
 * _CORRUPT (entry lines before the fault went to fn already), or -1 when
 * the file cannot be read or fn failed, with the reason in err. */
int dance_file_read_lines(const char *path, const char *magic, const char *kind,
                          uint64_t max_bytes, dance_file_line_fn fn, void *ctx,
                          char *err, size_t errlen);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
