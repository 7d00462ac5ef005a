"""Search, sorting and pages over projects (core/search.py), and the explorer's small helpers."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from pryv_server.core import Metadata
from pryv_server.core import Package
from pryv_server.core import Project
from pryv_server.core import Release
from pryv_server.core.descriptions import Description
from pryv_server.core.descriptions import render_here
from pryv_server.core.search import paginate
from pryv_server.core.search import search_projects
from pryv_server.core.search import sort_projects
from pryv_server.web.explorer.auth import safe_next
from pryv_server.web.explorer.rendering import group_classifiers
from pryv_server.web.explorer.rendering import human_size
from pryv_server.web.explorer.rendering import human_time
from pryv_server.web.explorer.rendering import safe_url


def project(
    name: str, summary: str = "", uploaded: str = "2024-01-01T00:00:00Z", **metadata: object
) -> Project:
    normalized = canonicalize_name(name)
    package = Package.build(
        Metadata(name=name, version="1.0", summary=summary, **metadata),  # type: ignore[arg-type]
        filename=f"{normalized}-1.0.tar.gz", project=normalized, version="1.0", kind="sdist",
        identity=f"{normalized}-1.0.tar.gz", size=1, sha256="0" * 64, upload_time=uploaded,
        uploader="alice", blob_key="k",
    )  # fmt: skip
    return Project(normalized, (Release(Version("1.0"), (package,)),))


PROJECTS = [
    project("requests-toolbelt", "Utilities for requests"),
    project("Requests", "HTTP for humans"),
    project("my_requests_helper", "Help"),
    project("httpx", "A next-generation HTTP client, like requests"),
    project("zope.interface", "Interfaces for Python"),
]


def names(found: list[Project]) -> list[str]:
    return [p.normalized for p in found]


def test_ranking_exact_then_prefix_then_contains_then_summary() -> None:
    assert names(search_projects(PROJECTS, "requests")) == [
        "requests",
        "requests-toolbelt",
        "my-requests-helper",
        "httpx",
    ]


@pytest.mark.parametrize(
    "query", ["ZOPE.INTERFACE", "zope_interface", "Zope-Interface", " zope.interface "]
)
def test_search_ignores_case_and_separators(query: str) -> None:
    assert names(search_projects(PROJECTS, query)) == ["zope-interface"]


def test_every_word_must_match_somewhere() -> None:
    assert names(search_projects(PROJECTS, "http client")) == ["httpx"]
    assert names(search_projects(PROJECTS, "http nothing")) == []
    assert search_projects(PROJECTS, "   ") == []


def test_search_finds_keywords_then_people_last() -> None:
    found = [
        project("plotter", "Draw charts", keywords=("graph", "visualization")),
        project("graphlib", "Graphs"),
        project("netkit", "Networks", author="Ada Graph", author_email="ada@example.org"),
        project("quiet", "Nothing", maintainer_email="someone@graph.example"),
        project("other", "Nothing at all"),
    ]
    assert names(search_projects(found, "graph")) == ["graphlib", "plotter", "netkit", "quiet"]
    assert names(search_projects(found, "ada@example.org")) == ["netkit"]
    assert names(search_projects(found, "visualization charts")) == ["plotter"]


def test_sort_by_name_or_recent() -> None:
    items = [
        project("b", uploaded="2024-01-02T00:00:00Z"),
        project("a", uploaded="2024-01-01T00:00:00Z"),
        project("c", uploaded="2024-01-03T00:00:00Z"),
    ]
    assert names(sort_projects(items, "name")) == ["a", "b", "c"]
    assert names(sort_projects(items, "recent")) == ["c", "b", "a"]


def test_paginate() -> None:
    items = list(range(120))
    first = paginate(items, 1, 50)
    assert first is not None
    assert first.items == tuple(range(50))
    assert first.count == 3
    last = paginate(items, 3, 50)
    assert last is not None
    assert last.items == tuple(range(100, 120))
    assert (last.first_index, last.last_index, last.total) == (101, 120, 120)
    assert paginate(items, 4, 50) is None
    assert paginate(items, 0, 50) is None
    empty = paginate([], 1, 50)
    assert empty is not None
    assert empty.items == ()
    assert empty.count == 1
    assert empty.first_index == 0
    assert paginate([], 2, 50) is None
    with pytest.raises(ValueError, match="positive"):
        paginate(items, 1, 0)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/projects", "/projects"),
        ("/project/x/?q=1", "/project/x/?q=1"),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("/a\\b", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("/x\r\nSet-Cookie: a=b", None),
        ("/x\x7f", None),
        ("relative", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next(target: str | None, expected: str | None) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org", True),
        ("http://example.org/a?b=c", True),
        ("mailto:a@example.org", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,x", False),
        ("vbscript:x", False),
        ("//example.org", False),
        ("http://[::1", False),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


def test_human_size_and_time() -> None:
    assert human_size(950) == "950 bytes"
    assert human_size(12_345) == "12.3 kB"
    assert human_size(4_500_000) == "4.5 MB"
    assert human_size(3 * 10**12) == "3.0 TB"
    assert human_time("2024-03-05T14:07:00.123456Z") == "5 Mar 2024"
    assert human_time("2024-03-05T14:07:00Z", True) == "5 Mar 2024, 14:07 UTC"
    assert human_time("not a time") == "not a time"


def test_group_classifiers() -> None:
    assert group_classifiers(
        ("Topic :: Utilities", "License :: OSI Approved :: MIT License", "Topic :: Internet")
    ) == [("License", ["OSI Approved :: MIT License"]), ("Topic", ["Utilities", "Internet"])]


def test_render_description_by_content_type() -> None:
    assert "<em>x</em>" in (render_here("*x*", "text/markdown").html or "")
    assert "<em>x</em>" in (render_here("*x*", "").html or "")  # rst by default, as on PyPI
    assert render_here("*x*", "text/plain") == Description(None)  # the text itself, no notice
    html = render_here("<script>alert(1)</script>", "text/markdown; variant=GFM").html or ""
    assert "<script" not in html
