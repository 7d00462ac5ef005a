"""Every storage key pryv reads or writes, spelled in one place.

pryv keeps two stores (``projects-path`` and ``packages-path``; they may be one and the same).
A store moves bytes under string keys and knows nothing of what they mean; this module is where
a key gets its meaning. "Where does an upload go?" is answered here::

    projects store: small records, read by core/catalog.py      written by        how
    ├── <project>/<identity>.json            package record       core/publish.py   once (1)
    ├── _generation                          generation marker    core/catalog.py   replaced
    ├── _journal/<seq:016d>.json             one catalog change   core/journal.py   once (1)
    ├── _checkpoint/<seq:016d>.json          catalog checkpoint   core/checkpoints  once (1)
    ├── _checkpoint/<seq:016d>.claim         who writes it        core/checkpoints  once (1)
    ├── _checkpoint-parts/<sha256>.json      its records          core/checkpoints  once (1)
    ├── _yank/<project>/<release>.json       release yank         core/registry.py  replaced
    ├── _yank/<project>/<release>/<id>.json  file yank            core/registry.py  replaced
    ├── _metadata/<project>/<identity>.json  backfilled metadata  core/registry.py  once (1)
    ├── _status/<project>.json               PEP 792 status       core/lifecycle.py replaced
    ├── _tombstone/<project>/<identity>.json a deleted file       core/lifecycle.py once (1)
    ├── _sdist/<project>/<release>           a release's sdist    core/publish.py   once (1)
    ├── _tokens/<id>.json                    an API token         core/tokens.py    once (1), (3)
    ├── _token-used/<id>                     its last use         core/tokens.py    replaced
    ├── _roles/<project>/<g>.json            a project role       core/project_roles replaced (4)
    ├── _claims/<project>                    its first owner      core/project_roles once (1)
    ├── _upstream-controls/<project>/<k>.json  k: block|pin|purge  core/upstream_controls (5)
    ├── _setup-done                          setup is over        web/explorer/     once (1)
    ├── _sessions/<sha256 of name>.json      last logout          web/explorer/     replaced
    ├── _health                              health probe         web/health.py     replaced
    └── _conditional-write-probe             S3 If-None-Match     storage/s3.py     once (1)
    packages store: content-addressed blobs, d = sha256 of the bytes
    ├── <d[:2]>/<d[2:4]>/<d>/<filename>            an uploaded file     core/publish.py  once (1)
    ├── <d[:2]>/<d[2:4]>/<d>/<filename>.metadata   its core metadata    core/publish.py  once (1)
    ├── <d[:2]>/<d[2:4]>/<d>/provenance-<p>.json   its provenance (6)   core/publish.py  once (1)
    ├── descriptions/<r[:2]>/<r[2:4]>/<r>.json     rendered description core/descriptions.py (2)
    ├── _upstream/<project>.json                   cached upstream page core/mirror.py   replaced
    ├── _upstream/fetching/<d>                     first download lease core/fetch.py    once (1)
    ├── _audit/<YYYY-MM-DD>/<time>-<rand>.json      one audit event      core/audit.py    once (1)
    └── _health                                    health probe         web/health.py    replaced

    Files fetched from an upstream index (core/mirror.py) are stored like uploads, under the
    same content-addressed keys (``<d…>/<filename>`` and its ``.metadata``), once (1), after
    their sha256 matched the upstream page's.

    (1) create-if-absent: of two concurrent writers exactly one wins, the other sees it exists.
    (2) once, keyed by r = sha256 of the renderer version, content type and the text's sha256 (the
        one part of a package record the catalog keeps in place of the text).
    (3) then changed only by a conditional replace (revocation): no update is ever lost.
    (4) g = sha256 of the grantee (a user or @group); one object per grant, conditional replace.
    (5) block, pin: created if absent, deleted to lift; purge: its last time, conditional replace.
    (6) PEP 740, p = sha256 of the provenance object itself: two uploads of one file with different
        attestations never overwrite each other's; the file's record names the one that won.

A package record is the only key of the projects store without a leading ``_`` and with exactly one
``/`` ending in ``.json`` (:func:`is_record_key`); every other key there starts with ``_``, so the
catalog's listing never mistakes one for a package. The listing reads records, the overlay kinds
(:func:`is_overlay_key`: yanks, backfilled metadata, statuses and tombstones) and the side records
of the prefixes a store watches (``_tokens/``, ``_roles/``, ``_upstream-controls/``: see
core/side_records.py), and nothing else. A tombstone outlives its file's record, blob and metadata
(deleted after it is written): it hides the record from every reader even before the record is gone,
and its filename can never be published again.

Layering: ``web`` may import this module (it sits above ``core``), so the explorer's setup marker
and session records and the health probe take their keys from here. ``storage`` sits below
``core`` and may not import it: the one key a store writes on its own (the S3 conditional-write
probe, :data:`pryv_server.storage.base.WRITE_PROBE_KEY`) is declared in ``storage/base.py`` and
re-exported here so the tree above stays whole. ``auth`` writes no key of its own: the users
file's location is an option, not a layout key.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from datetime import datetime

from packaging.utils import NormalizedName

from pryv_server.core.names import release_key
from pryv_server.storage.base import WRITE_PROBE_KEY

__all__ = [
    "AUDIT_PREFIX",
    "CLAIMS_PREFIX",
    "DESCRIPTIONS_PREFIX",
    "GENERATION_KEY",
    "HEALTH_PROBE_KEY",
    "METADATA_PREFIX",
    "METADATA_SUFFIX",
    "RESERVED_PREFIX",
    "ROLES_PREFIX",
    "SESSIONS_PREFIX",
    "SETUP_MARKER",
    "STATUS_PREFIX",
    "TOKENS_PREFIX",
    "TOMBSTONE_PREFIX",
    "UPSTREAM_CONTROLS_PREFIX",
    "UPSTREAM_PREFIX",
    "WRITE_PROBE_KEY",
    "YANK_PREFIX",
    "audit_key",
    "backfilled_metadata_key",
    "blob_key",
    "checkpoint_claim_key",
    "checkpoint_key",
    "checkpoint_part_key",
    "checkpoint_seq",
    "core_metadata_key",
    "description_key",
    "file_yank_key",
    "is_blob_key",
    "is_overlay_key",
    "is_record_key",
    "is_upstream_page_key",
    "journal_key",
    "journal_seq",
    "logout_key",
    "overlay_project",
    "project_claim_key",
    "project_role_key",
    "project_status_key",
    "provenance_key",
    "record_key",
    "release_yank_key",
    "sdist_claim_key",
    "token_key",
    "token_used_key",
    "tombstone_key",
    "upstream_control_key",
    "upstream_lease_key",
    "upstream_page_key",
]

RESERVED_PREFIX = "_"  # in the projects store: never a package record
RECORD_SUFFIX = ".json"
CLAIM_SUFFIX = ".claim"
GENERATION_KEY = "_generation"
JOURNAL_PREFIX = "_journal/"
CHECKPOINT_PREFIX = "_checkpoint/"
CHECKPOINT_PARTS_PREFIX = "_checkpoint-parts/"
SEQ_DIGITS = 16  # zero-padded, so keys sort as numbers do (S3 lists in key order)
YANK_PREFIX = "_yank/"
METADATA_PREFIX = "_metadata/"
STATUS_PREFIX = "_status/"
TOMBSTONE_PREFIX = "_tombstone/"
SDIST_CLAIM_PREFIX = "_sdist/"
SETUP_MARKER = "_setup-done"
SESSIONS_PREFIX = "_sessions/"
TOKENS_PREFIX = "_tokens/"
TOKEN_USED_PREFIX = "_token-used/"  # nosec B105 - a key prefix, not a secret
ROLES_PREFIX = "_roles/"
CLAIMS_PREFIX = "_claims/"
UPSTREAM_CONTROLS_PREFIX = "_upstream-controls/"

HEALTH_PROBE_KEY = "_health"
METADATA_SUFFIX = ".metadata"  # PEP 658: the core metadata sits beside the file, same name + suffix
DESCRIPTIONS_PREFIX = "descriptions/"
UPSTREAM_PREFIX = "_upstream/"
AUDIT_PREFIX = "_audit/"


# -- projects store: package records ---------------------------------------------------------


def record_key(project: NormalizedName, identity: str) -> str:
    """Return the key of a file's record: one object per file, written once."""
    return f"{project}/{identity}{RECORD_SUFFIX}"


def is_record_key(key: str) -> bool:
    """Say whether a key holds a package record (``<project>/<identity>.json``)."""
    return (
        key.count("/") == 1 and key.endswith(RECORD_SUFFIX) and not key.startswith(RESERVED_PREFIX)
    )


# -- projects store: overlays (see core/overlays.py for what they hold) ----------------------


def release_yank_key(project: NormalizedName, version: str) -> str:
    """Return the key of the yank record of a whole release."""
    return f"{YANK_PREFIX}{project}/{release_key(version)}{RECORD_SUFFIX}"


def file_yank_key(project: NormalizedName, version: str, identity: str) -> str:
    """Return the key of the yank record of one file."""
    return f"{YANK_PREFIX}{project}/{release_key(version)}/{identity}{RECORD_SUFFIX}"


def backfilled_metadata_key(project: NormalizedName, identity: str) -> str:
    """Return the key of the backfilled metadata record of one file."""
    return f"{METADATA_PREFIX}{project}/{identity}{RECORD_SUFFIX}"


def sdist_claim_key(project: NormalizedName, version: str) -> str:
    """Return the key of the marker naming the one sdist of a release (not read by the index)."""
    return f"{SDIST_CLAIM_PREFIX}{project}/{release_key(version)}"


def project_status_key(project: NormalizedName) -> str:
    """Return the key of a project's PEP 792 status record (absent: ``active``)."""
    return f"{STATUS_PREFIX}{project}{RECORD_SUFFIX}"


def tombstone_key(project: NormalizedName, identity: str) -> str:
    """Return the key of a deleted file's tombstone: its filename is never published again."""
    return f"{TOMBSTONE_PREFIX}{project}/{identity}{RECORD_SUFFIX}"


def is_overlay_key(key: str) -> bool:
    """Say whether ``key`` holds a yank, metadata, status or tombstone record."""
    return key.endswith(RECORD_SUFFIX) and key.startswith(
        (YANK_PREFIX, METADATA_PREFIX, STATUS_PREFIX, TOMBSTONE_PREFIX)
    )


def overlay_project(key: str) -> NormalizedName:
    """Return the project an overlay key belongs to (its first segment after the prefix)."""
    segment = key.partition("/")[2].partition("/")[0]
    if key.startswith(STATUS_PREFIX):
        segment = segment.removesuffix(RECORD_SUFFIX)  # _status/<project>.json
    return NormalizedName(segment)


# -- projects store: the catalog's change journal and checkpoints (core/journal.py) -----------


def journal_key(seq: int) -> str:
    """Return the key of the journal entry number ``seq`` (keys sort in seq order)."""
    return _seq_key(JOURNAL_PREFIX, seq, RECORD_SUFFIX)


def journal_seq(key: str) -> int | None:
    """Return the seq of a journal entry key, or None for any other key."""
    return _seq_of(key, JOURNAL_PREFIX, RECORD_SUFFIX)


def checkpoint_key(seq: int) -> str:
    """Return the key of the manifest of the checkpoint taken at journal entry ``seq``."""
    return _seq_key(CHECKPOINT_PREFIX, seq, RECORD_SUFFIX)


def checkpoint_claim_key(seq: int) -> str:
    """Return the key that one instance creates before writing the checkpoint at ``seq``."""
    return _seq_key(CHECKPOINT_PREFIX, seq, CLAIM_SUFFIX)


def checkpoint_seq(key: str) -> int | None:
    """Return the seq of a checkpoint manifest key, or None for any other key."""
    return _seq_of(key, CHECKPOINT_PREFIX, RECORD_SUFFIX)


def checkpoint_part_key(content: bytes) -> str:
    """Return the content-addressed key of one part of a checkpoint."""
    return f"{CHECKPOINT_PARTS_PREFIX}{hashlib.sha256(content).hexdigest()}{RECORD_SUFFIX}"


def _seq_key(prefix: str, seq: int, suffix: str) -> str:
    return f"{prefix}{seq:0{SEQ_DIGITS}d}{suffix}"


def _seq_of(key: str, prefix: str, suffix: str) -> int | None:
    digits = key.removeprefix(prefix).removesuffix(suffix)
    if len(key) != len(prefix) + SEQ_DIGITS + len(suffix) or not digits.isdigit():
        return None
    return int(digits) if key.startswith(prefix) and key.endswith(suffix) else None


def _name_digest(name: str) -> str:
    """Hash a user or group name into a key segment: any name (``/``, ``..``, any length) fits."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


# -- projects store: the explorer's records ---------------------------------------------------


def logout_key(username: str) -> str:
    """Return the key of a user's last-logout record (the name is hashed: any name is a key)."""
    return f"{SESSIONS_PREFIX}{_name_digest(username)}{RECORD_SUFFIX}"


# -- projects store: API tokens (see core/tokens.py) ------------------------------------------


def token_key(token_id: str) -> str:
    """Return the key of an API token's record (the id is 16 hex digits, checked by the caller)."""
    return f"{TOKENS_PREFIX}{token_id}{RECORD_SUFFIX}"


def token_used_key(token_id: str) -> str:
    """Return the key of the time an API token was last used."""
    return f"{TOKEN_USED_PREFIX}{token_id}"


def project_role_key(project: NormalizedName, grantee: str) -> str:
    """Return the key of one grantee's role in a project (the grantee's name is hashed)."""
    return f"{ROLES_PREFIX}{project}/{_name_digest(grantee)}{RECORD_SUFFIX}"


def project_claim_key(project: NormalizedName) -> str:
    """Return the key naming the first owner of a new project (``uploads = owners``).

    Created if absent by the first upload of the project, before its file is published: of two
    users whose first uploads race, exactly one creates it and owns the project.
    """
    return f"{CLAIMS_PREFIX}{project}"


def upstream_control_key(project: NormalizedName, kind: str) -> str:
    """Return the key of an admin's block, pin or last purge of an upstream name."""
    return f"{UPSTREAM_CONTROLS_PREFIX}{project}/{kind}{RECORD_SUFFIX}"


# -- packages store: blobs --------------------------------------------------------------------


def _fan_out(digest: str) -> str:
    """Spread keys over 65536 prefixes (few entries per directory, S3 partitions by prefix)."""
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


# A blob, its core metadata, or a rendered description: what ``pryv gc`` may collect.
_BLOB = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}/[^/]+")
_DESCRIPTION = re.compile(
    re.escape(DESCRIPTIONS_PREFIX) + r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.json"
)


def is_blob_key(key: str) -> bool:
    """Say whether ``key`` of the packages store holds a file, its metadata or a description.

    The two stores may be one: everything else there (records, markers) is never a blob.
    """
    return bool(_BLOB.fullmatch(key) or _DESCRIPTION.fullmatch(key))


def blob_key(sha256: str, filename: str) -> str:
    """Return where an uploaded file's bytes land: content-addressed, so written once."""
    return f"{_fan_out(sha256)}/{filename}"


def core_metadata_key(blob: str) -> str:
    """Return the key of a file's extracted core metadata, beside the file (PEP 658)."""
    return f"{blob}{METADATA_SUFFIX}"


def provenance_key(sha256: str, digest: str) -> str:
    """Return the key of a file's PEP 740 provenance object (``digest``: the object's sha256)."""
    return f"{_fan_out(sha256)}/provenance-{digest}{RECORD_SUFFIX}"


def upstream_page_key(project: NormalizedName) -> str:
    """Return the key of an upstream project page kept by the caching proxy (shared by workers)."""
    return f"{UPSTREAM_PREFIX}{project}{RECORD_SUFFIX}"


def is_upstream_page_key(key: str) -> bool:
    """Say whether ``key`` (of the packages store) holds a cached upstream page."""
    return key.startswith(UPSTREAM_PREFIX) and key.endswith(RECORD_SUFFIX) and key.count("/") == 1


def upstream_lease_key(sha256: str) -> str:
    """Return the marker of an upstream file being fetched by one process (others wait)."""
    return f"{UPSTREAM_PREFIX}fetching/{sha256}"


def description_key(digest: str) -> str:
    """Return the key of a rendered description, by the digest of what it is rendered from."""
    return f"{DESCRIPTIONS_PREFIX}{_fan_out(digest)}{RECORD_SUFFIX}"


def audit_key(moment: datetime, suffix: str) -> str:
    """Return the key of an audit event: by day, then time (sorted keys are in time order)."""
    utc = moment.astimezone(UTC)
    return f"{AUDIT_PREFIX}{utc:%Y-%m-%d}/{utc:%H%M%S%f}-{suffix}{RECORD_SUFFIX}"
