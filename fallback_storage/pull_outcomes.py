"""What a pull came to: each file's :class:`Outcome`, the :class:`Summary`, and the
:class:`Report` protocol progress is told through.

:func:`fallback_storage.pull.pull` returns the summary;
:mod:`fallback_storage.pull_report` prints it, and ``--json`` writes
``Summary.as_dict()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from fallback_storage.pull_selection import Item

__all__ = [
    "COPIED",
    "FAILED",
    "KEPT_LOCAL",
    "MISSING",
    "STATUSES",
    "TOO_LARGE",
    "UP_TO_DATE",
    "WOULD_COPY",
    "Outcome",
    "Report",
    "Summary",
]

COPIED = "copied"
WOULD_COPY = "would_copy"
UP_TO_DATE = "up_to_date"
KEPT_LOCAL = "kept_local"
TOO_LARGE = "too_large"
MISSING = "missing"
FAILED = "failed"
#: Every status a file can end in, in the order summaries list them.
STATUSES = (COPIED, WOULD_COPY, UP_TO_DATE, KEPT_LOCAL, TOO_LARGE, MISSING, FAILED)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one selected file.

    ``size`` is the bytes copied (or, without a copy, the size of the copy
    that decided the status); ``layer`` the lower layer read, when one was.
    """

    item: Item
    status: str
    size: int | None = None
    layer: int | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.item.name

    def as_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "storage": self.item.layers.label,
            "status": self.status,
            "bytes": self.size,
            "layer": self.layer,
        }
        return {**data, "error": self.error} if self.error is not None else data


@dataclasses.dataclass
class Summary:
    """Every file's :class:`Outcome`, the selectors that matched nothing, and the time taken."""

    outcomes: list[Outcome]
    not_found: list[str]
    dry_run: bool
    seconds: float

    def with_status(self, status: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    def totals(self) -> dict[str, dict[str, int]]:
        """Files and bytes per status."""
        totals = {status: {"files": 0, "bytes": 0} for status in STATUSES}
        for outcome in self.outcomes:
            totals[outcome.status]["files"] += 1
            totals[outcome.status]["bytes"] += outcome.size or 0
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "totals": self.totals(),
            "not_found": self.not_found,
            "files": [outcome.as_dict() for outcome in self.outcomes],
        }


class Report(Protocol):
    """Where progress goes: :mod:`fallback_storage.pull_report` has a bar, lines and silence."""

    def start(self, files: int) -> None: ...

    def advance(self, size: int) -> None:
        """``size`` more bytes were copied; called from the worker threads."""

    def finish(self, outcome: Outcome) -> None:
        """A file is done; called from the thread running :func:`~fallback_storage.pull.pull`."""

    def close(self) -> None: ...
