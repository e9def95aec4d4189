#!/usr/bin/env python3
"""Lists import circles between the files of each crate: file A `use crate::b…` and file B `use crate::a…`
(directly or through other files). Exit status 1 when there is one. Usage: scripts/import-cycles.py [CRATE_DIR…]"""
import re
import sys
from pathlib import Path

USE = re.compile(r"(?:^|[^\w:])crate::((?:\w+::)*\w+)")


def module_of(src: Path, file: Path) -> str:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def graph(src: Path) -> dict:
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    edges = {m: set() for m in files}
    for module, file in files.items():
        text = file.read_text()
        # Only what the file itself uses: test modules are left out.
        text = text.split("#[cfg(test)]")[0]
        # Comments (doc links among them) are not imports.
        text = "\n".join(line.split("//")[0] for line in text.splitlines())
        for path in USE.findall(text):
            segments = path.split("::")
            # The longest prefix that names a file of this crate.
            for n in range(len(segments), 0, -1):
                target = "::".join(segments[:n])
                if target in files and target != module and not module.startswith(target + "::") and target:
                    edges[module].add(target)
                    break
    return edges


def cycles(edges: dict) -> list:
    found, seen = [], set()
    for start in sorted(edges):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges.get(node, ())):
                if nxt == start and len(path) > 1:
                    key = frozenset(path)
                    if key not in seen:
                        seen.add(key)
                        found.append(path + [start])
                elif nxt not in path and nxt > start:
                    stack.append((nxt, path + [nxt]))
    return found


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in sys.argv[1:]] or [p.parent for p in root.glob("*/Cargo.toml")]
    bad = 0
    for crate in sorted(crates):
        src = crate / "src"
        if not src.is_dir():
            continue
        for cycle in cycles(graph(src)):
            bad += 1
            print(f"{crate.name}: " + " -> ".join(cycle))
    if not bad:
        print("no import circles between files")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
