#!/usr/bin/env bash
# The Bigtable emulator from the Google Cloud CLI, on 127.0.0.1:8087.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=8087
listening "$HOST" "$PORT" && exit 0
command -v gcloud >/dev/null || { echo "services: bigtable: gcloud is not installed" >&2; exit 1; }
start_detached bigtable gcloud beta emulators bigtable start --host-port="$HOST:$PORT" --quiet
wait_for bigtable "$HOST" "$PORT" 60
