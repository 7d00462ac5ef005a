"""The backends table: one row per scheme, each row a connector the app can open."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pryv_server.auth.source import LocalFileSource
from pryv_server.backends import CONNECTORS
from pryv_server.backends import Backends
from pryv_server.config import STORE_SCHEMES
from pryv_server.config import Location
from pryv_server.config import parse_location
from pryv_server.errors import ConfigError
from pryv_server.storage import LocalStorage


def test_config_accepts_exactly_the_schemes_of_the_table() -> None:
    # config.py is a leaf and cannot import the table; this keeps its list of names honest.
    assert set(CONNECTORS) == STORE_SCHEMES


@pytest.mark.parametrize("scheme", sorted(CONNECTORS))
def test_every_row_names_a_connector_with_the_whole_protocol(scheme: str) -> None:
    spec = CONNECTORS[scheme]
    connector = getattr(importlib.import_module(spec.module), spec.name)
    for method in ("storage", "file_source", "read_config"):
        assert callable(getattr(connector, method))
    assert (spec.extra == "") == (spec.library == "") == (not spec.requires)


def test_a_remote_location_keeps_its_scheme() -> None:
    location = parse_location("s3://bucket/some/prefix/")
    assert location == Location("s3", "some/prefix", "bucket")
    assert not location.is_local
    assert str(location) == "s3://bucket/some/prefix"


def test_a_scheme_without_a_row_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"gcs:// locations are not supported"):
        Backends().storage(Location("gcs", "prefix", "bucket"))


def test_the_file_backend_opens_folders_and_files(tmp_path: Path) -> None:
    backends = Backends()
    store = backends.storage(parse_location(str(tmp_path / "new" / "store")))
    assert isinstance(store, LocalStorage)
    assert (tmp_path / "new" / "store").is_dir()
    users = backends.file_source(parse_location(str(tmp_path / "users.json")), check_interval=5)
    assert isinstance(users, LocalFileSource)
    assert backends.connector("file") is backends.connector("file")  # built once, shared
    connector = backends.connector("file")
    assert connector.read_config(parse_location(str(tmp_path / "missing.ini"))) is None
    (tmp_path / "pryv.ini").write_text("[core]\n")
    assert connector.read_config(parse_location(str(tmp_path / "pryv.ini"))) == b"[core]\n"
