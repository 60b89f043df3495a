"""How a pull reports: a progress bar on a terminal, plain lines elsewhere, and its verdict.

The bar is tqdm's (the ``pull`` extra: ``pip install django-fallback-storage[pull]``):
files done of the total, bytes copied, the byte rate and the time left. Without
a terminal, or without tqdm, every finished file is one line. With ``--json``
nothing is printed until the summary. :func:`verdict` turns a summary into
the command's exit code and message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import OutputWrapper

from fallback_storage.pull_outcomes import (
    COPIED,
    FAILED,
    KEPT_LOCAL,
    MISSING,
    TOO_LARGE,
    UP_TO_DATE,
    WOULD_COPY,
    Outcome,
    Report,
    Summary,
)

__all__ = [
    "OK",
    "NOT_FOUND",
    "SOME_FAILED",
    "BarReport",
    "LineReport",
    "for_command",
    "format_bytes",
    "interrupted",
    "summary_line",
    "verdict",
]

OK = 0
NOT_FOUND = 1
SOME_FAILED = 3

_LABELS = {
    COPIED: "copied",
    WOULD_COPY: "would copy",
    UP_TO_DATE: "up to date",
    KEPT_LOCAL: "kept local copy",
    TOO_LARGE: "too large",
    MISSING: "missing",
    FAILED: "failed",
}
_REFRESH_SECONDS = 0.25


def format_bytes(size: float) -> str:
    """``262144`` as ``256.0 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def line(outcome: Outcome) -> str:
    """One finished file: ``copied photos/a.jpg (256.0 KiB from layer 1)``."""
    text = f"{_LABELS[outcome.status]} {outcome.name}"
    details = []
    if outcome.size is not None and outcome.status != MISSING:
        details.append(format_bytes(outcome.size))
    if outcome.layer is not None:
        details.append(f"layer {outcome.layer}")
    text += f" ({', '.join(details)})" if details else ""
    return f"{text}: {outcome.error}" if outcome.error else text


def summary_line(summary: Summary) -> str:
    """``Pulled 198 files (49.5 MiB) in 3.2 s (15.5 MiB/s); up to date 2, ...``."""
    totals = summary.totals()
    done = WOULD_COPY if summary.dry_run else COPIED
    seconds = max(summary.seconds, 1e-9)
    head = (
        f"{'Would pull' if summary.dry_run else 'Pulled'} {totals[done]['files']} file(s) "
        f"({format_bytes(totals[done]['bytes'])})"
    )
    if not summary.dry_run:
        rate = format_bytes(totals[COPIED]["bytes"] / seconds)
        head += f" in {summary.seconds:.1f} s ({rate}/s)"
    others = [
        f"{_LABELS[status]} {totals[status]['files']}"
        for status in (UP_TO_DATE, KEPT_LOCAL, TOO_LARGE, MISSING, FAILED)
        if totals[status]["files"]
    ]
    return f"{head}; {', '.join(others)}." if others else f"{head}."


def verdict(summary: Summary) -> tuple[int, str]:
    """The exit code and, when it is not 0, the one-sentence message of the command."""
    failed = summary.with_status(FAILED)
    if failed:
        return SOME_FAILED, (
            f"{len(failed)} file(s) could not be pulled, the first {failed[0].name!r} with "
            f"{failed[0].error}; run the same command again to retry them (files pulled "
            f"already are skipped)."
        )
    missing = [outcome.name for outcome in summary.with_status(MISSING)]
    if summary.not_found or missing:
        wanted = ", ".join(repr(text) for text in [*summary.not_found, *missing][:5])
        return NOT_FOUND, (
            f"No lower layer has {wanted}"
            f"{' and more' if len(summary.not_found) + len(missing) > 5 else ''}; check the "
            f"names with 'manage.py fallback_storage ls' (files in the writable layer only "
            f"have nothing to pull)."
        )
    return OK, ""


class LineReport:
    """One line per finished file, through ``write``."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self.write = write

    def start(self, files: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def finish(self, outcome: Outcome) -> None:
        self.write(line(outcome))

    def close(self) -> None:
        pass


class BarReport:
    """A tqdm bar on ``stream``: files done, bytes, byte rate, time left; problems above it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.copied = 0
        self.started = time.monotonic()
        self.refreshed = 0.0
        self.bar: Any = None

    def start(self, files: int) -> None:
        from tqdm import tqdm

        self.started = time.monotonic()
        self.bar = tqdm(
            total=files,
            unit="file",
            file=self.stream,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} files [{elapsed}<{remaining}{postfix}]",
            postfix=self._postfix(),
        )

    def _postfix(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return f"{format_bytes(self.copied)}, {format_bytes(self.copied / seconds)}/s"

    def advance(self, size: int) -> None:
        with self.lock:
            self.copied += size
            now = time.monotonic()
            if now - self.refreshed < _REFRESH_SECONDS:
                return
            self.refreshed = now
            self.bar.set_postfix_str(self._postfix(), refresh=True)

    def finish(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.status in (TOO_LARGE, MISSING, FAILED):
                self.bar.write(line(outcome), file=self.stream)
            self.bar.set_postfix_str(self._postfix(), refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        with self.lock:
            self.bar.set_postfix_str(self._postfix(), refresh=False)
            self.bar.close()


def for_command(stdout: OutputWrapper, stderr: OutputWrapper, *, quiet: bool) -> Report | None:
    """A bar when ``stdout`` is a terminal and tqdm is installed, else lines; None if quiet."""
    if quiet:
        return None
    if stdout.isatty():
        try:
            import tqdm  # noqa: F401
        except ImportError:
            stderr.write(
                "No progress bar: tqdm is not installed; install it with "
                "pip install 'django-fallback-storage[pull]'."
            )
        else:
            return BarReport(_Terminal(stdout))
    return LineReport(stdout.write)


def interrupted(summary: Summary) -> str:
    """The message of a pull stopped by Ctrl+C."""
    return (
        f"Interrupted; nothing is left half-copied. {summary_line(summary)} Run the same "
        f"command again to pull the rest."
    )


class _Terminal:
    """A command's stdout as a file for tqdm, which draws with carriage returns."""

    def __init__(self, stdout: OutputWrapper) -> None:
        self.stdout = stdout

    def write(self, text: str) -> None:
        self.stdout.write(text, ending="")

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.stdout, attribute)
