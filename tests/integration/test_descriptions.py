"""Descriptions render once, at upload, within a budget; what does not render is shown as is."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server import app as app_module
from pryv_server.config import Settings
from pryv_server.core import Registry
from pryv_server.core import descriptions
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

BROKEN_RST = "Title\n=====\n\n    indented  by four\n\n.. no-such-directive::\n\n*unclosed\n"
# 300 levels of nested block quotes overflow docutils' recursion.
DEEP_RST = "".join("  " * level + f"- item {level}\n\n" for level in range(300))
NOTICE = 'class="readme-notice"'


def publish(client: FlaskClient, tmp_path: Path, text: str, content_type: str = "") -> None:
    wheel = make_wheel(
        tmp_path, "described", "1.0", description=text, content_type=content_type or None
    )
    response = post_upload(client, wheel)
    assert response.status_code == 200, response.text


def page(client: FlaskClient) -> str:
    response = client.get("/project/described/latest/description")
    assert response.status_code == 200
    return response.text


def stored(settings: Settings) -> list[Path]:
    return sorted((Path(settings.packages_path.path) / "descriptions").rglob("*.json"))


def test_broken_rst_is_shown_as_preformatted_text_with_a_notice(
    user: FlaskClient, tmp_path: Path
) -> None:
    publish(user, tmp_path, BROKEN_RST, "text/x-rst")
    text = page(user)
    assert text.count(NOTICE) == 1
    assert "did not render" in text
    assert '<pre class="readme readme--plain">' in text
    assert "\n    indented  by four\n" in text  # whitespace intact


def test_deeply_nested_rst_is_plain_text_not_an_error(user: FlaskClient, tmp_path: Path) -> None:
    publish(user, tmp_path, DEEP_RST, "text/x-rst")
    text = page(user)
    assert "did not render" in text
    assert "- item 299" in text


def test_a_huge_description_is_not_rendered_at_all(user: FlaskClient, tmp_path: Path) -> None:
    publish(user, tmp_path, "Some *text*.\n\n" * 250_000, "text/x-rst")  # 3.5 MB
    start = time.monotonic()
    text = page(user)
    assert time.monotonic() - start < 5
    assert "did not render" in text
    assert "<em>" not in text


def test_a_slow_description_is_stopped_by_the_cpu_budget(
    user: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(descriptions, "CPU_SECONDS", 1)
    slow = "".join(
        f"Para *{i}* with ``code`` and `a link <https://x/{i}>`_.\n\n" for i in range(6000)
    )
    start = time.monotonic()
    publish(user, tmp_path, slow, "text/x-rst")
    assert time.monotonic() - start < 10
    assert "took too long" in page(user)


def test_rendered_once_at_upload_and_stored(
    user: FlaskClient, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(user, tmp_path, "Some *emphasis*.\n", "text/x-rst")
    assert len(stored(settings)) == 1  # before any view

    def not_on_view(*args: object) -> None:
        raise AssertionError("rendered, or the record read, on view")

    monkeypatch.setattr(descriptions, "render", not_on_view)
    # The catalog's digest of the text names the rendering: the file's record is not read.
    monkeypatch.setattr(Registry, "description", not_on_view)
    assert "<em>emphasis</em>" in page(user)
    assert "<em>emphasis</em>" in page(user)


def test_files_published_before_are_rendered_on_first_view_and_stored(
    user: FlaskClient, tmp_path: Path, settings: Settings
) -> None:
    publish(user, tmp_path, "Some *emphasis*.\n", "text/x-rst")
    for path in stored(settings):
        path.unlink()
    assert "<em>emphasis</em>" in page(user)
    assert len(stored(settings)) == 1


def test_rendered_html_is_still_sanitized(user: FlaskClient, tmp_path: Path) -> None:
    publish(
        user, tmp_path, "Hi <script>alert(1)</script> [x](javascript:alert(1))", "text/markdown"
    )
    text = page(user)
    assert "<script>alert" not in text
    assert "javascript:" not in text


def test_a_stored_result_that_is_garbage_is_rendered_again(
    user: FlaskClient, tmp_path: Path, settings: Settings, app: Flask
) -> None:
    publish(user, tmp_path, "Some *emphasis*.\n", "text/x-rst")
    for path in stored(settings):
        path.write_bytes(b"not json")  # a rendering is not fsynced: a crash may leave this
    assert "<em>emphasis</em>" in page(user)
    assert all(b"<em>emphasis</em>" in path.read_bytes() for path in stored(settings))


def test_an_answer_left_unread_is_never_taken_for_the_next_one() -> None:
    """Every description after such a line was shown one upload late (seen once in CI)."""
    renderer = descriptions._Renderer()
    try:
        first = renderer.ask({"text": "First *one*.\n", "type": "text/x-rst", "cpu": 5})
        assert first is not None
        # An answer nobody reads: the child answers it before the next request's.
        renderer._send(
            json.dumps(
                {"text": "Stale *one*.\n", "type": "text/x-rst", "cpu": 5, "id": -1}
            ).encode()
        )
        second = renderer.ask({"text": "Second *one*.\n", "type": "text/x-rst", "cpu": 5})
        assert second is not None
        answer = json.dumps(second)
        assert "<em>one</em>" in answer
        assert "Second" in answer
        assert "Stale" not in answer
    finally:
        renderer.close()


def test_descriptions_stay_in_storage_and_are_shown_from_the_record(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No process holds a description, nor writes one into the journal or a checkpoint.

    The catalog keeps every record in memory, and a real README outweighs the rest of a record;
    the two pages that show a description read it from the file's record when they are made.
    """
    marker = "Described-" + "x" * 2000
    monkeypatch.setattr(app_module, "LOCAL_CHECKPOINT_EVERY", 1)
    writer = build_app(settings)
    wheel = make_wheel(tmp_path, "described", "1.0", description=f"# {marker}")
    assert post_upload(writer.test_client(), wheel).status_code == 200

    restarted = build_app(settings)  # loads the record, and takes a checkpoint of it
    client = restarted.test_client()
    assert login(client).status_code == 302
    assert marker in page(client)
    info = client.get("/pypi/described/json", headers=basic()).json["info"]
    assert info["description"] == f"# {marker}"
    from_checkpoint = build_app(settings)
    for app in (writer, restarted, from_checkpoint):
        held = app.extensions["pryv"].registry.snapshot().project("described").releases[0].newest
        assert held.metadata.description == ""
        # ... but what names its rendering, which `pryv gc` must keep
        assert held.description_sha256 == hashlib.sha256(f"# {marker}".encode()).hexdigest()
    projects = Path(settings.projects_path.path)
    holding = {
        path.relative_to(projects).parts[0]
        for path in projects.rglob("*")
        if path.is_file() and marker.encode() in path.read_bytes()
    }
    assert holding == {"described"}  # the file's record alone
    assert list(projects.glob("_journal/*"))  # ... though the journal entry
    assert list(projects.glob("_checkpoint-parts/*"))  # ... and a checkpoint name the record
