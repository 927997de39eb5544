#!/usr/bin/python3
"""sanitizer_reports.py DIR - fail when DIR holds sanitizer reports.

Used by tests/99-sanitizer.cmake: in the sanitizer build every test's
instrumented processes write ASan/LSan/UBSan reports to
DIR/<test>.{asan,ubsan}.<pid>. Prints which tests produced reports and the
reports themselves (the first lines of each), and exits 1 if there are any.
"""
import os
import sys


def main():
    d = sys.argv[1]
    try:
        files = sorted(os.listdir(d))
    except FileNotFoundError:
        print("sanitizer_reports: %s does not exist (sanitizer.mkdir did not run?)" % d)
        return 1
    if not files:
        print("sanitizer_reports: no sanitizer report from any test")
        return 0
    tests = sorted({f.rsplit(".", 2)[0] for f in files})
    print("sanitizer_reports: reports from %d test(s): %s" % (len(tests), ", ".join(tests)))
    for f in files:
        with open(os.path.join(d, f), errors="replace") as fh:
            lines = fh.read().splitlines()
        print("\n===== %s (%d lines) =====" % (f, len(lines)))
        print("\n".join(lines[:80]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
