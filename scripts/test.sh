#!/usr/bin/env bash
# The test command: lint, type-check, then the whole test suite. Sets itself up on first run,
# including the emulators, broker and browser the tests need (scripts/services.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# The servers start while ruff and mypy run; pytest waits for them.
SERVICES_LOG="$(mktemp)"
bash scripts/services.sh >"$SERVICES_LOG" 2>&1 &
SERVICES_PID=$!
echo "== ruff"; ruff check src tests bench; ruff format --check src tests bench
echo "== mypy"; mypy
echo "== services"; wait "$SERVICES_PID" || true; cat "$SERVICES_LOG"; rm -f "$SERVICES_LOG"
# Four workers on two cores: many tests wait on subprocesses and servers, not the CPU.
echo "== pytest"; pytest -n "${TRACKLINE_TEST_WORKERS:-4}" "$@"
