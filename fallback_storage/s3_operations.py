"""Which S3 requests only read, and how S3 endpoints are identified.

Shared by the S3 guard (:mod:`fallback_storage.s3_guard`, :mod:`fallback_storage.s3_hooks`)
and the test guard of :mod:`fallback_storage.testing`. The allowlist is computed from
botocore's own S3 service model, so an operation AWS adds later is refused until it
is known to read.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from fallback_storage import protection

__all__ = [
    "AWS_HOSTS",
    "SERVICE",
    "endpoint_of",
    "is_read_operation",
    "is_read_request",
    "read_only_operations",
]

SERVICE = "s3"
#: Hosts of Amazon S3 endpoints; every one of them has the endpoint identity ``"aws"``.
AWS_HOSTS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")
READ_METHODS = frozenset({"GET", "HEAD"})
# S3 Select is sent as a POST but only reads (it filters an object server-side).
READ_POST_OPERATIONS = frozenset({"SelectObjectContent"})
# GET requests that are not reads: CreateSession mints session credentials for a
# directory bucket, read-write unless SessionMode is "ReadOnly".
WRITES_SENT_AS_GET = frozenset({"CreateSession"})


@functools.cache
def read_only_operations() -> frozenset[str]:
    """Return the names of the S3 operations a protected bucket lets through.

    These are the operations botocore's S3 service model sends as ``GET`` or
    ``HEAD``, plus ``SelectObjectContent``, minus ``CreateSession``.
    """
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    model = ServiceModel(create_loader().load_service_model("s3", "service-2"), "s3")
    reads = {
        name
        for name in model.operation_names
        if model.operation_model(name).http.get("method") in READ_METHODS
    }
    return frozenset((reads | READ_POST_OPERATIONS) - WRITES_SENT_AS_GET)


def is_read_operation(operation: str, params: Mapping[str, Any]) -> bool:
    """Whether the S3 ``operation`` called with ``params`` only reads.

    ``CreateSession`` is a read only with ``SessionMode="ReadOnly"``, which
    mints credentials that cannot write.
    """
    if operation == "CreateSession":
        return params.get("SessionMode") == "ReadOnly"
    return operation in read_only_operations()


def is_read_request(operation: str, method: str) -> bool:
    """Whether an HTTP request with ``method`` for ``operation`` only reads."""
    method = method.upper()
    return method in READ_METHODS or (method == "POST" and operation in READ_POST_OPERATIONS)


@functools.lru_cache(maxsize=256)
def endpoint_of(url: str | None) -> str:
    """The endpoint identity of an S3 endpoint URL (``None``: boto3's default endpoint).

    ``"aws"`` for every Amazon S3 endpoint (default, regional, dualstack, FIPS,
    accelerate, VPC); the normalised ``host:port`` of any other.
    """
    return protection.endpoint_identity(url, cloud="aws", cloud_hosts=AWS_HOSTS)
