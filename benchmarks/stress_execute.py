"""Execute every notebook many times and report run times and any hang.

Run by hand, not by CI (it takes a while)::

    make stress                                   # every notebook, 20 runs each
    .venv/bin/python benchmarks/stress_execute.py --runs 5 book/hierarchical-model.ipynb

Each run is a fresh process, ``python tools/nbguard.py NOTEBOOK`` (the same
executor as ``make execute`` and the book build), killed if it lasts longer
than ``--hang-after`` seconds. A run is "ok", "failed" (a cell raised or timed
out: the guard named it) or "HANG" (killed from outside: the guard's own
timeouts did not fire). The last lines name the versions of the kernel
toolchain, so that a result can be tied to the pins that produced it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLCHAIN = ["ipykernel", "jupyter_client", "nbclient", "pyzmq", "myst-nb", "jupyter-book", "jupyter-cache", "nbval"]


def run_once(nb: Path, hang_after: float) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    try:
        run = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "nbguard.py"), str(nb)],
            capture_output=True,
            text=True,
            timeout=hang_after,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return "HANG", time.perf_counter() - t0, ""
    status = "ok" if run.returncode == 0 else "failed"
    return status, time.perf_counter() - t0, run.stderr.strip().splitlines()[-1] if run.returncode else ""


def main() -> int:
    parser = argparse.ArgumentParser(description="Execute notebooks repeatedly and report hangs.")
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--hang-after", type=float, default=900.0, help="seconds before a run counts as a hang")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
    bad = 0
    print(
        f"{'notebook':40s} {'runs':>4s} {'ok':>4s} {'failed':>6s} {'hangs':>5s} "
        f"{'min s':>7s} {'median s':>8s} {'max s':>7s}"
    )
    for nb in notebooks:
        results = []
        for i in range(args.runs):
            status, seconds, why = run_once(nb, args.hang_after)
            results.append((status, seconds))
            if status != "ok":
                print(f"  run {i + 1} of {nb.name}: {status} after {seconds:.1f} s {why}", flush=True)
        times = [s for st, s in results if st == "ok"] or [float("nan")]
        counts = {k: sum(st == k for st, _ in results) for k in ("ok", "failed", "HANG")}
        bad += counts["failed"] + counts["HANG"]
        print(
            f"{nb.name:40s} {args.runs:4d} {counts['ok']:4d} {counts['failed']:6d} {counts['HANG']:5d} "
            f"{min(times):7.1f} {statistics.median(times):8.1f} {max(times):7.1f}",
            flush=True,
        )
    print("toolchain: " + ", ".join(f"{p} {metadata.version(p)}" for p in TOOLCHAIN))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
