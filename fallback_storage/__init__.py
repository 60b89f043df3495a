"""Django storages that fall back through several backends, and read-only storages."""

from __future__ import annotations

from fallback_storage.exceptions import (
    OperationNotImplemented,
    ReadOnlyStorageError,
    SuspiciousFileName,
)
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

__all__ = [
    "FallbackStorage",
    "OperationNotImplemented",
    "ReadOnlyStorage",
    "ReadOnlyStorageError",
    "SuspiciousFileName",
]
