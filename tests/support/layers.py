"""Circles between the files of one package, read from grimp's import graph (the graph
import-linter checks; imports inside functions count). Used by tests/unit/test_layers.py."""

from __future__ import annotations

import sys

import grimp


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of a small directed graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def sibling_circles(graph: grimp.ImportGraph, root: str) -> list[list[str]]:
    """Every set of modules directly inside one package (``root`` and each package below it) that
    import each other in a circle; a subpackage counts as one module with everything inside it."""
    circles: list[list[str]] = []
    packages = sorted(m for m in graph.modules if m.split(".")[0] == root and graph.find_children(m))
    for package in packages:
        children = sorted(graph.find_children(package))

        def owner(module: str, children: list[str] = children) -> str | None:
            return next((c for c in children if module == c or module.startswith(c + ".")), None)

        edges: dict[str, set[str]] = {c: set() for c in children}
        for child in children:
            for module in {child} | graph.find_descendants(child):
                for imported in graph.find_modules_directly_imported_by(module):
                    target = owner(imported)
                    if target is not None and target != child:
                        edges[child].add(target)
        circles += [sorted(c) for c in _strongly_connected(edges) if len(c) > 1]
    return circles


if __name__ == "__main__":  # python -m tests.support.layers chalicelib: print the circles, one a line
    for circle in sibling_circles(grimp.build_graph(sys.argv[1]), sys.argv[1]):
        print(" <-> ".join(circle))
