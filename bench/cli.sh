#!/usr/bin/env bash
# Wall time of the commands a user runs most often without a daemon (goal: <= 20 ms each).
# Needs hyperfine (apt-get install hyperfine). Run from the repo root.
set -euo pipefail
bin=$(mktemp -d)/launcher
go build -o "$bin" ./cmd/launcher
hyperfine -N --warmup 5 --min-runs 100 "$bin --help" "$bin config validate" "$bin version"
