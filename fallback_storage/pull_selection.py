"""What ``fallback_storage pull`` copies: names, directories, glob patterns, files rows reference.

A selection is a list of :class:`Item`: a name, the :class:`Layers` of the
FallbackStorage it belongs to, and the lower layer that serves it when the
selection already knows (a listing says so; a row does not). Lower layers are
every layer but the writable one (the first that is not read-only), in the
storage's order, so the layer a file is pulled from is the one the storage
serves it from when the writable layer lacks it. A copy that a whiteout hides
is never selected. Every mistake raises
:class:`~fallback_storage.exceptions.PullUsageError` with the fix.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence

from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import Storage

from fallback_storage.cloud_guards import unwrap
from fallback_storage.exceptions import PullUsageError
from fallback_storage.layer_view import parts, whiteout_hiding, writable_index
from fallback_storage.name_checks import check_name
from fallback_storage.pull_rows import parse_filters, select_rows
from fallback_storage.storage import FallbackStorage
from fallback_storage.whiteouts import MARKER_PREFIX

__all__ = ["Item", "Layers", "Selection", "layers_of", "select"]

_GLOB_CHARACTERS = frozenset("*?[")


@dataclasses.dataclass(frozen=True, eq=False)
class Layers:
    """A FallbackStorage as pull sees it: where files go and where they come from."""

    storage: Storage
    label: str
    layers: tuple[Storage, ...]
    writable: int
    hiding: Callable[[int, str], str | None]

    @property
    def target(self) -> Storage:
        """The writable layer, which pulled files are copied into."""
        return self.layers[self.writable]

    @property
    def sources(self) -> list[int]:
        """The indexes of the lower layers, in the order the storage tries them."""
        return [index for index in range(len(self.layers)) if index != self.writable]

    def visible_sources(self, name: str) -> list[int]:
        """The lower layers whose copy of ``name`` no whiteout hides."""
        return [index for index in self.sources if self.hiding(index, name) is None]


@dataclasses.dataclass(frozen=True)
class Item:
    """One file to pull; ``layer`` is the lower layer serving it, None when not known yet."""

    layers: Layers
    name: str
    layer: int | None


@dataclasses.dataclass
class Selection:
    """The files selected, and the selectors that matched none."""

    items: list[Item]
    not_found: list[str]


def layers_of(storage: Storage, label: str) -> Layers:
    """The :class:`Layers` of ``storage``, or PullUsageError when nothing can be pulled into it."""
    storage = unwrap(storage)
    if not isinstance(storage, FallbackStorage):
        raise PullUsageError(
            f"{label} is a {type(storage).__qualname__}, not a FallbackStorage, so it has no "
            f"lower layer to pull from; pass --storage with the alias of a FallbackStorage."
        )
    layers = storage.backends
    writable = writable_index(layers)
    if writable is None:
        raise PullUsageError(
            f"{label} has no writable layer (every layer is read-only), so pulled files have "
            f"nowhere to go; list a writable backend, such as a FileSystemStorage, first in "
            f"its 'backends'."
        )
    if len(layers) < 2:
        raise PullUsageError(
            f"{label} has a single layer, so there is no lower layer to pull from; list the "
            f"production backend after the writable one in its 'backends'."
        )
    return Layers(storage, label, layers, writable, whiteout_hiding(storage))


def select(
    storage: Storage | None,
    label: str,
    paths: Sequence[str],
    model_specs: Sequence[str],
    filters: Sequence[str],
) -> Selection:
    """Select ``paths`` (names, directories, patterns) of ``storage`` and the files of rows.

    ``model_specs`` are ``app_label.Model`` (every file field) or
    ``app_label.Model.field``; each field's files are pulled through the
    field's own storage. ``filters`` (``created__gte=2026-01-01``) narrow the rows.
    """
    if not paths and not model_specs:
        raise PullUsageError(
            "pull was given nothing to pull; name files, directories or patterns "
            "(pull photos/ 'docs/*.pdf') or models (--model blog.Post)."
        )
    if filters and not model_specs:
        raise PullUsageError(
            f"--filter {filters[0]!r} needs --model, since it narrows the rows of models; "
            f"add --model app_label.Model."
        )
    chosen: dict[tuple[int, str], Item] = {}
    not_found: list[str] = []
    known: dict[int, Layers] = {}
    if paths:
        assert storage is not None
        layers = layers_of(storage, label)
        known[id(layers.storage)] = layers
        for path in paths:
            found = False
            for item in _select_path(layers, path):
                chosen.setdefault((id(layers), item.name), item)
                found = True
            if not found:
                not_found.append(path)
    lookups = parse_filters(filters)
    for spec in model_specs:
        found = False
        for field_label, field_storage, names in select_rows(spec, lookups):
            layers = known.get(id(unwrap(field_storage))) or layers_of(
                field_storage, f"The storage of {field_label}"
            )
            known[id(layers.storage)] = layers
            for name in names:
                chosen.setdefault((id(layers), name), Item(layers, name, None))
                found = True
        if not found:
            not_found.append(f"--model {spec}")
    return Selection(list(chosen.values()), not_found)


# -- names, directories and patterns --------------------------------------------------


def _select_path(layers: Layers, path: str) -> Iterator[Item]:
    name = "/".join(parts(path))
    try:
        check_name(path, "pull", "fallback_storage pull")
    except SuspiciousOperation as error:
        raise PullUsageError(f"{error}") from error
    if not name and not path.endswith("/") and path not in (".", "./"):
        raise PullUsageError(
            f"pull got the empty name {path!r}; name a file, a directory or a pattern, "
            f"e.g. pull photos/ or pull '**' for everything."
        )
    if _GLOB_CHARACTERS.intersection(name):
        yield from _select_pattern(layers, name)
        return
    if name and not path.endswith("/"):
        for index in layers.visible_sources(name):
            if _is_file(layers.layers[index], name):
                yield Item(layers, name, index)
                return
    yield from _walk_layers(layers, name, None, lambda found: True)


def _select_pattern(layers: Layers, pattern: str) -> Iterator[Item]:
    segments = pattern.split("/")
    fixed = 0
    while fixed < len(segments) and not _GLOB_CHARACTERS.intersection(segments[fixed]):
        fixed += 1
    rest = segments[fixed:]
    depth = None if any("**" in segment for segment in rest) else len(rest)
    matches = _pattern(pattern).match
    yield from _walk_layers(layers, "/".join(segments[:fixed]), depth, matches)


def _pattern(glob: str) -> re.Pattern[str]:
    """``*`` and ``?`` stay within a directory, ``**`` crosses them, ``[...]`` is a class."""
    regex, index = [], 0
    while index < len(glob):
        if glob.startswith("**/", index):
            regex.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("**", index):
            regex.append(".*")
            index += 2
            continue
        character = glob[index]
        end = glob.find("]", index + 2) if character == "[" else -1
        if character == "*":
            regex.append("[^/]*")
        elif character == "?":
            regex.append("[^/]")
        elif end != -1:
            members = glob[index + 1 : end]
            negated = members.startswith("!")
            members = re.escape(members[1:] if negated else members).replace(r"\-", "-")
            regex.append(f"[{'^' if negated else ''}{members}]")
            index = end
        else:
            regex.append(re.escape(character))
        index += 1
    return re.compile("".join(regex) + r"\Z")


def _walk_layers(
    layers: Layers, directory: str, depth: int | None, wanted: Callable[[str], object]
) -> Iterator[Item]:
    seen: set[str] = set()
    for index in layers.sources:
        if directory and layers.hiding(index, directory) is not None:
            continue
        hidden = functools.partial(layers.hiding, index)
        for name in _walk(layers.layers[index], directory, depth, hidden):
            if name not in seen and wanted(name):
                seen.add(name)
                yield Item(layers, name, index)


def _walk(
    layer: Storage, directory: str, depth: int | None, hidden: Callable[[str], object]
) -> Iterator[str]:
    try:
        directories, files = layer.listdir(directory)
    except (FileNotFoundError, NotImplementedError):
        return
    prefix = f"{directory}/" if directory else ""
    for file in sorted(files):
        if not file.startswith(MARKER_PREFIX) and hidden(prefix + file) is None:
            yield prefix + file
    if depth is not None and depth <= 1:
        return
    for child in sorted(directories):
        if hidden(prefix + child) is None:
            yield from _walk(layer, prefix + child, None if depth is None else depth - 1, hidden)


def _is_file(layer: Storage, name: str) -> bool:
    try:
        if not layer.exists(name):
            return False
        path = layer.path(name)
    except NotImplementedError:
        return True  # exists() and no local path: an object store, where a name is a file
    # exists() of a local storage is true for a directory too.
    return not os.path.isdir(path)
