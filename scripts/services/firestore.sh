#!/usr/bin/env bash
# The Firestore emulator from the Google Cloud CLI (needs Java), on 127.0.0.1:8086.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST=127.0.0.1 PORT=8086
listening "$HOST" "$PORT" && exit 0
command -v gcloud >/dev/null || { echo "services: firestore: gcloud is not installed" >&2; exit 1; }
start_detached firestore gcloud beta emulators firestore start --host-port="$HOST:$PORT" \
  --project=trackline-test --quiet
wait_for firestore "$HOST" "$PORT" 90
