"""Benchmark ``manage.py fallback_storage pull`` against a plain boto3 download loop.

Run with ``tox -e bench-pull`` (or ``python benchmarks/pull_bench.py`` from the
repository root with the test dependencies installed). It starts a moto S3
server on 127.0.0.1 in this process, seeds a bucket with ``--files`` objects of
``--size`` bytes under ``media/``, and then, round after round, times:

* the command: ``pull media/ --storage media --workers N`` on
  ``FallbackStorage([FileSystemStorage, ReadOnlyStorage(S3Storage)])``, into an
  empty directory, the storages built afresh each round;
* a plain boto3 loop: a new session and client, ``list_objects_v2`` of the prefix, then
  ``get_object`` of every key with the same number of threads, each body
  written to a file in 64 KiB chunks.

The order alternates between rounds, so neither always runs on a warmer
machine. It prints the median time of each, the median of the per-round
ratios, and the requests each made (counted at the server). The goal is a
ratio within 1.20.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # for the counting moto server

import django  # noqa: E402
import dummy_aws  # noqa: E402, F401 - the dummy credentials, before boto3
from django.conf import settings  # noqa: E402

settings.configure(SECRET_KEY="NOTASECRET", USE_TZ=True, INSTALLED_APPS=["fallback_storage"])
django.setup()

import boto3  # noqa: E402
from counting_s3 import CountingS3Server  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

BUCKET = "pull-benchmark"
PREFIX = "media/"
CHUNK = 64 * 1024


def seed(endpoint: str, files: int, size: int) -> None:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    for index in range(files):
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}{index:04d}.bin", Body=os.urandom(size))
    client.close()


def storages_setting(endpoint: str, local: Path) -> dict[str, object]:
    s3 = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "addressing_style": "path",
        },
    }
    return {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "media": {
            "BACKEND": "fallback_storage.storage.FallbackStorage",
            "OPTIONS": {
                "backends": [
                    {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(local)},
                    },
                    {
                        "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                        "OPTIONS": {"backend": s3},
                    },
                ]
            },
        },
    }


def run_command(endpoint: str, local: Path, workers: int) -> Callable[[], None]:
    def run() -> None:
        with override_settings(STORAGES=storages_setting(endpoint, local)):
            args = ("pull", PREFIX, "--storage", "media", "--workers", str(workers))
            call_command("fallback_storage", *args, stdout=StringIO())

    return run


def run_boto3(endpoint: str, local: Path, workers: int) -> Callable[[], None]:
    def run() -> None:
        # A session of its own, as a new process has and as S3Storage builds: the default
        # session would keep botocore's loaded service model from one round to the next.
        session = boto3.session.Session()
        client = session.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=PREFIX
            )
            for item in page.get("Contents", [])
        ]

        def download(key: str) -> None:
            path = local / key
            path.parent.mkdir(parents=True, exist_ok=True)
            body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
            with open(path, "wb") as output:
                while chunk := body.read(CHUNK):
                    output.write(chunk)

        with ThreadPoolExecutor(max_workers=workers) as executor:
            list(executor.map(download, keys))
        client.close()

    return run


def timed(run: Callable[[], None], local: Path, server: CountingS3Server) -> tuple[float, int]:
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir()
    server.clear()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return seconds, len(server.to_bucket(BUCKET))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=256 * 1024, help="bytes per file")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=9)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    server = CountingS3Server()
    server.start()
    workdir = Path(tempfile.mkdtemp(prefix="pull-bench-"))
    try:
        seed(server.endpoint_url, options.files, options.size)
        local = workdir / "local"
        contenders = {
            "fallback_storage pull": run_command(server.endpoint_url, local, options.workers),
            "boto3 loop": run_boto3(server.endpoint_url, local, options.workers),
        }
        timed(contenders["boto3 loop"], local, server)  # warm-up: imports, connections
        timed(contenders["fallback_storage pull"], local, server)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        requests: dict[str, int] = {}
        for round_number in range(options.rounds):
            order = list(contenders) if round_number % 2 == 0 else list(reversed(contenders))
            for name in order:
                seconds, count = timed(contenders[name], local, server)
                times[name].append(seconds)
                requests[name] = count
                pulled = sum(1 for path in local.rglob("*") if path.is_file())
                assert pulled == options.files, f"{name} wrote {pulled} files"
        ratios = [
            pull / loop
            for pull, loop in zip(times["fallback_storage pull"], times["boto3 loop"], strict=True)
        ]
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    megabytes = options.files * options.size / 1024 / 1024
    print(
        f"{options.files} files of {options.size // 1024} KiB ({megabytes:.0f} MiB) from a moto "
        f"S3 server on 127.0.0.1, {options.workers} workers, {options.rounds} interleaved rounds"
    )
    header = ("", "median time", "S3 requests")
    rows = [header] + [
        (name, f"{statistics.median(times[name]):.3f} s", str(requests[name]))
        for name in contenders
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    border = "  ".join("=" * width for width in widths)
    for index, row in enumerate(rows):
        if index < 2:
            print(border)
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(border)
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= 1.2 else "MISSED"
    print(f"median ratio pull / boto3 loop: {ratio:.2f} (goal 1.20: {verdict})")


if __name__ == "__main__":
    main()
