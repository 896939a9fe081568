#!/usr/bin/env python3
"""Lists the longest Rust functions outside test modules (rustfmt'd code: a
`fn` line and the `}` at its indentation). Usage: longest-functions.py [N] [DIR]
Issue 22 wants none over 150 lines."""
import os, re, sys
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 15
root = sys.argv[2] if len(sys.argv) > 2 else "src"
fn = re.compile(r'^(\s*)(pub(\([a-z]+\))? )?(async )?(const )?(unsafe )?fn (\w+)')
found = []
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs") or name == "tests.rs":
            continue
        path = os.path.join(dirpath, name)
        lines = open(path).read().split("\n")
        in_tests = None
        for i, line in enumerate(lines):
            if re.match(r'^\s*#\[cfg\(test\)\]', line):
                in_tests = len(line) - len(line.lstrip())
                break_at = i
                break
        end = break_at if in_tests is not None else len(lines)
        for i in range(end):
            m = fn.match(lines[i])
            if not m:
                continue
            indent = m.group(1)
            for j in range(i, end):
                if lines[j] == indent + "}" or (j == i and lines[j].rstrip().endswith("}")):
                    found.append((j - i + 1, f"{path}:{i+1}", m.group(7)))
                    break
found.sort(reverse=True)
for length, where, name in found[:limit]:
    print(f"{length:5} {name:32} {where}")
