"""Normalisation of references, memo text and counterparty names."""

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Prefix

_SEPARATORS = re.compile(r"[\s,;:/\\|()\[\]{}<>\"']+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NAME_SPLIT = re.compile(r"[^0-9a-z]+")


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Legal forms and words that carry no identity in a name.
_NAME_NOISE = word_set(
    "the and of ltd limited inc incorporated llc llp plc co corp corporation company "
    "gmbh ag sa sarl sas bv nv pty srl spa oy ab as kg"
)
# Words banks put in memos that say nothing about who paid.
_MEMO_NOISE = word_set(
    "payment pmt paym transfer trf ref reference invoice inv from to for thank thanks you "
    "bgc bacs chq csh dd so fp fpi fpo sepa sct giro credit debit"
)


def _ascii_fold(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ẞ", "SS"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def reference_key(reference: str | None) -> str:
    """INV-00104, 'inv 00104' and INV00104 all become INV00104."""
    if not reference:
        return ""
    return _NOT_ALNUM.sub("", _ascii_fold(reference).upper())


def _text_tokens(text: str) -> list[str]:
    tokens = [reference_key(token) for token in _SEPARATORS.split(_ascii_fold(text))]
    return [token for token in tokens if token]


def memo_keys(text: str) -> tuple[list[str], str]:
    """Reference-shaped keys in a memo (each token and each pair of adjacent tokens),
    and its final token, where a truncated reference would be."""
    tokens = _text_tokens(text)
    pairs = [first + second for first, second in itertools.pairwise(tokens)]
    return tokens + pairs, tokens[-1] if tokens else ""


def name_tokens(name: str | None, *, memo: bool = False) -> list[str]:
    """Lower-case ASCII words of a name, without legal forms (and, in a memo, without
    noise words and anything holding a digit, such as invoice numbers)."""
    if not name:
        return []
    noise = _NAME_NOISE | _MEMO_NOISE if memo else _NAME_NOISE
    words = _NAME_SPLIT.split(_ascii_fold(name).lower())
    return [
        word
        for word in words
        if word and word not in noise and not (memo and any(c.isdigit() for c in word))
    ]


@functools.lru_cache(maxsize=1 << 16)
def name_forms(name: str | None) -> tuple[tuple[str, ...], str]:
    """A name's words without legal forms (as `name_tokens`), and all its words, legal
    forms kept: the form a bank cuts short. One accent fold for both."""
    if not name:
        return (), ""
    words = [word for word in _NAME_SPLIT.split(_ascii_fold(name).lower()) if word]
    return tuple(word for word in words if word not in _NAME_NOISE), " ".join(words)


# A name this long that starts another one is taken for that name cut short by a bank.
TRUNCATED_NAME_LENGTH = 10


@functools.lru_cache(maxsize=1 << 18)
def name_similarity(first: str, first_full: str, second: str, second_full: str) -> float:
    """0-100: word-order-free similarity of normalised names, or, when one of them is a
    bank's truncation (``HARBOUR JOINERY LI``), its similarity with the start of the
    other's full name (legal form included)."""
    best = float(fuzz.token_sort_ratio(first, second))
    if best >= 100:
        return best
    for short, long in ((first_full, second_full), (second_full, first_full)):
        if TRUNCATED_NAME_LENGTH <= len(short) < len(long):
            best = max(best, float(fuzz.ratio(short, long[: len(short)])))
        if best < 100 and _cut_within(short, long):
            best = 100.0
    return best


def name_similarities(
    firsts: Sequence[str],
    first_fulls: Sequence[str],
    seconds: Sequence[str],
    second_fulls: Sequence[str],
) -> npt.NDArray[np.float64]:
    """`name_similarity` of many pairs of names at once, with the same results."""
    best = pairwise_ratios(fuzz.token_sort_ratio, firsts, seconds)
    first_lengths = np.fromiter(map(len, first_fulls), np.int64, len(first_fulls))
    second_lengths = np.fromiter(map(len, second_fulls), np.int64, len(second_fulls))
    for shorts, longs, short_lengths, long_lengths in (
        (first_fulls, second_fulls, first_lengths, second_lengths),
        (second_fulls, first_fulls, second_lengths, first_lengths),
    ):
        long_enough = short_lengths >= TRUNCATED_NAME_LENGTH
        cut = np.flatnonzero(long_enough & (short_lengths < long_lengths)).tolist()
        ratios = pairwise_ratios(
            fuzz.ratio,
            [shorts[at] for at in cut],
            [
                longs[at][:length]
                for at, length in zip(cut, short_lengths[cut].tolist(), strict=True)
            ],
        )
        best[cut] = np.maximum(best[cut], ratios)
        # A cut name is at least TRUNCATED_NAME_LENGTH long and shorter than the full one.
        maybe = np.flatnonzero(
            long_enough & (long_lengths > TRUNCATED_NAME_LENGTH) & (best < 100)
        ).tolist()
        within = _cuts_within([shorts[at] for at in maybe], [longs[at] for at in maybe])
        best[np.asarray(maybe, np.int64)[within]] = 100.0
    return best


def pairwise_ratios(
    scorer: Callable[..., float], firsts: Sequence[str], seconds: Sequence[str]
) -> npt.NDArray[np.float64]:
    """`scorer(firsts[i], seconds[i])` for every i, in one call."""
    if not firsts:
        return np.zeros(0)
    found: npt.NDArray[np.float64] = process.cpdist(
        firsts, seconds, scorer=scorer, dtype=np.float64
    )
    return found


def _cut_within(text: str, name: str) -> bool:
    """Whether `text` holds `name` as a bank cuts it: its words in order, the last one
    cut short (``ZEPHYR CYCLES ZURI BATCH`` for Zephyr Cycles Zürich LLP), at least
    TRUNCATED_NAME_LENGTH characters of it."""
    if len(text) < TRUNCATED_NAME_LENGTH or name.split(" ", 1)[0] not in text:
        return False  # the cheap refusal, for most pairs
    words, name_words = text.split(), name.split()
    if not name_words or name_words[0] not in words:
        return False
    start = words.index(name_words[0])
    for position, word in enumerate(words[start:]):
        if position >= len(name_words):
            return False
        if word != name_words[position]:
            cut = " ".join([*name_words[:position], word])
            return name_words[position].startswith(word) and len(cut) >= TRUNCATED_NAME_LENGTH
    return False


def _cuts_within(texts: Sequence[str], names: Sequence[str]) -> npt.NDArray[np.bool_]:
    """`_cut_within` of many pairs of normalised names (words of ``[0-9a-z]`` joined by
    single spaces), with the same results, in string operations: from the first word
    of the text that is the name's first word, the text and the name agree up to the
    end of a text word that stops inside a name word."""
    found = np.zeros(len(texts), bool)
    places, tails, held = [], [], []
    for at, (text, name) in enumerate(zip(texts, names, strict=True)):
        first = name.partition(" ")[0]
        if len(text) < TRUNCATED_NAME_LENGTH or first not in text:  # the cheap refusal
            continue
        start = f" {text} ".find(f" {first} ")
        if start >= 0:
            places.append(at)
            tails.append(text[start:])
            held.append(name)
    common = pairwise_ratios(Prefix.similarity, tails, held).astype(np.int64).tolist()
    for at, tail, name, length in zip(places, tails, held, common, strict=True):
        found[at] = (
            TRUNCATED_NAME_LENGTH <= length < len(name)
            and name[length] != " "
            and (length == len(tail) or tail[length] == " ")
        )
    return found


def name_blocking_keys(tokens: Sequence[str]) -> tuple[str, ...]:
    """Most specific first: the first two words (a whole name, mostly), then the first
    word and the longest word, each cut to six letters (truncation-proof)."""
    if not tokens:
        return ()
    first = tokens[0][:6]
    longest = max(tokens, key=len)[:6]
    keys = (f"{tokens[0]} {tokens[1]}",) if len(tokens) > 1 else ()
    return (*keys, first) if first == longest else (*keys, first, longest)
