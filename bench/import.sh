#!/usr/bin/env bash
# Import benchmark (BENCHMARKS.md): `copernic import` of N JSONL messages into the embedded store,
# side by side with the floor, the sqlite3 shell's `.import` of the same rows as CSV into a bare
# table. Prints both times, the ratio and Copernic's peak memory, for each round and, over
# several rounds, the lowest and the median ratio.
#
#   bench/import.sh [N] [ROUNDS]   (default 1000000 messages, 1 round; needs sqlite3 and GNU time:
#                                   apt-get install sqlite3 time)
#
# Each round runs the floor, then Copernic, back to back: on a shared machine whose speed moves
# from minute to minute, only the ratio within a round means something.
set -euo pipefail
n=${1:-1000000}
rounds=${2:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-import}
bin=$root/target/release/copernic
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
if [ ! -s "$work/m$n.jsonl" ]; then
  "$bin" bench gen --count "$n" --jsonl "$work/m$n.jsonl" --csv "$work/m$n.csv"
fi
echo "messages:            $n ($(du -h "$work/m$n.jsonl" | cut -f1) of JSONL)"
ratios=()
for round in $(seq 1 "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "round $round"
  sync
  rm -f "$work/floor.db" "$work/floor.db-wal" "$work/floor.db-shm"
  floor=$( { /usr/bin/time -f "%e %M %U %S" sqlite3 "$work/floor.db" \
    "CREATE TABLE m(id TEXT, author TEXT, created_at TEXT, text TEXT);" \
    ".mode csv" ".import --skip 1 $work/m$n.csv m" >/dev/null; } 2>&1 | tail -1)
  rm -rf "$work/store"
  sync
  ours=$( { /usr/bin/time -f "%e %M %U %S" "$bin" --data "$work/store" import "$work/m$n.jsonl" --json >"$work/summary.json"; } 2>&1 | tail -1)
  read -r floor_s floor_kb floor_user floor_sys <<<"$floor"
  read -r ours_s ours_kb ours_user ours_sys <<<"$ours"
  ratio=$(echo "scale=2; $ours_s / $floor_s" | bc)
  ratios+=("$ratio")
  # CPU too: on two cores the import is CPU-bound, and a shared machine's speed moves between runs.
  echo "sqlite3 .import CSV: ${floor_s} s, peak ${floor_kb} KB, CPU ${floor_user} s user + ${floor_sys} s sys"
  echo "copernic import:     ${ours_s} s, peak ${ours_kb} KB, CPU ${ours_user} s user + ${ours_sys} s sys"
  echo "ratio:               ${ratio}x the floor"
done
echo "summary:             $(head -c 200 "$work/summary.json")"
if [ "$rounds" -gt 1 ]; then
  sorted=$(printf '%s\n' "${ratios[@]}" | sort -n)
  echo "ratios:              $(echo $sorted | sed 's/ /x, /g')x"
  echo "lowest, median:      $(echo "$sorted" | head -1)x, $(echo "$sorted" | sed -n "$(( (rounds + 1) / 2 ))p")x"
fi
