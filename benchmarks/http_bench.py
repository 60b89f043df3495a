"""Benchmark production media over HTTP: this package, its peer, and a bare urllib3 request.

Run with ``tox -e bench-http`` (``python3 dev.py tox -e bench-http``), which installs
django-http-fallback-storage 1.6 from the package index into its own environment. It
starts nginx (Debian's package) on 127.0.0.1 serving a "production" media directory and
compares, on the same machine in the same run:

* ``fallback_storage``: ``FallbackStorage([FileSystemStorage, HTTPStorage])``;
* ``fallback_storage (copy_on_read)``: the same with ``copy_on_read=True``;
* ``http-fallback-storage 1.6``: ``http_fallback_storage.FallbackStorage``, configured
  as its README says (``FALLBACK_STORAGE_URL``; it downloads into ``MEDIA_ROOT``);
* ``urllib3 (limit)``: the least any of them can do: one pooled HEAD for ``exists``, one
  pooled GET for ``open+read``, a local ``FileSystemStorage.save`` for ``save`` and string
  formatting for ``url``.

For each operation it counts the requests that reached nginx (from its access log) for
one call, then times single calls in rounds, the implementations in a rotating order
within each round, and prints the median time per call and its ratio to the limit.
"Cold" means the file is not in the local layer before the call (the first page view
after a database copy): for the two that keep a local copy, the copy is removed before
every call, outside the timed part. "Again" is the same call with the copy kept.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # for tests/nginx.py

import django  # noqa: E402
from django.conf import settings  # noqa: E402

PRODUCTION_FILE = "photos/sunset.png"
PAYLOAD = bytes(range(256)) * 400  # 100 KiB


class Implementation(NamedTuple):
    label: str
    exists: Callable[[str], object]
    read: Callable[[str], object]
    save: Callable[[str], object]
    url: Callable[[str], object]
    reset: Callable[[], None]  # make "cold" true again: no local copy of the production file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per operation")
    options = parser.parse_args()
    rounds = options.rounds or (11 if options.quick else 101)
    nginx_program = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx_program is None:
        sys.exit("nginx is not installed; install it with `apt-get install -y nginx`.")

    with tempfile.TemporaryDirectory(prefix="fallback-storage-bench-") as temporary:
        root = Path(temporary)
        media = root / "production"
        (media / "photos").mkdir(parents=True)
        (media / PRODUCTION_FILE).write_bytes(PAYLOAD)
        from nginx import Nginx

        server = Nginx(nginx_program, root / "nginx", media)
        server.start()
        try:
            rows = run(server, root, rounds)
        finally:
            server.stop()
    print_table(rows)


def run(server: object, root: Path, rounds: int) -> list[tuple[str, ...]]:
    from nginx import Nginx

    assert isinstance(server, Nginx)
    origin = f"{server.url}media/"
    peer_root = root / "peer"
    peer_root.mkdir()
    settings.configure(
        SECRET_KEY="NOTASECRET",
        USE_TZ=True,
        MEDIA_ROOT=str(peer_root),
        MEDIA_URL="/media/",
        FALLBACK_STORAGE_URL=origin,
        FALLBACK_STORAGE_LOGGING=True,  # log instead of print()
    )
    django.setup()
    logging.getLogger("http_fallback_storage").setLevel(logging.WARNING)

    import urllib3
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage, Storage
    from http_fallback_storage import FallbackStorage as PeerStorage

    from fallback_storage.http import HTTPStorage
    from fallback_storage.storage import FallbackStorage

    names = (f"uploads/new-{number}.txt" for number in itertools.count())

    def read(storage: Storage, name: str) -> bytes:
        with storage.open(name) as handle:
            data: bytes = handle.read()
        return data

    def storage_implementation(
        label: str, storage: Storage, local_root: Path, reset: bool
    ) -> Implementation:
        def remove_copy() -> None:
            if reset:
                (local_root / PRODUCTION_FILE).unlink(missing_ok=True)

        return Implementation(
            label,
            storage.exists,
            lambda name: read(storage, name),
            lambda name: storage.save(next(names), ContentFile(b"new")),
            storage.url,
            remove_copy,
        )

    implementations = []
    pool = urllib3.PoolManager()
    limit_local = FileSystemStorage(location=str(root / "limit"))
    implementations.append(
        Implementation(
            "urllib3 (limit)",
            lambda name: pool.request("HEAD", origin + quote(name)).status == 200,
            lambda name: pool.request("GET", origin + quote(name)).data,
            lambda name: limit_local.save(next(names), ContentFile(b"new")),
            lambda name: origin + quote(name),
            lambda: None,
        )
    )
    for label, options in (("fallback_storage", {}), ("fallback_storage (copy_on_read)", {})):
        local_root = root / label.replace(" ", "-").replace("(", "").replace(")", "")
        local = FileSystemStorage(location=str(local_root), base_url="/media/")
        if "copy_on_read" in label:
            options = {"copy_on_read": True}
        storage = FallbackStorage(backends=[local, HTTPStorage(base_url=origin)], **options)
        implementations.append(storage_implementation(label, storage, local_root, True))
    peer = PeerStorage(location=str(peer_root), base_url="/media/")
    implementations.append(
        storage_implementation("http-fallback-storage 1.6", peer, peer_root, True)
    )

    operations: list[tuple[str, str, bool]] = [
        ("exists", "production file, cold", True),
        ("exists", "missing file", True),
        ("open+read", "production file, cold", True),
        ("open+read", "production file, again", False),
        ("save", "new name", True),
        ("url", "production file, cold", True),
    ]
    rows: list[tuple[str, ...]] = []
    for operation, case, cold in operations:
        name = "photos/missing.png" if case == "missing file" else PRODUCTION_FILE
        print(f"{operation}, {case}...", file=sys.stderr)
        calls = {
            implementation.label: _call(implementation, operation, name)
            for implementation in implementations
        }
        requests: dict[str, int] = {}
        for implementation in implementations:
            call = calls[implementation.label]
            implementation.reset()
            if not cold:
                call()  # the copy is made, if the implementation makes one
            mark = server.mark()
            call()
            requests[implementation.label] = len(server.requests(mark))
        times: dict[str, list[float]] = {label: [] for label in calls}
        for round_number in range(rounds):
            shift = round_number % len(implementations)
            for implementation in implementations[shift:] + implementations[:shift]:
                if cold:
                    implementation.reset()
                call = calls[implementation.label]
                start = time.perf_counter()
                call()
                times[implementation.label].append(time.perf_counter() - start)
        limit = statistics.median(times["urllib3 (limit)"])
        for implementation in implementations:
            median = statistics.median(times[implementation.label])
            rows.append(
                (
                    operation,
                    case,
                    implementation.label,
                    str(requests[implementation.label]),
                    _duration(median),
                    f"{median / limit:.1f}",
                )
            )
    return rows


def _call(implementation: Implementation, operation: str, name: str) -> Callable[[], object]:
    function = {
        "exists": implementation.exists,
        "open+read": implementation.read,
        "save": implementation.save,
        "url": implementation.url,
    }[operation]
    return lambda: function(name)


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("operation", "case", "implementation", "HTTP requests", "median", "x limit")
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
