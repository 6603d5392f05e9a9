#!/usr/bin/env bash
# `make run`: start a local collector with a development write key, then the app pointed at
# it. The collector stops when the app exits. Without a display the app runs under Xvfb
# (nothing to see, but the whole pipeline works), and the script says so.
#
# Usage: packaging/run-app.sh VENV_BIN [reelscope arguments...]
set -euo pipefail
bin=$1
shift

state=${XDG_STATE_HOME:-$HOME/.local/state}/reelscope-dev-collector
mkdir -p "$state"
keys="$state/keys.json"
port=${REELSCOPE_DEV_PORT:-8765}
dev_key=reelscope-dev-key

if ! "$bin/reelscope-collector" keys --keys "$keys" list 2>/dev/null | grep -qw dev; then
  "$bin/reelscope-collector" keys --keys "$keys" add --name dev --key "$dev_key" >/dev/null
fi

collector_pid=""
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "Port $port is in use: assuming a collector already runs there."
else
  "$bin/reelscope-collector" serve --host 127.0.0.1 --port "$port" \
    --db "sqlite:///$state/events.sqlite3" --keys "$keys" >"$state/collector.log" 2>&1 &
  collector_pid=$!
  trap 'kill "$collector_pid" 2>/dev/null; wait "$collector_pid" 2>/dev/null || true' EXIT
  echo "Local collector on http://127.0.0.1:$port (log: $state/collector.log)"
  echo "Report on what it received: $bin/reelscope-report --db $state/events.sqlite3"
fi

# Defaults for the app's settings until the viewer saves their own (see player/settings.py).
export REELSCOPE_COLLECTOR_URL="http://127.0.0.1:$port"
export REELSCOPE_WRITE_KEY="$dev_key"

if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  echo "No display found: running Reelscope under Xvfb, where nothing can be seen."
  echo "Run 'make run' from a desktop session to watch."
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" "$bin/reelscope" "$@"
else
  "$bin/reelscope" "$@"
fi
