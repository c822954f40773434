#!/usr/bin/env bash
# The BigQuery emulator (bqemulator, DuckDB-backed; REST on 127.0.0.1:9050, gRPC Storage Read and
# Write API on 9060), data in a fresh temporary directory. Started through scripts/bq_emulator.py,
# which makes its DuckDB spatial extension optional (it downloads at run time: offline here).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=9050 GRPC_PORT=9060
listening "$HOST" "$PORT" && exit 0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
"$PY" -c "import bqemulator" 2>/dev/null || {
  echo "services: bigquery: bqemulator is not installed (pip install 'bqemulator==1.4.0')" >&2
  exit 1
}
DATA="$(mktemp -d "${TMPDIR:-/tmp}/trackline-bqemulator.XXXXXX")"
# Avro's extension would download too: off, so the start never reaches for the network.
BQEMU_ENABLE_FORMAT_EXTENSIONS=false start_detached bigquery "$PY" "$ROOT/scripts/bq_emulator.py" start --rest-host "$HOST" \
  --rest-port "$PORT" --grpc-host "$HOST" --grpc-port "$GRPC_PORT" --data-dir "$DATA" \
  --project trackline-test --log-level warning
wait_for bigquery "$HOST" "$PORT" 60
