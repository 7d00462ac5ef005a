"""``GET /metrics``: what the server does, in Prometheus' text format (prometheus-client).

Measured:

* ``pryv_http_requests_total{route,method,status}`` and the latency histogram
  ``pryv_http_request_duration_seconds{route}``, recorded when each response is closed (the access
  log's moment, so a download counts until its last byte; the fast path of cached simple pages
  included), by route *pattern* (``/simple/<project>/``), never by path, and by a method HTTP
  defines (any other is ``other``): a client cannot grow the number of series;
* ``pryv_uploads_total{result}`` (``stored``, ``existing``) and ``pryv_upload_bytes_total``;
* ``pryv_page_cache_total{result}`` (``hit``, ``miss``): rendered simple pages and JSON documents;
* ``pryv_index_reload_seconds``: how long relisting the records took;
* ``pryv_projects`` and ``pryv_files``: read from the snapshot when scraped.

**Several worker processes.** ``pryv start`` runs gunicorn workers; each counts on its own. It sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh folder before the app is built, so prometheus-client keeps
every worker's values in files there and a scrape answered by any worker adds them all up
(``MultiProcessCollector``). Without the variable (tests, ``flask run``), one process's registry
answers.

**Who may read it**: a request with ``Authorization: Bearer <[metrics] token>`` (a metrics-only
credential for Prometheus), or a user that :func:`may_read_metrics` allows.

**A listening address of its own** (``[metrics] address``): :func:`standalone_app` answers
``/metrics`` alone there, with the token when one is set and to anyone who reaches the address
otherwise (no user logs in there). ``pryv start`` serves it from a thread of its main process
(:mod:`pryv_server.metrics_server`), which adds up the workers' files like any worker would: a
scrape is answered even while every worker is busy.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flask import Blueprint
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from pryv_server.auth import Identity
from pryv_server.core.catalog import Snapshot
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import PermissionDenied
from pryv_server.web.errors import plain_response
from pryv_server.web.services import Services
from pryv_server.web.services import get_services

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

blueprint = Blueprint("metrics", __name__)

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The methods counted by name (RFC 9110 and PATCH); any other is ``other``.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
# Seconds: from a cached page (~100 µs) to a large download.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)


class Metrics:
    """The metrics of one app, in a registry of its own (tests build many apps)."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot = snapshot
        self.requests = Counter(
            "pryv_http_requests",
            "HTTP requests answered, by route pattern, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "pryv_http_request_duration_seconds",
            "Time from a request's arrival until its response was closed.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.uploads = Counter(
            "pryv_uploads", "Uploads accepted (stored, or already stored).", ("result",),
            registry=self.registry,
        )  # fmt: skip
        self.upload_bytes = Counter(
            "pryv_upload_bytes", "Bytes of files newly stored by uploads.", registry=self.registry
        )
        self.page_cache = Counter(
            "pryv_page_cache", "Rendered pages answered from the cache, or rendered.", ("result",),
            registry=self.registry,
        )  # fmt: skip
        self.reloads = Histogram(
            "pryv_index_reload_seconds", "Time to relist the records into a new snapshot.",
            registry=self.registry,
        )  # fmt: skip
        self._page_hits = self.page_cache.labels("hit")
        self._page_misses = self.page_cache.labels("miss")
        self._series: dict[tuple[str, str, int | None], tuple[Counter, Histogram]] = {}
        self.registry.register(_Sizes(snapshot))

    def observe_request(self, route: str, method: str, status: int | None, seconds: float) -> None:
        """Count one finished request (called by the access log middleware).

        A method HTTP does not define is counted as ``other``: the client chooses it, and every
        label value is a series kept for good. The labelled children are kept in a plain dict,
        because ``labels()`` validates and locks on every call (4.5 of 10 µs per request).
        """
        if method not in HTTP_METHODS:
            method = "other"
        series = self._series.get((route, method, status))
        if series is None:
            count = self.requests.labels(route, method, str(status or 0))
            series = self._series.setdefault(
                (route, method, status), (count, self.latency.labels(route))
            )
        series[0].inc()
        series[1].observe(seconds)

    def uploaded(self, size: int, created: bool) -> None:
        """Count one accepted upload."""
        self.uploads.labels("stored" if created else "existing").inc()
        if created:
            self.upload_bytes.inc(size)

    def page(self, hit: bool) -> None:
        """Count a rendered page answered from the cache (or rendered)."""
        (self._page_hits if hit else self._page_misses).inc()

    def index_reloaded(self, seconds: float) -> None:
        """Record how long a relist of the records took (the catalog calls this)."""
        self.reloads.observe(seconds)

    def exposition(self) -> bytes:
        """Render every metric, all worker processes together when there are several."""
        if not os.environ.get(MULTIPROC_VARIABLE):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_Sizes(self.snapshot))
        return generate_latest(registry)


class _Sizes(Collector):
    """``pryv_projects`` and ``pryv_files``, read from the current snapshot at each scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        current = self.snapshot()
        yield GaugeMetricFamily(
            "pryv_projects", "Projects with at least one file.", len(current.by_project)
        )
        yield GaugeMetricFamily(
            "pryv_files", "Files published and not deleted.", len(current.by_filename)
        )


def may_read_metrics(identity: Identity) -> bool:
    """Say whether a logged-in user may read ``/metrics``.

    An admin (by password, not through an API token), or, without a permissions file, every
    user (who may read every page anyway).
    """
    policy = get_services().access.policy()
    if not policy.configured:
        return not identity.anonymous
    return identity.token is None and policy.role(identity.name) == "admin"


@blueprint.get("/metrics")
def metrics() -> Response:
    """Answer Prometheus' scrape: a metrics token, or a user :func:`may_read_metrics` allows."""
    services = get_services()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        if not token_matches(header, services.settings.metrics_token):
            raise AuthenticationRequired("the metrics token is wrong")
    else:
        identity = services.authenticator.basic(header or None, request.remote_addr or "")
        if not may_read_metrics(identity):
            raise PermissionDenied("only an admin or the metrics token may read /metrics")
    body = services.metrics.exposition()
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def token_matches(header: str, token: str | None) -> bool:
    """Say whether an ``Authorization`` header carries the metrics token (constant time)."""
    bearer = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    if bearer is None or token is None:
        return False
    return hmac.compare_digest(bearer.encode(), token.encode())


def standalone_app(services: Services) -> WSGIApplication:
    """Return the WSGI app of ``[metrics] address``: ``GET /metrics`` and nothing else.

    Guarded by the metrics token when one is configured; otherwise open to whoever can reach
    the address (bind it to an interface only Prometheus reaches).
    """
    token = services.settings.metrics_token

    @Request.application
    def answer(request: Request) -> Response:
        if request.path != "/metrics":
            return plain_response(404, f"only /metrics is served here, not {request.path[:100]}")
        if request.method not in ("GET", "HEAD"):
            return plain_response(405, "/metrics answers GET only")
        if token is not None and not token_matches(request.headers.get("Authorization", ""), token):
            refused = plain_response(401, "send the metrics token: Authorization: Bearer <token>")
            refused.headers["WWW-Authenticate"] = 'Bearer realm="pryv-metrics"'
            return refused
        return Response(services.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    return answer
