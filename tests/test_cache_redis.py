"""The location cache shared by two processes through a real Redis (Django's own RedisCache).

A session fixture starts ``redis-server`` on a free loopback port in its own
directory with persistence off. Two processes (``cache_process.py``) run the
same settings: a FallbackStorage of a shared local directory and a read-only
S3Storage on the moto server of this process, with ``cache_timeout`` and
``cache_alias`` pointing at ``RedisCache``. The requests are counted at the
moto server. Each test runs once with the shared cache and once, as the
control, with each process's private in-process cache, where what one process
learns is of no use to the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counting_s3 import CountingS3Server
from redis_server import RedisServer

SCRIPT = Path(__file__).with_name("cache_process.py")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


class Process:
    """One site process, driven one command at a time."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=SCRIPT.parent,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n"

    def __call__(self, *command: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture(params=["redis", "private"])
def processes(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    s3_server: CountingS3Server,
    production_bucket: str,
    tmp_path: Path,
) -> Iterator[tuple[Process, Process]]:
    """Two processes on the same settings; ``request.param`` says whether they share the cache."""
    redis_server.client().flushall()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "local": str(tmp_path / "media"),
                "s3": {
                    "bucket_name": production_bucket,
                    "endpoint_url": s3_server.endpoint_url,
                    "region_name": "us-east-1",
                    "addressing_style": "path",
                },
                "cache": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis_server.url,
                },
                "cache_alias": "shared" if request.param == "redis" else None,
            }
        )
    )
    first, second = Process(config), Process(config)
    yield first, second
    first.stop()
    second.stop()


def shared(request: pytest.FixtureRequest) -> bool:
    return bool(request.node.callspec.params["processes"] == "redis")


def test_one_process_exists_answer_saves_the_other_a_request(
    request: pytest.FixtureRequest,
    processes: tuple[Process, Process],
    s3_server: CountingS3Server,
    production_bucket: str,
    redis_server: RedisServer,
) -> None:
    first, second = processes
    s3_server.clear()

    assert first("exists", "prod-only.txt") is True
    assert first("exists", "missing.txt") is False
    assert s3_server.to_bucket(production_bucket) == [
        ("HEAD", f"/{production_bucket}/prod-only.txt"),
        ("HEAD", f"/{production_bucket}/missing.txt"),
    ]
    s3_server.clear()

    assert second("exists", "prod-only.txt") is True
    assert second("exists", "missing.txt") is False
    if shared(request):
        assert s3_server.to_bucket(production_bucket) == []  # Redis had both answers
        keys = redis_server.client().keys("*fallback_storage.location:*")
        assert len(keys) == 2
        assert all(0 < redis_server.client().ttl(key) <= 300 for key in keys)
    else:
        assert len(s3_server.to_bucket(production_bucket)) == 2  # the control: asked again
        assert redis_server.client().keys("*") == []


def test_a_save_or_delete_in_one_process_is_seen_by_the_other_at_once(
    request: pytest.FixtureRequest, processes: tuple[Process, Process]
) -> None:
    first, second = processes
    assert second("exists", "new.txt") is False  # remembered: no layer has it

    assert first("save", "new.txt", "uploaded by the first process") == "new.txt"
    seen_after_save = second("exists", "new.txt")

    assert first("save", "both-local.txt", "local") == "both-local.txt"
    assert second("exists", "both-local.txt") is True  # remembered: in the local layer
    first("delete", "both-local.txt")
    seen_after_delete = second("exists", "both-local.txt")

    if shared(request):
        assert (seen_after_save, seen_after_delete) == (True, False)
    else:
        # The control: each process trusts its own answer until cache_timeout expires.
        assert (seen_after_save, seen_after_delete) == (False, True)
