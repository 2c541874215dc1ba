# Shared by scripts/setup-venv.sh and scripts/setup-charmcraft.sh (sourced after they define
# `die` and set `req`): the interpreter to build a venv with, and the stamp that says a venv is
# up to date with its requirements.

pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        command -v "$PYTHON" || die "PYTHON=$PYTHON not found"
        return
    fi
    local c
    for c in python3.11 python3.12 python3.13 python3.10 python3; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            command -v "$c"
            return
        fi
    done
    die "no Python >= 3.10 found on PATH (install python3.11, or set PYTHON=/path/to/python3)"
}

req_hash="$(sha256sum "$req" | cut -d' ' -f1)"

stamp_for() { # <python> -> stamp text: requirements hash + interpreter version
    printf '%s %s\n' "$req_hash" "$("$1" -c 'import sys; print(sys.version.split()[0])')"
}
