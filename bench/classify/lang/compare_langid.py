#!/usr/bin/env python3
"""The peer: langid.py 1.1.6 (Lui & Baldwin 2012; BSD; its model ships inside the package),
restricted to the same seven languages, on the same held-out sets and the same ≤ 20-char cuts as
lang.rs's evaluation. It always answers, so compare with the "forced to answer" column of
EVALUATION.md. Prints accuracy per set and language, and messages per second on one core.

    $COPERNIC_LANG_DATA/venv/bin/pip install langid==1.1.6 'numpy<2'
    $COPERNIC_LANG_DATA/venv/bin/python bench/classify/lang/compare_langid.py
"""
import os
import time
from pathlib import Path

from langid.langid import LanguageIdentifier, model

LANGS = ["de", "en", "es", "fr", "it", "nl", "pt"]
DATA = Path(os.environ.get("COPERNIC_LANG_DATA", "/tmp/copernic-lang-data")) / "prepared" / "eval"


def prefix(t, m=20):
    """The same cut as lang.rs's `prefix`."""
    if len(t) <= m:
        return t
    end = 0
    for ci, c in enumerate(t[: m + 1]):
        if c == " " and ci > 0:
            end = ci
    return t[: end or m]


def load(name):
    rows = []
    for line in (DATA / f"{name}.tsv").read_text(encoding="utf-8").splitlines():
        lang, _, text = line.split("\t", 2)
        rows.append((lang, text))
    return rows


def main():
    ident = LanguageIdentifier.from_modelstring(model, norm_probs=False)
    ident.set_languages(LANGS)
    all_texts = []
    print("| set | texts | langid.py accuracy % | " + " | ".join(LANGS) + " |")
    print("|---|---:|---:|" + "---:|" * len(LANGS))
    for name in ["ovos-test", "ha", "udhr"]:
        base = load(name)
        for label, rows in [(name, base), (f"{name}, cut to ≤ 20 chars", [(l, prefix(t)) for l, t in base])]:
            per = {l: [0, 0] for l in LANGS}
            for lang, text in rows:
                got = ident.classify(text)[0]
                per[lang][0] += 1
                per[lang][1] += got == lang
            n = sum(v[0] for v in per.values())
            ok = sum(v[1] for v in per.values())
            cells = " | ".join(f"{100 * v[1] / v[0]:.1f}" if v[0] else "–" for v in per.values())
            print(f"| {label} | {n} | {100 * ok / n:.1f} | {cells} |")
            all_texts.extend(t for _, t in rows)
    short = [t for t in all_texts if len(t) <= 60][:20000]
    start = time.perf_counter()
    for t in short:
        ident.classify(t)
    el = time.perf_counter() - start
    print(f"\nlangid.py speed: {len(short) / el:.0f} messages/s on one core ({len(short)} texts ≤ 60 chars)")


if __name__ == "__main__":
    main()
