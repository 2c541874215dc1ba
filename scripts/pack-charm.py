#!/usr/bin/env python3
"""Pack the tls-provider charm without charmcraft.

    scripts/pack-charm.py --binary target/release/tls-provider --output dist/tls-provider.charm
    scripts/pack-charm.py --binary target/debug/tls-provider --unpacked /tmp/charm-dir

Writes what `charmcraft pack` would put in the .charm (a deflated zip): metadata.yaml, config.yaml,
actions.yaml, a charmcraft-like manifest.yaml, the binary as an executable `dispatch` (mode 0755),
hooks/*, README.md and LICENSE. `--unpacked` writes the same files into a directory instead (the
charm dir as Juju unpacks it), which the Rust integration tests use.

Only the Python standard library is used.
"""

import argparse
import datetime
import os
import platform
import shutil
import stat
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (path in the charm, path in the repo, mode)
STATIC_FILES = [
    ("metadata.yaml", "metadata.yaml", 0o644),
    ("config.yaml", "config.yaml", 0o644),
    ("actions.yaml", "actions.yaml", 0o644),
    ("README.md", "README.md", 0o644),
    ("LICENSE", "LICENSE", 0o644),
]

BASE_CHANNELS = ["22.04", "24.04"]

# Python's platform.machine() -> Debian architecture names (what Juju and charmcraft use).
ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

PACKER_VERSION = "tls-provider pack-charm.py 1"


def host_arch():
    machine = platform.machine().lower()
    if machine not in ARCHES:
        sys.exit(f"pack-charm: unknown machine architecture {machine!r}; pass --arch")
    return ARCHES[machine]


def started_at():
    # Reproducible builds: honour SOURCE_DATE_EPOCH when set.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    else:
        when = datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifest(arch):
    """manifest.yaml as charmcraft writes it (bases, analysis attributes)."""
    lines = [
        "analysis:",
        "  attributes:",
        "  - name: language",
        "    result: unknown",
        "  - name: framework",
        "    result: unknown",
        "bases:",
    ]
    for channel in BASE_CHANNELS:
        lines += [
            "- architectures:",
            f"  - {arch}",
            f"  channel: '{channel}'",
            "  name: ubuntu",
        ]
    lines += [
        f"charmcraft-started-at: '{started_at()}'",
        f"charmcraft-version: '{PACKER_VERSION}'",
    ]
    return ("\n".join(lines) + "\n").encode()


def hook_files():
    hooks_dir = os.path.join(ROOT, "hooks")
    names = sorted(os.listdir(hooks_dir))
    if not names:
        sys.exit("pack-charm: hooks/ is empty")
    return [(f"hooks/{n}", os.path.join("hooks", n), 0o755) for n in names]


def entries(binary, arch):
    """[(name, bytes, mode)] in the order they are written."""
    out = []
    for name, rel, mode in STATIC_FILES:
        with open(os.path.join(ROOT, rel), "rb") as f:
            out.append((name, f.read(), mode))
    out.append(("manifest.yaml", manifest(arch), 0o644))
    with open(binary, "rb") as f:
        out.append(("dispatch", f.read(), 0o755))
    for name, rel, mode in hook_files():
        with open(os.path.join(ROOT, rel), "rb") as f:
            out.append((name, f.read(), mode))
    return out


def write_zip(path, items):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in items:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp, path)


def write_dir(path, items):
    if os.path.exists(path):
        shutil.rmtree(path)
    for name, data, mode in items:
        dest = os.path.join(path, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data)
        os.chmod(dest, mode)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the built tls-provider binary")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", help="the .charm file to write")
    out.add_argument("--unpacked", help="write the charm's files into this directory instead")
    parser.add_argument("--arch", help="architecture for manifest.yaml (default: this machine's)")
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"pack-charm: {args.binary} is not an executable file; build it first")
    arch = args.arch or host_arch()
    items = entries(args.binary, arch)
    if args.output:
        write_zip(args.output, items)
        print(f"packed {args.output} ({len(items)} files, {arch})")
    else:
        write_dir(args.unpacked, items)


if __name__ == "__main__":
    main()
