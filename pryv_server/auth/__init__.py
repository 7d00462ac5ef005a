"""Users: the users.json and .htpasswd stores, password hashing and the verification cache."""

from pryv_server.auth.cache import CachedVerifier
from pryv_server.auth.source import FileSource
from pryv_server.auth.source import LocalFileSource
from pryv_server.auth.stores import HtpasswdUserStore
from pryv_server.auth.stores import JsonUserStore
from pryv_server.auth.stores import UserStore
from pryv_server.auth.stores import validate_username

__all__ = [
    "CachedVerifier",
    "FileSource",
    "HtpasswdUserStore",
    "JsonUserStore",
    "LocalFileSource",
    "UserStore",
    "validate_username",
]
