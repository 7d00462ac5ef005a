"""The "Use this index" page: every client's configuration, written for this server's URL."""

from __future__ import annotations

from flask import Blueprint
from flask import render_template
from flask import request

from pryv_server.core.search import sort_projects
from pryv_server.web.explorer import snippets
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.services import get_services

# The project the snippets name when the server has none yet (the docs' placeholder).
EXAMPLE_PROJECT = "myproject"


def use_index() -> str:
    """Show pip, uv, poetry, pdm, twine, keyring and CI snippets for this server and this user."""
    recent = sort_projects(get_services().registry.list_projects(), "recent")
    project = recent[0].normalized if recent else EXAMPLE_PROJECT
    index_url = request.host_url + "simple/"
    return render_template(
        "use.html",
        tools=snippets.tools(index_url, current_user() or "USER", project),
        project=project,
    )


def template_context() -> dict[str, object]:
    """Give the project pages what they need to show the interactive and the CI commands."""
    return {
        "install_commands": snippets.install_commands,
        "user_variable": snippets.USER_VARIABLE,
        "password_variable": snippets.PASSWORD_VARIABLE,
    }


def register(blueprint: Blueprint) -> None:
    """Add the page, and the install commands' helpers for every page, to the blueprint."""
    blueprint.add_url_rule("/use", "use_index", use_index)
    blueprint.context_processor(template_context)
