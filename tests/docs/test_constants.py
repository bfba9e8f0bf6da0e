"""Every public constant of the package is documented.

A constant is a module-level UPPER_CASE name assigned in a public module of
``torchgeo_geossl``. Autodoc shows a constant with the ``#:`` comment (or the string
literal) right before (after) its assignment, which Sphinx's source analyzer finds;
without one, the API reference shows the bare name or leaves it out. Constants that
a subpackage exports in ``__all__`` come from a submodule, whose doc comment the
package's ``automodule`` does not see: each needs an ``autodata`` directive in
``docs/api``.
"""

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from typing import TypeVar

import pytest
from sphinx.pycode import ModuleAnalyzer

import torchgeo_geossl

API = Path(__file__).resolve().parents[2] / 'docs' / 'api'
CONSTANT = re.compile(r'[A-Z][A-Z0-9_]*')


def public_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(torchgeo_geossl.__path__, 'torchgeo_geossl.')
        if not any(part.startswith('_') for part in info.name.split('.'))
    )


def constants(name: str) -> list[str]:
    """UPPER_CASE names assigned at module level in the source of *name*."""
    module = importlib.import_module(name)
    source = inspect.getsource(module)
    return [
        n
        for n, value in vars(module).items()
        if CONSTANT.fullmatch(n)
        and not isinstance(value, TypeVar)
        and re.search(rf'^{n}\b\s*(:[^=\n]*)?=', source, re.MULTILINE)
    ]


def undocumented(name: str) -> list[str]:
    analyzer = ModuleAnalyzer.for_module(name)
    analyzer.analyze()
    documented = {attr for scope, attr in analyzer.attr_docs if scope == ''}
    return [n for n in constants(name) if n not in documented]


@pytest.mark.parametrize('name', public_modules())
def test_every_constant_has_a_doc_comment(name: str) -> None:
    missing = undocumented(name)
    assert not missing, f'{name}: no #: doc comment for {missing}'


def test_exported_constants_have_an_autodata_directive() -> None:
    directives = set(
        re.findall(
            r'^\.\. autodata:: (\S+)$',
            '\n'.join(page.read_text() for page in API.glob('*.rst')),
            re.MULTILINE,
        )
    )
    missing = []
    for name in public_modules():
        module = importlib.import_module(name)
        for exported in getattr(module, '__all__', ()):
            if not CONSTANT.fullmatch(exported):
                continue
            homes = {
                f'{sub}.{exported}'
                for sub in public_modules()
                if sub.startswith(f'{name}.') and exported in constants(sub)
            }
            if not homes & directives:
                missing.append(f'{name}.{exported}')
    assert not missing, f'exported constants without an autodata directive: {missing}'


def test_the_check_finds_a_constant_without_a_comment(tmp_path: Path) -> None:
    (tmp_path / 'fake_constants.py').write_text(
        '#: Documented.\nDOCUMENTED = 1\nBARE = 2\n'
    )
    sys.path.insert(0, str(tmp_path))
    try:
        assert undocumented('fake_constants') == ['BARE']
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop('fake_constants', None)
