#!/usr/bin/env python3
# Copyright 2026 tls-provider authors.
# Licensed under the Apache License, Version 2.0.
"""Minimal tls-certificates provider for tests, built on the real charmlibs provider class.

The leader creates a self-signed CA with the library's helpers, keeps it in an app-owned Juju
secret, and signs every outstanding request (or refuses the configured CNs with error 102).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import ops
from charmlibs.interfaces.tls_certificates import (
    Certificate,
    CertificateError,
    CertificateRequestAttributes,
    CertificateRequestErrorCode,
    PrivateKey,
    ProviderCertificate,
    ProviderCertificateError,
    TLSCertificatesError,
    TLSCertificatesProvidesV4,
)

logger = logging.getLogger(__name__)

RELATION = "certificates"
CA_SECRET_LABEL = "test-provider-ca"
CA_VALIDITY = timedelta(days=3650)


class TestProviderCharm(ops.CharmBase):
    """Signs every outstanding request on the certificates relation (leader only)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.tls = TLSCertificatesProvidesV4(self, RELATION)
        self.last_error: str | None = None
        for event in (
            self.on.config_changed,
            self.on.leader_elected,
            self.on.update_status,
            self.on[RELATION].relation_joined,
            self.on[RELATION].relation_changed,
            self.on[RELATION].relation_departed,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.get_ca_action, self._on_get_ca)
        framework.observe(self.on.get_issued_action, self._on_get_issued)
        framework.observe(self.on.rotate_ca_action, self._on_rotate_ca)

    # ---- config -------------------------------------------------------------------------

    def _validity(self) -> timedelta:
        days = int(self.config.get("validity-days", 90))
        return timedelta(days=min(max(days, 1), 3650))

    def _denied(self) -> set[str]:
        raw = str(self.config.get("deny-common-names", "") or "")
        return {item.strip() for item in raw.split(",") if item.strip()}

    # ---- CA -----------------------------------------------------------------------------

    def _new_ca(self) -> dict[str, str]:
        key = PrivateKey.generate()
        cn = str(self.config.get("ca-common-name", "") or "test-provider CA")
        ca = Certificate.generate_self_signed_ca(
            CertificateRequestAttributes(common_name=cn, is_ca=True), key, CA_VALIDITY
        )
        return {"certificate": str(ca), "private-key": str(key)}

    def _ca(self, create: bool = True) -> tuple[Certificate, PrivateKey] | None:
        try:
            secret = self.model.get_secret(label=CA_SECRET_LABEL)
            content = secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            if not create:
                return None
            content = self._new_ca()
            self.app.add_secret(content, label=CA_SECRET_LABEL)
            logger.info("created CA")
        return (
            Certificate.from_string(content["certificate"]),
            PrivateKey.from_string(content["private-key"]),
        )

    # ---- signing ------------------------------------------------------------------------

    def _reconcile(self, _: ops.EventBase) -> None:
        if not self.unit.is_leader():
            return
        if not self.config.get("enabled", True):
            logger.info("signing disabled (config enabled=false)")
            return
        ca_pair = self._ca()
        assert ca_pair is not None
        self._answer(*ca_pair)

    def _answer(self, ca: Certificate, ca_key: PrivateKey) -> int:
        """Answer every outstanding request; return how many answers were written."""
        denied = self._denied()
        answered = 0
        try:
            outstanding = self.tls.get_outstanding_certificate_requests()
            errors = self.tls.get_provider_certificate_errors()
        except TLSCertificatesError as e:
            self.last_error = f"cannot read requests: {e}"
            logger.error(self.last_error)
            return 0
        for request in outstanding:
            csr = request.certificate_signing_request
            try:
                if csr.common_name in denied:
                    if any(
                        e.relation_id == request.relation_id
                        and e.certificate_signing_request == csr
                        for e in errors
                    ):
                        continue  # already refused: do not rewrite the databag
                    self.tls.set_relation_error(
                        ProviderCertificateError(
                            relation_id=request.relation_id,
                            certificate_signing_request=csr,
                            error=CertificateError(
                                code=CertificateRequestErrorCode.DOMAIN_NOT_ALLOWED,
                                name="DOMAIN_NOT_ALLOWED",
                                message=f"common name {csr.common_name!r} is not allowed",
                                reason="listed in deny-common-names",
                            ),
                        )
                    )
                else:
                    certificate = Certificate.generate(
                        csr=csr,
                        ca=ca,
                        ca_private_key=ca_key,
                        validity=self._validity(),
                        is_ca=request.is_ca,
                    )
                    self.tls.set_relation_certificate(
                        ProviderCertificate(
                            relation_id=request.relation_id,
                            certificate=certificate,
                            certificate_signing_request=csr,
                            ca=ca,
                            chain=[certificate, ca],
                        )
                    )
                answered += 1
            except (TLSCertificatesError, ValueError) as e:
                self.last_error = f"cannot answer CSR CN={csr.common_name!r}: {e}"
                logger.error(self.last_error)
        if answered:
            logger.info("answered %d request(s)", answered)
        return answered

    # ---- status and actions -------------------------------------------------------------

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if not self.unit.is_leader():
            event.add_status(ops.ActiveStatus("standby (not leader)"))
            return
        if self.last_error:
            event.add_status(ops.BlockedStatus(self.last_error))
            return
        if not self.config.get("enabled", True):
            event.add_status(ops.ActiveStatus("signing disabled (enabled=false)"))
            return
        try:
            issued = len(self.tls.get_issued_certificates())
        except TLSCertificatesError as e:
            event.add_status(ops.BlockedStatus(f"cannot read issued certificates: {e}"))
            return
        event.add_status(ops.ActiveStatus(f"issued {issued} certificate(s)"))

    def _require_leader(self, event: ops.ActionEvent) -> bool:
        if not self.unit.is_leader():
            event.fail("run this action on the leader unit")
            return False
        return True

    def _on_get_ca(self, event: ops.ActionEvent) -> None:
        if not self._require_leader(event):
            return
        pair = self._ca(create=False)
        if pair is None:
            event.fail("no CA yet: it is created on the first request or config change")
            return
        event.set_results({"ca": str(pair[0])})

    def _on_get_issued(self, event: ops.ActionEvent) -> None:
        if not self._require_leader(event):
            return
        certificates = [
            {
                "relation-id": c.relation_id,
                "csr": str(c.certificate_signing_request),
                "certificate": str(c.certificate),
                "ca": str(c.ca),
                "chain": [str(x) for x in c.chain],
                "revoked": bool(c.revoked),
            }
            for c in self.tls.get_provider_certificates()
        ]
        outstanding = len(self.tls.get_outstanding_certificate_requests())
        event.set_results({
            "certificates": json.dumps(certificates, sort_keys=True),
            "outstanding": str(outstanding),
        })

    def _on_rotate_ca(self, event: ops.ActionEvent) -> None:
        if not self._require_leader(event):
            return
        content = self._new_ca()
        try:
            self.model.get_secret(label=CA_SECRET_LABEL).set_content(content)
        except ops.SecretNotFoundError:
            self.app.add_secret(content, label=CA_SECRET_LABEL)
        self.tls.revoke_all_certificates()
        reissued = 0
        if self.config.get("enabled", True):
            reissued = self._answer(
                Certificate.from_string(content["certificate"]),
                PrivateKey.from_string(content["private-key"]),
            )
        event.set_results({"ca": content["certificate"], "reissued": str(reissued)})


if __name__ == "__main__":  # pragma: nocover
    ops.main(TestProviderCharm)
