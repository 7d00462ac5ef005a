"""The "Use this index" page's snippets, copied from the page of a real server and run as shown.

Each test logs in to the explorer, reads the snippets from ``/use`` (written for this server's
URL), writes the files they name into a private HOME and runs their commands with the real
clients. Interactive snippets get the password on standard input (as a user types it); CI
snippets get it from ``PRYV_USERNAME`` and ``PRYV_PASSWORD``, as a CI secret gives it. The docs
page shows the same snippets (tests/unit/test_snippets.py), so the blocks below are claimed.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import substitute
from tests.e2e.servers import Server
from tests.e2e.servers import twine_upload
from tests.e2e.tools import DOCS_PASSWORD as PASSWORD
from tests.e2e.tools import DOCS_USER as USER
from tests.e2e.tools import FILE_KEYRING
from tests.e2e.tools import add_docs_user
from tests.e2e.tools import docs_env
from tests.e2e.tools import install_venv
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv
from tests.e2e.tools import venv_env
from tests.e2e.tools import write_project

pytestmark = pytest.mark.e2e

PAGE = "use-this-index.md"
PROJECT = "myproject"
# The docs blocks whose commands these tests run (each test also checks the block is the
# page's snippet for the docs' example server).
DOCS_BLOCKS = [(PAGE, tool) for tool in ("pip", "uv", "poetry", "pdm", "twine", "keyring")]


@pytest.fixture
def docs_server(server: Server) -> Server:
    """The running server with the docs' user (alice), whose snippets the docs page shows."""
    add_docs_user(server)
    return server


def explorer_page(server: Server, path: str) -> str:
    """Log in through the form (with its CSRF token) and return the page at ``path``."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = opener.open(f"{server.url}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    data = {"username": USER, "password": PASSWORD, "csrf_token": token.group(1)}
    opener.open(f"{server.url}/login", urllib.parse.urlencode(data).encode(), timeout=30)
    return str(opener.open(f"{server.url}{path}", timeout=30).read().decode())


def page_snippets(server: Server) -> dict[str, str]:
    """Every snippet of ``/use``, by id, as the page shows it to the docs' user."""
    page = explorer_page(server, "/use")
    found = re.findall(r'<code id="([\w-]+)-text"[^>]*>(.*?)</code>', page, re.S)
    return {name: html.unescape(text) for name, text in found}


def publish(server: Server, tmp_path: Path) -> None:
    """Upload myproject 1.0.0, the project every snippet then names."""
    wheel = make_wheel(tmp_path / "dist", PROJECT, "1.0.0")
    twine_upload(server, wheel, user=USER, password=PASSWORD)


def home_env(tmp_path: Path, *paths: Path, **extra: str) -> dict[str, str]:
    """A private HOME, no pip configuration of this machine, the CI secrets set."""
    return docs_env(
        tmp_path / "home", *paths, PIP_CONFIG_FILE="/dev/null",
        PRYV_USERNAME=USER, PRYV_PASSWORD=PASSWORD, **extra,
    )  # fmt: skip


def sh(
    script: str, cwd: Path, env: dict[str, str], server: Server, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a snippet's commands with bash; fail with the whole output and the server's log."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env, input=stdin,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(
            f"snippet failed (exit {result.returncode}):\n{script}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}\n--- server\n{server.log_text()[-3000:]}"
        )
    return result


def installed_version(bin_dir: Path) -> str:
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", f"import {PROJECT}; print({PROJECT}.VERSION)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def docs_shows(heading: str, snippet: str, server: Server) -> None:
    """The docs page's block under ``heading`` is this snippet, for the docs' example server."""
    shown = [substitute(line, server.url) for line in docs_block(PAGE, heading)]
    commands = [line for line in snippet.splitlines() if line.strip()]
    assert all(command in shown for command in commands), (shown, commands)


def prepared(
    server: Server, tmp_path: Path, heading: str, *shown: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Publish myproject, read the page's snippets, check the docs show ``shown`` under
    ``heading``; return the snippets and a private environment."""
    publish(server, tmp_path)
    snippets = page_snippets(server)
    for snippet in shown:
        docs_shows(heading, snippets[snippet], server)
    return snippets, home_env(tmp_path)


def test_pip_snippets_install_as_shown(docs_server: Server, tmp_path: Path) -> None:
    server = docs_server
    snippets, env = prepared(server, tmp_path, "pip", "pip-install", "pip-install-ci")

    ci = install_venv(tmp_path / "ci", env)
    sh(snippets["pip-install-ci"], tmp_path, venv_env(ci, env), server)
    assert installed_version(ci) == "1.0.0"

    # Interactive: pip asks for the user and the password (read from stdin without a terminal),
    # then, when it finds a keyring command, whether to save them there (no).
    typed = install_venv(tmp_path / "typed", env)
    interactive = venv_env(typed, env)
    interactive.pop("PIP_NO_INPUT")
    sh(snippets["pip-install"], tmp_path, interactive, server, stdin=f"{USER}\n{PASSWORD}\nn\n")
    assert installed_version(typed) == "1.0.0"

    # pip.conf names the index, ~/.netrc holds the password.
    home = tmp_path / "home"
    conf = write(home / ".config" / "pip" / "pip.conf", snippets["pip-conf"])
    netrc = write(home / ".netrc", snippets["netrc"].replace("YOUR-PASSWORD", PASSWORD))
    netrc.chmod(0o600)
    configured = install_venv(tmp_path / "configured", env)
    sh(f"pip install {PROJECT}", tmp_path, venv_env(configured, env, PIP_CONFIG_FILE=str(conf)),
       server)  # fmt: skip
    assert installed_version(configured) == "1.0.0"


def test_uv_snippets_install_and_publish_as_shown(docs_server: Server, tmp_path: Path) -> None:
    server = docs_server
    snippets, env = prepared(server, tmp_path, "uv", "uv-install-ci", "uv-publish")

    ci = install_venv(tmp_path / "ci", env)
    sh(snippets["uv-install-ci"], tmp_path, venv_env(ci, env), server)
    assert installed_version(ci) == "1.0.0"

    # uv.toml names the index; its credentials come from UV_INDEX_PRYV_*.
    write(tmp_path / "home" / ".config" / "uv" / "uv.toml", snippets["uv-toml"])
    configured = install_venv(tmp_path / "configured", env)
    creds = {"UV_INDEX_PRYV_USERNAME": USER, "UV_INDEX_PRYV_PASSWORD": PASSWORD}
    sh(f"uv pip install {PROJECT}", tmp_path, venv_env(configured, env, **creds), server)
    assert installed_version(configured) == "1.0.0"

    # A project that takes myproject from pryv ([[tool.uv.index]], explicit) and publishes to it.
    app = write_project(tmp_path / "app", "uv-app", "uv", "uv")
    pyproject = app / "pyproject.toml"
    text = pyproject.read_text().replace(
        'requires-python = ">=3.8"', f'requires-python = ">=3.8"\ndependencies = ["{PROJECT}"]'
    )
    pyproject.write_text(f"{text}\n{snippets['uv-project']}\n")
    # uv publish asks for the password on a terminal; UV_PUBLISH_PASSWORD answers here.
    project_env = {**env, **creds, "UV_PUBLISH_PASSWORD": PASSWORD}
    sh(f"uv sync\n{snippets['uv-publish']}", app, project_env, server)
    assert installed_version(app / ".venv" / "bin") == "1.0.0"
    assert "uv_app-1.0.0" in explorer_page(server, "/project/uv-app/latest/packages")


def test_twine_snippets_upload_as_shown(docs_server: Server, tmp_path: Path) -> None:
    server = docs_server
    snippets = page_snippets(server)
    for snippet in ("twine-upload", "twine-upload-ci"):
        docs_shows("twine", snippets[snippet], server)
    env = home_env(tmp_path)
    write(tmp_path / "home" / ".pypirc", snippets["pypirc"])
    first = tmp_path / "first"
    make_wheel(first / "dist", "first-app", "1.0")
    # twine asks for the password (stdin without a terminal).
    sh(snippets["twine-upload"], first, env, server, stdin=f"{PASSWORD}\n")
    second = tmp_path / "second"
    make_wheel(second / "dist", "second-app", "1.0")
    sh(snippets["twine-upload-ci"], second, env, server)
    listed = explorer_page(server, "/projects")
    assert "first-app" in listed
    assert "second-app" in listed


def test_keyring_snippet_installs_as_shown(docs_server: Server, tmp_path: Path) -> None:
    """keyring comes from PyPI as shown; a file backend stands in for the desktop keyring."""
    server = docs_server
    publish(server, tmp_path)
    snippets = page_snippets(server)
    docs_shows("keyring", snippets["keyring"], server)
    backend = write(tmp_path / "backend" / "file_keyring.py", FILE_KEYRING).parent
    env = home_env(tmp_path, PYTHONPATH=str(backend),
                   PYTHON_KEYRING_BACKEND="file_keyring.FileKeyring")  # fmt: skip
    env.pop("PIP_CONFIG_FILE")  # keyring itself comes from PyPI, through this machine's config
    bin_dir = install_venv(tmp_path / "venv", env)
    sh(snippets["keyring"], tmp_path, venv_env(bin_dir, env), server, stdin=f"{PASSWORD}\n")
    assert installed_version(bin_dir) == "1.0.0"


@pytest.fixture(scope="module")
def tools_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory)


def test_poetry_snippets_add_and_publish_as_shown(
    docs_server: Server, tmp_path: Path, tools_root: Path
) -> None:
    server = docs_server
    snippets, _ = prepared(server, tmp_path, "poetry", "poetry")
    poetry = tool_venv(tools_root, "poetry")
    app = write_project(tmp_path / "app", "poetry-app", "poetry", "poetry")
    env = home_env(tmp_path, poetry)
    # `poetry config http-basic.pryv alice` asks for the password on a terminal only (without
    # one it spins); the CI snippet's variables give the credentials instead, as in CI.
    lines = [line for line in snippets["poetry"].splitlines() if "http-basic" not in line]
    assert len(lines) == len(snippets["poetry"].splitlines()) - 1
    sh("\n".join([snippets["poetry-ci"], *lines]), app, env, server)
    assert "myproject" in (app / "pyproject.toml").read_text()
    assert "poetry_app-1.0.0" in explorer_page(server, "/project/poetry-app/latest/packages")


def test_pdm_snippets_add_and_publish_as_shown(
    docs_server: Server, tmp_path: Path, tools_root: Path
) -> None:
    server = docs_server
    snippets, _ = prepared(server, tmp_path, "pdm", "pdm-publish")
    pdm = tool_venv(tools_root, "pdm")
    app = write_project(tmp_path / "app", "pdm-app", "pdm", "pdm")
    pyproject = app / "pyproject.toml"
    pyproject.write_text(f"{pyproject.read_text()}\n{snippets['pdm-source']}\n")
    env = home_env(tmp_path, pdm, PDM_CHECK_UPDATE="false")
    sh(f"pdm add {PROJECT}\n{snippets['pdm-publish']}", app, env, server)
    assert 'name = "myproject"' in (app / "pdm.lock").read_text()
    assert "pdm_app-1.0.0" in explorer_page(server, "/project/pdm-app/latest/packages")


def test_gitlab_ci_job_installs_and_publishes_as_shown(docs_server: Server, tmp_path: Path) -> None:
    """The job's script lines run in order, with the CI variables set as GitLab sets them."""
    server = docs_server
    publish(server, tmp_path)
    job = yaml.safe_load(page_snippets(server)["gitlab-ci"])["build"]
    app = write_project(tmp_path / "app", "gitlab-app", "twine", "gitlab")
    env = home_env(tmp_path)
    bin_dir = install_venv(tmp_path / "venv", env)
    sh("\n".join(job["script"]), app, venv_env(bin_dir, env), server)
    assert installed_version(bin_dir) == "1.0.0"
    assert "gitlab_app-1.0.0" in explorer_page(server, "/project/gitlab-app/latest/packages")


def test_github_actions_workflow_installs_and_publishes_as_shown(
    docs_server: Server, tmp_path: Path
) -> None:
    """Each ``run`` step runs with the job's and the step's env, secrets filled in as Actions does."""
    server = docs_server
    publish(server, tmp_path)
    workflow = yaml.safe_load(page_snippets(server)["github-actions"])
    job = workflow["jobs"]["build"]
    secrets = {"PRYV_USERNAME": USER, "PRYV_PASSWORD": PASSWORD}

    def expand(value: str) -> str:
        return re.sub(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", lambda m: secrets[m.group(1)], value)

    app = write_project(tmp_path / "app", "github-app", "twine", "github")
    env = docs_env(tmp_path / "home", PIP_CONFIG_FILE="/dev/null")
    bin_dir = install_venv(tmp_path / "venv", env)
    job_env = {name: expand(str(value)) for name, value in job["env"].items()}
    for step in job["steps"]:
        if "run" not in step:
            assert step["uses"].startswith(("actions/checkout@", "actions/setup-python@"))
            continue
        step_env = {name: expand(str(value)) for name, value in step.get("env", {}).items()}
        sh(step["run"], app, venv_env(bin_dir, env, **job_env, **step_env), server)
    assert installed_version(bin_dir) == "1.0.0"
    assert "github_app-1.0.0" in explorer_page(server, "/project/github-app/latest/packages")
