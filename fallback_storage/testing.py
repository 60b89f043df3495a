"""Prove that tests and CI jobs leave a bucket untouched. Usable with or without pytest.

* :class:`BucketGuard` (context manager and decorator): while active, every S3
  request that any boto3 client in the process sends to the named buckets is
  seen, clients created before it was entered included. A request that is not
  a read (``fallback_storage.s3_guard.read_only_operations()``) is refused
  before it is sent, and leaving the guard raises
  :class:`~fallback_storage.exceptions.BucketTouchedError` with every such
  request, its key and the line of code it came from, even when the code under
  test caught the refusal.
* :class:`~fallback_storage.storage_guard.StorageGuard` (context manager and
  decorator, re-exported here): the same for any storage, by alias or
  instance; a write through the storage API fails the test.
* :class:`BucketSnapshot` and :func:`bucket_unchanged`: for CI jobs against a
  real bucket with read-only credentials, compare the listing (keys, ETags,
  sizes, LastModified) before and after, and report every difference.
* ``seeding`` (:func:`fallback_storage.protection.seeding`, re-exported): a
  :class:`~fallback_storage.readonly.ReadOnlyStorage` over a cloud backend
  protects its bucket for the rest of the process, test process included. A
  fixture that fills an emulated production bucket (moto, Azurite, the GCS
  emulator) after some test protected it does so inside
  ``with seeding("prod-media"):``; only that thread or task, and only inside
  the block, may write to the buckets it names. Managed transfers send from
  worker threads of their own, so seed with ``put_object``. The simpler way
  out is a bucket name no other test protects.

The guard hooks ``botocore.client.BaseClient._make_api_call``, the one method
every client operation, paginator, waiter, resource and managed transfer goes
through, at the class level, so it needs no moto-specific hook and works
against real S3. Requests built without a client (presigned URLs used by
other HTTP code) are out of its sight.
"""

from __future__ import annotations

from fallback_storage.bucket_snapshots import BucketSnapshot, ObjectState, bucket_unchanged
from fallback_storage.cloud_testing import AzureContainerGuard, ContainerRequest, GCSBucketGuard
from fallback_storage.protection import seeding
from fallback_storage.s3_testing import BucketGuard, S3Request
from fallback_storage.storage_guard import StorageGuard, StorageWrite

__all__ = [
    "AzureContainerGuard",
    "BucketGuard",
    "BucketSnapshot",
    "ContainerRequest",
    "GCSBucketGuard",
    "ObjectState",
    "S3Request",
    "StorageGuard",
    "StorageWrite",
    "bucket_unchanged",
    "seeding",
]
