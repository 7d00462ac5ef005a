"""The proxy against a local upstream: resolve times (pryv, devpi, the upstream) and page rates.

Hermetic: the upstream is a static PEP 691 index (``tests/upstream_index.py``) over a folder of
real wheels (``pip download requests flask django`` once, ``--wheels``), served on loopback, so
network and PyPI's load are out of the figures. Three indexes are timed with ``uv pip compile``
and ``pip install --dry-run`` (no client cache):

* the upstream index directly;
* ``pryv start`` with ``[upstream]`` pointing at it: cold (first resolve, every page and core
  metadata file fetched and stored), then cached;
* devpi-server (from ``/tmp/venv-devpi``, as ``../shared/bench/setup.sh`` installs it with
  ``TARGETS=devpi``) with a mirror index of the same upstream: cold, then cached. Skipped when
  devpi is not installed.

Then ``wrk`` measures the rate of one project page (``/simple/django/``, authenticated) on pryv
for the cached upstream project and, on a second pryv without ``[upstream]`` running beside it,
for the same wheel uploaded as a local project, in interleaved rounds (and on devpi's mirror);
the medians of the rounds are reported. Run from the repository root::

    python -m bench.proxy_hermetic --wheels /tmp/wheels [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench._common import PASSWORD
from bench._common import USER
from bench._common import PryvServer
from bench._common import auth_header
from bench._common import free_port
from bench._common import markdown_table
from bench._common import running_pryv
from bench._common import write_results
from bench.proxy_resolve import client_env
from bench.proxy_resolve import resolvers
from bench.proxy_resolve import timed
from tests.upstream_index import StaticIndex

DEVPI = Path("/tmp/venv-devpi/bin")
REQUIREMENTS = ["requests", "flask", "django"]
PAGE = "django"
UPSTREAM = "upstream"


def serve_wheels(folder: Path, root: Path) -> StaticIndex:
    """Publish every wheel of ``folder`` on a static PEP 691 index on loopback."""
    index = StaticIndex(root)
    for wheel in sorted(folder.glob("*.whl")):
        index.add(wheel)
    return index


def resolve_times(index: str, work: Path, runs: int, label: str) -> dict[str, list[float]]:
    """Time both resolvers against ``index``: one cold run, then ``runs`` cached ones.

    The upstream itself caches nothing: its ``runs + 1`` runs are one series.
    """
    data: dict[str, list[float]] = {}
    for tool, command in resolvers(index, work, REQUIREMENTS).items():
        if label == UPSTREAM:
            data[f"{tool} / {label}"] = [timed(command, work) for _ in range(runs + 1)]
            continue
        data[f"{tool} / {label}, cold"] = [timed(command, work)]
        data[f"{tool} / {label}, cached"] = [timed(command, work) for _ in range(runs)]
    return data


def page_rate(url: str, seconds: int, authorization: str | None) -> dict[str, float]:
    """Run wrk (1 thread, 4 connections) against ``url``; return req/s and latency p50/p99."""
    script = Path(tempfile.mkdtemp()) / "report.lua"
    script.write_text(
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %f %d %d %d\\n", summary.requests, '
        "summary.duration, latency:percentile(50), latency:percentile(99), "
        "summary.errors.status))\nend\n"
    )
    headers = ["-H", f"Authorization: {authorization}"] if authorization else []
    command = ["wrk", "-t1", "-c4", f"-d{seconds}s", "-s", str(script), *headers, url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, duration, p50, p99, errors = (float(v) for v in line.split()[1:])
    shutil.rmtree(script.parent, ignore_errors=True)
    if errors:
        raise RuntimeError(f"{url}: {errors:.0f} non-2xx answers")
    return {
        "rps": round(requests / (duration / 1e6), 1),
        "p50_ms": round(p50 / 1000, 2),
        "p99_ms": round(p99 / 1000, 2),
    }


def warm_logins(server: PryvServer, requests: int = 16) -> None:
    """Have every worker check the bench user's password once (bcrypt, ~0.3 s, then cached).

    devpi's mirror is read anonymously: without this, pryv's cold resolve would also time each
    worker's first password check, which has nothing to do with proxying.
    """
    request = urllib.request.Request(
        f"{server.base_url}/simple/", headers={"Authorization": auth_header()}
    )

    def get() -> None:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    threads = [threading.Thread(target=get) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def devpi(work: Path, upstream: str, body: Callable[[str], None]) -> None:
    """Run ``body`` with the URL of a devpi-server mirror index of ``upstream``."""
    serverdir, clientdir, port = work / "server", work / "client", free_port()
    subprocess.run(
        [DEVPI / "devpi-init", "--serverdir", serverdir, "--no-root-pypi", "--root-passwd", "root"],
        check=True,
        capture_output=True,
    )
    log = (work / "devpi.log").open("wb")
    process = subprocess.Popen(
        [DEVPI / "devpi-server", "--serverdir", serverdir, "--host", "127.0.0.1", "--port",
         str(port)],
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/+api")
        client = [str(DEVPI / "devpi"), "--clientdir", str(clientdir)]
        for args in (
            ["use", url],
            ["login", "root", "--password", "root"],
            ["index", "-c", "root/up", "type=mirror", f"mirror_url={upstream}"],
        ):
            subprocess.run([*client, *args], check=True, capture_output=True)
        body(f"{url}/root/up/+simple/")
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def twine_upload(server: PryvServer, wheel: Path) -> None:
    """Upload ``wheel`` to ``server`` with twine, as a user would."""
    subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"{server.base_url}/simple/", "-u", USER, "-p", PASSWORD, str(wheel)],
        check=True, capture_output=True, env=client_env(),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path)
    parser.add_argument("--report", type=Path, help="only render this results JSON again")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.report is not None:
        rewrite(args.report)
        return
    if args.wheels is None:
        parser.error("--wheels DIR is needed (pip download requests flask django -d DIR)")
    work = Path(tempfile.mkdtemp(prefix="pryv-bench-proxy-"))
    upstream = serve_wheels(args.wheels, work / "upstream")
    times: dict[str, list[float]] = {}
    rates: dict[str, list[dict[str, float]]] = {}
    try:
        times |= resolve_times(upstream.url, work, args.runs, UPSTREAM)
        proxied = f"[upstream]\nurl = {upstream.url}\ntimeout = 30\n"
        with (
            running_pryv(work / "pryv", extra_config=proxied) as proxy,
            running_pryv(work / "local") as local,
        ):
            index = f"http://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}/simple/"
            warm_logins(proxy)
            times |= resolve_times(index, work, args.runs, "pryv")
            twine_upload(local, next(args.wheels.glob(f"{PAGE}-*.whl")))
            pages = {
                "upstream index (static files)": (f"{upstream.url}{PAGE}/", None),
                "pryv, cached upstream project": (
                    f"{proxy.base_url}/simple/{PAGE}/",
                    auth_header(),
                ),
                "pryv, local project": (f"{local.base_url}/simple/{PAGE}/", auth_header()),
            }
            # Interleaved rounds: the machine is shared, its load drifts within a minute.
            for _ in range(args.runs):
                for name, (url, authorization) in pages.items():
                    rates.setdefault(name, []).append(page_rate(url, args.seconds, authorization))
        if (DEVPI / "devpi-server").exists():

            def on_devpi(index: str) -> None:
                times.update(resolve_times(index, work, args.runs, "devpi"))
                name = "devpi, cached mirror project"
                for _ in range(args.runs):
                    rates.setdefault(name, []).append(
                        page_rate(f"{index}{PAGE}/", args.seconds, None)
                    )

            devpi(work / "devpi", upstream.url, on_devpi)
    finally:
        upstream.close()
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: _median_rate(runs) for name, runs in rates.items()}
    data = {"seconds": times, "page_rates": rates, "page_rate_medians": medians}
    write_results("proxy_hermetic", data, report(times, medians))


def _median_rate(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def report(times: dict[str, list[float]], rates: dict[str, dict[str, float]]) -> str:
    """Render both tables, with each median as a ratio to the upstream index's."""
    rows = []
    for name, seconds in times.items():
        base = statistics.median(times[f"{name.split(' / ')[0]} / {UPSTREAM}"])
        median = statistics.median(seconds)
        rows.append([name, f"{median:.2f}", f"{median / base:.2f}", len(seconds)])
    table = markdown_table(["resolver / index", "median s", "x upstream", "runs"], rows)
    local = rates.get("pryv, local project", {}).get("rps") or 1.0
    page_rows = [
        [name, rate["rps"], f"{rate['rps'] / local:.2f}", rate["p50_ms"], rate["p99_ms"]]
        for name, rate in rates.items()
    ]
    pages = markdown_table(
        [f"/simple/{PAGE}/", "req/s", "x pryv local", "p50 ms", "p99 ms"], page_rows
    )
    return f"{table}\n\n{pages}"


def rewrite(results: Path) -> None:
    """Render the tables again from a results JSON (``--report``), merging upstream series."""
    data = json.loads(results.read_text())
    times: dict[str, list[float]] = {}
    for name, seconds in data["seconds"].items():
        tool, _, where = name.partition(" / ")
        key = f"{tool} / {UPSTREAM}" if where.startswith(UPSTREAM) else name
        times.setdefault(key, []).extend(seconds)
    print(report(times, data["page_rate_medians"]))


if __name__ == "__main__":
    main()
