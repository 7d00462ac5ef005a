"""Helpers shared by the stand-alone benchmarks in ``bench/`` (large files, slow uploads, start-up).

They run pryv the way a user does (``pryv start`` with a config file and a bcrypt user added by
``pryv user add``), measure memory over the whole gunicorn process tree (master + workers, like the
shared harness), and write a Markdown table plus JSON to ``bench/results/``. Standard library only,
so the scripts run from the project's own venv without extra installs.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS", BENCH_DIR / "results"))
HARNESS = Path(os.environ.get("BENCH_HARNESS", REPO.parent / "shared" / "bench"))
CACHE = Path(os.environ.get("PRYV_BENCH_CACHE", Path.home() / ".cache" / "pryv-bench"))
USER = "bench"
PASSWORD = "bench-password"


def pryv_bin() -> str:
    """Return the ``pryv`` command: ``$PRYV``, else the one beside this Python (the venv's)."""
    return os.environ.get("PRYV") or str(Path(sys.executable).with_name("pryv"))


def auth_header(user: str = USER, password: str = PASSWORD) -> str:
    """Return the HTTP Basic ``Authorization`` value for the bench user."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# Below Linux's default ephemeral range (32768-60999): a port the kernel hands to bind(0) is also
# handed to outgoing connections as their source port, so between free_port() and the server's own
# bind, any client connection of the run could take it (CI saw this once in 1,855 tests).
FREE_PORTS = range(20_000, 32_768)


def free_port() -> int:
    """Return a loopback port nobody uses right now, from outside the ephemeral range.

    Another process of the run may still pick the same port before the server binds it, so a
    caller that starts a server retries with another port when the server reports it taken.
    """
    while True:
        port = random.choice(FREE_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


# --- memory over a process tree ------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants (gunicorn master + workers), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        tree.append(current)
        stack.extend(children.get(current, []))
    return tree


def tree_memory(pid: int, *, pss: bool = False) -> dict[str, float]:
    """Sum RSS (and optionally PSS, which splits shared copy-on-write pages) over the tree, in MB.

    RSS summed over forked workers counts the pages they share with the master several times, so
    it overstates real use; it is what the shared harness reports, so figures compare. PSS is the
    fair share; it costs more to read, hence optional.
    """
    rss = pss_kb = 0
    worst = 0
    for proc in process_tree(pid):
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    value = int(line.split()[1])
                    rss += value
                    worst = max(worst, value)
            if pss:
                for line in Path(f"/proc/{proc}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss_kb += int(line.split()[1])
        except OSError:
            continue
    result = {"rss_mb": round(rss / 1024, 1), "max_process_rss_mb": round(worst / 1024, 1)}
    if pss:
        result["pss_mb"] = round(pss_kb / 1024, 1)
    return result


@dataclass
class MemSampler:
    """Sample the tree's RSS every ``interval`` seconds in a thread; keep the peaks."""

    pid: int
    interval: float = 0.05
    peak_rss_mb: float = 0.0
    peak_process_rss_mb: float = 0.0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            memory = tree_memory(self.pid)
            self.peak_rss_mb = max(self.peak_rss_mb, memory["rss_mb"])
            self.peak_process_rss_mb = max(self.peak_process_rss_mb, memory["max_process_rss_mb"])
            self.samples += 1
            self._stop.wait(self.interval)


# --- a real `pryv start` -------------------------------------------------------------------


@dataclass
class PryvServer:
    """One ``pryv start`` in its own session, on local storage under ``data_dir``."""

    data_dir: Path
    workers: int | None = None
    threads: int | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        """Return the config file (projects, packages and users below ``data_dir``)."""
        return self.data_dir / "pryv.ini"

    @property
    def packages_path(self) -> Path:
        """Return where the blobs (the distribution files) are stored."""
        return self.data_dir / "packages"

    def prepare(self) -> None:
        """Write the config file and add the bcrypt bench user, as bench/run.sh does."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "[core]\n"
            f"projects-path = {self.data_dir / 'projects'}\n"
            f"packages-path = {self.packages_path}\n"
            "[user]\n"
            f"users-path = {self.data_dir / 'users.json'}\n"
        )
        if not (self.data_dir / "users.json").exists():
            subprocess.run(
                [pryv_bin(), "user", "add", USER, "--password-stdin", "-c", str(self.config)],
                input=PASSWORD.encode(),
                check=True,
                capture_output=True,
            )

    def start(self) -> None:
        """Run ``pryv start`` (stderr to ``data_dir/server.log``); do not wait for it."""
        command = [pryv_bin(), "start", "-c", str(self.config), "--port", str(self.port)]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        if self.threads is not None:
            command += ["--threads", str(self.threads)]
        log = (self.data_dir / "server.log").open("ab")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, start_new_session=True, cwd=self.data_dir
        )
        log.close()

    def wait_ready(self, timeout: float = 600.0, interval: float = 0.02) -> float:
        """Poll an authenticated ``GET /simple/`` until it is 200; return seconds since start."""
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(
            self.base_url + "/simple/", headers={"Authorization": auth_header()}
        )
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.data_dir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"pryv start exited with {self.process.returncode}:\n{log}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    if response.status == 200:
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
                pass
            time.sleep(interval)
        raise TimeoutError(f"pryv did not answer within {timeout} s")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def pid(self) -> int:
        """Return the gunicorn master's pid (``pryv start`` execs nothing: it is the master)."""
        assert self.process is not None
        return self.process.pid


@contextmanager
def running_pryv(
    data_dir: Path | None = None,
    workers: int | None = None,
    threads: int | None = None,
    extra_config: str = "",
) -> Iterator[PryvServer]:
    """Start pryv (in a new temp dir unless ``data_dir`` is given), yield it ready, stop it.

    :param extra_config: lines appended to the config file (an ``[upstream]`` section, say).
    """
    temp = None if data_dir is not None else Path(tempfile.mkdtemp(prefix="pryv-bench-"))
    server = PryvServer(data_dir or temp or Path(), workers=workers, threads=threads)
    server.prepare()
    if extra_config:
        with server.config.open("a") as config:
            config.write(extra_config)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def wait_idle(pid: int, threshold: float = 0.05, window: float = 0.5, timeout: float = 30) -> None:
    """Wait until the tree uses under ``threshold`` of one core (queued work has drained)."""
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout

    def cpu() -> int:
        total = 0
        for proc in process_tree(pid):
            try:
                stat = Path(f"/proc/{proc}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
        return total

    while time.monotonic() < deadline:
        before = cpu()
        time.sleep(window)
        if (cpu() - before) / ticks / window < threshold:
            return


# --- output --------------------------------------------------------------------------------


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """Render a GitHub Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Describe the machine, so a figure is never read without its context."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_results(name: str, data: dict[str, Any], markdown: str) -> None:
    """Write ``bench/results/<name>.json`` and ``.md``, and print the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown + "\n")
    print(markdown)


# --- a large, valid wheel ------------------------------------------------------------------


@dataclass(frozen=True)
class BigWheel:
    """A generated wheel and the fields an uploader sends with it."""

    path: Path
    name: str
    version: str
    sha256: str

    @property
    def size(self) -> int:
        """Return the file's size in bytes."""
        return self.path.stat().st_size


def big_wheel(size_mb: int = 1024, name: str = "pryv-bench-big") -> BigWheel:
    """Return a valid ``py3-none-any`` wheel of about ``size_mb`` MiB, made once into the cache.

    pryv reads the METADATA inside every uploaded archive and compares it with the form, so the
    file must be a real wheel: a ``.dist-info`` with METADATA, WHEEL and RECORD, plus one
    incompressible payload stored uncompressed (ZIP_STORED) and written in 16 MiB chunks, so
    making it needs little memory. The shared corpus.py cannot make one this big (it builds the
    payload in one ``randbytes`` call, which overflows above 256 MiB).
    """
    import hashlib
    import random
    import zipfile

    version = "1.0.0"
    module = name.replace("-", "_")
    path = CACHE / f"{module}-{size_mb}mb" / f"{module}-{version}-py3-none-any.whl"
    stamp = path.with_suffix(".sha256")
    if path.exists() and stamp.exists():
        return BigWheel(path, name, version, stamp.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    dist_info = f"{module}-{version}.dist-info"
    date = (2024, 1, 1, 0, 0, 0)
    rng = random.Random(size_mb)
    record: list[str] = []

    def entry(arcname: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, date)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def record_line(arcname: str, digest: bytes, size: int) -> str:
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return f"{arcname},sha256={encoded},{size}"

    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        small = {
            f"{module}/__init__.py": b'"""A large wheel for pryv benchmarks."""\n',
            f"{dist_info}/METADATA": (
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                f"Summary: A {size_mb} MiB wheel for pryv's large-file benchmarks\n"
            ).encode(),
            f"{dist_info}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: pryv-bench\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n"
            ),
        }
        for arcname, data in small.items():
            archive.writestr(entry(arcname), data)
            record.append(record_line(arcname, hashlib.sha256(data).digest(), len(data)))
        blob = f"{module}/blob.bin"
        digest = hashlib.sha256()
        chunk = 16 * 1024 * 1024
        with archive.open(entry(blob), "w", force_zip64=True) as out:
            remaining = size_mb * 1024 * 1024
            while remaining:
                data = rng.randbytes(min(chunk, remaining))
                remaining -= len(data)
                digest.update(data)
                out.write(data)
        record.append(record_line(blob, digest.digest(), size_mb * 1024 * 1024))
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(entry(f"{dist_info}/RECORD"), "\n".join(record) + "\n")
    file_digest = hashlib.sha256()
    with partial.open("rb") as stream:
        while data := stream.read(1024 * 1024):
            file_digest.update(data)
    partial.rename(path)
    stamp.write_text(file_digest.hexdigest() + "\n")
    return BigWheel(path, name, version, file_digest.hexdigest())


def curl_upload_command(
    wheel: BigWheel, url: str, *, limit_rate: str | None = None, write_out: str = ""
) -> list[str]:
    """Return a ``curl -F`` command that posts ``wheel`` like twine (the file part is streamed).

    The fields are those twine sends for a wheel: ``:action``, ``protocol_version``, name,
    version, filetype, pyversion, metadata_version, sha256_digest and the ``content`` file part.
    """
    command = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-u",
        f"{USER}:{PASSWORD}",
        "-F",
        ":action=file_upload",
        "-F",
        "protocol_version=1",
        "-F",
        f"name={wheel.name}",
        "-F",
        f"version={wheel.version}",
        "-F",
        "filetype=bdist_wheel",
        "-F",
        "pyversion=py3",
        "-F",
        "metadata_version=2.1",
        "-F",
        f"sha256_digest={wheel.sha256}",
        "-F",
        f"content=@{wheel.path};type=application/octet-stream",
    ]
    if limit_rate:
        command += ["--limit-rate", limit_rate]
    if write_out:
        command += ["-w", write_out]
    return [*command, url]
