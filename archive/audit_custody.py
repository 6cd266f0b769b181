"""The audit's custody pass: every chain verified end to end, every event indexed.

``CustodyLog.verify`` finds edited, removed and reordered events; the events themselves are
then read for what they record: the manifest hash of each capture (``captured``), the WARCs
stored (``stored``), the transcript records (``transcribed``), and any payload key an event
of any type names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from archive.audit_lookup import AuditLookup
from archive.audit_records import Listed, event_key, parallel_map
from archive.audit_report import Finding
from archive.custody import ChainCheck, CustodyLog, custody_chains
from archive.keys import sha256_of_payload_key
from archive.store import ObjectNotFoundError, ObjectStore


def _run_day_of_warc(chain: str, filename: str) -> str | None:
    """``YYYY/MM/DD`` from a segment name ``<source>-<run id>-<n>.warc.gz`` (run id starts
    with the run day), which is where the segment's manifests are filed."""
    if not filename.startswith(f"{chain}-"):
        return None
    day = filename[len(chain) + 1 :][:8]
    return f"{day[:4]}/{day[4:6]}/{day[6:]}" if day.isdigit() and len(day) == 8 else None


def _payload_keys_in(value: Any) -> Iterator[str]:
    """Payload keys anywhere in an event's details (events of any type may name payloads)."""
    if isinstance(value, str):
        if sha256_of_payload_key(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _payload_keys_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _payload_keys_in(item)


def _index_event(lookup: AuditLookup, chain: str, seq: int, event: dict[str, Any]) -> None:
    referrer = f"custody event {event_key(chain, seq)}"
    subject = event.get("subject")
    details = event.get("details")
    details = details if isinstance(details, dict) else {}
    for key in {*(_payload_keys_in(subject)), *_payload_keys_in(details)}:
        lookup.add_reference(key, referrer)
    if not isinstance(subject, str):
        return
    kind = event.get("type")
    filename = details.get("filename")
    if kind == "stored" and isinstance(filename, str) and ".warc" in filename:
        lookup.add_warc(subject, _run_day_of_warc(chain, filename))
    elif kind == "transcribed" and isinstance(details.get("record_sha256"), str):
        lookup.add_transcript(subject, details["record_sha256"], event_key(chain, seq))
    elif kind == "timestamped":
        lookup.add_tokens(map(str, details.get("tokens") or []), chain)
    elif kind == "captured":
        # The subject is the segment these captures were filed in; whether it is a WARC is
        # left to the `stored` event, the manifests and the object's own first bytes.
        for listed in details.get("captures") or []:
            if isinstance(listed, list) and len(listed) == 2:
                capture_id, manifest_sha256 = str(listed[0]), str(listed[1])
                lookup.add_listed(capture_id, Listed(manifest_sha256, chain, seq, subject))


def _read_event(store: ObjectStore, key: str) -> tuple[str, dict[str, Any] | None]:
    try:
        event = json.loads(store.read_bytes(key))
    except (ValueError, ObjectNotFoundError):
        return key, None  # the chain check reports it
    return key, event if isinstance(event, dict) else None


def check_custody(
    store: ObjectStore, pool: Executor, window: int, lookup: AuditLookup, findings: list[Finding]
) -> int:
    """Verify every chain end to end and record in ``lookup`` what its events say; returns
    the number of chains."""
    chains = custody_chains(store)
    for stray in (k for k in store.list_keys("custody/") if k.count("/") != 2):
        findings.append(Finding("custody_broken", stray, "a file outside every custody chain"))

    def verify(chain: str) -> ChainCheck:
        return CustodyLog(store, chain).verify()

    for check in parallel_map(pool, verify, chains, window):
        if not check.intact:
            position = check.broken_at or 0
            findings.append(
                Finding(
                    "custody_broken",
                    event_key(check.chain, position),
                    f"chain {check.chain} breaks at event {position}: {check.reason}",
                    chain=check.chain,
                    position=position,
                )
            )

    def event_keys() -> Iterator[str]:
        # Streamed from the listing and counted on the way: never a list of every event.
        for key in store.list_keys("custody/"):
            if key.endswith(".json"):
                lookup.events += 1
                yield key

    for key, event in parallel_map(pool, lambda k: _read_event(store, k), event_keys(), window):
        _, chain, name = key.split("/", 2)
        if event is not None and name[:-5].isdigit():
            _index_event(lookup, chain, int(name[:-5]), event)
    return len(chains)
