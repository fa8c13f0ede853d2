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


# What a typo may put in a folded name: any character a folded name holds.
_TYPO_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789 "


def one_typo_away(term: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from the term (Damerau-Levenshtein 1).

    Some 75 strings a letter, each looked up in the surname index: exact, and no index of variants to build.
    """
    splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
    found = {left + right[1:] for left, right in splits if right}
    found |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    found |= {left + c + right[1:] for left, right in splits if right for c in _TYPO_CHARACTERS}
    found |= {left + c + right for left, right in splits for c in _TYPO_CHARACTERS}
    found.discard(term)
    return found
