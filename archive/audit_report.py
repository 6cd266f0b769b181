"""The typed result of a fixity audit: totals, findings, and the options it ran with."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from archive.audit_anchors import AnchorCheck

FindingKind = Literal[
    "missing",  # referenced (by a manifest, a custody event or a revisit) but not stored
    "corrupt",  # stored bytes differ from the hash that names or records them
    "invalid_warc",  # a WARC that does not read record by record, or whose digests fail
    "custody_broken",  # a custody chain that does not verify end to end
    "orphaned",  # a capture manifest that no custody event lists
    "unreadable",  # the store failed to deliver the object (I/O or network error)
    "timestamp_invalid",  # an RFC 3161 token that no longer matches or does not verify
    "anchor_broken",  # a custody anchor altered or its token invalid, or a chain it pins rewritten
    "unreferenced",  # a payload nothing refers to, e.g. a WARC left by a crash; not a failure
]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)
# Everything but "unreferenced" means evidence or its proof is damaged or gone.
FAILING_KINDS: frozenset[FindingKind] = frozenset(k for k in FINDING_KINDS if k != "unreferenced")
AuditMode = Literal["full", "since", "sample", "since+sample"]


@dataclass(frozen=True)
class Finding:
    """One problem, named by the key it concerns; the optional fields say more where known."""

    kind: FindingKind
    key: str
    detail: str
    expected: str | None = None  # hash (or value) the archive recorded
    actual: str | None = None  # hash (or value) found now
    capture_id: str | None = None
    chain: str | None = None
    position: int | None = None  # custody sequence number where a chain broke

    @property
    def failing(self) -> bool:
        """Whether this finding makes the archive fail the audit."""
        return self.kind in FAILING_KINDS

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data, unset optional fields left out."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass
class AuditTotals:
    """What the audit went through."""

    objects: int = 0  # payload objects listed under objects/
    objects_hashed: int = 0  # of those, re-hashed in this audit (all, unless since/sample)
    bytes_hashed: int = 0
    manifests: int = 0
    transcripts: int = 0  # transcript records under transcripts/
    warcs: int = 0  # WARC objects read record by record
    warc_records: int = 0
    digests_verified: int = 0  # records whose WARC-Block/Payload-Digest warcio recomputed
    digests_unchecked: int = 0  # records without a digest warcio can check (revisits)
    revisits: int = 0
    timestamps_verified: int = 0  # RFC 3161 tokens checked against trusted roots
    timestamps_unchecked: int = 0  # tokens matching their record, with no roots to check
    revisits_verified: int = 0  # revisits whose digest matched the record they refer to
    chains: int = 0
    events: int = 0
    anchors: int = 0  # custody anchors checked (archive.audit_anchors)
    anchors_verified: int = 0  # of those, intact with a token verified against trusted roots
    anchors_unchecked: int = 0  # intact, tokens match the root, no roots to verify them
    anchors_unstamped: int = 0  # intact but without any token


@dataclass
class AuditReport:
    """Outcome of one audit; ``intact`` is the pass/fail verdict the CLI's exit code follows."""

    store: str
    mode: AuditMode
    started_at: datetime
    duration_seconds: float
    workers: int
    totals: AuditTotals = field(default_factory=AuditTotals)
    findings: list[Finding] = field(default_factory=list)
    since: datetime | None = None
    sample: float | None = None
    seed: int | None = None  # seeds the sample choice; pass it again to audit the same objects
    anchors: list[AnchorCheck] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when no finding is a failure (unreferenced objects are reported, not failed)."""
        return not any(finding.failing for finding in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.failing]

    @property
    def megabytes_per_second(self) -> float:
        """Re-hashing throughput in MB/s (10^6 bytes) over the whole audit's duration."""
        if self.duration_seconds <= 0:
            return 0.0
        return self.totals.bytes_hashed / 1e6 / self.duration_seconds

    def counts(self) -> dict[str, int]:
        """Number of findings of each kind, every kind present (zero when none)."""
        counts: dict[str, int] = dict.fromkeys(FINDING_KINDS, 0)
        for finding in self.findings:
            counts[finding.kind] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``to_json`` writes it)."""
        return {
            "intact": self.intact,
            "store": self.store,
            "mode": self.mode,
            "since": self.since.isoformat() if self.since else None,
            "sample": self.sample,
            "seed": self.seed,
            "workers": self.workers,
            "started_at": self.started_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "megabytes_per_second": round(self.megabytes_per_second, 1),
            "totals": asdict(self.totals),
            "counts": self.counts(),
            "findings": [finding.to_dict() for finding in self.findings],
            "anchors": [check.to_dict() for check in self.anchors],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text, for ``osint-archive audit --json``."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
