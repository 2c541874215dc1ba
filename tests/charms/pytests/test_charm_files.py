"""Static checks on the test charms' YAML files and the build script's output."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

CHARMS = Path(__file__).resolve().parent.parent
REPO = CHARMS.parent.parent
NAMES = ["tls-requirer", "test-provider", "legacy-requirer"]
# Every built charm: NAMES (tls-certificates, with config) and the certificate_transfer client.
BUILT = [*NAMES, "ca-client"]
TYPES = {"string": str, "int": int, "boolean": bool}


@pytest.mark.parametrize("name", NAMES)
def test_yaml_files_parse_and_defaults_match_types(name):
    meta = yaml.safe_load((CHARMS / name / "metadata.yaml").read_text())
    assert meta["name"] == name
    endpoints = {**meta.get("requires", {}), **meta.get("provides", {})}
    assert endpoints["certificates"]["interface"] == "tls-certificates"
    config = yaml.safe_load((CHARMS / name / "config.yaml").read_text())
    for option, spec in config["options"].items():
        assert isinstance(spec["default"], TYPES[spec["type"]]), option
        assert spec["description"].strip(), option
    actions = yaml.safe_load((CHARMS / name / "actions.yaml").read_text())
    assert all(a["description"].strip() for a in actions.values())


def test_ca_client_yaml_files():
    meta = yaml.safe_load((CHARMS / "ca-client" / "metadata.yaml").read_text())
    assert meta["name"] == "ca-client"
    assert meta["requires"] == {"receive-ca-cert": {"interface": "certificate_transfer"}}
    assert not (CHARMS / "ca-client" / "config.yaml").exists()
    actions = yaml.safe_load((CHARMS / "ca-client" / "actions.yaml").read_text())
    assert list(actions) == ["get-bundle"]
    assert actions["get-bundle"]["description"].strip()


def test_build_script_output(tmp_path):
    script = REPO / "scripts" / "build-test-charms.sh"
    python = f"{REPO}/.venv/bin/python3"
    pyfork = REPO / "build" / "pyfork"
    # PYFORK=0: the dispatch runs the interpreter itself.
    subprocess.run(
        [str(script), "--no-venv"], check=True, capture_output=True, env={**os.environ, "PYFORK": "0"}
    )
    for name in BUILT:
        text = (REPO / "build" / "charms" / name / "dispatch").read_text()
        assert f'PYTHONPATH=lib exec "{python}" ./src/charm.py\n' in text
    # Default: through the fork server's client, which needs a C compiler.
    subprocess.run([str(script), "--no-venv"], check=True, capture_output=True)
    built = os.access(pyfork / "pyfork", os.X_OK)
    assert built or shutil.which(os.environ.get("CC", "cc")) is None
    for name in BUILT:
        out = REPO / "build" / "charms" / name
        dispatch = out / "dispatch"
        assert os.access(dispatch, os.X_OK)
        text = dispatch.read_text()
        assert text.startswith("#!/bin/sh\n")
        if built:
            launcher = f'"{pyfork}/pyfork" "{python}" "{pyfork}/server.py"'
            assert (pyfork / "server.py").read_bytes() == (
                CHARMS / "pyfork" / "server.py"
            ).read_bytes()
        else:
            launcher = f'"{python}"'
        assert f"PYTHONPATH=lib exec {launcher} ./src/charm.py\n" in text
        assert (out / "src" / "charm.py").read_bytes() == (
            CHARMS / name / "src" / "charm.py"
        ).read_bytes()
        for f in ("metadata.yaml", "config.yaml", "actions.yaml"):
            if (CHARMS / name / f).exists():
                assert (out / f).read_bytes() == (CHARMS / name / f).read_bytes()
            else:
                assert not (out / f).exists()
    # Idempotent: a second run changes no file.
    before = {p: p.stat().st_mtime_ns for p in (REPO / "build").rglob("*")}
    subprocess.run([str(script), "--no-venv"], check=True, capture_output=True)
    after = {p: p.stat().st_mtime_ns for p in (REPO / "build").rglob("*")}
    assert before == after
