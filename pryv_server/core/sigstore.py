"""``[provenance] verify = sigstore``: check an attestation as Sigstore does, offline.

With the optional ``pypi-attestations`` library (``pip install "pryv[sigstore]"``), which PyPI
itself uses, each attestation is verified against the trust root that ``sigstore`` bundles, with
no network (``offline=True``): the certificate chains to Sigstore's certificate authority
(Fulcio) and was valid when the signature was made, the signature is in Sigstore's
transparency log (Rekor; the entry's inclusion proof or promise is checked with the log's key),
the signature verifies, and the statement's one subject is this file (name and sha256).

What it does not check is *who* signed: the identity in the certificate (a GitHub workflow,
say) is accepted whatever it is, since pryv knows no Trusted Publisher to expect; a consumer
checks it against the identity it trusts. And the bundled trust root ages: an attestation
signed with keys Sigstore introduced after the installed ``sigstore`` release is refused until
``sigstore`` is upgraded (that is what keeps it offline).

The library is imported only when the option is on (a pryv without it starts, and the option
is refused at start, see ``config_values``), by :func:`load` when the registry is built: it takes
seconds, which ``pryv start`` spends once in gunicorn's master rather than in each worker's
first attested upload.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.x509 import Certificate

from pryv_server.errors import InvalidAttestation

# sigstore warns at every load of its trust root in offline mode, which pryv always asks for.
logging.getLogger("sigstore._internal.tuf").setLevel(logging.ERROR)


class AnyIdentity:
    """A Sigstore verification policy that accepts any signing identity (see the docstring)."""

    def verify(self, cert: Certificate) -> None:
        """Accept the certificate's identity: pryv has none to expect."""


def load() -> None:
    """Import the library now (``pryv start`` does it before the workers fork)."""
    import pypi_attestations  # noqa: F401


def verify(attestation: dict[str, Any], filename: str, sha256: str, where: str) -> None:
    """Verify one attestation of the file ``filename`` (``sha256``) with Sigstore, offline.

    :raises InvalidAttestation: one line naming what Sigstore refused.
    """
    from pypi_attestations import Attestation
    from pypi_attestations import AttestationError
    from pypi_attestations import Distribution

    try:
        parsed = Attestation.model_validate(attestation)
        parsed.verify(AnyIdentity(), Distribution(name=filename, digest=sha256), offline=True)
    except (ValueError, AttestationError) as error:
        reason = " ".join(str(error).split())[:300]
        raise InvalidAttestation(f"{where}: not verified by Sigstore: {reason}") from None
