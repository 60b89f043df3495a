"""Test servers served from a background thread, and stopped without waiting.

``socketserver``'s ``serve_forever()`` looks for ``shutdown()`` every ``poll_interval``, 0.5 s by
default, so every test that stops a server used to wait up to half a second for it.
"""

from __future__ import annotations

import socketserver
import threading

__all__ = ["serve_in_background"]

SHUTDOWN_POLL = 0.02  # seconds


def serve_in_background(server: socketserver.BaseServer) -> threading.Thread:
    """Start a daemon thread serving ``server`` until ``server.shutdown()``; return it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    )
    thread.start()
    return thread
