#!/usr/bin/env python3
# Copyright 2026 tls-provider authors.
# Licensed under the Apache License, Version 2.0.
"""Test requirer for the legacy (reactive) tls-certificates dialect.

Our own implementation of the requirer side of the reactive interface layer
(canonical/interface-tls-certificates), as described in docs/protocol.md §4: it publishes raw
strings and ``json.dumps(sort_keys=True)`` values in its unit databag, and reads the provider
unit databags both as the reactive requirer does (all provider units merged, sorted by unit
name, lowest wins per key) and as the ops requirer does (ready only when ``ca``,
``client.cert`` and ``client.key`` are present).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

import ops

logger = logging.getLogger(__name__)

RELATION = "certificates"
REQUEST_OPTIONS = {
    # config option -> published key
    "cert-requests": "cert_requests",
    "client-cert-requests": "client_cert_requests",
    "application-cert-requests": "application_cert_requests",
    "intermediate-cert-requests": "intermediate_cert_requests",
}
GLOBAL_KEYS = ("ca", "chain", "client.cert", "client.key")
CATEGORIES = ("ca", "server", "client", "application", "intermediate")


def _dumps(value: Any) -> str:
    """Encode as the reactive Endpoint's to_publish does."""
    return json.dumps(value, sort_keys=True)


def _received(raw: str | None) -> Any:
    """Decode as the reactive Endpoint's received does: JSON, else the raw string."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class ConfigError(ValueError):
    """Invalid charm config; the message names the option."""


class Settings:
    def __init__(self, config: ops.ConfigData, unit_name: str):
        override = str(config.get("unit-name-override", "") or "").strip()
        self.unit_name = (override or unit_name).replace("/", "_")
        self.common_name = str(config.get("common-name", "") or "").strip()
        self.sans = [s.strip() for s in str(config.get("sans", "") or "").split(",") if s.strip()]
        self.requests: dict[str, dict[str, Any]] = {}
        errors = []
        for option, key in REQUEST_OPTIONS.items():
            raw = str(config.get(option, "") or "").strip()
            if not raw:
                continue
            try:
                value = json.loads(raw)
            except ValueError as e:
                errors.append(f"{option} is not JSON ({e})")
                continue
            if not isinstance(value, dict):
                errors.append(f"{option} must be a JSON object {{cn: {{sans: [...]}}}}")
                continue
            if value:
                self.requests[key] = value
        self.raw_data: dict[str, str | None] = {}
        raw = str(config.get("raw-data", "") or "").strip()
        if raw:
            try:
                value = json.loads(raw)
                if not isinstance(value, dict) or not all(
                    isinstance(v, (str, type(None))) for v in value.values()
                ):
                    raise ValueError("must be an object of strings or nulls")
                self.raw_data = value
            except ValueError as e:
                errors.append(f"raw-data: {e}")
        if errors:
            raise ConfigError("; ".join(errors))

    def expected(self) -> dict[str, list[str]]:
        """Requested names per category (application: one shared certificate)."""
        server = ([self.common_name] if self.common_name else []) + sorted(
            self.requests.get("cert_requests", {})
        )
        return {
            "server": server,
            "client": sorted(self.requests.get("client_cert_requests", {})),
            "application": ["app_data"] if self.requests.get("application_cert_requests") else [],
            "intermediate": sorted(self.requests.get("intermediate_cert_requests", {})),
        }


class LegacyRequirerCharm(ops.CharmBase):
    """Legacy reactive-dialect requirer for tests."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(certificate_name="", seen={}, changes={})
        self.settings: Settings | None = None
        self.config_error: str | None = None
        try:
            self.settings = Settings(self.config, self.unit.name)
        except ConfigError as e:
            self.config_error = str(e)
        for event in (
            self.on.install,
            self.on.start,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.leader_elected,
            self.on.update_status,
            self.on[RELATION].relation_created,
            self.on[RELATION].relation_joined,
            self.on[RELATION].relation_changed,
            self.on[RELATION].relation_departed,
        ):
            framework.observe(event, self._on_event)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.get_certificates_action, self._on_get_certificates)

    # ---- publishing ---------------------------------------------------------------------

    def _relation(self) -> ops.Relation | None:
        relations = sorted(self.model.relations.get(RELATION, []), key=lambda r: r.id)
        return relations[0] if relations else None

    def _desired(self, bag: ops.RelationDataContent) -> dict[str, str | None]:
        """Keys this unit publishes (None: delete), as the reactive requirer writes them."""
        assert self.settings is not None
        s = self.settings
        desired: dict[str, str | None] = {"unit_name": s.unit_name}
        if s.common_name:
            if not self._stored.certificate_name:
                self._stored.certificate_name = bag.get("certificate_name") or str(uuid.uuid4())
            desired["common_name"] = s.common_name
            desired["sans"] = _dumps(s.sans)
            desired["certificate_name"] = self._stored.certificate_name
        else:
            desired.update(common_name=None, sans=None, certificate_name=None)
        for key in REQUEST_OPTIONS.values():
            desired[key] = _dumps(s.requests[key]) if key in s.requests else None
        desired.update(s.raw_data)
        return desired

    def _publish(self, relation: ops.Relation) -> None:
        if self.settings is None or not relation.units:
            return  # the reactive requirer publishes once joined
        bag = relation.data[self.unit]
        for key, value in self._desired(bag).items():
            current = bag.get(key)
            if value is None or value == "":
                if current is not None:
                    del bag[key]
            elif current != value:
                bag[key] = value

    def _on_event(self, _: ops.EventBase) -> None:
        relation = self._relation()
        if relation is None:
            return
        self._publish(relation)
        self._track_changes(self._report(relation))

    # ---- reading ------------------------------------------------------------------------

    def _report(self, relation: ops.Relation) -> dict[str, Any]:
        """What the reactive and ops legacy requirers would see (see get-certificates)."""
        name = self.settings.unit_name if self.settings else self.unit.name.replace("/", "_")
        own = relation.data[self.unit]
        common_name = own.get("common_name")
        units = sorted(relation.units, key=lambda u: u.name)
        per_unit = {u.name: dict(relation.data[u]) for u in units}
        merged: dict[str, str] = {}
        for unit in reversed(units):  # lowest-sorted unit wins, as CombinedUnitsView
            merged.update(per_unit[unit.name])
        errors: list[str] = []

        def pairs(key: str) -> dict[str, dict[str, str | None]]:
            value = _received(merged.get(key))
            if value is None:
                return {}
            if not isinstance(value, dict):
                errors.append(f"{key} is not a JSON object")
                return {}
            out = {}
            for cn in sorted(value):
                data = value[cn]
                if not isinstance(data, dict):
                    errors.append(f"{key}[{cn!r}] is not an object")
                    continue
                out[cn] = {"cert": data.get("cert"), "key": data.get("key")}
            return out

        def as_list(items: dict[str, dict[str, str | None]]) -> list[dict[str, str | None]]:
            return [{"cn": cn, **pair} for cn, pair in items.items()]

        server = []
        top_cert, top_key = merged.get(f"{name}.server.cert"), merged.get(f"{name}.server.key")
        if top_cert and top_key:
            server.append({"cn": common_name, "cert": top_cert, "key": top_key})
        server += as_list(pairs(f"{name}.processed_requests"))
        client = as_list(pairs(f"{name}.processed_client_requests"))
        application_all = pairs(f"{name}.processed_application_requests")
        application = [
            {"cn": "app_data", **application_all["app_data"]}
        ] if "app_data" in application_all else []
        intermediate_all = pairs(f"{name}.processed_intermediate_requests")
        intermediate_by_cn = as_list({k: v for k, v in intermediate_all.items() if k != "app_data"})
        intermediate_app_data = intermediate_all.get("app_data")

        relevant = sorted(
            {k for bag in per_unit.values() for k in bag if k in GLOBAL_KEYS or k.startswith(f"{name}.")}
        )
        disagree = [
            k for k in relevant if len({bag[k] for bag in per_unit.values() if k in bag}) > 1
        ]
        projections = [
            {k: bag[k] for k in relevant if k in bag} for bag in per_unit.values()
        ]
        ready = all(merged.get(k) for k in ("ca", "client.cert", "client.key"))
        return {
            "unit-name": name,
            "relation-id": relation.id,
            "provider-units": [u.name for u in units],
            "provider-keys": {u: sorted(bag) for u, bag in per_unit.items()},
            "ready": ready,
            "ca": merged.get("ca"),
            "chain": merged.get("chain"),
            "client-cert-present": bool(merged.get("client.cert")),
            "client-key-present": bool(merged.get("client.key")),
            "client-cert": merged.get("client.cert"),
            "client-key": merged.get("client.key"),
            "server-certs": server,
            "client-certs": client,
            "application-certs": application,
            "intermediate-certs": intermediate_by_cn,
            "intermediate-app-data": intermediate_app_data,
            "views-agree": not disagree,
            "disagreeing-keys": disagree,
            "units-identical": all(p == projections[0] for p in projections),
            "errors": errors,
        }

    def _track_changes(self, report: dict[str, Any]) -> None:
        """Count changes per category, like the reactive *.changed flags (data_changed)."""
        values = {
            "ca": report["ca"],
            "server": report["server-certs"],
            "client": report["client-certs"],
            "application": report["application-certs"],
            "intermediate": [report["intermediate-certs"], report["intermediate-app-data"]],
        }
        seen = dict(self._stored.seen)
        changes = dict(self._stored.changes)
        for category, value in values.items():
            digest = hashlib.sha256(_dumps(value).encode()).hexdigest()
            if seen.get(category, _EMPTY[category]) != digest:
                seen[category] = digest
                changes[category] = changes.get(category, 0) + 1
        self._stored.seen = seen
        self._stored.changes = changes

    @staticmethod
    def _counts(report: dict[str, Any], expected: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
        got = {
            "server": {c["cn"] for c in report["server-certs"] if c["cert"] and c["key"]},
            "client": {c["cn"] for c in report["client-certs"] if c["cert"] and c["key"]},
            "application": {c["cn"] for c in report["application-certs"] if c["cert"] and c["key"]},
            "intermediate": {
                c["cn"] for c in report["intermediate-certs"] if c["cert"] and c["key"]
            },
        }
        return {k: (len(set(v) & got[k]), len(v)) for k, v in expected.items()}

    # ---- status and action --------------------------------------------------------------

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.config_error is not None:
            event.add_status(ops.BlockedStatus(f"invalid config: {self.config_error}"))
            return
        assert self.settings is not None
        relation = self._relation()
        if relation is None:
            event.add_status(ops.BlockedStatus("missing certificates relation"))
            return
        report = self._report(relation)
        counts = self._counts(report, self.settings.expected())
        summary = ", ".join(f"{k} {got}/{want}" for k, (got, want) in counts.items())
        if report["disagreeing-keys"]:
            event.add_status(
                ops.BlockedStatus(
                    "provider units disagree on: " + ", ".join(report["disagreeing-keys"])
                )
            )
        elif report["errors"]:
            event.add_status(ops.BlockedStatus("malformed provider data: " + report["errors"][0]))
        elif not report["ready"]:
            event.add_status(ops.WaitingStatus("waiting for ca and client certificate"))
        elif any(got < want for got, want in counts.values()):
            event.add_status(ops.WaitingStatus(f"waiting for certificates: {summary}"))
        else:
            event.add_status(ops.ActiveStatus(f"ready: {summary}"))

    def _on_get_certificates(self, event: ops.ActionEvent) -> None:
        if self.config_error is not None:
            event.fail(f"invalid config: {self.config_error}; fix the option and retry")
            return
        assert self.settings is not None
        relation = self._relation()
        if relation is None:
            event.fail("no certificates relation: relate to a provider first")
            return
        report = self._report(relation)
        counts = self._counts(report, self.settings.expected())
        report["counts"] = {k: {"received": got, "expected": want} for k, (got, want) in counts.items()}
        report["changes"] = {c: int(self._stored.changes.get(c, 0)) for c in CATEGORIES}
        report["published"] = dict(relation.data[self.unit])
        event.set_results({
            "certificates": _dumps(report),
            "ready": str(report["ready"]).lower(),
            "views-agree": str(report["views-agree"]).lower(),
        })


_EMPTY = {
    category: hashlib.sha256(_dumps(value).encode()).hexdigest()
    for category, value in {
        "ca": None,
        "server": [],
        "client": [],
        "application": [],
        "intermediate": [[], None],
    }.items()
}


if __name__ == "__main__":  # pragma: nocover
    ops.main(LegacyRequirerCharm)
