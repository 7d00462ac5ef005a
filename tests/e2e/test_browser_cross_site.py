"""Another site cannot make a browser that cached Basic credentials upload or yank.

A browser that once opened ``http://carol:PASS@host/simple/`` (the README's pip URL) keeps the
credentials for that server and resends them after a 401, whichever page started the request.
The attacking pages are served by a second tiny HTTP server on another loopback address
(127.0.0.2: another site for Chromium), auto-submit a form POST to ``/api/yank`` and a multipart
upload whose file a script fills in, the way a real attack would.
"""

from __future__ import annotations

import base64
import html
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import twine_upload
from tests.uploads import upload_fields

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ATTACKER_HOST = "127.0.0.2"


def _get(server: Server, path: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.url}{path}", headers={"Authorization": basic_header(USER, PASSWORD)}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def attacker() -> Iterator[dict[str, bytes] | str]:
    """Serve ``pages`` (path -> HTML) from another site; yields (pages, base URL)."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"not here")
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield pages, f"http://{ATTACKER_HOST}:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _yank_page(target: str) -> bytes:
    return f"""<!doctype html><html><body>
<form id="f" method="post" action="{html.escape(target)}/api/yank">
  <input name="project" value="victim"><input name="version" value="1.0">
  <input name="reason" value="yanked by another site">
</form>
<script>document.getElementById("f").submit();</script>
</body></html>""".encode()


def _upload_page(target: str, wheel: Path) -> bytes:
    content = wheel.read_bytes()
    fields = upload_fields(wheel.name, content, "planted", "6.6.6")
    inputs = "".join(
        f'<input name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    data = base64.b64encode(content).decode()
    return f"""<!doctype html><html><body>
<form id="f" method="post" enctype="multipart/form-data" action="{html.escape(target)}/">
  {inputs}<input type="file" name="content" id="c">
</form>
<script>
const bytes = Uint8Array.from(atob("{data}"), c => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], "{wheel.name}"));
document.getElementById("c").files = transfer.files;
document.getElementById("f").submit();
</script>
</body></html>""".encode()


def test_another_site_cannot_yank_or_upload_with_cached_basic_credentials(
    browser,
    server: Server,
    attacker,
    tmp_path: Path,
) -> None:
    pages, attacker_url = attacker
    twine_upload(server, make_wheel(tmp_path / "dist", "victim", "1.0"))
    planted = make_wheel(tmp_path / "evil", "planted", "6.6.6")
    pages["/yank"] = _yank_page(server.url)
    pages["/upload"] = _upload_page(server.url, planted)

    context = browser.new_context()
    page = context.new_page()
    host = server.url.removeprefix("http://")
    # The README's index URL, opened once: the browser now holds carol's credentials.
    opened = page.goto(f"http://{USER}:{PASSWORD}@{host}/simple/")
    assert opened is not None
    assert opened.status == 200

    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: r.request.method == "POST" and answers.append((r.url, r.status)))
    for attack in ("/yank", "/upload"):
        with page.expect_response(lambda r: r.request.method == "POST", timeout=15_000):
            page.goto(attacker_url + attack)
        page.wait_for_load_state("load")
    context.close()

    assert answers, "the attacking forms were never submitted"
    assert all(status == 403 for _, status in answers), answers
    status, victim = _get(server, "/simple/victim/")
    assert status == 200
    assert "data-yanked" not in victim
    assert _get(server, "/simple/planted/")[0] == 404
