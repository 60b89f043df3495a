"""The S3 guard: a protected bucket takes only reads, from every boto3 client in the process.

:func:`protect` registers the bucket of a django-storages ``S3Storage`` in
:mod:`fallback_storage.protection` and installs, once per process, the
class-level botocore hooks of :mod:`fallback_storage.s3_hooks`. From then on
no boto3 client sends an operation that is not a read to that bucket, whoever
built the client and whenever: the storage's own clients, clients built before
or after, in any thread, resources, paginators, waiters, presigned URLs and
POST forms, classic and CRT managed transfers.

A bucket is the container ``Container("s3", endpoint, bucket_name)``, where
the endpoint identity is ``"aws"`` for every Amazon S3 endpoint (the default,
regional, dualstack, FIPS, accelerate and VPC endpoints: bucket names are
global there) and the normalised ``host:port`` of a custom endpoint (MinIO,
moto), so a bucket of the same name on another server stays writable. The
storage's endpoint is read twice, from its ``endpoint_url`` setting and from
the client it actually builds (which also sees ``AWS_ENDPOINT_URL_S3`` and a
subclass that builds its own session), and both are protected.

Reads are :func:`~fallback_storage.s3_operations.read_only_operations`: an
allowlist computed from botocore's own S3 model, so an operation AWS adds
later is refused until it is known to read.

django-storages and boto3 are an optional extra: nothing here imports them
before a storage that needs them turns up.
"""

from __future__ import annotations

import logging
import sys

from fallback_storage import protection, s3_hooks
from fallback_storage.s3_operations import SERVICE, endpoint_of, read_only_operations

__all__ = [
    "containers",
    "describe",
    "handles",
    "is_protected",
    "is_s3_storage",
    "protect",
    "read_only_operations",
]

logger = logging.getLogger(__name__)


def is_s3_storage(storage: object) -> bool:
    """Return whether ``storage`` is a django-storages ``S3Storage`` (or subclass) instance."""
    # No instance can exist before its module was imported, and importing it
    # here would fail without boto3, so only look at what is loaded already.
    module = sys.modules.get("storages.backends.s3")
    return module is not None and isinstance(storage, module.S3Storage)


#: The guard protocol of :mod:`fallback_storage.cloud_guards`.
handles = is_s3_storage


def describe(storage: object) -> str:
    """How refusals name an ``S3Storage``: its class and bucket."""
    return f"{type(storage).__qualname__}(bucket_name={getattr(storage, 'bucket_name', None)!r})"


def containers(storage: object) -> frozenset[protection.Container]:
    """The buckets ``storage`` writes to: its bucket at its configured and its actual endpoint."""
    bucket = str(getattr(storage, "bucket_name", None))
    urls: set[str | None] = {getattr(storage, "endpoint_url", None) or None}
    try:
        # Building the resource sends nothing; it tells where the client really goes.
        urls.add(storage.connection.meta.client.meta.endpoint_url)  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - a storage that cannot build a client cannot write
        logger.warning(
            "Could not build a boto3 client for %s; protecting its configured endpoint only.",
            describe(storage),
            exc_info=True,
        )
    return frozenset(protection.Container(SERVICE, endpoint_of(url), bucket) for url in urls)


def protect(storage: object, *, backend: str | None = None) -> None:
    """Make the bucket of an ``S3Storage`` read-only in the whole process.

    ``backend`` describes the storage in refusals (default: ``describe(storage)``).
    Calling it again for the same bucket keeps the first description. There is
    no way to undo it; a test fixture that must fill an emulated bucket after
    it was protected does so inside :func:`fallback_storage.protection.seeding`.
    """
    if not is_s3_storage(storage):
        raise TypeError(
            f"protect() needs a django-storages S3Storage instance, got {storage!r}; "
            f"wrap other storages in ReadOnlyStorage only."
        )
    s3_hooks.install()
    for container in containers(storage):
        protection.protect(container, backend=backend or describe(storage))


def is_protected(storage: object) -> bool:
    """Whether ``storage`` is an ``S3Storage`` whose bucket is protected in this process.

    True only while the hooks are in place too (nothing replaced them since).
    """
    return (
        is_s3_storage(storage)
        and s3_hooks.installed()
        and all(protection.is_protected(container) for container in containers(storage))
    )
