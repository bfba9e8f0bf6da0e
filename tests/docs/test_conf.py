"""The Sphinx configuration renders math offline and keeps code lines readable.

The docs are built without network access (CI runs ``sphinx-build -W``
separately): MathJax must come from a local file copied into the build, not from a
CDN, and long code lines must scroll instead of being cut off by alabaster's
fixed-width body. The slow test builds one page with the configuration and reads
the HTML.
"""

import importlib
import runpy
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / 'docs'
MATH_EXTENSION = 'sphinx-mathjax-offline'


def conf() -> dict[str, Any]:
    return runpy.run_path(str(DOCS / 'conf.py'))


def test_mathjax_comes_from_a_local_copy() -> None:
    assert MATH_EXTENSION in conf()['extensions']
    assert 'mathjax_path' not in conf()  # the extension sets it
    extension = importlib.import_module(MATH_EXTENSION)
    # the part of a Sphinx application the extension's setup touches
    events: list[str] = []
    app = SimpleNamespace(
        config=SimpleNamespace(), connect=lambda event, _: events.append(event)
    )
    extension.setup(app)
    path = app.config.mathjax_path
    assert '://' not in path
    assert not path.startswith('//')
    # the file the pages load is copied into the build's _static folder
    assert 'build-finished' in events
    assert (Path(extension.__file__).parent / 'static' / path).is_file()


def test_code_blocks_scroll_instead_of_being_clipped() -> None:
    settings = conf()
    (css,) = settings['html_css_files']
    (static,) = settings['html_static_path']
    text = (DOCS / static / css).read_text()
    assert 'div.highlight pre' in text
    assert 'overflow-x: auto' in text


@pytest.mark.slow
def test_built_page_loads_local_mathjax(build_page: Callable[[str], Path]) -> None:
    build = build_page(
        'Math\n====\n\n.. math::\n\n   e^{i\\pi} + 1 = 0\n\n'
        '.. code-block:: python\n\n   x = ' + ' + '.join(['1'] * 60) + '\n'
    )
    html = (build / 'index.html').read_text()
    assert 'src="_static/mathjax/tex-chtml.js"' in html
    assert 'cdn.' not in html
    assert (build / '_static' / 'mathjax' / 'tex-chtml.js').is_file()
    assert 'href="_static/geossl.css' in html
    assert (build / '_static' / 'geossl.css').is_file()
