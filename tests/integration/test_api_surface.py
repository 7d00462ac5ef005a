"""The API surface is one parent blueprint: every route under it is guarded the same way."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.web.api import sessionless_prefixes
from tests.credentials import basic

# Routes allowed outside the API parent, by endpoint prefix: the explorer, Flask's static files,
# the health check load balancers call without credentials, and /metrics, which takes a
# metrics-only bearer token besides Basic credentials (tests/integration/test_metrics.py).
OUTSIDE = ("explorer.", "static", "health.", "metrics.")


def _api_routes(app: Flask) -> list[tuple[str, str]]:
    """Every (method, URL) pair the API serves, with variables filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(OUTSIDE):
            continue
        assert rule.endpoint.startswith("api."), f"{rule.rule} is outside the API parent"
        url = rule.rule.replace("<path:filename>", "demo-1.0.tar.gz")
        url = url.replace("<filename>", "demo-1.0.tar.gz")
        url = url.replace("<project>", "demo").replace("<version>", "1.0")
        routes += [
            (method, url) for method in sorted(rule.methods or ()) if method in {"GET", "POST"}
        ]
    return routes


def test_every_api_route_asks_for_basic_credentials(settings: Settings) -> None:
    # More routes than failed logins allowed per window: the limiter is off here.
    app = create_app(settings.replace(login_attempts=0))
    client = app.test_client()
    routes = _api_routes(app)
    assert ("POST", "/") in routes
    assert ("GET", "/simple/demo/") in routes
    for n, (method, url) in enumerate(routes):
        # One user and address each: more routes than login-attempts must not meet the limiter.
        response = client.open(
            url,
            method=method,
            headers=basic(f"alice{n}", "wrong"),
            environ_base={"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"},
        )
        assert response.status_code == 401, (method, url)
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="pryv"')
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_state_changing_api_route_refuses_other_sites(
    app: Flask, client: FlaskClient
) -> None:
    for method, url in _api_routes(app):
        if method == "POST":
            response = client.post(url, headers=basic() | {"Sec-Fetch-Site": "cross-site"})
            assert response.status_code == 403, url


def test_every_api_post_is_exempt_from_csrf(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = True
    for method, url in _api_routes(app):
        if method == "POST":
            # A CSRF refusal would be a 400 before the view; the views answer 400 with a reason.
            response = client.post(url, headers=basic(), data={})
            assert b"CSRF" not in response.data, url


def test_the_api_and_health_paths_open_no_session(app: Flask) -> None:
    prefixes = sessionless_prefixes(app)
    for path in ["/simple/", "/simple/demo/", "/packages/x.whl", "/pypi/demo/json", "/health"]:
        assert path.startswith(prefixes), path
    for path in ["/", "/projects", "/login", "/project/demo/", "/static/pryv.css"]:
        assert not path.startswith(prefixes), path
