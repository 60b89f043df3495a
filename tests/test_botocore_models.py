"""The suite's botocore model loads (``botocore_models.py``): each session gets its own copy."""

from __future__ import annotations

import botocore.session


def s3_model(session: botocore.session.Session) -> dict[str, object]:
    model: dict[str, object] = session.get_component("data_loader").load_service_model(
        "s3", "service-2"
    )
    return model


def test_every_session_gets_an_equal_model_of_its_own() -> None:
    first, second = botocore.session.get_session(), botocore.session.get_session()
    one, other = s3_model(first), s3_model(second)
    assert one == other
    assert one is not other
    # botocore edits a client's operation models in place; another session must not see it.
    operations = one["operations"]
    assert isinstance(operations, dict)
    operations["GetObject"]["http"]["requestUri"] = "/edited"
    other_operations = other["operations"]
    assert isinstance(other_operations, dict)
    assert other_operations["GetObject"]["http"]["requestUri"] == "/{Bucket}/{Key+}"
    assert s3_model(botocore.session.get_session()) == s3_model(second)


def test_every_session_gets_an_equal_list_of_services_of_its_own() -> None:
    def services(session: botocore.session.Session) -> list[str]:
        listed: list[str] = session.get_available_services()
        return listed

    one = services(botocore.session.get_session())
    other = services(botocore.session.get_session())
    assert "s3" in one
    assert one == other
    one.remove("s3")
    assert "s3" in services(botocore.session.get_session())
