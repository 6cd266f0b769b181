"""Custody anchors: the heads of every custody chain, combined into one Merkle root.

A chain's own hashes show that it was not edited *unless* someone recomputed them all; its
head hint under ``state/`` is mutable. An anchor pins each head (chain, sequence, hash) in an
immutable record ``anchors/<UTC time>-<root prefix>.json``; with a TSA configured, the root
itself is stamped with RFC 3161 (token beside the record, ``<anchor key>.<tsa name>.tsr``), so
a third party can prove that these heads existed at the token's time. A chain may only grow
after an anchor: ``archive.audit_anchors`` finds any head that changed.

The tree is RFC 6962's (Certificate Transparency): leaf hash ``SHA-256(0x00 || leaf)``, node
hash ``SHA-256(0x01 || left || right)``, the left subtree holding the largest power of two
below the leaf count. A leaf is the UTF-8 text ``<chain> <seq> <event hash>``; leaves are in
the order of chain names (bytewise). The tree (unlike a plain hash of the list) lets one
chain's head be proven later with a few sibling hashes, without naming the other chains.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.custody import CustodyLog, custody_chains
from archive.store import ObjectNotFoundError, ObjectStore
from archive.timestamp_config import TimestampAuthority
from archive.timestamps import TimestampError, stamp_digest, token_key, token_keys_for

ANCHOR_PREFIX = "anchors/"
ANCHOR_FORMAT = "osint-archive-custody-anchor/1"
TREE_DESCRIPTION = (
    "RFC 6962 Merkle tree, SHA-256: leaf = SHA-256(0x00 || '<chain> <seq> <hash>'), "
    "node = SHA-256(0x01 || left || right); leaves sorted by chain name"
)
ROOT_PREFIX_LENGTH = 16
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, order=True)
class ChainHead:
    """The last event of one custody chain when the anchor was made."""

    chain: str
    seq: int
    hash: str

    @property
    def leaf(self) -> bytes:
        """The bytes this head contributes to the tree."""
        return f"{self.chain} {self.seq} {self.hash}".encode()


@dataclass(frozen=True)
class Anchor:
    """An anchor record: when it was made, every chain head, their root, and its predecessor
    (``previous_key``/``previous_root``), so that removing an older anchor shows."""

    key: str
    created_at: datetime
    heads: tuple[ChainHead, ...]
    root: str
    previous_key: str | None = None
    previous_root: str | None = None

    def to_json(self) -> bytes:
        """The record's stored bytes."""
        document: dict[str, Any] = {
            "format": ANCHOR_FORMAT,
            "created_at": self.created_at.isoformat(),
            "tree": TREE_DESCRIPTION,
            "root": self.root,
            "heads": [{"chain": h.chain, "seq": h.seq, "hash": h.hash} for h in self.heads],
            "previous": (
                {"key": self.previous_key, "root": self.previous_root}
                if self.previous_key
                else None
            ),
        }
        return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, key: str, data: bytes) -> Anchor:
        """Parse a stored record; ``ValueError`` names what is malformed."""
        try:
            document = json.loads(data)
            if document.get("format") != ANCHOR_FORMAT:
                raise ValueError(f"format is not {ANCHOR_FORMAT!r}")
            heads = tuple(
                ChainHead(str(h["chain"]), int(h["seq"]), str(h["hash"])) for h in document["heads"]
            )
            for digest in (document["root"], *(h.hash for h in heads)):
                if not _SHA256_HEX.match(str(digest)):
                    raise ValueError(f"{digest!r} is not a hex SHA-256")
            previous = document.get("previous") or {}
            return cls(
                key=key,
                created_at=datetime.fromisoformat(document["created_at"]),
                heads=heads,
                root=str(document["root"]),
                previous_key=previous.get("key"),
                previous_root=previous.get("root"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a custody anchor record: {err!r}") from err


@dataclass(frozen=True)
class AnchorResult:
    """What anchoring did: the anchor (None: no chain exists yet), whether it was new, the
    token keys stored beside it, and why a TSA failed ("" when none did)."""

    anchor: Anchor | None
    created: bool
    token_keys: list[str] = field(default_factory=list)
    stamp_error: str = ""


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)  # largest power of two below the count
    return _node_hash(_subtree_root(hashes[:split]), _subtree_root(hashes[split:]))


def merkle_root(heads: Sequence[ChainHead]) -> str:
    """Hex root of the RFC 6962 tree over ``heads`` in chain order (SHA-256 of nothing for
    no heads, as RFC 6962 defines the empty tree)."""
    ordered = sorted(heads)
    if not ordered:
        return hashlib.sha256(b"").hexdigest()
    return _subtree_root([_leaf_hash(head.leaf) for head in ordered]).hex()


def current_heads(store: ObjectStore) -> list[ChainHead]:
    """The head of every chain as stored now; the hash is read from the head event itself,
    not from the ``state/`` hint."""
    heads = []
    for chain in custody_chains(store):
        log = CustodyLog(store, chain)
        seq, _ = log.head()
        event = log.event(seq) if seq else None
        if event is not None and isinstance(event.get("hash"), str):
            heads.append(ChainHead(chain, seq, event["hash"]))
    return heads


def anchor_keys(store: ObjectStore) -> Iterator[str]:
    """Keys of every anchor record, oldest first (the key starts with its UTC time)."""
    return (key for key in store.list_keys(ANCHOR_PREFIX) if key.endswith(".json"))


def latest_anchor(store: ObjectStore) -> Anchor | None:
    """The newest readable anchor, or None."""
    keys = list(anchor_keys(store))  # one record per run or audit: a short list
    for key in reversed(keys):
        try:
            return Anchor.from_json(key, store.read_bytes(key))
        except (ValueError, ObjectNotFoundError):
            continue
    return None


def anchor_key(created_at: datetime, root: str) -> str:
    """``anchors/<YYYYMMDDTHHMMSSffffffZ>-<root prefix>.json``: sorts by time, names the root."""
    return f"{ANCHOR_PREFIX}{created_at:%Y%m%dT%H%M%S%fZ}-{root[:ROOT_PREFIX_LENGTH]}.json"


def anchor_custody(store: ObjectStore, tsas: Sequence[TimestampAuthority] = ()) -> AnchorResult:
    """Anchor the heads of every custody chain, and stamp the root with each TSA.

    When the heads are those of the newest anchor, no new anchor is written (anchoring is
    idempotent); a TSA whose token that anchor lacks is asked again, so a retry fills the
    gap an outage left. A failing TSA does not stop the anchor: it is stored unstamped and
    ``stamp_error`` says why.
    """
    heads = tuple(sorted(current_heads(store)))
    if not heads:
        return AnchorResult(None, created=False)
    root = merkle_root(heads)
    previous = latest_anchor(store)
    if previous is not None and previous.root == root and previous.heads == heads:
        anchor, created = previous, False
    else:
        now = datetime.now(UTC)
        anchor = Anchor(
            key=anchor_key(now, root),
            created_at=now,
            heads=heads,
            root=root,
            previous_key=previous.key if previous else None,
            previous_root=previous.root if previous else None,
        )
        store.put_record(anchor.key, anchor.to_json())
        created = True
    missing = [tsa for tsa in tsas if not store.exists(token_key(anchor.key, tsa.name))]
    error = ""
    for tsa in missing:
        try:
            (token,) = stamp_digest(bytes.fromhex(root), [tsa]).values()
        except TimestampError as err:
            error = error or str(err)
            continue
        store.put_record(token_key(anchor.key, tsa.name), token)
    return AnchorResult(anchor, created, token_keys_for(store, anchor.key), error)
