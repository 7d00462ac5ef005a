"""Do slow 1 GiB uploads block index requests? Measured for several gunicorn layouts (issue 8).

A gthread worker serves one request per thread for as long as the request lasts, and a client
sending a 1 GiB wheel over a slow link holds its thread for the whole upload. Issue 8 wants
``pryv start``'s defaults (workers x threads) chosen so that such uploads do not starve
``/simple/<project>/``, which every ``pip install`` in CI needs. For each layout this script runs
``wrk -t2 -c8 -d10s`` (authenticated) against a project page:

* with no upload in flight (the baseline),
* during 1 rate-limited upload (``--rate``, default 20 MB/s: the body would take ~50 s),
* during ``threads`` concurrent slow uploads (``--multi-rate`` each, default 2 MB/s),
* during ``workers x threads`` concurrent slow uploads: every thread of the server busy,
* during 1 unthrottled upload (receiving, hashing and storing 1 GiB compete for the CPUs).

The throttled uploads are stopped (the client disconnects) after the wrk run; what matters is
that they are in flight while wrk runs. Run from the repository root::

    python -m bench.slow_upload [--layouts default,1x16,4x4,2x4,2x16,2x32] [--duration 10]

``default`` is ``pryv start`` without ``--workers``/``--threads``; ``WxT`` passes them.
"""

from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench._common import BigWheel
from bench._common import PryvServer
from bench._common import auth_header
from bench._common import big_wheel
from bench._common import curl_upload_command
from bench._common import markdown_table
from bench._common import running_pryv
from bench._common import wait_idle
from bench._common import write_results

DEFAULT_WORKERS, DEFAULT_THREADS = 2, 8  # pryv start's defaults, for the case counts


@dataclass(frozen=True)
class Layout:
    """A gunicorn layout: ``None`` means pryv start's default for that option."""

    label: str
    workers: int | None
    threads: int | None

    @property
    def slots(self) -> tuple[int, int]:
        """Return the effective (workers, threads)."""
        return (self.workers or DEFAULT_WORKERS, self.threads or DEFAULT_THREADS)

    @classmethod
    def parse(cls, text: str) -> Layout:
        """Read ``default`` or ``WxT``."""
        if text == "default":
            return cls(f"default ({DEFAULT_WORKERS}x{DEFAULT_THREADS})", None, None)
        workers, threads = (int(part) for part in text.lower().split("x"))
        return cls(f"{workers}x{threads}", workers, threads)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return round(float(value) * _UNITS[unit], 2)


def run_wrk(url: str, duration: int, connections: int = 8, timeout: int = 5) -> dict[str, Any]:
    """Run wrk with basic auth and ``--latency``; parse req/s, p50/p99 and the error counts.

    Requests that take longer than ``timeout`` seconds count as timeouts (and not in the
    percentiles), so starved requests show up there.
    """
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout}s",
        "--latency",
        "-H",
        f"Authorization: {auth_header()}",
        url,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": 0,
        "timeouts": 0,
        "socket_errors": 0,
    }
    for percentile in ("50", "99"):
        match = re.search(rf"^\s+{percentile}%\s+(\S+)", out, re.MULTILINE)
        result[f"p{percentile}_ms"] = _ms(match.group(1)) if match else None
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result["non_2xx"] = int(match.group(1))
    if match := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        counts = [int(group) for group in match.groups()]
        result["socket_errors"] = sum(counts[:3])
        result["timeouts"] = counts[3]
    return result


def probe(url: str, count: int = 16, timeout: float = 10.0) -> dict[str, Any]:
    """Send ``count`` requests at once, each on a new connection, as separate pip runs would.

    wrk keeps its 8 connections open, so it only sees the workers it connected to; a new
    connection goes to whichever worker accepts it, and a gthread worker accepts even when all
    its threads are busy (the request then waits for one). Returns how many were answered within
    ``timeout`` and their slowest time.
    """
    seconds: list[float | None] = [None] * count

    def one(index: int) -> None:
        request = urllib.request.Request(url, headers={"Authorization": auth_header()})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            seconds[index] = time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered = [value for value in seconds if value is not None]
    return {
        "sent": count,
        "answered": len(answered),
        "max_ms": round(max(answered) * 1000, 1) if answered else None,
    }


def measure_case(
    server: PryvServer,
    wheel: BigWheel,
    page: str,
    uploads: int,
    rate: str | None,
    duration: int,
) -> dict[str, Any]:
    """Run wrk on ``page`` while ``uploads`` uploads of ``wheel`` (at ``rate`` each) are running."""
    wait_idle(server.pid)
    command = curl_upload_command(
        wheel, server.base_url + "/legacy/", limit_rate=rate, write_out="%{http_code}"
    )
    clients = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(uploads)
    ]
    if uploads and rate:
        time.sleep(3)  # every upload connected and streaming before wrk starts
    probes = probe(page)
    result = run_wrk(page, duration)
    result["probes"] = probes
    result["uploads"] = uploads
    result["rate"] = rate or "unlimited"
    result["uploads_in_flight_at_end"] = sum(client.poll() is None for client in clients)
    statuses = []
    for client in clients:
        if rate:
            client.terminate()  # a slow client giving up: the server sees a truncated body
        out, _ = client.communicate()
        statuses.append(out.strip() or "aborted")
    result["upload_statuses"] = statuses
    return result


def measure_layout(
    layout: Layout, wheel: BigWheel, small: BigWheel, args: argparse.Namespace
) -> dict[str, Any]:
    """Start pryv with ``layout`` and run every case against it."""
    workers, threads = layout.slots
    with running_pryv(workers=layout.workers, threads=layout.threads) as server:
        subprocess.run(
            curl_upload_command(small, server.base_url + "/legacy/"), check=True, timeout=60
        )
        page = f"{server.base_url}/simple/{small.name}/"
        run_wrk(page, 2)  # warm up: each worker verifies the password once, then caches it
        cases = {
            "no upload": measure_case(server, wheel, page, 0, None, args.duration),
            "1 slow upload": measure_case(server, wheel, page, 1, args.rate, args.duration),
        }
        for count in sorted({threads, workers * threads}):
            every = " (= all threads)" if count == workers * threads else ""
            label = f"{count} slow uploads{every}"
            cases[label] = measure_case(server, wheel, page, count, args.multi_rate, args.duration)
        cases["1 full-speed upload"] = measure_case(server, wheel, page, 1, None, args.duration)
        return {"workers": workers, "threads": threads, "cases": cases}


def main() -> None:
    """Measure every layout, print one table, write bench/results/slow_upload.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", default="default,1x16,4x4,2x4,2x16,2x32")
    parser.add_argument("--size-mb", type=int, default=1024, help="wheel payload in MiB")
    parser.add_argument("--rate", default="20M", help="curl --limit-rate of the single upload")
    parser.add_argument("--multi-rate", default="2M", help="--limit-rate of each concurrent one")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    args = parser.parse_args()

    wheel = big_wheel(args.size_mb)
    small = big_wheel(1, "pryv-bench-small")
    results: dict[str, Any] = {}
    rows = []
    for layout in map(Layout.parse, args.layouts.split(",")):
        measured = measure_layout(layout, wheel, small, args)
        results[layout.label] = measured
        base = measured["cases"]["no upload"]["rps"]
        for case, run in measured["cases"].items():
            rows.append(
                [
                    layout.label,
                    case + (f" @ {run['rate']}B/s" if run["rate"] != "unlimited" else ""),
                    round(run["rps"]),
                    f"{run['rps'] / base:.2f}" if base else "",
                    run["p50_ms"],
                    run["p99_ms"],
                    f"{run['probes']['answered']}/{run['probes']['sent']}",
                    run["probes"]["max_ms"],
                    run["non_2xx"],
                    f"{run['uploads_in_flight_at_end']}/{run['uploads']}",
                ]
            )
    table = markdown_table(
        [
            "workers x threads",
            "during",
            "req/s",
            "vs no upload",
            "p50 ms",
            "p99 ms",
            "new-connection probes answered in 10 s",
            "slowest probe ms",
            "non-2xx",
            "uploads in flight at end",
        ],
        rows,
    )
    markdown = (
        f"{table}\n\n`wrk -t2 -c8 -d{args.duration}s --timeout 5s` with basic auth on "
        f"`/simple/<project>/` (req/s 0 = blocked for the whole run); then 16 simultaneous "
        "requests on new connections (probes); uploads of a "
        f"{wheel.size / 2**20:.0f} MiB wheel with curl -F, cut off after the wrk run."
    )
    write_results("slow_upload", {"args": vars(args), "layouts": results}, markdown)


if __name__ == "__main__":
    main()
