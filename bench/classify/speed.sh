#!/usr/bin/env bash
# Prediction and training speed only, on a quiet machine, after bench/classify.sh chose the
# settings: each engine retrains its chosen settings and predicts the test texts, one thread,
# one corpus at a time, the two engines one after the other (never at the same time).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$root/target/classify-data
cd "$root"
for c in allocine banking77 clinc150; do
  target/release/copernic bench classify --model "$work/$c/copernic.cpnm" --data "$work/$c/test.csv" --seconds 3 \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"corpus": sys.argv[1], "engine": "copernic", "predict_msgs_per_s": r["results"][0]["msgs_per_s"]}))' "$c"
  target/peer-venv/bin/python - "$work" "$c" <<'PY'
import json, sys, time, random, os, tempfile
sys.path.insert(0, "bench/classify")
import fasttext_peer as P
work, c = sys.argv[1], sys.argv[2]
s = next(json.loads(l) for l in open(f"{work}/fasttext.jsonl") if json.loads(l)["corpus"] == c)["settings"]
s["minn_maxn"] = tuple(s["minn_maxn"])
tr, te = P.load(f"{work}/{c}/train.csv", False), P.load(f"{work}/{c}/test.csv", False)
path = os.path.join(tempfile.mkdtemp(), "train")
P.write_ft(tr, path)
t0 = time.time(); m = P.train(path, s); train_s = time.time() - t0
texts = [t for t, _ in te]
reps = max(1, 20000 // len(texts))
t0 = time.time()
for _ in range(reps):
    for t in texts:
        m.predict(t)
one = reps * len(texts) / (time.time() - t0)
t0 = time.time()
for _ in range(reps):
    m.predict(texts)
batch = reps * len(texts) / (time.time() - t0)
print(json.dumps({"corpus": c, "engine": "fasttext", "train_seconds": train_s, "predict_msgs_per_s": one, "predict_batch_msgs_per_s": batch}))
PY
done
for c in allocine banking77 clinc150; do
  target/release/copernic bench classify --data "$work/$c/test.csv" --seconds 3
done
