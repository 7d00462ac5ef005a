"""Start-up time and warm memory of ``pryv start`` at 10,000 projects / 60,000 files (issue 8).

Issue 8 wants the first answered request less than 5 s after ``pryv start`` with 10,000 projects
(60,000 files) on local storage, and the memory after warm-up reported per 10,000 files. pryv
loads its whole index in the gunicorn master before forking, so start-up grows with the number
of stored records; this measures how fast, at 1,000 and 10,000 projects.

The data is made once and cached in ``$PRYV_BENCH_CACHE`` (default ``~/.cache/pryv-bench``):
the shared harness's corpus (``corpus.py``, 3 versions x wheel + sdist per project) uploaded
through the legacy API of a running pryv with the harness's ``load.py upload`` (about 4 min at
10,000 projects). Then, ``--runs`` times: ``pryv start`` -> seconds until an authenticated
``GET /simple/`` answers 200 (polled every 20 ms; it includes one bcrypt check), the tree's RSS
and PSS, a warm-up (every project page once, ``/simple/`` in HTML and JSON), and RSS/PSS again.
Run from the repository root::

    python -m bench.startup [--sizes 1000,10000] [--runs 3] [--profile]
    python -m bench.startup --sizes 10000 --copies 10 --runs 1    # 100,000 projects, 600,000 files

``--copies K`` starts on K renamed copies of the uploaded records instead (see
:func:`replicated`): uploading 600,000 files through the API would take over an hour.

``--profile`` also prints the import time and a cProfile of what ``pryv start`` does before it
forks (``create_app`` + the index load) at the largest size.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench._common import CACHE
from bench._common import HARNESS
from bench._common import PASSWORD
from bench._common import USER
from bench._common import PryvServer
from bench._common import auth_header
from bench._common import markdown_table
from bench._common import running_pryv
from bench._common import tree_memory
from bench._common import wait_idle
from bench._common import write_results

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
PROFILE = """\
import cProfile, pstats, sys, time
from pryv_server.app import create_app, read_remote_config
from pryv_server.config import load_settings
start = time.perf_counter()
settings = load_settings(sys.argv[1], read_remote=read_remote_config)
profile = cProfile.Profile()
profile.enable()
app = create_app(settings)
app.extensions["pryv"].registry.list_projects()
profile.disable()
print(f"create_app + list_projects: {time.perf_counter() - start:.2f} s (profiled)")
stats = pstats.Stats(profile).sort_stats("cumulative")
stats.print_stats(25)
stats.sort_stats("tottime").print_stats(15)
"""


def corpus(projects: int) -> Path:
    """Return the harness corpus of ``projects`` projects (3 versions), generating it once."""
    out = CACHE / f"corpus-{projects}"
    if not (out / "manifest.json").exists():
        partial = CACHE / f"corpus-{projects}.tmp"
        subprocess.run(
            [
                *(sys.executable, str(HARNESS / "corpus.py"), "--projects", str(projects)),
                *("--versions", "3", "--seed", "1", "--out", str(partial)),
            ],
            check=True,
        )
        partial.rename(out)
    return out


def data_dir(projects: int) -> Path:
    """Return a pryv data dir holding the corpus, uploaded through the API once and cached."""
    source = corpus(projects)
    data = CACHE / f"data-{projects}"
    marker = data / ".complete"
    if marker.exists():
        return current_checkpoint(data)
    with running_pryv(data) as server:
        upload = subprocess.run(
            [
                *(sys.executable, str(HARNESS / "load.py"), "upload", "--corpus", str(source)),
                *("--url", server.base_url + "/legacy/", "--user", USER, "--password", PASSWORD),
                *("--concurrency", "8"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    if upload.returncode != 0:
        raise RuntimeError(f"load.py upload failed ({upload.returncode}):\n{upload.stdout}")
    marker.write_text(upload.stdout)
    return data


def current_checkpoint(data: Path) -> Path:
    """Make sure ``data``'s newest checkpoint is of this pryv's schema, then return ``data``.

    pryv reads an older one (records as stored, decoded as such) and replaces it only once a
    start finds journal entries after it, or at its next checkpoint: the bench's data has no
    such entries, so a start would not measure today's format. Its checkpoints are removed
    instead, and one start lists every record and writes a current one.
    """
    from pryv_server.core.checkpoints import SCHEMA

    folder = data / "projects" / "_checkpoint"
    newest = max(folder.glob("*.json"), default=None)
    if newest is not None and json.loads(newest.read_bytes()).get("schema") == SCHEMA:
        return data
    for stale in ("_checkpoint", "_checkpoint-parts"):
        shutil.rmtree(data / "projects" / stale, ignore_errors=True)
    with running_pryv(data):
        pass  # its start lists every record, then writes a checkpoint
    return data


def project_names(projects: int) -> list[str]:
    """Return the corpus's normalised project names."""
    manifest = json.loads((corpus(projects) / "manifest.json").read_text())
    return [project["normalized"] for project in manifest["projects"]]


def replicated(projects: int, copies: int) -> tuple[Path, list[str], int]:
    """Return a data dir holding ``copies`` renamed copies of ``data_dir(projects)``'s records.

    Each copy renames every project (``<name>-r<k>``, and its files and metadata name alike) and
    goes straight into one checkpoint, as ``bench/s3_instances.py`` writes its simulated catalog:
    a start reads it as it would one written by uploads. Only the catalog is copied, not the
    files (they share the originals' keys and cannot be downloaded). Returns the data dir, the
    project names and the number of files; built once and cached.
    """
    from pryv_server.backends import Backends  # the storage pryv itself uses
    from pryv_server.config import parse_location
    from pryv_server.core import layout
    from pryv_server.core.checkpoints import SCHEMA
    from pryv_server.core.checkpoints import Checkpoints
    from pryv_server.core.models import Package

    names = [f"{name}-r{k}" for k in range(copies) for name in project_names(projects)]
    data = CACHE / f"data-{projects}x{copies}-s{SCHEMA}"  # the checkpoint's format
    marker = data / ".complete"
    if marker.exists():
        return data, names, int(marker.read_text())
    source = data_dir(projects) / "projects"
    originals = [
        json.loads(path.read_bytes())
        for path in sorted(source.glob(f"[!{layout.RESERVED_PREFIX}]*/*{layout.RECORD_SUFFIX}"))
    ]
    objects: dict[str, Any] = {}
    for k in range(copies):
        for record in originals:
            copy = {**record, "project": f"{record['project']}-r{k}"}
            for field in ("filename", "identity"):  # the dist name before the first dash
                dist, rest = record[field].split("-", 1)
                copy[field] = f"{dist}_r{k}-{rest}"
            copy["metadata"] = {**record["metadata"], "name": f"{record['metadata']['name']}-r{k}"}
            held = Package.from_json(copy).to_held()  # as the catalog writes it
            objects[layout.record_key(copy["project"], copy["identity"])] = held
    store = Backends().storage(parse_location(str(data / "projects")))
    Checkpoints(store, readers=8).write(
        1,
        previous=None,
        fresh=set(),
        keys=lambda: objects,
        object_of=objects.get,
        covers=frozenset(
            (layout.TOKENS_PREFIX, layout.ROLES_PREFIX, layout.UPSTREAM_CONTROLS_PREFIX)
        ),
    )
    (data / "packages").mkdir(exist_ok=True)
    marker.write_text(str(len(objects)))
    return data, names, len(objects)


def warm_up(server: PryvServer, names: list[str], connections: int = 4) -> float:
    """GET every project page once and ``/simple/`` in both formats, over keep-alive connections."""
    headers = {"Authorization": auth_header()}
    failures: list[str] = []

    def worker(share: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            for accept in ("text/html", JSON_TYPE):
                conn.request("GET", "/simple/", headers={**headers, "Accept": accept})
                conn.getresponse().read()
            for name in share:
                conn.request("GET", f"/simple/{name}/", headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(f"{name}: {response.status}")
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [
        threading.Thread(target=worker, args=(names[index::connections],))
        for index in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} project pages failed, e.g. {failures[:3]}")
    return time.perf_counter() - started


def measure(projects: int, runs: int, copies: int = 0) -> dict[str, Any]:
    """Start pryv ``runs`` times on the cached data; time the first answer, measure memory."""
    if copies:
        data, names, files = replicated(projects, copies)
    else:
        data = data_dir(projects)
        names = project_names(projects)
        files = int(json.loads((corpus(projects) / "manifest.json").read_text())["n_files"])
    results = []
    for _ in range(runs):
        server = PryvServer(data)
        server.prepare()
        server.start()
        try:
            seconds = server.wait_ready()
            wait_idle(server.pid)
            started = tree_memory(server.pid, pss=True)
            warm_seconds = warm_up(server, names)
            wait_idle(server.pid)
            warm = tree_memory(server.pid, pss=True)
        finally:
            server.stop()
        results.append(
            {
                "first_answer_s": round(seconds, 3),
                "after_start": started,
                "warm_up_s": round(warm_seconds, 1),
                "after_warm_up": warm,
            }
        )
    return {"projects": len(names), "files": files, "runs": results}


def profile(data: Path) -> str:
    """Return import time and a cProfile of create_app + the index load on ``data``."""
    server = PryvServer(data)
    server.prepare()
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pryv_server.app, pryv_server.server"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()
    costs = sorted(
        ((int(line.split("|")[1]), line.split("|")[2].rstrip()) for line in imports[1:]),
        reverse=True,
    )
    top = "\n".join(f"{micro / 1e6:6.3f} s {module}" for micro, module in costs[:12])
    bare = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare_s = time.perf_counter() - bare
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pryv_server.app, pryv_server.server"], check=True)
    import_s = time.perf_counter() - started - bare_s
    out = subprocess.run(
        [sys.executable, "-c", PROFILE, str(server.config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return (
        f"import pryv_server.app + server: {import_s:.2f} s over a bare interpreter\n"
        f"top cumulative imports (-X importtime):\n{top}\n\n{out}"
    )


def median(values: list[float]) -> float:
    """Return the median."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    """Measure every size, print the table, write bench/results/startup.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="projects, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the start at the largest")
    parser.add_argument(
        "--copies", type=int, default=0, help="start on this many renamed copies of the records"
    )
    args = parser.parse_args()

    sizes = [int(size) for size in args.sizes.split(",")]
    measured = [measure(size, args.runs, args.copies) for size in sizes]
    rows = []
    for result in measured:
        runs = result["runs"]
        warm_rss = median([run["after_warm_up"]["rss_mb"] for run in runs])
        warm_pss = median([run["after_warm_up"]["pss_mb"] for run in runs])
        per = result["files"] / 10_000
        rows.append(
            [
                f"{result['projects']:,}",
                f"{result['files']:,}",
                median([run["first_answer_s"] for run in runs]),
                ", ".join(str(run["first_answer_s"]) for run in runs),
                median([run["after_start"]["rss_mb"] for run in runs]),
                warm_rss,
                warm_pss,
                round(warm_rss / per, 1),
                round(warm_pss / per, 1),
                median([run["warm_up_s"] for run in runs]),
            ]
        )
    table = markdown_table(
        [
            "projects",
            "files",
            "first answer s (median)",
            "runs",
            "RSS at start MB",
            "RSS warm MB",
            "PSS warm MB",
            "RSS per 10k files MB",
            "PSS per 10k files MB",
            "warm-up s",
        ],
        rows,
    )
    markdown = (
        f"{table}\n\n`pryv start` defaults (2 workers x 8 threads), local storage; memory summed "
        "over master + workers (RSS counts shared copy-on-write pages once per process, PSS "
        "splits them). Target: first answer < 5 s at 10,000 projects."
    )
    data: dict[str, Any] = {"sizes": measured}
    if args.profile:
        largest = max(sizes)
        data["profile"] = profile(
            replicated(largest, args.copies)[0] if args.copies else data_dir(largest)
        )
        markdown += f"\n\n```text\n{data['profile']}\n```"
    write_results("startup", data, markdown)


if __name__ == "__main__":
    main()
