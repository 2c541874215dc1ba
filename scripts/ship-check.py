#!/usr/bin/env python3
"""Check the packed charm and charmcraft.yaml with the pinned charmcraft (`make ship-check`).

    .venv-charmcraft/bin/python3 scripts/ship-check.py [--charm dist/tls-provider.charm]

1. `charmcraft analyse --format json <charm>`: every check must give the result accepted for it in
   ACCEPTED below (with the reason); a new check must be `ok`; charmcraft must exit 0 (it exits 3
   on a warning, 2 on an error). The `language` and `framework` attributes must also be what
   scripts/pack-charm.py writes in manifest.yaml's `analysis`.
   manifest.yaml must also validate as charmcraft's own Manifest model.
2. `charmcraft expand-extensions` in the repo: loads and validates charmcraft.yaml (unknown keys,
   plugins, platforms are errors) with metadata.yaml, config.yaml and actions.yaml, so the
   `charmcraft pack` path cannot rot unnoticed. Its platforms must declare the bases that
   manifest.yaml declares, and its name must be metadata.yaml's.

Neither command needs LXD, snapd, network or a Charmhub login. Run it with the Python of
.venv-charmcraft (scripts/setup-charmcraft.sh), which has PyYAML.
"""

import argparse
import json
import os
import subprocess
import sys
import zipfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# check name -> (accepted result, why). Decided from charmcraft 4.5.0's output on this charm.
ACCEPTED = {
    # Attributes (informational; charmcraft exits 0 with them).
    "language": (
        "unknown",
        "charmcraft only recognises Python; dispatch is a compiled Rust (ELF) binary",
    ),
    "framework": (
        "unknown",
        "charmcraft knows ops and reactive; the charm uses neither (it runs the hook tools itself)",
    ),
    # Linters that apply: must pass.
    "juju-actions": ("ok", "actions.yaml is valid"),
    "juju-config": ("ok", "config.yaml has an options mapping and every option has a type"),
    "metadata": ("ok", "metadata.yaml has name, summary, description and no deprecated series"),
    "naming-conventions": ("ok", "config options and action params use one style (hyphens)"),
    # Linters that do not apply to a binary charm, and say so.
    "entrypoint": (
        "nonapplicable",
        "dispatch is the binary itself, not a shell script exec'ing a Python entrypoint",
    ),
    "ops-main-call": ("nonapplicable", "no ops, so no ops.main() call"),
    "additional-files": (
        "nonapplicable",
        "only runs inside a charmcraft pack build environment, not on a packed .charm",
    ),
    "pip-check": ("nonapplicable", "the charm has no Python venv"),
    "pydeps": ("nonapplicable", "the charm has no Python venv"),
}


def fail(msg):
    sys.exit(f"ship-check: FAILED: {msg}")


def run(cmd, cwd):
    """Runs cmd; returns its stdout. stderr (craft-cli progress, warnings) is shown on failure."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def read_manifest(charm):
    try:
        with zipfile.ZipFile(charm) as zf:
            return yaml.safe_load(zf.read("manifest.yaml"))
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        fail(f"cannot read manifest.yaml from {charm}: {exc}")


def check_manifest_model(manifest):
    # charmcraft's model of the manifest.yaml it writes (pinned version, so the import is stable).
    from charmcraft.models.manifest import Manifest

    try:
        Manifest.model_validate(manifest)
    except Exception as exc:  # pydantic.ValidationError; message lists every field
        fail(f"manifest.yaml is not what charmcraft writes (fix scripts/pack-charm.py):\n{exc}")
    print("manifest.yaml: valid as charmcraft's Manifest model")


def check_analyse(charmcraft, charm, manifest):
    cmd = [charmcraft, "analyse", "--format", "json", os.path.abspath(charm)]
    rc, out, err = run(cmd, ROOT)
    try:
        results = json.loads(out)
    except ValueError:
        fail(f"`{' '.join(cmd)}` exited {rc} without JSON output:\n{out}{err}")
    problems = []
    seen = set()
    print(f"charmcraft analyse {os.path.relpath(charm, ROOT)}:")
    for r in results:
        name, result, text = r["name"], r["result"], r.get("text", "")
        seen.add(name)
        want, why = ACCEPTED.get(name, ("ok", "a check this script does not know yet"))
        verdict = f"accepted: {why}" if result == want else f"NOT ACCEPTED, want {want}: {why}"
        print(f"  {name:18} {result:13} {text or '-'} [{verdict}]")
        if result != want:
            problems.append(
                f"{name}: {result} ({text}); accepted is {want}: {why}. Fix the charm's files "
                "(or, if charmcraft's check changed, decide and update ACCEPTED with the reason)"
            )
    for name in sorted(set(ACCEPTED) - seen):
        problems.append(f"{name}: not reported by this charmcraft; update ACCEPTED")
    if rc != 0:
        problems.append(f"charmcraft analyse exited {rc} (3: a warning, 2: an error, 1: fatal)")
    attrs = {a["name"]: a["result"] for a in manifest.get("analysis", {}).get("attributes", [])}
    for r in results:
        if r["check_type"] == "attribute" and attrs.get(r["name"]) != r["result"]:
            problems.append(
                f"manifest.yaml analysis says {r['name']}={attrs.get(r['name'])!r} but charmcraft "
                f"finds {r['result']!r}: fix manifest() in scripts/pack-charm.py"
            )
    if problems:
        if err.strip():
            print(err, file=sys.stderr)
        fail("charmcraft analyse:\n  " + "\n  ".join(problems))


def check_charmcraft_yaml(charmcraft, manifest):
    rc, out, err = run([charmcraft, "expand-extensions"], ROOT)
    if rc != 0:
        fail(f"`charmcraft expand-extensions` (validates charmcraft.yaml) exited {rc}:\n{err}")
    project = yaml.safe_load(out)
    problems = []
    with open(os.path.join(ROOT, "metadata.yaml")) as f:
        name = yaml.safe_load(f)["name"]
    if project.get("name") != name:
        problems.append(f"charmcraft sees name {project.get('name')!r}, metadata.yaml {name!r}")
    cc_bases = sorted({p.split(":")[0] for p in project.get("platforms") or {}})
    packed = sorted(f"{b['name']}@{b['channel']}" for b in manifest["bases"])
    if cc_bases != packed:
        problems.append(
            f"charmcraft.yaml platforms declare bases {cc_bases}, `make charm` declares {packed} "
            "(BASE_CHANNELS in scripts/pack-charm.py): keep them the same"
        )
    if problems:
        fail("charmcraft.yaml:\n  " + "\n  ".join(problems))
    print(f"charmcraft expand-extensions: charmcraft.yaml is valid (bases {', '.join(cc_bases)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charm", default=os.path.join(ROOT, "dist", "tls-provider.charm"))
    parser.add_argument(
        "--charmcraft", default=os.path.join(ROOT, ".venv-charmcraft", "bin", "charmcraft")
    )
    args = parser.parse_args()
    if not os.path.isfile(args.charm):
        fail(f"{args.charm} does not exist: run `make charm` first")
    if not os.access(args.charmcraft, os.X_OK):
        fail(f"{args.charmcraft} not found: run scripts/setup-charmcraft.sh first")
    rc, out, err = run([args.charmcraft, "version"], ROOT)
    print(f"ship-check: {out.strip() or err.strip()}")
    manifest = read_manifest(args.charm)
    check_manifest_model(manifest)
    check_analyse(args.charmcraft, args.charm, manifest)
    check_charmcraft_yaml(args.charmcraft, manifest)
    print("ship-check: OK")


if __name__ == "__main__":
    main()
