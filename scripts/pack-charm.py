#!/usr/bin/env python3
"""Pack the tls-provider charm without charmcraft.

    scripts/pack-charm.py --binary target/release/tls-provider --output dist/tls-provider.charm
    scripts/pack-charm.py --binary target/debug/tls-provider --unpacked /tmp/charm-dir

Writes what `charmcraft pack` would put in the .charm (a deflated zip): metadata.yaml, config.yaml,
actions.yaml, a charmcraft-like manifest.yaml, the binary as an executable `dispatch` (mode 0755),
hooks/*, README.md and LICENSE. `--unpacked` writes the same files into a directory instead (the
charm dir as Juju unpacks it), which the Rust integration tests use.

Before packing, the binary is checked against every base the charm declares (BASES): it must be
an ELF for the manifest's architecture, need no newer GLIBC_* or OPENSSL_* symbol version than the
base ships, and link only libraries every base ships. Otherwise nothing is written and the
message says what to do (e.g. build on the oldest base, as `charmcraft pack` does).

Only the Python standard library is used (the ELF is read by read_elf() below, not binutils, so
the packer needs nothing beyond Python and reads a binary of any architecture the same way).
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import stat
import struct
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

# What each declared Ubuntu base ships (the packages' upstream versions; symbol versions are
# upstream's): glibc (libc6) and OpenSSL (libssl3 / libssl3t64).
BASES = {
    "22.04": {"GLIBC": "2.35", "OPENSSL": "3.0.2"},
    "24.04": {"GLIBC": "2.39", "OPENSSL": "3.0.13"},
}

# Shared libraries every base has: glibc's (libc6), libgcc_s (libgcc-s1) and OpenSSL 3 (libssl3,
# which openssh and every Juju machine image pull in). Plus the dynamic loader (ld-linux-*.so.*,
# ld64.so.* on ppc64el and s390x).
BASE_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libgcc_s.so.1",
    "libssl.so.3",
    "libcrypto.so.3",
}
LOADER = re.compile(r"^(ld-linux-[a-z0-9_-]+\.so\.[0-9]+|ld64\.so\.[12])$")

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

# ELF e_machine (with the byte order where it matters) -> Debian architecture.
ELF_ARCHES = {
    (62, "<"): "amd64",
    (183, "<"): "arm64",
    (21, "<"): "ppc64el",
    (22, ">"): "s390x",
    (243, "<"): "riscv64",
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


def read_elf(path):
    """The run-time needs of an ELF executable, read from its section and program headers.

    Returns {"arch", "interp", "needed": [DT_NEEDED sonames], "versions": {soname: [version
    names from .gnu.version_r]}}, or exits with a message when the file is not an ELF.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        sys.exit(f"pack-charm: {path} is not an ELF executable")
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"

    def unpack(fmt, off):
        return struct.unpack_from(end + fmt, data, off)

    def cstr(off):
        return data[off : data.index(b"\0", off)].decode()

    machine = unpack("H", 18)[0]
    if wide:
        phoff, shoff = unpack("QQ", 0x20)
        phentsize, phnum, shentsize, shnum = unpack("HHHH", 0x36)
    else:
        phoff, shoff = unpack("II", 0x1C)
        phentsize, phnum, shentsize, shnum = unpack("HHHH", 0x2A)

    interp = None
    for i in range(phnum):
        off = phoff + i * phentsize
        if unpack("I", off)[0] == 3:  # PT_INTERP
            p_offset = unpack("Q", off + 8)[0] if wide else unpack("I", off + 4)[0]
            interp = cstr(p_offset)

    sections = []  # (type, offset, size, link, info)
    for i in range(shnum):
        off = shoff + i * shentsize
        if wide:
            _, typ, _, _, offset, size, link, info = unpack("IIQQQQII", off)
        else:
            _, typ, _, _, offset, size, link, info = unpack("IIIIIIII", off)
        sections.append((typ, offset, size, link, info))

    needed, versions = [], {}
    for typ, offset, size, link, info in sections:
        strtab = sections[link][1] if link < len(sections) else 0
        if typ == 6:  # SHT_DYNAMIC: d_tag, d_val pairs up to DT_NULL
            step, fmt = (16, "qQ") if wide else (8, "iI")
            for off in range(offset, offset + size, step):
                tag, val = unpack(fmt, off)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(cstr(strtab + val))
        elif typ == 0x6FFFFFFE:  # SHT_GNU_verneed: sh_info Elf_Verneed entries
            off = offset
            for _ in range(info):
                _, cnt, file_, aux, next_ = unpack("HHIII", off)
                names = versions.setdefault(cstr(strtab + file_), [])
                a = off + aux
                for _ in range(cnt):
                    _, _, _, name, anext = unpack("IHHII", a)
                    names.append(cstr(strtab + name))
                    a += anext
                off += next_
    return {
        "arch": ELF_ARCHES.get((machine, end), f"unknown (ELF machine {machine})"),
        "interp": interp,
        "needed": needed,
        "versions": versions,
    }


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def newest(versions, family):
    """The newest FAMILY_x.y[.z] among the version names (None if there is none)."""
    found = [
        m.group(1) for v in versions if (m := re.fullmatch(family + r"_([0-9]+(?:\.[0-9]+)*)", v))
    ]
    return max(found, key=version_key) if found else None


def check_binary(binary, arch, channels, bases):
    """Exits with what to do when the binary cannot run on every base; returns a summary line."""
    elf = read_elf(binary)
    problems = []
    if elf["arch"] != arch:
        problems.append(
            f"the binary is for {elf['arch']} but the manifest would declare {arch}: "
            f"build it for {arch} or pass --arch {elf['arch']}"
        )
    all_versions = [v for names in elf["versions"].values() for v in names]
    needs = {fam: newest(all_versions, fam) for fam in ("GLIBC", "OPENSSL")}
    drop_hint = "from BASE_CHANNELS in scripts/pack-charm.py and the platforms in charmcraft.yaml"
    for channel in channels:
        for fam, need in needs.items():
            have = bases[channel][fam]
            if need and version_key(need) > version_key(have):
                problems.append(
                    f"the binary needs {fam}_{need} but Ubuntu {channel} ships {have}: build it "
                    f"on Ubuntu {channel} (as charmcraft pack does) or drop {channel} {drop_hint}"
                )
    for lib in elf["needed"]:
        if lib not in BASE_LIBS and not LOADER.match(lib):
            problems.append(
                f"the binary links {lib}, which not every Ubuntu base ships (a charm can rely on "
                f"{', '.join(sorted(BASE_LIBS))} and the dynamic loader): link it statically "
                "or drop the dependency"
            )
    if elf["interp"] and not LOADER.match(os.path.basename(elf["interp"])):
        problems.append(f"the binary's program interpreter {elf['interp']} is not glibc's loader")
    if problems:
        bases_text = " and ".join(f"Ubuntu {c}" for c in channels)
        sys.exit(
            f"pack-charm: refusing to pack {binary} for {bases_text}:\n  - "
            + "\n  - ".join(problems)
        )
    wants = ", ".join(f"{fam}_{v}" for fam, v in needs.items() if v)
    return (
        f"dispatch: {elf['arch']} ELF, needs {wants or 'no versioned symbols'}; "
        f"links {', '.join(sorted(elf['needed'])) or 'nothing (static)'}"
    )


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
    # Tests only: pretend a base ships another glibc, e.g. --glibc-of-base 22.04=2.30.
    parser.add_argument(
        "--glibc-of-base",
        action="append",
        default=[],
        metavar="CHANNEL=VERSION",
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit(f"pack-charm: {args.binary} is not an executable file; build it first")
    arch = args.arch or host_arch()
    bases = {c: dict(v) for c, v in BASES.items()}
    for spec in args.glibc_of_base:
        channel, _, version = spec.partition("=")
        if channel not in bases or not re.fullmatch(r"[0-9]+(\.[0-9]+)+", version):
            parser.error(f"--glibc-of-base {spec}: want one of {', '.join(bases)}=<version>")
        bases[channel]["GLIBC"] = version
    print(check_binary(args.binary, arch, BASE_CHANNELS, bases))
    items = entries(args.binary, arch)
    if args.output:
        write_zip(args.output, items)
        print(f"packed {args.output} ({len(items)} files, {arch})")
    else:
        write_dir(args.unpacked, items)


if __name__ == "__main__":
    main()
