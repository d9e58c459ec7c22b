#!/usr/bin/env python3
"""The docs, checked (#23): every relative link in the Markdown files resolves to a file that
exists, every `#anchor` to a heading of its target (GitHub's slugs), and README.md stays a
page a newcomer reads: at most 200 lines, opening with what it is and the two commands.

    python3 scripts/check_docs.py     # exit 1 on a problem
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {"target", ".git", "node_modules", "corpus", "artifacts"}
MAX_README_LINES = 200


def markdown_files():
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith(".")]
        for f in files:
            if f.endswith(".md"):
                yield os.path.join(d, f)


def without_code(text):
    """The text with fenced blocks and inline code blanked (links there are not links)."""
    out, fence = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            out.append("")
            continue
        out.append("" if fence else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    text = without_code(open(path, encoding="utf-8").read())
    found, seen = set(), {}
    for m in re.finditer(r"^#{1,6} (.+)$", text, re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def main():
    problems = []
    for md in markdown_files():
        text = without_code(open(md, encoding="utf-8").read())
        for m in re.finditer(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
            target = m.group(1)
            if re.match(r"^[a-z]+:", target) or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            where = os.path.relpath(md, ROOT)
            if not os.path.exists(full):
                problems.append(f"{where}: link to {target}: no such file")
            elif anchor and full.endswith(".md") and anchor not in anchors(full):
                problems.append(f"{where}: link to {target}: no such heading")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    if len(readme) > MAX_README_LINES:
        problems.append(f"README.md is {len(readme)} lines (at most {MAX_README_LINES})")
    head = "\n".join(readme[:40])
    for command in ("cargo run --release -p auth-std-server", "cargo test --workspace --locked"):
        if command not in head:
            problems.append(f"README.md does not show `{command}` in its first 40 lines")
    for p in problems:
        print(p)
    if problems:
        print(f"check_docs: {len(problems)} problem(s)")
        return 1
    print("check_docs: every relative link resolves; README.md is short and opens with the two commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
