"""Benchmark a page of production images while production is unreachable.

Run with ``tox -e bench-outage`` (``python3 dev.py tox -e bench-outage``). Production
is a server on 127.0.0.1 that accepts connections and never answers (the worst
outage: no "connection refused" to fail fast on), reached through
``ReadOnlyStorage(S3Storage)`` and through ``HTTPStorage``, each with one attempt and
a ``--timeout`` of 0.5 s per request. A page reads 50 local images and 50 images only
production has, as a gallery page of a development site would.

For each kind of production layer it times the page with ``skip_unreachable_for`` at
its default (30 s: the first request that times out starts an outage, the other
production reads fail at once) and with ``None`` (every read asks production again),
and counts the connections production accepted. A second page right after the first
shows what the next page view costs while the outage lasts. The local reads are timed
on their own too, to show that they are unaffected.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # for the black-hole server

import django  # noqa: E402
import dummy_aws  # noqa: E402, F401 - the dummy credentials, before boto3
from django.conf import settings  # noqa: E402

settings.configure(SECRET_KEY="NOTASECRET", USE_TZ=True)
django.setup()

from black_hole import BlackHole  # noqa: E402
from botocore.config import Config  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage, Storage  # noqa: E402
from storages.backends.s3 import S3Storage  # noqa: E402

from fallback_storage.http import HTTPStorage  # noqa: E402
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage  # noqa: E402

IMAGES = 50


def s3_layer(endpoint_url: str, timeout: float) -> Storage:
    return ReadOnlyStorage(
        S3Storage(
            bucket_name="production",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            client_config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 1},
            ),
        )
    )


def http_layer(endpoint_url: str, timeout: float) -> Storage:
    return HTTPStorage(base_url=f"{endpoint_url}/media/", timeout=timeout, retries=0)


LAYERS: dict[str, Callable[[str, float], Storage]] = {
    "ReadOnlyStorage(S3Storage)": s3_layer,
    "HTTPStorage": http_layer,
}


def read_all(storage: Storage, names: list[str]) -> int:
    """Read every name as a page would; return how many could not be read."""
    failed = 0
    for name in names:
        try:
            with storage.open(name) as handle:
                handle.read()
        except OSError:  # LayerUnreachableError, timeouts and connection errors are all OSErrors
            failed += 1
    return failed


def page(storage: Storage, local: list[str], production: list[str]) -> dict[str, Any]:
    begin = time.perf_counter()
    local_failed = read_all(storage, local)
    local_seconds = time.perf_counter() - begin
    production_failed = read_all(storage, production)
    return {
        "seconds": time.perf_counter() - begin,
        "local_seconds": local_seconds,
        "local_failed": local_failed,
        "production_failed": production_failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=0.5, help="seconds per request")
    arguments = parser.parse_args()
    logging.getLogger("fallback_storage").setLevel(logging.ERROR)  # the outage log lines

    local_names = [f"local/{number}.jpg" for number in range(IMAGES)]
    production_names = [f"photos/{number}.jpg" for number in range(IMAGES)]
    print(
        f"A page reads {IMAGES} local and {IMAGES} production-only images; production accepts "
        f"connections and never answers; timeout {arguments.timeout} s, one attempt.\n"
    )
    print(
        f"{'production layer':28} {'skip_unreachable_for':>20} {'page':>7} {'next page':>10} "
        f"{'connections':>12} {'local reads':>12} {'failed':>7}"
    )
    with tempfile.TemporaryDirectory() as directory:
        local = FileSystemStorage(location=directory)
        for name in local_names:
            local.save(name, ContentFile(b"\x89PNG" + name.encode()))
        for label, make_layer in LAYERS.items():
            for skip in (30.0, None):
                black_hole = BlackHole()
                try:
                    storage = FallbackStorage(
                        backends=[local, make_layer(black_hole.endpoint_url, arguments.timeout)],
                        skip_unreachable_for=skip,
                    )
                    first = page(storage, local_names, production_names)
                    following = page(storage, local_names, production_names)
                    black_hole.reaches(black_hole.accepted)  # let the server count
                    connections = black_hole.accepted
                finally:
                    black_hole.close()
                failed = f"{first['production_failed']}/{IMAGES}"
                assert first["local_failed"] == following["local_failed"] == 0
                print(
                    f"{label:28} {str(skip):>20} {first['seconds']:6.2f}s "
                    f"{following['seconds']:9.2f}s {connections:>12} "
                    f"{first['local_seconds'] * 1000:10.1f}ms {failed:>7}"
                )
    print(
        "\npage: the first page after production went away; next page: the one after it; "
        "connections: accepted by production over both pages; local reads: the 50 local "
        "images of the first page."
    )


if __name__ == "__main__":
    main()
