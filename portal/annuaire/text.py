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


class _FoldTable(dict):
    """str.translate table of a lower-cased character to its folded letters, or a space for any other."""

    def __missing__(self, code: int) -> str:
        value = _NOT_WORD.sub(" ", _fold_char(chr(code)))
        self[code] = value
        return value


FOLD_TABLE = _FoldTable()
for _code in (*range(0x250), *range(0x2000, 0x2070)):  # ASCII, Latin-1, Latin Extended A/B, punctuation
    FOLD_TABLE[_code]  # noqa: B018 - fills the table


def fold(value: str) -> str:
    """Lower case, no accents, only [a-z0-9] words separated by one space."""
    return " ".join(value.lower().translate(FOLD_TABLE).split())


def words(*values: str) -> list[str]:
    """The distinct folded words of some values, in order."""
    return list(dict.fromkeys(fold(" ".join(values)).split()))


class FoldCache(dict):
    """fold() of values that repeat across the rows of a file, one lookup in C for a known value."""

    def __init__(self, size: int = 500_000):
        super().__init__()
        self.size = size

    def __missing__(self, key: str) -> str:
        if len(self) >= self.size:
            self.clear()
        found = self[key] = fold(key)
        return found


class WordCache(dict):
    """The distinct folded words of values, or of tuples of values, that repeat across the rows of a file.

    A dict, so that a known value costs one lookup in C: `cache[value]` folds only the new ones.
    """

    def __init__(self, size: int = 500_000):
        super().__init__()
        self.size = size

    def __missing__(self, key: str | tuple[str, ...]) -> tuple[str, ...]:
        if len(self) >= self.size:
            self.clear()
        value = fold(key if isinstance(key, str) else " ".join(key)).split()
        found = self[key] = tuple(dict.fromkeys(value))
        return found


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
    return a[i + 1 :] == b[i + 1 :] or (a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :])
