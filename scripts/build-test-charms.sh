#!/usr/bin/env bash
# Build the Python test charms (tests/charms/<name>/ with a metadata.yaml) into
# <repo>/build/charms/<name>/: metadata.yaml, config.yaml, actions.yaml, src/, and an
# executable `dispatch` that runs src/charm.py with <repo>/.venv's interpreter (absolute
# path: the simulator runs hooks with a cleared environment).
#
# The dispatch goes through the warm fork server (tests/charms/pyfork/, built into
# <repo>/build/pyfork/ with the C compiler $CC, default cc): a hook runs in a fork of a Python
# that has already imported ops & co., as `python3 ./src/charm.py` would, and falls back to
# exactly that when the server cannot take it. PYFORK=0, or no C compiler, builds dispatches
# that exec the interpreter directly.
#
# Runs scripts/setup-venv.sh first (a no-op when the venv is current) unless --no-venv.
# Idempotent and fast: files are copied only when their content changed, stale files are
# removed, and nothing is touched when everything is current.
#
# Usage: [PYFORK=0] scripts/build-test-charms.sh [--no-venv] [charm-name...]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_root="$repo/tests/charms"
out_root="$repo/build/charms"
python="$repo/.venv/bin/python3"

with_venv=1
names=()
for arg in "$@"; do
    case "$arg" in
    --no-venv) with_venv=0 ;;
    -h | --help)
        sed -n '2,17p' "$0"
        exit 0
        ;;
    -*)
        echo "build-test-charms: unknown option $arg" >&2
        exit 2
        ;;
    *) names+=("$arg") ;;
    esac
done

if [ "$with_venv" = 1 ]; then
    "$repo/scripts/setup-venv.sh"
fi

if [ "${#names[@]}" -eq 0 ]; then
    for meta in "$src_root"/*/metadata.yaml; do
        [ -f "$meta" ] || continue
        names+=("$(basename "$(dirname "$meta")")")
    done
fi
[ "${#names[@]}" -gt 0 ] || { echo "build-test-charms: no charms under $src_root" >&2; exit 1; }

# put <content-file> <dest> [mode]: write dest only if its content or mode differs.
put() {
    local from="$1" to="$2" mode="${3:-644}"
    if ! cmp -s "$from" "$to"; then
        mkdir -p "$(dirname "$to")"
        cp "$from" "$to.tmp.$$"
        chmod "$mode" "$to.tmp.$$"
        mv -f "$to.tmp.$$" "$to"
    elif [ "$(stat -c %a "$to")" != "$mode" ]; then
        chmod "$mode" "$to"
    fi
}

tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.bin"' EXIT

# The fork server and its client (see tests/charms/pyfork/server.py).
pyfork_src="$src_root/pyfork"
pyfork_out="$repo/build/pyfork"
launcher=("$python")
if [ "${PYFORK:-1}" != 0 ]; then
    cc="${CC:-cc}"
    # Compiled again only when client.c changed (its hash is kept next to the binary).
    sum="$(sha256sum "$pyfork_src/client.c" | cut -d' ' -f1)"
    if [ -x "$pyfork_out/pyfork" ] && [ "$(cat "$pyfork_out/pyfork.sha256" 2>/dev/null)" = "$sum" ]; then
        built=1
    elif ! command -v "$cc" >/dev/null 2>&1; then
        built=0
        echo "build-test-charms: no C compiler ($cc): dispatches run the interpreter directly" >&2
    elif mkdir -p "$pyfork_out" && "$cc" -O2 -Wall -Wextra -Werror -o "$tmp.bin" "$pyfork_src/client.c"; then
        built=1
        chmod 755 "$tmp.bin"
        mv -f "$tmp.bin" "$pyfork_out/pyfork"
        echo "$sum" >"$pyfork_out/pyfork.sha256"
    else
        built=0
        echo "build-test-charms: $cc failed on pyfork/client.c: dispatches run the interpreter directly" >&2
    fi
    if [ "$built" = 1 ]; then
        put "$pyfork_src/server.py" "$pyfork_out/server.py"
        launcher=("$pyfork_out/pyfork" "$python" "$pyfork_out/server.py")
    fi
fi

for name in "${names[@]}"; do
    src="$src_root/$name"
    out="$out_root/$name"
    [ -f "$src/metadata.yaml" ] || { echo "build-test-charms: $src/metadata.yaml missing" >&2; exit 1; }
    [ -f "$src/src/charm.py" ] || { echo "build-test-charms: $src/src/charm.py missing" >&2; exit 1; }
    mkdir -p "$out"

    # Files that belong in the built charm (paths relative to the charm dir).
    wanted=(dispatch)
    for f in metadata.yaml config.yaml actions.yaml; do
        if [ -f "$src/$f" ]; then
            put "$src/$f" "$out/$f"
            wanted+=("$f")
        fi
    done
    while IFS= read -r -d '' f; do
        rel="${f#"$src"/}"
        mode=644
        [ -x "$f" ] && mode=755
        put "$f" "$out/$rel" "$mode"
        wanted+=("$rel")
    done < <(find "$src/src" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0)

    quoted="$(printf '"%s" ' "${launcher[@]}")"
    cat >"$tmp" <<DISPATCH
#!/bin/sh
JUJU_DISPATCH_PATH="\${JUJU_DISPATCH_PATH:-\$0}" PYTHONPATH=lib exec $quoted./src/charm.py
DISPATCH
    put "$tmp" "$out/dispatch" 755

    # Remove files that are no longer part of the charm. Runtime state the unit keeps in its
    # own copy is not here: the simulator copies the built dir per unit.
    while IFS= read -r -d '' f; do
        rel="${f#"$out"/}"
        keep=0
        for w in "${wanted[@]}"; do
            [ "$w" = "$rel" ] && { keep=1; break; }
        done
        [ "$keep" = 1 ] || rm -f "$f"
    done < <(find "$out" -type f ! -path '*/__pycache__/*' -print0)
    find "$out" -mindepth 1 -type d -empty -delete
done

echo "build-test-charms: built ${names[*]} in $out_root" >&2
