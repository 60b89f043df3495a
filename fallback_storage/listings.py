"""What ``FallbackStorage.listdir()`` answers: the union of every layer's listing.

Each name is listed once, in layer order. Whiteouts leave out hidden names and
the markers themselves. A layer that says the directory does not exist counts
as empty; if every layer says so, the result is :class:`FileNotFoundError`. A
listing that cannot be complete is not given: a layer in an outage
(:mod:`fallback_storage.outages`) or failing otherwise makes the whole call fail.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation

from fallback_storage.failures import Failure, add_note, combine, is_missing
from fallback_storage.first_answer import not_implemented
from fallback_storage.layers import Layers

__all__ = ["listdir"]


def listdir(layers: Layers, path: str) -> tuple[list[str], list[str]]:
    """The union of every layer's listing of ``path``, each name once, in layer order."""
    directories: dict[str, None] = {}
    files: dict[str, None] = {}
    missing: list[Failure] = []
    answered = False
    whiteouts = layers.whiteouts
    keep = None if whiteouts is None else whiteouts.listing(path, layers.writable or 0)
    for index, backend in enumerate(layers.backends):
        skipped = None if layers.outages is None else layers.outages.skipped(index, path)
        if skipped is not None:
            raise skipped
        try:
            layer_directories, layer_files = backend.listdir(path)
            if keep is not None:
                layer_directories, layer_files = keep(index, layer_directories, layer_files)
        except SuspiciousOperation:
            raise
        except NotImplementedError:
            continue
        except Exception as error:
            if is_missing(error):
                missing.append(Failure(index, backend, error))
                continue
            if layers.outages is not None:
                layers.outages.failed(index, error)
            add_note(error, f"listdir() failed in {layers.labels[index]}.")
            raise
        answered = True
        directories.update(dict.fromkeys(layer_directories))
        files.update(dict.fromkeys(layer_files))
    if answered:
        return list(directories), list(files)
    if missing:
        raise combine(missing, "listdir", path)
    raise not_implemented("listdir", layers)
