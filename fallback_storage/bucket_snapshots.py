"""Bucket snapshots for CI jobs against a real bucket with read-only credentials.

:class:`~fallback_storage.testing.BucketSnapshot` and
:func:`~fallback_storage.testing.bucket_unchanged` compare the listing
(keys, ETags, sizes, LastModified) before and after, and report every
difference. Only list permissions are needed. Import them from
:mod:`fallback_storage.testing`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from fallback_storage.exceptions import BucketChangedError

if TYPE_CHECKING:
    import mypy_boto3_s3

__all__ = ["BucketSnapshot", "ObjectState", "bucket_unchanged"]


@dataclasses.dataclass(frozen=True)
class ObjectState:
    """What a bucket listing says about one key."""

    etag: str
    size: int
    last_modified: datetime


@dataclasses.dataclass(frozen=True)
class BucketSnapshot:
    """The listing of ``bucket`` (under ``prefix``) at one moment.

    Take one with :meth:`take` before a suite and call :meth:`assert_unchanged`
    after it. Only list permissions are needed, so read-only credentials do.
    """

    bucket: str
    prefix: str
    objects: Mapping[str, ObjectState]
    client: mypy_boto3_s3.S3Client | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    @classmethod
    def take(
        cls, bucket: str, *, prefix: str = "", client: mypy_boto3_s3.S3Client | None = None
    ) -> BucketSnapshot:
        """List ``bucket`` now; ``client`` defaults to ``boto3.client("s3")``."""
        if client is None:
            import boto3

            client = boto3.client("s3")
        objects: dict[str, ObjectState] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                objects[item["Key"]] = ObjectState(
                    etag=item["ETag"], size=item["Size"], last_modified=item["LastModified"]
                )
        return cls(bucket=bucket, prefix=prefix, objects=objects, client=client)

    def differences(self, later: BucketSnapshot) -> list[str]:
        """One line per key added, removed or changed between this snapshot and ``later``."""
        lines: list[str] = []
        for key in sorted(self.objects.keys() | later.objects.keys()):
            before, after = self.objects.get(key), later.objects.get(key)
            if before is None and after is not None:
                lines.append(f"added   {key} (ETag {after.etag}, {after.size} bytes)")
            elif after is None and before is not None:
                lines.append(f"removed {key} (ETag {before.etag}, {before.size} bytes)")
            elif before is not None and after is not None and before != after:
                changes = [
                    f"{field.name} {getattr(before, field.name)!s} -> "
                    f"{getattr(after, field.name)!s}"
                    for field in dataclasses.fields(ObjectState)
                    if getattr(before, field.name) != getattr(after, field.name)
                ]
                lines.append(f"changed {key} ({'; '.join(changes)})")
        return lines

    def assert_unchanged(self) -> None:
        """List the bucket again and raise ``BucketChangedError`` if anything differs."""
        later = BucketSnapshot.take(self.bucket, prefix=self.prefix, client=self.client)
        differences = self.differences(later)
        if differences:
            where = f"s3://{self.bucket}/{self.prefix}"
            raise BucketChangedError(
                "\n".join(
                    [
                        f"{len(differences)} key(s) of {where!r} changed since the snapshot; "
                        f"find the code that writes there and point it at another bucket.",
                        *(f"  {line}" for line in differences),
                    ]
                ),
                differences=tuple(differences),
            )


@contextlib.contextmanager
def bucket_unchanged(
    bucket: str, *, prefix: str = "", client: mypy_boto3_s3.S3Client | None = None
) -> Iterator[BucketSnapshot]:
    """Snapshot ``bucket`` on entry and assert on exit that its listing is the same.

    Usable as a decorator too.
    """
    snapshot = BucketSnapshot.take(bucket, prefix=prefix, client=client)
    try:
        yield snapshot
    finally:
        snapshot.assert_unchanged()
