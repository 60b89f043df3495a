"""call_requests: client methods wrapped at the class level, and put back or reused."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import boto3

from fallback_storage.call_log import RemoteRequest
from fallback_storage.call_requests import Patch, install


class Client:
    def send(self) -> str:
        return "sent"


def tagging(original: Callable[..., str]) -> Callable[..., str]:
    def send(self: Any) -> str:
        return f"recorded {original(self)}"

    return send


def test_a_patch_is_put_back_unless_something_wrapped_over_it_then_it_is_reused() -> None:
    patch = Patch.apply(Client, "send", tagging)
    assert Client().send() == "recorded sent"
    patch.remove()
    assert Client().send() == "sent" and "send" in vars(Client)

    patch = Patch.apply(Client, "send", tagging)
    over = Client.send
    Client.send = lambda self: f"other {over(self)}"  # type: ignore[method-assign]
    patch.remove()  # left in place, inert...
    again = Patch.apply(Client, "send", tagging)
    assert again is patch  # ...and taken back, never stacked
    assert Client().send() == "other recorded sent"


def test_botocore_calls_are_reported_with_operation_key_and_status(
    s3_server: Any, production_bucket: str
) -> None:
    seen: list[tuple[RemoteRequest, tuple[str, Any]]] = []
    patch = install("s3", lambda: True, lambda request, origin: seen.append((request, origin)))
    assert patch is not None
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    try:
        client.head_object(Bucket=production_bucket, Key="both.txt")
        with contextlib.suppress(client.exceptions.ClientError):
            client.head_object(Bucket=production_bucket, Key="missing.txt")
    finally:
        patch.remove()
        client.close()
    assert [(r.operation, r.target, r.status, r.attempts) for r, _ in seen] == [
        ("HeadObject", "both.txt", 200, 1),
        ("HeadObject", "missing.txt", 404, 1),
    ]
    assert [origin for _, origin in seen] == [("s3", client), ("s3", client)]
    assert len(s3_server.requests) == 2
