#!/usr/bin/env python3
# Copyright 2026 tls-provider authors.
# Licensed under the Apache License, Version 2.0.
"""The certificate_transfer library's own reading and writing of databags, for the Rust tests.

Run with <repo>/.venv/bin/python3 (charmlibs-interfaces-certificate-transfer 1.1.0). Reads one
JSON document on stdin, prints one JSON document on stdout. Modes:

  v0            stdin: a provider unit databag (object of strings). Validated with
                ProviderUnitDataV0.load, as the requirer reads a v0 provider; prints
                {"ca", "certificate", "chain" (list or null), "version" (int)}.
  v1            stdin: a provider application databag. Validated with
                ProviderApplicationData.load; prints {"certificates" (sorted list), "version"}.
  dump-v0       stdin: a JSON list of PEMs. Prints the unit databag the library's provider
                writes for a requirer without version "1" (CertificateTransferProvides.
                _set_relation_data): ProviderUnitDataV0(ca=sorted[0], certificate=sorted[0],
                chain=sorted).dump(). For an empty list the provider leaves its unit databag
                as it was: prints null.
  dump-v1       stdin: a JSON list of PEMs. Prints the application databag the library's
                provider writes (for either version): ProviderApplicationData(certificates).dump().
  requirer      stdin: {"app": {provider app databag}, "units": [[unit name, databag], ...]}.
                Prints the sorted list of certificates the requirer library reads from such a
                relation (CertificateTransferRequires._get_relation_data); for the v0 fallback it
                takes the first unit listed (the library takes next(iter(relation.units)), an
                unordered set). A databag the library rejects gives [] there (it logs an error).

A databag the library rejects (v0, v1): exit 1, the error (and pydantic's reason) on stderr.
Input that is not of the mode's shape: exit 2.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from charmlibs.interfaces.certificate_transfer import _certificate_transfer as ct

MODES = ("v0", "v1", "dump-v0", "dump-v1", "requirer")


def _fail(code: int, message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def _databag(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        _fail(2, f"{what} must be a JSON object of strings")
    return value


def _pems(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        _fail(2, "stdin must be a JSON list of strings")
    return value


def _load(model: type[ct.DatabagModel], bag: dict[str, str]) -> dict[str, Any]:
    try:
        data = model.load(bag)
    except ct.DataValidationError as e:
        cause = f": {e.__cause__}" if e.__cause__ is not None else ""
        _fail(1, f"{model.__name__}.load: {e}{cause}")
    return data.model_dump(mode="json")


class _Relation:
    """What CertificateTransferRequires._get_relation_data uses of an ops.Relation."""

    def __init__(self, app: dict[str, str], units: list[tuple[str, dict[str, str]]]):
        self.app = "provider"
        self.units = [name for name, _ in units]
        self.data = {self.app: app, **dict(units)}


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        _fail(2, f"usage: parse_transfer.py {{{'|'.join(MODES)}}} < input.json")
    mode = sys.argv[1]
    try:
        doc = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        _fail(2, f"stdin is not JSON: {e}")
    if mode == "v0":
        out: Any = _load(ct.ProviderUnitDataV0, _databag(doc, "stdin"))
    elif mode == "v1":
        out = _load(ct.ProviderApplicationData, _databag(doc, "stdin"))
    elif mode == "dump-v0":
        pems = sorted(set(_pems(doc)))
        out = (
            ct.ProviderUnitDataV0(ca=pems[0], certificate=pems[0], chain=pems).dump({}, True)
            if pems
            else None
        )
    elif mode == "dump-v1":
        out = ct.ProviderApplicationData(certificates=set(_pems(doc))).dump({}, True)
    else:
        if not isinstance(doc, dict) or not isinstance(doc.get("units", []), list):
            _fail(2, 'stdin must be {"app": {...}, "units": [[name, {...}], ...]}')
        units = []
        for entry in doc.get("units", []):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                _fail(2, "each unit must be [name, databag]")
            units.append((entry[0], _databag(entry[1], f"unit {entry[0]}")))
        relation = _Relation(_databag(doc.get("app", {}), "app"), units)
        out = sorted(ct.CertificateTransferRequires._get_relation_data(None, relation))  # type: ignore[arg-type]
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    # The library logs its rejections at ERROR; keep stderr for this script's own message.
    logging.disable(logging.CRITICAL)
    main()
