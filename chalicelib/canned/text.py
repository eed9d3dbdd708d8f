"""Pure helpers for canned replies: the variables a body may use, filling them in, and ranking
replies against what the agent types. No I/O: unit-tested without AWS.

Rendering is one regex substitution in a single pass, never a template engine: nothing in a body
is evaluated, and a value that itself looks like ``{{agent.name}}`` is inserted as plain text,
not expanded again. A variable with no value (the customer has no name on record, no order was
found) is **left visible as written** — ``{{order.number}}`` — and listed in ``missing``, so the
agent sees the gap before sending instead of a sentence with a hole in it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

VARIABLES: dict[str, str] = {
    "customer.name": "the customer's name",
    "customer.phone": "the customer's (first verified) phone number",
    "customer.email": "the customer's (first verified) e-mail address",
    "agent.name": "the signed-in agent's display name",
    "order.number": "the order number (given, or the customer's latest order)",
    "order.status": "that order's status",
    "order.total": "that order's total with its currency",
    "order.carrier": "that order's parcel carrier",
    "order.tracking_number": "that order's tracking number",
}

# {{ name }} with optional spaces; names are dotted lower-case words (matched case-insensitively).
VARIABLE = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)\s*\}\}")


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: tuple[str, ...]  # variables left as written because they had no value


def variables_in(body: str) -> list[str]:
    """The variable names a body uses, in order of first use, lower-cased."""
    return list(dict.fromkeys(m.group(1).lower() for m in VARIABLE.finditer(body)))


def unknown_variables(body: str) -> list[str]:
    """Variable names a body uses that Omniflow cannot fill (typos, mostly)."""
    return [v for v in variables_in(body) if v not in VARIABLES]


def render(body: str, variables: Mapping[str, str | None]) -> Rendered:
    """Fill ``{{name}}`` from ``variables``; leave names without a value as written."""
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        name = m.group(1).lower()
        value = variables.get(name)
        if value is None or value == "":
            if name not in missing:
                missing.append(name)
            return m.group(0)
        return str(value)

    return Rendered(VARIABLE.sub(fill, body), tuple(missing))


# ---- search ---------------------------------------------------------------------------------------
def fold(text: str) -> str:
    """Case- and width-insensitive form: NFKC turns full-width "／ＲＥＦＵＮＤ" (a Chinese input
    method's) into "/refund", casefold handles case (and ß, etc.)."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Searchable:
    title: str
    body: str
    shortcut: str | None = None
    tags: tuple[str, ...] = ()
    use_count: int = 0


SHORTCUT_EXACT, SHORTCUT_PREFIX, IN_TITLE, IN_TAGS, IN_BODY, EVERYTHING = range(6)


def score(doc: Searchable, query: str) -> tuple[int, int, str] | None:
    """Sort key of ``doc`` for ``query`` (lower first), or None if it does not match.

    Every whitespace-separated term must occur (as a substring, so Chinese needs no word
    splitting) in the title, shortcut, tags or body. Ranked: shortcut equal to the query, shortcut
    starting with it ("/ref" finds "/refund"; the leading "/" is optional), all terms in the
    title, in the tags, elsewhere; then the most used; then by title.
    """
    q = fold(query).strip()
    tiebreak = (-int(doc.use_count or 0), fold(doc.title))
    if not q:
        return (EVERYTHING, *tiebreak)
    terms = q.split()
    title, shortcut, body = fold(doc.title), fold(doc.shortcut or ""), fold(doc.body)
    tags = [fold(t) for t in doc.tags]
    haystack = "\n".join([title, shortcut, body, *tags])
    if not all(t in haystack for t in terms):
        return None
    if shortcut and len(terms) == 1:
        wanted = q if q.startswith("/") else f"/{q}"
        if shortcut == wanted:
            return (SHORTCUT_EXACT, *tiebreak)
        if shortcut.startswith(wanted):
            return (SHORTCUT_PREFIX, *tiebreak)
    if all(t in title for t in terms):
        return (IN_TITLE, *tiebreak)
    if all(any(t in tag for tag in tags) for t in terms):
        return (IN_TAGS, *tiebreak)
    return (IN_BODY, *tiebreak)


def rank(items: Iterable[tuple[Searchable, T]], query: str) -> list[T]:
    """The items matching ``query``, best first (see ``score``)."""
    scored = [(s, item) for doc, item in items if (s := score(doc, query)) is not None]
    scored.sort(key=lambda pair: pair[0])
    return [item for _, item in scored]
