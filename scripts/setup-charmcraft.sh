#!/usr/bin/env bash
# Create <repo>/.venv-charmcraft with the pinned charmcraft (scripts/charmcraft-requirements.txt),
# for `make ship-check`. Its own venv: charmcraft pins its dependencies (pydantic, craft-*) more
# tightly than the test charms' .venv can share.
#
# Only `charmcraft analyse` and `charmcraft expand-extensions` are used: both run offline, without
# LXD, snapd or a Charmhub login. Installing needs PyPI (or a pip mirror) once.
#
# Idempotent: a stamp file in the venv records the hash of the requirements file and the
# interpreter; when both are unchanged the script exits at once without touching anything.
#
# Environment:
#   PYTHON  interpreter to build the venv with (default: first of python3.11 python3.12
#           python3.13 python3.10 python3 found on PATH; charmcraft 4.5 needs >= 3.10)
#   VENV    venv directory (default: <repo>/.venv-charmcraft)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$repo/scripts/charmcraft-requirements.txt"
venv="${VENV:-$repo/.venv-charmcraft}"
stamp="$venv/.requirements.stamp"

die() { echo "setup-charmcraft: error: $*" >&2; exit 1; }

[ -f "$req" ] || die "missing $req"
want_version="$(sed -n 's/^charmcraft==//p' "$req")"
[ -n "$want_version" ] || die "$req does not pin charmcraft==<version>"

# shellcheck source=scripts/venv-lib.sh
. "$repo/scripts/venv-lib.sh"

ready() {
    [ -x "$venv/bin/python3" ] && [ -x "$venv/bin/charmcraft" ] && [ -f "$stamp" ] &&
        [ "$(cat "$stamp")" = "$(stamp_for "$venv/bin/python3" 2>/dev/null)" ]
}

ready && exit 0

mkdir -p "$venv"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv/.setup.lock"
    flock 9
    ready && exit 0
fi

if ! [ -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import sys' 2>/dev/null; then
    python="$(pick_python)"
    echo "setup-charmcraft: creating $venv with $python ($("$python" --version 2>&1))" >&2
    "$python" -m venv "$venv" ||
        die "'$python -m venv' failed; on Debian/Ubuntu install the python3-venv package"
fi

rm -f "$stamp"
echo "setup-charmcraft: installing charmcraft $want_version ($req)" >&2
"$venv/bin/python3" -m pip install --disable-pip-version-check --quiet --only-binary=:all: \
    -r "$req" ||
    die "pip install failed (is PyPI reachable?)"
# `charmcraft version` prints "charmcraft 4.5.0"; it needs no network.
got="$("$venv/bin/charmcraft" version 2>/dev/null)" || die "the installed charmcraft does not run"
[ "$got" = "charmcraft $want_version" ] || die "expected 'charmcraft $want_version', got '$got'"
stamp_for "$venv/bin/python3" >"$stamp"
echo "setup-charmcraft: ready: $venv ($got)" >&2
