#!/usr/bin/env bash
# Creates .venv with the pinned test clients of tests/requirements.txt.
# A second run with unchanged requirements does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/requirements.txt
venv=.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)

if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" || {
    echo "setup-venv: 'python3 -m venv' failed; run scripts/install-deps.sh (python3-venv)" >&2
    exit 1
  }
fi
echo "setup-venv: installing $req into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$req"
echo "$want" >"$stamp"
