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
    # MathJax from the package's own copy (no CDN): mathjax_path is set to it
    'sphinx-mathjax-offline',
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

# No network at build time (here and in CI), so intersphinx cannot fetch the
# objects.inv of TorchGeo, Lightning, PyTorch and Kornia, and none of them ships its
# inventory with the installed package. Inventories written by hand from the
# installed APIs would have to guess on which page of each project's docs every
# object lives (the four use different layouts, which change between releases), and
# a wrong guess is a link that silently leads nowhere; so cross-references to other
# projects stay plain text until their inventories can be fetched at build time.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

html_theme = 'alabaster'
# docs/_static/css/geossl.css: code lines and wide tables scroll instead of being
# cut off by alabaster's fixed-width body.
html_static_path = ['_static/css']
html_css_files = ['geossl.css']
exclude_patterns = ['_build']
