"""PEP 740 with the real clients: ``uv publish`` and ``twine upload --attestations`` send the
attestation files beside a wheel to a real ``pryv start``, which serves their provenance."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attestations import REAL_ATTESTATION
from tests.attestations import REAL_SDIST
from tests.attestations import attestation
from tests.attestations import attestation_of
from tests.attestations import write_attestation
from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import run
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload

pytestmark = pytest.mark.e2e

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def get_json(url: str, accept: str) -> tuple[str, dict]:
    request = urllib.request.Request(
        url, headers={"Authorization": basic_header(USER, PASSWORD), "Accept": accept}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Content-Type"], json.load(response)


def uv_publish(server: Server, *files: str, check: bool = True):
    env = clean_env(PIP_CONFIG_FILE="/dev/null", UV_NO_CONFIG="1")
    return run(tool("uv"), "publish", "--publish-url", f"{server.url}/simple/", "-u", USER,
               "-p", PASSWORD, *files, env=env, check=check)  # fmt: skip


def provenance_of(server: Server, project: str, filename: str) -> dict:
    _, page = get_json(f"{server.url}/simple/{project}/", SIMPLE_JSON)
    (entry,) = [file for file in page["files"] if file["filename"] == filename]
    assert entry["provenance"].startswith(f"{server.url}/integrity/{project}/")
    content_type, provenance = get_json(entry["provenance"], "*/*")
    assert content_type == "application/vnd.pypi.integrity.v1+json"
    return provenance


def test_uv_publish_sends_the_attestation_beside_the_wheel(server: Server, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "attested", "1.0")
    sent = attestation_of(wheel)
    write_attestation(wheel, sent)
    uv_publish(server, str(dist / "*"))
    provenance = provenance_of(server, "attested", wheel.name)
    (bundle,) = provenance["attestation_bundles"]
    assert bundle["attestations"] == [sent]
    assert bundle["publisher"] == {"kind": "pryv", "claims": {"user": USER}}


def test_twine_upload_attestations(server: Server, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "attested-twine", "1.0")
    sent = attestation_of(wheel)
    attestation_file = write_attestation(wheel, sent)
    run(tool("twine"), "upload", "--non-interactive", "--disable-progress-bar", "--attestations",
        "--repository-url", f"{server.url}/simple/", "-u", USER, "-p", PASSWORD,
        str(wheel), str(attestation_file))  # fmt: skip
    provenance = provenance_of(server, "attested-twine", wheel.name)
    assert provenance["attestation_bundles"][0]["attestations"] == [sent]


def test_uv_publish_with_a_bad_digest_attestation_is_refused(
    server: Server, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "misattested", "1.0")
    write_attestation(wheel, attestation(wheel.name, "0" * 64))
    refused = uv_publish(server, str(dist / "*"), check=False)
    assert refused.returncode != 0
    output = " ".join((refused.stdout + refused.stderr).split())  # uv wraps to the terminal
    assert "attestation 1: its subject's sha256 (" in output, output
    assert "is not the file's" in output
    # Nothing was published: the file can still be uploaded, without the attestation.
    assert twine_upload(server, wheel).returncode == 0


@pytest.fixture
def sigstore_server(tmp_path: Path) -> Iterator[Server]:
    """A server that verifies attestations with Sigstore's bundled trust root, offline."""
    cache = str(tmp_path / "cache")  # where sigstore copies its trust root
    server = start_with_user(
        tmp_path / "server",
        extra="[provenance]\nverify = sigstore\n",
        env={"XDG_CACHE_HOME": cache},
    )
    yield server
    stop_server(server)


def test_uv_publish_a_real_sigstore_attestation(sigstore_server: Server, tmp_path: Path) -> None:
    """PyPI's attestation of sampleproject 4.0.0 goes up with it and is verified by Sigstore;
    one signed by a key of our own is refused."""
    dist = tmp_path / "dist"
    dist.mkdir()
    sdist = Path(shutil.copy(REAL_SDIST, dist))
    forged = tmp_path / "forged"
    forged.mkdir()
    write_attestation(Path(shutil.copy(REAL_SDIST, forged)), attestation_of(REAL_SDIST))
    refused = uv_publish(sigstore_server, str(forged / "*"), check=False)
    assert refused.returncode != 0
    output = " ".join((refused.stdout + refused.stderr).split())  # uv wraps to the terminal
    assert "attestation 1: not verified by Sigstore: " in output, output

    shutil.copy(REAL_ATTESTATION, dist)
    uv_publish(sigstore_server, str(dist / "*"))
    provenance = provenance_of(sigstore_server, "sampleproject", sdist.name)
    sent = json.loads(REAL_ATTESTATION.read_text())
    assert provenance["attestation_bundles"][0]["attestations"] == [sent]
