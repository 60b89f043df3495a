"""``manage.py fallback_storage``: see the layers of a storage and which one serves a file.

    manage.py fallback_storage layers [--storage ALIAS] [--json]
    manage.py fallback_storage which NAME [--storage ALIAS] [--json]
    manage.py fallback_storage ls [PATH] [--storage ALIAS] [--json]
    manage.py fallback_storage whiteouts [PATH] [--clear [NAME ...]] [--storage ALIAS] [--json]
    manage.py fallback_storage pull [PATH ...] [--model M ...] [--filter F ...] [--dry-run] ...

Exit codes: 0 success; 1 not found (``which`` of a file no layer serves, ``ls`` of a path
under which no layer serves anything, ``pull`` of a name no lower layer has); 2 usage or
configuration error; 3 some files could not be pulled; 130 ``pull`` was interrupted. ``ls`` of a
file lists that file, as ``ls`` does.

With the ``whiteouts`` option on, ``which`` and ``ls`` read the storage's whiteouts
(``FallbackStorage.list_whiteouts()``) and report a hidden copy as hidden, not as served.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, Storage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fallback_storage import pull_report
from fallback_storage.exceptions import PullInterrupted, PullUsageError
from fallback_storage.layer_view import describe as _describe
from fallback_storage.layer_view import layers as _layers
from fallback_storage.layer_view import parts as _parts
from fallback_storage.layer_view import whiteout_hiding as _whiteout_hiding
from fallback_storage.layer_view import whiteouts_on as _whiteouts_on
from fallback_storage.management.output import print_rows, print_table
from fallback_storage.pull import parse_size, pull
from fallback_storage.pull_selection import select
from fallback_storage.storage import FallbackStorage
from fallback_storage.whiteouts import MARKER_PREFIX

NOT_FOUND = 1
USAGE = 2
INTERRUPTED = 130


class Command(BaseCommand):
    help = "Show the layers of a FallbackStorage, which layer serves a file, merged listings; pull."

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
            help="Clear these whiteouts (every one under PATH when no NAME is given).",
        )
        pulling = actions.add_parser("pull", help="Copy lower layers' files into the writable one.")
        pulling.add_argument("paths", nargs="*", metavar="PATH", help="Names, dirs/, patterns.")
        pulling.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="APP.MODEL[.FIELD]",
            help="Pull the files rows of this model reference (repeatable).",
        )
        pulling.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="LOOKUP=VALUE",
            help="Only rows matching this field lookup, e.g. created__gte=2026-01-01.",
        )
        pulling.add_argument("--workers", type=int, default=4, help="Parallel copies (4).")
        pulling.add_argument("--max-size", metavar="SIZE", help="Skip larger files (e.g. 20M).")
        pulling.add_argument(
            "--dry-run", action="store_true", help="Only say what would be copied."
        )
        for subparser in (layers, which, ls, whiteouts, pulling):
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
            self._which(alias, storage, layers, options["name"])
        elif action == "ls":
            self._ls(alias, storage, layers, options["path"])
        elif action == "pull":
            self._pull(alias, storage, options)
        else:
            self._whiteouts(alias, storage, options["path"], options["clear"])

    # -- actions ------------------------------------------------------------------------

    def _layers(self, layers: Sequence[Storage]) -> None:
        rows = [_describe(index, layer) for index, layer in enumerate(layers)]
        self._print(rows, rows, ("layer", "class", "access", "s3_guard", "location"))

    def _which(self, alias: str, storage: Storage, layers: Sequence[Storage], name: str) -> None:
        hiding = _whiteout_hiding(storage)
        having = [index for index, layer in enumerate(layers) if self._exists(index, layer, name)]
        serving = [index for index in having if hiding(index, name) is None]
        hidden = [index for index in having if index not in serving]
        described = _describe(serving[0], layers[serving[0]]) if serving else None
        result = {"name": name, "layer": described, "shadowed_in": serving[1:], "hidden_in": hidden}
        if self.as_json:
            self.stdout.write(json.dumps(result))
        elif described is not None:
            row = {
                **described,
                "name": name,
                "shadowed_in": _indexes(serving[1:]),
                "hidden_in": _indexes(hidden),
            }
            columns = ["name", "layer", "class", "access", "location", "shadowed_in"]
            self._table([row], _with_hidden(storage, columns))
        if described is not None:
            return
        if hidden:
            whiteout = hiding(hidden[0], name)
            raise CommandError(
                f"No layer of storage {alias!r} serves {name!r}: the whiteout of {whiteout!r} "
                f"hides it in layer(s) {_indexes(hidden)}; run 'manage.py fallback_storage "
                f"whiteouts --storage {alias} --clear {whiteout}' to show it again.",
                returncode=NOT_FOUND,
            )
        raise CommandError(f"No layer of storage {alias!r} has {name!r}.", returncode=NOT_FOUND)

    def _ls(self, alias: str, storage: Storage, layers: Sequence[Storage], path: str) -> None:
        hiding = _whiteout_hiding(storage)
        markers_are_hidden = _whiteouts_on(storage)
        base = "/".join(_parts(path))
        entries: dict[tuple[str, str], list[int]] = {}
        for index, layer in enumerate(layers):
            try:
                directories, files = layer.listdir(path)
            except (FileNotFoundError, NotADirectoryError, NotImplementedError):
                continue
            for kind, names in (("dir", directories), ("file", files)):
                for entry in names:
                    if not (markers_are_hidden and entry.startswith(MARKER_PREFIX)):
                        entries.setdefault((kind, entry), []).append(index)
        if not entries and base:
            # PATH may be a file: list it, as ls does, with the layers that have it.
            having = [
                index for index, layer in enumerate(layers) if self._exists(index, layer, base)
            ]
            if having:
                entries[("file", base)] = having
                base = ""
        if not entries:
            # S3 has no directories: a missing prefix lists as empty there.
            raise CommandError(
                f"No layer of storage {alias!r} lists anything under {path!r}.",
                returncode=NOT_FOUND,
            )
        rows: list[dict[str, Any]] = []
        for (kind, name), indexes in sorted(entries.items(), key=lambda item: item[0][1]):
            full_name = f"{base}/{name}" if base else name
            serving = [index for index in indexes if hiding(index, full_name) is None]
            rows.append(
                {
                    "type": kind,
                    "name": name,
                    "layer": serving[0] if serving else None,
                    "shadowed_in": serving[1:],
                    "hidden_in": [index for index in indexes if index not in serving],
                }
            )
        shown = [
            {
                **row,
                "shadowed_in": _indexes(row["shadowed_in"]),
                "hidden_in": _indexes(row["hidden_in"]),
            }
            for row in rows
        ]
        columns = _with_hidden(storage, ["type", "name", "layer", "shadowed_in"])
        self._print(rows, shown, columns)
        if all(row["layer"] is None for row in rows):
            raise CommandError(
                f"No layer of storage {alias!r} serves anything under {path!r}: whiteouts hide "
                f"every entry; run 'manage.py fallback_storage whiteouts --storage {alias}' to "
                f"see them.",
                returncode=NOT_FOUND,
            )

    def _whiteouts(self, alias: str, storage: Storage, path: str, clear: list[str] | None) -> None:
        if not isinstance(storage, FallbackStorage):
            raise CommandError(
                f"Storage {alias!r} ({type(storage).__qualname__}) has no whiteouts; only a "
                f"FallbackStorage has them, so pass --storage with the alias of one.",
                returncode=USAGE,
            )
        if not storage.whiteouts:
            raise CommandError(
                f"Whiteouts are off for storage {alias!r}, so deleting a file that only a lower "
                f"layer has does nothing (the 1.x behaviour) and leaves no whiteout; set "
                f'STORAGES[{alias!r}]["OPTIONS"]["whiteouts"] = True to hide such files instead.',
                returncode=USAGE,
            )
        if clear is None:
            names = storage.list_whiteouts(path)
            label = "whiteout"
        else:
            names = storage.clear_whiteouts(clear or storage.list_whiteouts(path))
            label = "cleared"
        rows = [{label: name} for name in names]
        self._print(names, rows, (label,))

    def _pull(self, alias: str, storage: Storage, options: dict[str, Any]) -> None:
        try:
            if not 1 <= options["workers"] <= 64:
                raise PullUsageError(
                    f"--workers {options['workers']!r} is out of range; give 1 to 64."
                )
            max_size = parse_size(options["max_size"]) if options["max_size"] else None
            selection = select(
                storage, f"Storage {alias!r}", options["paths"], options["model"], options["filter"]
            )
        except PullUsageError as error:
            raise CommandError(str(error), returncode=USAGE) from error
        report = pull_report.for_command(self.stdout, self.stderr, quiet=self.as_json)
        try:
            summary = pull(
                selection,
                workers=options["workers"],
                max_size=max_size,
                dry_run=options["dry_run"],
                report=report,
            )
        except PullInterrupted as interrupted:
            message = pull_report.interrupted(interrupted.summary)  # type: ignore[arg-type]
            raise CommandError(message, returncode=INTERRUPTED) from interrupted
        if self.as_json:
            self.stdout.write(json.dumps({"storage": alias, **summary.as_dict()}))
        else:
            self.stdout.write(pull_report.summary_line(summary))
        code, message = pull_report.verdict(summary)
        if code:
            raise CommandError(message, returncode=code)

    # -- output -------------------------------------------------------------------------

    def _print(self, data: object, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        print_rows(self.stdout, self.as_json, data, rows, columns)

    def _exists(self, index: int, layer: Storage, name: str) -> bool:
        """Whether ``layer`` has ``name``; a layer that cannot be asked is said so, on stderr."""
        try:
            return layer.exists(name)
        except NotImplementedError:
            return False
        except OSError as error:  # production down, a timeout, a refusal: report the others
            self.stderr.write(
                f"Layer {index} ({type(layer).__qualname__}) could not be asked about "
                f"{name!r}, so it is left out: {error}"
            )
            return False

    def _table(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        print_table(self.stdout, rows, columns)


def _with_hidden(storage: Storage, columns: list[str]) -> list[str]:
    # The HIDDEN_IN column only where something can be hidden.
    return [*columns, "hidden_in"] if _whiteouts_on(storage) else columns


def _indexes(indexes: list[int]) -> str:
    return ",".join(str(index) for index in indexes)
