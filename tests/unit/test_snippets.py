"""The snippets of the "Use this index" page, and the docs page that shows them."""

from __future__ import annotations

from pathlib import Path

from pryv_server.web.explorer.snippets import Urls
from pryv_server.web.explorer.snippets import install_commands
from pryv_server.web.explorer.snippets import tools

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_urls_put_the_user_or_the_ci_variables_before_the_host() -> None:
    urls = Urls.build("https://pryv.corp.example:8443/simple/", "alice")
    assert urls.with_user == "https://alice@pryv.corp.example:8443/simple/"
    assert urls.with_variables == (
        "https://${PRYV_USERNAME}:${PRYV_PASSWORD}@pryv.corp.example:8443/simple/"
    )
    assert urls.hostname == "pryv.corp.example"  # .netrc names hosts without ports


def test_install_commands_interactive_and_ci() -> None:
    interactive, ci = install_commands("http://127.0.0.1:5555/simple/", "acme-cli==1.0")
    assert interactive == "pip install --index-url http://127.0.0.1:5555/simple/ acme-cli==1.0"
    assert ci == (
        'pip install --index-url "http://${PRYV_USERNAME}:${PRYV_PASSWORD}@127.0.0.1:5555/simple/"'
        " acme-cli==1.0"
    )


def test_snippet_ids_are_unique() -> None:
    ids = [s.id for tool in tools("http://h/simple/", "alice", "p") for s in tool.snippets]
    assert len(ids) == len(set(ids))


def test_the_docs_page_shows_every_snippet_as_the_explorer_writes_it() -> None:
    page = (DOCS / "use-this-index.md").read_text()
    for tool in tools("https://pryv.example.com/simple/", "alice", "myproject"):
        for snippet in tool.snippets:
            assert snippet.text in page, f"docs/use-this-index.md lacks {snippet.id}"
            assert snippet.where in page
