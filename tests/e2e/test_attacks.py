"""Attacks against a real ``pryv start``, sent as raw bytes: the exact status, and nothing stored."""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.dists import metadata_text
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import twine_upload
from tests.security_helpers import AUTH
from tests.security_helpers import get
from tests.security_helpers import header
from tests.security_helpers import read_response
from tests.security_helpers import request
from tests.security_helpers import sdist_members
from tests.security_helpers import special
from tests.security_helpers import tar_bytes
from tests.security_helpers import tree
from tests.security_helpers import upload
from tests.security_helpers import wheel_members
from tests.security_helpers import zip_bytes
from tests.uploads import upload_body

pytestmark = pytest.mark.e2e

GOOD_WHEEL = zip_bytes(wheel_members())
WHEEL = "demo-1.0-py3-none-any.whl"
MAX_UPLOAD = 256 * 1024


def launch(root: Path, extra: str, *args: str) -> Server:
    return start_with_user(root, *args, extra=extra)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-only attacks, with one published wheel to aim at."""
    server = launch(
        tmp_path_factory.mktemp("attacks") / "server",
        f"max-upload-size = {MAX_UPLOAD}\nlogin-attempts = 0\n",
    )
    status, answer = upload(server, WHEEL, GOOD_WHEEL)
    assert status == 200, answer
    yield server
    stop_server(server)


def state(server: Server) -> dict[str, bytes]:
    return tree(server.root)


SECRETS = [b"password", b"[core]", b"root:x:", b"secret-key", PASSWORD.encode()]

TRAVERSALS = [
    (b"../users.json", {404}),
    (b"..%2fusers.json", {404}),
    (b"..%2Fpryv.ini", {404}),
    (b"%2e%2e/users.json", {404}),
    (b"%2e%2e%2f%2e%2e%2fetc%2fpasswd", {404}),
    (b"%252e%252e%252fusers.json", {404}),
    (b"..%252fusers.json", {404}),
    (b"..\\users.json", {404}),
    (b"..%5cusers.json", {404}),
    (b"..%5c..%5cpryv.ini", {404}),
    (b"/etc/passwd", {404}),
    (b"%2fetc%2fpasswd", {404}),
    (b"users.json", {404}),
    (b"pryv.ini", {404}),
    (b".htpasswd", {404}),
    (b"users.json%00.whl", {404}),
    (b"%00", {404}),
    (b"\x00", {400}),
    (b"%c0%ae%c0%ae/users.json", {404}),
    (b"%c0%ae%c0%ae%c0%afusers.json", {404}),
    (b"\xc0\xae\xc0\xae/users.json", {400}),
    (b"%e0%80%ae%e0%80%ae/users.json", {404}),
    (b"..%u2216users.json", {404}),
    (b"....//users.json", {404}),
    (b".%2e/.%2e/users.json", {404}),
    (b"..;/users.json", {404}),
    (b"projects/demo", {404}),
]


@pytest.mark.parametrize("prefix", [b"/packages/", b"/simple/", b"/static/", b"/"])
@pytest.mark.parametrize(("attack", "statuses"), TRAVERSALS)
def test_traversal_spellings(
    target: Server, prefix: bytes, attack: bytes, statuses: set[int]
) -> None:
    before = state(target)
    status, answer = get(target, prefix + attack)
    # Werkzeug redirects "a//b" to "a/b" and "/simple/x" to "/simple/x/" (308), the simple API
    # other spellings to the normalized name (301): always relative, and never to a secret.
    for _ in range(3):
        assert status in statuses | {301, 308}, answer[:300]
        for secret in SECRETS:
            assert secret not in answer
        if status not in {301, 308}:
            break
        location = header(answer, b"Location")
        assert location is not None
        assert location.startswith(b"/")
        assert not location.startswith(b"//")
        status, answer = get(target, location)
    assert status in {400, 404}
    assert state(target) == before


def test_published_file_is_served_with_nosniff(target: Server) -> None:
    status, answer = get(target, f"/packages/{WHEEL}".encode())
    assert status == 200
    assert header(answer, b"X-Content-Type-Options") == b"nosniff"
    assert answer.endswith(GOOD_WHEEL)
    status, answer = get(target, f"/packages/{WHEEL}.metadata".encode())
    assert status == 200
    assert header(answer, b"X-Content-Type-Options") == b"nosniff"


@pytest.mark.parametrize(
    ("path", "host"),
    [
        (b"/simple/Demo/", b"evil.example"),
        (b"/simple/demo", b"evil.example"),
        (b"/simple", b"evil.example"),
        (b"/simple//demo/", b"evil.example:8080"),
        (b"/", b"evil.example"),
        (b"/simple/Demo/", b"127.0.0.1@evil.example"),
    ],
)
def test_redirects_do_not_reflect_host(target: Server, path: bytes, host: bytes) -> None:
    head = b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
    status, answer = request(target, head + b"Authorization: " + AUTH + b"\r\n")
    assert status in {301, 302, 308}, answer[:300]
    location = header(answer, b"Location")
    assert location is not None
    assert location.startswith(b"/")
    assert not location.startswith(b"//")
    assert b"evil" not in location


@pytest.mark.parametrize(
    "path",
    [
        b"/simple/demo%0d%0aSet-Cookie:%20a=b/",
        b"/simple/Demo%0aLocation:%20http:%2f%2fevil.example/",
        b"/simple/Demo%0d%0a%0d%0a<script>/",
    ],
)
def test_redirects_never_carry_crlf(target: Server, path: bytes) -> None:
    status, answer = get(target, path)
    assert status in {301, 308, 404}
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert header(answer, b"Set-Cookie") is None
    assert b"<script>" not in head
    assert b"\nLocation: http" not in head
    location = header(answer, b"Location")
    if status != 404:
        assert location is not None
        assert location.startswith(b"/simple/")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"X-Big: " + b"a" * 9000 + b"\r\n", 431),
        (b"Authorization: Basic " + b"A" * 9000 + b"\r\n", 431),
        (b"".join(b"X-%d: 1\r\n" % i for i in range(120)), 431),
        (b"X-A: a\rb\r\n", 400),
        (b"X-A: a\nInjected: b\r\n", 400),
        (b"Host: second\r\n", 400),
        (b"Bad Header Name: x\r\n", 400),
        (b"X-\xff: x\r\n", 400),
    ],
)
def test_header_tricks(target: Server, headers: bytes, status: int) -> None:
    before = state(target)
    got, answer = get(target, b"/simple/", headers)
    assert got == status, answer[:300]
    assert state(target) == before


def test_long_request_line_is_414(target: Server) -> None:
    status, _ = get(target, b"/simple/" + b"a" * 5000 + b"/")
    assert status == 414


@pytest.mark.parametrize(
    "authorization",
    [
        b"Basic !!!",
        b"Basic " + basic_header(USER, PASSWORD).encode()[6:-2],
        b"Basic YWxpY2U=",
        b"Basic //46/w==",
        b"Basic Og==",
        b"Basic",
        b"Basic \xff\xfe",
        b"Bearer token",
        b"Digest username=x",
        b"basic",
        b"",
    ],
)
def test_malformed_authorization_is_401(target: Server, authorization: bytes) -> None:
    status, answer = get(target, b"/simple/", b"Authorization: " + authorization + b"\r\n")
    assert status == 401, answer[:300]
    assert header(answer, b"WWW-Authenticate") == b'Basic realm="pryv", charset="UTF-8"'


def test_unknown_user_and_wrong_password_are_indistinguishable(target: Server) -> None:
    answers = []
    for user, password in [(USER, "wrong"), ("nobody", "wrong"), ("nobody", PASSWORD)]:
        auth = basic_header(user, password).encode()
        status, answer = get(target, b"/simple/", b"Authorization: " + auth + b"\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = sorted(line for line in head.split(b"\r\n") if not line.startswith(b"Date:"))
        answers.append((status, lines, body))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401


UPLOAD_ATTACKS = [
    pytest.param(WHEEL, b"#!/bin/sh\n" + GOOD_WHEEL, 400, id="wheel-with-prepended-script"),
    pytest.param(WHEEL, b"this is not a zip", 400, id="wheel-not-zip"),
    pytest.param(
        WHEEL, zip_bytes([*wheel_members(), ("../../evil.py", b"")]), 400, id="wheel-dotdot"
    ),
    pytest.param(
        WHEEL,
        zip_bytes(wheel_members(metadata=metadata_text("other", "1.0"))),
        400,
        id="wheel-metadata-name-mismatch",
    ),
    pytest.param(
        "demo-1.0.tar.gz",
        tar_bytes([*sdist_members(), special("demo-1.0/dev", b"3")]),
        400,
        id="sdist-device",
    ),
    pytest.param(
        "demo-1.0.tar.gz",
        tar_bytes([*sdist_members(), special("demo-1.0/x", b"2", "/etc/passwd")]),
        400,
        id="sdist-symlink-out",
    ),
    pytest.param("../demo-1.0.tar.gz", tar_bytes(sdist_members()), 400, id="filename-dotdot"),
    pytest.param(WHEEL, zip_bytes([*wheel_members(), ("demo/x", b"1")]), 409, id="overwrite"),
    pytest.param(
        "demo-1.0-py3-none-any.whl",
        zip_bytes([*wheel_members(), ("demo/big", bytes(range(256)) * 1200)], compression=0),
        413,
        id="over-max-upload-size",
    ),
]


@pytest.mark.parametrize(("filename", "content", "status"), UPLOAD_ATTACKS)
def test_upload_attacks(target: Server, filename: str, content: bytes, status: int) -> None:
    before = state(target)
    got, answer = upload(target, filename, content)
    assert got == status, answer[:400]
    assert answer.split(b"\r\n\r\n", 1)[1].count(b"\n") == 1
    assert state(target) == before
    status, body = get(target, f"/packages/{WHEEL}".encode())
    assert status == 200
    assert body.endswith(GOOD_WHEEL)


def test_content_length_over_limit_is_refused_before_the_body(target: Server) -> None:
    before = state(target)
    host, port = target.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            b"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + AUTH + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        status, answer = read_response(sock)  # no body byte was sent
    assert status == 413
    assert f"max-upload-size ({MAX_UPLOAD // 1024}K)".encode() in answer
    assert state(target) == before


def chunked_post(server: Server, head: bytes) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + AUTH + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + head
    )
    return sock


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_chunked_body_is_cut_at_the_limit(target: Server) -> None:
    before = state(target)
    part = (
        b'--x\r\nContent-Disposition: form-data; name="content"; filename="demo-1.0.tar.gz"\r\n\r\n'
    )
    sent = 0
    with chunked_post(target, chunk(part)) as sock:
        try:
            # Far past the limit (256K + 16M of form room); the server answers before the end.
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk(b"x" * 65536))
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, answer = read_response(sock)
    assert status == 413, answer[:300]
    assert sent < 64 * 1024 * 1024
    assert state(target) == before


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"5\r\nabcdefgh\r\n0\r\n\r\n",
        b"--x\r\n",
        b"-1\r\nx\r\n0\r\n\r\n",
        b"3;ext=\x01\r\nabc\r\n0\r\n\r\n",
    ],
)
def test_malformed_chunked_body_is_400(target: Server, body: bytes) -> None:
    before = state(target)
    with chunked_post(target, body) as sock:
        sock.shutdown(socket.SHUT_WR)
        status, answer = read_response(sock)
    assert status == 400, answer[:400]
    assert state(target) == before


def test_upload_needs_basic_auth_even_with_a_cookie(target: Server) -> None:
    before = state(target)
    content = zip_bytes([*wheel_members("demo", "2.0")])
    body, content_type = upload_body("demo-2.0-py3-none-any.whl", content, "demo", "2.0")
    connection = http.client.HTTPConnection(target.url.removeprefix("http://"), timeout=20)
    connection.request(
        "POST",
        "/legacy/",
        body=body,
        headers={"Content-Type": content_type, "Cookie": "session=eyJ1c2VyIjoiY2Fyb2wifQ.x.y"},
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 401
    assert state(target) == before


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Server]:
    server = launch(
        tmp_path / "server", "login-attempts = 3\nlogin-window = 600\n", "--workers", "1"
    )
    yield server
    stop_server(server)


def test_failed_logins_are_rate_limited(limited: Server) -> None:
    wrong = b"Authorization: " + basic_header(USER, "guess").encode() + b"\r\n"
    for _ in range(3):
        assert get(limited, b"/simple/", wrong)[0] == 401
    status, answer = get(limited, b"/simple/", wrong)
    assert status == 429
    retry_after = header(answer, b"Retry-After")
    assert retry_after is not None
    assert 0 < int(retry_after) <= 600
    # Locked: even the right password is refused, from this address and for this user.
    assert get(limited, b"/simple/")[0] == 429
    # Uploads are limited in the same way.
    before = state(limited)
    assert upload(limited, WHEEL, GOOD_WHEEL)[0] == 429
    assert state(limited) == before


def test_successes_are_never_counted(limited: Server) -> None:
    for _ in range(30):
        assert get(limited, b"/simple/")[0] == 200
    wrong = b"Authorization: " + basic_header(USER, "guess").encode() + b"\r\n"
    assert get(limited, b"/simple/", wrong)[0] == 401  # 30 successes left the count at zero


def test_twine_prints_the_one_line_reason(target: Server, tmp_path: Path) -> None:
    """A real client shows the reason: the wheel's metadata names another project."""
    wheel = tmp_path / "demo-3.0-py3-none-any.whl"
    wheel.write_bytes(zip_bytes(wheel_members("demo", "3.0", metadata_text("other", "3.0"))))
    before = state(target)
    result = twine_upload(target, wheel, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert re.search(r"\b400\b", output)
    assert "for project 'demo'" in output
    assert state(target) == before
