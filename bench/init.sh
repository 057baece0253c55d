#!/usr/bin/env bash
# `launcher init` of N repositories against `git submodule update --init` on the same local
# remotes. Each remote has FILES files over a few commits.   bench/init.sh [N] [FILES] [DELAY]
# Remotes are file:// when DELAY is 0 (the default), else smart HTTP on 127.0.0.1 with DELAY
# added to every request (e.g. 40ms: a hosted remote's round trip), via bench/gitserve.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-8} files=${2:-400} delay=${3:-0}
mkdir -p "$root/bench/out"
work=$(mktemp -d "$root/bench/out/init.XXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
go build -o "$work/launcher" "$root/cmd/launcher"
go build -o "$work/gitserve" "$root/bench/gitserve"
base="file://$work/remotes"
if [[ $delay != 0 ]]; then
  mkdir -p "$work/remotes"
  "$work/gitserve" -root "$work/remotes" -delay "$delay" >"$work/url" &
  for _ in $(seq 1 50); do [[ -s $work/url ]] && break; sleep 0.1; done
  base=$(cat "$work/url")
fi
now() { date +%s%N; }
yaml="name: bench\nservices:\n"
mkdir -p "$work/parent" && git -C "$work/parent" init -q -b main
for i in $(seq 1 "$n"); do
  src="$work/src/svc$i"; mkdir -p "$src/pkg"
  git -C "$src" init -q -b main
  for c in 1 2 3 4; do
    for f in $(seq 1 $((files / 4))); do head -c 2048 /dev/urandom | base64 > "$src/pkg/f${c}_$f.txt"; done
    git -C "$src" add . && git -C "$src" commit -q -m "c$c"
  done
  git clone -q --bare "$src" "$work/remotes/svc$i.git"
  git -C "$work/parent" -c protocol.file.allow=always submodule add -q "$base/svc$i.git" "services/svc$i"
  yaml+="  svc$i: {repo: \"$base/svc$i.git\", path: services/svc$i, image: x}\n"
done
git -C "$work/parent" commit -q -m submodules
printf "$yaml" > "$work/launcher.yaml"

lt=() gt=()
for r in 1 2 3; do
  rm -rf "$work/ws" && mkdir -p "$work/ws" && cp "$work/launcher.yaml" "$work/ws/"
  s=$(now); "$work/launcher" --project-dir "$work/ws" init --no-doctor ${JOBS:+-j $JOBS} >/dev/null 2>&1; e=$(now); lt+=($(( (e - s) / 1000000 )))
  rm -rf "$work/sub" && git clone -q "$work/parent" "$work/sub"
  s=$(now); git -C "$work/sub" -c protocol.file.allow=always submodule update --init -q; e=$(now); gt+=($(( (e - s) / 1000000 )))
  echo "run $r: launcher init ${lt[-1]} ms, git submodule update --init ${gt[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
lm=$(median "${lt[@]}") gm=$(median "${gt[@]}")
echo "$n repos x $files files, remotes $( [[ $delay == 0 ]] && echo file:// || echo "HTTP +$delay/request") (median of 3): launcher init $lm ms, git submodule update --init $gm ms: $(awk "BEGIN{printf \"%.1f\", $gm/$lm}")x faster (goal >= 3x)"
