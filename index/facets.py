"""Facet counts ranked and cut the same way on every search backend."""

from __future__ import annotations

from collections.abc import Mapping

from index.backend import MAX_FACET_SIZE, FacetCount


def check_facet_size(size: int) -> None:
    """Raise ValueError unless ``size`` values per facet can be asked for."""
    if not 1 <= size <= MAX_FACET_SIZE:
        raise ValueError(f"facet size must be between 1 and {MAX_FACET_SIZE}")


def top_counts(counts: Mapping[str, int], size: int) -> tuple[FacetCount, ...]:
    """The ``size`` values with the most documents, by count descending then value
    ascending (a stable order for ties, the same on every backend)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(FacetCount(value, count) for value, count in ranked[:size] if count > 0)
