"""A benchmark of this checkout against the code of another git revision, interleaved in one run: the two trees
take turns (old, new, old, new, ...), each run in a fresh process that imports its own tree's package, so a slow
spell of the shared machine costs both. Prints each tree's best rate and the ratio new / old.

    python benchmarks/against_revision.py REV [--rounds 3] -- rollout_speed.py [its arguments]
    python benchmarks/against_revision.py REV -- mujoco_rollout.py --members 64

The rate read is the first figure of the benchmark's first line that matches --line (rollout_speed.py: the fused
kernel's agent-steps/s; mujoco_rollout.py: the population evaluation's env steps/s). The old tree is `git
archive REV` in a temporary folder (its benchmark script too: each tree times itself the way it did).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINES = {"rollout_speed.py": r"fused Numba kernel\s*:\s*([\d,]+)", "mujoco_rollout.py": r"population evaluation:\s*([\d,]+)"}


def rate(tree: Path, script: str, args: list, pattern: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / script), *args], cwd=tree, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{tree}: {script} failed:\n{out.stderr[-2000:]}")
    found = re.search(pattern, out.stdout)
    if not found:
        sys.exit(f"{tree}: no line matching {pattern!r} in:\n{out.stdout}")
    return float(found.group(1).replace(",", ""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("revision")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--line", help="regex with one group, the rate (default: by script)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:split])
    bench = argv[split + 1:]
    if not bench:
        p.error("name the benchmark after --, e.g. -- rollout_speed.py")
    script, rest = bench[0], bench[1:]
    pattern = args.line or LINES[script]
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        archive = subprocess.run(["git", "archive", args.revision], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        for tree in (old, ROOT):       # compile (or load) each tree's kernels before timing
            rate(tree, script, rest, pattern)
        rates = {"old": [], "new": []}
        for _ in range(args.rounds):
            rates["old"].append(rate(old, script, rest, pattern))
            rates["new"].append(rate(ROOT, script, rest, pattern))
    best_old, best_new = max(rates["old"]), max(rates["new"])
    print(f"{script} {' '.join(rest)}: {args.rounds} rounds, interleaved")
    print(f"old ({args.revision}): {best_old:12,.0f}  (each round: {', '.join(f'{r:,.0f}' for r in rates['old'])})")
    print(f"new (checkout):  {best_new:12,.0f}  (each round: {', '.join(f'{r:,.0f}' for r in rates['new'])})")
    print(f"ratio new / old, best of each: {best_new / best_old:.3f}")


if __name__ == "__main__":
    main()
