"""The captures an export packages, held as manifest keys and read from the store when used.

A selection can name millions of captures; a parsed manifest takes several kilobytes of
memory, its key about a hundred bytes. Export walks the selection a few times (plan, pages,
evidence, summary, custody), so each walk reads the manifests again instead of keeping them
all: export memory stays flat in the number of captures, bar the small per-capture strings
the package index itself needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from archive.manifest import CaptureManifest, read_manifest
from archive.store import ObjectStore


class StoredManifests(Sequence[CaptureManifest]):
    """A read-only sequence of capture manifests, each read from ``store`` when accessed."""

    def __init__(self, store: ObjectStore, keys: Sequence[str]) -> None:
        self._store = store
        self._keys = tuple(keys)

    @property
    def keys(self) -> tuple[str, ...]:
        """The manifest keys, in order."""
        return self._keys

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> CaptureManifest: ...

    @overload
    def __getitem__(self, index: slice) -> StoredManifests: ...

    def __getitem__(self, index: int | slice) -> CaptureManifest | StoredManifests:
        if isinstance(index, slice):
            return StoredManifests(self._store, self._keys[index])
        return read_manifest(self._store, self._keys[index])

    def __iter__(self) -> Iterator[CaptureManifest]:
        for key in self._keys:
            yield read_manifest(self._store, key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable like them

    def __repr__(self) -> str:
        return f"StoredManifests({len(self._keys)} captures)"
