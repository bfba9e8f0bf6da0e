"""A one-page Sphinx build with the docs' own configuration, for the docs tests."""

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / 'docs'


@pytest.fixture
def build_page(tmp_path: Path) -> Callable[[str], Path]:
    """Build a page of reStructuredText with ``docs/conf.py``, offline, with ``-W``.

    The page gets the configuration's static files and intersphinx inventories (a
    missing inventory is a warning, so an error under ``-W``).

    Returns:
        A function of the page's text that returns the build folder.
    """

    def build(text: str) -> Path:
        source = tmp_path / 'source'
        source.mkdir()
        shutil.copy(DOCS / 'conf.py', source)
        shutil.copytree(DOCS / '_static', source / '_static')
        shutil.copytree(DOCS / '_inventories', source / '_inventories')
        (source / 'index.rst').write_text(text)
        html = tmp_path / 'html'
        result = subprocess.run(
            [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', str(source),
             str(html)],
            check=False, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return html

    return build
