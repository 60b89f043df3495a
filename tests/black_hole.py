"""A TCP server that accepts connections and never answers: production "up" but hung.

Used by the outage tests and ``benchmarks/outage_bench.py``. It counts the
connections it accepted, which is how they see that a FallbackStorage stopped
asking an unreachable layer.
"""

from __future__ import annotations

import socket
import threading


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.accepted = 0
        self._accepting = threading.Condition()
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the accept timed out, or the listener was closed
                continue
            with self._accepting:
                self.accepted += 1
                self._accepting.notify_all()
            self._held.append(connection)

    def reaches(self, count: int, within: float = 5.0) -> bool:
        """Whether ``count`` connections have been accepted, waiting for the server thread."""
        with self._accepting:
            return self._accepting.wait_for(lambda: self.accepted >= count, timeout=within)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            connection.close()
        self.listener.close()
