"""Print the house: packages, their size, who imports whom, and every import circle.

    .venv/bin/python scripts/module_graph.py            # the graph between packages
    .venv/bin/python scripts/module_graph.py --modules  # and every module-level circle

Built from the code's own imports with grimp (import-linter's graph), every import counted,
also those inside functions and under TYPE_CHECKING: a circle hidden in a function is still a
circle a reader has to hold in mind. Used for the README's "before and after".
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [p for p in ("cli", "ui", "console", "actions", "screens", "widgets", "themes")
            if (ROOT / p / "__init__.py").exists()]


def room(module: str) -> str:
    """A module's package two levels deep (`console.runtime`, `ui.screens`)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (ROOT / Path(*parts)).is_dir() else parts[0]


def lines_of(module: str) -> int:
    path = ROOT / Path(*module.split("."))
    file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return sum(1 for _ in file.open(encoding="utf-8")) if file.exists() else 0


def circles(graph: grimp.ImportGraph, nodes: list[str],
            edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="list module-level circles")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES)
    modules = sorted(graph.modules)
    module_edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}
    size: Counter[str] = Counter()
    for m in modules:
        size[room(m)] += lines_of(m)
    between: dict[str, Counter[str]] = defaultdict(Counter)
    for source, targets in module_edges.items():
        for target in targets:
            if room(source) != room(target):
                between[room(source)][room(target)] += 1
    print(f"{len(modules)} modules in {len(size)} packages ({', '.join(PACKAGES)})\n")
    for name in sorted(size):
        uses = ", ".join(f"{t} {n}" for t, n in sorted(between[name].items()))
        print(f"{name:28} {size[name]:6} lines  imports: {uses or '-'}")
    room_edges = {name: set(targets) for name, targets in between.items()}
    package_circles = circles(graph, sorted(size), room_edges)
    module_circles = circles(graph, modules, module_edges)
    print(f"\npackage circles: {len(package_circles)}")
    for c in package_circles:
        print("  " + " <-> ".join(c))
    print(f"module circles: {len(module_circles)}")
    if args.modules:
        for c in module_circles:
            print("  " + " <-> ".join(c))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
