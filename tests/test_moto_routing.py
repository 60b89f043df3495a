"""The suite's moto routing (``moto_routing.py``): each host name still reaches its service."""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def test_each_host_name_is_routed_to_its_own_service_every_time() -> None:
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = {
        "s3.us-east-1.amazonaws.com": "s3",
        "sts.amazonaws.com": "sts",
        "moto_api": "moto_api",
        "s3": "s3",
        None: None,
        "example.org": None,
    }
    for _ in range(2):
        for host, service in hosts.items():
            assert dispatcher.get_backend_for_host(host) == service, host
