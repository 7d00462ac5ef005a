"""Every error pryv raises, as one tree under :class:`PryvError`.

Core and storage raise these and never know HTTP; ``web/errors.py`` maps them to status codes::

    PryvError
    ├── ConfigError                 startup only: a bad option or file, named in the message
    ├── StorageError                the store failed (503)
    │   ├── ObjectNotFound          no object under that key
    │   ├── ObjectExists            create-if-absent lost: the key already exists
    │   ├── ObjectChanged           a conditional replace lost: the object changed meanwhile
    │   └── StorageFull             no space left on the device (507)
    ├── AuthenticationRequired      no or wrong credentials (401)
    ├── TooManyLoginAttempts        too many failed logins for a user or address (429)
    ├── PermissionDenied            authenticated, but not allowed (403)
    │   └── UpstreamBlocked         an admin blocked this name from upstream
    ├── NotFound                    (404)
    │   ├── ProjectNotFound
    │   └── PackageNotFound
    ├── NotAcceptable               no representation the client accepts (406, PEP 691)
    ├── InvalidRequest              a request other than an upload lacks or garbles a field (400)
    ├── InvalidUpload               the upload is refused, nothing was stored (400)
    │   ├── InvalidFilename
    │   ├── InvalidDistribution     not a readable wheel/sdist, or no METADATA/PKG-INFO
    │   ├── InvalidMetadata         every metadata problem gathered in one message
    │   ├── DigestMismatch
    │   ├── ProjectClosed           the project is archived or quarantined (PEP 792)
    │   ├── FilenameDeleted         a deleted file's name, never usable again
    │   └── InvalidAttestation      a PEP 740 attestation is malformed or not about this file
    ├── UploadTooLarge              over the configured maximum upload size (413)
    ├── DistributionExists          other bytes already published under that filename (409)
    ├── NamespaceReserved           a new project under a reserved prefix, without a grant (409)
    ├── UserExists                  a user of that name is already configured
    ├── UserNotFound                no user of that name is configured
    └── UpstreamError               the upstream index failed or timed out (502)
        └── UpstreamMismatch        an upstream file does not match the hash its page gave

Messages are one line a human can act on: they say what was wrong and, where it helps, what to do.
"""

from __future__ import annotations


class PryvError(Exception):
    """Base class of every error pryv raises on purpose."""


class ConfigError(PryvError):
    """The configuration is missing, unreadable or invalid; raised at start, never per request."""


class StorageError(PryvError):
    """The storage backend failed (I/O error, network, permissions)."""


class ObjectNotFound(StorageError):
    """No object is stored under the requested key."""


class ObjectExists(StorageError):
    """A create-if-absent write found the key already taken."""


class ObjectChanged(StorageError):
    """A conditional replace found another version than the one it was based on; nothing written.

    The caller reads the object again, reapplies its change and retries, so no update is lost.
    """


class StorageFull(StorageError):
    """The store has no space left (ENOSPC, EDQUOT); nothing half-written was kept."""


class AuthenticationRequired(PryvError):
    """The request carries no valid credentials."""


class TooManyLoginAttempts(PryvError):
    """Too many failed logins for this user or client address; retry after ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(PryvError):
    """The user is known but may not do this."""


class NotFound(PryvError):
    """The requested project, release or file does not exist."""


class ProjectNotFound(NotFound):
    """No project has this (normalized) name."""


class PackageNotFound(NotFound):
    """No distribution file has this name."""


class NotAcceptable(PryvError):
    """The client accepts none of the formats pryv can answer with (PEP 691 negotiation)."""


class InvalidRequest(PryvError):
    """A request (other than an upload) is missing a field or has an invalid one."""


class InvalidUpload(PryvError):
    """The upload is refused; nothing was stored."""


class InvalidAttestation(InvalidUpload):
    """An attestation sent with an upload is malformed, unsigned or about another file (PEP 740)."""


class InvalidFilename(InvalidUpload):
    """The filename is not a valid wheel or sdist name, or disagrees with the metadata."""


class InvalidDistribution(InvalidUpload):
    """The file is not a readable distribution archive."""


class InvalidMetadata(InvalidUpload):
    """The core metadata is missing fields or has invalid values."""


class DigestMismatch(InvalidUpload):
    """A digest sent with the upload does not match the bytes received."""


class ProjectClosed(InvalidUpload):
    """The project is archived or quarantined (PEP 792): it takes no new files."""


class FilenameDeleted(InvalidUpload):
    """A file of this name was deleted: the name can never be used again (PyPI's rule)."""


class UploadTooLarge(PryvError):
    """The upload is larger than the configured maximum."""


class DistributionExists(PryvError):
    """Different bytes were already published under this filename; files are never overwritten."""


class NamespaceReserved(PryvError):
    """A new project's name falls under a prefix reserved for others (PEP 752)."""


class UserExists(PryvError):
    """A user with this name already exists in the users file."""


class UserNotFound(PryvError):
    """No user with this name exists in the users file."""


class UpstreamError(PryvError):
    """The upstream index (``[upstream] url``) failed, timed out or answered nonsense.

    Answered ``502`` with the reason, never ``404``: a 404 would let a client move on to another
    index, which is how dependency confusion starts.
    """


class UpstreamMismatch(UpstreamError):
    """An upstream file or core metadata does not match the sha256 of its page; nothing was kept."""


class UpstreamBlocked(PermissionDenied):
    """An admin blocked this name from upstream (``403``, so no client moves on to PyPI)."""
