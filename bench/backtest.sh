#!/usr/bin/env bash
# Back-test benchmark (BENCHMARKS.md): `copernic query test` on a store of N messages (default
# 1,000,000, written by `copernic bench gen` and imported once), for queries of every kind.
#
#   bench/backtest.sh [N]
set -euo pipefail
n=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-backtest}
bin=$root/target/release/copernic
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
if [ ! -s "$work/store/copernic.db" ]; then
  "$bin" bench gen --count "$n" --jsonl "$work/m$n.jsonl"
  "$bin" --data "$work/store" import "$work/m$n.jsonl" --json >/dev/null
fi
while IFS= read -r q; do
  # Twice: the first run also warms the page cache.
  "$bin" --data "$work/store" query test "$q" --json >/dev/null
  "$bin" --data "$work/store" query test "$q" --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%8.1f ms %9d matches %9d examined  index=%s  %s" % (r["seconds"]*1000, r["count"], r["examined"], r["used_index"], r["normalised"]))'
done <<'QUERIES'
remboursement
card NEAR/3 declined
"carte bancaire" OR "credit card"
(livraison OR delivery) -merci lang:fr
rembours* OR refund*
film lang:fr
transfer* NEAR/5 account* -pending
lang:fr channel:twitter
twitter
QUERIES
