"""Whether first-run setup is over, remembered in storage so that it never reopens.

The marker :data:`~pryv_server.core.layout.SETUP_MARKER` lives in the projects store (shared
by every worker and instance). It is written by the one setup that wins (create-if-absent) or,
for servers whose users were added with ``pryv user add``, as soon as a request or a start sees
users. Once it exists, a users file that is missing or holds ``{}`` is an error (503), never
an open setup.
"""

from __future__ import annotations

import io
import json
import logging
import time

from pryv_server.core.layout import SETUP_MARKER
from pryv_server.errors import NotFound
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.web.services import Services

log = logging.getLogger(__name__)


def setup_closed(services: Services) -> bool:
    """Say whether setup is over: the marker exists, or users do (the marker is then written)."""
    records = services.registry.records
    try:
        records.stat(SETUP_MARKER)
        return True
    except ObjectNotFound:
        pass
    if not services.users.usernames():
        return False
    try:
        records.write(SETUP_MARKER, io.BytesIO(_marker("")))
    except ObjectExists:
        pass
    return True


def check_users_present(services: Services) -> None:
    """Refuse with a 503 when setup is over but the users file is missing or empty.

    :raises StorageError: logged with the file's name; never reopens setup.
    """
    if not setup_closed(services):
        return
    log.error(
        "the users file %s is missing or holds no user, but this server has had users "
        "(%s exists): setup stays closed; restore the file or add a user with pryv user add",
        services.settings.htpasswd_path or services.settings.users_path,
        SETUP_MARKER,
    )
    raise StorageError("the users file is missing or empty")


def _marker(username: str) -> bytes:
    return json.dumps({"user": username, "time": time.time()}).encode() + b"\n"


def claim(services: Services, username: str) -> None:
    """Create the marker for ``username``; only one setup ever succeeds.

    :raises NotFound: another setup (or a user added meanwhile) closed it first.
    """
    try:
        services.registry.records.write(SETUP_MARKER, io.BytesIO(_marker(username)))
    except ObjectExists:
        raise NotFound("setup is done: this server already has users") from None
