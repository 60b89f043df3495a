"""``fallback_storage pull`` in a process of its own: a real Ctrl+C (SIGINT), and memory held.

The interrupted pull is stopped while copies are under way (a partial copy is
seen on disk first), and must leave no file under a final name and no partial
copy; running it again finishes the job. The memory test pulls a 16 MiB object
from a moto server in this process and measures, in the pulling process, the
most memory Python held: a streamed copy holds a few chunks, never the file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from production import moto_server, over_http
from test_pull import FAULTY, fallback, files_in, on_disk, read_only, seed

__all__ = ["moto_server"]

SCRIPT = Path(__file__).with_name("pull_process.py")
MiB = 1024 * 1024


def start(
    tmp_path: Path, storages: dict[str, Any], *args: str, **config: Any
) -> subprocess.Popen[str]:
    config_path = tmp_path / f"pull-{time.monotonic_ns()}.json"
    config_path.write_text(json.dumps({"storages": storages, "args": list(args), **config}))
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=SCRIPT.parent,
    )


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def partial_copies(directory: Path) -> list[str]:
    return [path.name for path in directory.rglob(".fallback-storage-partial-*")]


def test_sigint_stops_the_pull_and_a_second_run_finishes_it(
    tmp_path: Path, local_dir: Path, prod_dir: Path
) -> None:
    content = {f"video/{n}.bin": os.urandom(MiB) for n in range(3)}  # 16 chunks each
    seed(prod_dir, content)
    started, release = tmp_path / "started", tmp_path / "release"
    held = on_disk(prod_dir, FAULTY, delay=0.1, started=str(started), hold_until=str(release))
    media = fallback(on_disk(local_dir), read_only(held))
    storages = {"default": on_disk(tmp_path), "media": media}
    process = start(tmp_path, storages, "video/", "--storage", "media", "--workers", "2")
    try:
        deadline = time.monotonic() + 60
        # Both workers' copies are under way, and held there until the interrupt is sent.
        while not (partial_copies(local_dir) and lines(started) == 2):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the two copies did not start within 60 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        release.touch()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, (out, err)
    assert err.splitlines()[-1] == (
        "CommandError: Interrupted; nothing is left half-copied. Pulled 0 file(s) (0 B) in "
        f"{err.split(' in ')[1].split(' s ')[0]} s (0 B/s). Run the same command again to pull "
        f"the rest."
    )
    assert lines(started) == 2  # no third copy started after the interrupt
    assert files_in(local_dir) == {}  # nothing under a final name, and no partial copy

    fast = read_only(on_disk(prod_dir))
    storages = {"default": on_disk(tmp_path), "media": fallback(on_disk(local_dir), fast)}
    process = start(tmp_path, storages, "video/", "--storage", "media")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.splitlines()[-1].startswith("Pulled 3 file(s) (3.0 MiB) in ")
    assert files_in(local_dir) == content


def test_a_pull_from_s3_holds_a_few_chunks_not_the_file(
    tmp_path: Path, local_dir: Path, moto_server: str
) -> None:
    # The peak includes what loading Django and botocore's service models takes; the
    # difference between pulling 16 MiB and 1 KiB is what the copy itself holds.
    objects = {"small.bin": os.urandom(1024), "big.bin": os.urandom(16 * MiB)}
    peaks = {}
    for production in over_http(moto_server, objects):
        production.before = production.snapshot()
        s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": production.options}
        lower = read_only(s3)
        storages = {"default": on_disk(tmp_path), "media": fallback(on_disk(local_dir), lower)}
        for name in objects:
            process = start(tmp_path, storages, name, "--storage", "media", trace_memory=True)
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            peaks[name] = int(err.split("peak ")[1])
        production.assert_untouched()
    held = peaks["big.bin"] - peaks["small.bin"]
    assert held < 2 * MiB, f"pulling 16 MiB held {held / MiB:.1f} MiB more than 1 KiB did"
    assert files_in(local_dir) == objects
