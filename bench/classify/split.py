#!/usr/bin/env python3
"""Deterministic, stratified 80/10/10 train/valid/test splits of the labelled corpora in
../shared/data, written as `text,label` CSVs (csv module, UTF-8, quoted where needed) to
OUT/<corpus>/{train,valid,test}.csv. Copernic and fastText both train on `train`, choose their
settings on `valid` and are scored once on `test`. Standard library only.

    split.py [--data DIR] [--out DIR] [--corpus NAME ...] [--clinc150-val-as-test]
    split.py DATA_DIR OUT_DIR            (older positional form, same result)

Method, per corpus: read every row (text kept verbatim, label as given), group the rows by
label, and for each label in sorted order shuffle its rows with one random.Random(7) shared by
the whole corpus; the first k = max(1, n // 10) rows of the label go to valid, the next k to
test, the rest (about 80%) to train. Each split is then shuffled again with the same generator,
so no output file is sorted by label. Same input and Python 3 => byte-identical output.

Corpora (output name: source files, text column, label column):
  banking77: banking77/train.csv (text, category)
  clinc150:  clinc150/train.csv + clinc150/val.csv (text, intent), MERGED then split like the
             others, out-of-scope `oos` kept as a label. The data owners hold back CLINC150's
             test split; merging keeps one method for every corpus and trains on more data.
             --clinc150-val-as-test instead keeps val.csv whole as the test split and splits
             train.csv 8/1 into train/valid (same stratified procedure).
  allocine:  allocine-sample/train.csv (text, label; 0 = negative, 1 = positive)
"""
import argparse
import csv
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEED = 7

CORPORA = {
    "banking77": (["banking77/train.csv"], "text", "category"),
    "clinc150": (["clinc150/train.csv", "clinc150/val.csv"], "text", "intent"),
    "allocine": (["allocine-sample/train.csv"], "text", "label"),
}


def read_rows(data, files, tcol, lcol):
    rows = []
    for f in files:
        with open(os.path.join(data, f), newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                rows.append((r[tcol], r[lcol]))
    return rows


def stratified(rows, rng, parts):
    """Split rows by label: for each label (sorted), shuffle, then take k = max(1, n // 10)
    rows for each name in `parts[:-1]` in turn and the rest for `parts[-1]`."""
    by_label = {}
    for r in rows:
        by_label.setdefault(r[1], []).append(r)
    out = {p: [] for p in parts}
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        k = max(1, len(group) // 10)
        for i, p in enumerate(parts[:-1]):
            out[p] += group[i * k:(i + 1) * k]
        out[parts[-1]] += group[(len(parts) - 1) * k:]
    return out


def split_corpus(data, name, clinc_val_as_test=False):
    files, tcol, lcol = CORPORA[name]
    rng = random.Random(SEED)
    if name == "clinc150" and clinc_val_as_test:
        train_rows = read_rows(data, files[:1], tcol, lcol)
        test_rows = read_rows(data, files[1:], tcol, lcol)
        s = stratified(train_rows, rng, ["valid", "train"])
        split = {"train": s["train"], "valid": s["valid"], "test": list(test_rows)}
    else:
        rows = read_rows(data, files, tcol, lcol)
        s = stratified(rows, rng, ["valid", "test", "train"])
        split = {"train": s["train"], "valid": s["valid"], "test": s["test"]}
    return split, rng


def write_split(out, name, split, rng):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    for part in ("train", "valid", "test"):
        rs = split[part]
        rng.shuffle(rs)
        with open(os.path.join(out, name, f"{part}.csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label"])
            w.writerows(rs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("positional", nargs="*", help="DATA_DIR OUT_DIR (older form)")
    ap.add_argument("--data", default=None, help="shared data dir (default: ../shared/data beside the repo)")
    ap.add_argument("--out", default=None, help="output dir (default: target/classify-data)")
    ap.add_argument("--corpus", nargs="+", choices=sorted(CORPORA), default=list(CORPORA))
    ap.add_argument("--clinc150-val-as-test", action="store_true",
                    help="keep clinc150/val.csv as the test split instead of merging")
    a = ap.parse_args(argv)
    if len(a.positional) > 2:
        ap.error("at most two positional arguments: DATA_DIR OUT_DIR")
    data = a.data or (a.positional[0] if a.positional else os.path.join(ROOT, "..", "shared", "data"))
    out = a.out or (a.positional[1] if len(a.positional) > 1 else os.path.join(ROOT, "target", "classify-data"))
    data, out = os.path.normpath(data), os.path.normpath(out)
    print(f"# splits of {data} -> {out}/<corpus>/{{train,valid,test}}.csv (seed {SEED})")
    print(f"{'corpus':<10} {'train':>7} {'valid':>7} {'test':>7} {'total':>7} {'labels':>6}")
    for name in a.corpus:
        split, rng = split_corpus(data, name, a.clinc150_val_as_test)
        write_split(out, name, split, rng)
        n = {p: len(split[p]) for p in ("train", "valid", "test")}
        labels = len({l for rs in split.values() for _, l in rs})
        print(f"{name:<10} {n['train']:>7} {n['valid']:>7} {n['test']:>7} {sum(n.values()):>7} {labels:>6}")
        for p in ("valid", "test"):  # every label must appear in valid and test
            missing = {l for _, l in split["train"]} - {l for _, l in split[p]}
            if missing:
                print(f"warning: {name}/{p} lacks labels {sorted(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
