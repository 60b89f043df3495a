"""The media directory the HTTP tests serve with nginx, and how to start that nginx.

Names that need quoting are served next to plain ones; the expected request
paths are written out by hand (percent-encoded UTF-8), not computed with the
function under test.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nginx import Nginx
from PIL import Image
from services import require_program
from tls_certs import make_certificates

__all__ = ["FILES", "QUOTED", "running_nginx", "seed_media"]

#: name -> the path segment it must arrive as.
QUOTED = {
    "with space.txt": "with%20space.txt",
    "hash#tag.txt": "hash%23tag.txt",
    "question?mark.txt": "question%3Fmark.txt",
    "per%cent.txt": "per%25cent.txt",
    "plus+sign.txt": "plus%2Bsign.txt",
    "unicodé 写真.txt": "unicod%C3%A9%20%E5%86%99%E7%9C%9F.txt",
    "deep/er/semi;colon&amp.txt": "deep/er/semi%3Bcolon%26amp.txt",
}
BIG_SIZE = 3 * 1024 * 1024 + 123


def _png() -> bytes:
    image = Image.new("RGB", (64, 48), (214, 72, 46))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number in range(20):
            archive.writestr(f"member-{number:02}.txt", f"member {number}\n" * 2000)
    return buffer.getvalue()


FILES: dict[str, bytes] = {
    "hello.txt": b"hello from production\n",
    "photos/sunset.png": _png(),
    "archive.zip": _zip(),
    "big.bin": random.Random(15).randbytes(BIG_SIZE),
    **{name: f"content of {name}\n".encode() for name in QUOTED},
}


def seed_media(media: Path) -> None:
    for name, content in FILES.items():
        path = media / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@contextmanager
def running_nginx(root: Path) -> Iterator[Nginx]:
    """nginx serving :data:`FILES` from ``root/media``, over HTTP and HTTPS; stopped on exit.

    Skipped when nginx is missing (a failure in CI). The CA that signed the
    HTTPS certificate is at ``root/ca.pem``.
    """
    program = require_program("nginx", "apt-get install -y nginx")
    media = root / "media"
    seed_media(media)
    _, certificate, key = make_certificates(root)
    server = Nginx(program, root / "nginx", media, tls=(certificate, key))
    server.start()
    try:
        yield server
    finally:
        server.stop()
