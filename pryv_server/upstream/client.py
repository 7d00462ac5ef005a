"""An upstream simple index over HTTP: its project pages (PEP 691 JSON) and its files.

``requests`` does the HTTP: connection pooling, proxies from the environment, and credentials
from a ``netrc`` file for the index's host when none are given. Explicit credentials (from the
environment, see :meth:`HttpIndex.from_environment`) are only ever sent to the index's own host,
never to the host that serves the files (``files.pythonhosted.org`` for PyPI).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests

from pryv_server.errors import UpstreamError

JSON_V1 = "application/vnd.pypi.simple.v1+json"
USER_VARIABLE = "PRYV_UPSTREAM_USERNAME"
PASSWORD_VARIABLE = "PRYV_UPSTREAM_PASSWORD"  # nosec B105
CHUNK = 256 * 1024
# A core metadata file is a few kilobytes; anything this large is not one.
MAX_SMALL_FILE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpPage:
    """A project page as upstream sent it, its file URLs made absolute."""

    url: str
    document: dict[str, Any]


class HttpDownload:
    """An upstream file being read: its announced length and its bytes, in chunks."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        length = response.headers.get("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    def chunks(self) -> Iterator[bytes]:
        """Yield the body; a network failure or timeout midway raises UpstreamError."""
        try:
            yield from self._response.iter_content(CHUNK)
        except requests.RequestException as error:
            raise UpstreamError(f"the upstream download broke off: {_reason(error)}") from None

    def close(self) -> None:
        """Give the connection back (or drop it, when the body was not read to its end)."""
        self._response.close()


class HttpIndex:
    """A PEP 691 simple index at ``url`` (ending in ``/``), read with one timeout per request."""

    def __init__(
        self, url: str, *, timeout: float, credentials: tuple[str, str] | None = None
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._credentials = credentials
        self._host = urlsplit(url).netloc.rpartition("@")[2].lower()
        self._local = threading.local()
        self._pid = os.getpid()

    @classmethod
    def from_environment(
        cls, url: str, *, timeout: float, environ: Mapping[str, str] | None = None
    ) -> HttpIndex:
        """Build the client with ``$PRYV_UPSTREAM_USERNAME``/``_PASSWORD`` when both are set."""
        environ = os.environ if environ is None else environ
        user, password = environ.get(USER_VARIABLE), environ.get(PASSWORD_VARIABLE)
        credentials = (user, password) if user and password else None
        return cls(url, timeout=timeout, credentials=credentials)

    def project_page(self, name: str) -> HttpPage | None:
        """Return the JSON page of the normalized ``name``, or None when upstream has no such name.

        :raises UpstreamError: upstream failed, timed out, or sent something that is not PEP 691.
        """
        url = urljoin(self.url, quote(name) + "/")
        response = self._get(url, accept=JSON_V1)
        with response:
            if response.status_code == 404:
                return None
            _check(response, url)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type != JSON_V1:
                raise UpstreamError(f"{url} answered {content_type or 'no type'}, not PEP 691 JSON")
            try:
                document = response.json()
            except ValueError:
                raise UpstreamError(f"{url} answered JSON that does not parse") from None
        if not isinstance(document, dict) or not isinstance(document.get("files"), list):
            raise UpstreamError(f"{url} answered a JSON document without a list of files")
        final = response.url or url
        for entry in document["files"]:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                entry["url"] = urljoin(final, entry["url"])
        return HttpPage(final, document)

    def open(self, url: str) -> HttpDownload:
        """Start reading the file at ``url`` (absolute, from a page).

        :raises UpstreamError: upstream failed or timed out.
        """
        response = self._get(url, stream=True)
        try:
            _check(response, url)
        except UpstreamError:
            response.close()
            raise
        return HttpDownload(response)

    def read_small(self, url: str) -> bytes:
        """Return the whole body of a small file (a core metadata file).

        :raises UpstreamError: upstream failed, timed out, or the body is too large.
        """
        download = self.open(url)
        try:
            body = bytearray()
            for chunk in download.chunks():
                body += chunk
                if len(body) > MAX_SMALL_FILE:
                    raise UpstreamError(f"{url} is larger than a core metadata file can be")
            return bytes(body)
        finally:
            download.close()

    def _get(
        self, url: str, *, accept: str | None = None, stream: bool = False
    ) -> requests.Response:
        headers = {"Accept": accept} if accept else {}
        auth = self._credentials if self._same_host(url) else None
        try:
            return self._session().get(
                url, headers=headers, auth=auth, timeout=self.timeout, stream=stream
            )
        except requests.RequestException as error:
            raise UpstreamError(f"{url} did not answer: {_reason(error)}") from None

    def _same_host(self, url: str) -> bool:
        return urlsplit(url).netloc.rpartition("@")[2].lower() == self._host

    def _session(self) -> requests.Session:
        """One session per thread and process (``pryv start`` forks after building the app)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None or self._pid != os.getpid():
            self._pid = os.getpid()
            session = self._local.session = requests.Session()
        return session


def _check(response: requests.Response, url: str) -> None:
    if response.status_code >= 400 or response.status_code < 200:
        status = f"{response.status_code} {response.reason or ''}".strip()
        raise UpstreamError(f"{url} answered {status}")


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    return type(error).__name__ + (f" ({error.__context__})" if error.__context__ else "")
