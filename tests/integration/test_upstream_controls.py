"""An admin blocks, pins and purges upstream names (``pryv upstream ...``), seen by every app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result
from flask.testing import FlaskClient

from pryv_server.cli import main
from pryv_server.config import Settings
from pryv_server.core import layout
from pryv_server.core.audit import AuditLog
from pryv_server.storage import LocalStorage
from tests.configs import build_app
from tests.configs import write_ini
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload
from tests.upstream_index import JSON_V1
from tests.upstream_index import StaticIndex
from tests.upstream_index import fetch

JSON = {**basic(), "Accept": JSON_V1}


@pytest.fixture
def proxied(settings: Settings, upstream_index: StaticIndex) -> Settings:
    return settings.replace(upstream=True, upstream_url=upstream_index.url, upstream_timeout=2.0)


@pytest.fixture
def config(proxied: Settings, upstream_index: StaticIndex, tmp_path: Path) -> Path:
    return write_ini(proxied, tmp_path / "pryv.ini", f"[upstream]\nurl = {upstream_index.url}\n")


def client_of(settings: Settings) -> FlaskClient:
    app = build_app(settings)
    return app.test_client()


def pryv(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["upstream", *args, "-c", str(config)])


def audited(settings: Settings) -> list[tuple[str, str]]:
    events = AuditLog(LocalStorage(settings.packages_path.path)).events()
    return [(event.action, event.target) for event in events]


def test_a_blocked_name_is_never_fetched_and_answers_403_until_unblocked(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upstream_index.add(make_wheel(tmp_path / "d", "Left-Pad", "1.0"))
    client = client_of(proxied)

    blocked = pryv(config, "block", "Left_Pad")
    assert blocked.exit_code == 0, blocked.output
    assert "left-pad is never fetched from upstream" in blocked.output
    for accept in (JSON, basic()):
        response = client.get("/simple/left-pad/", headers=accept)
        # 403, not 404: on a 404 uv would move on to its next index (PyPI, say).
        assert response.status_code == 403
        assert "blocked from upstream by an admin" in response.text
    assert upstream_index.hits["/simple/left-pad/"] == 0
    assert pryv(config, "block", "left-pad").output.strip() == "left-pad was already blocked"

    assert pryv(config, "unblock", "left-pad").exit_code == 0
    assert client.get("/simple/left-pad/", headers=JSON).status_code == 200
    assert pryv(config, "unblock", "left-pad").exit_code == 1  # not blocked any more
    assert audited(proxied) == [("upstream.block", "left-pad"), ("upstream.unblock", "left-pad")]


def test_blocking_a_cached_name_hides_its_page_files_and_listing_entry(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "evil", "1.0")
    upstream_index.add(wheel)
    client = client_of(proxied)
    assert client.get("/simple/evil/", headers=JSON).status_code == 200
    assert fetch(client, f"/upstream/evil/{wheel.name}").status_code == 200

    assert pryv(config, "block", "evil").exit_code == 0

    # This app learns of the block with its next catalog check (a CLI wrote it).
    assert client.get("/simple/evil/", headers=JSON).status_code == 403
    assert fetch(client, f"/upstream/evil/{wheel.name}").status_code == 403
    assert fetch(client, f"/upstream/evil/{wheel.name}.metadata").status_code == 403
    names = [p["name"] for p in client.get("/simple/", headers=JSON).json["projects"]]
    assert "evil" not in names
    pryv(config, "unblock", "evil")
    assert fetch(client, f"/upstream/evil/{wheel.name}").status_code == 200
    assert upstream_index.hits[f"/files/{wheel.name}"] == 1  # kept while blocked


def test_a_pinned_page_is_never_refreshed_until_unpinned(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    client = client_of(proxied.replace(upstream_ttl=0.0))  # every request would refresh
    upstream_index.add(make_wheel(tmp_path / "d", "frozen", "1.0"))
    assert client.get("/simple/frozen/", headers=JSON).json["versions"] == ["1.0"]
    assert pryv(config, "pin", "frozen").exit_code == 0

    upstream_index.add(make_wheel(tmp_path / "d", "frozen", "2.0"))
    pinned = client.get("/simple/frozen/", headers=JSON)
    again = client.get("/simple/frozen/", headers=JSON)

    assert pinned.json["versions"] == again.json["versions"] == ["1.0"]
    assert pinned.headers["X-Pryv-Upstream"] == again.headers["X-Pryv-Upstream"] == "pinned"
    assert upstream_index.hits["/simple/frozen/"] == 1
    assert pryv(config, "unpin", "frozen").exit_code == 0
    assert client.get("/simple/frozen/", headers=JSON).json["versions"] == ["1.0", "2.0"]


def test_a_pinned_name_never_fetched_is_fetched_once_then_frozen(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    pryv(config, "pin", "later")
    client = client_of(proxied.replace(upstream_ttl=0.0))
    upstream_index.add(make_wheel(tmp_path / "d", "later", "1.0"))

    for _ in range(3):
        assert client.get("/simple/later/", headers=JSON).status_code == 200
    assert upstream_index.hits["/simple/later/"] == 1


def test_purge_drops_the_page_and_files_which_are_fetched_and_checked_again(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "cached", "1.0")
    entry = upstream_index.add(wheel)
    client = client_of(proxied)  # ttl of 10 minutes: it holds the page in memory
    client.get("/simple/cached/", headers=JSON)
    assert fetch(client, f"/upstream/cached/{wheel.name}").status_code == 200
    assert fetch(client, f"/upstream/cached/{wheel.name}.metadata").status_code == 200
    packages = Path(proxied.packages_path.path)
    blob = packages / layout.blob_key(entry["hashes"]["sha256"], wheel.name)
    assert blob.exists()

    purged = pryv(config, "purge", "cached")

    assert purged.exit_code == 0, purged.output
    assert "purged cached: its page and 1 stored file(s)" in purged.output
    assert not blob.exists()
    assert not Path(f"{blob}.metadata").exists()
    assert not (packages / layout.upstream_page_key("cached")).exists()  # type: ignore[arg-type]
    # This app held the page in memory; the purge reaches it with its next catalog check.
    assert client.get("/simple/cached/", headers=JSON).status_code == 200
    assert upstream_index.hits["/simple/cached/"] == 2
    assert fetch(client, f"/upstream/cached/{wheel.name}").status_code == 200
    assert upstream_index.hits[f"/files/{wheel.name}"] == 2
    assert blob.read_bytes() == wheel.read_bytes()
    action, target = audited(proxied)[-1]
    assert (action, target) == ("upstream.purge", "cached")


def test_purge_never_deletes_a_file_a_local_upload_of_the_name_holds(
    proxied: Settings, config: Path, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "shadowed", "1.0")
    entry = upstream_index.add(wheel)
    client = client_of(proxied)
    client.get("/simple/shadowed/", headers=JSON)
    assert fetch(client, f"/upstream/shadowed/{wheel.name}").status_code == 200
    # The very same file is then uploaded: the name turns local, its blob key is the same one.
    assert post_upload(client, wheel).status_code == 200

    assert pryv(config, "purge", "shadowed").exit_code == 0

    blob = Path(proxied.packages_path.path) / layout.blob_key(entry["hashes"]["sha256"], wheel.name)
    assert blob.exists()
    assert fetch(client, f"/packages/{wheel.name}").status_code == 200


def test_purging_a_name_pryv_never_cached_says_so(config: Path) -> None:
    result = pryv(config, "purge", "nothing-here")
    assert result.exit_code == 0
    assert "no cached upstream page of nothing-here" in result.output


def test_controls_are_one_object_per_fact_and_listed(proxied: Settings, config: Path) -> None:
    pryv(config, "block", "a-lib")
    pryv(config, "pin", "a-lib")
    pryv(config, "purge", "b-lib")

    records = Path(proxied.projects_path.path) / "_upstream-controls"
    assert sorted(str(p.relative_to(records)) for p in records.rglob("*.json")) == [
        "a-lib/block.json",
        "a-lib/pin.json",
        "b-lib/purge.json",
    ]
    assert json.loads((records / "a-lib" / "block.json").read_text())["by"] == "cli"
    listed = pryv(config, "list").output.splitlines()
    assert [line.split()[:2] for line in listed] == [
        ["a-lib", "block"],
        ["a-lib", "pin"],
        ["b-lib", "purge"],
    ]
