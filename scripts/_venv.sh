# Shared set-up for scripts/demo.sh and scripts/test.sh: a project-local virtualenv,
# (re)installed only when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRACKLINE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up $VENV (first run only)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
STAMP="$VENV/.trackline-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)-${EXTRAS:-dev}"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "installing trackline[${EXTRAS:-dev}] into $VENV"
  # uv resolves and downloads in parallel: the dev set (Beam, Airflow, Dagster, emulators) takes
  # about a minute with it and nine with pip here. pip stays the fallback.
  if [ ! -x "$VENV/bin/uv" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv || true
  fi
  if ! { [ -x "$VENV/bin/uv" ] && "$VENV/bin/uv" pip install --quiet \
      --python "$VENV/bin/python" -e "$ROOT[${EXTRAS:-dev}]"; }; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[${EXTRAS:-dev}]"
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
