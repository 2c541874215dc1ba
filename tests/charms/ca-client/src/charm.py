#!/usr/bin/env python3
# Copyright 2026 tls-provider authors.
# Licensed under the Apache License, Version 2.0.
"""Test requirer of the certificate_transfer interface, using the real charmlibs library.

The protocol work is done entirely by
``charmlibs.interfaces.certificate_transfer.CertificateTransferRequires``: on
``-relation-created`` (leader only) it writes ``version: "1"`` to this application's databag; on
every ``-relation-changed`` it reads the provider's application databag (v1: ``certificates``),
falling back to one provider unit's databag (v0: ``chain``) when the application databag has no
certificates and no ``version`` "1", and emits ``certificate_set_updated`` when the set differs
from the one it last saw on that relation; on ``-relation-broken`` it emits
``certificates_removed``.

This charm records, per relation, the set of the last ``certificate_set_updated`` (sorted) as
the trust bundle, clears it on ``certificates_removed``, and counts both events (StoredState).
It reports them through its unit status, the ``get-bundle`` action and ``bundle.json`` in its
charm directory (rewritten whenever the record changes, so a test can read it between hooks
without running an action).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import ops
from charmlibs.interfaces.certificate_transfer import (
    CertificatesAvailableEvent,
    CertificatesRemovedEvent,
    CertificateTransferRequires,
)

logger = logging.getLogger(__name__)

RELATION = "receive-ca-cert"
STATE_FILE = "bundle.json"


class CAClientCharm(ops.CharmBase):
    """Receives CA certificates and reports the bundle it trusts."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        # bundles: relation id (str) -> sorted PEMs of the last certificate_set_updated.
        self._stored.set_default(bundles={}, updates=0, removals=0)
        self.transfer = CertificateTransferRequires(self, RELATION)
        framework.observe(self.transfer.on.certificate_set_updated, self._on_set_updated)
        framework.observe(self.transfer.on.certificates_removed, self._on_removed)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.get_bundle_action, self._on_get_bundle)

    # ---- record ---------------------------------------------------------------------------

    def _bundles(self) -> dict[str, list[str]]:
        return {str(k): [str(p) for p in v] for k, v in self._stored.bundles.items()}

    def _bundle(self) -> list[str]:
        """The trust bundle: every certificate of every relation, sorted, without duplicates."""
        return sorted({pem for pems in self._bundles().values() for pem in pems})

    def _record(self) -> dict[str, Any]:
        return {
            "bundle": self._bundle(),
            "updates": int(self._stored.updates),
            "removals": int(self._stored.removals),
            "relations": self._bundles(),
        }

    def _save(self) -> None:
        """Write the record to <charm dir>/bundle.json (atomically)."""
        path = Path(self.charm_dir) / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(self._record(), sort_keys=True) + "\n")
        tmp.replace(path)

    # ---- events ---------------------------------------------------------------------------

    def _on_set_updated(self, event: CertificatesAvailableEvent) -> None:
        pems = sorted(str(p) for p in event.certificates)
        bundles = self._bundles()
        bundles[str(event.relation_id)] = pems
        self._stored.bundles = bundles
        self._stored.updates = int(self._stored.updates) + 1
        logger.info(
            "certificate_set_updated #%d in %s on relation %d: %d certificate(s)",
            self._stored.updates,
            os.environ.get("JUJU_HOOK_NAME", "?"),
            event.relation_id,
            len(pems),
        )
        self._save()

    def _on_removed(self, event: CertificatesRemovedEvent) -> None:
        bundles = self._bundles()
        bundles.pop(str(event.relation_id), None)
        self._stored.bundles = bundles
        self._stored.removals = int(self._stored.removals) + 1
        logger.info("certificates_removed on relation %d", event.relation_id)
        self._save()

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if not self.model.relations.get(RELATION):
            event.add_status(ops.BlockedStatus(f"missing {RELATION} relation"))
            return
        n = len(self._bundle())
        if n:
            event.add_status(ops.ActiveStatus(f"trusting {n} certificate(s)"))
        else:
            event.add_status(ops.WaitingStatus("trusting 0 certificate(s)"))

    def _on_get_bundle(self, event: ops.ActionEvent) -> None:
        record = self._record()
        current = sorted(self.transfer.get_all_certificates())
        event.set_results({
            "bundle": json.dumps(record["bundle"]),
            "updates": str(record["updates"]),
            "removals": str(record["removals"]),
            "relations": json.dumps(record["relations"], sort_keys=True),
            "current": json.dumps(current),
        })


if __name__ == "__main__":  # pragma: nocover
    ops.main(CAClientCharm)
