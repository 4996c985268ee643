#!/usr/bin/env python3
"""fastText, the peer of the classify benchmark, tuned honestly and measured on one core.

    target/peer-venv/bin/python bench/classify/fasttext_peer.py [--data DIR] [--corpus C ...]
        [--grid staged|full] [--json-out FILE] [--split-punct]
    target/peer-venv/bin/python bench/classify/fasttext_peer.py DIR CORPUS...   (older form)

DIR/<corpus>/{train,valid,test}.csv come from split.py (default DIR: target/classify-data;
default corpora: banking77 clinc150 allocine). Install the peer with setup_peer.sh.

For each corpus:
  * Text: lowercased, every run of whitespace (newlines included) made one space; labels written
    as __label__X. With --split-punct, punctuation is also split off words as fastText's own
    tutorial does (off by default, so that both sides see the same raw text).
  * Training rows are SHUFFLED (random.Random(7)) before fastText reads them in file order.
  * Settings are chosen on valid.csv only, never on test.csv: loss softmax, thread 1, seed 7, and
    lr {0.1, 0.5, 1.0} x epoch {5, 25, 50} x wordNgrams {1, 2} x char n-grams minn/maxn {0/0, 2/5}
    x dim {50, 100}. `--grid full` trains all 72; `--grid staged` (default, to fit the run in
    about 10 minutes on 2 shared cores) trains the 36 settings at dim 50, then the best of those
    at dim 100, and keeps whichever scores higher. Score: valid accuracy, then valid macro-F1;
    on a tie the cheaper setting (earlier in the grid order) wins.
  * The chosen setting is retrained on train.csv ONLY (valid stays out, as on Copernic's side,
    which uses valid for early stopping and selection) and timed (wall and CPU seconds).
  * On test.csv: accuracy, macro-F1 (mean over the labels seen in gold or predicted), and for
    corpora with an `oos` label the in-scope accuracy and out-of-scope recall of Larson et al.
  * Prediction throughput, one thread, on the already-preprocessed test texts: one
    model.predict(text) call per message in a Python loop, and one model.predict(list) call;
    each timed over >= 1 s in 3 rounds, the best round reported (msgs/s by wall clock).

Prints one JSON object per corpus on stdout (also written, one per line, to --json-out).
"""
import argparse
import csv
import itertools
import json
import os
import random
import re
import sys
import tempfile
import time

import fasttext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEED = 7
CORPORA = ["banking77", "clinc150", "allocine"]

# Grid order = cost order (cheap first), so that ties go to the cheaper setting.
GRID = {
    "epoch": [5, 25, 50],
    "minn_maxn": [(0, 0), (2, 5)],
    "wordNgrams": [1, 2],
    "lr": [0.1, 0.5, 1.0],
    "dim": [50, 100],
}

PUNCT = re.compile(r"([^\w\s'])", re.UNICODE)


def clean(t, split_punct=False):
    t = t.lower()
    if split_punct:
        t = PUNCT.sub(r" \1 ", t)
    return " ".join(t.split())  # newlines, tabs and runs of spaces -> one space


def load(path, split_punct):
    with open(path, newline="", encoding="utf-8") as f:
        return [(clean(r["text"], split_punct), r["label"].replace(" ", "_")) for r in csv.DictReader(f)]


def write_ft(rows, path):
    rows = list(rows)
    random.Random(SEED).shuffle(rows)  # fastText reads in file order
    with open(path, "w", encoding="utf-8") as f:
        for t, l in rows:
            f.write(f"__label__{l} {t}\n")


def train(path, s):
    minn, maxn = s["minn_maxn"]
    return fasttext.train_supervised(
        input=path, lr=s["lr"], epoch=s["epoch"], wordNgrams=s["wordNgrams"], dim=s["dim"],
        minn=minn, maxn=maxn, loss="softmax", thread=1, verbose=0, seed=SEED)


def predict_labels(model, texts):
    labels, _ = model.predict(texts, k=1)
    return [p[0][len("__label__"):] if p else "" for p in labels]


def scores(gold, pred):
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
    f1s = []
    for c in sorted(set(gold) | set(pred)):
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    out = {"accuracy": acc, "macro_f1": sum(f1s) / len(f1s)}
    if "oos" in gold:
        ins = [(g, p) for g, p in zip(gold, pred) if g != "oos"]
        oos = [(g, p) for g, p in zip(gold, pred) if g == "oos"]
        out["in_scope_accuracy"] = sum(g == p for g, p in ins) / len(ins)
        out["oos_recall"] = sum(p == "oos" for _, p in oos) / len(oos)
    return out


def evaluate(model, rows):
    return scores([l for _, l in rows], predict_labels(model, [t for t, _ in rows]))


def throughput(fn, n_per_call, min_seconds=1.0, rounds=3):
    """Best of `rounds` rounds, each repeating fn() for >= min_seconds; messages per second."""
    fn()  # warm-up
    best = 0.0
    cpu_best = 0.0
    for _ in range(rounds):
        calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            calls += 1
            wall = time.perf_counter() - wall0
            if wall >= min_seconds:
                break
        cpu = time.process_time() - cpu0
        best = max(best, calls * n_per_call / wall)
        cpu_best = max(cpu_best, calls * n_per_call / cpu)
    return best, cpu_best


def label(s):
    return {"lr": s["lr"], "epoch": s["epoch"], "wordNgrams": s["wordNgrams"], "dim": s["dim"],
            "minn": s["minn_maxn"][0], "maxn": s["minn_maxn"][1]}


def search(path, va, mode, log):
    """Returns (best setting, its valid scores, number of settings trained, seconds)."""
    started = time.perf_counter()
    tried = 0
    best = None

    def consider(s):
        nonlocal best, tried
        t0 = time.perf_counter()
        m = train(path, s)
        sc = evaluate(m, va)
        tried += 1
        log(f"  {label(s)} valid acc {sc['accuracy']:.4f} f1 {sc['macro_f1']:.4f} ({time.perf_counter() - t0:.1f}s)")
        key = (sc["accuracy"], sc["macro_f1"])
        if best is None or key > best[2]:
            best = (s, sc, key)

    keys = list(GRID)
    dims = GRID["dim"] if mode == "full" else GRID["dim"][:1]
    for values in itertools.product(*(GRID[k] if k != "dim" else dims for k in keys)):
        consider(dict(zip(keys, values)))
    if mode == "staged":
        for d in GRID["dim"][1:]:
            consider({**best[0], "dim": d})
    return best[0], best[1], tried, time.perf_counter() - started


def run_corpus(d, corpus, mode, split_punct, log):
    tr, va, te = (load(os.path.join(d, corpus, f"{p}.csv"), split_punct) for p in ("train", "valid", "test"))
    tmp = tempfile.mkdtemp(prefix="ftpeer-")
    path = os.path.join(tmp, f"{corpus}.train")
    write_ft(tr, path)
    log(f"{corpus}: {len(tr)} train / {len(va)} valid / {len(te)} test rows, grid {mode}")
    s, va_sc, tried, grid_s = search(path, va, mode, log)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    m = train(path, s)  # retrained on train only, timed
    train_s, train_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    va_again = evaluate(m, va)
    te_sc = evaluate(m, te)

    texts = [t for t, _ in te]
    loop, loop_cpu = throughput(lambda: [m.predict(t) for t in texts], len(texts))
    batch, batch_cpu = throughput(lambda: m.predict(texts), len(texts))
    os.remove(path)
    os.rmdir(tmp)
    out = {
        "corpus": corpus,
        "engine": "fasttext",
        "fasttext": "fasttext-wheel " + _version("fasttext-wheel") + ", numpy " + _version("numpy"),
        "preprocessing": "lowercase, whitespace runs (newlines) -> one space" + (", punctuation split" if split_punct else ""),
        "trained_on": "train (valid used only to choose settings)",
        "settings": {**label(s), "loss": "softmax", "thread": 1, "seed": SEED},
        "grid": mode,
        "grid_settings_tried": tried,
        "grid_seconds": grid_s,
        "valid_accuracy": va_sc["accuracy"],
        "valid_macro_f1": va_sc["macro_f1"],
        "retrain_reproduced_valid": va_again["accuracy"] == va_sc["accuracy"],
        **te_sc,
        "train_seconds": train_s,
        "train_cpu_seconds": train_cpu,
        "predict_msgs_per_s": loop,
        "predict_batch_msgs_per_s": batch,
        "predict_cpu_msgs_per_s": loop_cpu,
        "predict_batch_cpu_msgs_per_s": batch_cpu,
        "train_rows": len(tr),
        "valid_rows": len(va),
        "test_rows": len(te),
        "labels": len({l for _, l in tr}),
    }
    return out


def _version(pkg):
    try:
        from importlib.metadata import version
        return version(pkg)
    except Exception:
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("positional", nargs="*", help="DIR CORPUS... (older form)")
    ap.add_argument("--data", default=None, help="split dir (default: target/classify-data)")
    ap.add_argument("--corpus", nargs="+", default=None, help=f"default: {' '.join(CORPORA)}")
    ap.add_argument("--grid", choices=["staged", "full"], default="staged")
    ap.add_argument("--split-punct", action="store_true", help="also split punctuation off words")
    ap.add_argument("--json-out", default=None, help="also write the JSON lines to this file")
    ap.add_argument("--quiet", action="store_true", help="no grid progress on stderr")
    a = ap.parse_args(argv)
    d = a.data or (a.positional[0] if a.positional else os.path.join(ROOT, "target", "classify-data"))
    corpora = a.corpus or a.positional[1:] or CORPORA
    log = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    jf = open(a.json_out, "w", encoding="utf-8") if a.json_out else None
    for corpus in corpora:
        line = json.dumps(run_corpus(d, corpus, a.grid, a.split_punct, log))
        print(line, flush=True)
        if jf:
            jf.write(line + "\n")
            jf.flush()
    if jf:
        jf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
