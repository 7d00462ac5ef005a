"""PEP 740: attestations sent with an upload, checked, stored with the file and served."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.core import layout
from tests.attestations import REAL_ATTESTATION
from tests.attestations import REAL_SDIST
from tests.attestations import attestation
from tests.attestations import attestation_of
from tests.attestations import statement
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
INTEGRITY = "application/vnd.pypi.integrity.v1+json"
PROVENANCE_URL = "http://localhost/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance"


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "dist", "demo", "1.0")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_attested(client: FlaskClient, wheel: Path, *attestations: object):
    return post_upload(client, wheel, attestations=json.dumps(list(attestations)))


def stored_keys(tmp_path: Path) -> list[str]:
    """The files, metadata and provenance objects in the packages store (not audit events)."""
    root = tmp_path / "packages"
    keys = (str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    return sorted(key for key in keys if layout.is_blob_key(key))


def test_provenance_is_stored_served_and_linked(client: FlaskClient, wheel: Path) -> None:
    sent = attestation_of(wheel)
    assert upload_attested(client, wheel, sent).status_code == 200

    files = client.get("/simple/demo/", headers={**basic(), **JSON}).json["files"]
    assert files[0]["provenance"] == PROVENANCE_URL
    html = client.get("/simple/demo/", headers=basic()).text
    assert f'data-provenance="{PROVENANCE_URL}"' in html

    response = client.get(PROVENANCE_URL, headers=basic())
    assert response.status_code == 200
    assert response.content_type == INTEGRITY
    assert response.json == {
        "version": 1,
        "attestation_bundles": [
            {"publisher": {"kind": "pryv", "claims": {"user": "alice"}}, "attestations": [sent]}
        ],
    }
    plain = client.get(PROVENANCE_URL, headers={**basic(), "Accept": "application/json"})
    assert plain.content_type == "application/json"
    assert client.get(PROVENANCE_URL, headers={**basic(), "Accept": "text/html"}).status_code == 406
    assert client.get(PROVENANCE_URL).status_code == 401


def test_file_without_attestations_has_no_provenance(client: FlaskClient, wheel: Path) -> None:
    assert post_upload(client, wheel).status_code == 200
    files = client.get("/simple/demo/", headers={**basic(), **JSON}).json["files"]
    assert files[0]["provenance"] is None
    assert "data-provenance" not in client.get("/simple/demo/", headers=basic()).text
    assert client.get(PROVENANCE_URL, headers=basic()).status_code == 404


def test_provenance_url_must_name_the_files_project_and_version(
    client: FlaskClient, wheel: Path
) -> None:
    assert upload_attested(client, wheel, attestation_of(wheel)).status_code == 200
    for url in (
        "/integrity/demo/1.0.0/demo-1.0-py3-none-any.whl/provenance",
        "/integrity/Demo/1.0/demo-1.0-py3-none-any.whl/provenance",
    ):
        assert client.get(url, headers=basic()).status_code == 200, url
    for url in (
        "/integrity/other/1.0/demo-1.0-py3-none-any.whl/provenance",
        "/integrity/demo/2.0/demo-1.0-py3-none-any.whl/provenance",
        "/integrity/demo/1.0/demo-2.0-py3-none-any.whl/provenance",
    ):
        assert client.get(url, headers=basic()).status_code == 404, url


def forged(wheel: Path) -> dict[str, dict[str, object]]:
    name, digest = wheel.name, sha256_of(wheel)
    good = attestation(name, digest)
    return {
        "digest": attestation(name, "0" * 64),
        "name": attestation("demo-1.0-py2-none-any.whl", digest),
        "signature": attestation(name, digest, signed=statement(name, "0" * 64)),
        "statement": attestation(name, digest, payload=b"not json"),
        "certificate": {
            **good,
            "verification_material": {
                **good["verification_material"],
                "certificate": "bm90IGEgY2VydA==",
            },
        },
        "version": {**good, "version": 2},
        "no log entry": {
            **good,
            "verification_material": {
                **good["verification_material"],
                "transparency_entries": [],
            },
        },
    }


# What is wrong with the field: a forged attestation of forged(), or the raw field text.
REFUSALS = [
    pytest.param("digest", "attestation 1: its subject's sha256 (0000", id="digest"),
    pytest.param("name", "attestation 1: its subject is 'demo-1.0-py2-none-any.whl'", id="name"),
    pytest.param("signature", "attestation 1: the signature does not verify", id="signature"),
    pytest.param("statement", "attestation 1: the statement is not JSON", id="statement"),
    pytest.param("certificate", "not a DER X.509 certificate", id="certificate"),
    pytest.param("version", "attestation 1: not a PEP 740 attestation", id="version"),
    pytest.param("no log entry", "no transparency_entries", id="no-log-entry"),
    pytest.param("{", "not valid JSON", id="not-json"),
    pytest.param("[]", "non-empty JSON array", id="empty"),
    pytest.param('{"version": 1}', "non-empty JSON array", id="object"),
    pytest.param("[1,2,3,4,5,6,7,8,9]", "at most 8", id="too-many"),
]


@pytest.mark.parametrize(("case", "reason"), REFUSALS)
def test_bad_attestations_refuse_the_upload_with_one_line_and_store_nothing(
    client: FlaskClient, wheel: Path, tmp_path: Path, case: str, reason: str
) -> None:
    cases = forged(wheel)
    field = json.dumps([cases[case]]) if case in cases else case
    response = post_upload(client, wheel, attestations=field)
    assert response.status_code == 400
    text = response.text.strip()
    assert "\n" not in text
    assert reason in text, text
    assert client.get("/simple/demo/", headers=basic()).status_code == 404
    assert stored_keys(tmp_path) == []


def test_two_attestations_of_one_predicate_type_are_refused(
    client: FlaskClient, wheel: Path
) -> None:
    response = upload_attested(client, wheel, attestation_of(wheel), attestation_of(wheel))
    assert response.status_code == 400
    assert "at most one per predicate type" in response.text
    other = attestation(
        wheel.name, sha256_of(wheel), predicate_type="https://slsa.dev/provenance/v1"
    )
    assert upload_attested(client, wheel, attestation_of(wheel), other).status_code == 200


def test_provenance_is_stored_before_the_record_is_visible(
    app: Flask, client: FlaskClient, wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the record (the commit point) is written, the provenance object is already there."""
    publisher = app.extensions["pryv"].registry.publisher
    seen: list[list[str]] = []
    write = publisher.records.write

    def spy(key, data, overwrite=True, durable=True):
        if layout.is_record_key(key):
            seen.append([k for k in stored_keys(tmp_path) if "/provenance-" in k])
        return write(key, data, overwrite=overwrite, durable=durable)

    monkeypatch.setattr(publisher.records, "write", spy)
    assert upload_attested(client, wheel, attestation_of(wheel)).status_code == 200
    assert len(seen) == 1
    assert len(seen[0]) == 1


def test_deleting_the_file_removes_its_provenance(
    client: FlaskClient, wheel: Path, tmp_path: Path
) -> None:
    assert upload_attested(client, wheel, attestation_of(wheel)).status_code == 200
    assert any("/provenance-" in key for key in stored_keys(tmp_path))
    answer = client.post(
        "/api/delete",
        headers=basic(),
        json={"project": "demo", "version": "1.0", "reason": "test"},
    )
    assert answer.status_code == 200
    assert stored_keys(tmp_path) == []
    assert client.get(PROVENANCE_URL, headers=basic()).status_code == 404


def test_identical_reupload_keeps_the_first_provenance(client: FlaskClient, wheel: Path) -> None:
    first = attestation_of(wheel)
    assert upload_attested(client, wheel, first).status_code == 200
    assert upload_attested(client, wheel, attestation_of(wheel)).status_code == 200
    served = client.get(PROVENANCE_URL, headers=basic()).json
    assert served["attestation_bundles"][0]["attestations"] == [first]


def upload_real(client: FlaskClient, attestations: list[object]):
    return post_upload(client, REAL_SDIST, attestations=json.dumps(attestations))


REAL_URL = "/integrity/sampleproject/4.0.0/sampleproject-4.0.0.tar.gz/provenance"


def test_a_real_pypi_attestation_passes_the_built_in_checks(client: FlaskClient) -> None:
    """The signature check is the one Sigstore's signers need: PyPI's own attestation passes."""
    real = json.loads(REAL_ATTESTATION.read_text())
    assert upload_real(client, [real]).status_code == 200
    served = client.get(REAL_URL, headers=basic()).json
    assert served["attestation_bundles"][0]["attestations"] == [real]


@pytest.fixture
def sigstore_client(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    # sigstore copies its trust root into the user's cache folder: keep it in the test's.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = app.extensions["pryv"].settings.replace(provenance_verify="sigstore")
    return create_app(settings).test_client()


def test_sigstore_mode_accepts_a_real_attestation(sigstore_client: FlaskClient) -> None:
    real = json.loads(REAL_ATTESTATION.read_text())
    assert upload_real(sigstore_client, [real]).status_code == 200
    assert sigstore_client.get(REAL_URL, headers=basic()).status_code == 200


def test_sigstore_mode_refuses_an_attestation_sigstore_did_not_sign(
    sigstore_client: FlaskClient, tmp_path: Path
) -> None:
    """Signed by a key of our own: the built-in checks pass, Sigstore's trust root does not."""
    response = upload_real(sigstore_client, [attestation_of(REAL_SDIST)])
    assert response.status_code == 400
    text = response.text.strip()
    assert "\n" not in text
    assert text.startswith("attestation 1: not verified by Sigstore: "), text
    assert sigstore_client.get("/simple/sampleproject/", headers=basic()).status_code == 404
    assert stored_keys(tmp_path) == []


def test_provenance_links_name_the_host_each_reader_asked(client: FlaskClient, wheel: Path) -> None:
    """The page is cached per host: a second host never gets the first one's absolute URLs."""
    assert upload_attested(client, wheel, attestation_of(wheel)).status_code == 200
    for host in ("pryv.example.com", "mirror.example.org", "pryv.example.com"):
        page = client.get("/simple/demo/", headers={**basic(), **JSON, "Host": host}).json
        assert page["files"][0]["provenance"] == PROVENANCE_URL.replace("localhost", host)
