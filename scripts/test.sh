#!/usr/bin/env bash
# The whole test suite: install everything, lint, then run every test of core, plugins and cross-plugin tests.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
.venv/bin/ruff check . || exit 1
# Idle torch threads must not spin while simulator workers need the cores.
export OMP_WAIT_POLICY=PASSIVE
.venv/bin/python -m pytest "$@"
rc=$?
# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
