#!/usr/bin/env python
"""Compare the simulator APIs the vlarl adapters use with the real packages' source and with the test fakes.

For issue 19: the IsaacLab and BEHAVIOR adapters are tested only against fakes, so this reads the real code
(never imports it) and checks every name, signature, constant and behaviour the adapters rely on, in the
real package, in the fake (probed in a subprocess) and, where the adapter encodes it, in vlarl's own code.

    python scripts/check_sim_api.py                       # IsaacLab wheels from PyPI (pip download)
    python scripts/check_sim_api.py --isaaclab-wheel W.whl --omnigibson-src ~/BEHAVIOR-1K
    python scripts/check_sim_api.py --omnigibson-ref main  # BEHAVIOR-1K from GitHub (needs github.com)

Network: PyPI for the IsaacLab wheels; github.com only with --omnigibson-ref. Output: one line per item,
MATCH / MISMATCH / NOTE / SKIP, then a summary. Exit 1 on any MISMATCH, 2 when nothing could be read.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.sim_api_check.common import Result

WHEELS = (("2.3.2.post1", "3.11"), ("3.0.0", "3.12"))
"""IsaacLab releases compared by default: PyPI's newest 2.3 (Python 3.11) and 3.0 (Python 3.12)."""
BEHAVIOR_REPO = "https://codeload.github.com/StanfordVL/BEHAVIOR-1K/tar.gz/{ref}"


def download_wheels(into: Path) -> tuple[list[Path], list[Result]]:
    paths, skipped = [], []
    for version, python in WHEELS:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", python,
               f"isaaclab=={version}", "-d", str(into), "-q"]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True)
        found = sorted(into.glob(f"isaaclab-{version}-*.whl"))
        if res.returncode == 0 and found:
            paths.append(found[0])
        else:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no wheel"]
            skipped.append(Result(f"isaaclab {version}", "wheel", "SKIP", f"pip download failed: {tail[0]}"))
    return paths, skipped


def fetch_behavior(ref: str, into: Path) -> Path:
    with urllib.request.urlopen(BEHAVIOR_REPO.format(ref=ref), timeout=300) as r:
        data = r.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if "/OmniGibson/omnigibson/" in m.name and m.name.endswith(".py")]
        tar.extractall(into, members=members)
    return next(into.glob("*/OmniGibson"))


def report(results: list[Result]) -> int:
    width = max((len(f"{r.area}: {r.item}") for r in results), default=0)
    for r in results:
        print(f"{r.status:<8} {f'{r.area}: {r.item}':<{width}}  {r.detail}")
    counts = {s: sum(r.status == s for r in results) for s in ("MATCH", "MISMATCH", "NOTE", "SKIP")}
    print("summary: " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items()))
    if counts["MISMATCH"]:
        return 1
    return 0 if counts["MATCH"] else 2


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--isaaclab-wheel", action="append", type=Path, default=[], help="an isaaclab wheel (repeatable)")
    p.add_argument("--omnigibson-src", type=Path, help="a BEHAVIOR-1K checkout (or its OmniGibson/ folder)")
    p.add_argument("--omnigibson-ref", help="download BEHAVIOR-1K at this git ref from GitHub instead")
    p.add_argument("--only", choices=("isaaclab", "behavior"), help="check one adapter")
    args = p.parse_args(argv)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only != "behavior":
            from scripts.sim_api_check import isaaclab_checks

            wheels, skipped = (args.isaaclab_wheel, []) if args.isaaclab_wheel else download_wheels(work / "wheels")
            results += skipped + isaaclab_checks.check(wheels)
        if args.only != "isaaclab":
            from scripts.sim_api_check import behavior_checks

            src = args.omnigibson_src
            if src is None and args.omnigibson_ref:
                try:
                    src = fetch_behavior(args.omnigibson_ref, work / "b1k")
                except OSError as exc:
                    results.append(Result("behavior", "source", "SKIP", f"download of {args.omnigibson_ref}: {exc}"))
            results += behavior_checks.check(src)
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
