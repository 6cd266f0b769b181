"""Payloads stream through the store: memory stays flat for a 2 GB file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in a fresh interpreter so its peak RSS measures only this store write.
WRITE_2GB = r"""
import hashlib, io, json, sys
from pathlib import Path
from archive.local_store import LocalStore
from archive.store import put_payload

class Generated(io.RawIOBase):
    # 2 GiB of varied bytes produced on the fly, never held whole.
    def __init__(self, total):
        self.left = total
        self.block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
        self.digest = hashlib.sha256()
    def readable(self):
        return True
    def read(self, n=-1):
        if self.left <= 0:
            return b""
        n = min(self.left, len(self.block) if n < 0 else min(n, len(self.block)))
        chunk = self.block[:n - 8] + self.left.to_bytes(8, "big")
        self.left -= n
        self.digest.update(chunk)
        return chunk

source = Generated(2 * 1024**3)
stored = put_payload(LocalStore(Path(sys.argv[1])), source)
# VmHWM is this process's own peak (ru_maxrss can carry the forking parent's peak).
status = open("/proc/self/status").read().splitlines()
hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(json.dumps({"sha256": stored.sha256, "expected": source.digest.hexdigest(),
                  "size": stored.size, "peak_rss_mib": hwm_kib / 1024}))
"""


@pytest.mark.slow
def test_two_gigabyte_payload_streams_in_flat_memory(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", WRITE_2GB, str(tmp_path / "archive")],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result = json.loads(out.stdout)
    assert result["size"] == 2 * 1024**3
    assert result["sha256"] == result["expected"]
    stored = tmp_path / "archive" / "objects" / "sha256" / result["sha256"][:2]
    assert any(stored.rglob(result["sha256"]))
    # Slurping would peak above 2 GiB; streaming stays at one chunk plus the interpreter.
    assert result["peak_rss_mib"] < 200, result
