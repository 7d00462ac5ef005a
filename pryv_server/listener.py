"""Bind the server's socket before anything claims to listen, with one line when it cannot.

gunicorn binds its own socket after pryv has built the app, and when the port is taken it logs
an error and retries for five seconds before giving up with a dozen lines; an unresolvable host
does the same. pryv binds first, says in one line what is wrong, and hands the bound socket to
gunicorn (``fd://N``), so "listening on" is only printed once it is true.
"""

from __future__ import annotations

import errno
import socket

from pryv_server.errors import ConfigError

# What a busy or impossible address means to the operator, by errno ({port} and {host}: the
# options that choose them).
_REASONS = {
    errno.EADDRINUSE: "the port is in use by another program (stop it, or choose another "
    "port with {port})",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's (use 127.0.0.1, 0.0.0.0 or "
    "an address of this machine with {host})",
    errno.EACCES: "permission denied (ports below 1024 need root; use a port above 1024 behind "
    "a proxy)",
}


SERVER_OPTIONS = {"port": "--port or [server] port", "host": "--host or [server] host"}


def bind(host: str, port: int, options: dict[str, str] = SERVER_OPTIONS) -> int:
    """Return the file descriptor of a listening TCP socket on ``host:port``.

    The caller hands it to gunicorn as ``fd://N``, which takes it over (and closes it), so no
    Python socket object keeps it. ``options`` name what sets the port and the host, for the
    message when binding fails.

    :raises ConfigError: the host does not resolve, or the address cannot be bound.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise ConfigError(
            f"cannot listen on {host}:{port}: the host {host!r} does not resolve ({reason}); "
            f"use an IP address or a name of this machine with {options['host']}"
        ) from None
    listener = socket.socket(family, kind, proto)
    try:
        # As gunicorn does: a restart may bind at once while old connections wait in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        reason = _REASONS.get(error.errno or 0, error.strerror or str(error)).format(**options)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    listener.set_inheritable(True)
    return listener.detach()
