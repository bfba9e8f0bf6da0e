"""The installation instructions agree with ``pyproject.toml``.

README.md and the getting-started page name the Python and TorchGeo versions the
package needs and the extras it offers; these must be the ones that
``pyproject.toml`` declares, so that the instructions cannot drift from what pip
enforces.
"""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
GETTING_STARTED = ROOT / 'docs' / 'user' / 'getting_started.rst'


def project() -> dict[str, object]:
    with (ROOT / 'pyproject.toml').open('rb') as f:
        data: dict[str, object] = tomllib.load(f)['project']
    return data


def torchgeo_bounds() -> tuple[str, str]:
    dependencies = project()['dependencies']
    assert isinstance(dependencies, list)
    (spec,) = [d for d in dependencies if re.match(r'torchgeo\b', d)]
    match = re.fullmatch(r'torchgeo>=([\d.]+),<([\d.]+)', spec.replace(' ', ''))
    assert match, spec
    return match[1], match[2]


def test_readme_versions_match_pyproject() -> None:
    text = README.read_text()
    python = str(project()['requires-python']).removeprefix('>=')
    low, high = torchgeo_bounds()
    assert re.search(rf'Python >= {re.escape(python)}\b', text)
    assert re.search(rf'TorchGeo >= {re.escape(low)}, < {re.escape(high)}\b', text)


def test_getting_started_versions_match_pyproject() -> None:
    text = ' '.join(GETTING_STARTED.read_text().split())
    python = str(project()['requires-python']).removeprefix('>=')
    low, high = torchgeo_bounds()
    assert f'Python {python} or newer' in text
    assert f'TorchGeo {low} or newer (below {high})' in text


@pytest.mark.parametrize('page', [README, GETTING_STARTED], ids=lambda p: p.name)
def test_extras_match_pyproject(page: Path) -> None:
    text = page.read_text()
    extras = project()['optional-dependencies']
    assert isinstance(extras, dict)
    (named,) = re.findall(r'The extras are (.*?)\.', ' '.join(text.split()))
    assert set(re.findall(r'`+(\w+)`+', named)) == set(extras)
    for install in re.findall(r"pip install -e '\.\[([\w,]+)\]'", text):
        assert set(install.split(',')) <= set(extras)
