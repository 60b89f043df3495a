"""Benchmark FallbackStorage([FileSystemStorage, ReadOnlyStorage(S3Storage)]) against its backends.

Run with ``tox -e bench`` (or ``python benchmarks/bench.py`` from the
repository root with the test dependencies installed). It starts a moto S3
server on 127.0.0.1 in this process, talks to it over HTTP with the real
django-storages ``S3Storage`` and dummy credentials, and counts the requests
the server received. For each operation and case it times the cheapest
direct call of the serving backend and the same call through
``FallbackStorage``, in alternating batches, and prints the median time per
call of each, the median of the per-round ratios, and the S3 requests of one
call each way (after a warm-up call, so with the cache on it is the repeated
call that is counted).

"Direct" is: for a local hit, ``FileSystemStorage`` (for ``url``, its
``exists()`` plus ``url()``, which the dispatch rule needs); for a production
hit or a miss, ``S3Storage``; for ``listdir``, both backends' ``listdir``;
for ``save``, ``FileSystemStorage.save``.

With ``--baseline REF`` (a git ref of this repository), the package as it was
at that ref is imported beside this one (``benchmarks/baseline.py``) and timed
in the same rounds, so the table shows this version's ratio and the
baseline's side by side, and the S3 requests of both.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # for the counting moto server

import django  # noqa: E402
import dummy_aws  # noqa: E402, F401 - the dummy credentials, before boto3
from django.conf import settings  # noqa: E402

settings.configure(SECRET_KEY="NOTASECRET", USE_TZ=True)
django.setup()

import baseline  # noqa: E402
import boto3  # noqa: E402
from counting_s3 import CountingS3Server  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage, Storage  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.s3.models import s3_backends  # noqa: E402
from storages.backends.s3 import S3Storage  # noqa: E402

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage  # noqa: E402

Call = Callable[[], object]


def read(storage: Storage, name: str) -> bytes:
    with storage.open(name) as handle:
        data: bytes = handle.read()
    return data


def swallow(function: Call) -> Call:
    """Misses raise; the benchmark times the raising call."""

    def call() -> object:
        try:
            return function()
        except Exception as error:  # noqa: BLE001
            return error

    return call


class Case(NamedTuple):
    operation: str
    case: str
    direct: Call
    # This version's FallbackStorage, then the baseline's when there is one.
    through: tuple[Call, ...]
    target: bool = False
    rounds: int = 0
    batch: int = 0
    warm: bool = True


class Timing(NamedTuple):
    seconds: list[float]  # median seconds per call: direct, then each of Case.through
    ratios: list[float]  # median per-round ratio to direct, for each of Case.through
    requests: list[int]  # S3 requests of one call: direct, then each of Case.through


def timed(
    functions: tuple[Call, ...],
    rounds: int,
    batch: int,
    warm: bool,
    server: CountingS3Server,
    bucket: str,
) -> Timing:
    """Median seconds per call of each function, median per-round ratios to the first one,
    and the S3 requests of one call of each.

    The requests are those of one call each way: the one after the warm-up
    call (with the cache on: a repeated call), or the timed one without warm-up.
    Each round times every function in a rotated order, so none always goes first.
    """
    counts = []
    for function in functions:
        if warm:
            function()
        server.clear()
        function()
        counts.append(len(server.to_bucket(bucket)))
    times: list[list[float]] = [[] for _ in functions]
    ratios: list[list[float]] = [[] for _ in functions[1:]]
    for round_number in range(rounds):
        this_round = [0.0] * len(functions)
        for offset in range(len(functions)):
            index = (round_number + offset) % len(functions)
            start = time.perf_counter()
            for _ in range(batch):
                functions[index]()
            this_round[index] = (time.perf_counter() - start) / batch
        for index, seconds in enumerate(this_round):
            times[index].append(seconds)
        for index, seconds in enumerate(this_round[1:]):
            ratios[index].append(seconds / this_round[0])
    return Timing(
        [statistics.median(each) for each in times],
        [statistics.median(each) for each in ratios],
        counts,
    )


def build_cases(storages: tuple[Storage, ...], local: Storage, s3: Storage) -> list[Case]:
    cases: list[Case] = []
    for case, name, serving in (
        ("local hit", "local.txt", local),
        ("production hit", "prod.txt", s3),
        ("miss", "missing.txt", s3),
    ):
        first = case == "local hit"
        operations: dict[str, Callable[[Storage, str], object]] = {
            "exists": lambda target, name: target.exists(name),
            "url": lambda target, name: target.url(name),
            "open+read": read,
            "size": lambda target, name: target.size(name),
            "get_modified_time": lambda target, name: target.get_modified_time(name),
        }
        for operation, function in operations.items():
            direct = swallow(partial(function, serving, name))
            if first and operation == "url":
                # The rule must ask the first backend, so exists() + url() is the floor.
                direct = partial(
                    lambda target, name: (target.exists(name), target.url(name)), local, name
                )
            through = tuple(swallow(partial(function, each, name)) for each in storages)
            cases.append(Case(operation, case, direct, through, first))
    return cases


def extra_cases(
    storages: tuple[Storage, ...],
    two_locals: tuple[Storage, ...],
    local: Storage,
    second: Storage,
    s3: Storage,
    listing_sizes: tuple[int, ...],
    s3_listing_size: int,
    local_rounds: int,
    with_s3_listing: bool,
) -> list[Case]:
    cases: list[Case] = []
    for size in listing_sizes:
        path = f"listing-{size}"
        cases.append(
            Case(
                "listdir",
                f"2 local layers, {size:,} + {size:,}",
                partial(lambda path: (local.listdir(path), second.listdir(path)), path),
                tuple(partial(each.listdir, path) for each in two_locals),
                rounds=max(5, local_rounds // 10),
                batch=max(1, 100_000 // (size * 10)),
            )
        )
    if with_s3_listing:
        # moto takes seconds to list 1,000 keys, so this one is timed once, unwarmed.
        cases.append(
            Case(
                "listdir",
                f"local + S3, {s3_listing_size:,} + {s3_listing_size:,}",
                lambda: (local.listdir("s3-listing"), s3.listdir("s3-listing")),
                tuple(partial(each.listdir, "s3-listing") for each in storages),
                rounds=1,
                batch=1,
                warm=False,
            )
        )
    counter = iter(range(10**9))
    cases.append(
        Case(
            "save",
            "new name",
            lambda: local.save(f"saved/direct-{next(counter)}.txt", ContentFile(b"s")),
            tuple(
                partial(
                    lambda each: each.save(
                        f"saved/fallback-{next(counter)}.txt", ContentFile(b"s")
                    ),
                    each,
                )
                for each in storages
            ),
        )
    )
    return cases


def seed_local_listing(root: Path, prefix: str, count: int) -> None:
    directory = root / prefix
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (directory / f"{root.name}-{number:05}.txt").write_bytes(b"x")


def seed_s3_listing(bucket: str, prefix: str, count: int) -> None:
    # Straight into moto's in-process backend, which the server serves: a PUT over
    # HTTP costs tens of milliseconds in moto, and seeding is not what is measured.
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for number in range(count):
        backend.put_object(bucket, f"{prefix}/prod-{number:05}.txt", b"x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and entries")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also time the package as it was at this git ref, e.g. a release tag",
    )
    options = parser.parse_args()
    old: ModuleType | None = baseline.load(options.baseline) if options.baseline else None
    local_rounds, local_batch = (31, 50) if options.quick else (201, 100)
    s3_rounds, s3_batch = (3, 3) if options.quick else (7, 10)
    listing_sizes = (100, 1_000) if options.quick else (1_000, 10_000)
    s3_listing_size = 100 if options.quick else 1_000

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = CountingS3Server()
    server.start()
    bucket = f"production-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="prod.txt", Body=b"p" * 1024)

    def s3() -> S3Storage:
        return S3Storage(
            bucket_name=bucket,
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            addressing_style="path",
        )

    with tempfile.TemporaryDirectory() as temporary:
        local_dir = Path(temporary) / "local"
        second_dir = Path(temporary) / "second"
        local = FileSystemStorage(location=str(local_dir), base_url="/media/")
        second = FileSystemStorage(location=str(second_dir), base_url="/second/")
        local.save("local.txt", ContentFile(b"l" * 1024))
        direct_s3 = s3()
        print("seeding the listings...", file=sys.stderr)
        for size in listing_sizes:
            seed_local_listing(local_dir, f"listing-{size}", size)
            seed_local_listing(second_dir, f"listing-{size}", size)
        seed_s3_listing(bucket, "s3-listing", s3_listing_size)
        seed_local_listing(local_dir, "s3-listing", s3_listing_size)
        two_locals: tuple[Storage, ...] = (FallbackStorage(backends=[local, second]),)
        if old is not None:
            two_locals += (old.FallbackStorage(backends=[local, second]),)

        rows: list[tuple[str, ...]] = []
        for cache in ("off", "on"):
            timeout = None if cache == "off" else 300
            storages: tuple[Storage, ...] = (
                FallbackStorage(backends=[local, ReadOnlyStorage(s3())], cache_timeout=timeout),
            )
            if old is not None:
                storages += (
                    old.FallbackStorage(
                        backends=[local, old.ReadOnlyStorage(s3())], cache_timeout=timeout
                    ),
                )
            cases = build_cases(storages, local, direct_s3)
            cases += extra_cases(
                storages,
                two_locals,
                local,
                second,
                direct_s3,
                listing_sizes,
                s3_listing_size,
                local_rounds,
                with_s3_listing=cache == "off",
            )

            for case in cases:
                print(f"cache {cache}: {case.operation}, {case.case}...", file=sys.stderr)
                if case.case == "local hit":
                    rounds, batch = local_rounds, local_batch
                else:
                    rounds, batch = case.rounds or s3_rounds, case.batch or s3_batch
                server.clear()
                timing = timed(
                    (case.direct, *case.through), rounds, batch, case.warm, server, bucket
                )
                verdict = ""
                if case.target:
                    verdict = "ok" if timing.ratios[0] <= 1.10 else "MISSED"
                rows.append(
                    (
                        case.operation,
                        case.case,
                        cache,
                        _duration(timing.seconds[0]),
                        _duration(timing.seconds[1]),
                        f"{timing.ratios[0]:.2f}",
                        *([f"{timing.ratios[1]:.2f}"] if old is not None else []),
                        *(str(count) for count in timing.requests),
                        verdict,
                    )
                )
    server.stop()
    with_old = old is not None
    _print_table(
        (
            "operation",
            "case",
            "cache",
            "direct",
            "FallbackStorage",
            "ratio",
            *(["baseline ratio"] if with_old else []),
            "S3 req direct",
            "S3 req fallback",
            *(["S3 req baseline"] if with_old else []),
            "<=1.10",
        ),
        rows,
    )
    if with_old:
        print(f"baseline: fallback_storage at {options.baseline}")


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("=" * width for width in widths)
    print(rule)
    for line in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
        if line is header:
            print(rule)
    print(rule)


if __name__ == "__main__":
    main()
