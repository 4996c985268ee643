#!/usr/bin/env bash
# Import benchmark (BENCHMARKS.md): `copernic import` of N JSONL messages into the embedded store,
# side by side with the floor, the sqlite3 shell's `.import` of the same rows as CSV into a bare
# table. Prints both times, the ratio and Copernic's peak memory.
#
#   bench/import.sh [N]        (default 1000000; needs sqlite3 and GNU time: apt-get install sqlite3 time)
set -euo pipefail
n=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-import}
bin=$root/target/release/copernic
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
if [ ! -s "$work/m$n.jsonl" ]; then
  "$bin" bench gen --count "$n" --jsonl "$work/m$n.jsonl" --csv "$work/m$n.csv"
fi
sync
rm -f "$work/floor.db" "$work/floor.db-wal" "$work/floor.db-shm"
floor=$( { /usr/bin/time -f "%e %M" sqlite3 "$work/floor.db" \
  "CREATE TABLE m(id TEXT, author TEXT, created_at TEXT, text TEXT);" \
  ".mode csv" ".import --skip 1 $work/m$n.csv m" >/dev/null; } 2>&1 | tail -1)
rm -rf "$work/store"
ours=$( { /usr/bin/time -f "%e %M" "$bin" --data "$work/store" import "$work/m$n.jsonl" --json >"$work/summary.json"; } 2>&1 | tail -1)
read -r floor_s floor_kb <<<"$floor"
read -r ours_s ours_kb <<<"$ours"
echo "messages:            $n ($(du -h "$work/m$n.jsonl" | cut -f1) of JSONL)"
echo "sqlite3 .import CSV: ${floor_s} s, peak ${floor_kb} KB"
echo "copernic import:     ${ours_s} s, peak ${ours_kb} KB"
echo "ratio:               $(echo "scale=2; $ours_s / $floor_s" | bc)x the floor"
echo "summary:             $(cat "$work/summary.json" | head -c 200)"
