#!/usr/bin/env bash
# `launcher tail nats` under load: another process publishes as fast as it can for DURATION; reports
# what the tap saw (msg/s), what it dropped, and its peak RSS, for the live view's ingest path
# (--count) and for --json to /dev/null; and the NATS CLI's `nats sub '>'` when it is installed.
# A nats-server from the module proxy runs on 127.0.0.1:24222.   bench/tail.sh [DURATION]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-10s}
mkdir -p "$root/bench/out"
work=$(mktemp -d "$root/bench/out/tail.XXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/nats-server" github.com/nats-io/nats-server/v2 && go build -o "$work/launcher" ./cmd/launcher && go build -o "$work/natspub" ./bench/natspub)
"$work/nats-server" -a 127.0.0.1 -p 24222 -m 28222 >/dev/null 2>&1 &
for _ in $(seq 1 50); do nc -z 127.0.0.1 24222 2>/dev/null && break; sleep 0.1; done

run() { # NAME CMD...: the tap under load, then its summary and peak RSS
  local name=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>"$work/$name.err" &
  local pid=$!
  sleep 1
  "$work/natspub" -url nats://127.0.0.1:24222 -d "$dur" >"$work/$name.pub"
  sleep 0.5
  pkill -INT -P "$pid" 2>/dev/null || kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$name: $(cat "$work/$name.pub")"
  echo "$name: $(grep -E 'messages in' "$work/$name.err" || true)"
  echo "$name: peak RSS $(awk '/Maximum resident/ {printf "%.0f MB", $6/1024}' "$work/$name.err")"
}
run count "$work/launcher" tail nats --server nats://127.0.0.1:24222 --monitor http://127.0.0.1:28222 --count
run json "$work/launcher" tail nats --server nats://127.0.0.1:24222 --monitor http://127.0.0.1:28222 --json
if command -v nats >/dev/null; then
  secs=${dur%s}
  (timeout $((secs + 6)) nats sub '>' -s nats://127.0.0.1:24222 --raw 2>"$work/natscli.err" | wc -l >"$work/natscli.count") &
  pid=$!; sleep 1
  "$work/natspub" -url nats://127.0.0.1:24222 -d "$dur" >"$work/natscli.pub"
  wait "$pid" 2>/dev/null || true
  echo "nats CLI: $(cat "$work/natscli.pub"); \`nats sub '>' --raw\` printed $(cat "$work/natscli.count") of them$(grep -q Disconnected "$work/natscli.err" && echo ', then was disconnected as a slow consumer')"
fi
