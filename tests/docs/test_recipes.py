"""The recipe tables of the docs agree with the code's defaults.

Every ``docs/user/recipes/<method>.csv`` has the header
``setting,paper,reference,default,code,reason``. For each row, ``default`` (a
Python literal) must equal the default found through ``code``:
``module:Object.param`` is the default of parameter *param* of a class's
``__init__`` or of a function, ``module:NAME`` a module attribute. Where
``default`` differs from the literal the ``reference`` column starts with, the row
must say why (``reason``). Each table is shown on its method's docs page.
"""

import ast
import csv
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'user'
RECIPES = sorted((DOCS / 'recipes').glob('*.csv'))
HEADER = ['setting', 'paper', 'reference', 'default', 'code', 'reason']
#: Separator between the reference's value and where it comes from.
SOURCE_SEPARATOR = ' — '


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == HEADER, path.name
        return list(reader)


def canonical(value: Any) -> Any:
    """Lists and tuples (also nested) as tuples."""
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values; booleans only equal booleans (True == 1 in Python)."""
    a, b = canonical(a), canonical(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def actual_default(code: str) -> Any:
    """The default that ``code`` names (see the module docstring)."""
    module_name, _, qualname = code.partition(':')
    assert module_name, f'code must be module:Object.param, got {code!r}'
    assert qualname, f'code must be module:Object.param, got {code!r}'
    module = importlib.import_module(module_name)
    owner_name, _, param = qualname.partition('.')
    owner = getattr(module, owner_name)
    if not param:
        return owner
    parameters = inspect.signature(owner).parameters
    if param in parameters:
        default = parameters[param].default
        assert default is not inspect.Parameter.empty, f'{code} has no default'
        return default
    return getattr(owner, param)


def reference_literal(reference: str) -> tuple[bool, Any]:
    """The literal the reference column starts with, if any."""
    head = reference.split(SOURCE_SEPARATOR, 1)[0].strip()
    for candidate in (head, head.split(' ', 1)[0]):
        try:
            return True, ast.literal_eval(candidate)
        except (ValueError, SyntaxError):
            continue
    return False, None


def test_there_are_recipe_tables() -> None:
    assert {path.stem for path in RECIPES} >= {'gassl', 'seco'}


@pytest.mark.parametrize('path', RECIPES, ids=lambda p: p.stem)
def test_defaults_match_the_code(path: Path) -> None:
    wrong = []
    for row in rows(path):
        documented = ast.literal_eval(row['default'])
        actual = actual_default(row['code'])
        if not same(documented, actual):
            wrong.append(
                f'{row["setting"]}: {row["code"]} is {actual!r}, table says {documented!r}'
            )
    assert not wrong, f'{path.name} disagrees with the code: ' + '; '.join(wrong)


@pytest.mark.parametrize('path', RECIPES, ids=lambda p: p.stem)
def test_differences_from_the_reference_are_explained(path: Path) -> None:
    unexplained = []
    for row in rows(path):
        assert row['setting'].strip(), row
        assert row['paper'].strip(), row
        found, reference = reference_literal(row['reference'])
        documented = ast.literal_eval(row['default'])
        if found and not same(documented, reference) and not row['reason'].strip():
            unexplained.append(row['setting'])
    assert not unexplained, f'{path.name}: no reason given for {unexplained}'


@pytest.mark.parametrize('path', RECIPES, ids=lambda p: p.stem)
def test_each_table_is_shown_on_its_page(path: Path) -> None:
    page = (DOCS / f'{path.stem}.rst').read_text(encoding='utf-8')
    assert '.. csv-table::' in page
    assert f':file: recipes/{path.name}' in page


def test_the_checks_catch_a_disagreement() -> None:
    assert not same((0.2, 1.0), [0.2, 0.9])
    assert not same(True, 1)
    assert same([120, 160], (120, 160))
    assert reference_literal("'cosine' — repo/file.py (--cos)") == (True, 'cosine')
    assert reference_literal('(120, 160) — repo/file.py') == (True, (120, 160))
    assert reference_literal('d = encoder width — repo/file.py')[0] is False
    assert actual_default('torchgeo_geossl.trainers:GeoMoCoTask.temperature') == 0.02
