#!/usr/bin/env bash
# Benchmarks `launcher up --wait` against `docker compose up -d --wait` on the same four infra
# (same images, data volumes, free host ports; compose gets the best healthchecks a user can
# write on these images, at a 1 s interval). Also: a no-op `up` on a running stack, and a Go
# service's one-line change until it is running again.
#   bench/up.sh [PAIRS]      (default 5)
# Images: LAUNCHER_TEST_IMAGES (as .ci/run sets it) or the official ones. Needs the compose plugin
# (COMPOSE=1 ../shared/testimages/build.sh installs it here).
set -euo pipefail
pairs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
declare -A img=([nats]=nats:2.10 [redis]=redis:7 [postgres]=postgres:16 [mongo]=mongo:7)
for kv in ${LAUNCHER_TEST_IMAGES:-}; do img[${kv%%=*}]=${kv#*=}; done
mkdir -p "$root/bench/out"
work=$(mktemp -d "$root/bench/out/up.XXXX")
trap 'cd "$work/l" && ./../launcher down --volumes >/dev/null 2>&1 || true; cd "$work/c" && docker compose down -v >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
go build -o "$work/launcher" "$root/cmd/launcher"
L="$work/launcher"
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

mkdir -p "$work/l" "$work/c"
cat >"$work/l/launcher.yaml" <<YAML
name: benchl
infra:
  nats: {image: ${img[nats]}, ports: ["4222"]}
  redis: {image: ${img[redis]}, ports: ["6379"]}
  postgres: {image: ${img[postgres]}, ports: ["5432"]}
  mongo: {image: ${img[mongo]}, ports: ["27017"]}
YAML
printf 'POSTGRES_PASSWORD=${secret}\nMONGO_ROOT_PASSWORD=${secret}\n' >"$work/l/.env.template"
cat >"$work/c/compose.yaml" <<YAML
name: benchc
services:
  nats:
    image: ${img[nats]}
    command: ["-js", "-sd", "/data", "-m", "8222"]
    ports: ["127.0.0.1::4222"]
    volumes: [nats:/data]
    # FROM scratch: no shell, no healthcheck is possible; --wait waits for "running"
  redis:
    image: ${img[redis]}
    command: ["redis-server", "--appendonly", "yes"]
    ports: ["127.0.0.1::6379"]
    volumes: [redis:/data]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 1s, timeout: 1s, retries: 60}
  postgres:
    image: ${img[postgres]}
    environment: {POSTGRES_PASSWORD: benchpw}
    ports: ["127.0.0.1::5432"]
    volumes: [pg:/var/lib/postgresql/data]
    healthcheck: {test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"], interval: 1s, timeout: 1s, retries: 60}
  mongo:
    image: ${img[mongo]}
    environment: {MONGO_INITDB_ROOT_USERNAME: root, MONGO_INITDB_ROOT_PASSWORD: benchpw}
    ports: ["127.0.0.1::27017"]
    volumes: [mongo:/data/db]
    healthcheck: {test: ["CMD-SHELL", "nc -w 1 127.0.0.1 27017 </dev/null || mongosh --quiet --eval 'db.runCommand({ping:1})'"], interval: 1s, timeout: 1s, retries: 60}
volumes: {nats: {}, redis: {}, pg: {}, mongo: {}}
YAML

lt=() ct=()
for i in $(seq 1 "$pairs"); do
  cd "$work/l"; s=$(now); "$L" up --wait >/dev/null 2>&1; e=$(now); lt+=("$(ms "$s" "$e")"); "$L" down --volumes >/dev/null 2>&1
  cd "$work/c"; s=$(now); docker compose up -d --wait >/dev/null 2>&1; e=$(now); ct+=("$(ms "$s" "$e")"); docker compose down -v >/dev/null 2>&1
  echo "pair $i: launcher ${lt[-1]} ms, compose ${ct[-1]} ms"
done
lm=$(printf '%s\n' "${lt[@]}" | median); cm=$(printf '%s\n' "${ct[@]}" | median)
echo "up --wait, four infra, cold (median of $pairs): launcher $lm ms, docker compose $cm ms, ratio $(awk "BEGIN{printf \"%.2f\", $lm/$cm}") (goal <= 0.5)"

cd "$work/l"; "$L" up --wait >/dev/null 2>&1
nt=(); for i in 1 2 3 4 5 6 7; do s=$(now); "$L" up --wait >/dev/null 2>&1; e=$(now); nt+=("$(ms "$s" "$e")"); done
echo "no-op up --wait on the running stack (median of 7): $(printf '%s\n' "${nt[@]}" | median) ms (goal <= 500)"
"$L" down --volumes >/dev/null 2>&1

# a Go service: one-line change until it is running (and ready) again
svc="$work/l/svc"; mkdir -p "$svc"; cp "$root/internal/orchestrate/testdata/probesvc/main.go" "$svc/"
cat >>"$work/l/launcher.yaml" <<YAML
services:
  probe:
    path: svc
    build: {go: .}
    uses: [nats, postgres]
    ports: ["8080"]
    health: {http: /readyz}
YAML
"$L" up --wait >/dev/null 2>&1
gt=()
for i in 1 2 3 4 5; do
  sed -i "s/^\/\/ change .*//; \$a // change $i" "$svc/main.go"
  s=$(now); "$L" up --wait >/dev/null 2>&1; e=$(now); gt+=("$(ms "$s" "$e")")
done
echo "Go service one-line change -> rebuilt, recreated, ready (median of 5): $(printf '%s\n' "${gt[@]}" | median) ms"
