"""Audit at scale: RFC 3161 token verification throughput, and peak RSS against captures.

    python -m bench.audit --scale [--tokens 2000] [--captures 5000,20000,80000]
                          [--out bench/results/audit_scale.json]

1. tokens: ``--tokens`` records each stamped by the test TSA's signer (``tests.tsa_server``,
   ECDSA P-256), verified against the trusted root four ways: one thread; a thread pool of
   2, 4 and 8; a process pool of 2 and 4 (tokens pickled to the workers, chunks of 64); and
   ``check_timestamps`` end to end with the audit's pool at ``workers`` 1 and 4;
2. memory: one real ``osint-archive run`` over the demo site gives a manifest, its WARC and
   payloads; each archive of ``--captures`` adds that many captures (the manifest cloned under
   new capture ids, listed by ``captured`` custody events of 500 captures each), then a full
   ``audit_archive`` runs in a child process that reports its own peak RSS (VmHWM).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from archive.audit_lookup import AuditLookup
from archive.audit_report import AuditTotals, Finding
from archive.audit_timestamps import check_timestamps
from archive.custody import CustodyEvent, CustodyLog
from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys, read_manifest
from archive.timestamps import _timestamp_query, token_key, verify_timestamp
from bench.harness import BenchError

REPO = Path(__file__).resolve().parent.parent
CAPTURES_PER_EVENT = 500
SCALE_AUDIT_CHILD = r"""
import json, sys, time
from pathlib import Path
from archive.audit import audit_archive
from archive.local_store import LocalStore
started = time.perf_counter()
report = audit_archive(LocalStore(Path(sys.argv[1])), workers=4)
seconds = time.perf_counter() - started
status = open("/proc/self/status").read().splitlines()
hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(json.dumps({"intact": report.intact, "failures": [f.detail for f in report.failures[:3]],
                  "manifests": report.totals.manifests, "seconds": seconds,
                  "peak_rss_mib": hwm_kib / 1024}))
"""

_ROOTS: bytes = b""


def _verify_pair(pair: tuple[bytes, bytes]) -> bool:
    """One token against its digest (module level: a process pool pickles it)."""
    return verify_timestamp(pair[0], pair[1], _ROOTS).ok


def _init_roots(roots: bytes) -> None:
    global _ROOTS
    _ROOTS = roots


def stamped_store(root: Path, count: int) -> tuple[LocalStore, list[tuple[bytes, bytes]], bytes]:
    """``count`` records with one token each (signed in this process, no HTTP); the store,
    the (token, digest) pairs and the trusted root."""
    sys.path.insert(0, str(REPO))
    from tests.tsa_server import build_response, make_tsa_pki

    pki = make_tsa_pki("bench")
    store = LocalStore(root)
    pairs = []
    for n in range(count):
        key = f"captures/bench/2026/01/01/{n:08d}.json"
        data = json.dumps({"capture": n}).encode()
        store.put_record(key, data)
        digest = hashlib.sha256(data).digest()
        token = build_response(
            _timestamp_query(digest, n + 1), pki, n + 1, nonce_delta=0, other_imprint=False
        )
        store.put_record(token_key(key, "bench"), token)
        pairs.append((token, digest))
    return store, pairs, pki.root_pem


def _timed_map(pool: Executor | None, pairs: list[tuple[bytes, bytes]], chunk: int = 1) -> float:
    started = time.perf_counter()
    results = list(
        pool.map(_verify_pair, pairs, chunksize=chunk) if pool else map(_verify_pair, pairs)
    )
    seconds = time.perf_counter() - started
    if not all(results):
        raise BenchError("a freshly signed token did not verify")
    return seconds


def measure_tokens(workdir: Path, count: int) -> dict[str, Any]:
    """Tokens per second, verified serially, by threads, by processes, and by the audit."""
    print(f"signing {count} tokens", flush=True)
    store, pairs, roots = stamped_store(workdir / "tokens", count)
    _init_roots(roots)
    _timed_map(None, pairs[:50])  # warm the caches (roots parsed once, code paths loaded)
    rates: dict[str, float] = {}
    for _ in range(2):  # two rounds in turns; the better of each is kept
        rates["serial"] = max(rates.get("serial", 0), count / _timed_map(None, pairs))
        for workers in (2, 4, 8):
            with ThreadPoolExecutor(workers) as threads:
                name = f"threads_{workers}"
                rates[name] = max(rates.get(name, 0), count / _timed_map(threads, pairs))
        for workers in (2, 4):
            with ProcessPoolExecutor(workers, initializer=_init_roots, initargs=(roots,)) as procs:
                _timed_map(procs, pairs[: workers * 64], 64)  # start the workers first
                name = f"processes_{workers}"
                rates[name] = max(rates.get(name, 0), count / _timed_map(procs, pairs, 64))
        for workers in (1, 4):
            totals, findings = AuditTotals(), list[Finding]()
            with ThreadPoolExecutor(workers) as pool, AuditLookup() as nothing_listed:
                started = time.perf_counter()
                check_timestamps(store, roots, nothing_listed, totals, findings, pool, 2 * workers)
                seconds = time.perf_counter() - started
            if findings or totals.timestamps_verified != count:
                raise BenchError(f"check_timestamps: {findings[:3]}")
            name = f"check_timestamps_workers_{workers}"
            rates[name] = max(rates.get(name, 0), count / seconds)
        print("tokens/s:", {k: round(v) for k, v in rates.items()}, flush=True)
    return {
        "tokens": count,
        "tokens_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ms_per_token_serial": round(1000 / rates["serial"], 3),
        "minutes_for_1_5_million": {
            k: round(1_500_000 / v / 60, 1)
            for k, v in rates.items()
            if k in ("serial", "check_timestamps_workers_1", "check_timestamps_workers_4")
        },
    }


def demo_archive(workdir: Path) -> Path:
    """One ``osint-archive run`` over the bundled demo site; the archive's root."""
    from osint_archive.demo_site import DemoSite

    home = workdir / "demo-home"
    home.mkdir(parents=True)
    with DemoSite() as site:
        config = home / "sources.yaml"
        config.write_text(
            f"sources:\n  - id: bench-news\n    kind: web\n    url: {site.base_url}\n"
            "    schedule: null\n    max_depth: 2\n    delay_seconds: 0\n",
            encoding="utf-8",
        )
        env = {"OSINT_ARCHIVE_HOME": str(home), "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1"}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "osint-archive"), "run", "--config", str(config)],
            env={**__import__("os").environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError(f"osint-archive run failed: {done.stderr[-2000:]}")
    return home / "archive"


def add_captures(store: LocalStore, count: int) -> None:
    """``count`` more captures: the first manifest cloned under new ids, listed by custody."""
    template = read_manifest(store, iter_manifest_keys(store)[0])
    custody = CustodyLog(store, template.source_id, actor="bench@bench")
    batch: list[list[str]] = []
    for n in range(count):
        clone = template.model_copy(update={"capture_id": f"bench{n:09d}"})
        data = clone.to_json_bytes()
        store.put_record(clone.key, data)
        batch.append([clone.capture_id, hashlib.sha256(data).hexdigest()])
        if len(batch) == CAPTURES_PER_EVENT or n == count - 1:
            custody.append(
                [
                    CustodyEvent(
                        f"captured:bench:{n}",
                        "captured",
                        template.warc.key,
                        {"warc_sha256": template.warc.sha256, "captures": batch},
                    )
                ]
            )
            batch = []


def measure_memory(workdir: Path, steps: list[int]) -> list[dict[str, Any]]:
    """Peak RSS of a full audit (child process) as the captures grow."""
    import shutil

    base = demo_archive(workdir)
    results = []
    for captures in steps:
        root = workdir / f"captures-{captures}"
        shutil.copytree(base, root)
        print(f"adding {captures} captures", flush=True)
        add_captures(LocalStore(root), captures)
        out = subprocess.run(
            [sys.executable, "-c", SCALE_AUDIT_CHILD, str(root)],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        if out.returncode != 0:
            raise BenchError(f"audit child failed: {out.stderr[-2000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        if not figures["intact"]:
            raise BenchError(f"audit of {captures} synthetic captures failed: {figures}")
        print(f"{captures} captures: {figures}", flush=True)
        results.append({"captures": captures, **figures})
        shutil.rmtree(root)
    return results


def scale_result(tokens: dict[str, Any] | None, memory: list[dict[str, Any]]) -> dict[str, Any]:
    """Report rows plus the raw figures."""
    rows = []
    if tokens:
        rate = tokens["tokens_per_second"]
        rows += [
            {
                "metric": "token verification, one thread (tokens/s)",
                "value": f"{rate['serial']:.0f}",
                "reference": f"{tokens['ms_per_token_serial']} ms each",
                "target": None,
            },
            {
                "metric": "token verification in the audit, 4 workers (tokens/s)",
                "value": f"{rate['check_timestamps_workers_4']:.0f}",
                "reference": "threads 2/4/8: "
                + " / ".join(f"{rate[f'threads_{w}']:.0f}" for w in (2, 4, 8))
                + "; processes 2/4: "
                + " / ".join(f"{rate[f'processes_{w}']:.0f}" for w in (2, 4)),
                "target": None,
            },
        ]
    if len(memory) >= 2:
        first, last = memory[0], memory[-1]
        per_capture = (
            (last["peak_rss_mib"] - first["peak_rss_mib"])
            * 1024
            * 1024
            / (last["captures"] - first["captures"])
        )
        rows.append(
            {
                "metric": "audit peak RSS growth (bytes per capture)",
                "value": f"{per_capture:.0f}",
                "reference": ", ".join(
                    f"{m['captures']}: {m['peak_rss_mib']:.0f} MiB" for m in memory
                ),
                "target": None,
            }
        )
    return {"rows": rows, "tokens": tokens, "memory": memory}
