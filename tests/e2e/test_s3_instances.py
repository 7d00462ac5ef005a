"""Four ``pryv start`` on one S3 bucket (moto's server), each behind a request-counting proxy.

Runs ``bench/s3_instances.py`` at a size that fits CI: filenames raced through two instances at
once with different bytes (one winner), an instance killed mid-run, convergence of every survivor
on every acknowledged upload, and the S3 requests an idle instance, a catch-up and a cold start
cost, and a catch-up on the cold start's large catalog. The instances run with ``uploads = owners``, so the cold start's corpus has an owner record
per project (10,000): they come with the checkpoint, not one GET each. ``python -m bench.s3_instances --files 1000000`` runs the same at a million files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = 20_000

pytestmark = pytest.mark.e2e


def test_four_instances_on_one_bucket_converge_and_count_their_requests(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path)}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "bench.s3_instances", "--instances", "4", "--names", "16",
         "--idle", "4", "--files", str(FILES), "--uploads", "owners"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads((tmp_path / "s3_instances.json").read_text())
    assert figures["races"]["duplicate_winners"] == 0
    assert figures["races"]["converged"]
    assert figures["races"]["statuses"]["200"] >= 1
    mixed = figures["mixed"]
    assert mixed["converged"], mixed
    assert mixed["status_agreed"], mixed
    assert mixed["grants_kept"], mixed
    assert mixed["acknowledged"] >= mixed["operations"] - 4, mixed["refused"]  # statuses may 409
    assert all(0.5 <= count <= 1.5 for count in figures["idle_requests_per_worker_per_ttl"])
    assert all(count <= 16 * 3 for count in figures["catch_up"]["extra_requests"])
    assert figures["cold_start"]["owner_records"] == 10_000
    assert figures["cold_start"]["requests"] <= 20 + FILES // 10_000
    assert figures["cold_start"]["projects_listed"] == 10_000
    at_size = figures["catch_up_at_size"]
    assert at_size["listed"] == 16, at_size
    assert at_size["requests"] <= 16 * 3 + at_size["seconds"] / 1.0, at_size  # index-ttl 1 s
