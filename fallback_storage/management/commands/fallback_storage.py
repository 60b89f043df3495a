"""``manage.py fallback_storage``: see the layers of a storage and which one serves a file.

    manage.py fallback_storage layers [--storage ALIAS] [--json]
    manage.py fallback_storage which NAME [--storage ALIAS] [--json]
    manage.py fallback_storage ls [PATH] [--storage ALIAS] [--json]
    manage.py fallback_storage whiteouts [PATH] [--clear [NAME ...]] [--storage ALIAS] [--json]

Exit codes: 0 success; 1 not found (``which`` of a file no layer has, ``ls`` of a path
under which no layer lists anything); 2 usage or configuration error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, Storage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fallback_storage import s3_guard
from fallback_storage.checks import s3_guard_is_on
from fallback_storage.readonly import ReadOnlyStorage
from fallback_storage.storage import FallbackStorage

NOT_FOUND = 1
USAGE = 2


class Command(BaseCommand):
    help = "Show the layers of a FallbackStorage, which layer serves a file, and merged listings."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        layers = actions.add_parser("layers", help="List the layers, first tried first.")
        which = actions.add_parser("which", help="Show the layer that serves a file.")
        which.add_argument("name", help="The file name, as given to storage.open().")
        ls = actions.add_parser("ls", help="List a directory of every layer, merged.")
        ls.add_argument("path", nargs="?", default="", help="The directory (default: the root).")
        whiteouts = actions.add_parser("whiteouts", help="List or clear whiteouts.")
        whiteouts.add_argument("path", nargs="?", default="", help="Only under this directory.")
        whiteouts.add_argument(
            "--clear",
            nargs="*",
            metavar="NAME",
            help="Clear these whiteouts (all of them when no NAME is given).",
        )
        for subparser in (layers, which, ls, whiteouts):
            subparser.add_argument(
                "--storage", default="default", help='The alias in settings.STORAGES ("default").'
            )
            subparser.add_argument("--json", action="store_true", help="Print JSON for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        alias: str = options["storage"]
        try:
            storage = storages[alias]
            layers = _layers(storage)
        except (InvalidStorageError, ImproperlyConfigured) as error:
            raise CommandError(
                f"Storage {alias!r} cannot be used: {error}", returncode=USAGE
            ) from error
        self.as_json: bool = options["json"]
        action = options["action"]
        if action == "layers":
            self._layers(layers)
        elif action == "which":
            self._which(alias, layers, options["name"])
        elif action == "ls":
            self._ls(alias, layers, options["path"])
        else:
            self._whiteouts(alias, storage, options["path"], options["clear"])

    # -- actions ------------------------------------------------------------------------

    def _layers(self, layers: Sequence[Storage]) -> None:
        rows = [_describe(index, layer) for index, layer in enumerate(layers)]
        self._print(rows, rows, ("layer", "class", "access", "s3_guard", "location"))

    def _which(self, alias: str, layers: Sequence[Storage], name: str) -> None:
        having = [index for index, layer in enumerate(layers) if _exists(layer, name)]
        serving = _describe(having[0], layers[having[0]]) if having else None
        result = {"name": name, "layer": serving, "shadowed_in": having[1:]}
        if self.as_json:
            self.stdout.write(json.dumps(result))
        elif serving is not None:
            row = {**serving, "name": name, "shadowed_in": _indexes(having[1:])}
            self._table([row], ("name", "layer", "class", "access", "location", "shadowed_in"))
        if serving is None:
            raise CommandError(f"No layer of storage {alias!r} has {name!r}.", returncode=NOT_FOUND)

    def _ls(self, alias: str, layers: Sequence[Storage], path: str) -> None:
        entries: dict[tuple[str, str], list[int]] = {}
        for index, layer in enumerate(layers):
            try:
                directories, files = layer.listdir(path)
            except (FileNotFoundError, NotImplementedError):
                continue
            for kind, names in (("dir", directories), ("file", files)):
                for entry in names:
                    entries.setdefault((kind, entry), []).append(index)
        if not entries:
            # S3 has no directories: a missing prefix lists as empty there.
            raise CommandError(
                f"No layer of storage {alias!r} lists anything under {path!r}.",
                returncode=NOT_FOUND,
            )
        rows: list[dict[str, Any]] = [
            {"type": kind, "name": name, "layer": indexes[0], "shadowed_in": indexes[1:]}
            for (kind, name), indexes in sorted(entries.items(), key=lambda item: item[0][1])
        ]
        shown = [{**row, "shadowed_in": _indexes(row["shadowed_in"])} for row in rows]
        self._print(rows, shown, ("type", "name", "layer", "shadowed_in"))

    def _whiteouts(self, alias: str, storage: Storage, path: str, clear: list[str] | None) -> None:
        list_whiteouts = getattr(type(storage), "list_whiteouts", None)
        clear_whiteouts = getattr(type(storage), "clear_whiteouts", None)
        if list_whiteouts is None or clear_whiteouts is None:
            raise CommandError(
                f"Storage {alias!r} ({type(storage).__qualname__}) has no whiteouts; they exist "
                f"only on a FallbackStorage of a version that supports them.",
                returncode=USAGE,
            )
        if getattr(storage, "whiteouts", None) is False:
            raise CommandError(
                f"Whiteouts are off for storage {alias!r}, so a delete of a file a lower layer "
                f'has is refused instead of hidden; set STORAGES[{alias!r}]["OPTIONS"]'
                f'["whiteouts"] = True to turn them on.',
                returncode=USAGE,
            )
        if clear is None:
            names: list[str] = list_whiteouts(storage, path)
            label = "whiteout"
        else:
            names = clear_whiteouts(storage, clear or None)
            label = "cleared"
        rows = [{label: name} for name in names]
        self._print(names, rows, (label,))

    # -- output -------------------------------------------------------------------------

    def _print(self, data: object, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(data))
        else:
            self._table(rows, columns)

    def _table(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        cells = [[column.upper() for column in columns]]
        cells += [[_cell(row.get(column)) for column in columns] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            self.stdout.write(text.rstrip())


def _layers(storage: Storage) -> tuple[Storage, ...]:
    if isinstance(storage, FallbackStorage):
        return storage.backends
    return (storage,)


def _describe(index: int, layer: Storage) -> dict[str, Any]:
    inner = layer.backend if isinstance(layer, ReadOnlyStorage) else layer
    name = type(layer).__qualname__
    if inner is not layer:
        name = f"{name}({type(inner).__qualname__})"
    read_only = getattr(layer, "read_only", False) is True
    if s3_guard.is_s3_storage(inner):
        guard = "on" if s3_guard_is_on(inner) else "off"
        prefix = getattr(inner, "location", "") or ""
        location = f"s3://{getattr(inner, 'bucket_name', '')}/{prefix}"
    else:
        guard = None
        location = str(getattr(inner, "location", "") or "")
    return {
        "layer": index,
        "class": name,
        "access": "read-only" if read_only else "writable",
        "s3_guard": guard,
        "location": location,
    }


def _exists(layer: Storage, name: str) -> bool:
    try:
        return layer.exists(name)
    except NotImplementedError:
        return False


def _indexes(indexes: list[int]) -> str:
    return ",".join(str(index) for index in indexes)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
