#!/usr/bin/env bash
# The whole test suite on a fresh machine (Python, pip and apt only).
# Installs Knot DNS (real authoritative server for the verify tests), makes .venv,
# installs the project with its test extras, checks format, lint and types, and runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq || echo "apt-get update failed; using the installed packages" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq knot >/dev/null || echo "apt-get install knot failed" >&2
fi
if ! command -v knotd >/dev/null 2>&1 && [ ! -x /usr/sbin/knotd ]; then
  echo "error: knotd (Debian package 'knot') is required by the verify tests and could not be installed" >&2
  exit 1
fi
# workerd (Cloudflare's Workers runtime, binary inside its npm package) runs the MTA-STS Worker
# in tests/verify/test_mtasts_workerd.py; pinned by tests/workerd/package-lock.json.
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null || echo "apt-get install npm failed" >&2
fi
command -v npm >/dev/null 2>&1 || { echo "error: npm is required to install workerd (tests/workerd) and could not be installed" >&2; exit 1; }
(cd tests/workerd && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
  || { echo "error: npm ci in tests/workerd failed: workerd is required by the MTA-STS Worker tests" >&2; exit 1; }

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'

export PATH="$PWD/.venv/bin:/usr/sbin:$PATH"
# One formatter, one linter, one type checker: the same gate as the tests.
.venv/bin/ruff format --check --quiet . || { echo "error: ruff format would change files (run: ruff format .)" >&2; exit 1; }
.venv/bin/ruff check --quiet . || { echo "error: ruff check found problems" >&2; exit 1; }
.venv/bin/mypy || { echo "error: mypy found problems" >&2; exit 1; }
set +e
.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
