#!/usr/bin/env python3
"""Run every test of the workspace, as `cargo test --workspace --no-fail-fast` does, but with
several test binaries at a time (cargo runs them one after the other, and most of our time is
spent in a few binaries whose tests wait on hook processes).

    scripts/run-tests.py [--jobs N] [--test-threads T] [--rerun SPEC]... [-- ARGS]

1. `cargo test --workspace --no-run` builds the test binaries (the same set cargo test runs: unit
   tests of each lib and bin, integration tests, examples with `test = true`) and lists them.
2. Runs them, N at a time (default 3), each with `--test-threads T` (default 2) and ARGS, in its
   package's directory with CARGO_MANIFEST_DIR and CARGO_PKG_NAME set, as cargo does; plus
   `cargo test --workspace --doc` (the doc tests), and each --rerun.
3. Prints each binary's output when it ends (whole, not interleaved), then a summary; exits 101
   if anything failed (every binary runs whatever fails, like --no-fail-fast).

--rerun 'VAR=VALUE... TARGET[,TARGET...] [FILTER...]' runs the named integration test binaries
again with those variables and test-name filters, e.g.
--rerun 'JUJUSIM_LEADERSHIP=4 legacy_sim,interop_modern leader departure'.

The slowest binaries start first: by the durations of the last run (kept in
<target>/test-durations.json), else by SLOW_FIRST below. CARGO (default `cargo`) is the cargo
to run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Start order when there is no record of a previous run: the slowest first, as measured (job
# keys: the test target's name, a rerun's as "<name> (rerun <filters>)").
SLOW_FIRST = [
    "fault_sweep",
    "interop_modern",
    "legacy_sim",
    "transfer_sim",
    "interop_modern (rerun leader departure)",
    "sim_requirer",
    "legacy_unit",
    "ops_charm",
    "manual_sim",
]


@dataclass
class Job:
    label: str
    key: str
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    output: str = ""
    code: int | None = None
    seconds: float = 0.0


def cargo() -> str:
    return os.environ.get("CARGO", "cargo")


def build_and_list(repo: Path) -> list[dict]:
    """Build the test binaries; the compiler artifacts that are tests, in cargo's order."""
    cmd = [
        cargo(),
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]
    p = subprocess.run(cmd, cwd=repo, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(p.returncode)
    arts = []
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (
            msg.get("reason") == "compiler-artifact"
            and msg.get("profile", {}).get("test")
            and msg.get("executable")
        ):
            arts.append(msg)
    return arts


def package_name(art: dict) -> str:
    # package_id: "path+file:///...#name@0.1.0" (or "name 0.1.0 (path+file://...)", older cargo)
    pid = art["package_id"]
    if "#" in pid:
        tail = pid.rsplit("#", 1)[1]
        return tail.split("@", 1)[0] if "@" in tail else Path(pid.split("#")[0]).name
    return pid.split(" ", 1)[0]


def job_for(art: dict, repo: Path, extra_args: list[str]) -> Job:
    target = art["target"]
    pkg_dir = Path(art["manifest_path"]).parent
    exe = Path(art["executable"])
    src = Path(target["src_path"])
    try:
        src_rel = src.relative_to(pkg_dir)
    except ValueError:
        src_rel = src
    kind = target["kind"][0]
    where = os.path.relpath(exe, repo)
    if kind in ("lib", "bin"):
        label = f"unittests {src_rel} ({where})"
    else:
        label = f"{src_rel} ({where})"
    env = {"CARGO_MANIFEST_DIR": str(pkg_dir), "CARGO_PKG_NAME": package_name(art)}
    return Job(label, target["name"], [str(exe), *extra_args], pkg_dir, env)


def run_job(job: Job) -> None:
    start = time.monotonic()
    p = subprocess.run(
        job.argv,
        cwd=job.cwd,
        env={**os.environ, **job.env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    job.seconds = time.monotonic() - start
    job.code = p.returncode
    job.output = p.stdout.decode(errors="replace")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--jobs", "-j", type=int, default=int(os.environ.get("TEST_JOBS", "3")))
    ap.add_argument(
        "--test-threads", type=int, default=int(os.environ.get("TEST_THREADS", "2"))
    )
    ap.add_argument("--rerun", action="append", default=[], metavar="SPEC")
    ap.add_argument("args", nargs="*", help="passed to every test binary")
    opts = ap.parse_args()

    repo = Path(__file__).resolve().parent.parent
    started = time.monotonic()
    arts = build_and_list(repo)
    built = time.monotonic()
    base_args = [f"--test-threads={opts.test_threads}", *opts.args]
    jobs = [job_for(a, repo, base_args) for a in arts]
    by_name = {j.key: a for j, a in zip(jobs, arts) if a["target"]["kind"][0] == "test"}
    for spec in opts.rerun:
        words = shlex.split(spec)
        env = {}
        while words and "=" in words[0]:
            k, _, v = words.pop(0).partition("=")
            env[k] = v
        if not words:
            ap.error(f"--rerun {spec!r}: no test target")
        for name in words.pop(0).split(","):
            if name not in by_name:
                ap.error(f"--rerun {spec!r}: no integration test named {name}")
            j = job_for(by_name[name], repo, [*base_args, *words])
            j.env.update(env)
            j.label = f"{' '.join(f'{k}={v}' for k, v in env.items())} {j.label} -- {' '.join(words)}"
            j.key = f"{name} (rerun {' '.join(words)})"
            jobs.append(j)
    jobs.append(
        Job("doc tests (cargo test --workspace --doc)", "doc", [cargo(), "test", "--workspace", "--doc"], repo)
    )

    record = Path(target_dir(repo)) / "test-durations.json"
    try:
        last = json.loads(record.read_text())
    except (OSError, ValueError):
        last = {}

    def rank(j: Job):
        if j.key in last:
            return (0, -float(last[j.key]))
        if j.key in SLOW_FIRST:
            return (1, SLOW_FIRST.index(j.key))
        return (2, 0)

    queue = sorted(jobs, key=rank)
    print(
        f"run-tests: {len(arts)} test binaries built in {built - started:.1f}s; {len(jobs)} runs "
        f"(with the doc tests and reruns), "
        f"{opts.jobs} at a time, --test-threads={opts.test_threads}",
        flush=True,
    )
    lock = threading.Lock()
    done: list[Job] = []

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop(0)
            run_job(job)
            with lock:
                done.append(job)
                status = "ok" if job.code == 0 else f"FAILED (exit {job.code})"
                print(f"\n     Running {job.label}  [{job.seconds:.1f}s, {status}]")
                print(job.output, end="" if job.output.endswith("\n") else "\n", flush=True)

    threads = [threading.Thread(target=worker) for _ in range(max(1, opts.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    failed = [j for j in done if j.code != 0]
    total = time.monotonic() - started
    print("\nrun-tests: slowest:")
    for j in sorted(done, key=lambda j: -j.seconds)[:8]:
        print(f"  {j.seconds:7.1f}s  {j.key}")
    try:
        record.write_text(json.dumps({j.key: round(j.seconds, 1) for j in done}, indent=1))
    except OSError:
        pass
    if failed:
        print(f"\nrun-tests: {len(failed)} of {len(done)} FAILED ({total:.0f}s):")
        for j in failed:
            print(f"  {j.label} (exit {j.code})")
        return 101
    print(f"run-tests: all {len(done)} passed in {total:.0f}s (build {built - started:.0f}s)")
    return 0


def target_dir(repo: Path) -> str:
    p = subprocess.run(
        [cargo(), "metadata", "--no-deps", "--format-version", "1"],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        return json.loads(p.stdout)["target_directory"]
    except (ValueError, KeyError):
        return str(repo / "target")


if __name__ == "__main__":
    sys.exit(main())
