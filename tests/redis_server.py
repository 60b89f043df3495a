"""A real ``redis-server`` (the Debian package) on a free loopback port, for the cache tests.

Not a test module. The server runs in its own directory with persistence off
(no RDB snapshots, no AOF), listens on 127.0.0.1 only, and is stopped by
:meth:`RedisServer.stop`. ``redis-server`` missing is a skip on a developer's
machine and a failure in CI (:func:`services.require_program`).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis
from services import require_program

__all__ = ["RedisServer"]


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def start(self) -> None:
        program = require_program("redis-server", "apt-get install -y redis-server")
        for _attempt in range(5):  # another process may take the free port first
            self.port = _free_port()
            self.process = subprocess.Popen(
                [
                    program,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--dir",
                    str(self.directory),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(self.directory / "redis.log"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._ready():
                return
            self.stop()
        log = (self.directory / "redis.log").read_text(errors="replace")
        raise RuntimeError(f"redis-server did not start on 127.0.0.1; its log:\n{log}")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            client = self.client()
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                time.sleep(0.05)
            finally:
                client.close()
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
