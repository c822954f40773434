#!/usr/bin/env bash
# The Pub/Sub emulator from the Google Cloud CLI (needs Java), on 127.0.0.1:8085.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=8085
listening "$HOST" "$PORT" && exit 0
command -v gcloud >/dev/null || { echo "services: pubsub: gcloud is not installed" >&2; exit 1; }
start_detached pubsub gcloud beta emulators pubsub start --host-port="$HOST:$PORT" \
  --project=trackline-test --quiet
wait_for pubsub "$HOST" "$PORT" 90
