"""The one cache of rendered pages: rendered once, kept while their project is unchanged, bounded."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace

import pytest

from pryv_server.core.catalog import Catalog
from pryv_server.core.catalog import Snapshot
from pryv_server.core.layout import record_key
from pryv_server.core.layout import release_yank_key
from pryv_server.core.models import Package
from pryv_server.core.overlays import YankState
from pryv_server.core.overlays import encode
from pryv_server.storage import MemoryStorage
from pryv_server.web import pages as pages_module
from pryv_server.web.pages import Page
from pryv_server.web.pages import PageKey
from pryv_server.web.pages import Pages
from tests.records import package


def release(project: str, version: str) -> Package:
    filename = f"{project}-{version}-py3-none-any.whl"
    return replace(package(version), project=project, filename=filename, identity=filename)  # type: ignore[arg-type]


def publish(records: MemoryStorage, item: Package, catalog: Catalog | None = None) -> str:
    """Write a record and journal it, through ``catalog`` or as another process would."""
    key = record_key(item.project, item.identity)
    records.write(key, io.BytesIO(json.dumps(item.to_json()).encode()))
    (catalog or Catalog(records)).published(key, item)
    return key


def rendered(text: str) -> Page:
    return Page(text.encode(), 1)


def test_a_page_is_rendered_once_per_state_and_the_index_per_snapshot() -> None:
    pages = Pages()
    snapshot = Snapshot.build(1, {"k": release("demo", "1.0")})
    calls: list[str] = []

    def render(text: str):
        return lambda: calls.append(text) or rendered(text)

    for key in (PageKey("demo", "form"), PageKey(None, "form")):
        assert pages.page(snapshot, key, render("first")).body == b"first"
        assert pages.page(snapshot, key, render("second")).body == b"first"
        assert pages.cached(snapshot, key) == rendered("first")
    assert calls == ["first", "first"]
    assert pages.cached(snapshot, PageKey("demo", "another form")) is None

    other = release("other", "1.0")
    later = snapshot.with_changes({record_key(other.project, other.identity): other})
    assert pages.cached(later, PageKey("demo", "form")) == rendered("first")  # demo unchanged
    assert pages.cached(later, PageKey(None, "form")) is None  # the index lists every project


def test_readers_and_sources_name_different_pages() -> None:
    """A visibility class or an upstream page is one more key component, not another cache."""
    pages = Pages()
    snapshot = Snapshot.build(1, {"k": release("demo", "1.0")})
    pages.page(snapshot, PageKey(None, "form"), lambda: rendered("everything"))
    pages.page(snapshot, PageKey(None, "form", reader="team-a"), lambda: rendered("team a's"))
    pages.page(snapshot, PageKey("demo", "form", source="upstream 7"), lambda: rendered("merged"))
    assert pages.cached(snapshot, PageKey(None, "form")) == rendered("everything")
    assert pages.cached(snapshot, PageKey(None, "form", reader="team-a")) == rendered("team a's")
    assert pages.cached(snapshot, PageKey("demo", "form")) is None
    assert pages.cached(snapshot, PageKey("demo", "form", source="upstream 7")) == rendered(
        "merged"
    )


def test_pages_stay_bounded_whatever_keys_clients_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys a client influences (the ``Host`` header of PyPI JSON) cannot grow memory."""
    monkeypatch.setattr(pages_module, "MAX_INDEX", 1)
    pages = Pages()
    snapshot = Snapshot.build(1, {"k": release("demo", "1.0")})
    for host in range(100):
        key = PageKey("demo", ("pypi-json", None, f"http://host{host}/"))
        assert pages.page(snapshot, key, lambda: rendered("document")) == rendered("document")
    pages.page(snapshot, PageKey(None, "a"), lambda: rendered("a"))
    assert pages.page(snapshot, PageKey(None, "b"), lambda: rendered("b1")) == rendered("b1")
    assert pages.page(snapshot, PageKey(None, "b"), lambda: rendered("b2")) == rendered("b2")
    assert len(pages) == pages_module.MAX_PER_PROJECT + 1


def test_every_projects_pages_are_kept_however_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm registry of any size renders nothing twice (throughput stays flat as it grows)."""
    monkeypatch.setattr(pages_module, "MAX_INDEX", 1)
    monkeypatch.setattr(pages_module, "SLACK", 0)
    snapshot = Snapshot.build(1, {f"k{n}": release(f"p{n}", "1.0") for n in range(50)})
    pages = Pages()
    for n in range(50):
        for form in ("html", "json"):
            pages.page(snapshot, PageKey(f"p{n}", form), lambda: rendered("page"))  # type: ignore[arg-type]
    kept = [
        pages.cached(snapshot, PageKey(f"p{n}", form))  # type: ignore[arg-type]
        for n in range(50)
        for form in ("html", "json")
    ]
    assert kept == [rendered("page")] * 100


def test_an_upload_keeps_the_pages_of_every_other_project() -> None:
    """A page stays rendered until its own project changes, whoever changed the registry."""
    records = MemoryStorage()
    publish(records, release("demo", "1.0"))
    publish(records, release("other", "1.0"))
    catalog = Catalog(records, ttl=60, check_interval=0)
    pages = Pages()
    first = catalog.snapshot()
    for name in ("demo", "other"):
        pages.page(first, PageKey(name, "page"), lambda name=name: rendered(f"{name} v1"))  # type: ignore[misc]

    item = release("demo", "2.0")
    publish(records, item, catalog)  # this process publishes
    second = catalog.snapshot()
    assert pages.cached(second, PageKey("other", "page")) == rendered("other v1")
    assert pages.cached(second, PageKey("demo", "page")) is None  # its own project changed

    pages.page(second, PageKey("demo", "page"), lambda: rendered("demo v2"))
    publish(records, release("demo", "3.0"))  # another worker publishes: this one follows
    third = catalog.snapshot()
    assert len(third.by_project["demo"]) == 3
    assert pages.cached(third, PageKey("other", "page")) == rendered("other v1")
    assert pages.cached(third, PageKey("demo", "page")) is None


def test_a_yank_renders_its_project_again() -> None:
    records = MemoryStorage()
    publish(records, release("demo", "1.0"))
    catalog = Catalog(records, ttl=60, check_interval=0)
    pages = Pages()
    pages.page(catalog.snapshot(), PageKey("demo", "page"), lambda: rendered("before the yank"))
    yank = YankState(yanked=True, reason="bad", user="u", time="t")
    records.write(release_yank_key("demo", "1.0"), io.BytesIO(encode(yank)))
    catalog.changed(release_yank_key("demo", "1.0"))
    after = catalog.snapshot()
    assert after.by_filename["demo-1.0-py3-none-any.whl"].yanked
    assert pages.cached(after, PageKey("demo", "page")) is None


def test_pages_of_projects_that_left_the_registry_are_swept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pages_module, "SLACK", 2)
    pages = Pages()
    for n in range(20):  # each snapshot holds one project, the others were removed by hand
        snapshot = Snapshot.build(n, {"k": release(f"p{n}", "1.0")})
        pages.page(snapshot, PageKey(f"p{n}", "page"), lambda: rendered("page"))  # type: ignore[arg-type]
        assert len(pages) <= 1 + 2 + 1
    assert pages.cached(snapshot, PageKey("p19", "page")) == rendered("page")


def test_concurrent_readers_all_get_the_one_current_page() -> None:
    pages = Pages()
    snapshot = Snapshot.build(1, {"k": release("demo", "1.0")})
    seen: list[Page] = []

    def read() -> None:
        for _ in range(200):
            seen.append(pages.page(snapshot, PageKey("demo", "page"), lambda: rendered("page")))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [rendered("page")] * 1600
    assert len(pages) == 1
