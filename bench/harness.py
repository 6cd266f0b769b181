"""What every benchmark does around its measurements: a scratch directory, the JSON result
that `bench/report.py` turns into a README table, and a clear message when a step fails."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import render_result


class BenchError(RuntimeError):
    """A precondition or a step failed; the message says which and what to do."""


Benchmark = Callable[[argparse.Namespace, Path], dict[str, Any] | None]


def run_benchmark(
    name: str,
    args: argparse.Namespace,
    benchmark: Benchmark,
    *,
    scratch_parent: Path | None = None,
    keep_on_error: bool = True,
) -> int:
    """Run ``benchmark(args, workdir)``, write its result to ``args.out`` and print its table.

    The working directory is removed afterwards unless ``args.keep``, or the run failed and
    ``keep_on_error`` (its logs explain the failure). Returns the process exit status.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"osint-bench-{name}-", dir=scratch_parent))
    failed = True
    try:
        result = benchmark(args, workdir)
        failed = False
    except BenchError as error:
        kept = f"\n(working directory kept: {workdir})" if keep_on_error else ""
        print(f"bench.{name}: {error}{kept}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"working directory kept: {workdir}")
        elif not (failed and keep_on_error):
            shutil.rmtree(workdir, ignore_errors=True)
    if result is None:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render_result(result))
    print(f"written {args.out}; `python -m bench.report` updates the README table")
    return 0
