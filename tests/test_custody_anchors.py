"""Custody anchors: every run and audit pins the chain heads, and the audit holds them to it.

The archive comes from a real ``osint-archive run`` over the demo site with the test TSA
configured; forgeries are made on private copies the way an intruder with file access would.
Smaller archives for the anchor record itself are built with the custody log's own API.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.anchors import (
    Anchor,
    ChainHead,
    anchor_custody,
    anchor_keys,
    current_heads,
    latest_anchor,
    merkle_root,
)
from archive.custody import GENESIS_HASH, CustodyEvent, CustodyLog, event_hash
from archive.local_store import LocalStore
from archive.timestamp_config import TimestampAuthority
from osint_archive.demo_site import DemoSite
from tests.cli_runs import REPO, run_cli, write_web_source
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    LocalTsa,
    TsaPki,
    tsa_fixture,
    tsa_pki_fixture,
    untrusted_pki_fixture,
)

SOURCE = "demo-news"


@pytest.fixture(scope="module")
def module_tsa(tsa_pki: TsaPki) -> Iterator[LocalTsa]:
    """One TSA for the module's archive and every audit of its copies."""
    with LocalTsa(pki=tsa_pki) as server:
        yield server


def tsa_env(tsa: LocalTsa, pki: TsaPki, where: Path) -> dict[str, str]:
    roots = where / "roots.pem"
    roots.write_bytes(pki.root_pem)
    return {"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}", "OSINT_ARCHIVE_TSA_CA_FILE": str(roots)}


@pytest.fixture(scope="module")
def stamped_home(
    tmp_path_factory: pytest.TempPathFactory, module_tsa: LocalTsa, tsa_pki: TsaPki
) -> Path:
    """A home after one ``osint-archive run`` with the TSA configured, left untouched."""
    home = tmp_path_factory.mktemp("anchored")
    with DemoSite() as site:
        config = write_web_source(home / "sources.yaml", site.base_url, SOURCE)
        done = run_cli(home, "run", "--config", str(config), env=tsa_env(module_tsa, tsa_pki, home))
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def home(stamped_home: Path, tmp_path: Path) -> Path:
    """A private copy of the stamped home, free to tamper with."""
    copy = tmp_path / "home"
    shutil.copytree(stamped_home, copy)
    return copy


def audit_json(
    home: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = run_cli(home, "audit", "--json", env=env)
    return done, json.loads(done.stdout)


def writable(path: Path) -> Path:
    """Evidence files are read-only (0444): tampering needs write access first."""
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return path


def rewrite_chain(store: LocalStore, chain: str, edited_seq: int) -> int:
    """Edit one event and re-hash it and every later one, then point ``state/`` at the new
    head: the chain verifies end to end. Returns the head's sequence number."""
    log = CustodyLog(store, chain)
    previous = log.event(edited_seq - 1)
    prev_hash = previous["hash"] if previous else GENESIS_HASH
    seq = edited_seq
    while (event := log.event(seq)) is not None:
        if seq == edited_seq:
            event["actor"] = "someone-else@elsewhere"
        event["prev_hash"] = prev_hash
        event["hash"] = prev_hash = event_hash(event)
        path = writable(store.root / f"custody/{chain}/{seq:010d}.json")
        path.write_bytes(json.dumps(event, ensure_ascii=False, sort_keys=True).encode())
        seq += 1
    head = {"seq": seq - 1, "hash": prev_hash}
    store.put_state(f"state/custody-head/{chain}.json", json.dumps(head).encode())
    return seq - 1


def cut_chain(store: LocalStore, chain: str) -> int:
    """Delete a chain's newest event and point ``state/`` at the one before; returns the
    sequence number of the event removed."""
    head_seq, _ = CustodyLog(store, chain).head()
    writable(store.root / f"custody/{chain}/{head_seq:010d}.json").unlink()
    before = CustodyLog(store, chain).event(head_seq - 1)
    assert before is not None
    head = {"seq": head_seq - 1, "hash": before["hash"]}
    store.put_state(f"state/custody-head/{chain}.json", json.dumps(head).encode())
    return head_seq


def test_a_run_anchors_every_chain_and_the_audit_verifies_the_stamp(
    home: Path, module_tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    store = LocalStore(home / "archive")
    (key,) = anchor_keys(store)
    anchor = latest_anchor(store)
    assert anchor is not None and anchor.key == key
    assert [h.chain for h in anchor.heads] == [SOURCE]
    assert anchor.heads[0].seq == CustodyLog(store, SOURCE).head()[0]
    assert store.exists(f"{key}.local.tsr")
    done, report = audit_json(home, tsa_env(module_tsa, tsa_pki, home))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(a["key"], a["outcome"], a["chains"]) for a in report["anchors"]] == [
        (key, "passed", 1)
    ]
    assert report["totals"]["anchors_verified"] == 1
    # The audit anchored the heads again, its own `_audit` event included, and stamped them.
    newest = latest_anchor(store)
    assert newest is not None and newest.key != key and newest.previous_key == key
    assert {h.chain for h in newest.heads} == {SOURCE, "_audit"}
    assert store.exists(f"{newest.key}.local.tsr")


@pytest.mark.parametrize(
    ("forge", "detail"),
    [
        (lambda store: rewrite_chain(store, SOURCE, 2), "now has hash"),
        (lambda store: cut_chain(store, SOURCE), "no longer exists"),
    ],
    ids=["rewritten-and-rehashed", "newest-event-cut"],
)
def test_a_chain_forged_together_with_its_state_hint_is_named_by_the_anchor(
    home: Path,
    module_tsa: LocalTsa,
    tsa_pki: TsaPki,
    forge: Callable[[LocalStore], int],
    detail: str,
) -> None:
    store = LocalStore(home / "archive")
    anchor = latest_anchor(store)
    assert anchor is not None
    anchored_seq = anchor.heads[0].seq
    forge(store)
    # The forgery beats the chain's own check: only the anchor can tell.
    assert CustodyLog(store, SOURCE).verify().intact
    done, report = audit_json(home, tsa_env(module_tsa, tsa_pki, home))
    assert done.returncode == 1
    broken = [f for f in report["findings"] if f["kind"] == "anchor_broken"]
    assert [(f["key"], f["chain"], f["position"]) for f in broken] == [
        (anchor.key, SOURCE, anchored_seq)
    ]
    assert detail in broken[0]["detail"]
    assert report["anchors"][0]["outcome"] == "failed"
    human = run_cli(home, "audit", env=tsa_env(module_tsa, tsa_pki, home))
    assert human.returncode == 1
    assert f"anchor_broken: {anchor.key}: chain {SOURCE}: event {anchored_seq}" in human.stdout


def small_archive(root: Path, chains: tuple[str, ...] = ("alpha", "beta", "gamma")) -> LocalStore:
    """A store holding only custody chains of three events each."""
    store = LocalStore(root)
    for chain in chains:
        CustodyLog(store, chain, actor="tester@test").append(
            CustodyEvent(f"{chain}:{n}", "noted", f"event {n}", {}) for n in range(3)
        )
    return store


def test_an_unstamped_anchor_is_reported_and_the_audit_passes(tmp_path: Path) -> None:
    store = small_archive(tmp_path / "archive")
    result = anchor_custody(store)
    assert result.created and result.token_keys == [] and result.anchor is not None
    done, report = audit_json(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(a["key"], a["outcome"]) for a in report["anchors"]] == [
        (result.anchor.key, "unstamped")
    ]
    assert report["totals"]["anchors_unstamped"] == 1
    human = run_cli(tmp_path, "audit")
    assert human.returncode == 0
    # The first audit anchored its own `_audit` event: two anchors now, neither stamped.
    assert "2 custody anchor(s): 0 stamped and verified" in human.stderr
    assert "2 unstamped, 0 failed" in human.stderr


def test_anchoring_twice_without_new_events_writes_one_anchor(tmp_path: Path) -> None:
    store = small_archive(tmp_path / "archive")
    first = anchor_custody(store)
    again = anchor_custody(store)
    assert (first.created, again.created) == (True, False)
    assert again.anchor == first.anchor
    assert len(list(anchor_keys(store))) == 1
    CustodyLog(store, "beta").append([CustodyEvent("beta:more", "noted", "later", {})])
    grown = anchor_custody(store)
    assert grown.created and grown.anchor is not None and first.anchor is not None
    assert grown.anchor.previous_key == first.anchor.key
    assert ChainHead("beta", 4, CustodyLog(store, "beta").head()[1]) in grown.anchor.heads


def test_a_tsa_outage_leaves_an_unstamped_anchor_that_a_later_call_stamps(
    tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    store = small_archive(tmp_path / "archive")
    authority = TimestampAuthority(tsa.url, "local", tsa_pki.root_pem)
    tsa.mode = "reject"
    down = anchor_custody(store, [authority])
    assert down.created and down.token_keys == [] and "rejected" in down.stamp_error
    tsa.mode = "grant"
    back = anchor_custody(store, [authority])
    assert not back.created and back.anchor == down.anchor
    assert back.token_keys == [f"{back.anchor.key}.local.tsr"] if back.anchor else False


def edit_anchor(store: LocalStore, key: str, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(store.read_bytes(key))
    change(document)
    writable(store.root / key).write_bytes(json.dumps(document).encode())


def forge_head(document: dict[str, Any]) -> None:
    document["heads"][0]["hash"] = "f" * 64


def forge_head_and_root(document: dict[str, Any]) -> None:
    forge_head(document)
    heads = [ChainHead(h["chain"], h["seq"], h["hash"]) for h in document["heads"]]
    document["root"] = merkle_root(heads)


def anchor_tamper_cases() -> list[Any]:
    """(how the anchor records are tampered with, what the audit must say), one per case."""

    def first(store: LocalStore) -> str:
        return next(anchor_keys(store))

    return [
        pytest.param(
            lambda s: edit_anchor(s, first(s), forge_head),
            "does not recompute",
            id="head-edited",
        ),
        pytest.param(
            lambda s: edit_anchor(s, first(s), forge_head_and_root),
            "does not name the root",
            id="head-and-root-edited",
        ),
        pytest.param(
            lambda s: writable(s.root / f"{first(s)}.local.tsr").write_bytes(b"\x30\x03junk"),
            "token of",
            id="token-replaced",
        ),
        pytest.param(
            lambda s: writable(s.root / first(s)).unlink(),
            "is not stored",
            id="older-anchor-deleted",
        ),
        pytest.param(
            lambda s: edit_anchor(s, first(s), lambda d: d.update(format="x")),
            "not a custody anchor record",
            id="not-an-anchor",
        ),
    ]


@pytest.mark.parametrize(("tamper", "detail"), anchor_tamper_cases())
def test_a_tampered_anchor_is_detected(
    tmp_path: Path,
    tsa: LocalTsa,
    tsa_pki: TsaPki,
    tamper: Callable[[LocalStore], None],
    detail: str,
) -> None:
    store = small_archive(tmp_path / "archive")
    authority = TimestampAuthority(tsa.url, "local", tsa_pki.root_pem)
    assert anchor_custody(store, [authority]).token_keys
    CustodyLog(store, "alpha").append([CustodyEvent("alpha:more", "noted", "later", {})])
    assert anchor_custody(store, [authority]).created  # a second anchor, naming the first
    tamper(store)
    done, report = audit_json(tmp_path, tsa_env(tsa, tsa_pki, tmp_path))
    assert done.returncode == 1, done.stdout
    broken = [f for f in report["findings"] if f["kind"] == "anchor_broken"]
    assert broken and any(detail in f["detail"] for f in broken), broken


def test_the_root_is_rfc6962_and_a_third_party_can_recompute_it(tmp_path: Path) -> None:
    """The docs' shell recipe (sha256sum, xxd) gives the root the record holds."""
    store = small_archive(tmp_path / "archive", ("a", "b", "c", "d", "e"))
    anchor = anchor_custody(store).anchor
    assert anchor is not None
    leaves = [hashlib.sha256(b"\x00" + h.leaf).digest() for h in sorted(current_heads(store))]

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    # Five leaves: the left subtree holds four (the largest power of two below five).
    expected = node(node(node(leaves[0], leaves[1]), node(leaves[2], leaves[3])), leaves[4])
    assert anchor.root == expected.hex()
    recipe = REPO / "docs" / "custody-anchor-root.sh"
    done = subprocess.run(
        ["bash", str(recipe), str(store.root / anchor.key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [anchor.root]
    assert Anchor.from_json(anchor.key, store.read_bytes(anchor.key)) == anchor
