"""A word-level vocabulary built on the training reports.

Tokenization: lower-case, split on white space after separating `.,;:` from words. Index 0 is the
padding (and EDDL's "start" word: a zero one-hot row), 1 is `<end>`, 2 is `<unk>` (words not seen
in training); the others are the training words, most frequent first (ties: alphabetical).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, END, UNK = 0, 1, 2
SPECIAL = ("<pad>", "<end>", "<unk>")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return re.sub(r"([.,;:])", r" \1 ", text.lower()).split()


class Vocabulary:
    """Word <-> index mapping (see the module doc)."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = [*SPECIAL, *[w for w in words if w not in SPECIAL]]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """The vocabulary of `texts` (the training split), words seen at least `min_count` times."""
        counts = Counter(w for t in texts for w in tokenize(t))
        kept = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls(kept)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, length: int) -> np.ndarray:
        """Token indices of `text` + `<end>`, cut or padded with 0 to `length`."""
        ids = [self.index.get(w, UNK) for w in tokenize(text)][: length - 1] + [END]
        return np.array(ids + [PAD] * (length - len(ids)), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token indices up to the first `<end>` or padding."""
        out = []
        for i in ids:
            if int(i) in (PAD, END):
                break
            out.append(self.words[int(i)])
        return " ".join(out)
