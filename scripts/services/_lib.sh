# Helpers for scripts/services/*.sh: sourced, not run.
LOGS="${TRACKLINE_SERVICES_LOGS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.trackline-services}"
mkdir -p "$LOGS"

# listening HOST PORT: exit 0 when something accepts a TCP connection there.
listening() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for NAME HOST PORT SECONDS: poll until the port answers; say so either way.
wait_for() {
  local name="$1" host="$2" port="$3" limit="$4" i=0
  while [ "$i" -lt "$((limit * 4))" ]; do
    if listening "$host" "$port"; then
      echo "services: $name is up on $host:$port"
      return 0
    fi
    sleep 0.25
    i=$((i + 1))
  done
  echo "services: $name did not answer on $host:$port within ${limit}s (log: $LOGS/$name.log)" >&2
  return 1
}

# start_detached NAME CMD...: run a server in its own session, output to its log.
start_detached() {
  local name="$1"
  shift
  setsid nohup "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo "$!" > "$LOGS/$name.pid"
}
