"""The API reference documents every public name of the package.

The fast tests read ``docs/api/*.rst`` and the package: every public module has an
``automodule`` with ``:members:``, every ``__all__`` is importable and complete
(every class and function marked ``.. versionadded::`` in a subpackage is
exported), and every exported class and function has a docstring (autodoc skips
members without one). The slow test builds the API pages with Sphinx and checks
that the inventory of the built docs holds every public name.
"""

import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sphinx.util.inventory import InventoryFile

import torchgeo_geossl

DOCS = Path(__file__).resolve().parents[1] / 'docs'
API = DOCS / 'api'
#: Command-line entry points: documented as programs, not exported.
ENTRY_POINTS = {'main'}
DIRECTIVE = re.compile(
    r'^\.\. automodule:: (\S+)\n((?:[ \t]+:[\w-]+:.*\n)*)', re.MULTILINE
)


def public_modules() -> list[str]:
    """Subpackages and top-level modules of torchgeo_geossl, without private ones."""
    return sorted(
        f'torchgeo_geossl.{info.name}'
        for info in pkgutil.iter_modules(torchgeo_geossl.__path__)
        if not info.name.startswith('_')
    )


def submodules(package: ModuleType) -> list[ModuleType]:
    """The modules of a package (none for a plain module)."""
    if not hasattr(package, '__path__'):
        return []
    return [
        importlib.import_module(f'{package.__name__}.{info.name}')
        for info in pkgutil.iter_modules(package.__path__)
    ]


def automodules() -> dict[str, set[str]]:
    """Modules named by automodule directives in docs/api, with their options."""
    found: dict[str, set[str]] = {}
    for page in sorted(API.glob('*.rst')):
        for name, options in DIRECTIVE.findall(page.read_text()):
            found[name] = set(re.findall(r':([\w-]+):', options))
    return found


def declared_public(module: ModuleType) -> list[tuple[str, object]]:
    """Classes and functions a module defines and marks ``.. versionadded::``."""
    return [
        (name, obj)
        for name, obj in vars(module).items()
        if not name.startswith('_')
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
        and 'versionadded' in (obj.__doc__ or '')
        and name not in ENTRY_POINTS
    ]


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, or the public classes and functions of a plain module."""
    names = getattr(module, '__all__', None)
    if names is not None:
        return list(names)
    return [name for name, _ in declared_public(module)]


def test_every_public_module_has_an_api_page() -> None:
    documented = automodules()
    missing = [m for m in public_modules() if m not in documented]
    assert not missing, f'no automodule directive in {API} for {missing}'
    without = [m for m in public_modules() if 'members' not in documented[m]]
    assert not without, f'automodule without :members: for {without}'


def test_api_pages_name_importable_modules_and_are_in_the_toctree() -> None:
    for name in automodules():
        importlib.import_module(name)
    index = (DOCS / 'index.rst').read_text()
    pages = [page.stem for page in API.glob('*.rst')]
    assert pages
    missing = [page for page in pages if f'api/{page}' not in index]
    assert not missing, f'API pages missing from the toctree of index.rst: {missing}'


@pytest.mark.parametrize('name', public_modules())
def test_all_is_importable_and_unique(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, '__all__', ())
    assert len(set(exported)) == len(exported), f'{name}.__all__ has duplicates'
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f'{name}.__all__ names {missing}, which it does not define'


def public_packages() -> list[str]:
    """The subpackages among :func:`public_modules`."""
    return [
        m for m in public_modules() if hasattr(importlib.import_module(m), '__path__')
    ]


@pytest.mark.parametrize('name', public_packages())
def test_all_is_complete(name: str) -> None:
    package = importlib.import_module(name)
    exported = set(getattr(package, '__all__', ()))
    missing = [
        f'{module.__name__}.{n}'
        for module in submodules(package)
        for n, _ in declared_public(module)
        if n not in exported
    ]
    assert not missing, (
        f'public (versionadded) names missing from {name}.__all__, so from the '
        f'API reference: {missing}'
    )


@pytest.mark.parametrize('name', public_modules())
def test_exported_classes_and_functions_have_docstrings(name: str) -> None:
    module = importlib.import_module(name)
    undocumented = [
        n
        for n in public_names(module)
        if (inspect.isclass(obj := getattr(module, n)) or inspect.isfunction(obj))
        and not (obj.__doc__ or '').strip()
    ]
    assert not undocumented, f'{name}: autodoc skips {undocumented} (no docstring)'


def test_completeness_check_catches_an_unexported_name() -> None:
    module = ModuleType('torchgeo_geossl.fake')

    def helper() -> None:
        """Help.

        .. versionadded:: 0.1
        """

    helper.__module__ = module.__name__
    module.helper = helper  # type: ignore[attr-defined]
    assert [n for n, _ in declared_public(module)] == ['helper']
    text = '.. automodule:: torchgeo_geossl.fake\n   :members:\n\nText\n'
    assert DIRECTIVE.findall(text) == [('torchgeo_geossl.fake', '   :members:\n')]


def documented_as(module: ModuleType, name: str) -> set[str]:
    """Where a public name may appear in the inventory: its package or its module."""
    places = {f'{module.__name__}.{name}'}
    obj = getattr(module, name)
    for sub in submodules(module):
        if vars(sub).get(name) is obj:
            places.add(f'{sub.__name__}.{name}')
    return places


@pytest.mark.slow
def test_built_api_reference_holds_every_public_name(tmp_path: Path) -> None:
    source = tmp_path / 'source'
    source.mkdir()
    shutil.copy(DOCS / 'conf.py', source)
    shutil.copytree(API, source / 'api')
    pages = '\n'.join(f'   api/{page.stem}' for page in sorted(API.glob('*.rst')))
    (source / 'index.rst').write_text(f'API\n===\n\n.. toctree::\n\n{pages}\n')
    build = tmp_path / 'html'
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'sphinx',
            '-q',
            '-b',
            'html',
            # autodoc and napoleon are all the API pages need; viewcode is slow
            '-D',
            'extensions=sphinx.ext.autodoc,sphinx.ext.napoleon',
            str(source),
            str(build),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(build / 'objects.inv', 'rb') as f:
        inventory = InventoryFile.load(f, '', lambda base, uri: uri)
    names = {name for entries in inventory.values() for name in entries}
    missing = [
        f'{module_name}.{name}'
        for module_name in public_modules()
        for module in [importlib.import_module(module_name)]
        for name in public_names(module)
        if not documented_as(module, name) & names
    ]
    assert not missing, f'not in the built API reference: {missing}'
