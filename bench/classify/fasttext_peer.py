#!/usr/bin/env python3
"""fastText, the peer of the classify benchmark, tuned honestly: rows shuffled, settings chosen
on the validation split from a grid, one thread for training and prediction, scored on the test
split. Prints one JSON object per corpus.

    fasttext_peer.py DIR CORPUS...   (DIR/<corpus>/{train,valid,test}.csv from split.py)"""
import csv
import itertools
import json
import os
import random
import sys
import tempfile
import time

import fasttext

# 24 settings per corpus, to fit the benchmark in minutes on 2 cores: learning rate, epochs,
# word pairs and character n-grams vary; dim stays at fastText's default of 100.
GRID = {
    "lr": [0.1, 0.5, 1.0],
    "epoch": [5, 25],
    "wordNgrams": [1, 2],
    "dim": [100],
    "minn_maxn": [(0, 0), (2, 5)],
}


def clean(t):
    return " ".join(t.lower().split())


def load(path):
    with open(path, newline="") as f:
        return [(clean(r["text"]), r["label"].replace(" ", "_")) for r in csv.DictReader(f)]


def write_ft(rows, path, seed=7):
    rows = list(rows)
    random.Random(seed).shuffle(rows)  # fastText reads in order; some corpora are sorted by label
    with open(path, "w") as f:
        for t, l in rows:
            f.write(f"__label__{l} {t}\n")


def train(path, s):
    minn, maxn = s["minn_maxn"]
    return fasttext.train_supervised(
        input=path, lr=s["lr"], epoch=s["epoch"], wordNgrams=s["wordNgrams"], dim=s["dim"],
        minn=minn, maxn=maxn, loss="softmax", thread=1, verbose=0, seed=7)


def accuracy(model, rows):
    labels, _ = model.predict([t for t, _ in rows], k=1)
    return sum(1 for (t, l), p in zip(rows, labels) if p[0] == f"__label__{l}") / len(rows)


def macro_f1(model, rows):
    labels, _ = model.predict([t for t, _ in rows], k=1)
    pred = [p[0].replace("__label__", "") for p in labels]
    gold = [l for _, l in rows]
    f1s = []
    for c in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return sum(f1s) / len(f1s)


def main(d, corpora):
    tmp = tempfile.mkdtemp()
    for corpus in corpora:
        tr, va, te = (load(f"{d}/{corpus}/{p}.csv") for p in ("train", "valid", "test"))
        path = os.path.join(tmp, f"{corpus}.train")
        write_ft(tr, path)
        best = None
        for values in itertools.product(*GRID.values()):
            s = dict(zip(GRID.keys(), values))
            m = train(path, s)
            a = accuracy(m, va)
            if best is None or a > best[1]:
                best = (s, a)
        s, va_acc = best
        started = time.time()
        m = train(path, s)
        train_s = time.time() - started
        texts = [t for t, _ in te]
        # Prediction throughput, one thread: one call per message (as a stream is classified)
        # and one batch call.
        reps = max(1, 20000 // len(texts))
        started = time.time()
        for _ in range(reps):
            for t in texts:
                m.predict(t)
        one_by_one = reps * len(texts) / (time.time() - started)
        started = time.time()
        for _ in range(reps):
            m.predict(texts)
        batch = reps * len(texts) / (time.time() - started)
        print(json.dumps({
            "corpus": corpus, "engine": "fasttext", "settings": {**s, "minn_maxn": list(s["minn_maxn"])},
            "valid_accuracy": va_acc, "accuracy": accuracy(m, te), "macro_f1": macro_f1(m, te),
            "train_seconds": train_s, "predict_msgs_per_s": one_by_one,
            "predict_batch_msgs_per_s": batch, "test_rows": len(te),
        }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
