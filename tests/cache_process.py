"""A process with a FallbackStorage whose location cache lives in a shared Django cache.

    python tests/cache_process.py CONFIG.json

CONFIG has ``local`` (the writable directory), ``s3`` (the ``S3Storage``
options of the read-only production layer), ``cache`` (the
``settings.CACHES`` entry named ``shared``) and ``cache_alias`` (``"shared"``,
or None for a private in-process cache). The process prints ``ready``, then
reads one JSON command per line from stdin (``["exists", name]``,
``["save", name, text]``, ``["delete", name]``) and answers each with one JSON
line: ``{"result": ...}`` or ``{"error": "..."}``. Used by ``test_cache_redis.py``.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings


def main(config_path: str) -> None:
    with open(config_path) as config_file:
        config = json.load(config_file)
    settings.configure(
        SECRET_KEY="NOTASECRET",
        USE_TZ=True,
        INSTALLED_APPS=["fallback_storage"],
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "shared": config["cache"],
        },
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "media": {
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {
                    "backends": [
                        {
                            "BACKEND": "django.core.files.storage.FileSystemStorage",
                            "OPTIONS": {"location": config["local"]},
                        },
                        {
                            "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                            "OPTIONS": {
                                "backend": {
                                    "BACKEND": "storages.backends.s3.S3Storage",
                                    "OPTIONS": config["s3"],
                                }
                            },
                        },
                    ],
                    "cache_timeout": 300,
                    "cache_alias": config["cache_alias"],
                },
            },
        },
    )
    django.setup()

    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    storage = storages["media"]
    print("ready", flush=True)
    for line in sys.stdin:
        command, name, *rest = json.loads(line)
        try:
            if command == "exists":
                result: object = storage.exists(name)
            elif command == "save":
                result = storage.save(name, ContentFile(rest[0].encode()))
            elif command == "delete":
                storage.delete(name)
                result = None
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as error:  # noqa: BLE001 - reported to the test
            print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        else:
            print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
