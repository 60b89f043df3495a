"""``manage.py fallback_storage pull``: copies from S3 (moto over HTTP) and disk, reads only there.

What is checked is what a developer sees: the files and bytes in the local
directory, the lines and JSON printed, the exit code, and, at the moto server,
that only GET and HEAD reached the production bucket and that its listing
(keys, ETags, LastModified), read with a separate client, is unchanged.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.test import override_settings
from production import Production, moto_server, over_http
from pull_sources import FaultyStorage

from fallback_storage.copying import CHUNK_SIZE

__all__ = ["moto_server"]

FALLBACK = "fallback_storage.storage.FallbackStorage"
READ_ONLY = "fallback_storage.storage.ReadOnlyStorage"
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
FAULTY = "pull_sources.FaultyStorage"
OBJECTS = {
    "photos/1.jpg": b"1" * 1000,
    "photos/2.jpg": b"2" * 2000,
    "photos/deep/3.jpg": b"3" * 3000,
    "docs/report.pdf": b"%PDF" * 100,
    "docs/notes.txt": b"notes",
    "top.txt": b"top",
}


def pull(*args: str) -> tuple[int, str, str]:
    """Run the command; return its exit code, its output and its error message."""
    out = StringIO()
    try:
        call_command("fallback_storage", "pull", *args, stdout=out, stderr=StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), ""


def on_disk(path: Path, backend: str = FILE_SYSTEM, **options: Any) -> dict[str, Any]:
    return {"BACKEND": backend, "OPTIONS": {"location": str(path), **options}}


def read_only(entry: dict[str, Any]) -> dict[str, Any]:
    return {"BACKEND": READ_ONLY, "OPTIONS": {"backend": entry}}


def fallback(*backends: object, **options: Any) -> dict[str, Any]:
    return {"BACKEND": FALLBACK, "OPTIONS": {"backends": list(backends), **options}}


def files_in(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``, partial copies included, by relative name."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def seed(directory: Path, objects: dict[str, bytes]) -> None:
    for name, content in objects.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)


@pytest.fixture
def s3(moto_server: str, local_dir: Path) -> Iterator[Production]:
    """Storage "media": the local directory, then a read-only S3Storage on a moto bucket."""
    for production in over_http(moto_server, OBJECTS):
        prod = read_only(
            {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": production.options}
        )
        with override_settings(
            STORAGES={
                "default": {"BACKEND": FILE_SYSTEM},
                "media": fallback(on_disk(local_dir), prod),
            }
        ):
            production.before = production.snapshot()
            yield production


@pytest.fixture
def disk(local_dir: Path, prod_dir: Path) -> Iterator[Path]:
    """Storage "media": the local directory, then a read-only directory with ``OBJECTS``."""
    seed(prod_dir, OBJECTS)
    with override_settings(
        STORAGES={
            "default": {"BACKEND": FILE_SYSTEM},
            "media": fallback(on_disk(local_dir), read_only(on_disk(prod_dir))),
        }
    ):
        yield prod_dir


# -- from S3 -----------------------------------------------------------------------------


def test_pulls_a_directory_and_a_name_from_s3_with_reads_only(
    s3: Production, local_dir: Path
) -> None:
    code, out, error = pull("photos/", "docs/report.pdf", "--storage", "media")

    assert (code, error) == (0, "")
    wanted = ("photos/1.jpg", "photos/2.jpg", "photos/deep/3.jpg", "docs/report.pdf")
    assert files_in(local_dir) == {name: OBJECTS[name] for name in sorted(wanted)}
    lines = out.splitlines()
    assert sorted(lines[:-1]) == [
        "copied docs/report.pdf (400 B, layer 1)",
        "copied photos/1.jpg (1000 B, layer 1)",
        "copied photos/2.jpg (2.0 KiB, layer 1)",
        "copied photos/deep/3.jpg (2.9 KiB, layer 1)",
    ]
    assert lines[-1].startswith("Pulled 4 file(s) (6.2 KiB) in ")
    s3.assert_untouched()
    # One GET per file, no HEAD for a listed file: the body is streamed, not S3File's
    # HEAD + HEAD + download into a temporary file.
    objects = [(method, url.split("?")[0]) for method, url in s3.requests() if "?" not in url]
    assert sorted(objects) == sorted(
        [("HEAD", "/production/docs/report.pdf")]  # the name given: which layer has it?
        + [("GET", f"/production/{name}") for name in wanted]
    )


def test_a_second_run_copies_nothing_and_keeps_a_changed_local_copy(
    s3: Production, local_dir: Path
) -> None:
    assert pull("photos/", "--storage", "media")[0] == 0
    (local_dir / "photos" / "2.jpg").write_bytes(b"edited locally")
    before = {path: os.stat(local_dir / path).st_mtime_ns for path in files_in(local_dir)}
    first_run = len(s3.requests())

    code, out, _ = pull("photos/", "--storage", "media", "--json")

    assert code == 0
    summary = json.loads(out)
    assert {entry["name"]: entry["status"] for entry in summary["files"]} == {
        "photos/1.jpg": "up_to_date",
        "photos/2.jpg": "kept_local",
        "photos/deep/3.jpg": "up_to_date",
    }
    assert summary["totals"]["copied"] == {"files": 0, "bytes": 0}
    assert (local_dir / "photos" / "2.jpg").read_bytes() == b"edited locally"
    assert {path: os.stat(local_dir / path).st_mtime_ns for path in files_in(local_dir)} == before
    # The listing, then one HEAD per file for its size: nothing is downloaded again.
    assert (
        sorted(method for method, url in s3.requests()[first_run:] if "?" not in url)
        == ["HEAD"] * 3
    )
    s3.assert_untouched()


def test_dry_run_copies_nothing_and_counts_the_bytes(s3: Production, local_dir: Path) -> None:
    code, out, _ = pull("**", "--storage", "media", "--dry-run", "--max-size", "2K", "--json")

    assert code == 0
    summary = json.loads(out)
    assert summary["dry_run"] is True
    assert summary["totals"]["would_copy"] == {"files": 5, "bytes": 1000 + 2000 + 400 + 5 + 3}
    assert summary["totals"]["too_large"] == {"files": 1, "bytes": 3000}
    assert files_in(local_dir) == {}
    s3.assert_untouched()


def test_max_size_leaves_larger_files_out(s3: Production, local_dir: Path) -> None:
    code, out, _ = pull("photos/", "--storage", "media", "--max-size", "1500")

    assert code == 0
    assert set(files_in(local_dir)) == {"photos/1.jpg"}
    assert "too large photos/2.jpg (2.0 KiB, layer 1)" in out.splitlines()
    assert out.splitlines()[-1].endswith("; too large 2.")


def test_nothing_found_exits_1_and_pulls_the_rest(s3: Production, local_dir: Path) -> None:
    code, out, error = pull("top.txt", "nope/", "missing.txt", "--storage", "media", "--json")

    assert code == 1
    assert error == (
        "No lower layer has 'nope/', 'missing.txt'; check the names with 'manage.py "
        "fallback_storage ls' (files in the writable layer only have nothing to pull)."
    )
    assert json.loads(out)["not_found"] == ["nope/", "missing.txt"]
    assert files_in(local_dir) == {"top.txt": b"top"}
    s3.assert_untouched()


# -- from another disk -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["photos/*.jpg"], ["photos/1.jpg", "photos/2.jpg"]),
        (["photos/**"], ["photos/1.jpg", "photos/2.jpg", "photos/deep/3.jpg"]),
        (
            ["**/*.jpg", "docs/*.pdf"],
            ["docs/report.pdf", *(f"photos/{n}" for n in ("1.jpg", "2.jpg", "deep/3.jpg"))],
        ),
        (["*.txt"], ["top.txt"]),
        (
            ["docs/[nr]*", "photos/?.jpg"],
            ["docs/notes.txt", "docs/report.pdf", "photos/1.jpg", "photos/2.jpg"],
        ),
        (["docs"], ["docs/notes.txt", "docs/report.pdf"]),
        (["."], sorted(OBJECTS)),
    ],
)
def test_patterns_and_directories_from_another_disk(
    disk: Path, local_dir: Path, patterns: list[str], expected: list[str]
) -> None:
    code, _, error = pull(*patterns, "--storage", "media")

    assert (code, error) == (0, "")
    assert files_in(local_dir) == {name: OBJECTS[name] for name in sorted(expected)}


def test_a_read_only_layer_before_the_writable_one_serves_first(
    local_dir: Path, prod_dir: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    seed(shared, {"top.txt": b"shared top"})
    seed(prod_dir, OBJECTS)
    stack = fallback(read_only(on_disk(shared)), on_disk(local_dir), read_only(on_disk(prod_dir)))
    with override_settings(STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "media": stack}):
        code, out, _ = pull("top.txt", "docs/notes.txt", "--storage", "media")
        assert code == 0
        assert files_in(local_dir) == {"docs/notes.txt": b"notes", "top.txt": b"shared top"}
        assert "copied top.txt (10 B, layer 0)" in out.splitlines()
        assert "copied docs/notes.txt (5 B, layer 2)" in out.splitlines()
    assert files_in(prod_dir) == OBJECTS
    assert files_in(shared) == {"top.txt": b"shared top"}


def test_whiteouts_keep_deleted_files_deleted(disk: Path, local_dir: Path) -> None:
    media = fallback(on_disk(local_dir), read_only(on_disk(disk)), whiteouts=True)
    with override_settings(STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "overlay": media}):
        storages["overlay"].delete("photos/deep")
        storages["overlay"].delete("photos/1.jpg")
        code, _, error = pull("photos/", "photos/1.jpg", "--storage", "overlay")
        assert storages["overlay"].exists("photos/2.jpg")
    assert code == 1
    assert "No lower layer has 'photos/1.jpg'" in error
    pulled = {name for name in files_in(local_dir) if not name.split("/")[-1].startswith(".")}
    assert pulled == {"photos/2.jpg"}


def test_into_a_writable_layer_that_is_not_a_directory(disk: Path) -> None:
    memory = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
    with override_settings(
        STORAGES={
            "default": {"BACKEND": FILE_SYSTEM},
            "memory": memory,
            "media": fallback("memory", read_only(on_disk(disk))),
        }
    ):
        assert pull("docs/", "--storage", "media")[0] == 0
        target = storages["memory"]
        assert sorted(target.listdir("docs")[1]) == ["notes.txt", "report.pdf"]
        with target.open("docs/report.pdf") as handle:
            assert handle.read() == OBJECTS["docs/report.pdf"]


# -- streaming, workers, failures and interruptions ---------------------------------------


def faulty(local_dir: Path, prod_dir: Path, **options: Any) -> override_settings:
    lower = read_only(on_disk(prod_dir, FAULTY, **options))
    return override_settings(
        STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "media": fallback(on_disk(local_dir), lower)}
    )


def lower_layer() -> FaultyStorage:
    layer = storages["media"].backends[1].backend  # type: ignore[attr-defined]
    assert isinstance(layer, FaultyStorage)
    return layer


def test_reads_in_chunks_with_at_most_workers_files_open(local_dir: Path, prod_dir: Path) -> None:
    seed(prod_dir, {f"big/{n}.bin": os.urandom(3 * CHUNK_SIZE + 7) for n in range(6)})
    with faulty(local_dir, prod_dir, delay=0.01):
        assert pull("big/", "--storage", "media", "--workers", "2")[0] == 0
        layer = lower_layer()
    assert files_in(local_dir) == files_in(prod_dir)
    assert set(layer.read_sizes) == {CHUNK_SIZE}
    assert layer.most_open == 2


def test_a_source_failing_mid_stream_leaves_no_partial_file(
    local_dir: Path, prod_dir: Path
) -> None:
    content = {f"f/{n}.bin": os.urandom(2 * CHUNK_SIZE) for n in range(4)}
    seed(prod_dir, content)
    with faulty(local_dir, prod_dir, fail=["f/1.bin", "f/3.bin"]):
        code, out, error = pull("f/", "--storage", "media")
    assert code == 3
    assert error == (
        "2 file(s) could not be pulled, the first 'f/1.bin' with ConnectionResetError: "
        "[Errno 104] Connection reset by peer; run the same command again to retry them "
        "(files pulled already are skipped)."
    )
    assert "failed f/1.bin: ConnectionResetError: [Errno 104] Connection reset by peer" in out
    # Nothing under the final names, and no partial copy anywhere.
    assert files_in(local_dir) == {name: content[name] for name in ("f/0.bin", "f/2.bin")}

    with faulty(local_dir, prod_dir):  # the connection is back: the same command resumes
        code, out, _ = pull("f/", "--storage", "media", "--json")
    assert code == 0
    statuses = {entry["name"]: entry["status"] for entry in json.loads(out)["files"]}
    assert statuses == {
        "f/0.bin": "up_to_date",
        "f/1.bin": "copied",
        "f/2.bin": "up_to_date",
        "f/3.bin": "copied",
    }
    assert files_in(local_dir) == content


def test_ctrl_c_in_a_worker_stops_the_pull_and_leaves_no_partial_file(
    local_dir: Path, prod_dir: Path
) -> None:
    seed(prod_dir, {"a.bin": os.urandom(3 * CHUNK_SIZE)})
    with faulty(local_dir, prod_dir, fail=["a.bin"], raise_kind="keyboard"):
        code, _, error = pull("a.bin", "--storage", "media")
    assert code == 130
    assert re.fullmatch(
        r"Interrupted; nothing is left half-copied\. Pulled 0 file\(s\) \(0 B\) in \d+\.\d s "
        r"\(0 B/s\)\. Run the same command again to pull the rest\.",
        error,
    ), error
    assert files_in(local_dir) == {}


# -- usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "pull was given nothing to pull; name files, directories or patterns"),
        (["x", "--workers", "0"], "--workers 0 is out of range; give 1 to 64."),
        (["x", "--max-size", "big"], "--max-size 'big' is not a size; give bytes or a number"),
        (["x", "--filter", "a=1"], "--filter 'a=1' needs --model, since it narrows the rows"),
        (["../etc/passwd"], "has a '..' segment (a path traversal attempt)"),
        ([""], "pull got the empty name ''; name a file, a directory or a pattern"),
        (["x", "--storage", "default"], "Storage 'default' is a FileSystemStorage, not a "),
        (["x", "--storage", "all_read_only"], "Storage 'all_read_only' has no writable layer"),
        (["x", "--storage", "single"], "Storage 'single' has a single layer, so there is no"),
    ],
)
def test_usage_errors_exit_2(disk: Path, args: list[str], message: str) -> None:
    extra = {
        "all_read_only": fallback(read_only(on_disk(disk))),
        "single": fallback(on_disk(disk)),
    }
    with override_settings(STORAGES={**storages.backends, **extra}):
        code, _, error = pull(*args, *([] if "--storage" in args else ["--storage", "media"]))
    assert code == 2
    assert message in error


def test_parallel_copies_give_every_file_and_directory_its_permissions(
    local_dir: Path, prod_dir: Path
) -> None:
    # directory_permissions_mode for every directory made, the umask for every file, with
    # eight copies at a time (copying.py no longer changes the process's umask to do so).
    seed(prod_dir, {f"d{n % 40}/sub/{n}.bin": b"x" for n in range(240)})
    umask = os.umask(0o022)
    try:
        writable = on_disk(local_dir, directory_permissions_mode=0o750)
        stack = fallback(writable, read_only(on_disk(prod_dir)))
        with override_settings(STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "media": stack}):
            assert pull(".", "--storage", "media", "--workers", "8")[0] == 0
    finally:
        os.umask(umask)
    directories = [p.stat().st_mode & 0o777 for p in local_dir.rglob("*") if p.is_dir()]
    files = [p.stat().st_mode & 0o777 for p in local_dir.rglob("*") if p.is_file()]
    assert (len(directories), len(files)) == (80, 240)
    assert set(files) == {0o644}
    assert set(directories) == {0o750}


def test_a_file_of_unknown_size_over_max_size_is_stopped_mid_stream(
    local_dir: Path, prod_dir: Path
) -> None:
    seed(prod_dir, {"big.bin": os.urandom(3 * CHUNK_SIZE), "small.bin": b"small"})
    with faulty(local_dir, prod_dir, sizeless=True):
        code, out, _ = pull(".", "--storage", "media", "--max-size", "100K", "--json")
    assert code == 0
    statuses = {entry["name"]: entry["status"] for entry in json.loads(out)["files"]}
    assert statuses == {"big.bin": "too_large", "small.bin": "copied"}
    assert files_in(local_dir) == {"small.bin": b"small"}  # no partial copy of big.bin


def test_a_file_written_meanwhile_is_kept_not_replaced(local_dir: Path, prod_dir: Path) -> None:
    seed(prod_dir, {"a.bin": os.urandom(2 * CHUNK_SIZE)})
    with faulty(local_dir, prod_dir, appear=str(local_dir / "a.bin")):
        code, out, _ = pull("a.bin", "--storage", "media", "--json")
    assert code == 0
    assert [entry["status"] for entry in json.loads(out)["files"]] == ["kept_local"]
    assert files_in(local_dir) == {"a.bin": b"written meanwhile"}


def test_pull_needs_a_worker() -> None:
    from fallback_storage.pull import pull as pull_files
    from fallback_storage.pull_selection import Selection

    with pytest.raises(ValueError, match=r"pull\(\) needs at least one worker, got workers=0."):
        pull_files(Selection([], []), workers=0)


def test_a_failing_report_stops_the_pull(disk: Path, local_dir: Path) -> None:
    from fallback_storage.pull import pull as pull_files
    from fallback_storage.pull_outcomes import Outcome
    from fallback_storage.pull_selection import select

    class BrokenPipe:
        def start(self, files: int) -> None:
            pass

        def advance(self, size: int) -> None:
            pass

        def finish(self, outcome: Outcome) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def close(self) -> None:
            pass

    selection = select(storages["media"], "media", ["."], [], [])
    with pytest.raises(BrokenPipeError):
        pull_files(selection, workers=1, report=BrokenPipe())
    # The first file is reported; at most the one queued behind it is copied too.
    assert 1 <= len(files_in(local_dir)) <= 2 < len(OBJECTS)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000", 1000),
        ("512K", 512 * 1024),
        ("1.5M", 1536 * 1024),
        ("2GiB", 2 * 1024**3),
        (" 3 kb ", 3072),
    ],
)
def test_max_size_units(text: str, size: int) -> None:
    from fallback_storage.pull import parse_size

    assert parse_size(text) == size
