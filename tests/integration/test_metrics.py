"""``/metrics``: Prometheus' text format, parsed by prometheus-client's own parser."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from pryv_server.app import create_app
from pryv_server.web.metrics import standalone_app
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload


def scrape(client: FlaskClient, headers: dict[str, str]) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_requests_uploads_pages_and_sizes(
    client: FlaskClient, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with post_upload(client, wheel) as response:
        assert response.status_code == 200
    for _ in range(3):
        with client.get("/simple/demo/", headers=basic()) as response:  # closed: counted
            assert response.status_code == 200
    with client.get("/simple/nope/", headers=basic()) as response:
        assert response.status_code == 404
    samples = scrape(client, basic())
    assert samples[("pryv_uploads_total", (("result", "stored"),))] == 1
    assert samples[("pryv_upload_bytes_total", ())] == wheel.stat().st_size
    route = (("method", "GET"), ("route", "/simple/<project>/"), ("status", "200"))
    assert samples[("pryv_http_requests_total", route)] == 3
    missing = (("method", "GET"), ("route", "/simple/<project>/"), ("status", "404"))
    assert samples[("pryv_http_requests_total", missing)] == 1
    upload = (("method", "POST"), ("route", "/simple/"), ("status", "200"))
    assert samples[("pryv_http_requests_total", upload)] == 1
    latency = (("le", "+Inf"), ("route", "/simple/<project>/"))
    assert samples[("pryv_http_request_duration_seconds_bucket", latency)] == 4
    assert samples[("pryv_page_cache_total", (("result", "miss"),))] >= 1
    assert samples[("pryv_page_cache_total", (("result", "hit"),))] >= 2
    assert samples[("pryv_index_reload_seconds_count", ())] >= 1
    assert samples[("pryv_projects", ())] == 1
    assert samples[("pryv_files", ())] == 1


def test_metrics_need_a_user_or_the_metrics_token(app: Flask) -> None:
    settings = app.extensions["pryv"].settings.replace(metrics_token="m" * 32)
    client = create_app(settings).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    samples = scrape(client, {"Authorization": f"Bearer {'m' * 32}"})
    assert samples[("pryv_files", ())] == 0
    without_token = app.test_client()
    assert without_token.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 401


def test_the_metrics_address_app_serves_metrics_alone(app: Flask, tmp_path: Path) -> None:
    """``[metrics] address``: /metrics only, open without a token, guarded with one."""
    open_app = Client(standalone_app(app.extensions["pryv"]))
    post_upload(app.test_client(), make_wheel(tmp_path, "demo", "1.0")).close()
    response = open_app.get("/metrics")
    assert response.status_code == 200
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert found["pryv_files"] == 1
    assert open_app.get("/simple/").status_code == 404
    assert open_app.post("/metrics").status_code == 405

    settings = app.extensions["pryv"].settings.replace(metrics_token="m" * 32)
    guarded = Client(standalone_app(create_app(settings).extensions["pryv"]))
    refused = guarded.get("/metrics", headers=basic())
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = guarded.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"})
    assert allowed.status_code == 200


def test_a_client_cannot_grow_the_series_with_invented_methods(client: FlaskClient) -> None:
    for number in range(5):
        with client.open("/simple/", method=f"INVENTED{number}", headers=basic()) as response:
            assert response.status_code == 405
    samples = scrape(client, basic())
    methods = {
        dict(labels)["method"] for name, labels in samples if name == "pryv_http_requests_total"
    }
    assert not any(method.startswith("INVENTED") for method in methods), methods
    other = (("method", "other"), ("route", "unmatched"), ("status", "405"))
    assert samples[("pryv_http_requests_total", other)] == 5
