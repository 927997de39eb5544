#!/usr/bin/env python3
"""Every command and flag that `dance <command> --help` prints has an entry in
the manual page source man/dance.1.scd (a "## dance <command>" section, and
a line starting with the flag in bold), so the page cannot fall behind the
CLI.

usage: check_cli_doc.py DANCE_BINARY MAN_SOURCE
"""
import re
import subprocess
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dance, source = argv[1], argv[2]
    with open(source, encoding="utf-8") as f:
        page = f.read()
    top = subprocess.run([dance, "--help"], capture_output=True, timeout=30)
    text = (top.stdout + top.stderr).decode()
    commands = re.findall(r"^  ([a-z]+)\s{2,}", text, re.M)
    if not commands:
        print(f"no commands found in '{dance} --help'")
        return 1
    missing = []
    for cmd in commands:
        if f"\n## dance {cmd}\n" not in page:
            missing.append(f"command {cmd}: no '## dance {cmd}' section")
        p = subprocess.run([dance, cmd, "--help"], capture_output=True, timeout=30)
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", (p.stdout + p.stderr).decode()))
        flags.discard("--help")
        for flag in sorted(flags):
            if not re.search(r"^\*" + re.escape(flag) + r"\*", page, re.M) and \
               f", *{flag}*" not in page:
                missing.append(f"dance {cmd} {flag}: no entry (a line '*{flag}* ...')")
    for line in missing:
        print(f"{source}: {line}")
    print(f"{len(commands)} commands checked, {len(missing)} undocumented")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
