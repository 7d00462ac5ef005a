"""Upload and download a 1 GiB wheel through a real ``pryv start``; compare with nginx (issue 8).

Issue 8 asks that a 1 GB file go up and down with the server's peak RSS under 150 MB, and that
downloads reach at least 0.7x what nginx (``sendfile``) does for the same file on the same
machine. The shared harness stops at 100 MB files, where a server that buffers the whole body
still looks fine; 1 GiB shows it. Run from the repository root with the venv's Python::

    python -m bench.large_files [--size-mb 1024] [--downloads 3]

The wheel is made once into ``$PRYV_BENCH_CACHE`` (default ``~/.cache/pryv-bench``). Memory is
the RSS summed over gunicorn's master and workers, sampled every 50 ms (as the harness does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import PASSWORD
from bench._common import USER
from bench._common import BigWheel
from bench._common import MemSampler
from bench._common import big_wheel
from bench._common import curl_upload_command
from bench._common import free_port
from bench._common import markdown_table
from bench._common import running_pryv
from bench._common import tree_memory
from bench._common import wait_idle
from bench._common import write_results

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
NGINX_CONF = """\
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path {work}/tmp;
  proxy_temp_path {work}/tmp;
  fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp;
  scgi_temp_path {work}/tmp;
  server {{
    listen 127.0.0.1:{port};
    location /packages/ {{ alias {root}/; }}
  }}
}}
"""


def curl_download(url: str, *, auth: bool) -> dict[str, float]:
    """Fetch ``url`` to /dev/null with curl; return bytes, seconds and MB/s (MiB/s)."""
    command = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
    if auth:
        command += ["-u", f"{USER}:{PASSWORD}"]
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    size, seconds = out.split()
    return {
        "bytes": int(size),
        "seconds": round(float(seconds), 3),
        "mb_s": round(int(size) / float(seconds) / 2**20, 1),
    }


def measure_pryv(wheel: BigWheel, downloads: int) -> dict[str, Any]:
    """Upload ``wheel`` once, then download it ``downloads`` times, sampling the server's RSS."""
    with running_pryv() as server:
        wait_idle(server.pid)
        idle = tree_memory(server.pid, pss=True)
        command = curl_upload_command(
            wheel, server.base_url + "/legacy/", write_out="%{http_code} %{time_total}"
        )
        with MemSampler(server.pid) as upload_memory:
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        status, seconds = out.split()
        if status != "200":
            log = (server.data_dir / "server.log").read_text()[-2000:]
            raise RuntimeError(f"upload answered {status}:\n{log}")
        after_upload = tree_memory(server.pid, pss=True)
        upload = {
            "seconds": round(float(seconds), 2),
            "mb_s": round(wheel.size / float(seconds) / 2**20, 1),
            "peak_rss_mb": upload_memory.peak_rss_mb,
            "peak_process_rss_mb": upload_memory.peak_process_rss_mb,
            "rss_increase_mb": round(upload_memory.peak_rss_mb - idle["rss_mb"], 1),
            "rss_after_mb": after_upload["rss_mb"],
        }
        url = f"{server.base_url}/packages/{wheel.path.name}"
        runs = []
        for _ in range(downloads):
            wait_idle(server.pid)
            with MemSampler(server.pid) as memory:
                run = curl_download(url, auth=True)
            if run["bytes"] != wheel.size:
                raise RuntimeError(f"downloaded {run['bytes']} bytes, expected {wheel.size}")
            runs.append(
                {
                    **run,
                    "peak_rss_mb": memory.peak_rss_mb,
                    "peak_process_rss_mb": memory.peak_process_rss_mb,
                    "rss_increase_mb": round(memory.peak_rss_mb - idle["rss_mb"], 1),
                }
            )
        blobs = list(server.packages_path.rglob(wheel.path.name))
        blob_size = blobs[0].stat().st_size if blobs else 0
        return {
            "idle": idle,
            "upload": upload,
            "downloads": runs,
            "stored_blob_bytes": blob_size,
            "end": tree_memory(server.pid, pss=True),
        }


def measure_nginx(wheel: BigWheel, downloads: int) -> list[dict[str, float]]:
    """Serve the same file with nginx (sendfile, 2 workers) and download it ``downloads`` times."""
    work = Path(tempfile.mkdtemp(prefix="pryv-bench-nginx-"))
    (work / "tmp").mkdir()
    # nginx's workers run as an unprivileged user when started as root, so the file is served
    # from a world-readable folder: a hard link (same inode, same page cache) or else a copy.
    root = work / "files"
    root.mkdir()
    work.chmod(0o755)
    try:
        os.link(wheel.path, root / wheel.path.name)
    except OSError:
        shutil.copyfile(wheel.path, root / wheel.path.name)
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, root=root))
    process = subprocess.Popen(
        [NGINX, "-e", str(work / "error.log"), "-p", str(work), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/packages/{wheel.path.name}"
        deadline = time.monotonic() + 10
        while subprocess.run(["curl", "-sfI", url], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((work / "error.log").read_text()[-2000:])
            time.sleep(0.05)
        return [curl_download(url, auth=False) for _ in range(downloads)]
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def median(values: list[float]) -> float:
    """Return the median (the middle run of three)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    """Measure, print the table, write bench/results/large_files.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="wheel payload in MiB")
    parser.add_argument("--downloads", type=int, default=3, help="downloads of each server")
    args = parser.parse_args()

    wheel = big_wheel(args.size_mb)
    pryv = measure_pryv(wheel, args.downloads)
    nginx = measure_nginx(wheel, args.downloads)

    pryv_mb_s = median([run["mb_s"] for run in pryv["downloads"]])
    nginx_mb_s = median([run["mb_s"] for run in nginx])
    peak_download = max(run["peak_rss_mb"] for run in pryv["downloads"])
    idle = pryv["idle"]["rss_mb"]
    upload = pryv["upload"]
    rows = [
        [
            "upload (pryv)",
            upload["mb_s"],
            upload["peak_rss_mb"],
            upload["rss_increase_mb"],
            upload["peak_process_rss_mb"],
            "",
        ],
        [
            "download (pryv), median of runs",
            pryv_mb_s,
            peak_download,
            round(peak_download - idle, 1),
            max(run["peak_process_rss_mb"] for run in pryv["downloads"]),
            f"{pryv_mb_s / nginx_mb_s:.2f}x nginx (target >= 0.7x)",
        ],
        ["download (nginx sendfile)", nginx_mb_s, "", "", "", "1.00x"],
    ]
    table = markdown_table(
        [
            f"{wheel.size / 2**20:.0f} MiB wheel",
            "MiB/s",
            "peak tree RSS MB",
            "RSS over idle MB",
            "peak one-process RSS MB",
            "ratio",
        ],
        rows,
    )
    per_run = ", ".join(f"{run['mb_s']}" for run in pryv["downloads"])
    nginx_runs = ", ".join(f"{run['mb_s']}" for run in nginx)
    markdown = (
        f"{table}\n\nIdle tree RSS {idle} MB (PSS {pryv['idle']['pss_mb']} MB); "
        f"upload took {upload['seconds']} s. Downloads (MiB/s) pryv: {per_run}; "
        f"nginx: {nginx_runs}. Target: peak RSS < 150 MB, download >= 0.7x nginx."
    )
    write_results(
        "large_files",
        {
            "file": {"name": wheel.path.name, "bytes": wheel.size, "sha256": wheel.sha256},
            "pryv": pryv,
            "nginx": nginx,
            "download_ratio": round(pryv_mb_s / nginx_mb_s, 3),
        },
        markdown,
    )


if __name__ == "__main__":
    main()
