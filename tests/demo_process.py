"""Start the example site (example/run.py) in a subprocess, as `python3 dev.py demo` does.

The demo runs under its own settings (example/demo_site/settings.py), so it is
never imported into the test process; tests talk to it over HTTP.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "example" / "run.py"
READY = re.compile(r"the demo is running at (http://\S+/)")
START_LIMIT = 120.0  # seconds; only a guard against hanging, not an assertion


@dataclass
class Demo:
    url: str
    state_dir: Path
    output: list[str] = field(default_factory=list)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=30) as response:
            body: bytes = response.read()
            return body

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.get("status.json"))
        return result


@contextmanager
def running_demo(state_dir: Path, *options: str) -> Iterator[Demo]:
    """Run the demo with its database and media in ``state_dir``; stop it on exit.

    ``options`` are more command-line options of example/run.py, e.g. ``"--http"``.
    """
    process = subprocess.Popen(
        [sys.executable, str(RUN), "--port", "0", "--state-dir", str(state_dir), *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=START_LIMIT)
            except queue.Empty:
                raise AssertionError(
                    f"the demo did not start within {START_LIMIT}s:\n{''.join(output)}"
                ) from None
            if line is None:
                raise AssertionError(f"the demo exited before serving:\n{''.join(output)}")
            match = READY.search(line)
            if match:
                url = match.group(1)
        yield Demo(url=url, state_dir=state_dir, output=output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
