#!/usr/bin/env python3
"""Builds demo/messages.jsonl from the public corpora in ../shared/data (see NOTICE.md).

Texts are real (banking77 customer questions in English, Allociné reviews in French); authors,
channels and times are assigned here, deterministically, since the corpora carry none. One
copy-paste wave is made from a real review sentence repeated with the variations bots use
(mentions, links, case), so the demo shows near-duplicate detection.

    python3 crates/copernic/demo/make_sample.py ../shared/data > crates/copernic/demo/messages.jsonl
"""
import csv, json, random, sys, datetime

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
rng = random.Random(20261124)
start = datetime.datetime(2026, 11, 1, 8, 0, tzinfo=datetime.timezone.utc)

def rows(path, text_col):
    with open(path, newline="", encoding="utf-8") as f:
        return [r[text_col] for r in csv.DictReader(f)]

banking = rows(f"{data}/banking77/train.csv", "text")
allocine = rows(f"{data}/allocine-sample/train.csv", "text")
rng.shuffle(banking)
rng.shuffle(allocine)
out = []

def when():
    return (start + datetime.timedelta(seconds=rng.randrange(14 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")

for i, text in enumerate(banking[:1200]):
    out.append({"id": f"bk-{i}", "text": text, "lang": "en", "created_at": when(),
                "channel": rng.choice(["twitter", "email", "chat", "facebook"]),
                "author": {"handle": f"@customer{rng.randrange(600)}", "name": None}})
for i, text in enumerate(allocine[:700]):
    out.append({"id": f"ac-{i}", "text": text, "lang": "fr", "created_at": when(),
                "channel": rng.choice(["reviews", "instagram", "twitter"]),
                "author": {"handle": f"@spectateur{rng.randrange(400)}"}})
# A copy-paste wave: one real sentence, 40 bots, the variations they use.
seed = "Je déconseille fortement ce film, une perte de temps et d'argent, ne tombez pas dans le piège"
wave_start = start + datetime.timedelta(days=9, hours=14)
for i in range(40):
    text = seed
    if i % 3 == 1:
        text = f"@cinema{rng.randrange(9)} {text}"
    if i % 4 == 2:
        text = f"{text} https://t.co/{rng.randrange(10**6):06d}"
    if i % 5 == 3:
        text = text.upper()
    out.append({"id": f"wave-{i}", "text": text, "lang": "fr", "channel": "twitter",
                "created_at": (wave_start + datetime.timedelta(seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "author": {"handle": f"@bot{i:03d}"}})
out.sort(key=lambda m: m["created_at"])
for m in out:
    print(json.dumps(m, ensure_ascii=False))
