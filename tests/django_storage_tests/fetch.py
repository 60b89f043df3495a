"""Fetch ``tests/file_storage/`` of the installed Django from its source distribution.

    python tests/django_storage_tests/fetch.py DESTINATION

Downloads the sdist of exactly the installed Django version from the package index
(``pip download django==VERSION --no-deps --no-binary :all:``) into ``DESTINATION/sdist/``
and extracts its ``tests/file_storage/`` package into ``DESTINATION/file_storage/``. Both are
kept: a second run with the same Django version downloads and extracts nothing. The package
imports only Django and its own modules, so nothing else of Django's test tree is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import django

PACKAGE = "file_storage"


def sdist(cache: Path, version: str) -> Path:
    """The cached sdist of Django ``version``, downloaded first if it is not there."""
    found = sorted(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    if found:
        return found[0]
    command = [sys.executable, "-m", "pip", "download", f"django=={version}"]
    command += ["--no-deps", "--no-binary", ":all:", "--dest", str(cache)]
    print("fetch.py:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    found = sorted(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    if not found:
        raise SystemExit(f"fetch.py: pip downloaded no Django {version} sdist into {cache}")
    return found[0]


def extract(archive: Path, destination: Path) -> int:
    """Extract the archive's ``tests/file_storage/`` into ``destination``; the file count."""
    target = destination / PACKAGE
    shutil.rmtree(target, ignore_errors=True)
    count = 0
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            # <top>/tests/file_storage/<file>: no deeper, and regular files only.
            if len(parts) != 4 or parts[1:3] != ("tests", PACKAGE) or not member.isfile():
                continue
            source = tar.extractfile(member)
            assert source is not None
            target.mkdir(parents=True, exist_ok=True)
            (target / parts[3]).write_bytes(source.read())
            count += 1
    if not (target / "tests.py").is_file():
        raise SystemExit(f"fetch.py: {archive} has no tests/{PACKAGE}/tests.py")
    return count


def main(destination: Path) -> None:
    version = django.__version__
    stamp = destination / "VERSION"
    if stamp.is_file() and stamp.read_text() == version and (destination / PACKAGE).is_dir():
        print(f"fetch.py: Django {version}'s tests/{PACKAGE}/ already in {destination}")
        return
    destination.mkdir(parents=True, exist_ok=True)
    archive = sdist(destination / "sdist", version)
    count = extract(archive, destination)
    stamp.write_text(version)
    print(f"fetch.py: extracted {count} files of tests/{PACKAGE}/ from {archive.name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
