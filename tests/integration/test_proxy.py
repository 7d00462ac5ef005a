"""The caching proxy of an upstream index, against a static PEP 691 index the test starts."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from pryv_server.core import layout
from pryv_server.errors import UpstreamMismatch
from tests.concurrency import all_at_once
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload
from tests.upstream_index import JSON_V1
from tests.upstream_index import StaticIndex
from tests.upstream_index import fetch
from tests.upstream_index import wheel_metadata

JSON = {**basic(), "Accept": JSON_V1}


@pytest.fixture
def proxied(settings: Settings, upstream_index: StaticIndex) -> Settings:
    return settings.replace(upstream=True, upstream_url=upstream_index.url, upstream_timeout=2.0)


def make_client(settings: Settings) -> tuple[Flask, FlaskClient]:
    app = build_app(settings)
    return app, app.test_client()


@pytest.fixture
def client(proxied: Settings) -> FlaskClient:
    return make_client(proxied)[1]


def upload(client: FlaskClient, wheel: Path) -> None:
    response = post_upload(client, wheel)
    assert response.status_code == 200, response.text


def files_of(client: FlaskClient, name: str) -> dict[str, dict[str, object]]:
    response = client.get(f"/simple/{name}/", headers=JSON)
    assert response.status_code == 200, response.text
    return {entry["filename"]: entry for entry in response.json["files"]}


def test_an_upstream_name_is_served_with_pryvs_urls_and_upstreams_fields(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "Up-Lib", "1.0")
    entry = upstream_index.add(wheel, yanked="broken build", requires_python=">=3.8")

    response = client.get("/simple/up-lib/", headers=JSON)

    assert response.status_code == 200
    assert response.headers["X-Pryv-Upstream"] == "fresh"
    document = response.json
    assert document["versions"] == ["1.0"]
    [served] = document["files"]
    assert served["url"] == f"../../upstream/up-lib/{wheel.name}"
    for field in ("hashes", "requires-python", "yanked", "size", "upload-time", "core-metadata"):
        assert served[field] == entry[field], field
    html = client.get("/simple/up-lib/", headers=basic()).text
    assert f'href="../../upstream/up-lib/{wheel.name}#sha256={entry["hashes"]["sha256"]}"' in html
    assert 'data-requires-python="&gt;=3.8"' in html
    assert 'data-yanked="broken build"' in html
    assert f'data-core-metadata="sha256={entry["core-metadata"]["sha256"]}"' in html


def test_a_file_is_fetched_once_verified_stored_then_served_from_storage(
    client: FlaskClient, upstream_index: StaticIndex, proxied: Settings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "up-lib", "1.0")
    entry = upstream_index.add(wheel)
    client.get("/simple/up-lib/", headers=JSON)

    first = fetch(client, f"/upstream/up-lib/{wheel.name}")
    assert first.status_code == 200
    assert first.data == wheel.read_bytes()
    metadata = fetch(client, f"/upstream/up-lib/{wheel.name}.metadata")
    assert metadata.data == wheel_metadata(wheel)
    upstream_index.status = 500  # upstream is gone: both are served from pryv's store
    again = fetch(client, f"/upstream/up-lib/{wheel.name}")
    assert again.status_code == 200
    assert again.data == wheel.read_bytes()
    assert again.headers["ETag"] == f'"{entry["hashes"]["sha256"]}"'
    assert fetch(client, f"/upstream/up-lib/{wheel.name}.metadata").status_code == 200
    assert upstream_index.hits[f"/files/{wheel.name}"] == 1
    assert upstream_index.hits[f"/files/{wheel.name}.metadata"] == 1
    stored = Path(proxied.packages_path.path) / layout.blob_key(
        entry["hashes"]["sha256"], wheel.name
    )
    assert stored.read_bytes() == wheel.read_bytes()


def test_a_local_name_is_never_served_from_upstream_not_even_a_higher_version(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upload(client, make_wheel(tmp_path / "local", "acme-internal", "1.0"))
    attack = make_wheel(tmp_path / "evil", "acme-internal", "99.0", payload="import os")
    upstream_index.add(attack)

    files = files_of(client, "acme-internal")

    assert list(files) == ["acme_internal-1.0-py3-none-any.whl"]
    fetched = fetch(client, f"/upstream/acme-internal/{attack.name}")
    assert fetched.status_code == 404
    assert "never fetched upstream" in fetched.text
    assert upstream_index.hits == {}  # upstream was never even asked


def test_a_yanked_local_name_stays_local(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upload(client, make_wheel(tmp_path / "local", "acme-old", "1.0"))
    yanked = client.post(
        "/api/yank", data={"project": "acme-old", "version": "1.0"}, headers=basic()
    )
    assert yanked.status_code == 200, yanked.text
    upstream_index.add(make_wheel(tmp_path / "evil", "acme-old", "2.0"))

    files = files_of(client, "acme-old")
    assert list(files) == ["acme_old-1.0-py3-none-any.whl"]
    assert files["acme_old-1.0-py3-none-any.whl"]["yanked"] is not False
    assert upstream_index.hits == {}


def test_a_name_uploaded_after_being_proxied_turns_local_at_once(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upstream_index.add(make_wheel(tmp_path / "up", "shared-name", "5.0"))
    assert list(files_of(client, "shared-name")) == ["shared_name-5.0-py3-none-any.whl"]

    upload(client, make_wheel(tmp_path / "local", "shared-name", "1.0"))

    assert list(files_of(client, "shared-name")) == ["shared_name-1.0-py3-none-any.whl"]
    refused = fetch(client, "/upstream/shared-name/shared_name-5.0-py3-none-any.whl")
    assert refused.status_code == 404


def test_cooldown_hides_files_younger_than_min_age(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    _, client = make_client(proxied.replace(upstream_min_age=3 * 86400.0))
    now = datetime.now(UTC)
    old = make_wheel(tmp_path / "d", "cool", "1.0")
    new = make_wheel(tmp_path / "d", "cool", "1.1")
    upstream_index.add(old, uploaded=now - timedelta(days=10))
    upstream_index.add(new, uploaded=now - timedelta(hours=5))

    response = client.get("/simple/cool/", headers=JSON)

    assert [f["filename"] for f in response.json["files"]] == [old.name]
    assert response.json["versions"] == ["1.0"]
    assert fetch(client, f"/upstream/cool/{new.name}").status_code == 404
    assert upstream_index.hits[f"/files/{new.name}"] == 0


@pytest.mark.parametrize(
    ("allow", "deny", "offered"),
    [
        ((), ("evil-*",), {"good-lib": True, "evil-lib": False}),
        (("good-*",), (), {"good-lib": True, "evil-lib": False}),
        (("*-lib",), ("evil-*",), {"good-lib": True, "evil-lib": False}),
    ],
)
def test_allow_and_deny_patterns_decide_which_names_are_looked_up(
    proxied: Settings,
    upstream_index: StaticIndex,
    tmp_path: Path,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    offered: dict[str, bool],
) -> None:
    _, client = make_client(proxied.replace(upstream_allow=allow, upstream_deny=deny))
    for name in offered:
        upstream_index.add(make_wheel(tmp_path / name, name, "1.0"))

    for name, expected in offered.items():
        status = client.get(f"/simple/{name}/", headers=JSON).status_code
        assert status == (200 if expected else 404), name
    assert upstream_index.hits["/simple/evil-lib/"] == 0


def test_a_file_whose_bytes_differ_from_its_hash_is_cut_off_and_never_kept(
    client: FlaskClient, upstream_index: StaticIndex, proxied: Settings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "tampered", "1.0")
    upstream_index.add(wheel, sha256="0" * 64)

    with pytest.raises(UpstreamMismatch):
        fetch(client, f"/upstream/tampered/{wheel.name}")

    blobs = Path(proxied.packages_path.path)
    assert not [p for p in blobs.rglob(wheel.name)]


def test_a_file_whose_length_differs_from_its_page_is_a_502(
    client: FlaskClient, upstream_index: StaticIndex, proxied: Settings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "tampered", "1.0")
    upstream_index.add(wheel, size=10)

    response = fetch(client, f"/upstream/tampered/{wheel.name}")

    assert response.status_code == 502
    assert "nothing was kept" in response.text
    assert not list(Path(proxied.packages_path.path).rglob(wheel.name))


def test_core_metadata_that_differs_from_its_hash_is_a_502(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "tampered", "1.0")
    upstream_index.add(wheel)
    (upstream_index.root / "files" / f"{wheel.name}.metadata").write_bytes(b"Name: other\n")

    response = fetch(client, f"/upstream/tampered/{wheel.name}.metadata")

    assert response.status_code == 502
    assert "core metadata" in response.text
    assert "\n" not in response.text.strip()


@pytest.mark.parametrize("trouble", ["status", "timeout"])
def test_a_name_never_seen_is_a_502_when_upstream_fails(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path, trouble: str
) -> None:
    _, client = make_client(proxied.replace(upstream_timeout=0.5))
    upstream_index.add(make_wheel(tmp_path / "d", "never-seen", "1.0"))
    if trouble == "status":
        upstream_index.status = 503
    else:
        upstream_index.delay = 2.0

    response = client.get("/simple/never-seen/", headers=JSON)

    assert response.status_code == 502
    assert "never-seen" in response.text
    assert (
        "timed out" in response.text
        if trouble == "timeout"
        else re.search(r"\b503\b", response.text)
    )
    assert len(response.text.strip().splitlines()) == 1


def test_a_cached_page_is_served_stale_when_upstream_fails(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, client = make_client(proxied.replace(upstream_ttl=0.0))
    wheel = make_wheel(tmp_path / "d", "kept", "1.0")
    upstream_index.add(wheel)
    assert client.get("/simple/kept/", headers=JSON).headers["X-Pryv-Upstream"] == "fresh"

    upstream_index.status = 500
    response = client.get("/simple/kept/", headers=JSON)

    assert response.status_code == 200
    assert response.headers["X-Pryv-Upstream"] == "stale"
    assert [f["filename"] for f in response.json["files"]] == [wheel.name]
    assert "serving 'kept' as cached" in caplog.text


def test_instances_on_one_store_share_the_cached_page(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upstream_index.add(make_wheel(tmp_path / "d", "shared", "1.0"))
    _, first = make_client(proxied)
    _, second = make_client(proxied)

    first.get("/simple/shared/", headers=JSON)
    upstream_index.status = 500
    response = second.get("/simple/shared/", headers=JSON)

    assert response.status_code == 200
    assert response.headers["X-Pryv-Upstream"] == "fresh"
    assert upstream_index.hits["/simple/shared/"] == 1


def test_a_name_upstream_does_not_have_is_a_404_remembered_for_ttl(
    client: FlaskClient, upstream_index: StaticIndex
) -> None:
    for _ in range(3):
        response = client.get("/simple/nowhere/", headers=JSON)
        assert response.status_code == 404
    assert upstream_index.hits["/simple/nowhere/"] == 1


def test_without_an_upstream_section_nothing_is_proxied(settings: Settings, tmp_path: Path) -> None:
    _, client = make_client(settings)
    assert client.get("/simple/requests/", headers=JSON).status_code == 404
    assert fetch(client, "/upstream/requests/requests-2.0-py3-none-any.whl").status_code == 404


def test_fifty_concurrent_first_downloads_make_one_upstream_request(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    app, _ = make_client(proxied)
    wheel = make_wheel(tmp_path / "d", "popular", "1.0", payload="x = 1\n" * 20000)
    upstream_index.add(wheel)
    upstream_index.file_delay = 0.5

    bodies = all_at_once(
        50, lambda _: fetch(app.test_client(), f"/upstream/popular/{wheel.name}").data
    )

    assert bodies == [wheel.read_bytes()] * 50
    assert upstream_index.hits["/simple/popular/"] == 1
    assert upstream_index.hits[f"/files/{wheel.name}"] == 1


def test_the_stored_page_json_is_shared_under_its_layout_key(
    client: FlaskClient, upstream_index: StaticIndex, proxied: Settings, tmp_path: Path
) -> None:
    upstream_index.add(make_wheel(tmp_path / "d", "keyed", "1.0"))
    client.get("/simple/keyed/", headers=JSON)
    stored = Path(proxied.packages_path.path) / layout.upstream_page_key("keyed")  # type: ignore[arg-type]
    assert json.loads(stored.read_text())["name"] == "keyed"


@pytest.mark.parametrize("accept", ["text/html", JSON_V1])
def test_a_fresh_upstream_page_is_answered_before_flask_exactly_as_flask_did(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path, accept: str
) -> None:
    app, client = make_client(proxied)
    entered: list[str] = []
    app.before_request(lambda: entered.append("flask"))
    upstream_index.add(make_wheel(tmp_path / "d", "fast", "1.0"))

    def answer() -> tuple[int, list[tuple[str, str]], bytes]:
        response = client.get("/simple/fast/", headers={**basic(), "Accept": accept})
        return response.status_code, list(response.headers.items()), response.get_data()

    first = answer()
    second = answer()

    assert first[0] == 200
    assert second == first
    assert entered == ["flask"], "the repeat went through Flask"
    upload(client, make_wheel(tmp_path / "local", "fast", "0.1"))
    entered.clear()
    local = client.get("/simple/fast/", headers={**basic(), "Accept": JSON_V1})
    assert [f["filename"] for f in local.json["files"]] == ["fast-0.1-py3-none-any.whl"]
    assert "X-Pryv-Upstream" not in local.headers


def test_two_processes_on_one_store_make_one_upstream_request_for_a_file(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    apps = [make_client(proxied)[0] for _ in range(2)]  # two workers, one store
    wheel = make_wheel(tmp_path / "d", "popular", "1.0", payload="x = 1\n" * 20000)
    upstream_index.add(wheel)
    upstream_index.file_delay = 0.5
    for app in apps:  # both know the page before the burst
        assert app.test_client().get("/simple/popular/", headers=JSON).status_code == 200
    bodies = all_at_once(
        20, lambda n: fetch(apps[n % 2].test_client(), f"/upstream/popular/{wheel.name}").data
    )

    assert bodies == [wheel.read_bytes()] * 20
    assert upstream_index.hits[f"/files/{wheel.name}"] == 1
    lease = Path(proxied.packages_path.path) / layout.upstream_lease_key(
        hashlib.sha256(wheel.read_bytes()).hexdigest()
    )
    assert not lease.exists()


def test_a_page_listing_another_projects_file_does_not_smuggle_it_in(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upload(client, make_wheel(tmp_path / "local", "acme-internal", "1.0"))
    upstream_index.add(make_wheel(tmp_path / "up", "innocent", "1.0"))
    smuggled = upstream_index.add(make_wheel(tmp_path / "evil", "acme-internal", "9.0"))
    page = upstream_index.root / "simple" / "innocent" / "index.json"
    document = json.loads(page.read_text())
    document["files"].append(smuggled)
    page.write_text(json.dumps(document))

    files = files_of(client, "innocent")

    assert list(files) == ["innocent-1.0-py3-none-any.whl"]
    assert fetch(client, "/upstream/innocent/acme_internal-9.0-py3-none-any.whl").status_code == 404


def test_uploading_a_name_served_from_upstream_warns_that_it_now_shadows_it(
    client: FlaskClient,
    upstream_index: StaticIndex,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream_index.add(make_wheel(tmp_path / "up", "public-lib", "3.0"))
    files_of(client, "public-lib")
    wheel = make_wheel(tmp_path / "local", "public-lib", "1.0")

    response = post_upload(client, wheel)

    assert response.status_code == 200
    assert "warning: 'public-lib' was served from" in response.text
    assert "now shadows the upstream project" in caplog.text
    upload(client, make_wheel(tmp_path / "local", "never-proxied", "1.0"))
    assert upstream_index.hits["/simple/never-proxied/"] == 0  # an upload never asks upstream


def test_the_index_lists_local_projects_and_cached_upstream_ones(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upload(client, make_wheel(tmp_path / "local", "zeta-local", "1.0"))
    upstream_index.add(make_wheel(tmp_path / "up", "alpha-up", "1.0"))
    upstream_index.add(make_wheel(tmp_path / "up", "never-asked", "1.0"))
    listed = client.get("/simple/", headers=JSON).json["projects"]
    assert [project["name"] for project in listed] == ["zeta-local"]

    files_of(client, "alpha-up")

    names = [project["name"] for project in client.get("/simple/", headers=JSON).json["projects"]]
    assert names == ["alpha-up", "zeta-local"]
    assert 'href="alpha-up/"' in client.get("/simple/", headers=basic()).text


def test_a_project_removed_upstream_is_no_longer_offered_after_ttl(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    _, client = make_client(proxied.replace(upstream_ttl=0.0))
    upstream_index.add(make_wheel(tmp_path / "d", "malware", "1.0"))
    assert client.get("/simple/malware/", headers=JSON).status_code == 200

    (upstream_index.root / "simple" / "malware" / "index.json").unlink()  # removed upstream

    assert client.get("/simple/malware/", headers=JSON).status_code == 404
    names = [p["name"] for p in client.get("/simple/", headers=JSON).json["projects"]]
    assert "malware" not in names


def test_a_reserved_name_is_never_served_from_upstream(
    proxied: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    app, client = make_client(proxied)
    upstream_index.add(make_wheel(tmp_path / "up", "acme-next", "1.0"))
    assert client.get("/simple/acme-next/", headers=JSON).status_code == 200
    mirror = app.extensions["pryv"].mirror

    mirror.reserved = lambda name: name.startswith("acme-")  # a namespace is reserved later

    response = client.get("/simple/acme-next/", headers=JSON)
    assert response.status_code == 404
    assert "never fetched upstream" in response.text
    assert upstream_index.hits["/simple/acme-next/"] == 1
