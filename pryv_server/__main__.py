"""Run the CLI as `python -m pryv_server`."""

from pryv_server.cli import main

main()
