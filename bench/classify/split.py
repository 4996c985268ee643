#!/usr/bin/env python3
"""Deterministic stratified 80/10/10 train/valid/test splits of the labelled corpora in
../shared/data, written as `text,label` CSVs to OUT/<corpus>/{train,valid,test}.csv. Both
Copernic and fastText train on `train`, choose settings on `valid` and are scored on `test`.

    split.py DATA_DIR OUT_DIR"""
import csv
import random
import sys

CORPORA = {
    "banking77": (["banking77/train.csv"], "text", "category"),
    # CLINC150's own train and validation files, merged then split like the others (its test
    # split is held back by the data's owners).
    "clinc150": (["clinc150/train.csv", "clinc150/val.csv"], "text", "intent"),
    "allocine": (["allocine-sample/train.csv"], "text", "label"),
}


def main(data, out):
    import os
    for name, (files, tcol, lcol) in CORPORA.items():
        rows = []
        for f in files:
            with open(f"{data}/{f}", newline="") as fh:
                rows += [(r[tcol], r[lcol]) for r in csv.DictReader(fh)]
        by_label = {}
        for r in rows:
            by_label.setdefault(r[1], []).append(r)
        rng = random.Random(7)
        split = {"train": [], "valid": [], "test": []}
        for label in sorted(by_label):
            group = by_label[label]
            rng.shuffle(group)
            k = max(1, len(group) // 10)
            split["valid"] += group[:k]
            split["test"] += group[k:2 * k]
            split["train"] += group[2 * k:]
        os.makedirs(f"{out}/{name}", exist_ok=True)
        for part, rs in split.items():
            rng.shuffle(rs)
            with open(f"{out}/{name}/{part}.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["text", "label"])
                w.writerows(rs)
        print(name, {p: len(r) for p, r in split.items()}, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
