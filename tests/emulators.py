"""Azurite and gcp-storage-emulator, started on free loopback ports and stopped by fixtures.

Not a test module: the Azure and Google Cloud Storage tests import from it. Each emulator
runs in its own process, and its request log (Azurite's debug log, the GCS emulator's access
log on stderr) is an independent record of every request that reached it: nothing in it goes
through ``fallback_storage``, so a write the guards failed to see still shows up there.

Azurite is found on PATH (``azurite-blob``), at ``$FALLBACK_STORAGE_AZURITE``, or in the npm
cache directory ``.ci/run`` installs it into (``~/.cache/django-fallback-storage/azurite``).
A missing emulator skips the tests on a developer machine and fails them under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from services import missing

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "OTHER_ACCOUNT",
    "Emulator",
    "azurite_program",
    "start_azurite",
    "start_gcs_emulator",
]

# Azurite's well-known development account and key (public, in Azure's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# A second account on the same Azurite, with a made-up key.
OTHER_ACCOUNT = "otheraccount"
OTHER_KEY = "b3RoZXJhY2NvdW50LWR1bW15LWtleS1mb3ItdGVzdHMtb25seS1ub3QtYS1zZWNyZXQ="
AZURITE_CACHE = Path.home() / ".cache" / "django-fallback-storage" / "azurite"
INSTALL_AZURITE = f"npm install --prefix {AZURITE_CACHE} azurite@3"
_AZURITE_LOG_LINE = re.compile(r"RequestMethod=(\w+) RequestURL=(\S+)")
_GCS_LOG_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/1\.[01]"')


@dataclasses.dataclass
class Emulator:
    """A running emulator: its base URL and its request log."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]
    pattern: re.Pattern[str]
    sentinel_prefix: str = ""

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def mark(self) -> int:
        """The end of the request log once every request sent so far is in it.

        Azurite writes its log asynchronously, so a sentinel request (a GET of a
        name nothing has) is sent and waited for.
        """
        sentinel = f"{self.sentinel_prefix}fallback-storage-sentinel-{uuid.uuid4().hex}"
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{self.url}/{sentinel}", timeout=10).close()
        deadline = time.monotonic() + 10
        while True:
            content = self.log.read_bytes()
            found = content.find(sentinel.encode())
            if found >= 0:
                end = content.find(b"\n", found)
                return len(content) if end < 0 else end + 1
            if time.monotonic() > deadline:
                raise AssertionError(f"the request log {self.log} never showed {sentinel!r}")
            time.sleep(0.02)

    def requests(self, since: int = 0) -> list[tuple[str, str]]:
        """``(method, unquoted path and query)`` of every request logged after ``since``."""
        end = self.mark()
        with self.log.open("rb") as log:
            log.seek(since)
            text = log.read(end - since).decode("utf-8", "replace")
        return [
            (
                method,
                unquote(urlsplit(url).path) + (f"?{urlsplit(url).query}" if "?" in url else ""),
            )
            for method, url in self.pattern.findall(text)
            if "fallback-storage-sentinel-" not in url
        ]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung emulator
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(emulator: Emulator, probe: str, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            break
        try:
            urllib.request.urlopen(probe, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    logs = sorted(emulator.log.parent.glob(f"*{emulator.port}.*"))
    output = " ".join(log.read_text(errors="replace")[-2000:] for log in logs)
    emulator.stop()
    missing(f"{name} did not start on {emulator.url}: {output}")


def azurite_program() -> str | None:
    candidates = [
        os.environ.get("FALLBACK_STORAGE_AZURITE"),
        shutil.which("azurite-blob"),
        str(AZURITE_CACHE / "node_modules" / ".bin" / "azurite-blob"),
    ]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def start_azurite(workdir: Path) -> Iterator[Emulator]:
    """Azurite's blob service, in memory, with :data:`AZURITE_ACCOUNT` and :data:`OTHER_ACCOUNT`."""
    program = azurite_program()
    if program is None:
        missing(f"Azurite is not installed; install it with `{INSTALL_AZURITE}`")
        raise AssertionError("unreachable")  # pragma: no cover - missing() raises
    port = _free_port()
    log = workdir / f"azurite-{port}.log"
    log.touch()
    output = (workdir / f"azurite-{port}.out").open("wb")
    environment = {
        **os.environ,
        "AZURITE_ACCOUNTS": f"{AZURITE_ACCOUNT}:{AZURITE_KEY};{OTHER_ACCOUNT}:{OTHER_KEY}",
    }
    process = subprocess.Popen(
        [
            program,
            "--inMemoryPersistence",
            "--loose",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--debug",
            str(log),
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=workdir,
    )
    output.close()
    emulator = Emulator(
        f"http://127.0.0.1:{port}", log, process, _AZURITE_LOG_LINE, f"{AZURITE_ACCOUNT}/"
    )
    _wait_until_up(emulator, f"{emulator.url}/{AZURITE_ACCOUNT}?comp=list", "Azurite")
    try:
        yield emulator
    finally:
        emulator.stop()


def start_gcs_emulator(workdir: Path) -> Iterator[Emulator]:
    """gcp-storage-emulator, in memory, in a subprocess logging every request to a file."""
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        missing(
            "gcp-storage-emulator is not installed; install it with "
            "`pip install gcp-storage-emulator`"
        )
    port = _free_port()
    log = workdir / f"gcs-emulator-{port}.log"
    handle = log.open("wb")
    # Coverage measures the processes tests start (its subprocess patch puts its settings in
    # the environment); the emulator is not code of this package, and traced it runs at half
    # speed, so it starts without them.
    untraced = {
        name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=untraced,
    )
    handle.close()
    emulator = Emulator(
        f"http://127.0.0.1:{port}", log, process, _GCS_LOG_LINE, "fallback-storage/"
    )
    _wait_until_up(emulator, f"{emulator.url}/", "gcp-storage-emulator")
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from start_azurite(tmp_path_factory.mktemp("azurite"))


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from start_gcs_emulator(tmp_path_factory.mktemp("gcs-emulator"))
