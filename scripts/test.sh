#!/usr/bin/env bash
# The test command: lint, type-check, then the whole test suite. Sets itself up on first run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
echo "== ruff"; ruff check src tests bench; ruff format --check src tests bench
echo "== mypy"; mypy
echo "== services"; bash scripts/services.sh
# Four workers on two cores: many tests wait on subprocesses and servers, not the CPU.
echo "== pytest"; pytest -n "${TRACKLINE_TEST_WORKERS:-4}" "$@"
