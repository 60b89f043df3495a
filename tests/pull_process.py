"""Run ``manage.py fallback_storage pull`` in a process of its own, for the tests that need one.

    python tests/pull_process.py CONFIG.json

CONFIG holds ``storages`` (``settings.STORAGES``), ``args`` (the command's
arguments after ``pull``) and ``trace_memory`` (print ``peak <bytes>``, the most
memory Python held during the pull, to stderr at the end). The process exits
with the command's exit code. Used by ``test_pull_process.py`` to interrupt a
pull with a real SIGINT and to measure what a pull holds in memory.
"""

from __future__ import annotations

import json
import signal
import sys
import tracemalloc

import django
from django.conf import settings
from django.core.management import ManagementUtility


def main(config_path: str) -> None:
    # Ctrl+C raises KeyboardInterrupt, as in a terminal, even where this process was started
    # with SIGINT ignored (a test run started in the background by a non-interactive shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(config_path) as config_file:
        config = json.load(config_file)
    settings.configure(
        SECRET_KEY="NOTASECRET",
        USE_TZ=True,
        INSTALLED_APPS=["fallback_storage"],
        STORAGES=config["storages"],
    )
    django.setup()
    if config.get("trace_memory"):
        tracemalloc.start()
    try:
        ManagementUtility(["manage.py", "fallback_storage", "pull", *config["args"]]).execute()
    finally:
        if config.get("trace_memory"):
            sys.stderr.write(f"peak {tracemalloc.get_traced_memory()[1]}\n")


if __name__ == "__main__":
    main(sys.argv[1])
