#!/usr/bin/env bash
# Rebuilds the shipped models from the real corpora in ../shared/data (see README.md here).
#   crates/copernic-classify/models/build.sh [DATA_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
data=${1:-$root/../shared/data}
work=$root/target/models
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p copernic
bin=$root/target/release/copernic
python3 "$here/make_intent.py" "$data" "$work/intent.csv"
python3 - "$data" "$work/sentiment-fr.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/allocine-sample/train.csv", newline="")))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for r in rows:
        w.writerow([r["text"], "positive" if r["label"] == "1" else "negative"])
PY
"$bin" train --data "$work/intent.csv" --out "$here/intent.cpnm" --bits 16 --char-max 4 --seed 7 \
  --licence "banking77 CC BY 4.0 (PolyAI, Casanueva et al. 2020); CLINC150 CC BY 3.0 (Larson et al. 2019); Allociné sample MIT (T. Blard 2020)" --json > "$work/intent.eval.json"
"$bin" train --data "$work/sentiment-fr.csv" --out "$here/sentiment-fr.cpnm" --bits 16 --char-max 4 --seed 7 \
  --licence "Allociné sample MIT (T. Blard 2020)" --json > "$work/sentiment-fr.eval.json"
for m in intent sentiment-fr; do
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], "accuracy", round(r["accuracy"],4), "macro-F1", round(r["macro_f1"],4), "test rows", r["test_rows"])' "$work/$m.eval.json" "$m"
done
