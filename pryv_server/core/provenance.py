"""PEP 740 attestations: check those sent with an upload, and build the file's provenance object.

``twine upload --attestations`` and ``uv publish`` send a file's attestations (the
``<file>.*.attestation`` files beside it) as the ``attestations`` form field: a JSON array of
attestation objects. pryv keeps them, wrapped in PEP 740's *provenance object*, beside the file
(one object per file, keyed in :mod:`pryv_server.core.layout`) and serves that object at the
file's integrity URL.

**What pryv verifies, offline, before anything is stored** (a failure refuses the upload, ``400``):

* the field is a non-empty JSON array of at most :data:`MAX_ATTESTATIONS` attestation objects
  with PEP 740's shape: ``version`` 1, ``verification_material`` (a base64 DER ``certificate``,
  one or more ``transparency_entries`` objects) and ``envelope`` (base64 ``statement`` and
  ``signature``), at most one per predicate type (as PyPI);
* each statement is an in-toto v1 Statement with exactly one subject, whose ``digest.sha256`` is
  the uploaded file's sha256 and whose ``name`` is its filename;
* the certificate is an X.509 certificate, and the envelope's signature over the statement (DSSE's
  pre-authentication encoding, payload type ``application/vnd.in-toto+json``) verifies with its
  public key: the attestation was signed by whoever held that certificate's key, about these bytes.

**What pryv does not verify** by default, since each needs Sigstore's trust roots: that the
certificate was issued by Sigstore's Fulcio (its chain to a trusted root), that it was valid
when the signature was made, that the signature is in Rekor's transparency log (the
``transparency_entries`` are kept as sent). ``[provenance] verify = sigstore`` checks those too,
offline (:mod:`pryv_server.core.sigstore`). Never verified: *who* signed (the certificate's
identity against a Trusted Publisher); a consumer checks that against the identity it expects
(``docs/lifecycle.md`` says so to users).

The provenance object's one bundle names as ``publisher`` the pryv account that uploaded it
(``{"kind": "pryv", "claims": {"user": ...}}``): pryv has no Trusted Publishing, and the account
is the identity it vouches for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from pryv_server.core.names import parse_filename
from pryv_server.errors import InvalidAttestation
from pryv_server.errors import InvalidFilename

# PyPI accepts one attestation per predicate type it knows (two today); a few more leave room.
MAX_ATTESTATIONS = 8
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"  # DSSE: what the signed payload is
PROVENANCE_VERSION = 1
# The hash an ECDSA key signs with, by curve (Sigstore's signing keys are P-256).
_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class Provenance:
    """A file's PEP 740 provenance object, as stored and served, and its sha256."""

    content: bytes
    sha256: str


def provenance_for(
    field: str, filename: str, sha256: str, uploader: str, *, sigstore: bool = False
) -> Provenance:
    """Check an upload's ``attestations`` field and return the provenance object to store.

    With ``sigstore``, each attestation is also verified as Sigstore does, offline
    (:mod:`pryv_server.core.sigstore`, ``[provenance] verify = sigstore``).

    :raises InvalidAttestation: one line saying which attestation is wrong and why.
    """
    attestations = _parse(field)
    seen: set[str] = set()
    for number, attestation in enumerate(attestations, start=1):
        where = f"attestation {number}"
        predicate = _check(attestation, filename, sha256, where)
        if sigstore:
            from pryv_server.core import sigstore as sigstore_check

            sigstore_check.verify(attestation, filename, sha256, where)
        if predicate in seen:
            raise InvalidAttestation(
                f"attestation {number}: a second attestation of type {predicate!r}; "
                "send at most one per predicate type"
            )
        seen.add(predicate)
    document = {
        "version": PROVENANCE_VERSION,
        "attestation_bundles": [
            {
                "publisher": {"kind": "pryv", "claims": {"user": uploader}},
                "attestations": attestations,
            }
        ],
    }
    content = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return Provenance(content, hashlib.sha256(content).hexdigest())


def _parse(field: str) -> list[dict[str, Any]]:
    try:
        attestations = json.loads(field)
    except ValueError:
        raise InvalidAttestation("the attestations field is not valid JSON") from None
    if not isinstance(attestations, list) or not attestations:
        raise InvalidAttestation(
            "the attestations field must be a non-empty JSON array of attestation objects"
        )
    if len(attestations) > MAX_ATTESTATIONS:
        raise InvalidAttestation(
            f"{len(attestations)} attestations sent; at most {MAX_ATTESTATIONS} per file"
        )
    return attestations


def _check(attestation: object, filename: str, sha256: str, where: str) -> str:
    """Check one attestation against the file; return its predicate type."""
    if not isinstance(attestation, dict) or attestation.get("version") != 1:
        raise InvalidAttestation(f"{where}: not a PEP 740 attestation object of version 1")
    material = _object(attestation, "verification_material", where)
    envelope = _object(attestation, "envelope", where)
    entries = material.get("transparency_entries")
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise InvalidAttestation(f"{where}: verification_material has no transparency_entries")
    certificate = _base64(material, "certificate", where)
    statement_bytes = _base64(envelope, "statement", where)
    signature = _base64(envelope, "signature", where)
    statement = _statement(statement_bytes, where)
    _check_subject(statement, filename, sha256, where)
    _check_signature(certificate, signature, statement_bytes, where)
    return str(statement["predicateType"])


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidAttestation(f"{where}: {key} is missing or not an object")
    return value


def _base64(parent: dict[str, Any], key: str, where: str) -> bytes:
    value = parent.get(key)
    try:
        if not isinstance(value, str) or not value:
            raise ValueError(key)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidAttestation(f"{where}: {key} is missing or not base64") from None


def _statement(content: bytes, where: str) -> dict[str, Any]:
    try:
        statement = json.loads(content)
    except ValueError:
        raise InvalidAttestation(f"{where}: the statement is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise InvalidAttestation(f"{where}: the statement is not an in-toto v1 Statement")
    if not isinstance(statement.get("predicateType"), str):
        raise InvalidAttestation(f"{where}: the statement has no predicateType")
    return statement


def _check_subject(statement: dict[str, Any], filename: str, sha256: str, where: str) -> None:
    """Check that the statement is about this very file: its name and its sha256."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise InvalidAttestation(f"{where}: the statement must have exactly one subject")
    subject = subjects[0]
    digest = subject.get("digest")
    stated = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(stated, str) or stated.lower() != sha256:
        raise InvalidAttestation(
            f"{where}: its subject's sha256 ({str(stated)[:64]}) is not the file's ({sha256})"
        )
    name = subject.get("name")
    if not isinstance(name, str) or not _same_file(name, filename):
        raise InvalidAttestation(
            f"{where}: its subject is {str(name)[:200]!r}, not the uploaded file {filename!r}"
        )


def _same_file(name: str, filename: str) -> bool:
    """Say whether a subject names the file (any spelling pryv treats as the same filename)."""
    if name == filename:
        return True
    try:
        return parse_filename(name).identity == parse_filename(filename).identity
    except InvalidFilename:
        return False


def _check_signature(certificate: bytes, signature: bytes, statement: bytes, where: str) -> None:
    """Verify the DSSE signature over the statement with the certificate's public key."""
    try:
        key = x509.load_der_x509_certificate(certificate).public_key()
    except ValueError:
        raise InvalidAttestation(
            f"{where}: the certificate is not a DER X.509 certificate"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _CURVE_HASHES:
        raise InvalidAttestation(
            f"{where}: the certificate's key is not an ECDSA P-256/384/521 key"
        )
    try:
        key.verify(signature, pae(statement), ec.ECDSA(_CURVE_HASHES[key.curve.name]()))
    except InvalidSignature:
        raise InvalidAttestation(
            f"{where}: the signature does not verify with the certificate's key"
        ) from None


def pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """Return DSSE's pre-authentication encoding of an in-toto payload: what is signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
