"""The demo's clock: history written "in the past" through the real services.

Every service stamps what it writes with ``chalicelib.messages.utcnow`` (imported by name into each
module). While ``DemoClock.at(when)`` is active, that name in every loaded ``chalicelib`` module
answers ``when`` instead, so a conversation closed "three days ago" has the timestamps such a
conversation has in production, written by the same code. Wall-clock ``time.time()`` (TTLs,
tokens, caches) is left alone. Only for seeding, in one thread, before the stack serves requests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


def _import_services() -> None:
    """Every ``chalicelib`` module, now: the app imports services on first use (``chalicelib.lazy``),
    and one first imported inside ``at()`` would keep the real clock for that block."""
    import importlib
    import pkgutil

    import chalicelib

    for info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        if not info.name.endswith(("__main__", ".evaluate")):
            importlib.import_module(info.name)


class DemoClock:
    """``now`` is fixed when the demo starts, so every relative time in one seeding agrees."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self._imported = False

    def ago(self, minutes: float) -> datetime:
        return self.now - timedelta(minutes=minutes)

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        """Services see ``when`` as the current time inside this block."""
        from chalicelib import messages

        if not self._imported:  # once, and only when history is written (not for DEMO=team)
            _import_services()
            self._imported = True

        real: Callable[[], datetime] = messages.utcnow

        def fake() -> datetime:
            return when

        patched = [
            module
            for name, module in list(sys.modules.items())
            if (name == "chalicelib" or name.startswith("chalicelib."))
            and getattr(module, "utcnow", None) is real
        ]
        for module in patched:
            module.utcnow = fake  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for module in patched:
                module.utcnow = real  # type: ignore[attr-defined]
