"""botocore's data files read once per test process, every caller given its own copy.

Every ``S3Storage`` builds its own boto3 session, and ``mock_aws`` starts a new default session,
so every test of the S3 modules had botocore parse its S3 model, its endpoint rules and the
endpoint list again (23 s of the 55 s of ``test_s3_guard.py``), and list its data directories
again to learn which services exist (four hundred directories, a ``stat`` for each API version).

Here the first parse of each file is kept as a pickle; every load returns ``pickle.loads`` of
it. Each caller still gets a new, independent object equal to what parsing the file gives (the
same ``OrderedDict`` trees): botocore edits a client's S3 operation models in place
(``remove_bucket_from_url_paths_from_model``), so handing every session one shared object would
leak one client's edits into the next. The collector is paused while a copy's hundred thousand
objects are made.

The list of available services is kept per search path and type, and handed out as a new list.
Clients, requests and the package's hooks stay the real ones.
"""

from __future__ import annotations

import gc
import pickle
from typing import Any

import botocore.loaders

__all__ = ["load_botocore_data_once"]


def load_botocore_data_once() -> None:
    """Have botocore parse each file and list its directories once, then hand out copies."""
    _parse_each_file_once()
    _list_services_once()


def _parse_each_file_once() -> None:
    loader_class = botocore.loaders.JSONFileLoader
    original = loader_class.load_file
    pickled: dict[str, bytes] = {}

    def load_file(self: botocore.loaders.JSONFileLoader, file_path: str) -> Any:
        collecting = gc.isenabled()
        gc.disable()
        try:
            if file_path in pickled:
                return pickle.loads(pickled[file_path])
            parsed = original(self, file_path)
            if parsed is not None:  # a missing file is looked for again next time
                pickled[file_path] = pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL)
            return parsed
        finally:
            if collecting:
                gc.enable()

    loader_class.load_file = load_file  # type: ignore[method-assign]


def _list_services_once() -> None:
    loader_class = botocore.loaders.Loader
    original = loader_class.list_available_services
    listed: dict[tuple[tuple[str, ...], str], list[str]] = {}

    def list_available_services(self: botocore.loaders.Loader, type_name: str) -> list[str]:
        key = (tuple(self.search_paths), type_name)
        if key not in listed:
            listed[key] = list(original(self, type_name))
        return list(listed[key])

    loader_class.list_available_services = list_available_services  # type: ignore[method-assign]
