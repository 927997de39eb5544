#!/usr/bin/env python3
"""Every relative link in the project's Markdown pages points at a file that
exists, and every #anchor at a heading of that file.

usage: check_links.py SOURCE_DIR
Pages: README.md, SECURITY.md, doc/*.md, bench/README.md.
"""
import glob
import os
import re
import sys

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```")


def anchors(path):
    """GitHub's heading anchors of a Markdown file, plus explicit <a id>."""
    out = set()
    seen = {}
    fenced = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced:
                continue
            for m in re.finditer(r'<a id="([^"]+)"', line):
                out.add(m.group(1))
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            slug = m.group(1).strip().lower()
            slug = re.sub(r"[^\w\- ]", "", slug)
            slug = slug.replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path):
    fenced = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced:
                continue
            line = re.sub(r"`[^`]*`", "", line)
            for m in LINK.finditer(line):
                yield number, m.group(1)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    pages = [os.path.join(root, p) for p in ("README.md", "SECURITY.md", "bench/README.md")]
    pages += sorted(glob.glob(os.path.join(root, "doc", "*.md")))
    bad = 0
    count = 0
    for page in pages:
        if not os.path.isfile(page):
            print(f"{os.path.relpath(page, root)}: missing")
            bad += 1
            continue
        for number, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue                       # http:, https:, mailto:
            count += 1
            file_part, _, anchor = target.partition("#")
            dest = page if not file_part else os.path.normpath(
                os.path.join(os.path.dirname(page), file_part))
            where = f"{os.path.relpath(page, root)}:{number}: {target}"
            if not os.path.exists(dest):
                print(f"{where}: no such file {os.path.relpath(dest, root)}")
                bad += 1
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                print(f"{where}: no heading #{anchor} in {os.path.relpath(dest, root)}")
                bad += 1
    print(f"{count} relative links in {len(pages)} pages, {bad} broken")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
