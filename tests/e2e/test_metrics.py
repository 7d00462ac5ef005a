"""``/metrics`` of a real ``pryv start`` with two workers: every worker's requests in one scrape,
parsed by prometheus-client's own parser, read with the metrics-only token as the docs show."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import free_port
from tests.e2e.servers import run
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.servers import write_config
from tests.e2e.tools import docs_env
from tests.e2e.tools import run_block

pytestmark = pytest.mark.e2e

DOCS_BLOCKS = [("deployment.md", "Metrics")]
TOKEN = "metrics-token-0123456789abcdef"
REQUESTS = 40


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Server]:
    extra = f"[metrics]\ntoken = {TOKEN}\n"
    server = start_with_user(tmp_path / "server", "--workers", "2", extra=extra)
    yield server
    stop_server(server)


def get(server: Server, path: str) -> int:
    request = urllib.request.Request(
        server.url + path, headers={"Authorization": basic_header(USER, PASSWORD)}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # a new connection each time
        response.read()
        return response.status


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_one_scrape_adds_up_every_worker(two_workers: Server, tmp_path: Path) -> None:
    twine_upload(two_workers, make_wheel(tmp_path / "dist", "myproject", "1.0"))
    for _ in range(REQUESTS):
        assert get(two_workers, "/simple/myproject/") == 200
    (curl,) = docs_block("deployment.md", "Metrics")
    env = docs_env(tmp_path / "home", PRYV_METRICS_TOKEN=TOKEN)
    route = (("method", "GET"), ("route", "/simple/<project>/"), ("status", "200"))
    for _ in range(4):  # whichever worker answers the scrape
        found = samples(run_block([curl], two_workers, tmp_path, env).stdout)
        assert found[("pryv_http_requests_total", route)] == REQUESTS
        assert found[("pryv_uploads_total", (("result", "stored"),))] == 1
        assert found[("pryv_files", ())] == 1


@pytest.fixture(params=["gunicorn", "granian"])
def own_address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """Two workers, and ``/metrics`` also on a port of its own, with the token."""
    metrics_port = free_port()
    extra = f"[metrics]\ntoken = {TOKEN}\naddress = 127.0.0.1:{metrics_port}\n"
    server = start_with_user(
        tmp_path / "server", "--workers", "2", "--server", request.param, extra=extra
    )
    yield server, f"http://127.0.0.1:{metrics_port}"
    stop_server(server)


def scrape(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_on_an_address_of_their_own_add_up_every_worker(
    own_address: tuple[Server, str], tmp_path: Path
) -> None:
    """Served by the main process: every worker's requests, and the files uploaded since start."""
    server, metrics_url = own_address
    assert f"metrics on {metrics_url}/metrics" in server.log_text()
    twine_upload(server, make_wheel(tmp_path / "dist", "myproject", "1.0"))
    for _ in range(REQUESTS):
        assert get(server, "/simple/myproject/") == 200
    route = (("method", "GET"), ("route", "/simple/<project>/"), ("status", "200"))
    # A request is counted when the server closes its response, which may come just after the
    # client has read it: give the last one a moment (CI saw 39 of 40 without it).
    deadline = time.monotonic() + 5
    while True:
        status, text = scrape(f"{metrics_url}/metrics")
        found = samples(text)
        if (
            found.get(("pryv_http_requests_total", route)) == REQUESTS
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.1)
    assert status == 200
    assert found[("pryv_http_requests_total", route)] == REQUESTS
    assert found[("pryv_uploads_total", (("result", "stored"),))] == 1
    assert found[("pryv_files", ())] == 1
    assert found[("pryv_projects", ())] == 1
    # The scrape itself goes to no worker: the API's count did not move.
    assert (
        samples(scrape(f"{metrics_url}/metrics")[1])[("pryv_http_requests_total", route)]
        == REQUESTS
    )
    assert scrape(f"{metrics_url}/metrics", token=None)[0] == 401
    assert scrape(f"{metrics_url}/metrics", token="wrong-token-0123456789")[0] == 401
    assert scrape(f"{metrics_url}/simple/", token=TOKEN)[0] == 404
    # The main port still answers /metrics as before.
    assert get(server, "/metrics") == 200


def test_a_busy_metrics_address_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        config = write_config(tmp_path, free_port(), f"[metrics]\naddress = 127.0.0.1:{busy}\n")
        result = run(tool("pryv"), "start", "-c", str(config), check=False, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{busy}: the port is in use by another program "
        "(stop it, or choose another port with [metrics] address)"
    ]
