#!/usr/bin/env bash
# Inbox load benchmark (BENCHMARKS.md, "Engage: the inbox under load"): N messages from
# `copernic bench gen` grouped into C conversations (one author on one channel within a few hours,
# so about C cases), imported once, turned into cases by the engine's catch-up (timed), then the
# inbox listing and the case view under concurrent keep-alive load on loopback
# (`copernic bench inbox`, its own Rust load generator in the same process).
#
#   bench/inbox.sh [N] [C] [-- bench inbox options]   (default 1000000 200000)
#   e.g. bench/inbox.sh 1000000 200000 -- --connections 64 --seconds 30
#
# The store is kept in $BENCH_DIR (default target/bench-inbox) and reused by later runs: delete
# it to measure the import and the catch-up again.
set -euo pipefail
n=${1:-1000000}
c=${2:-200000}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-inbox}
bin=$root/target/release/copernic
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
jsonl=$work/m$n-c$c.jsonl
store=$work/store-$n-c$c
if [ ! -s "$jsonl" ]; then
  "$bin" bench gen --count "$n" --conversations "$c" --jsonl "$jsonl"
fi
if [ ! -e "$store/copernic.db" ]; then
  start=$(date +%s.%N)
  "$bin" --data "$store" import "$jsonl" --json >"$work/import.json"
  echo "import: $(echo "$(date +%s.%N) - $start" | bc) s ($(head -c 160 "$work/import.json"))"
fi
# Some conversations draw no message (about e^-5 of them with 5 messages each on average).
"$bin" --data "$store" bench inbox --cases $((c * 9 / 10)) "$@" | tee "$work/inbox.txt"
