#!/usr/bin/env python3
# Copyright 2026 tls-provider authors.
# Licensed under the Apache License, Version 2.0.
"""Test requirer of the tls-certificates interface, using the real charmlibs library.

Everything the charm requests comes from its config (see config.yaml); what it received is
reported by its unit status and by the ``get-certificates`` action. The protocol work is done
entirely by ``charmlibs.interfaces.tls_certificates.TLSCertificatesRequiresV4``: this charm only
builds the request attributes, and reads back what the library reports.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

import ops
from charmlibs.interfaces.tls_certificates import (
    CertificateAvailableEvent,
    CertificateDeniedEvent,
    CertificateRequestAttributes,
    KeyAlgorithm,
    Mode,
    PrivateKey,
    TLSCertificatesError,
    TLSCertificatesRequiresV4,
)
from cryptography import x509

logger = logging.getLogger(__name__)

RELATION = "certificates"
MODES = {"unit": Mode.UNIT, "app": Mode.APP, "app-and-unit": Mode.APP_AND_UNIT}
SUPPORTED_KEY_SIZES = {"rsa": (2048, 3072, 4096), "ecdsa": (256, 384)}
DEFAULT_KEY_SIZES = {"rsa": 2048, "ecdsa": 256}
MAX_REQUESTS_PER_UNIT = 20
CSR_DATABAG_KEY = "certificate_signing_requests"


class ConfigError(ValueError):
    """Invalid charm config; the message names the option and how to fix it."""


def _split(value: Any) -> list[str]:
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def _expand(text: str, unit_name: str, app_name: str) -> str:
    return (
        text.replace("{unit}", unit_name.replace("/", "-"))
        .replace("{app}", app_name)
        .replace("{n}", unit_name.rsplit("/", 1)[-1])
    )


class Settings:
    """Parsed and validated charm config."""

    def __init__(self, config: ops.ConfigData, unit_name: str, app_name: str):
        mode_name = str(config.get("mode", "unit")).strip()
        if mode_name not in MODES:
            raise ConfigError(f"mode must be one of unit, app, app-and-unit (got {mode_name!r})")
        self.mode_name = mode_name
        self.mode = MODES[mode_name]

        algorithm = str(config.get("key-algorithm", "rsa")).strip().lower()
        if algorithm not in SUPPORTED_KEY_SIZES:
            raise ConfigError(f"key-algorithm must be rsa or ecdsa (got {algorithm!r})")
        size = int(config.get("key-size", 0) or 0)
        if size == 0:
            size = DEFAULT_KEY_SIZES[algorithm]
        if size not in SUPPORTED_KEY_SIZES[algorithm]:
            allowed = "/".join(str(s) for s in SUPPORTED_KEY_SIZES[algorithm])
            raise ConfigError(f"key-size {size} is not valid for {algorithm}: use {allowed} (or 0)")
        self.key_algorithm = KeyAlgorithm(algorithm)
        self.key_size = size

        count = int(config.get("requests-per-unit", 1))
        if not 1 <= count <= MAX_REQUESTS_PER_UNIT:
            raise ConfigError(f"requests-per-unit must be between 1 and {MAX_REQUESTS_PER_UNIT}")

        base_cn = _expand(str(config.get("common-name", "") or "").strip(), unit_name, app_name)
        sans_dns = [_expand(s, unit_name, app_name) for s in _split(config.get("sans-dns"))]
        sans_ip: list[str] = []
        for value in _split(config.get("sans-ip")):
            try:
                sans_ip.append(str(ipaddress.ip_address(value)))
            except ValueError:
                raise ConfigError(f"sans-ip: {value!r} is not an IP address") from None
        sans_oid = _split(config.get("sans-oid"))
        for value in sans_oid:
            try:
                x509.ObjectIdentifier(value)
            except ValueError:
                raise ConfigError(f"sans-oid: {value!r} is not a dotted OID") from None
        if not (base_cn or sans_dns or sans_ip or sans_oid):
            raise ConfigError("set common-name or at least one of sans-dns, sans-ip, sans-oid")
        if count > 1 and not base_cn:
            raise ConfigError("requests-per-unit > 1 needs a common-name")
        if self.mode == Mode.APP_AND_UNIT and not base_cn:
            raise ConfigError("mode app-and-unit needs a common-name")
        organization = str(config.get("organization", "") or "").strip() or None
        is_ca = bool(config.get("is-ca", False))
        unique_id = bool(config.get("unique-id", True))

        scopes: list[Mode] = {
            Mode.UNIT: [Mode.UNIT],
            Mode.APP: [Mode.APP],
            Mode.APP_AND_UNIT: [Mode.APP, Mode.UNIT],
        }[self.mode]
        self.requests: dict[Mode, list[CertificateRequestAttributes]] = {}
        for scope in scopes:
            cn = base_cn
            if self.mode == Mode.APP_AND_UNIT and scope == Mode.UNIT:
                cn = f"{unit_name.replace('/', '-')}.{base_cn}"
            requests = []
            for i in range(count):
                request_cn = cn if i == 0 else f"r{i}.{cn}"
                try:
                    attributes = CertificateRequestAttributes(
                        common_name=request_cn or None,
                        sans_dns=sans_dns or None,
                        sans_ip=sans_ip or None,
                        sans_oid=sans_oid or None,
                        organization=organization,
                        is_ca=is_ca,
                        add_unique_id_to_subject_name=unique_id,
                    )
                    # The library only builds the CSR in a relation hook; build one now with a
                    # throwaway key so that bad names block the unit here instead of crashing there.
                    attributes.generate_csr(_probe_key())
                except Exception as e:  # noqa: BLE001 - cryptography raises various types
                    raise ConfigError(
                        f"common-name/sans-dns/organization rejected for {request_cn!r}: {e}"
                    ) from None
                requests.append(attributes)
            self.requests[scope] = requests

    def library_kwargs(self) -> dict[str, Any]:
        if self.mode == Mode.APP_AND_UNIT:
            return {"certificate_requests_by_mode": dict(self.requests)}
        return {"certificate_requests": list(self.requests[self.mode])}


_PROBE_KEY: PrivateKey | None = None


def _probe_key() -> PrivateKey:
    global _PROBE_KEY
    if _PROBE_KEY is None:
        _PROBE_KEY = PrivateKey.generate(key_algorithm=KeyAlgorithm.ECDSA, key_size=256)
    return _PROBE_KEY


def _scope_name(scope: Mode) -> str:
    return "app" if scope == Mode.APP else "unit"


class TLSRequirerCharm(ops.CharmBase):
    """Requests certificates per its config and reports what it received."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.settings: Settings | None = None
        self.tls: TLSCertificatesRequiresV4 | None = None
        self.config_error: str | None = None
        try:
            self.settings = Settings(self.config, self.unit.name, self.app.name)
            self.tls = TLSCertificatesRequiresV4(
                self,
                RELATION,
                mode=self.settings.mode,
                key_algorithm=self.settings.key_algorithm,
                key_size=self.settings.key_size,
                refresh_events=[
                    self.on.config_changed,
                    self.on.update_status,
                    self.on[RELATION].relation_joined,
                ],
                **self.settings.library_kwargs(),
            )
        except (ConfigError, TLSCertificatesError, ValueError, TypeError) as e:
            self.config_error = str(e)
            self.settings = None
            self.tls = None

        if self.tls is not None:
            framework.observe(self.tls.on.certificate_available, self._on_certificate_available)
            framework.observe(self.tls.on.certificate_denied, self._on_certificate_denied)
        for event in (
            self.on.config_changed,
            self.on.leader_elected,
            self.on.update_status,
            self.on[RELATION].relation_created,
            self.on[RELATION].relation_joined,
            self.on[RELATION].relation_changed,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.get_certificates_action, self._on_get_certificates)
        framework.observe(self.on.renew_action, self._on_renew)
        framework.observe(self.on.regenerate_key_action, self._on_regenerate_key)

    # ---- events -------------------------------------------------------------------------

    def _on_certificate_available(self, event: CertificateAvailableEvent) -> None:
        logger.info(
            "certificate available: CN=%r serial=%x",
            event.certificate.common_name,
            event.certificate._cert.serial_number,
        )

    def _on_certificate_denied(self, event: CertificateDeniedEvent) -> None:
        logger.warning(
            "certificate denied for CN=%r: %s %s: %s",
            event.certificate_signing_request.common_name,
            event.error.code,
            event.error.name,
            event.error.message,
        )

    def _reconcile(self, _: ops.EventBase) -> None:
        """Things the library does not do by itself on a config change."""
        if self.tls is None or self.settings is None:
            return
        relation = self._relation()
        if relation is None:
            return
        scopes = set(self.settings.requests)
        # Mode changed: drop CSRs the library no longer manages (it never reads those bags).
        if Mode.UNIT not in scopes and CSR_DATABAG_KEY in relation.data[self.unit]:
            logger.info("mode %s: removing unit-scope CSRs", self.settings.mode_name)
            del relation.data[self.unit][CSR_DATABAG_KEY]
        if (
            Mode.APP not in scopes
            and self.unit.is_leader()
            and CSR_DATABAG_KEY in relation.data[self.app]
        ):
            logger.info("mode %s: removing app-scope CSRs", self.settings.mode_name)
            del relation.data[self.app][CSR_DATABAG_KEY]
        # Key algorithm/size changed: the library keeps persisted keys; rotate them.
        for scope in sorted(scopes, key=lambda m: m.value):
            if scope == Mode.APP and not self.unit.is_leader():
                continue
            key = self.tls.get_private_key(scope)
            if key is None:
                continue
            if (
                key.algorithm != self.settings.key_algorithm
                or key.key_size != self.settings.key_size
            ):
                logger.info(
                    "%s key is %s %d, config wants %s %d: regenerating",
                    _scope_name(scope),
                    key.algorithm.value,
                    key.key_size,
                    self.settings.key_algorithm.value,
                    self.settings.key_size,
                )
                self.tls.regenerate_private_key(
                    scope if self.settings.mode == Mode.APP_AND_UNIT else None
                )

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.config_error is not None:
            event.add_status(ops.BlockedStatus(f"invalid config: {self.config_error}"))
            return
        if self._relation() is None:
            event.add_status(ops.BlockedStatus("missing certificates relation"))
            return
        try:
            entries = self._entries()
        except Exception as e:  # noqa: BLE001 - report, never crash in status
            logger.exception("reading certificates failed")
            event.add_status(ops.BlockedStatus(f"cannot read certificates: {e}"))
            return
        visible = [e for e in entries if e["visible"]]
        expected = len(visible)
        received = sum(1 for e in visible if e["certificate"] and not e["revoked"])
        denied = [e for e in visible if e["denial"] and not e["certificate"]]
        note = ""
        if any(not e["visible"] for e in entries):
            note = " (app-scope requests are handled by the leader)"
        if denied:
            codes = sorted({f"{e['denial']['code']} {e['denial']['name']}" for e in denied})
            event.add_status(
                ops.BlockedStatus(
                    f"{len(denied)} request(s) denied: {', '.join(codes)}; "
                    f"{received}/{expected} certificates received"
                )
            )
        elif received < expected:
            event.add_status(
                ops.WaitingStatus(
                    f"waiting for {expected - received} certificates "
                    f"({received}/{expected} received)"
                )
            )
        else:
            event.add_status(
                ops.ActiveStatus(f"{received}/{expected} certificates received{note}")
            )

    def _on_get_certificates(self, event: ops.ActionEvent) -> None:
        if self.config_error is not None:
            event.fail(f"invalid config: {self.config_error}; fix the option and retry")
            return
        assert self.settings is not None
        relation = self._relation()
        try:
            entries = self._entries() if relation is not None else []
        except Exception as e:  # noqa: BLE001 - e.g. the library rejecting provider data
            logger.exception("reading certificates failed")
            event.fail(f"cannot read certificates: {e}")
            return
        visible = [e for e in entries if e["visible"]]
        event.set_results({
            "certificates": json.dumps(entries, sort_keys=True),
            "mode": self.settings.mode_name,
            "leader": str(self.unit.is_leader()).lower(),
            "related": str(relation is not None).lower(),
            "expected": str(len(visible)),
            "received": str(sum(1 for e in visible if e["certificate"] and not e["revoked"])),
        })

    def _on_renew(self, event: ops.ActionEvent) -> None:
        if self.tls is None or self.settings is None:
            event.fail(f"invalid config: {self.config_error}; fix the option and retry")
            return
        if self._relation() is None:
            event.fail("no certificates relation: relate to a provider first")
            return
        renewed = 0
        for scope in self.settings.requests:
            if scope == Mode.APP and not self.unit.is_leader():
                continue
            certificates, _ = self.tls.get_assigned_certificates(
                scope if self.settings.mode == Mode.APP_AND_UNIT else None
            )
            for certificate in certificates:
                self.tls.renew_certificate(certificate)
                renewed += 1
        event.set_results({"renewed": str(renewed)})

    def _on_regenerate_key(self, event: ops.ActionEvent) -> None:
        if self.tls is None:
            event.fail(f"invalid config: {self.config_error}; fix the option and retry")
            return
        if self._relation() is None:
            event.fail("no certificates relation: keys are generated once related")
            return
        self.tls.regenerate_private_key()
        event.set_results({"regenerated": "true"})

    # ---- helpers ------------------------------------------------------------------------

    def _relation(self) -> ops.Relation | None:
        relations = self.model.relations.get(RELATION, [])
        return relations[0] if relations else None

    def _entries(self) -> list[dict[str, Any]]:
        """One report entry per configured request of this unit (see get-certificates)."""
        assert self.tls is not None and self.settings is not None
        leader = self.unit.is_leader()
        requirer_csrs = self.tls.get_csrs_from_requirer_relation_data()
        errors = self.tls.get_request_errors()
        entries = []
        for scope, requests in self.settings.requests.items():
            visible = scope == Mode.UNIT or leader
            key = None
            if visible:
                key = self.tls.get_private_key(
                    scope if self.settings.mode == Mode.APP_AND_UNIT else None
                )
            for attributes in requests:
                entry: dict[str, Any] = {
                    "scope": _scope_name(scope),
                    "visible": visible,
                    "common-name": attributes.common_name,
                    "sans-dns": sorted(attributes.sans_dns or []),
                    "sans-ip": sorted(attributes.sans_ip or []),
                    "sans-oid": sorted(attributes.sans_oid or []),
                    "is-ca": attributes.is_ca,
                    "key-algorithm": key.algorithm.value if key else None,
                    "key-size": key.key_size if key else None,
                    "csr": None,
                    "certificate": None,
                    "ca": None,
                    "chain": [],
                    "revoked": False,
                    "denial": None,
                }
                entries.append(entry)
                if not visible:
                    continue
                csr = None
                for requirer_csr in requirer_csrs:
                    if attributes == CertificateRequestAttributes.from_csr(
                        requirer_csr.certificate_signing_request, requirer_csr.is_ca
                    ):
                        csr = requirer_csr.certificate_signing_request
                        break
                if csr is None:
                    continue
                entry["csr"] = str(csr)
                certificate, _ = self.tls.get_assigned_certificate(attributes)
                if certificate is not None:
                    entry["certificate"] = str(certificate.certificate)
                    entry["ca"] = str(certificate.ca)
                    entry["chain"] = [str(c) for c in certificate.chain]
                    entry["revoked"] = bool(certificate.revoked)
                for error in errors:
                    if error.certificate_signing_request == csr:
                        entry["denial"] = {
                            "code": error.error.code,
                            "name": error.error.name,
                            "message": error.error.message,
                            "reason": error.error.reason,
                        }
        return entries


if __name__ == "__main__":  # pragma: nocover
    ops.main(TLSRequirerCharm)
