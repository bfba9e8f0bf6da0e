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
# No network at build time (here and in CI), so intersphinx cannot fetch the
# objects.inv of the projects this package builds on, and none of them ships one
# with the installed package. docs/_inventories/make.py writes local inventories
# with Sphinx's inventory writer instead: the objects of the installed packages,
# on the pages of the online docs where those projects' docs sources document them
# (the script records the repository, tag and files each layout was read from).
# TorchGeo's tasks link to their own pages, its other objects to the page of their
# module (api/datasets.html, api/samplers.html, ...), which exists whichever of
# TorchGeo's two page layouts v0.10.1 has; of PyTorch only the objects whose page
# on the online docs was seen are mapped (the script lists them and the ones left
# out): references to the rest stay plain text rather than risk links to pages
# that do not exist. PyTorch links go to /docs/stable/: the docs of a release live
# under /docs/<major.minor>/ (pages of 2.12 and 2.15 were seen), but no page of a
# /docs/2.14/ (the installed torch) was.
intersphinx_mapping = {
    'kornia': ('https://kornia.readthedocs.io/en/v0.9.0/', '_inventories/kornia.inv'),
    'lightning': (
        'https://lightning.ai/docs/pytorch/2.6.5/',
        '_inventories/lightning.inv',
    ),
    'torch': ('https://docs.pytorch.org/docs/stable/', '_inventories/torch.inv'),
    'torchgeo': ('https://docs.torchgeo.org/en/v0.10.1/', '_inventories/torchgeo.inv'),
}
# Every reference to Kornia, Lightning, PyTorch or TorchGeo must resolve
# (sphinx-build -W fails on one that does not), so none silently stays plain;
# references to other projects are not checked.
nitpicky = True
nitpick_ignore_regex = [(r'py:.*', r'(?!(kornia|lightning|torch|torchgeo)\.).*')]
# Type hints of LightningModule.configure_optimizers name these typed dicts, which
# Lightning's docs do not document: they stay plain text.
nitpick_ignore = [
    ('py:class', f'lightning.pytorch.utilities.types.{name}')
    for name in ('LRSchedulerConfig', 'OptimizerConfig', 'OptimizerLRSchedulerConfig')
]
# The PyTorch objects these docs name whose page on the online docs was not seen
# (docs/_inventories/make.py): they stay plain text, and only these.
nitpick_ignore += [
    ('py:func', 'torch.autocast'),
    ('py:func', 'torch.sigmoid'),
    ('py:mod', 'torch.distributed'),
    ('py:class', 'torch.optim.optimizer.Optimizer'),
]

html_theme = 'alabaster'
# docs/_static/css/geossl.css: code lines and wide tables scroll instead of being
# cut off by alabaster's fixed-width body.
html_static_path = ['_static/css']
html_css_files = ['geossl.css']
exclude_patterns = ['_build']
