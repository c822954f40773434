#!/usr/bin/env bash
# Start the servers the tests need that this machine does not start itself (emulators, a
# Kafka-compatible broker, Chromium for the dashboard's browser tests). Each one is a script in
# scripts/services/; each is idempotent (nothing happens when its port already answers) and waits
# a bounded time. All start at once and are then waited for together, so the slowest one sets
# the time. Logs go to $TRACKLINE_SERVICES_LOGS (default .trackline-services/ in the repo).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TRACKLINE_SERVICES_LOGS="${TRACKLINE_SERVICES_LOGS:-$ROOT/.trackline-services}"
mkdir -p "$TRACKLINE_SERVICES_LOGS"
names=()
pids=()
for script in "$ROOT"/scripts/services/*.sh; do
  [ -e "$script" ] || continue
  name="$(basename "$script" .sh)"
  [ "$name" = "_lib" ] && continue
  bash "$script" &
  names+=("$name")
  pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed+=("${names[$i]}")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "services: could not start: ${failed[*]} (logs in $TRACKLINE_SERVICES_LOGS);" \
    "the tests that need them will fail under CI=true and skip otherwise" >&2
fi
exit 0
