"""Session login for the explorer: the login gate, ``/login``, ``/logout`` and safe redirects.

The explorer uses the same users as the API (``users.json`` or ``.htpasswd``, checked through the
cached verifier), but remembers a successful login in Flask's signed session cookie instead of
asking for HTTP Basic on every request.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import Request
from flask import g
from flask import has_request_context
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

from pryv_server.auth import ANONYMOUS
from pryv_server.auth import Identity
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import TooManyLoginAttempts
from pryv_server.web.explorer import sessions
from pryv_server.web.explorer.first_run import check_users_present
from pryv_server.web.services import get_services

SESSION_USER = "user"
SESSION_PRINT = "credential"  # sessions.fingerprint of the user's stored hash at login
SESSION_SINCE = "since"  # login time, compared with the user's last logout
# Pages anyone may open once a user exists (setup decides for itself whether it exists).
PUBLIC_ENDPOINTS = frozenset({"explorer.login", "explorer.setup"})
# Pages that only read: with [permissions] anonymous-read, open without a login (what each
# shows is still the access policy's answer for an anonymous reader).
READ_ENDPOINTS = frozenset(
    {
        "explorer.home",
        "explorer.projects",
        "explorer.project",
        "explorer.project_release",
        "explorer.project_tab",
        "explorer.download",
        "explorer.use_index",
    }
)
LOGIN_ERROR = "Invalid username or password."


class ExplorerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS.

    :param sessionless: path prefixes of the API (and ``/health``), which authenticates every
        request with HTTP Basic and never reads the session; see
        :func:`pryv_server.web.api.sessionless_prefixes`.
    """

    def __init__(self, sessionless: tuple[str, ...]) -> None:
        self.sessionless = sessionless

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Give API requests no session at all (Flask's null session).

        Building the signing serializer and checking the cookie cost about 70 µs of the
        260 µs an index page took in process; pip sends dozens of such requests per install.
        It also makes it plain that no API answer ever depends on an explorer login.
        """
        if request.path.startswith(self.sessionless):
            return None
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Send the cookie over HTTPS only when the page was served over HTTPS (or when forced)."""
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        return has_request_context() and request.is_secure


def has_users() -> bool:
    """Say whether any user is configured (while none is, the setup page is the only page)."""
    return bool(get_services().users.usernames())


def current_user() -> str | None:
    """Return the logged-in user, or None when the session ended.

    It ended when the user was removed, their password changed, or they logged out anywhere
    since this session began (see :mod:`pryv_server.web.explorer.sessions`).
    """
    username = session.get(SESSION_USER)
    if not isinstance(username, str) or not username:
        return None
    valid = sessions.is_valid(
        get_services(), username, session.get(SESSION_PRINT), session.get(SESSION_SINCE)
    )
    if not valid:
        session.clear()
        return None
    return username


def log_in(username: str) -> None:
    """Start a fresh session for ``username`` (drop whatever the old session held)."""
    session.clear()
    session[SESSION_USER] = username
    session[SESSION_PRINT] = sessions.fingerprint(get_services(), username)
    session[SESSION_SINCE] = time.time()


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this server, else None (no open redirects).

    Refused: anything not starting with one ``/`` (``//evil``, ``/`` then a backslash, a scheme),
    backslashes anywhere (browsers read them as slashes), and control characters (CR/LF).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def require_user() -> Response | None:
    """Gate every explorer page: setup first, then a logged-in user."""
    if request.endpoint == "explorer.setup":
        return None
    if not has_users():
        check_users_present(get_services())  # 503 once setup is over: never reopen it
        return redirect(url_for("explorer.setup"))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    username = current_user()
    if username is None:
        if request.endpoint in READ_ENDPOINTS and get_services().access.policy().anonymous_read:
            g.identity = ANONYMOUS  # browse without logging in; every write still asks for one
            return None
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("explorer.login", next=target))
    g.identity = Identity(username)  # what the pages show is decided from it (web/authorize)
    return None


def is_admin(user: str) -> bool:
    """Say whether ``user`` may open the admin page: an admin of the permissions file.

    Without a permissions file every user is trusted alike (each may upload, yank and manage
    anywhere), so every user is.
    """
    policy = get_services().access.policy()
    return not policy.configured or policy.role(user) == "admin"


def template_context() -> dict[str, Any]:
    """Values every explorer template uses: the user, the search box, this server's URLs."""
    user = session.get(SESSION_USER)
    return {
        "current_user": user,
        "current_user_is_admin": isinstance(user, str) and is_admin(user),
        "reading_anonymously": g.get("identity") == ANONYMOUS,
        "search_query": request.args.get("q", "")
        if request.endpoint == "explorer.projects"
        else "",
        "index_url": request.host_url + "simple/",
    }


def login() -> Response | str:
    """Show the login form, or log in with its username and password."""
    next_page = safe_next(request.values.get("next"))
    if current_user() is not None:
        return redirect(next_page or url_for("explorer.projects"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            if check_credentials(username, password):
                log_in(username)
                return redirect(next_page or url_for("explorer.projects"))
            error = LOGIN_ERROR
        except TooManyLoginAttempts as refusal:
            page = render_template(
                "login.html",
                error=str(refusal).capitalize(),
                username=username,
                next_page=next_page,
            )
            return Response(
                page,
                status=429,
                mimetype="text/html",
                headers={"Retry-After": str(refusal.retry_after), "Cache-Control": "no-store"},
            )
    return render_template("login.html", error=error, username=username, next_page=next_page)


def check_credentials(username: str, password: str) -> bool:
    """Check a login through the authenticator, which counts failures against user and address.

    :raises TooManyLoginAttempts: the user used up its failed logins (checked before the
        password, so a locked account answers the same whatever is guessed), or a wrong password
        came from an address that used up its own.
    """
    authenticator = get_services().authenticator
    try:
        authenticator.password(username, password, request.remote_addr or "")
    except AuthenticationRequired:
        return False
    return True


def logout() -> Response | str:
    """Log out (POST, with its CSRF token): end every session of the user; a GET confirms."""
    if request.method == "POST":
        username = current_user()
        if username is not None:
            sessions.end_sessions(get_services(), username)  # every copy, on every instance
        session.clear()
        return redirect(url_for("explorer.login"))
    return render_template("logout.html")


def register(blueprint: Blueprint) -> None:
    """Add the login and logout pages to the explorer blueprint."""
    blueprint.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
