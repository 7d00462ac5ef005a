"""How to use this index from each client, written out for this server's URL.

One source for the "Use this index" page, the project pages' install commands and the docs page
of the same name (a test keeps the docs equal to what this module writes for the docs' example
server). Interactive snippets name the user and let the tool ask for the password (or a keyring
give it); CI snippets take the user and password from the ``PRYV_USERNAME`` and ``PRYV_PASSWORD``
environment variables (CI secrets), so no password is ever written into a file or a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

# The names every CI snippet reads the credentials from (set them as CI secrets).
USER_VARIABLE = "PRYV_USERNAME"
# Names shown to the reader (an environment variable, a placeholder), not secrets.
PASSWORD_VARIABLE = "PRYV_PASSWORD"  # nosec B105
PASSWORD_PLACEHOLDER = "YOUR-PASSWORD"  # nosec B105


@dataclass(frozen=True, slots=True)
class Snippet:
    """One thing to copy: a command, or a file's content with where the file goes."""

    id: str
    title: str
    language: str  # "console" (shell commands), or the file's format: ini, toml, yaml, netrc
    text: str
    where: str = ""  # the file to write it in ("" for commands)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Tool:
    """A client and its snippets, one section of the page."""

    id: str
    name: str
    intro: str
    snippets: tuple[Snippet, ...]


@dataclass(frozen=True, slots=True)
class Urls:
    """The index URL in its three forms: bare, with the user, with the CI variables."""

    index: str
    with_user: str
    with_variables: str
    hostname: str

    @classmethod
    def build(cls, index_url: str, user: str) -> Urls:
        """Split ``index_url`` (``http://host:port/simple/``) and put credentials in it."""
        parts = urlsplit(index_url)
        rest = f"{parts.netloc}{parts.path}"
        return cls(
            index=index_url,
            with_user=f"{parts.scheme}://{user}@{rest}",
            with_variables=f"{parts.scheme}://${{{USER_VARIABLE}}}:${{{PASSWORD_VARIABLE}}}@{rest}",
            hostname=parts.hostname or parts.netloc,
        )


def install_commands(index_url: str, requirement: str) -> tuple[str, str]:
    """Return the interactive pip command (pip asks who you are) and the CI one (env vars)."""
    urls = Urls.build(index_url, "")
    return (
        f"pip install --index-url {index_url} {requirement}",
        f'pip install --index-url "{urls.with_variables}" {requirement}',
    )


def tools(index_url: str, user: str, project: str) -> tuple[Tool, ...]:
    """Every client's snippets for this server, for ``user`` and an example ``project``."""
    urls = Urls.build(index_url, user)
    return (
        _pip(urls, user, project),
        _uv(urls, user, project),
        _poetry(urls, user, project),
        _pdm(urls, project),
        _twine(urls, user),
        _keyring(urls, user, project),
        _ci(urls, project),
    )


def _pip(urls: Urls, user: str, project: str) -> Tool:
    interactive, ci = install_commands(urls.index, project)
    return Tool(
        "pip",
        "pip",
        "pip asks for your user name and password when you run it yourself; in scripts and CI, "
        "put them in the URL from environment variables (percent-encode @, : and / in them).",
        (
            Snippet("pip-install", "Install", "console", interactive),
            Snippet("pip-install-ci", "Install in CI", "console", ci),
            Snippet(
                "pip-conf",
                "Make it pip's index",
                "ini",
                f"[global]\nindex-url = {urls.index}",
                where="~/.config/pip/pip.conf",
            ),
            Snippet(
                "netrc",
                "Or keep the password out of URLs",
                "netrc",
                f"machine {urls.hostname}\nlogin {user}\npassword {PASSWORD_PLACEHOLDER}",
                where="~/.netrc",
                note="pip and uv read it; make it private: chmod 600 ~/.netrc",
            ),
        ),
    )


def _uv(urls: Urls, user: str, project: str) -> Tool:
    index = f'[[index]]\nname = "pryv"\nurl = "{urls.index}"\ndefault = true'
    return Tool(
        "uv",
        "uv",
        "Name the index pryv; uv takes its credentials from UV_INDEX_PRYV_USERNAME and "
        "UV_INDEX_PRYV_PASSWORD (or ~/.netrc, or a keyring).",
        (
            Snippet("uv-toml", "Make it uv's index", "toml", index, where="~/.config/uv/uv.toml"),
            Snippet(
                "uv-project",
                "Take your private projects from pryv, the rest from PyPI",
                "toml",
                f'[[tool.uv.index]]\nname = "pryv"\nurl = "{urls.index}"\n'
                f'publish-url = "{urls.index}"\nexplicit = true\n\n'
                f'[tool.uv.sources]\n{project} = {{ index = "pryv" }}',
                where="pyproject.toml",
                note="explicit: only the projects listed under [tool.uv.sources] come from "
                "pryv, so nobody can shadow them on PyPI",
            ),
            Snippet(
                "uv-install-ci",
                "Install in CI",
                "console",
                f'export UV_INDEX_PRYV_USERNAME="${USER_VARIABLE}" '
                f'UV_INDEX_PRYV_PASSWORD="${PASSWORD_VARIABLE}"\n'
                f"uv pip install --index pryv={urls.index} --index-strategy first-index {project}",
            ),
            Snippet(
                "uv-publish",
                "Publish",
                "console",
                f"uv build\nuv publish --publish-url {urls.index} --username {user}",
            ),
        ),
    )


def _poetry(urls: Urls, user: str, project: str) -> Tool:
    return Tool(
        "poetry",
        "poetry",
        "An explicit source: only the dependencies added with --source pryv come from pryv. "
        "poetry config http-basic asks for the password and keeps it in your keyring.",
        (
            Snippet(
                "poetry",
                "Install and publish",
                "console",
                f"poetry source add --priority=explicit pryv {urls.index}\n"
                f"poetry config http-basic.pryv {user}\n"
                f"poetry add --source pryv {project}\n"
                f"poetry config repositories.pryv {urls.index}\n"
                "poetry publish --build -r pryv",
            ),
            Snippet(
                "poetry-ci",
                "Credentials in CI",
                "console",
                f'export POETRY_HTTP_BASIC_PRYV_USERNAME="${USER_VARIABLE}" '
                f'POETRY_HTTP_BASIC_PRYV_PASSWORD="${PASSWORD_VARIABLE}"',
            ),
        ),
    )


def _pdm(urls: Urls, project: str) -> Tool:
    return Tool(
        "pdm",
        "pdm",
        "pdm expands environment variables in a source's URL, so the file holds no password.",
        (
            Snippet(
                "pdm-source",
                "Add pryv as a source",
                "toml",
                f'[[tool.pdm.source]]\nname = "pryv"\nurl = "{urls.with_variables}"\n'
                f'include_packages = ["{project}"]',
                where="pyproject.toml",
            ),
            Snippet(
                "pdm-publish",
                "Publish",
                "console",
                f'pdm publish -r {urls.index} -u "${USER_VARIABLE}" -P "${PASSWORD_VARIABLE}"',
            ),
        ),
    )


def _twine(urls: Urls, user: str) -> Tool:
    return Tool(
        "twine",
        "twine",
        "Name the server once in ~/.pypirc; twine asks for the password (or takes it from "
        "your keyring).",
        (
            Snippet(
                "pypirc",
                "Name the server",
                "ini",
                f"[distutils]\nindex-servers =\n    pryv\n\n[pryv]\nrepository = {urls.index}\n"
                f"username = {user}",
                where="~/.pypirc",
            ),
            Snippet("twine-upload", "Upload", "console", "twine upload -r pryv dist/*"),
            Snippet(
                "twine-upload-ci",
                "Upload in CI",
                "console",
                f'TWINE_REPOSITORY_URL={urls.index} TWINE_USERNAME="${USER_VARIABLE}" '
                f'TWINE_PASSWORD="${PASSWORD_VARIABLE}" twine upload dist/*',
            ),
        ),
    )


def _keyring(urls: Urls, user: str, project: str) -> Tool:
    return Tool(
        "keyring",
        "keyring",
        "Store the password once in your system's keyring; pip then needs only the user name in "
        "the URL (uv takes --keyring-provider too, and twine asks the keyring by itself).",
        (
            Snippet(
                "keyring",
                "Store and use",
                "console",
                "pip install keyring\n"
                f"keyring set {urls.index} {user}\n"
                f"pip install --keyring-provider import --index-url {urls.with_user} {project}",
            ),
        ),
    )


def _ci(urls: Urls, project: str) -> Tool:
    github = (
        f"# Secrets: {USER_VARIABLE} and {PASSWORD_VARIABLE} (Settings > Secrets > Actions)\n"
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    env:\n"
        f"      {USER_VARIABLE}: ${{{{ secrets.{USER_VARIABLE} }}}}\n"
        f"      {PASSWORD_VARIABLE}: ${{{{ secrets.{PASSWORD_VARIABLE} }}}}\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@v5\n"
        '        with: {python-version: "3.12"}\n'
        "      - run: pip install build twine\n"
        f'      - run: pip install --index-url "{urls.with_variables}" {project}\n'
        "      - run: python -m build\n"
        "      - run: twine upload dist/*\n"
        "        env:\n"
        f"          TWINE_REPOSITORY_URL: {urls.index}\n"
        f"          TWINE_USERNAME: ${{{{ secrets.{USER_VARIABLE} }}}}\n"
        f"          TWINE_PASSWORD: ${{{{ secrets.{PASSWORD_VARIABLE} }}}}"
    )
    gitlab = (
        f"# Variables: {USER_VARIABLE} and {PASSWORD_VARIABLE}, masked "
        "(Settings > CI/CD > Variables)\n"
        "build:\n"
        "  image: python:3.12\n"
        "  script:\n"
        "    - pip install build twine\n"
        f'    - pip install --index-url "{urls.with_variables}" {project}\n'
        "    - python -m build\n"
        f'    - TWINE_REPOSITORY_URL={urls.index} TWINE_USERNAME="${USER_VARIABLE}" '
        f'TWINE_PASSWORD="${PASSWORD_VARIABLE}" twine upload dist/*'
    )
    return Tool(
        "ci",
        "CI",
        f"Store the user and password as secrets named {USER_VARIABLE} and "
        f"{PASSWORD_VARIABLE}; the jobs install from pryv and publish to it.",
        (
            Snippet(
                "github-actions",
                "GitHub Actions",
                "yaml",
                github,
                where=".github/workflows/pryv.yml",
            ),
            Snippet("gitlab-ci", "GitLab CI", "yaml", gitlab, where=".gitlab-ci.yml"),
        ),
    )
