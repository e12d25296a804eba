#!/usr/bin/env bash
# Build the wheels of core (vlarl) and of the plugins, so that one plugin installs alone, without the rest of
# this repository. vlarl's distributions are not on a public index; install them from these wheels:
#
#   bash scripts/build_wheels.sh                        # every distribution -> dist/
#   bash scripts/build_wheels.sh dist core plugins/envs/gymnasium   # only these
#
#   # torch: a bare `torch` requirement makes pip take the CUDA build (about 2 GB with its nvidia-* packages).
#   # On a CPU-only machine install the CPU build first:
#   pip install torch --index-url https://download.pytorch.org/whl/cpu
#   pip install --find-links dist vlarl-gymnasium      # pulls vlarl from dist/, the rest from PyPI
#   vlarl check env gymnasium
#
# Writes dist/constraints.txt pinning each built distribution to its version (pip install -c dist/constraints.txt
# keeps pip from preferring a same-named release of another index). Builds offline with the running Python's
# setuptools (>= 77) when VLARL_NO_BUILD_ISOLATION=1.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-dist}
shift || true
if [ $# -gt 0 ]; then
  dirs=("$@")
else
  dirs=(core)
  for d in plugins/*/*/; do
    [ -f "$d/pyproject.toml" ] && dirs+=("${d%/}")
  done
fi
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
flags=(--no-deps --disable-pip-version-check -q --wheel-dir "$OUT")
[ "${VLARL_NO_BUILD_ISOLATION:-0}" = 1 ] && flags+=(--no-build-isolation)

mkdir -p "$OUT"
for d in "${dirs[@]}"; do
  "$PY" -m pip wheel "${flags[@]}" "./$d"
done
# Each distribution at the version just built (the newest wheel of each name in OUT).
"$PY" - "$OUT" <<'EOF'
import pathlib, sys
from email.parser import Parser
from zipfile import ZipFile

out = pathlib.Path(sys.argv[1])
pins = {}
for whl in sorted(out.glob("vlarl*.whl"), key=lambda p: p.stat().st_mtime):
    with ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(z.read(meta).decode())
    pins[msg["Name"]] = msg["Version"]
(out / "constraints.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
print("\n".join(f"built {n} {v}" for n, v in sorted(pins.items())))
print(f"install one with: pip install --find-links {out} -c {out}/constraints.txt vlarl-<name>"
      " (CPU-only machine: install CPU torch first, see the top of scripts/build_wheels.sh)")
EOF
