"""CPU per repeat request for ``/simple/<project>/``, in process: the page cache against Flask.

A WSGI call loop over the app built by ``create_app`` (no socket, no load generator), so the
figure is the server's own CPU per request and stays readable on a loaded, shared machine: best
of ``--rounds`` rounds of ``--calls`` calls each. Each WSGI layer is called in turn, outermost
first (what gunicorn calls) down to Flask's own ``wsgi_app``, with the page already rendered and
the password already verified: a layer's figure includes the layers below it that it calls.

    .venv/bin/python -m bench.inprocess [--projects 1000] [--calls 2000] [--rounds 7]
        [--index] [--token] [--restrict 10] [--upstream]

``--index`` measures ``/simple/`` instead of a project page, ``--token`` authenticates with a read
API token instead of the password, and ``--restrict N`` restricts reading N% of the projects to
another user (a permissions file), so the reader's ``/simple/`` leaves them out. ``--upstream``
also proxies a static PEP 691 index (``tests/upstream_index.py``) and weighs the page of a cached
upstream project beside the local one's.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location

USER, PASSWORD = "bench", "bench-password"
JSON = "application/vnd.pypi.simple.v1+json"


CREDENTIALS = {"user": USER, "password": PASSWORD}


def _environ(path: str, accept: str) -> dict[str, Any]:
    token = base64.b64encode(f"{CREDENTIALS['user']}:{CREDENTIALS['password']}".encode()).decode()
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_ACCEPT": accept,
        "HTTP_AUTHORIZATION": f"Basic {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _call(app: Callable[..., Any], path: str, accept: str) -> tuple[str, bytes]:
    seen: list[str] = []
    body = app(_environ(path, accept), lambda status, headers, exc=None: seen.append(status))
    try:
        return seen[0], b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def best_microseconds(
    app: Callable[..., Any], path: str, accept: str, calls: int, rounds: int
) -> float:
    """Return the best per-call CPU time over ``rounds`` rounds, in microseconds."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            _call(app, path, accept)
        best = min(best, (time.process_time() - started) / calls)
    return best * 1e6


def build(root: Path, projects: int, restrict: int = 0, upstream_url: str | None = None) -> Any:
    """Create an app over ``projects`` projects of one record each, written as pryv stores them.

    With ``upstream_url`` the app proxies that index (``[upstream]``).
    """
    from tests.dists import make_wheel  # the test helper builds real wheels

    users = root / "users.json"
    users.write_text(
        json.dumps({USER: {"password": hashlib.sha256(PASSWORD.encode()).hexdigest()}})
    )
    settings = Settings(
        projects_path=parse_location(str(root / "projects")),
        packages_path=parse_location(str(root / "packages")),
        users_path=parse_location(str(users)),
        secret_key="bench",
    )
    if upstream_url is not None:
        settings = settings.replace(upstream=True, upstream_url=upstream_url)
    if restrict:
        step = max(1, round(100 / restrict))
        permissions = root / "permissions.json"
        restricted = {f"project{n}": ["someone-else"] for n in range(1, projects, step)}
        permissions.write_text(json.dumps({"read": restricted}))
        settings = settings.replace(permissions_path=parse_location(str(permissions)))
    app = create_app(settings)
    client = app.test_client()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for n in range(projects):
        wheel = make_wheel(root / "dist", f"project{n}", "1.0")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        with wheel.open("rb") as content:
            response = client.post(
                "/legacy/",
                data={
                    ":action": "file_upload",
                    "name": f"project{n}",
                    "version": "1.0",
                    "filetype": "bdist_wheel",
                    "sha256_digest": digest,
                    "content": (content, wheel.name),
                },
                headers={"Authorization": f"Basic {token}"},
            )
        assert response.status_code == 200, response.text
    return app


def _layers(app: Any) -> list[tuple[str, Callable[..., Any]]]:
    """Name each WSGI layer gunicorn calls, outermost first, down to Flask's own ``wsgi_app``."""
    layers: list[tuple[str, Callable[..., Any]]] = []
    layer = app.wsgi_app
    while hasattr(layer, "app"):
        layers.append((type(layer).__name__, layer))
        layer = layer.app
    layers.append(("Flask", layer))
    return layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--index", action="store_true", help="measure /simple/")
    parser.add_argument("--token", action="store_true", help="use a read API token")
    parser.add_argument("--restrict", type=int, default=0, metavar="PERCENT")
    parser.add_argument("--upstream", action="store_true", help="weigh an upstream page too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = ["/simple/" if args.index else f"/simple/project{args.projects // 2}/"]
        upstream_url = None
        if args.upstream:
            from tests.dists import make_wheel
            from tests.upstream_index import StaticIndex

            index = StaticIndex(Path(tmp) / "upstream")
            for version in ("1.0", "1.1", "2.0"):
                index.add(make_wheel(Path(tmp) / "up", "upstream-project", version))
            upstream_url = index.url
            paths.append("/simple/upstream-project/")
        app = build(Path(tmp), args.projects, args.restrict, upstream_url)
        if args.token:
            _, secret = app.extensions["pryv"].tokens.create(USER, "read")
            CREDENTIALS.update(user="__token__", password=secret)
        for path, accept in [(path, accept) for path in paths for accept in ("text/html", JSON)]:
            first = _call(app.wsgi_app, path, accept)
            assert first[0] == "200 OK", first
            assert _call(app.wsgi_app, path, accept) == first
            line = f"{path:28} {accept:40}"
            for name, layer in _layers(app):
                cost = best_microseconds(layer, path, accept, args.calls, args.rounds)
                line += f"   {name} {cost:6.1f} µs"
            print(line, flush=True)


if __name__ == "__main__":
    main()
