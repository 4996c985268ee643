#!/usr/bin/env bash
# Classify benchmark (BENCHMARKS.md): Copernic against fastText on every labelled corpus in
# ../shared/data, same splits, same run, one thread each: settings chosen on the validation
# split, accuracy and macro-F1 on the test split, training time, prediction throughput; then the
# full classify step with the shipped models.
#
#   bench/classify.sh [DATA_DIR]      (installs fastText in target/peer-venv from PyPI on first run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}
work=$root/target/classify-data
cd "$root"
cargo build --release --quiet -p copernic
if [ ! -x target/peer-venv/bin/python ]; then
  python3 -m venv target/peer-venv
  target/peer-venv/bin/pip install -q "numpy<2" fasttext-wheel
fi
python3 bench/classify/split.py "$data" "$work"
corpora="allocine banking77 clinc150"
python3 bench/classify/copernic_side.py target/release/copernic "$work" $corpora | tee "$work/copernic.jsonl"
target/peer-venv/bin/python bench/classify/fasttext_peer.py "$work" $corpora | tee "$work/fasttext.jsonl"
for c in $corpora; do
  target/release/copernic bench classify --data "$work/$c/test.csv" --seconds 3
done | tee "$work/full-step.jsonl"
