"""Uploads, yanks, deletions, status changes and grants at once through several instances.

A phase of ``bench/s3_instances.py``: every kind of catalog change made concurrently, each
through a randomly chosen instance on the shared bucket, and then, within ``index-ttl``, every
instance must show the same catalog: the files acknowledged and not deleted, yanked where a
yank was acknowledged, one project status, and every project role granted. Nothing
acknowledged may be lost, whichever instance took it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING
from typing import Any

from bench._common import auth_header
from bench._common import pryv_bin

if TYPE_CHECKING:
    from bench.s3_instances import Instance

JSON_PAGE = "application/vnd.pypi.simple.v1+json"
PROJECT = "mixed"
STATUS_PROJECT = "mixedstatus"
GRANTEES = ("dora", "erin", "finn", "gus")
SETTLE = 20.0  # seconds the instances get to agree after the last answer, on a loaded machine


def post(instance: Instance, path: str, fields: dict[str, str]) -> int:
    """POST a JSON API action (yank, delete, status); return the HTTP status (0: no answer)."""
    request = urllib.request.Request(
        instance.url + path,
        data=json.dumps(fields).encode(),
        method="POST",
        headers={"Authorization": auth_header(), "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        return 0


def page(instance: Instance, project: str) -> dict[str, Any]:
    """The project's JSON simple page as this instance serves it (empty when unknown)."""
    try:
        return dict(json.loads(instance.get(f"/simple/{project}/", JSON_PAGE)))
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return {}
        raise


def yank(instance: Instance, filename: str) -> int:
    """Yank one file of :data:`PROJECT` through ``instance``."""
    version = filename.split("-")[1]
    fields = {"project": PROJECT, "version": version, "filename": filename, "reason": "bench"}
    return post(instance, "/api/yank", fields)


def delete(instance: Instance, filename: str) -> int:
    """Delete one file of :data:`PROJECT` through ``instance``."""
    version = filename.split("-")[1]
    fields = {"project": PROJECT, "version": version, "filename": filename, "reason": "bench"}
    return post(instance, "/api/delete", fields)


def upload(instance: Instance, filename: str, content: bytes) -> int:
    """Upload one file through ``instance``."""
    return instance.upload(filename, content)


def set_status(instance: Instance, status: str) -> int:
    """Set :data:`STATUS_PROJECT`'s status through ``instance``."""
    return post(instance, "/api/status", {"project": STATUS_PROJECT, "status": status})


def grant(instance: Instance, grantee: str, env: dict[str, str]) -> int:
    """Grant a project role with the CLI on this instance's configuration (200 when it did)."""
    done = subprocess.run(
        [pryv_bin(), "project-role", "grant", PROJECT, grantee, "--role", "maintainer",
         "-c", str(instance.root / "pryv.ini")],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    return 200 if done.returncode == 0 else 0


def view(instance: Instance) -> tuple[dict[str, str], set[str], str | None]:
    """What ``instance`` shows: the files with their sha256, the yanked ones, the status."""
    files = page(instance, PROJECT).get("files", [])
    return (
        {f["filename"]: f["hashes"]["sha256"] for f in files},
        {f["filename"] for f in files if f.get("yanked")},
        page(instance, STATUS_PROJECT).get("project-status", {}).get("status"),
    )


def run(
    instances: list[Instance],
    wheel: Callable[[str, str, str], tuple[str, bytes]],
    ttl: float,
    env: dict[str, str],
) -> dict[str, Any]:
    """Make every kind of change at once through ``instances``; check that they converge."""
    first = instances[0]
    settled = {}
    for n in range(12):
        filename, content = wheel(PROJECT, f"1.{n}", f"N = {n}\n")
        assert first.upload(filename, content) == 200
        settled[filename] = hashlib.sha256(content).hexdigest()
    assert first.upload(*wheel(STATUS_PROJECT, "1.0", "S = 1\n")) == 200
    time.sleep(ttl * 2 + 0.5)

    names = sorted(settled)
    to_yank, to_delete = names[:4], names[4:8]
    fresh = [wheel(PROJECT, f"2.{n}", f"FRESH = {n}\n") for n in range(8)]
    statuses = ("deprecated", "archived", "active", "quarantined")
    jobs: list[tuple[str, Callable[[Instance], int]]] = [
        *((f"yank {f}", partial(yank, filename=f)) for f in to_yank),
        *((f"delete {f}", partial(delete, filename=f)) for f in to_delete),
        *((f"upload {f}", partial(upload, filename=f, content=c)) for f, c in fresh),
        *((f"status {s}", partial(set_status, status=s)) for s in statuses),
        *((f"grant {g}", partial(grant, grantee=g, env=env)) for g in GRANTEES),
    ]
    random.shuffle(jobs)

    def attempt(job: tuple[str, Callable[[Instance], int]]) -> tuple[str, int]:
        name, action = job
        return name, action(random.choice(instances))

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = dict(pool.map(attempt, jobs))
    done = time.monotonic()

    expected = {f: sha for f, sha in settled.items() if f not in to_delete}
    for filename, content in fresh:
        if answers[f"upload {filename}"] == 200:
            expected[filename] = hashlib.sha256(content).hexdigest()
    yanked = {f for f in to_yank if answers[f"yank {f}"] == 200}
    # Every instance must agree within index-ttl of the last answer; on a machine so loaded
    # that one request takes seconds (CI), they are given up to SETTLE seconds, and the time
    # they took is reported.
    while True:
        views = [view(instance) for instance in instances]
        agreed = all(v == views[0] for v in views) and views[0][0] == expected
        if (agreed and views[0][1] == yanked) or time.monotonic() - done > SETTLE:
            break
        time.sleep(ttl / 2)
    settled_after = time.monotonic() - done
    listing = subprocess.run(
        [pryv_bin(), "project-role", "list", PROJECT, "-c", str(first.root / "pryv.ini")],
        env=env, capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    granted = [g for g in GRANTEES if g in listing and answers[f"grant {g}"] == 200]
    converged = agreed
    return {
        "operations": len(jobs),
        "acknowledged": sum(1 for status in answers.values() if status == 200),
        "refused": {name: status for name, status in answers.items() if status != 200},
        "converged": converged and views[0][1] == yanked,
        "status_agreed": len({seen[2] for seen in views}) == 1,
        "grants_kept": len(granted) == sum(1 for g in GRANTEES if answers[f"grant {g}"] == 200),
        "instances": len(instances),
        "settled_after_s": round(settled_after, 2),
    }
