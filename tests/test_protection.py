"""The process-wide register of protected containers, and seeding for test fixtures."""

from __future__ import annotations

import threading
import uuid

import pytest

from fallback_storage import protection, testing


def container(endpoint: str = "loopback:9") -> protection.Container:
    return protection.Container("tests", endpoint, f"c-{uuid.uuid4().hex[:12]}")


def test_a_protected_container_stays_protected_and_keeps_its_first_description() -> None:
    protected = container()
    assert protection.protected_by(protected) is None
    protection.protect(protected, backend="first")
    protection.protect(protected, backend="second")
    assert protection.protected_by(protected) == "first"
    assert protection.is_protected(protected)
    assert protected in protection.protected_containers("tests")
    assert str(protected) == f"tests://{protected.name} on loopback:9"


def test_protecting_finds_a_container_by_endpoint_or_name_or_any() -> None:
    here, there = container("loopback:1"), container("loopback:2")
    protection.protect(here, backend="here")
    protection.protect(there, backend="there")
    assert protection.protecting("tests", endpoint="loopback:1", name=here.name) == (here, "here")
    assert protection.protecting("tests", endpoint="loopback:2", name=here.name) is None
    assert protection.protecting("tests", name=there.name) == (there, "there")
    assert protection.protecting("tests", endpoint="loopback:2") is not None
    assert protection.protecting("no-such-service") is None


def test_seeding_lets_only_this_thread_write_and_only_inside_the_block() -> None:
    protected = container()
    protection.protect(protected, backend="b")
    seen: list[object] = []

    def other_thread() -> None:
        seen.append(protection.protected_by(protected))
        seen.append(protection.protecting("tests", name=protected.name))

    with testing.seeding(protected.name):
        assert protection.protected_by(protected) is None
        assert protection.protecting("tests", name=protected.name) is None
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen == ["b", (protected, "b")]
    assert protection.protected_by(protected) == "b"
    assert protection.is_protected(protected)  # seeding never unregisters


@pytest.mark.parametrize("names", [(), ("",), (3,)])
def test_seeding_needs_container_names(names: tuple[object, ...]) -> None:
    with pytest.raises(ValueError) as caught, testing.seeding(*names):  # type: ignore[arg-type]
        pass
    assert str(caught.value) == (
        f"seeding() needs container names, got {names!r}; pass the bucket or container names "
        f"the fixture fills, e.g. seeding('prod-media')."
    )
