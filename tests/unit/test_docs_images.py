"""The docs' screenshots show the showcase data, never test fixtures, and are all in use.

Each image in docs/images/ is written by the first-hour walk (tests/e2e/test_browser_first_hour.py,
``PRYV_DOCS_IMAGES=write``) from tests/e2e/showcase.py and stamped with that data's fingerprint.
An image copied from another test's screenshots has no stamp; one made before the data changed
has an old one; either fails here, and so does showcase data that reads as a test fixture.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e import showcase

DOCS = Path(__file__).resolve().parents[2] / "docs"
IMAGES = sorted((DOCS / "images").glob("*.png"))
REGENERATE = "regenerate: PRYV_DOCS_IMAGES=write pytest tests/e2e/test_browser_first_hour.py"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.items() for text in _strings(list(item))]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def test_the_showcase_data_holds_no_test_fixture() -> None:
    shown = "\n".join(_strings([showcase.README_RST, showcase.METADATA, showcase.NEIGHBOURS]))
    for forbidden in showcase.FORBIDDEN:
        assert forbidden.lower() not in shown.lower(), f"showcase data shows {forbidden!r}"


@pytest.mark.parametrize("image", IMAGES, ids=lambda path: path.name)
def test_every_docs_image_was_made_from_the_current_showcase_data(image: Path) -> None:
    assert image.stem in showcase.DOCS_SHOTS, f"{image.name} is made by no walk; {REGENERATE}"
    stamp = showcase.png_stamp(image)
    assert stamp is not None, f"{image.name} was not made from the showcase data; {REGENERATE}"
    assert stamp == showcase.fingerprint(), f"{image.name} shows older data; {REGENERATE}"


def test_every_screenshot_is_shown_and_every_shown_one_exists() -> None:
    shown = {
        name
        for page in DOCS.glob("*.md")
        for name in re.findall(r"\]\(images/([\w-]+)\.png\)", page.read_text())
    }
    assert shown == set(showcase.DOCS_SHOTS)
    assert {image.stem for image in IMAGES} == shown


def test_a_screenshot_from_elsewhere_fails_the_check(tmp_path: Path) -> None:
    fixture = tmp_path / "projects.png"
    fixture.write_bytes((DOCS / "images" / "projects.png").read_bytes())
    assert showcase.png_stamp(fixture) is not None
    unstamped = tmp_path / "unstamped.png"
    unstamped.write_bytes(_without_stamp(fixture.read_bytes()))
    assert showcase.png_stamp(unstamped) is None


def _without_stamp(content: bytes) -> bytes:
    marker = content.find(b"tEXtpryv-showcase")
    assert marker > 0
    length = int.from_bytes(content[marker - 4 : marker], "big")
    return content[: marker - 4] + content[marker + 4 + length + 4 :]
