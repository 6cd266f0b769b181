"""Sentence-sized segments from word timings.

The batched pipeline decodes up to 30 s of speech in one pass and returns it as one segment;
investigators cite the second a sentence was said, so each pass is split at sentence ends and
at pauses, using the word timestamps the model aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
PAUSE_SECONDS = 0.5  # a silence this long between words starts a new segment


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    word: str  # as the tokenizer gives it, with its leading space
    probability: float


def split_words(words: Sequence[TimedWord]) -> list[list[TimedWord]]:
    """Consecutive runs of words, ended by sentence punctuation or a pause."""
    runs: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    for word in words:
        if current and word.start - current[-1].end >= PAUSE_SECONDS:
            runs.append(current)
            current = []
        current.append(word)
        if word.word.strip().endswith(SENTENCE_END):
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def run_text(words: Sequence[TimedWord]) -> str:
    return "".join(word.word for word in words).strip()
