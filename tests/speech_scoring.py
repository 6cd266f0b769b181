"""Word error rate as speech-recognition tests and benchmarks measure it.

Both texts are normalised the same way first: lower case, «ё» as «е», numerals spelled out in
the recording's language (the model writes "12" for «двенадцать»), punctuation removed.
"""

from __future__ import annotations

import re

from num2words import num2words

_NUMBER = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalised_words(text: str, language: str) -> list[str]:
    """The words of ``text`` after normalisation."""
    text = text.lower().replace("ё", "е")
    text = _NUMBER.sub(lambda m: f" {num2words(int(m.group()), lang=language)} ", text)
    return _NOT_WORD.sub(" ", text).split()


def word_error_rate(reference: str, hypothesis: str, language: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref = normalised_words(reference, language)
    hyp = normalised_words(hypothesis, language)
    if not ref:
        raise ValueError("the reference has no words")
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            best = min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word))
            diagonal, row[j] = row[j], best
    return row[len(hyp)] / len(ref)
