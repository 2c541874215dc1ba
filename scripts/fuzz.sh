#!/usr/bin/env bash
# Fuzzing with AFL++ through cargo-afl (see README "Fuzzing"). Subcommands:
#   install           cargo install cargo-afl (pinned) and build AFL++, unless already done
#   build             build the instrumented target binaries (fuzz/target/release/<target>)
#   run SECONDS [T..] fuzz each target T (default: all) for SECONDS (0 = until Ctrl-C), one
#                     after the other, resuming from fuzz/out/<T>; fails if any crash was saved
#   ci SECONDS        install, build, then a fresh bounded pass per target (no UI); fails on a
#                     crash and prints how to reproduce it
# Environment: FUZZ_OUT (default fuzz/out), FUZZ_UI=1 (AFL's screen, interactive runs only).
set -euo pipefail

CARGO_AFL_VERSION=0.18.2
TARGETS=(modern_requirer provider_app_data legacy_relation csr csr_fast_differential certs action_params config upstream_answer)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
OUT="${FUZZ_OUT:-$FUZZ/out}"
export PATH="$HOME/.cargo/bin:$PATH"

# Unprivileged, shared machines (CI, containers): no CPU governor to check, core_pattern may pipe
# to a crash handler (crashes are still detected through the exit signal), no CPU to bind to
# (other jobs use the cores), no terminal.
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1

afl_built() {
    # cargo-afl keeps AFL++ per rustc version under $XDG_DATA_HOME/afl.rs.
    local data="${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs"
    local rustc_dir
    rustc_dir="rustc-$(rustc -V | awk '{print $2}')-$(rustc -vV | awk '/^commit-hash/ {print substr($2, 1, 7)}')"
    [[ -x "$data/$rustc_dir/afl.rs-$CARGO_AFL_VERSION/afl/bin/afl-fuzz" ]]
}

install() {
    if ! cargo afl --version 2>/dev/null | grep -q "$CARGO_AFL_VERSION"; then
        echo "fuzz: installing cargo-afl $CARGO_AFL_VERSION (builds AFL++; a few minutes)"
        cargo install cargo-afl --locked --version "$CARGO_AFL_VERSION"
    fi
    if ! afl_built; then
        echo "fuzz: building AFL++ for $(rustc -V)"
        cargo afl config --build --force
    fi
}

build() {
    (cd "$FUZZ" && cargo afl build --release --locked --features afl --bins)
}

# stat FILE KEY: one value of AFL's fuzzer_stats.
stat() { awk -F' *: *' -v k="$2" '$1 == k {print $2}' "$1"; }

# fuzz_one TARGET SECONDS: one AFL session; prints its summary line.
fuzz_one() {
    local t=$1 secs=$2 out="$OUT/$1"
    local args=(-i "$FUZZ/corpus/$t" -o "$out" -x "$FUZZ/dict/json.dict")
    [[ -f "$FUZZ/dict/$t.dict" ]] && args+=(-x "$FUZZ/dict/$t.dict")
    local limit=()
    if [[ "$secs" != 0 ]]; then
        args+=(-V "$secs")
        # afl-fuzz stops itself after -V; this only guards against it hanging on start-up.
        limit=(timeout --kill-after=10 "$((secs + 120))")
    fi
    mkdir -p "$OUT"
    # A first run starts from the corpus; later ones resume from $out.
    local rc=0
    AFL_AUTORESUME=1 "${limit[@]}" cargo afl fuzz "${args[@]}" -- "$FUZZ/target/release/$t" \
        >"$OUT/$t.log" 2>&1 || rc=$?
    local stats="$out/default/fuzzer_stats"
    if [[ ! -f "$stats" ]]; then
        echo "fuzz: $t: afl-fuzz did not start (exit $rc); last lines of $OUT/$t.log:" >&2
        tail -n 30 "$OUT/$t.log" >&2
        return 1
    fi
    printf '%-18s %6ss %10s execs %8s/s  corpus %5s  crashes %s  hangs %s\n' "$t" \
        "$(stat "$stats" run_time)" "$(stat "$stats" execs_done)" \
        "$(stat "$stats" execs_per_sec)" "$(stat "$stats" corpus_count)" \
        "$(stat "$stats" saved_crashes)" "$(stat "$stats" saved_hangs)"
}

# crashes: lists saved crash inputs; fails when there are any.
crashes() {
    local found=0 t f
    for t in "$@"; do
        for f in "$OUT/$t"/default/crashes/id:*; do
            [[ -e "$f" ]] || continue
            found=1
            echo "fuzz: CRASH in $t: $f" >&2
        done
    done
    if ((found)); then
        cat >&2 <<EOF
fuzz: reproduce with:   fuzz/target/release/<target> < <file>
      keep as a test:   cp <file> fuzz/corpus/<target>/crash-<what>
                        cargo test --test fuzz_replay <target>   # fails until fixed
EOF
        return 1
    fi
}

run() {
    local secs=${1:-0}
    shift || true
    local targets=("$@")
    ((${#targets[@]})) || targets=("${TARGETS[@]}")
    [[ "${FUZZ_UI:-0}" == 1 && -t 1 ]] || export AFL_NO_UI=1
    local t
    for t in "${targets[@]}"; do
        fuzz_one "$t" "$secs"
    done
    crashes "${targets[@]}"
}

ci() {
    local secs=${1:-20}
    local t0=$SECONDS
    install
    echo "fuzz: cargo-afl ready in $((SECONDS - t0))s"
    t0=$SECONDS
    build
    echo "fuzz: targets built in $((SECONDS - t0))s"
    # A fresh output dir: CI judges this run only.
    OUT="$(mktemp -d "${TMPDIR:-/tmp}/tls-provider-fuzz.XXXXXX")"
    export AFL_NO_UI=1 AFL_FAST_CAL=1 AFL_BENCH_UNTIL_CRASH=1
    local t rc=0
    for t in "${TARGETS[@]}"; do
        fuzz_one "$t" "$secs" || rc=1
    done
    crashes "${TARGETS[@]}" || rc=1
    if ((rc)); then
        echo "fuzz: output kept in $OUT" >&2
        return 1
    fi
    rm -rf "$OUT"
}

cmd=${1:-}
shift || true
case "$cmd" in
    install) install ;;
    build) build ;;
    run) run "$@" ;;
    ci) ci "$@" ;;
    *)
        sed -n '2,9p' "$0" >&2
        exit 2
        ;;
esac
