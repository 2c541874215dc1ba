#!/usr/bin/env bash
# Build the Python test charms (tests/charms/<name>/ with a metadata.yaml) into
# <repo>/build/charms/<name>/: metadata.yaml, config.yaml, actions.yaml, src/, and an
# executable `dispatch` that runs src/charm.py with <repo>/.venv's interpreter (absolute
# path: the simulator runs hooks with a cleared environment).
#
# Runs scripts/setup-venv.sh first (a no-op when the venv is current) unless --no-venv.
# Idempotent and fast: files are copied only when their content changed, stale files are
# removed, and nothing is touched when everything is current.
#
# Usage: scripts/build-test-charms.sh [--no-venv] [charm-name...]
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
        sed -n '2,11p' "$0"
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
trap 'rm -f "$tmp"' EXIT

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

    cat >"$tmp" <<DISPATCH
#!/bin/sh
JUJU_DISPATCH_PATH="\${JUJU_DISPATCH_PATH:-\$0}" PYTHONPATH=lib exec "$python" ./src/charm.py
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
