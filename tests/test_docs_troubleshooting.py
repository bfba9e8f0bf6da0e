"""The troubleshooting page quotes messages that the code still raises.

Each message quoted in a term of ``docs/user/troubleshooting.rst`` is split at its
placeholders (``<name>`` and ``...``); the longest fixed part must appear, word for
word, in a string literal of this package or of TorchGeo (f-string fields are left
out, and a few consecutive literals of one file are joined, as messages are often
built in pieces). A message that was reworded or removed fails this test: update
the page with it.
"""

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import torchgeo

import torchgeo_geossl

PAGE = Path(__file__).resolve().parents[1] / 'docs' / 'user' / 'troubleshooting.rst'
SOURCES = (Path(torchgeo_geossl.__file__).parent, Path(torchgeo.__file__).parent)
#: How many consecutive string literals of a file may form one message.
JOIN = 3


def words(text: str) -> list[str]:
    """The words of a text, without punctuation."""
    return re.findall(r'[A-Za-z][A-Za-z0-9_]*', text)


def literals(tree: ast.AST) -> list[str]:
    """String literals and f-strings (without their fields) in source order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = ' '.join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        found.append((node.lineno, node.col_offset, text))
    return [text for *_, text in sorted(found)]


@cache
def message_texts() -> tuple[str, ...]:
    """Word sequences of every literal, and of up to JOIN consecutive ones."""
    texts = []
    for root in SOURCES:
        for path in sorted(root.rglob('*.py')):
            pieces = [' '.join(words(t)) for t in literals(ast.parse(path.read_text()))]
            for n in range(1, JOIN + 1):
                texts += [
                    ' '.join(pieces[i : i + n]) for i in range(len(pieces) - n + 1)
                ]
    return tuple(texts)


def quoted_messages() -> list[str]:
    """Messages quoted in the terms of the definition lists of the page."""
    terms = [line for line in PAGE.read_text().splitlines() if line.startswith('``')]
    messages = [m for term in terms for m in re.findall(r'``(.+?)``(?:, |$)', term)]
    # The exception or warning class is not part of the message text
    return [re.sub(r'^\w+(?:Error|Warning): ', '', m) for m in messages]


def longest_fixed_part(message: str) -> str:
    """The longest stretch of a quoted message between placeholders, as words."""
    parts = re.split(r'<[^>]*>|\.\.\.', message)
    return ' '.join(words(max(parts, key=lambda p: len(words(p)))))


def test_the_page_quotes_messages() -> None:
    assert len(quoted_messages()) >= 20


@pytest.mark.parametrize('message', quoted_messages())
def test_quoted_message_is_in_the_code(message: str) -> None:
    fixed = longest_fixed_part(message)
    assert len(fixed.split()) >= 3, f'quote more of the message: {message!r}'
    assert any(fixed in text for text in message_texts()), (
        f'{PAGE.name} quotes {message!r}, but no string of torchgeo_geossl or '
        f'TorchGeo contains {fixed!r}'
    )


def test_a_reworded_message_is_not_found() -> None:
    fixed = longest_fixed_part('views=<V> but no location has enough dates at all')
    assert fixed == 'but no location has enough dates at all'
    assert not any(fixed in text for text in message_texts())
