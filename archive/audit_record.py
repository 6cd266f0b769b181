"""Where an audit leaves its mark: a custody event on the ``_audit`` chain, and the moment
``--since-last`` starts from. Shared by ``osint-archive audit`` and the weekly audit DAG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from archive.anchors import AnchorResult, anchor_custody
from archive.audit import audit_custody_event
from archive.audit_report import AuditReport
from archive.custody import CustodyLog
from archive.store import ObjectNotFoundError, ObjectStore
from archive.timestamp_config import TimestampAuthority

AUDIT_CHAIN = "_audit"  # "_" cannot start a source id, so no source chain is ever named so
LAST_AUDIT_STATE = "state/audit/last.json"


def last_audit_start(store: ObjectStore) -> datetime | None:
    """When the last complete, intact audit began (None: no such audit recorded)."""
    try:
        return datetime.fromisoformat(json.loads(store.read_bytes(LAST_AUDIT_STATE))["at"])
    except (KeyError, TypeError, ValueError, ObjectNotFoundError):
        return None


def record_audit(
    store: ObjectStore, report: AuditReport, tsas: Sequence[TimestampAuthority] = ()
) -> AnchorResult:
    """Log the audit as a custody event, then anchor every chain head (stamped by ``tsas``).

    An intact audit that re-hashed everything it could also marks the point ``--since-last``
    starts from (a sample leaves objects unread). The anchor is made even when the audit
    failed: it pins the archive as found, so later changes are told apart from this damage.
    """
    CustodyLog(store, AUDIT_CHAIN).append([audit_custody_event(report)])
    if report.intact and report.mode in ("full", "since"):
        store.put_state(
            LAST_AUDIT_STATE, json.dumps({"at": report.started_at.isoformat()}).encode()
        )
    return anchor_custody(store, tsas)
