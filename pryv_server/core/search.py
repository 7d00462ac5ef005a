"""Find, sort and page through projects for the explorer (no HTTP here, just lists).

Search matches the query against the project's name, summary, keywords and people (authors and
maintainers, names and e-mail addresses), ignoring case and the PEP 503 separators (``My_Pkg``,
``my.pkg`` and ``my-pkg`` are one name), the way people type names into pip. Results are ranked
like a package index: an exact name first, then names that start with the query, then names that
contain it, then matches in the summary and keywords (those naming a term in the name first),
then matches that need the people; ties go by name.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic
from typing import Literal
from typing import TypeVar

from pryv_server.core.models import Project

T = TypeVar("T")

SortOrder = Literal["name", "recent"]
SORT_ORDERS: tuple[SortOrder, ...] = ("name", "recent")
MAX_QUERY_LENGTH = 200

_SEPARATORS = re.compile(r"[-_.\s]+")


# Names and summaries repeat on every search, so their folded forms are worth remembering.
@functools.lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Fold case and PEP 503 separators so that ``Foo_Bar``, ``foo.bar`` and ``foo-bar`` agree."""
    return _SEPARATORS.sub("-", text.casefold()).strip("-")


def name_matches(name: str, query: str) -> bool:
    """Say whether every term of ``query`` is in ``name`` (folded): search by name alone."""
    return all(_fold(term) in _fold(name) for term in query[:MAX_QUERY_LENGTH].split())


def _rank(project: Project, query: str, terms: Sequence[str]) -> int | None:
    """Rank one project for the folded query and its terms: lower is better, None is no match."""
    name = _fold(project.normalized)
    if name == query:
        return 0
    if name.startswith(query):
        return 1
    if query in name:
        return 2
    # Every term must appear somewhere: in the name, the summary or the keywords...
    metadata = project.latest.metadata
    described = f"{name} {_fold(metadata.summary)} {_fold(' '.join(metadata.keywords))}"
    if all(term in described for term in terms):
        return 3 if any(term in name for term in terms) else 4
    # ... or, ranked last, with the help of who wrote and maintains it.
    people = (
        metadata.author,
        metadata.author_email,
        metadata.maintainer,
        metadata.maintainer_email,
    )
    if all(term in f"{described} {_fold(' '.join(people))}" for term in terms):
        return 5
    return None


def search_projects(projects: Sequence[Project], query: str) -> list[Project]:
    """Return the projects matching ``query`` (see the module docstring), best matches first.

    An empty query matches nothing; callers show the full list instead.
    """
    terms = [_fold(term) for term in query[:MAX_QUERY_LENGTH].split()]
    terms = [term for term in terms if term]
    if not terms:
        return []
    query = "-".join(terms)
    ranked = [
        (rank, project.normalized, project)
        for project in projects
        if (rank := _rank(project, query, terms)) is not None
    ]
    ranked.sort(key=operator.itemgetter(0, 1))
    return [project for _, _, project in ranked]


def sort_projects(projects: Sequence[Project], order: SortOrder) -> list[Project]:
    """Sort by normalized name (``name``) or by last upload, newest first (``recent``)."""
    if order == "recent":
        # Upload times are ISO 8601 UTC strings, so text order is time order.
        return sorted(projects, key=lambda p: (p.last_upload_time, p.normalized), reverse=True)
    return sorted(projects, key=lambda project: project.normalized)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list, numbered from 1."""

    items: tuple[T, ...]
    number: int
    size: int
    total: int

    @property
    def count(self) -> int:
        """How many pages the whole list fills (at least 1, so an empty list has one page)."""
        return max(1, math.ceil(self.total / self.size))

    @property
    def first_index(self) -> int:
        """The 1-based position of the page's first item in the whole list (0 when empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        """The 1-based position of the page's last item in the whole list."""
        return (self.number - 1) * self.size + len(self.items)


def paginate(items: Sequence[T], number: int, size: int) -> Page[T] | None:
    """Cut page ``number`` (from 1) of ``size`` items out of ``items``; None past the last page."""
    if size < 1:
        raise ValueError("the page size must be positive")
    total = len(items)
    if number < 1 or (number - 1) * size >= max(total, 1):
        return None
    start = (number - 1) * size
    return Page(tuple(items[start : start + size]), number, size, total)
