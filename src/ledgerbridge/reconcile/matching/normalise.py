"""Normalisation of references, memo text and counterparty names."""

import itertools
import re
import unicodedata

_SEPARATORS = re.compile(r"[\s,;:/\\|()\[\]{}<>\"']+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NAME_SPLIT = re.compile(r"[^0-9a-z]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Legal forms and words that carry no identity in a name.
_NAME_NOISE = _words(
    "the and of ltd limited inc incorporated llc llp plc co corp corporation company "
    "gmbh ag sa sarl sas bv nv pty srl spa oy ab as kg"
)
# Words banks put in memos that say nothing about who paid.
_MEMO_NOISE = _words(
    "payment pmt paym transfer trf ref reference invoice inv from to for thank thanks you "
    "bgc bacs chq csh dd so fp fpi fpo sepa sct giro credit debit"
)


def _ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def reference_key(reference: str | None) -> str:
    """INV-00104, 'inv 00104' and INV00104 all become INV00104."""
    if not reference:
        return ""
    return _NOT_ALNUM.sub("", _ascii_fold(reference).upper())


def text_keys(text: str) -> list[str]:
    """Reference-shaped keys in a memo: each token and each pair of adjacent tokens."""
    tokens = [reference_key(token) for token in _SEPARATORS.split(text)]
    tokens = [token for token in tokens if token]
    pairs = [first + second for first, second in itertools.pairwise(tokens)]
    return tokens + pairs


def last_text_key(text: str) -> str:
    """The memo's final token, where a truncated reference would be."""
    tokens = [reference_key(token) for token in _SEPARATORS.split(text)]
    tokens = [token for token in tokens if token]
    return tokens[-1] if tokens else ""


def name_tokens(name: str | None, *, memo: bool = False) -> list[str]:
    """Lower-case ASCII words of a name, without legal forms (and memo noise words)."""
    if not name:
        return []
    noise = _NAME_NOISE | _MEMO_NOISE if memo else _NAME_NOISE
    words = _NAME_SPLIT.split(_ascii_fold(name).lower())
    return [word for word in words if word and word not in noise]


def name_blocking_keys(tokens: list[str]) -> tuple[str, ...]:
    """The first word and the longest word, each cut to six letters (truncation-proof)."""
    if not tokens:
        return ()
    first = tokens[0][:6]
    longest = max(tokens, key=len)[:6]
    return (first,) if first == longest else (first, longest)
