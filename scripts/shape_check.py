#!/usr/bin/env python3
"""The server's shape, checked (#23): no circle between its modules, nothing back up to lib.rs,
no function over the line limit, and every file the crates' module maps name exists.

    python3 scripts/shape_check.py            # check; exit 1 on a violation
    python3 scripts/shape_check.py --report   # also print the graph and the longest functions

The import graph counts every `crate::` path in code (use lines, expressions, types, macros),
after comments and string literals are removed; `super::` paths are resolved the same way. A
module's `mod child;` declaration is not an edge. A folder's `mod.rs` re-exporting a child's
items (`pub use child::Item;`) is its face, not a dependency, and is not counted; any other path
from a parent into its child is.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "auth-std-server", "src")
CORE = os.path.join(ROOT, "auth-core", "src")
SRC = SERVER
MAX_FN_LINES = 50
# Handlers are the HTTP layer's functions with a `#[utoipa::path]`: held to ~40 lines.
MAX_HANDLER_LINES = 40


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel == ["lib"]:
        return "crate"
    if rel == ["main"]:
        return "main"
    return "::".join(rel)


def strip(text):
    """Removes comments, string and char literals, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == "b" and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(body):
    """`a::{b, c::{d}}` -> ['a::b', 'a::c::d']."""
    body = body.strip()
    m = re.match(r"^([\w:]*?)::\{(.*)\}$", body, re.S)
    if not m:
        return [re.split(r"\s+as\s+", body)[0].strip()]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p == "self":
            out.append(prefix)
        else:
            out.extend(prefix + "::" + e for e in expand_use(p))
    return out


def paths_in(code, module):
    """(path, is_reexport) for every crate path in `code`, absolute (without `crate::`)."""
    found = []
    parent = module.rsplit("::", 1)[0] if "::" in module else "crate"

    def absolute(p):
        if p.startswith("crate::"):
            return p[len("crate::"):]
        if p.startswith("super::"):
            base = "" if parent == "crate" else parent
            rest = p[len("super::"):]
            return (base + "::" + rest) if base else rest
        if p.startswith("self::"):
            base = "" if module == "crate" else module
            rest = p[len("self::"):]
            return (base + "::" + rest) if base else rest
        return None

    for m in re.finditer(r"(pub(\([\w:]+\))?\s+)?use\s+([^;]+);", code):
        reexport = m.group(1) is not None
        for p in expand_use(m.group(3)):
            a = absolute(p)
            if a is not None:
                found.append((a, reexport))
    code_wo_use = re.sub(r"(pub(\([\w:]+\))?\s+)?use\s+[^;]+;", "", code)
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", code_wo_use):
        a = absolute(m.group(1))
        if a is not None:
            found.append((a, False))
    return found


def resolve(path, modules):
    """The longest module that `path` names (or lies in)."""
    parts = path.split("::")
    for k in range(len(parts), 0, -1):
        cand = "::".join(parts[:k])
        if cand in modules:
            return cand
    return "crate"


def functions(text, path):
    """(name, start line, lines, is_handler) of every fn with a body."""
    code = strip(text)
    lines = code.split("\n")
    out = []
    tests = next((k for k, l in enumerate(lines) if re.match(r"\s*mod tests\b", l)), len(lines))
    for i, line in enumerate(lines):
        if i >= tests:
            break
        m = re.match(r"\s*(pub(\([\w:]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)", line)
        if not m:
            continue
        # Find the body's opening brace (or a `;` for a declaration).
        depth, started, j, end = 0, False, i, None
        paren = 0
        while j < len(lines):
            for ch in lines[j] if j != i else line[m.end():]:
                if ch in "([":
                    paren += 1
                elif ch in ")]":
                    paren -= 1
                elif ch == ";" and not started and paren == 0:
                    end = -1
                    break
                elif ch == "{" and paren == 0:
                    depth += 1
                    started = True
                elif ch == "}" and paren == 0:
                    depth -= 1
                    if started and depth == 0:
                        end = j
                        break
            if end is not None:
                break
            j += 1
        if end is None or end < 0:
            continue
        attrs = "\n".join(lines[max(0, i - 40):i])
        handler = "#[utoipa::path" in attrs.split("fn ")[-1] if "#[utoipa::path" in attrs else False
        out.append((m.group(6), i + 1, end - i + 1, handler))
    return out


def module_map_files():
    """Files named in the crates' `//!` module maps (`path/to/file.rs` in backticks)."""
    missing = []
    for crate in ("auth-core", "auth-std-server"):
        lib = os.path.join(ROOT, crate, "src", "lib.rs")
        names = []
        for line in open(lib, encoding="utf-8"):
            if not line.startswith("//!"):
                continue
            names += re.findall(r"`((?:src|migrations|tests|examples|benches)/[\w/.\-]+)`", line)
        if not names:
            missing.append(f"{crate}/src/lib.rs: no module map (`src/….rs` entries) in its //! docs")
        for n in names:
            if not os.path.exists(os.path.join(ROOT, crate, n)):
                missing.append(f"{crate}/src/lib.rs names `{n}`, which does not exist")
    return missing


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def graph_of(src):
    """The module graph of the crate under `src`, and the paths that run up to its lib.rs."""
    global SRC
    SRC = src
    files = []
    for d, _, fs in os.walk(src):
        files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
    modules = {module_of(f): f for f in sorted(files)}
    graph, up = {}, []
    for mod, f in modules.items():
        code = strip(open(f, encoding="utf-8").read())
        edges = graph.setdefault(mod, set())
        cut = re.search(r"^\s*mod tests\b", code, re.M)
        head, tail = (code[:cut.start()], code[cut.start():]) if cut else (code, "")
        tests_mod = "tests" if mod == "crate" else mod + "::tests"
        for path, reexport in paths_in(head, mod) + paths_in(tail, tests_mod):
            target = resolve(path, modules)
            if target == mod:
                continue
            if reexport and target.startswith(mod + "::" if mod != "crate" else ""):
                continue
            if target == "crate" and mod != "main":
                up.append(f"{os.path.relpath(f, ROOT)}: `crate::{path}` runs back up to lib.rs")
            edges.add(target)
    SRC = SERVER
    return graph, up


def main():
    report = "--report" in sys.argv
    core_graph, _ = graph_of(CORE)
    core_circles = cycles(core_graph)
    graph, problems = graph_of(SERVER)
    files = []
    for d, _, fs in os.walk(SERVER):
        files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
    files.sort()
    modules = {module_of(f): f for f in files}
    for comp in cycles(graph):
        chain = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        problems.append("import circle: " + "; ".join(chain))
    longest = []
    for mod, f in modules.items():
        for name, line, n, handler in functions(open(f, encoding="utf-8").read(), f):
            longest.append((n, f"{os.path.relpath(f, ROOT)}:{line} {name}", handler))
            limit = MAX_HANDLER_LINES if handler else MAX_FN_LINES
            if n > limit:
                kind = "handler" if handler else "function"
                problems.append(f"{os.path.relpath(f, ROOT)}:{line}: {kind} `{name}` is {n} lines (limit {limit})")
    problems += module_map_files()
    for comp in core_circles:
        chain = [f"{a} -> {b}" for a in comp for b in sorted(core_graph[a]) if b in comp]
        problems.append("auth-core import circle: " + "; ".join(chain))
    if report:
        print("== graph")
        for mod in sorted(graph):
            print(f"{mod} -> {', '.join(sorted(graph[mod])) or '-'}")
        print("== longest functions")
        for n, where, handler in sorted(longest, reverse=True)[:25]:
            print(f"{n:4} {where}{' (handler)' if handler else ''}")
        print(f"== {len(modules)} files, {sum(len(open(f).read().splitlines()) for f in files)} lines")
    for p in problems:
        print(p)
    if problems:
        print(f"shape_check: {len(problems)} problem(s)")
        return 1
    print("shape_check: no circle, nothing up to lib.rs, no function over the limit, module maps resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
