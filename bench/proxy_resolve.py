"""Resolve a real dependency tree through pryv's proxy of PyPI: cold, warm, and PyPI directly.

Starts ``pryv start`` with an ``[upstream]`` section (PyPI), then times ``uv pip compile`` and
``pip install --dry-run`` of ``requests flask django`` (no client cache) three ways: straight
from PyPI, through pryv the first time (every page and core metadata file fetched upstream and
stored), and through pryv again (served from pryv's cache). Needs network access to PyPI. Run
from the repository root::

    python -m bench.proxy_resolve [--runs 3] [--requirements "requests flask django"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import PASSWORD
from bench._common import USER
from bench._common import PryvServer
from bench._common import markdown_table
from bench._common import write_results

PYPI = "https://pypi.org/simple/"


def client_env() -> dict[str, str]:
    """The environment without this machine's pip and uv configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE="/dev/null", UV_NO_CONFIG="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def timed(command: list[str], cwd: Path) -> float:
    """Run ``command``; return its wall time in seconds (fail loudly if it fails)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=client_env(), check=True, capture_output=True)
    return time.perf_counter() - started


def resolvers(index: str, work: Path, requirements: list[str]) -> dict[str, list[str]]:
    """Return the uv and pip commands that resolve ``requirements`` against ``index``."""
    uv = str(Path(sys.executable).parent / "uv")
    (work / "requirements.in").write_text("\n".join(requirements) + "\n")
    return {
        "uv pip compile": [
            uv, "pip", "compile", "requirements.in", "--no-cache", "--index-url", index, "-q",
        ],
        "pip install --dry-run": [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--no-cache-dir", "--index-url", index, *requirements,
        ],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requirements", default="requests flask django")
    args = parser.parse_args()
    requirements = args.requirements.split()
    work = Path(tempfile.mkdtemp(prefix="pryv-bench-proxy-"))
    rows, data = [], {}
    try:
        direct = resolvers(PYPI, work, requirements)
        for tool, command in direct.items():
            data[f"{tool} / PyPI"] = [timed(command, work) for _ in range(args.runs)]
        for tool in direct:
            server = PryvServer(work / tool.replace(" ", "-"))
            server.prepare()
            with server.config.open("a") as config:
                config.write("[upstream]\ntimeout = 30\n")
            server.start()
            try:
                server.wait_ready()
                index = f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}/simple/"
                command = resolvers(index, work, requirements)[tool]
                data[f"{tool} / pryv, cold"] = [timed(command, work)]
                data[f"{tool} / pryv, cached"] = [timed(command, work) for _ in range(args.runs)]
            finally:
                server.stop()
        for name, seconds in data.items():
            rows.append([name, f"{statistics.median(seconds):.2f}", len(seconds)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = markdown_table(["resolver / index", "median s", "runs"], rows)
    print(table)
    write_results("proxy_resolve", {"requirements": requirements, "seconds": data}, table)


if __name__ == "__main__":
    main()
