"""Where an audit leaves its mark: a custody event on the ``_audit`` chain, and the moment
``--since-last`` starts from. Shared by ``osint-archive audit`` and the weekly audit DAG."""

from __future__ import annotations

import json
from datetime import datetime

from archive.audit import audit_custody_event
from archive.audit_report import AuditReport
from archive.custody import CustodyLog
from archive.store import ObjectNotFoundError, ObjectStore

AUDIT_CHAIN = "_audit"  # "_" cannot start a source id, so no source chain is ever named so
LAST_AUDIT_STATE = "state/audit/last.json"


def last_audit_start(store: ObjectStore) -> datetime | None:
    """When the last complete, intact audit began (None: no such audit recorded)."""
    try:
        return datetime.fromisoformat(json.loads(store.read_bytes(LAST_AUDIT_STATE))["at"])
    except (KeyError, TypeError, ValueError, ObjectNotFoundError):
        return None


def record_audit(store: ObjectStore, report: AuditReport) -> None:
    """Log the audit as a custody event; an intact audit that re-hashed everything it could
    also marks the point ``--since-last`` starts from (a sample leaves objects unread)."""
    CustodyLog(store, AUDIT_CHAIN).append([audit_custody_event(report)])
    if report.intact and report.mode in ("full", "since"):
        store.put_state(
            LAST_AUDIT_STATE, json.dumps({"at": report.started_at.isoformat()}).encode()
        )
