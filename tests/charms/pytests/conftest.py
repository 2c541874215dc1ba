"""Helpers for the test-charm unit tests (ops.testing / Scenario, no Juju, no simulator)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CHARMS = Path(__file__).resolve().parent.parent


def load_charm(name: str, class_name: str):
    """Import tests/charms/<name>/src/charm.py under a unique module name."""
    module_name = f"{name.replace('-', '_')}_charm"
    if module_name not in sys.modules:
        path = CHARMS / name / "src" / "charm.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return getattr(sys.modules[module_name], class_name)
