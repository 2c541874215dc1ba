#!/usr/bin/env bash
# Create <repo>/.venv and install the pinned Python dependencies of the test charms
# (tests/charms/requirements.txt): ops, charmlibs-interfaces-tls-certificates,
# charmlibs-interfaces-certificate-transfer, Scenario, pytest.
#
# Idempotent: a stamp file in the venv records the hash of the requirements file and the
# interpreter; when both are unchanged the script exits at once without touching anything.
# Needs Python >= 3.10 (3.11 recommended) with the venv module, and PyPI (or a pip mirror).
#
# Environment:
#   PYTHON  interpreter to build the venv with (default: first of python3.11 python3.12
#           python3.13 python3.10 python3 found on PATH)
#   VENV    venv directory (default: <repo>/.venv)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$repo/tests/charms/requirements.txt"
venv="${VENV:-$repo/.venv}"
stamp="$venv/.requirements.stamp"

die() { echo "setup-venv: error: $*" >&2; exit 1; }

[ -f "$req" ] || die "missing $req"

# shellcheck source=scripts/venv-lib.sh
. "$repo/scripts/venv-lib.sh"

# Fast path: venv exists, its interpreter runs, and the stamp matches.
if [ -x "$venv/bin/python3" ] && [ -f "$stamp" ] &&
    [ "$(cat "$stamp")" = "$(stamp_for "$venv/bin/python3" 2>/dev/null)" ]; then
    exit 0
fi

mkdir -p "$venv"
# Serialise concurrent runs (parallel test binaries may call this).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv/.setup.lock"
    flock 9
    # Another run may have finished while we waited.
    if [ -x "$venv/bin/python3" ] && [ -f "$stamp" ] &&
        [ "$(cat "$stamp")" = "$(stamp_for "$venv/bin/python3" 2>/dev/null)" ]; then
        exit 0
    fi
fi

if ! [ -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import sys' 2>/dev/null; then
    python="$(pick_python)"
    echo "setup-venv: creating $venv with $python ($("$python" --version 2>&1))" >&2
    "$python" -m venv "$venv" ||
        die "'$python -m venv' failed; on Debian/Ubuntu install the python3-venv package"
fi

rm -f "$stamp"
echo "setup-venv: installing $req" >&2
"$venv/bin/python3" -m pip install --disable-pip-version-check --quiet -r "$req" ||
    die "pip install failed (is PyPI reachable?)"
"$venv/bin/python3" -c 'import ops, charmlibs.interfaces.tls_certificates, charmlibs.interfaces.certificate_transfer, scenario' ||
    die "installed packages do not import"
stamp_for "$venv/bin/python3" >"$stamp"
echo "setup-venv: ready: $venv" >&2
