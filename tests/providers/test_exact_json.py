"""Providers' JSON read and written back exactly: the canonical text is what is hashed, so
it must not change with the library that makes it (orjson, or simplejson for integers past
64 bits), and no number may pass through a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.mirror.encoding import dumps, dumps_as_is, encoded, loads
from ledgerbridge.providers.answers import exact_json

# Any Unicode text a valid JSON document can carry (a lone surrogate is not valid UTF-8).
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
)
scalars = st.one_of(st.none(), st.booleans(), texts, numbers)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def reference(value: Any, *, sort_keys: bool = True) -> str:
    """The canonical text as simplejson writes it, independently of the code under test."""
    text: str = simplejson.dumps(
        value, use_decimal=True, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False
    )
    return text


@given(documents)
def test_the_canonical_text_is_the_reference_text(document: Any) -> None:
    assert dumps(document) == reference(document)
    text, digest = encoded(document)
    assert text == reference(document) and len(digest) == 64


@given(documents)
def test_numbers_come_back_digit_for_digit(document: Any) -> None:
    assert dumps(loads(dumps(document))) == dumps(document)
    assert dumps(exact_json(dumps(document).encode())) == dumps(document)


@given(st.dictionaries(texts, scalars, max_size=6))
def test_as_is_keeps_the_order_given(document: dict[str, Any]) -> None:
    assert dumps_as_is(document) == reference(document, sort_keys=False)


def test_fractions_are_decimals_and_trailing_zeros_stay() -> None:
    body = exact_json(b'{"Total": 115.10, "Rate": 1.5E-7, "Count": 3, "Big": 1e400}')
    assert body == {
        "Total": Decimal("115.10"),
        "Rate": Decimal("1.5E-7"),
        "Count": 3,
        "Big": Decimal("1E+400"),
    }
    assert dumps(body) == '{"Big":1E+400,"Count":3,"Rate":1.5E-7,"Total":115.10}'


def test_an_answer_that_is_not_json_is_none() -> None:
    for body in (b"", b"<html>", b"\xff\xfe", b'{"a":1', b'{"a": 1} trailing'):
        assert exact_json(body) is None
