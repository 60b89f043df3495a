"""Import an earlier version of the package beside this one, to benchmark both in one run.

``load(ref)`` takes ``fallback_storage/`` as it was at the git ``ref`` of this
repository, writes it to a temporary directory as the package
``fallback_storage_baseline`` (every ``fallback_storage`` in its source
renamed, so signal handlers, loggers and imports never meet this version's)
and imports its ``storage`` module.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
NAME = "fallback_storage_baseline"


def load(ref: str) -> ModuleType:
    """The ``storage`` module of ``fallback_storage`` at ``ref``, imported as the baseline."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout

    commit = git("rev-parse", "--short", ref).strip()
    directory = Path(tempfile.mkdtemp(prefix=f"fallback-storage-{commit}-"))
    for path in git("ls-tree", "-r", "--name-only", ref, "fallback_storage").split():
        if not path.endswith(".py"):
            continue
        source = re.sub(r"\bfallback_storage\b", NAME, git("show", f"{ref}:{path}"))
        target = directory / NAME / Path(path).relative_to("fallback_storage")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    sys.path.insert(0, str(directory))
    return importlib.import_module(f"{NAME}.storage")
