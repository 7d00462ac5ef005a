"""PEP 740 attestations for tests: signed like Sigstore's, by a key of the test's own.

A real attestation is signed by a short-lived key whose certificate Sigstore's Fulcio issued and
whose signature Rekor logged; none of that is reachable here. These are signed the same way
(ECDSA P-256 over DSSE's pre-authentication encoding of an in-toto v1 Statement) with a
self-signed certificate, so everything pryv checks offline is real: digest, name, signature.

One real attestation is kept for ``[provenance] verify = sigstore``: PyPI's, made by
``pypa/sampleproject``'s release workflow for ``sampleproject-4.0.0.tar.gz`` (Warehouse's
integrity API documentation shows it), beside that file as downloaded from PyPI (sha256
``0ace7980…8627c6b``), in ``tests/data``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
DATA = Path(__file__).parent / "data"
REAL_SDIST = DATA / "sampleproject-4.0.0.tar.gz"
REAL_ATTESTATION = DATA / "sampleproject-4.0.0.tar.gz.publish.attestation"


def statement(filename: str, sha256: str, predicate_type: str = PUBLISH_V1) -> bytes:
    """An in-toto v1 Statement about one file."""
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": filename, "digest": {"sha256": sha256}}],
            "predicateType": predicate_type,
            "predicate": None,
        }
    ).encode()


def pae(payload: bytes) -> bytes:
    kind = b"application/vnd.in-toto+json"
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _certificate(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pryv test signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(minutes=10))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def attestation(
    filename: str,
    sha256: str,
    *,
    payload: bytes | None = None,
    signed: bytes | None = None,
    predicate_type: str = PUBLISH_V1,
) -> dict[str, Any]:
    """An attestation of ``filename`` (``payload`` replaces the statement, ``signed`` what is
    signed, to forge one whose signature does not match)."""
    key = ec.generate_private_key(ec.SECP256R1())
    body = statement(filename, sha256, predicate_type) if payload is None else payload
    signature = key.sign(pae(body if signed is None else signed), ec.ECDSA(hashes.SHA256()))
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return {
        "version": 1,
        "verification_material": {
            "certificate": b64(_certificate(key)),
            "transparency_entries": [{"logIndex": "1", "kindVersion": {"kind": "dsse"}}],
        },
        "envelope": {"statement": b64(body), "signature": b64(signature)},
    }


def attestation_of(path: Path) -> dict[str, Any]:
    """A valid attestation of the file at ``path``."""
    return attestation(path.name, hashlib.sha256(path.read_bytes()).hexdigest())


def write_attestation(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` beside the file at ``path`` as ``uv publish`` and twine look for it."""
    target = path.with_name(f"{path.name}.publish.attestation")
    target.write_text(json.dumps(document))
    return target
