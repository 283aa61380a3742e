"""Sphinx configuration of the gluon-caps documentation.

Build with ``tox -e docs`` or ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The package is imported for real (autodoc, sphinx-click): MXNet must be installed.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, os.pardir, "gluon_caps", "_version.py")) as handle:
        return re.search(r'__version__ = "([^"]+)"', handle.read()).group(1)


project = "gluon-caps"
author = "gluon-caps developers"
copyright = "gluon-caps developers"
release = read_version()
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
]

exclude_patterns = ["_build"]
templates_path = []
html_static_path = ["_static"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Capsule Networks in MXNet Gluon, trained with Horovod",
    "fixed_sidebar": True,
}

# autodoc: members in source order (the order of __all__ for packages).
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "class"
autodoc_inherit_docstrings = False     # no MXNet docstrings on hybrid_forward and forward

# numpydoc: no autosummary tables of every class member (they need generated stub pages).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
