#!/usr/bin/env python3
"""Run the demo: an embedded production S3 bucket, then the site that overlays it.

    python example/run.py [--port 8000] [--host 127.0.0.1] [--state-dir DIR] [--http]

(``python3 dev.py demo`` runs this in a tox environment that has everything installed;
``python3 dev.py demo --http`` passes the flag on.)

1. Dummy AWS credentials are set, so no real account can be reached.
2. moto's ThreadedMotoServer starts on a free port of 127.0.0.1 and is seeded with
   a few images; every request reaching it from then on is recorded.
3. A fresh SQLite database gets one row per seeded image, as if it had been
   copied from production.
4. The site starts and the address to open is printed. Ctrl+C stops everything;
   the state directory (database and local uploads) is a temporary one that is
   removed then, unless ``--state-dir`` names one to keep.

With ``--http``, the images are seeded public-read and the site reads production
over plain HTTP from the bucket's public URL (``HTTPStorage``), as it would from a
CDN: its settings hold no credentials, and the AWS variables are removed from the
environment before the site starts, so nothing in it could sign a request.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
DEFAULT_PORT = 8000


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to serve on; 0 picks a free one (default {DEFAULT_PORT}, or a free one "
        f"if {DEFAULT_PORT} is taken)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep the database and local uploads here (default: a temporary directory)",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="read production over plain HTTP from the bucket's public URL, with no credentials",
    )
    return parser.parse_args(argv)


def stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN"):
        os.environ.pop(variable, None)
    os.environ.update(DUMMY_AWS_ENVIRONMENT)
    stop_on_sigterm()

    temporary = args.state_dir is None
    state_dir = (
        Path(tempfile.mkdtemp(prefix="fallback-storage-demo-")) if temporary else args.state_dir
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "media").mkdir(exist_ok=True)

    from demo_site import production

    # moto's server logs each request through werkzeug's logger: quiet while seeding,
    # then shown with a prefix, so the terminal tells what reached production.
    server_log = logging.getLogger("werkzeug")
    server_log.setLevel(logging.WARNING)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("production bucket <- %(message)s"))
    server_log.addHandler(handler)
    server_log.propagate = False

    prod = production.Production(host="127.0.0.1")
    try:
        prod.start()
        seeded = prod.seed(public=args.http)
        server_log.setLevel(logging.INFO)
        production.set_current(prod)
        say(
            f"production bucket {production.BUCKET!r} (moto) at {prod.endpoint_url}, "
            f"seeded with {len(seeded)} {'public-read ' if args.http else ''}images"
        )
        os.environ["DEMO_STATE_DIR"] = str(state_dir)
        if args.http:
            public_url = f"{prod.endpoint_url}/{production.BUCKET}/"
            os.environ["DEMO_PRODUCTION_HTTP_URL"] = public_url
            # The launcher's own clients (seeding, the status panel) have what they need;
            # the site gets no credentials at all.
            for variable in DUMMY_AWS_ENVIRONMENT:
                os.environ.pop(variable, None)
            say(f"the site reads production over HTTP from {public_url}, with no credentials")
        else:
            os.environ["DEMO_S3_ENDPOINT_URL"] = prod.endpoint_url
        os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
        return serve(args, state_dir, seeded)
    except KeyboardInterrupt:
        return 0
    finally:
        # Ctrl+C reaches tox too, which interrupts its command again, then kills it
        # half a second later: ignore the repeats and remove the state directory first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping")
        if temporary:
            shutil.rmtree(state_dir, ignore_errors=True)
        production.set_current(None)
        prod.stop()


def make_server(host: str, port: int) -> Any:
    """Django's development server, answering from a fixed pool of threads.

    django-storages' S3Storage keeps one boto3 client per thread, and making one
    takes a good fraction of a second; with runserver's thread per request, every
    page would pay for a new client. A pool keeps the clients, as gunicorn's
    threads or any long-lived worker would.
    """
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    class RequestHandler(WSGIRequestHandler):
        # Without keep-alive (a pooled server is not a ThreadingMixIn), an idle
        # socket is only a browser's speculative connection: let it go.
        timeout = 10

    class PooledWSGIServer(WSGIServer):
        def __init__(self, address: tuple[str, int]) -> None:
            super().__init__(address, RequestHandler)
            self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-http")

        def process_request(self, request: Any, client_address: Any) -> None:
            self.pool.submit(self.answer, request, client_address)

        def answer(self, request: socket.socket, client_address: Any) -> None:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

        def server_close(self) -> None:
            super().server_close()
            self.pool.shutdown(wait=False, cancel_futures=True)

    return PooledWSGIServer((host, port))


def serve(args: argparse.Namespace, state_dir: Path, seeded: list[tuple[str, str]]) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from gallery.models import Photo

    if not Photo.objects.exists():
        # The rows point at files that exist only in production, as after a database copy.
        Photo.objects.bulk_create(Photo(title=title, image=key) for key, title in seeded)
    say(f"database and local media in {state_dir}")

    from django.core.wsgi import get_wsgi_application

    port = DEFAULT_PORT if args.port is None else args.port
    try:
        server = make_server(args.host, port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE or args.port is not None:
            say(f"cannot serve on {args.host}:{port} ({error}); pick another with --port.")
            return 1
        say(f"port {port} is taken, using a free one instead")
        server = make_server(args.host, 0)
    application: Any = get_wsgi_application()
    from django.apps import apps

    if apps.is_installed("django.contrib.staticfiles"):
        # With django-debug-toolbar (settings.TOOLBAR): serve its CSS and JS, as runserver does.
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        application = StaticFilesHandler(application)
        say("django-debug-toolbar is on, with the FallbackStoragePanel (the Storage tab)")
    server.set_app(application)
    host, bound_port = server.server_address[:2]
    say(f"the demo is running at http://{host}:{bound_port}/  (open it in a browser; Ctrl+C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
