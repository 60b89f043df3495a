"""What ``FallbackStorage.path()`` answers: a local path that tells the truth.

``path()`` never names a missing file while ``exists()`` is true:

* a file a layer with local paths has: that layer's path (the writable
  layer's, or a read-only local directory's);
* a file only a layer without local paths has (an S3 bucket, an HTTP origin):
  it is copied into the writable layer first, streamed, within
  ``copy_on_read_max_size`` and outside ``copy_on_read_skip``, and its new
  path is returned (:class:`~fallback_storage.copy_up.CopyUp`);
* a name no layer has: where it would be written, the first answer of any
  layer (as in 1.x);
* a directory whose local copy holds whiteout markers: no path, since that
  directory on disk is not the directory the storage shows (its markers are
  bookkeeping, the files it hides are elsewhere); code that would ``os.rmdir()``
  or ``os.listdir()`` it must use the storage's ``listdir()``.

Whatever has no local path raises :class:`NotImplementedError` (or its
subclass :class:`~fallback_storage.exceptions.NoLocalPath`), which is what
Django code calling ``storage.path()`` already catches.
"""

from __future__ import annotations

import os

from fallback_storage import first_answer, lookup
from fallback_storage.exceptions import NoLocalPath
from fallback_storage.layers import Layers

__all__ = ["local_path"]


def local_path(layers: Layers, name: str) -> str:
    """The local path of ``name`` in ``layers``; see the module docstring."""
    index = lookup.find(layers, name)
    if index is None:
        return first_answer.first(layers, "path", name, name)  # type: ignore[no-any-return]
    try:
        path: str = layers.backends[index].path(name)
    except NotImplementedError:
        pass
    else:
        whiteouts = layers.whiteouts
        local_directory = index == layers.writable and os.path.isdir(path)
        if whiteouts is not None and local_directory and whiteouts.list(name):
            raise NoLocalPath(
                f"{name!r} is a directory whose local copy in {layers.labels[index]} holds "
                f"whiteout markers, so no local path shows what the storage lists there; "
                f"use the storage's listdir() and delete() instead of the local directory."
            )
        return path
    try:
        path = layers.target.path(name)
    except NotImplementedError:
        raise first_answer.not_implemented("path", layers) from None
    layers.copy_up.for_path(layers.backends[index], layers.labels[index], name)
    return path
