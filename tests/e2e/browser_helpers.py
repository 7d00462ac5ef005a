"""What the browser tests share: Debian's Chromium, the demo project's metadata, screenshots.

The ``browser`` fixture itself is in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

README = """\
# Demo Widgets

**Demo Widgets** builds *tiny* widgets for the pryv tests.

## Install

```bash
pip install demo-widgets
```

## Use

```python
from demo_widgets import Widget

widget = Widget(size=3)
print(widget.render())
```

| Option | Default | Meaning |
| ------ | ------- | ------- |
| `size` | `1`     | how big |
| `color`| `blue`  | what color |

- [x] works offline
- [ ] flies

> Made for testing the explorer. [A link that is not one](javascript:alert(1)).
> <script>document.title = "pwned"</script>
"""

METADATA = {
    "summary": "Tiny widgets for the pryv browser tests",
    "requires_python": ">=3.10",
    "requires_dist": ["packaging>=24", 'rich>=13; extra == "pretty"'],
    "description": README,
    "content_type": "text/markdown; charset=UTF-8; variant=GFM",
    "metadata_version": "2.4",
    "extra": [
        "Author: Ada Lovelace",
        "Author-email: ada@example.org",
        "License-Expression: MIT",
        "Provides-Extra: pretty",
        "Project-URL: Homepage, https://example.org/widgets",
        "Project-URL: Source, https://example.org/widgets/src",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Programming Language :: Python :: 3.12",
        "Classifier: Operating System :: OS Independent",
        "Classifier: Development Status :: 4 - Beta",
    ],
}


def launch_options() -> dict[str, object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "/usr/bin/chromium is missing: CI must install it (apt-get install chromium)"
            )
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, server, user: str, password: str) -> None:
    """Log in through the explorer's form and land on the projects list."""
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/projects$"))


def set_up_first_user(page, user: str, password: str) -> None:
    """Fill in and send the setup page's form."""
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    page.get_by_role("button", name="Create user and start").click()


def watch_errors(page) -> list[str]:
    """Collect console errors (CSP violations show up there) and uncaught exceptions."""
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems
