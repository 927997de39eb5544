#!/usr/bin/env python3
"""Lint built manual pages: `man --warnings` must render each page without a
single warning (groff -ww through man's preprocessors, tbl included).

usage: check_man.py PAGE...
"""
import os
import subprocess
import sys


def lint(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                       capture_output=True, env=env, timeout=60)
    problems = []
    if p.returncode != 0:
        problems.append(f"man exited {p.returncode}")
    err = p.stderr.decode(errors="replace").strip()
    if err:
        problems.append(err)
    if not p.stdout.strip():
        problems.append("rendered nothing")
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for page in argv[1:]:
        if not os.path.isfile(page):
            print(f"{page}: missing (is the man target built?)")
            failed += 1
            continue
        problems = lint(page)
        for line in problems:
            print(f"{page}: {line}")
        failed += bool(problems)
        if not problems:
            print(f"{page}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
