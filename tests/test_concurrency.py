"""Many threads saving, reading, listing and deleting through one FallbackStorage.

The write target is InMemoryStorage (made thread-safe), which replaces an existing file on
``_save``: two saves handed the same name by ``get_available_name`` would
silently lose one file. Every thread saves under the same name, so names
collide all the time. Below it sit a FileSystemStorage and a read-only
production bucket (ThreadedMotoServer on 127.0.0.1) that serves reads.
"""

from __future__ import annotations

import random
import threading
import traceback
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage
from faults import finishes_within, start_moto
from storages.backends.s3 import S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.testing import seeding


class ThreadSafeMemoryStorage(InMemoryStorage):
    """Django's InMemoryStorage, with one lock around what touches its directory dicts.

    InMemoryStorage itself is not thread-safe: its listdir() iterates a dict that a
    concurrent save changes ("dictionary changed size during iteration", seen in CI).
    This test is about FallbackStorage, so the backend is made safe; it still
    replaces an existing file on _save, which is what the name reservations guard.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tree_lock = threading.RLock()

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with self._tree_lock:
            return super().listdir(path)

    def _save(self, name: str, content: Any) -> str:
        with self._tree_lock:
            return super()._save(name, content)  # type: ignore[misc,no-any-return]

    def delete(self, name: str) -> None:
        with self._tree_lock:
            super().delete(name)


THREADS = 16
OPERATIONS = 100  # per thread; each save also asks production (HEAD), so keep it small
BUCKET = "production"
PROD_BYTES = b"production bytes"
HANG = 120.0


@pytest.fixture(scope="module")
def production() -> Iterator[ReadOnlyStorage]:
    server, (host, port) = start_moto()
    endpoint_url = f"http://{host}:{port}"
    # moto's state is per process, shared with earlier modules' servers and
    # mock_aws: start from an empty account.
    reset = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset) as response:
        response.read()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # A port an earlier module's server used may come back, with its bucket protected.
    with seeding(BUCKET):
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="prod/only.txt", Body=PROD_BYTES)
    yield ReadOnlyStorage(
        S3Storage(
            bucket_name=BUCKET,
            endpoint_url=endpoint_url,
            access_key="testing",
            secret_key="testing",
            region_name="us-east-1",
            client_config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=10,
                retries={"total_max_attempts": 2, "mode": "standard"},
                max_pool_connections=THREADS,
            ),
        )
    )
    server.stop()


def build(options: dict[str, Any], local_dir: Path, production: ReadOnlyStorage) -> FallbackStorage:
    disk = FileSystemStorage(location=str(local_dir))
    disk.save("disk/only.txt", ContentFile(b"disk bytes"))
    return FallbackStorage([ThreadSafeMemoryStorage(), disk, production], **options)


def worker(storage: Storage, seed: int, saved: dict[str, bytes], log: list[str]) -> None:
    rng = random.Random(seed)
    mine: dict[str, bytes] = {}
    for step in range(OPERATIONS):
        choice = rng.random()
        if choice < 0.35 or not mine:
            content = f"thread {seed} step {step}".encode()
            name = storage.save("shared/upload.txt", ContentFile(content))
            mine[name] = content
            log.append(name)
        elif choice < 0.6:
            name = rng.choice(list(mine))
            with storage.open(name) as file:
                assert file.read() == mine[name], name
        elif choice < 0.7:
            _, files = storage.listdir("shared")
            missing = {name.rpartition("/")[2] for name in mine} - set(files)
            assert not missing, missing
        elif choice < 0.8:
            name = rng.choice(list(mine))
            storage.delete(name)
            del mine[name]
            assert not storage.exists(name), name
        elif choice < 0.9:
            with storage.open("prod/only.txt") as file:
                assert file.read() == PROD_BYTES
        else:
            with storage.open("disk/only.txt") as file:
                assert file.read() == b"disk bytes"
    saved.update(mine)


@pytest.mark.parametrize("options", [{}, {"cache_timeout": 60}], ids=["cache-off", "cache-on"])
def test_concurrent_saves_reads_lists_and_deletes_lose_nothing(
    options: dict[str, Any], local_dir: Path, production: ReadOnlyStorage
) -> None:
    storage = build(options, local_dir, production)
    saved: dict[str, bytes] = {}
    log: list[str] = []
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            worker(storage, seed, saved, log)
        except BaseException as error:
            errors.append(error)

    def all_threads() -> None:
        threads = [threading.Thread(target=run, args=(seed,)) for seed in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    finishes_within(HANG, all_threads)

    assert errors == [], "".join(
        line for error in errors for line in traceback.format_exception(error)
    )
    # Every surviving file reads back its exact bytes, from the write target.
    for name, content in saved.items():
        with storage.open(name) as file:
            assert file.read() == content, name
    assert set(storage.backends[0].listdir("shared")[1]) == {
        name.rpartition("/")[2] for name in saved
    }
    # Nothing was written to the disk layer or to production.
    assert storage.backends[1].listdir("") == (["disk"], [])
    assert production.listdir("") == (["prod"], [])
    assert production.listdir("prod") == ([], ["only.txt"])
    assert len(log) > THREADS * OPERATIONS // 4


def test_get_available_name_never_hands_the_same_name_to_two_running_saves() -> None:
    started = threading.Barrier(THREADS)

    class SlowUploadStorage(InMemoryStorage):
        # Like S3Storage: the file exists only once the upload is done, and
        # every upload here waits until all saves have chosen their names.
        def _save(self, name: str, content: Any) -> str:
            started.wait(timeout=30)
            return super()._save(name, content)  # type: ignore[misc,no-any-return]

    target = SlowUploadStorage()
    storage = FallbackStorage([target])
    names: list[str] = []
    lock = threading.Lock()

    def save(index: int) -> None:
        name = storage.save("same.txt", ContentFile(f"{index}".encode()))
        with lock:
            names.append(name)

    def all_threads() -> None:
        threads = [threading.Thread(target=save, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    finishes_within(HANG, all_threads)

    assert len(names) == THREADS
    assert len(set(names)) == THREADS
    contents = []
    for name in names:
        with target.open(name) as file:
            contents.append(file.read())
    assert sorted(contents) == sorted(f"{i}".encode() for i in range(THREADS))
