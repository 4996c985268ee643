#!/usr/bin/env bash
# Installs the fastText peer of the classify benchmark into target/peer-venv (gitignored):
# PyPI `fasttext-wheel` with `numpy<2` (fasttext-wheel 0.9.2's predict breaks on numpy 2).
# Idempotent: creates the venv only if missing, and runs pip only if the import check fails.
#
#   bench/classify/setup_peer.sh        then: target/peer-venv/bin/python bench/classify/fasttext_peer.py
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${PEER_VENV:-$root/target/peer-venv}
check='import fasttext, numpy, sys; sys.exit(0 if int(numpy.__version__.split(".")[0]) < 2 else 1)'
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "numpy<2" fasttext-wheel; then
    echo "setup_peer.sh: pip could not install fasttext-wheel / numpy<2 (is PyPI reachable?)" >&2
    exit 1
  fi
  "$venv/bin/python" -c "$check"
fi
"$venv/bin/python" - <<'PY'
import importlib.metadata as m, sys
print(f"peer venv ok: python {sys.version.split()[0]}, fasttext-wheel {m.version('fasttext-wheel')}, numpy {m.version('numpy')}")
PY
