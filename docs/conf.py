"""Sphinx configuration for torchgeo-geossl."""

import torchgeo_geossl

project = 'torchgeo-geossl'
author = 'torchgeo-geossl contributors'
copyright = '2026, torchgeo-geossl contributors'
release = torchgeo_geossl.__version__
version = release

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.intersphinx',
    'sphinx.ext.viewcode',
    'myst_parser',
]

# reStructuredText pages, and Markdown pages through MyST (the changelog and the
# benchmark results include CHANGELOG.md and benchmarks/README.md as they are).
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}

autodoc_default_options = {'members': True, 'show-inheritance': True}
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_typehints_description_target = 'documented'
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False

# No network at build time: cross-references to other projects stay plain text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

html_theme = 'alabaster'
html_static_path: list[str] = []
exclude_patterns = ['_build']
