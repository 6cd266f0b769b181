"""The audit's anchor pass: every custody anchor still holds, and every chain only grew since.

For each record under ``anchors/``: the Merkle root recomputes from the heads it lists; its
RFC 3161 tokens verify against that root; its predecessor is still stored with the root it
names; and each listed head is still the event at that sequence of that chain, with that hash.
A forger who rewrites a chain consistently (every hash recomputed) and its ``state/`` hint
fails the last check, named by chain, anchor and sequence.

Each anchor gets one of four outcomes: ``passed`` (stamped, token verified), ``unstamped`` (no
token: the anchor holds but only as far as the archive itself can be trusted),
``not_checked`` (tokens match the root but no trusted roots are configured) or ``failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from archive.anchors import Anchor, anchor_keys, merkle_root
from archive.audit_report import Finding
from archive.custody import CustodyLog
from archive.store import ObjectNotFoundError, ObjectStore
from archive.timestamps import CheckOutcome, token_keys_for, verify_timestamp

AnchorOutcome = Literal["passed", "unstamped", "not_checked", "failed"]


@dataclass(frozen=True)
class AnchorCheck:
    """What the audit found for one anchor."""

    key: str
    outcome: AnchorOutcome
    root: str | None = None
    created_at: str | None = None
    chains: int = 0
    tokens: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data for ``audit --json``."""
        return {
            "key": self.key,
            "outcome": self.outcome,
            "root": self.root,
            "created_at": self.created_at,
            "chains": self.chains,
            "tokens": self.tokens,
            "reason": self.reason,
        }


class _HeadReader:
    """Event hashes by (chain, sequence), each event read once however many anchors name it."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.cache: dict[tuple[str, int], str | None] = {}

    def hash_of(self, chain: str, seq: int) -> str | None:
        if (chain, seq) not in self.cache:
            event = CustodyLog(self.store, chain).event(seq) if "/" not in chain else None
            found = event.get("hash") if event is not None else None
            self.cache[(chain, seq)] = found if isinstance(found, str) else None
        return self.cache[(chain, seq)]


def check_anchors(
    store: ObjectStore, trusted_roots_pem: bytes | None, findings: list[Finding]
) -> list[AnchorCheck]:
    """Verify every anchor; failures are added to ``findings`` (kind ``anchor_broken``)."""
    heads = _HeadReader(store)
    return [
        _check_anchor(store, key, trusted_roots_pem, heads, findings) for key in anchor_keys(store)
    ]


def _check_anchor(
    store: ObjectStore,
    key: str,
    trusted_roots_pem: bytes | None,
    heads: _HeadReader,
    findings: list[Finding],
) -> AnchorCheck:
    def fail(detail: str, **extra: Any) -> None:
        findings.append(Finding("anchor_broken", key, detail, **extra))

    try:
        anchor = Anchor.from_json(key, store.read_bytes(key))
    except (ValueError, ObjectNotFoundError) as err:
        fail(str(err))
        return AnchorCheck(key, "failed", reason=str(err))
    before = len(findings)
    recomputed = merkle_root(anchor.heads)
    if recomputed != anchor.root:
        fail(
            "the Merkle root does not recompute from the heads listed (record altered)",
            expected=anchor.root,
            actual=recomputed,
        )
    elif not key.rsplit("/", 1)[-1].removesuffix(".json").endswith(anchor.root[:16]):
        fail("the key does not name the root the record holds", actual=anchor.root)
    _check_previous(store, anchor, fail)
    for head in anchor.heads:
        found = heads.hash_of(head.chain, head.seq)
        if found != head.hash:
            what = "no longer exists" if found is None else f"now has hash {found}"
            fail(
                f"chain {head.chain}: event {head.seq}, anchored with hash {head.hash}, {what}: "
                f"the chain was rewritten or cut at or before event {head.seq}",
                expected=head.hash,
                actual=found,
                chain=head.chain,
                position=head.seq,
            )
    # The token stamps the root the record states: an altered root fails above, not here.
    outcomes = []
    for token in token_keys_for(store, key):
        check = verify_timestamp(
            store.read_bytes(token), bytes.fromhex(anchor.root), trusted_roots_pem
        )
        outcomes.append(check.outcome)
        if check.outcome is CheckOutcome.FAILED:
            findings.append(Finding("anchor_broken", token, f"token of {key}: {check.reason}"))
    return AnchorCheck(
        key,
        _outcome(len(findings) > before, outcomes),
        root=anchor.root,
        created_at=anchor.created_at.isoformat(),
        chains=len(anchor.heads),
        tokens=len(outcomes),
        reason="; ".join(f.detail for f in findings[before:]),
    )


def _check_previous(store: ObjectStore, anchor: Anchor, fail: Callable[..., None]) -> None:
    if not anchor.previous_key:
        return
    try:
        previous = Anchor.from_json(anchor.previous_key, store.read_bytes(anchor.previous_key))
    except ObjectNotFoundError:
        fail(f"the anchor before it, {anchor.previous_key}, is not stored")
        return
    except ValueError:
        return  # reported when that record itself is checked
    if previous.root != anchor.previous_root:
        fail(
            f"the anchor before it, {anchor.previous_key}, holds another root",
            expected=anchor.previous_root,
            actual=previous.root,
        )


def _outcome(failed: bool, tokens: Iterable[CheckOutcome]) -> AnchorOutcome:
    outcomes = set(tokens)
    if failed or CheckOutcome.FAILED in outcomes:
        return "failed"
    if not outcomes:
        return "unstamped"
    return "passed" if CheckOutcome.PASSED in outcomes else "not_checked"
