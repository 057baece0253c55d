#!/usr/bin/env bash
# Brings the platform up with launcher (the repo's launcher.yaml; images from LAUNCHER_TEST_IMAGES
# when set), drives the gateway with bench/loadgen, and takes it down again.
#   bench/load.sh [CONCURRENCY] [DURATION_PER_ROUTE]      (defaults: 16 10s)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
conc=${1:-16} dur=${2:-10s}
mkdir -p "$root/bench/out"
work=$(mktemp -d "$root/bench/out/load.XXXX")
declare -A img=([nats]=nats:2.10 [redis]=redis:7 [postgres]=postgres:16 [mongo]=mongo:7)
for kv in ${LAUNCHER_TEST_IMAGES:-}; do img[${kv%%=*}]=${kv#*=}; done
cat >"$work/override.yaml" <<YAML
name: benchload
infra:
  nats: {image: ${img[nats]}, ports: ["4222"]}
  redis: {image: ${img[redis]}, ports: ["6379"]}
  postgres: {image: ${img[postgres]}, ports: ["5432"]}
  mongo: {image: ${img[mongo]}, ports: ["27017"]}
services:
  gateway: {ports: ["3000"]}
YAML
go build -o "$work/launcher" "$root/cmd/launcher"
L=("$work/launcher" --project-dir "$root" -f "$root/launcher.yaml" -f "$work/override.yaml" --env-file "$work/.env")
trap '"${L[@]}" down --volumes >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"${L[@]}" up --wait >/dev/null
port=$("${L[@]}" ps -o json | python3 -c 'import sys,json; print([p for n in json.load(sys.stdin) if n["name"]=="gateway" for p in n["ports"]][0].split("->")[0].split(":")[1])')
echo "gateway on 127.0.0.1:$port; $conc clients; $dur per route"
go run "$root/bench/loadgen" -url "http://127.0.0.1:$port" -c "$conc" -d "$dur"
