"""Prints the per-variant summary of ``compare.py`` at the end of the run."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Only when compare.py ran (the main suite loads this conftest too).
    compare = sys.modules.get("django_storage_tests.compare")
    if compare is None:
        return
    lines = compare.summary()
    if lines:
        terminalreporter.section("Django's storage tests, bare and wrapped")
        for line in lines:
            terminalreporter.write_line(line)
