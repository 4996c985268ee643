#!/usr/bin/env python3
"""Copernic's side of the classify benchmark (bench/classify.sh): for each corpus split in
DIR/<corpus>/{train,valid,test}.csv, picks training settings on the validation split, trains,
evaluates on the test split, and times prediction (one thread). Prints one JSON object per
corpus."""
import json
import subprocess
import sys
import time

BIN = sys.argv[1]
DIR = sys.argv[2]
CORPORA = sys.argv[3:]
# 36 settings, cheapest first: on a tie in validation accuracy the earlier (smaller, faster)
# one is kept.
GRID = [
    {"bits": bits, "word_ngrams": wn, "char_max": cm, "lr": lr}
    for bits in (16, 18, 20)
    for wn in (1, 2)
    for cm in (0, 4, 5)
    for lr in (0.5, 1.0)
]


def train(corpus, s, out):
    cmd = [BIN, "train", "--data", f"{DIR}/{corpus}/train.csv", "--valid", f"{DIR}/{corpus}/valid.csv",
           "--test", f"{DIR}/{corpus}/test.csv", "--out", out, "--json",
           "--bits", str(s["bits"]), "--word-ngrams", str(s["word_ngrams"]),
           "--char-max", str(s["char_max"]), "--lr", str(s["lr"])]
    started = time.time()
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    r["wall_seconds"] = time.time() - started
    return r


for corpus in CORPORA:
    best = None
    for s in GRID:
        r = train(corpus, s, f"/tmp/copernic-{corpus}.cpnm")
        if best is None or r["valid_accuracy"] > best[1]["valid_accuracy"]:
            best = (s, r)
    s, _ = best
    model = f"{DIR}/{corpus}/copernic.cpnm"
    r = train(corpus, s, model)
    speed = json.loads(subprocess.run(
        [BIN, "bench", "classify", "--model", model, "--data", f"{DIR}/{corpus}/test.csv", "--seconds", "3"],
        check=True, capture_output=True, text=True).stdout)
    print(json.dumps({
        "corpus": corpus,
        "engine": "copernic",
        "settings": s,
        "accuracy": r["accuracy"],
        "macro_f1": r["macro_f1"],
        "valid_accuracy": r["valid_accuracy"],
        "train_seconds": r["train_seconds"],
        "predict_msgs_per_s": speed["results"][0]["msgs_per_s"],
        "test_rows": r["test_rows"],
    }), flush=True)
