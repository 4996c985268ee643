#!/usr/bin/env bash
# Listen benchmark (BENCHMARKS.md): the percolator against the naive engine (every query verified
# on every message, same code), one thread, 10,000 and 100,000 standing queries generated from
# the vocabulary of the real corpora in ../shared/data (banking77, CLINC150, Allociné).
#
#   bench/listen.sh [extra flags for `copernic bench listen`, e.g. --json]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${COPERNIC_SHARED_DATA:-$root/../shared/data}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
corpus=()
for f in banking77/train.csv clinc150/train.csv clinc150/val.csv allocine-sample/train.csv; do
  [ -f "$data/$f" ] && corpus+=(--corpus "$data/$f")
done
[ ${#corpus[@]} -gt 0 ] || echo "no corpus under $data: using the bundled demo sample" >&2
"$root/target/release/copernic" bench listen "${corpus[@]}" --queries 10000 --messages 300000 --naive-seconds 20 "$@"
"$root/target/release/copernic" bench listen "${corpus[@]}" --queries 100000 --messages 100000 --naive-seconds 30 "$@"
