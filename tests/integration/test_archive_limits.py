"""Real hostile sdists: huge headers, member floods and link chains are refused fast and cheaply."""

from __future__ import annotations

import io
import tarfile
import time
import tracemalloc

import pytest
from flask.testing import FlaskClient

from pryv_server.core import distributions
from pryv_server.core.names import parse_filename
from pryv_server.errors import InvalidDistribution
from tests.security_helpers import many_members_sdist
from tests.security_helpers import pax_bomb_sdist
from tests.security_helpers import sdist_members
from tests.security_helpers import special
from tests.security_helpers import tar_bytes
from tests.uploads import post_multipart
from tests.uploads import upload_body

SDIST = "demo-1.0.tar.gz"


def check(content: bytes) -> bytes:
    return distributions.read_metadata_file(io.BytesIO(content), parse_filename(SDIST))


def upload(client: FlaskClient, content: bytes) -> tuple[int, str]:
    response = post_multipart(client, *upload_body(SDIST, content))
    return response.status_code, response.text


def refused_cheaply(content: bytes, *, seconds: float, memory: int | None = None) -> str:
    """Check ``content`` and return the reason it is refused, within a CPU and memory budget.

    Memory is traced only when asked: tracing slows tarfile's parsing threefold.
    """
    if memory:
        tracemalloc.start()
    start = time.process_time()
    try:
        with pytest.raises(InvalidDistribution) as error:
            check(content)
        spent = time.process_time() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spent < seconds, f"{spent:.1f} s of CPU"
    assert peak < (memory or 1), f"{peak / 2**20:.0f} MiB"
    return str(error.value)


def test_a_300_mib_pax_header_is_refused_before_it_is_read() -> None:
    content = pax_bomb_sdist(300 << 20)
    assert len(content) < 2 << 20  # a small upload...
    # ...that used to cost the worker 735-905 MiB (RSS, issue 18)
    reason = refused_cheaply(content, seconds=2, memory=8 << 20)
    assert "header" in reason


def test_400_000_empty_members_are_refused_fast() -> None:
    content = many_members_sdist(400_000)
    assert len(content) < 5 << 20
    reason = refused_cheaply(content, seconds=12)
    assert "members" in reason


def test_refusals_are_400_with_a_reason(client: FlaskClient) -> None:
    status, text = upload(client, pax_bomb_sdist(2 << 20))
    assert status == 400
    assert "header" in text


def test_a_real_sized_sdist_still_passes() -> None:
    assert check(many_members_sdist(5_000)).startswith(b"Metadata-Version")
    assert check(pax_bomb_sdist(16 << 10)).startswith(b"Metadata-Version")


def _sdist(*extra: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    return tar_bytes([*sdist_members(), *extra])


def _link(name: str, target: str) -> tarfile.TarInfo:
    return special(name, tarfile.SYMTYPE, target)


# Each link alone resolves inside the folder; followed in order on disk, they lead out of it.
CHAINS = [
    pytest.param(
        [_link("demo-1.0/up", "."), _link("demo-1.0/up2", "up/.."), ("demo-1.0/up2/evil", b"x")],
        id="dot-then-dotdot",
    ),
    pytest.param(
        [
            _link("demo-1.0/a", "b/c"),
            special("demo-1.0/b", tarfile.DIRTYPE),
            _link("demo-1.0/b/c", ".."),
            _link("demo-1.0/esc", "a/../../x"),
        ],
        id="link-through-link",
    ),
    pytest.param(
        [_link("demo-1.0/d", "."), _link("demo-1.0/e", "d/d/d/../../..")],
        id="repeated-self-link",
    ),
    pytest.param(
        [_link("demo-1.0/up", ".."), special("demo-1.0/h", tarfile.LNKTYPE, "demo-1.0/up/x")],
        id="hardlink-through-symlink",
    ),
    pytest.param([_link("demo-1.0/a", "b"), _link("demo-1.0/b", "a")], id="loop"),
]


@pytest.mark.parametrize("extra", CHAINS)
def test_link_chains_that_leave_the_folder_are_refused(
    client: FlaskClient, extra: list[tarfile.TarInfo | tuple[str, bytes]]
) -> None:
    status, text = upload(client, _sdist(*extra))
    assert status == 400, text
    assert "link" in text


def test_links_that_stay_inside_are_accepted() -> None:
    content = _sdist(
        _link("demo-1.0/same", "."),
        _link("demo-1.0/pkg", "demo"),
        _link("demo-1.0/init", "pkg/__init__.py"),
        _link("demo-1.0/demo/back", "../PKG-INFO"),
    )
    assert check(content).startswith(b"Metadata-Version")
