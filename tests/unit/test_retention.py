"""Retention rules: what ``pryv prune`` plans to delete, and what it never touches."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from packaging.version import Version

from pryv_server.config import Settings
from pryv_server.config_values import RetentionRule
from pryv_server.config_values import parse_retention
from pryv_server.core import retention
from pryv_server.core.models import Project
from pryv_server.core.models import Release
from pryv_server.errors import ConfigError
from tests.records import package

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def project(*versions: str, uploaded: dict[str, str] | None = None) -> Project:
    uploaded = uploaded or {}
    releases = [
        Release(Version(v), (package(v, uploaded=uploaded.get(v, "2026-05-31T00:00:00Z")),))
        for v in versions
    ]
    return Project("demo", tuple(sorted(releases, key=lambda r: r.version)))  # type: ignore[arg-type]


def planned(project: Project, *rules: RetentionRule) -> list[str]:
    return [str(item.release.version) for item in retention.plan([project], rules, NOW)]


def test_keep_dev_keeps_the_newest_dev_releases() -> None:
    nightly = project("1.0", "1.1.dev1", "1.1.dev2", "1.1.dev3", "1.1.dev4")
    assert planned(nightly, RetentionRule("demo", keep_dev=2)) == ["1.1.dev1", "1.1.dev2"]
    assert planned(nightly, RetentionRule("demo", keep_dev=0)) == [
        "1.1.dev1",
        "1.1.dev2",
        "1.1.dev3",
    ]


def test_keep_pre_counts_pre_releases_but_not_dev_releases() -> None:
    rcs = project("1.0", "2.0a1", "2.0b1", "2.0rc1", "2.1.dev1", "2.1.dev2")
    assert planned(rcs, RetentionRule("demo", keep_pre=1)) == ["2.0a1", "2.0b1"]


def test_max_age_never_touches_the_newest_or_the_latest_final_release() -> None:
    old = "2025-01-01T00:00:00Z"
    aged = project("0.9", "1.0", "2.0rc1", uploaded={"0.9": old, "1.0": old, "2.0rc1": old})
    assert planned(aged, RetentionRule("*", max_age_days=30)) == ["0.9"]


def test_only_the_first_matching_rule_applies() -> None:
    nightly = project("1.0", "1.1.dev1", "1.1.dev2")
    rules = (RetentionRule("other-*", keep_dev=0), RetentionRule("de*", keep_dev=5))
    assert planned(nightly, *rules) == []
    assert planned(nightly, RetentionRule("nope", keep_dev=0)) == []


def test_retention_option_parses_rules_and_refuses_typos() -> None:
    text = "\nnightly-* keep-dev=10\n* max-age=90d keep-pre=3\n"
    assert parse_retention(text) == (
        RetentionRule("nightly-*", keep_dev=10),
        RetentionRule("*", keep_pre=3, max_age_days=90.0),
    )
    with pytest.raises(ConfigError, match=r"\[lifecycle\] retention: 'keep=3': use keep-dev"):
        Settings.from_mapping({"lifecycle": {"retention": "x keep=3"}})
    with pytest.raises(ConfigError, match="says nothing to keep"):
        Settings.from_mapping({"lifecycle": {"retention": "x"}})
