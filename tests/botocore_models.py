"""Each botocore JSON model file parsed once per test process, every caller given its own copy.

Every ``S3Storage`` builds its own boto3 session, and ``mock_aws`` starts a new default session,
so every test of the S3 modules parses botocore's S3 model, its endpoint rules and the endpoint
list again: 23 s of the 55 s of ``test_s3_guard.py``. Most of that was not parsing but the garbage
collector, which a parse that makes a hundred thousand objects sets off again and again over
the suite's large heap. Here the first parse of each file is kept as a pickle; every load
returns ``pickle.loads`` of it, with the collector paused while the new objects are made. Each
caller still gets a new, independent object equal to what parsing the file gives (the same
``OrderedDict`` trees): botocore edits a client's S3 operation models in place
(``remove_bucket_from_url_paths_from_model``), so handing every session one shared object would
leak one client's edits into the next. Clients, requests and the package's hooks stay the real
ones.
"""

from __future__ import annotations

import gc
import pickle
from typing import Any

import botocore.loaders

__all__ = ["parse_each_model_once"]


def parse_each_model_once() -> None:
    """Make ``JSONFileLoader.load_file`` parse each file once and hand out copies after that."""
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
