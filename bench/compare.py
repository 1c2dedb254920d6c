#!/usr/bin/env python
"""Run bench/sync.py against other commits side by side, in rotation, and print the medians.

    .venv/bin/python -m bench.compare --commits b78b8cd,HEAD --alerts 100000 --rounds 3

This machine is noisy (two shared cores): one run of a bench can be 30% off the next. A ratio is only worth quoting
when both sides ran in the same session, alternating. Each commit gets a git worktree (in a temporary folder) with
this checkout's bench/sync.py and bench/_common.py copied in, so every commit is measured by the same checks; a
commit whose emulator predates the churn control endpoint runs with `--legacy` (first sync and unchanged re-sync
only). The current checkout's .venv runs them all.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("first sync", "unchanged re-sync", "changed re-sync")


def worktree(commit: str, base: Path) -> Path:
    target = base / commit.replace("/", "_")
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-f", str(target), commit],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    # __init__.py too: `-m bench.sync` must find this package, whatever the commit has in bench/
    for name in ("__init__.py", "sync.py", "_common.py"):
        shutil.copy(ROOT / "bench" / name, target / "bench" / name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", required=True, help="comma-separated; HEAD means this checkout as it is")
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    trees: dict[str, Path] = {}
    try:
        for commit in args.commits.split(","):
            trees[commit] = ROOT if commit == "HEAD" else worktree(commit, base)
        figures: dict[str, dict[str, list[int]]] = {c: {label: [] for label in LABELS} for c in trees}
        failures: dict[str, list[str]] = {c: [] for c in trees}
        for n in range(args.rounds):
            for commit, tree in trees.items():
                legacy = "churn" not in (tree / "emulator" / "control.py").read_text()
                # as a module from the tree's root (its bench/, dev.py and apps), the copy above in every tree
                command = [sys.executable, "-m", "bench.sync", "--alerts", str(args.alerts), "--skip-sdk"]
                if legacy:
                    command.append("--legacy")
                print(f"round {n + 1}: {commit}{' (--legacy)' if legacy else ''}", flush=True)
                proc = subprocess.run(command, cwd=tree, capture_output=True, text=True)
                if proc.returncode:
                    failures[commit].append(
                        proc.stdout.strip().splitlines()[-1] if proc.stdout else proc.stderr
                    )
                result = tree / "var" / "bench" / "sync.json"
                if not result.exists():
                    continue
                data = json.loads(result.read_text())
                result.unlink()
                for label in LABELS:
                    if label in data:
                        figures[commit][label].append(data[label]["alerts_per_s"])
        print(f"\n{args.alerts} alerts, {args.rounds} rounds, alerts/s (median, and every run):")
        for commit in trees:
            cells = [f"{label}: {statistics.median(v):,.0f} {v}" for label, v in figures[commit].items() if v]
            print(f"  {commit}: " + "; ".join(cells))
            for failure in failures[commit]:
                print(f"    failed its checks: {failure}")
    finally:
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
