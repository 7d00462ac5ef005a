"""The [upstream] options and the rules of what an upstream index may offer."""

from __future__ import annotations

import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from pryv_server.config import Settings
from pryv_server.core.flight import SingleFlight
from pryv_server.core.upstream import UpstreamPolicy
from pryv_server.core.upstream import parse_file
from pryv_server.errors import ConfigError

SHA = "a" * 64


def test_the_proxy_is_off_without_the_section_and_on_with_an_empty_one() -> None:
    assert Settings.from_mapping({}).upstream is False
    on = Settings.from_mapping({"upstream": {}})
    assert on.upstream is True
    assert on.upstream_url == "https://pypi.org/simple/"
    assert (on.upstream_timeout, on.upstream_ttl, on.upstream_min_age) == (10.0, 600.0, 0.0)
    assert (on.upstream_allow, on.upstream_deny) == ((), ())


def test_upstream_options_are_parsed() -> None:
    settings = Settings.from_mapping(
        {
            "upstream": {
                "url": "http://mirror.internal/simple",
                "ttl": "2",
                "allow": "Acme_Public*, requests",
                "deny": "acme-* internal.*",
                "min-age": "12h",
            }
        }
    )
    assert settings.upstream_url == "http://mirror.internal/simple/"
    assert settings.upstream_ttl == 120.0
    assert settings.upstream_allow == ("acme-public*", "requests")
    assert settings.upstream_deny == ("acme-*", "internal-*")
    assert settings.upstream_min_age == 12 * 3600


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("url", "ftp://x/simple/", "not an http"),
        ("min-age", "soon", "not a duration"),
        ("ttl", "-1", "negative"),
    ],
)
def test_a_bad_upstream_option_names_itself(option: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[upstream\] {option}: .*{message}"):
        Settings.from_mapping({"upstream": {option: value}}, source="pryv.ini")


def test_bare_min_age_numbers_are_days() -> None:
    assert Settings.from_mapping({"upstream": {"min-age": "3"}}).upstream_min_age == 3 * 86400


def test_deny_wins_over_allow_and_allow_limits() -> None:
    policy = UpstreamPolicy(allow=("acme-*", "requests"), deny=("acme-secret*",))
    assert policy.permits("requests")
    assert policy.permits("acme-public")
    assert not policy.permits("acme-secret-tools")
    assert not policy.permits("flask")
    assert UpstreamPolicy().permits("anything")


def test_min_age_hides_young_files_and_files_of_unknown_age() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    policy = UpstreamPolicy(min_age=86400)

    def file(upload_time: str | None) -> object:
        entry = {"filename": "x-1.0.tar.gz", "url": "http://u/x", "hashes": {"sha256": SHA}}
        if upload_time:
            entry["upload-time"] = upload_time
        return parse_file(entry)

    old = file((now - timedelta(days=2)).isoformat().replace("+00:00", "Z"))
    young = file((now - timedelta(hours=2)).isoformat())
    assert policy.offers(old, now)  # type: ignore[arg-type]
    assert not policy.offers(young, now)  # type: ignore[arg-type]
    assert not policy.offers(file(None), now)  # type: ignore[arg-type]
    assert UpstreamPolicy().offers(file(None), now)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": "x-1.0.tar.gz", "url": "http://u/x", "hashes": {"md5": "0" * 32}},
        {"filename": "x-1.0.tar.gz", "url": "http://u/x", "hashes": {"sha256": "zz" * 32}},
        {"filename": "../x-1.0.tar.gz", "url": "http://u/x", "hashes": {"sha256": SHA}},
        {"filename": ".x-1.0.tar.gz", "url": "http://u/x", "hashes": {"sha256": SHA}},
        {"url": "http://u/x", "hashes": {"sha256": SHA}},
        "not a dict",
    ],
)
def test_files_pryv_cannot_verify_or_store_safely_are_left_out(entry: object) -> None:
    assert parse_file(entry) is None


def test_pep_691_fields_pass_through_unchanged() -> None:
    parsed = parse_file(
        {
            "filename": "x-1.0.tar.gz",
            "url": "http://u/x",
            "hashes": {"sha256": SHA.upper()},
            "requires-python": ">=3.9",
            "yanked": "bad",
            "size": 12,
            "upload-time": "2024-01-01T00:00:00.000000Z",
            "dist-info-metadata": {"sha256": SHA},
        }
    )
    assert parsed is not None
    assert parsed.sha256 == SHA
    assert (parsed.requires_python, parsed.yanked, parsed.size) == (">=3.9", "bad", 12)
    assert parsed.core_metadata == {"sha256": SHA}


def test_single_flight_runs_the_work_once_for_concurrent_callers() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = []
    gate = threading.Event()
    results: list[int] = []

    def work() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    threads = [
        threading.Thread(target=lambda: results.append(flights.run("k", work, 10)))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every thread has claimed the flight by now
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [42] * 20
    assert len(calls) == 1
    assert flights.run("k", lambda: 7, 1) == 7  # finished flights are forgotten
