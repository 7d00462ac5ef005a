"""Several ``pryv start`` on one S3 bucket: requests counted per instance, convergence checked.

    .venv/bin/python -m bench.s3_instances                       # 4 instances, CI size
    .venv/bin/python -m bench.s3_instances --files 1000000       # start-up at a million files
    .venv/bin/python -m bench.s3_instances --uploads owners      # an owner record per project

Each instance reaches moto's S3 server (server mode, over HTTP) through a counting proxy of its
own, so every request an instance makes is counted where S3 would bill it. The run measures:

1. **idle**: requests per worker per ``index-ttl`` while nothing changes;
2. **races**: every filename is uploaded twice at once, with different bytes, through two
   instances: exactly one upload may win (200), the other gets 409; one instance is killed
   (SIGKILL) in the middle of it all, and every upload acknowledged by any instance must be
   listed by every surviving instance within ``index-ttl`` (convergence), with the winner's
   sha256;
3. **catch-up**: the requests each instance made to take in the uploads of the others;
   then (``bench/s3_mixed.py``) uploads, yanks, deletions, project status changes and project
   role grants all at once through the survivors, which must then show the same catalog;
4. **cold start**: a new instance on a bucket holding a catalog of ``--files`` files (a
   simulated corpus whose checkpoint is written straight to the bucket): requests and seconds
   until it answers. With ``--uploads owners`` each of its projects (up to 10,000) also has the
   owner record a first upload leaves (``_roles/``), as the checkpoint holds it;
5. **catch-up at that size**: ``--names`` uploads through a second new instance on that catalog,
   and the requests the first one makes to take them in (and the writer's per upload).

Standard library plus boto3 and moto (the test extras); results in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import http.server
import inspect
import io
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from bench import s3_mixed
from bench._common import PASSWORD
from bench._common import USER
from bench._common import auth_header
from bench._common import free_port
from bench._common import machine
from bench._common import markdown_table
from bench._common import pryv_bin
from bench._common import write_results
from bench.moto_s3 import moto_s3

BUCKET = "pryv-bench"
# Seconds the first page of a starting instance may take (a pryv that read every project role
# at start, one GET each, took over a minute at 10,000 projects).
START_TIMEOUT = 900
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- a counting proxy in front of the S3 server ----------------------------------------------


@dataclass
class Counts:
    """Requests one instance made, by kind, as S3 would bill them."""

    by_kind: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Every request as "KIND path", to say what a count is made of.
    log: list[str] = field(default_factory=list)

    def add(self, kind: str, path: str = "") -> None:
        with self.lock:
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            self.log.append(f"{kind} {path}")

    def clear(self) -> None:
        with self.lock:
            self.by_kind.clear()
            self.log.clear()

    def total(self) -> int:
        with self.lock:
            return sum(self.by_kind.values())

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.by_kind)


def kind_of(method: str, path: str) -> str:
    """Name a request the way S3's price list does (LIST is a GET on the bucket)."""
    if method == "GET" and ("list-type=" in path or path.rstrip("/").endswith(BUCKET)):
        return "LIST"
    return method


def counting_proxy(upstream: str, counts: Counts) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start a proxy that forwards every request to ``upstream`` and counts it."""
    target = upstream.removeprefix("http://")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            counts.add(kind_of(self.command, self.path), self.path)
            connection = http.client.HTTPConnection(target, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
            connection.close()

        def handle_one_request(self) -> None:
            # A killed instance drops its connections mid-request: not the proxy's problem.
            with contextlib.suppress(ConnectionError, TimeoutError):
                super().handle_one_request()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- instances ---------------------------------------------------------------------------------


@dataclass
class Instance:
    """One ``pryv start`` on the shared bucket, through its own counting proxy."""

    name: str
    root: Path
    endpoint: str
    counts: Counts
    ttl: float
    workers: int
    uploads: str = "open"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    port_retried: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it and wait until it answers; return the seconds that took."""
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "pryv.ini"
        config.write_text(
            f"[core]\nprojects-path = s3://{BUCKET}/projects\n"
            f"packages-path = s3://{BUCKET}/packages\nindex-ttl = {self.ttl}\n"
            f"[user]\nusers-path = {self.root / 'users.json'}\n"
            f"[server]\nsecret-key = {'k' * 32}\n"
            f"[permissions]\nuploads = {self.uploads}\n"
        )
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}
        if not (self.root / "users.json").exists():
            subprocess.run(
                [pryv_bin(), "user", "add", USER, "--password-stdin", "-c", str(config)],
                input=PASSWORD.encode(),
                check=True,
                capture_output=True,
                env=env,
            )
        self.counts.clear()  # ``pryv user add`` above is not the instance's start
        log = (self.root / "server.log").open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                pryv_bin(),
                "start",
                "-c",
                str(config),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
        )
        log.close()
        while True:
            if self.process.poll() is not None:
                output = (self.root / "server.log").read_text()[-3000:]
                if "the port is in use by another program" in output and not self.port_retried:
                    self.port = free_port()  # taken since free_port() chose it: choose again
                    self.port_retried = True
                    return self.start()
                raise RuntimeError(output)
            try:
                self.get("/simple/", timeout=START_TIMEOUT)
                return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
                time.sleep(0.05)

    def get(self, path: str, accept: str = "text/html", timeout: float = 60) -> bytes:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": auth_header(), "Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())

    def files(self, project: str) -> dict[str, str]:
        """filename -> sha256, as this instance lists the project (empty when unknown)."""
        try:
            page = self.get(f"/simple/{project}/", "application/vnd.pypi.simple.v1+json")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise
        return {f["filename"]: f["hashes"]["sha256"] for f in json.loads(page)["files"]}

    def upload(self, filename: str, content: bytes) -> int:
        """Upload one wheel as twine does; return the HTTP status (0: connection lost)."""
        name, version = filename.split("-")[:2]
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": name,
            "version": version,
            "filetype": "bdist_wheel",
            "pyversion": "py3",
            "metadata_version": "2.1",
            "sha256_digest": hashlib.sha256(content).hexdigest(),
        }
        boundary = "pryvbench" + os.urandom(8).hex()
        body = io.BytesIO()
        for key, value in fields.items():
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        body.write(content + f"\r\n--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            self.url + "/legacy/",
            data=body.getvalue(),
            method="POST",
            headers={
                "Authorization": auth_header(),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
            return 0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


def wheel(name: str, version: str, payload: str) -> tuple[str, bytes]:
    """A minimal valid wheel (METADATA, WHEEL, RECORD and one module)."""
    import base64
    import zipfile

    dist = f"{name}-{version}"
    files = {
        f"{name}/__init__.py": payload.encode(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: bench\n"
        ).encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = (
        "".join(
            f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
            for path, data in files.items()
        )
        + f"{dist}.dist-info/RECORD,,\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}.dist-info/RECORD", record)
    return f"{dist}-py3-none-any.whl", out.getvalue()


# --- the run -------------------------------------------------------------------------------


def simulate_catalog(endpoint: str, files: int, *, owners: bool) -> int:
    """Write a checkpoint of ``files`` synthetic records straight to the bucket.

    With ``owners``, each project also gets the owner record its first upload leaves (written to
    the bucket, and into the checkpoint when this pryv keeps project roles there). Returns the
    number of owner records.
    """
    os.environ.update(CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from pryv_server.backends import Backends  # the S3 glue pryv itself uses
    from pryv_server.config import parse_location
    from pryv_server.core import layout
    from pryv_server.core.checkpoints import Checkpoints
    from pryv_server.core.models import Package

    store = Backends().storage(parse_location(f"s3://{BUCKET}/projects"))
    record = {
        "schema": 1,
        "kind": "wheel",
        "size": 1000,
        "sha256": "0" * 64,
        "uploader": "bench",
        "upload_time": "2026-01-01T00:00:00.000000Z",
        "metadata_key": None,
        "metadata_sha256": None,
        "md5": None,
        "blake2_256": None,
    }

    def record_of(key: str) -> dict[str, Any]:
        project, _, filename = key.partition("/")
        version = filename.split("-")[1]
        name = f"{project}-{version}-py3-none-any.whl"
        return {
            **record,
            "filename": name,
            "project": project,
            "version": version,
            "identity": name,
            "blob_key": f"00/00/{'0' * 64}/{name}",
            "metadata": {"name": project, "version": version, "metadata_version": "2.1"},
        }

    keys = [
        f"sim{n % 10_000}/sim{n % 10_000}-{n // 10_000}.{n}-py3-none-any.whl.json"
        for n in range(files)
    ]
    roles = {
        layout.project_role_key(f"sim{n}", USER): {  # type: ignore[arg-type]
            "project": f"sim{n}",
            "grantee": USER,
            "role": "owner",
            "by": USER,
            "time": "2026-01-01T00:00:00Z",
        }
        for n in range(min(files, 10_000) if owners else 0)
    }
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.write(k, io.BytesIO(json.dumps(roles[k]).encode())), roles))
    # The side records the catalog keeps (pryv_server/app.py builds a store of each), for a
    # pryv that keeps them in its checkpoints; an older one reads them one by one at start.
    sides = {"covers": frozenset(
        (layout.TOKENS_PREFIX, layout.ROLES_PREFIX, layout.UPSTREAM_CONTROLS_PREFIX)
    )} if "covers" in inspect.signature(Checkpoints.write).parameters else {}  # fmt: skip
    if sides:
        keys += roles
    held = getattr(Package, "to_held", None)  # the form this pryv's checkpoints hold, if any

    def object_of(key: str) -> Any:
        if key in roles:
            return roles[key]
        return record_of(key) if held is None else held(Package.from_json(record_of(key)))

    Checkpoints(store, readers=16).write(
        1_000_000_000,
        previous=None,
        fresh=set(),
        keys=lambda: keys,
        object_of=object_of,
        **sides,  # type: ignore[arg-type]
    )
    return len(roles)


def catch_up_at_size(
    late: Instance, work: Path, endpoint: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``--names`` uploads through a second new instance on the large catalog.

    Counts every request the first one (``late``) makes from the first upload until it lists
    them all (it is asked for the project page every half ``index-ttl`` once the uploads are
    done, and checks for changes at most once per ``index-ttl``), and what the writer requests
    per upload: neither may grow with the catalog's size.
    """
    counts = Counts()
    _, proxy = counting_proxy(endpoint, counts)
    writer = Instance("writer", work / "writer", proxy, counts, args.ttl, 1, args.uploads)
    try:
        writer.start()
        written = counts.total()
        before = late.counts.total()
        started = time.monotonic()
        for n in range(args.names):
            writer.upload(*wheel("scaled", f"1.{n}", f"N = {n}\n"))
        uploads = counts.total() - written
        listed: dict[str, str] = {}
        while time.monotonic() - started < 60 and len(listed) < args.names:
            time.sleep(args.ttl / 2)
            listed = late.files("scaled")
        return {
            "files": args.files,
            "uploads": args.names,
            "listed": len(listed),
            "requests": late.counts.total() - before,
            "seconds": round(time.monotonic() - started, 1),
            "writer_requests_per_upload": round(uploads / args.names, 1),
        }
    finally:
        writer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per instance")
    parser.add_argument("--names", type=int, default=30, help="filenames raced (twice each)")
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle counting")
    parser.add_argument("--files", type=int, default=100_000, help="cold-start catalog size")
    parser.add_argument(
        "--uploads", choices=("open", "owners"), default="open", help="[permissions] uploads"
    )
    args = parser.parse_args()

    moto = contextlib.ExitStack()
    endpoint = moto.enter_context(moto_s3())
    import boto3

    admin = boto3.client(
        "s3",
        endpoint_url=endpoint,
        **{
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        },
    )
    admin.create_bucket(Bucket=BUCKET)
    work = Path(tempfile.mkdtemp(prefix="pryv-s3-instances-"))
    instances: list[Instance] = []
    results: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    try:
        for n in range(args.instances):
            counts = Counts()
            _, proxy = counting_proxy(endpoint, counts)
            instances.append(
                Instance(
                    f"i{n}", work / f"i{n}", proxy, counts, args.ttl, args.workers, args.uploads
                )
            )
        for instance in instances:
            instance.start()

        # 1. idle: every instance serves a page every 50 ms, and nothing changes
        stop_reading = threading.Event()

        def keep_reading(instance: Instance) -> None:
            while not stop_reading.is_set():
                with contextlib.suppress(OSError, http.client.HTTPException):
                    instance.get("/simple/")
                time.sleep(0.05)

        readers = [threading.Thread(target=keep_reading, args=(i,), daemon=True) for i in instances]
        for reader in readers:
            reader.start()
        time.sleep(2 * args.ttl)
        before = [i.counts.total() for i in instances]
        time.sleep(args.idle)
        idle = [i.counts.total() - b for i, b in zip(instances, before, strict=True)]
        per_ttl = [count / (args.idle / args.ttl) / args.workers for count in idle]
        results["idle_requests_per_worker_per_ttl"] = per_ttl

        # 3. catch-up: K uploads through the first instance, the others keep serving pages
        before = [i.counts.total() for i in instances]
        started = time.monotonic()
        for n in range(args.names):
            instances[0].upload(*wheel("catchup", f"1.{n}", f"N = {n}\n"))
        time.sleep(2 * args.ttl)
        elapsed = time.monotonic() - started
        extra = [
            i.counts.total() - b - elapsed / args.ttl * args.workers
            for i, b in zip(instances[1:], before[1:], strict=True)
        ]
        results["catch_up"] = {"uploads": args.names, "extra_requests": [round(x) for x in extra]}
        stop_reading.set()
        for reader in readers:
            reader.join()

        # 2. races: each name twice at once with other bytes, through two instances; kill one
        before = [i.counts.total() for i in instances]
        victim = instances[-1]
        jobs = []
        for n in range(args.names):
            first, second = random.sample(range(args.instances), 2)
            for side, where in enumerate((first, second)):
                filename, content = wheel(f"race{n % 7}", f"1.{n}", f"SIDE = {side}\n")
                jobs.append((where, filename, content))
        random.shuffle(jobs)
        acknowledged: dict[str, str] = {}
        statuses: dict[str, list[int]] = {}
        lock = threading.Lock()

        def race(job: tuple[int, str, bytes]) -> None:
            where, filename, content = job
            status = instances[where].upload(filename, content)
            with lock:
                statuses.setdefault(filename, []).append(status)
                if status == 200:
                    if filename in acknowledged:
                        raise AssertionError(f"two winners for {filename}")
                    acknowledged[filename] = hashlib.sha256(content).hexdigest()

        killer = threading.Timer(0.5, victim.kill)
        killer.start()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(race, jobs))
        killer.join()
        survivors = [i for i in instances if i is not victim]
        duplicate_winners = sum(1 for s in statuses.values() if s.count(200) > 1)
        time.sleep(args.ttl * 2 + 0.5)
        converged = True
        for instance in survivors:
            listed: dict[str, str] = {}
            for project in {f.split("-")[0] for f in acknowledged}:
                listed.update(instance.files(project))
            missing = {f for f in acknowledged if listed.get(f) != acknowledged[f]}
            if missing:
                converged = False
                print(f"{instance.name} misses or differs on {sorted(missing)[:5]}")
        results["races"] = {
            "uploads": len(jobs),
            "acknowledged": len(acknowledged),
            "duplicate_winners": duplicate_winners,
            "converged": converged,
            "killed": victim.name,
            "statuses": {
                str(k): sum(s.count(k) for s in statuses.values()) for k in (0, 200, 409, 503)
            },
        }
        results["race_requests"] = {
            i.name: i.counts.total() - b for i, b in zip(instances, before, strict=True)
        }

        # 2b. every kind of change at once through the survivors: they must agree afterwards
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
        results["mixed"] = s3_mixed.run(survivors, wheel, args.ttl, env)

        # 4. cold start on a simulated corpus
        owner_records = simulate_catalog(endpoint, args.files, owners=args.uploads == "owners")
        counts = Counts()
        _, proxy = counting_proxy(endpoint, counts)
        late = Instance("late", work / "late", proxy, counts, args.ttl, 1, args.uploads)
        instances.append(late)  # stopped below even when its start fails
        seconds = late.start()
        late_files = len(
            json.loads(late.get("/simple/", "application/vnd.pypi.simple.v1+json"))["projects"]
        )
        results["cold_start"] = {
            "files": args.files,
            "owner_records": owner_records,
            "requests": counts.total(),
            "by_kind": counts.snapshot(),
            "each": counts.log,
            "seconds": round(seconds, 2),
            "projects_listed": late_files,
        }
        results["catch_up_at_size"] = catch_up_at_size(late, work, endpoint, args)
        late.stop()
    finally:
        for instance in instances:
            instance.stop()
        moto.close()

    rows = [
        [
            "idle: requests per worker per index-ttl",
            ", ".join(f"{x:.2f}" for x in results["idle_requests_per_worker_per_ttl"]),
        ],
        [
            "races: uploads / acknowledged / duplicate winners",
            " / ".join(
                str(results["races"][k]) for k in ("uploads", "acknowledged", "duplicate_winners")
            ),
        ],
        ["races: statuses (0 = killed instance)", json.dumps(results["races"]["statuses"])],
        [
            f"catch-up: requests of each other instance after {args.names} uploads",
            json.dumps(results["catch_up"]["extra_requests"]),
        ],
        [
            "races: every survivor lists every acknowledged upload",
            str(results["races"]["converged"]),
        ],
        ["requests per instance during the races", json.dumps(results["race_requests"])],
        [
            "mixed: uploads, yanks, deletions, statuses, grants at once (acknowledged / sent)",
            f"{results['mixed']['acknowledged']} / {results['mixed']['operations']}",
        ],
        [
            f"mixed: every survivor shows the same files, yanks and status (after "
            f"{results['mixed']['settled_after_s']} s); no grant lost",
            str(
                results["mixed"]["converged"]
                and results["mixed"]["status_agreed"]
                and results["mixed"]["grants_kept"]
            ),
        ],
        [
            f"cold start at {args.files:,} files ({owner_records:,} owner records): requests",
            str(results["cold_start"]["requests"]),
        ],
        [f"cold start at {args.files:,} files: seconds", str(results["cold_start"]["seconds"])],
        [
            f"catch-up at {args.files:,} files: requests of the new instance from the first of "
            f"{args.names} uploads through another until it lists them (seconds, listed)",
            f"{results['catch_up_at_size']['requests']} "
            f"({results['catch_up_at_size']['seconds']} s, "
            f"{results['catch_up_at_size']['listed']}/{args.names})",
        ],
        [
            f"catch-up at {args.files:,} files: the writer's requests per upload",
            str(results["catch_up_at_size"]["writer_requests_per_upload"]),
        ],
    ]
    table = markdown_table(["measure", "value"], rows)
    write_results("s3_instances", results, table)
    ok = (
        results["races"]["converged"]
        and results["races"]["duplicate_winners"] == 0
        and results["mixed"]["converged"]
        and results["mixed"]["status_agreed"]
        and results["mixed"]["grants_kept"]
        and results["cold_start"]["projects_listed"] == min(args.files, 10_000)
        and results["catch_up_at_size"]["listed"] == args.names
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
