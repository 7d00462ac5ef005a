"""Helpers shared by the explorer's integration tests: log in through the real form, read tokens."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.credentials import PASSWORD
from tests.credentials import USER

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Fetch ``path`` and return the CSRF token of its form."""
    response = client.get(path)
    match = _TOKEN.search(response.text)
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def login(client: FlaskClient, user: str = USER, password: str = PASSWORD, **extra: str):
    """Log in through the form, with a real CSRF token."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token, **extra}
    )


def readme_html(page: str) -> str:
    """The description part of a project page: rendered, or the text as is (``<pre>``)."""
    start = page.index('class="readme')
    end = min(i for i in (page.find("</article>", start), page.find("</pre>", start)) if i >= 0)
    return page[start:end]
