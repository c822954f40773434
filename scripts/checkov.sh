#!/usr/bin/env bash
# checkov (Terraform security scan) in its own virtualenv: its pinned dependencies clash with
# trackline's, so it never goes into .venv. Sets itself up on first run, then runs checkov
# with the given arguments, e.g. `bash scripts/checkov.sh -d deploy/terraform --compact`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${CHECKOV_VERSION:-3.3.30}"
VENV="${TRACKLINE_TOOLS_VENV:-$ROOT/.venv-tools}/checkov-$VERSION"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/checkov" ]; then
  echo "setting up checkov $VERSION in $VENV (first run only)" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # no bytecode compile: it only lengthens the set-up (a fresh set-up took 78 s here)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    "checkov==$VERSION" >&2
fi
# No network calls: no Bridgecrew platform, no update check, no telemetry.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "$VENV/bin/checkov" --skip-download "$@"
