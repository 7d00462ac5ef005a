"""The start-up bench's renamed copies are a catalog pryv starts from (bench/startup.py).

The 100,000-project start-up figure comes from a checkpoint the bench writes itself. Should that
checkpoint stop being one a start can use (a new schema, a side-record prefix it does not
cover), a start would list the store instead, find no record and answer at once: the bench
would time an empty registry. This builds copies of a small uploaded registry and reads them
back through the app.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import startup
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import build_app
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload


def test_copies_of_the_records_start_as_a_registry_of_renamed_projects(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = build_app(settings).test_client()
    for dist in (
        make_wheel(tmp_path, "demo_pkg", "1.0.0"),
        make_sdist(tmp_path, "demo_pkg", "1.0.0"),
        make_wheel(tmp_path, "other", "2.1"),
    ):
        assert post_upload(client, dist).status_code == 200
    source = Path(settings.projects_path.path).parent
    monkeypatch.setattr(startup, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(startup, "data_dir", lambda projects: source)
    monkeypatch.setattr(startup, "project_names", lambda projects: ["demo-pkg", "other"])

    data, names, files = startup.replicated(2, 3)

    assert names == [f"{name}-r{k}" for k in range(3) for name in ("demo-pkg", "other")]
    assert files == 9
    copied = build_app(
        Settings(
            projects_path=parse_location(str(data / "projects")),
            packages_path=settings.packages_path,
            users_path=settings.users_path,
            secret_key="test-secret",
        )
    )
    snapshot = copied.extensions["pryv"].registry.snapshot()
    assert sorted(snapshot.by_project) == sorted(names)
    project = snapshot.project("demo-pkg-r2")
    assert project is not None
    assert project.name == "demo_pkg-r2"
    assert sorted(p.filename for p in project.packages) == [
        "demo_pkg_r2-1.0.0-py3-none-any.whl",
        "demo_pkg_r2-1.0.0.tar.gz",
    ]
    assert startup.replicated(2, 3) == (data, names, files)  # built once, then cached
