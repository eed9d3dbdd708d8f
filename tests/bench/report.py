"""Plain-text tables and verdicts for the bench's console output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def verdict(ok: bool | None) -> str:
    """``ok`` / ``MISS`` against a target, ``-`` where no target applies or nothing was measured."""
    if ok is None:
        return "-"
    return "ok" if ok else "MISS"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A fixed-width table; columns listed in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers], *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def heading(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}"


@dataclass
class Summary:
    """The run's one-line findings, each against its target."""

    lines: list[tuple[str, bool | None, str]] = field(default_factory=list)

    def add(self, what: str, ok: bool | None, detail: str) -> None:
        self.lines.append((what, ok, detail))

    def render(self) -> str:
        return table(
            ["check", "verdict", "figure (target)"], [(w, verdict(ok), d) for w, ok, d in self.lines]
        )

    def as_json(self) -> list[dict[str, Any]]:
        return [{"check": w, "ok": ok, "detail": d} for w, ok, d in self.lines]
