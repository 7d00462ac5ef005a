"""Sphinx configuration of the pryv documentation (MyST Markdown pages, autodoc reference)."""

from __future__ import annotations

import sys
from pathlib import Path

# Document the checkout being built, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pryv_server import __version__

project = "pryv"
author = "The pryv developers"
copyright = "The pryv developers"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Names in annotations that Sphinx cannot resolve to a documented target are not errors in -W.
nitpicky = False

try:
    import furo  # noqa: F401
except ImportError:  # the default theme keeps `sphinx-build -W` working without furo
    html_theme = "alabaster"
else:
    html_theme = "furo"
html_title = f"pryv {version}"
