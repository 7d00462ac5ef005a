"""Who is asking: the authenticator, the login limiter, the user stores, the check cache."""

from pryv_server.auth.authenticator import Authenticator
from pryv_server.auth.cache import CachedVerifier
from pryv_server.auth.identity import ANONYMOUS
from pryv_server.auth.identity import TOKEN_ROLES
from pryv_server.auth.identity import TOKEN_USERNAME
from pryv_server.auth.identity import Identity
from pryv_server.auth.identity import TokenGrant
from pryv_server.auth.identity import TokenVerifier
from pryv_server.auth.ratelimit import LoginLimiter
from pryv_server.auth.source import FileSource
from pryv_server.auth.source import LocalFileSource
from pryv_server.auth.stores import HtpasswdUserStore
from pryv_server.auth.stores import JsonUserStore
from pryv_server.auth.stores import UserStore
from pryv_server.auth.stores import validate_username

__all__ = [
    "ANONYMOUS",
    "TOKEN_ROLES",
    "TOKEN_USERNAME",
    "Authenticator",
    "CachedVerifier",
    "FileSource",
    "HtpasswdUserStore",
    "Identity",
    "JsonUserStore",
    "LocalFileSource",
    "LoginLimiter",
    "TokenGrant",
    "TokenVerifier",
    "UserStore",
    "validate_username",
]
