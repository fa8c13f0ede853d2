"""Folding of names and addresses into search words, the same at import and at query time."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters NFKD does not decompose, as French names and labels use them.
_LIGATURES = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"}
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Fuzzy matching starts at this length: below it, one typo matches too many names.
FUZZY_MIN_LENGTH = 4


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    char = _LIGATURES.get(char, char)
    return unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()


def fold(value: str) -> str:
    """Lower case, no accents, only [a-z0-9] words separated by one space."""
    value = value.lower()
    if not value.isascii():
        value = "".join(_fold_char(c) for c in value)
    return _NOT_WORD.sub(" ", value).strip()


def words(*values: str) -> list[str]:
    """The distinct folded words of some values, in order."""
    return list(dict.fromkeys(fold(" ".join(values)).split()))


def deletions(term: str) -> set[str]:
    """The term and every string one deletion away: two terms within one typo share one of these."""
    return {term} | {term[:i] + term[i + 1 :] for i in range(len(term))}


def within_one_typo(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (one substitution, insertion, deletion or transposition)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
