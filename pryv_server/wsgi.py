"""A module-level WSGI app for servers that import one (``gunicorn pryv_server.wsgi:app``).

It reads the config file chosen by ``$PRYV_CONFIG_PATH`` (default ``~/.pryv/pryv.ini``).
"""

from pryv_server.app import create_app

app = create_app()
