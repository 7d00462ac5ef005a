"""Turn errors into HTTP responses: one status table, one-line plain-text reasons for clients."""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from pryv_server import errors

log = logging.getLogger(__name__)

STATUS_FOR: dict[type[errors.PryvError], int] = {
    errors.AuthenticationRequired: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.NotAcceptable: 406,
    errors.InvalidRequest: 400,
    errors.InvalidUpload: 400,
    errors.DistributionExists: 409,
    errors.NamespaceReserved: 409,
    errors.UserExists: 409,
    errors.UserNotFound: 404,
    errors.UploadTooLarge: 413,
    errors.TooManyLoginAttempts: 429,
    errors.UpstreamError: 502,
    errors.StorageFull: 507,
    errors.StorageError: 503,
    errors.ConfigError: 503,
}


def status_for(error: errors.PryvError) -> int:
    """Return the status of the closest mapped ancestor class (500 when none is mapped)."""
    for cls in type(error).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]
    return 500


def one_line(message: str, limit: int = 400) -> str:
    """Fold a message to one latin-1-safe line, short enough for an HTTP status line."""
    line = " ".join(message.split())
    line = line.encode("latin-1", "replace").decode("latin-1")
    return (
        line
        if len(line) <= limit
        else line[: limit - 1] + "…".encode("latin-1", "replace").decode("latin-1")
    )


def plain_response(status: int, message: str) -> Response:
    """Answer in text/plain with the reason in the status line too (twine prints the reason)."""
    line = one_line(message)
    response = Response(line + "\n", mimetype="text/plain")
    response.status = f"{status} {line}"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="pryv", charset="UTF-8"'
    return response


# Blueprints whose errors are pages for people (HTML); every other one answers in one plain line.
HTML_BLUEPRINTS = frozenset({"explorer"})


def html_response(status: int, message: str) -> Response:
    """Render ``templates/error.html``: the same one-line reason, in the explorer's look."""
    response = Response(
        render_template("error.html", status=status, message=one_line(message)),
        mimetype="text/html",
    )
    response.status_code = status
    return response


def error_response(status: int, message: str) -> Response:
    """Answer in the style of the blueprint that failed: HTML for the explorer, else plain.

    A URL that no route matches (a typo such as ``/projects/acme``) belongs to no blueprint: a
    browser, which asks for ``text/html`` by name, gets the explorer's page; pip, curl and every
    other client keep the one plain line.
    """
    if request.blueprint in HTML_BLUEPRINTS or (request.blueprint is None and _wants_html()):
        return html_response(status, message)
    return plain_response(status, message)


def _wants_html() -> bool:
    return request.accept_mimetypes.best_match(("text/plain", "text/html")) == "text/html"


def handle_pryv_error(error: errors.PryvError) -> Response:
    """Render a PryvError; storage failures are logged with their traceback."""
    status = status_for(error)
    if isinstance(error, errors.StorageFull):
        log.error("request failed: %s", error)
        return error_response(status, "the registry's storage is full; nothing was stored")
    if isinstance(error, errors.ConfigError):
        # A file read at request time (the users file) was edited into something unreadable:
        # the log names the file and the problem; the caller learns only that it is not theirs.
        log.error("request failed: %s", error)
        return error_response(
            status, "the server's configuration is unreadable (its log says why); try again later"
        )
    if isinstance(error, errors.UpstreamError):
        log.warning("upstream: %s", error)
        return error_response(status, str(error))
    if status >= 500:
        log.error("request failed: %s", error, exc_info=error)
        return error_response(status, "the storage backend failed; try again later")
    response = error_response(status, str(error))
    if isinstance(error, errors.TooManyLoginAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def handle_http_error(error: HTTPException) -> Response:
    """Render Werkzeug's own errors (404 route, 405, 413) in the same one-line style."""
    status = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        return plain_response(413, _too_large_message())
    return error_response(status, error.description or error.name)


def _too_large_message() -> str:
    # Werkzeug raises the same error for the whole body, the form fields and the part count.
    limit = current_app.extensions["pryv"].settings.max_upload_size
    body_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if body_limit is not None and (length is None or length > body_limit):
        return f"the upload is larger than the server's max-upload-size ({format_size(limit)})"
    return (
        f"the form is too large: files may have up to {format_size(limit)} (max-upload-size), "
        f"any other field {format_size(current_app.config['MAX_FORM_MEMORY_SIZE'])}, "
        f"and a form {current_app.config['MAX_FORM_PARTS']} parts"
    )


def format_size(size: int) -> str:
    """Write a byte count the way the config file does: ``5G``, ``500M``, ``1536K``, ``100``."""
    for suffix, unit in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size} bytes"


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(errors.PryvError, handle_pryv_error)
    app.register_error_handler(HTTPException, handle_http_error)
