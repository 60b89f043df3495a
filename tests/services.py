"""What a test does when a real service it needs (nginx, redis-server, Azurite...) is missing.

On a developer's machine the test is skipped with the reason and the command
that installs the service. In CI (``CI=true``, as ``.ci/run`` sets it) a missing
service fails the run: CI installs everything it needs, so a missing service
there is a broken CI, never a reason to pass.
"""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["in_ci", "missing", "require_program"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip the test with ``reason``, or fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def require_program(program: str, install: str) -> str:
    """The path of ``program`` on PATH (or in /usr/sbin), or skip/fail naming ``install``."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        missing(f"{program} is not installed; install it with `{install}`")
        raise AssertionError("unreachable")  # pragma: no cover - missing() raises
    return path
