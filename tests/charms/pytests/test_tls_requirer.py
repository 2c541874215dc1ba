"""tls-requirer and test-provider charms, driven by ops.testing (Scenario)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ops import testing

from conftest import load_charm

Requirer = load_charm("tls-requirer", "TLSRequirerCharm")
Provider = load_charm("test-provider", "TestProviderCharm")

CSRS = "certificate_signing_requests"


def requirer_ctx(unit_id: int = 0) -> testing.Context:
    return testing.Context(Requirer, app_name="tls-requirer", unit_id=unit_id)


def provider_ctx() -> testing.Context:
    return testing.Context(Provider, app_name="test-provider", unit_id=0)


def csr_entries(bag: dict) -> list[dict]:
    if CSRS not in bag:
        return []
    entries = json.loads(bag[CSRS])
    assert isinstance(entries, list)
    return entries


def parse_csr(entry: dict) -> x509.CertificateSigningRequest:
    csr = x509.load_pem_x509_csr(entry["certificate_signing_request"].encode())
    assert csr.is_signature_valid
    return csr


def cn_of(csr) -> str:
    return csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def created(ctx, config, leader, relation=None, state=None):
    relation = relation or testing.Relation("certificates", remote_app_name="test-provider")
    state = state or testing.State(leader=leader, config=config, relations={relation})
    out = ctx.run(ctx.on.relation_created(relation), state)
    return out, out.get_relation(relation.id)


@pytest.mark.parametrize(
    "algorithm,size,key_type,bits",
    [
        ("rsa", 0, rsa.RSAPublicKey, 2048),
        ("rsa", 3072, rsa.RSAPublicKey, 3072),
        ("ecdsa", 0, ec.EllipticCurvePublicKey, 256),
        ("ecdsa", 384, ec.EllipticCurvePublicKey, 384),
    ],
)
def test_unit_mode_writes_csr_in_unit_databag(algorithm, size, key_type, bits):
    config = {"key-algorithm": algorithm, "key-size": size, "sans-dns": "a.example.com,{unit}.x"}
    out, rel = created(requirer_ctx(1), config, leader=True)
    assert CSRS not in rel.local_app_data
    entries = csr_entries(rel.local_unit_data)
    assert len(entries) == 1
    assert entries[0]["ca"] is False
    csr = parse_csr(entries[0])
    assert isinstance(csr.public_key(), key_type)
    assert csr.public_key().key_size == bits
    assert cn_of(csr) == "tls-requirer.example.com"
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"a.example.com", "tls-requirer-1.x"}
    assert out.unit_status == testing.WaitingStatus("waiting for 1 certificates (0/1 received)")


def test_app_mode_leader_writes_app_databag_only():
    out, rel = created(requirer_ctx(), {"mode": "app", "key-algorithm": "ecdsa"}, leader=True)
    assert CSRS not in rel.local_unit_data
    (entry,) = csr_entries(rel.local_app_data)
    assert isinstance(parse_csr(entry).public_key(), ec.EllipticCurvePublicKey)


def test_app_mode_non_leader_writes_nothing():
    out, rel = created(requirer_ctx(2), {"mode": "app"}, leader=False)
    assert CSRS not in rel.local_unit_data
    assert CSRS not in rel.local_app_data
    assert out.unit_status.name == "active"
    assert "handled by the leader" in out.unit_status.message


def test_app_and_unit_mode_distinct_requests():
    config = {"mode": "app-and-unit", "common-name": "svc.example.com", "is-ca": True}
    out, rel = created(requirer_ctx(3), config, leader=True)
    (app_entry,) = csr_entries(rel.local_app_data)
    (unit_entry,) = csr_entries(rel.local_unit_data)
    assert cn_of(parse_csr(app_entry)) == "svc.example.com"
    assert cn_of(parse_csr(unit_entry)) == "tls-requirer-3.svc.example.com"
    assert app_entry["ca"] is True and unit_entry["ca"] is True


def test_two_requests_per_unit():
    out, rel = created(requirer_ctx(), {"requests-per-unit": 2}, leader=False)
    entries = csr_entries(rel.local_unit_data)
    assert sorted(cn_of(parse_csr(e)) for e in entries) == [
        "r1.tls-requirer.example.com",
        "tls-requirer.example.com",
    ]


@pytest.mark.parametrize(
    "config,needle",
    [
        ({"key-algorithm": "ecdsa", "key-size": 2048}, "key-size"),
        ({"key-algorithm": "dsa"}, "key-algorithm"),
        ({"mode": "both"}, "mode"),
        ({"sans-ip": "not-an-ip"}, "sans-ip"),
        ({"sans-oid": "x.y"}, "sans-oid"),
        ({"common-name": ""}, "common-name"),
        ({"common-name": "x" * 70}, "common-name"),
        ({"requests-per-unit": 0}, "requests-per-unit"),
    ],
)
def test_invalid_config_blocks_without_crashing(config, needle):
    ctx = requirer_ctx()
    out, rel = created(ctx, config, leader=True)
    assert out.unit_status.name == "blocked"
    assert needle in out.unit_status.message
    assert CSRS not in rel.local_unit_data
    with pytest.raises(testing.ActionFailed, match=needle):
        ctx.run(ctx.on.action("get-certificates"), out)


def test_missing_relation_blocks():
    ctx = requirer_ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    assert out.unit_status == testing.BlockedStatus("missing certificates relation")


def provider_answer(requirer_rel, provider_state=None, config=None, leader=True):
    """Run the test provider on a relation-changed carrying the requirer's databags."""
    ctx = provider_ctx()
    prel = testing.Relation(
        "certificates",
        remote_app_name="tls-requirer",
        remote_app_data=dict(requirer_rel.local_app_data),
        remote_units_data={0: dict(requirer_rel.local_unit_data)},
    )
    if provider_state is None:
        state = testing.State(leader=leader, config=config or {}, relations={prel})
    else:
        old = next(iter(provider_state.relations))
        prel = dataclasses.replace(prel, id=old.id, local_app_data=dict(old.local_app_data))
        state = dataclasses.replace(provider_state, relations={prel})
    out = ctx.run(ctx.on.relation_changed(prel, remote_unit=0), state)
    return out, out.get_relation(prel.id)


def requirer_receives(ctx, state, rel, provider_app_data):
    new_rel = dataclasses.replace(rel, remote_app_data=dict(provider_app_data))
    state = dataclasses.replace(state, relations={new_rel})
    out = ctx.run(ctx.on.relation_changed(new_rel), state)
    return out, out.get_relation(new_rel.id)


def get_certificates(ctx, state) -> list[dict]:
    ctx.run(ctx.on.action("get-certificates"), state)
    return json.loads(ctx.action_results["certificates"])


@pytest.mark.parametrize("mode", ["unit", "app", "app-and-unit"])
@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa"])
def test_requirer_accepts_certificate_from_test_provider(mode, algorithm):
    ctx = requirer_ctx()
    config = {"mode": mode, "key-algorithm": algorithm}
    state, rel = created(ctx, config, leader=True)
    pout, prel = provider_answer(rel)
    certs = json.loads(prel.local_app_data["certificates"])
    assert len(certs) == (2 if mode == "app-and-unit" else 1)
    assert pout.unit_status == testing.ActiveStatus(f"issued {len(certs)} certificate(s)")
    state, rel = requirer_receives(ctx, state, rel, prel.local_app_data)
    n = len(certs)
    assert state.unit_status == testing.ActiveStatus(f"{n}/{n} certificates received")
    report = get_certificates(ctx, state)
    assert len(report) == n
    assert ctx.action_results["received"] == str(n)
    by_csr = {c["certificate_signing_request"]: c for c in certs}
    for entry in report:
        assert entry["key-algorithm"] == algorithm
        sent = by_csr[entry["csr"]]
        assert entry["certificate"] == sent["certificate"]
        assert entry["ca"] == sent["ca"]
        assert entry["chain"] == sent["chain"]
        assert entry["denial"] is None and entry["revoked"] is False
        cert = x509.load_pem_x509_certificate(entry["certificate"].encode())
        ca = x509.load_pem_x509_certificate(entry["ca"].encode())
        cert.verify_directly_issued_by(ca)
    # Idempotent: a second relation-changed changes nothing in the requirer's databags.
    again, rel2 = requirer_receives(ctx, state, rel, prel.local_app_data)
    assert rel2.local_unit_data == rel.local_unit_data
    assert rel2.local_app_data == rel.local_app_data


def test_requirer_ignores_other_units_certificate():
    ctx = requirer_ctx()
    state, rel = created(ctx, {}, leader=False)
    other_state, other_rel = created(requirer_ctx(1), {}, leader=False)
    _, prel = provider_answer(other_rel)
    state, rel = requirer_receives(ctx, state, rel, prel.local_app_data)
    assert state.unit_status == testing.WaitingStatus("waiting for 1 certificates (0/1 received)")
    (entry,) = get_certificates(ctx, state)
    assert entry["certificate"] is None


def test_denial_is_reported():
    ctx = requirer_ctx()
    state, rel = created(ctx, {"requests-per-unit": 2}, leader=False)
    _, prel = provider_answer(rel, config={"deny-common-names": "r1.tls-requirer.example.com"})
    assert len(json.loads(prel.local_app_data["request_errors"])) == 1
    state, rel = requirer_receives(ctx, state, rel, prel.local_app_data)
    assert state.unit_status == testing.BlockedStatus(
        "1 request(s) denied: 102 DOMAIN_NOT_ALLOWED; 1/2 certificates received"
    )
    report = {e["common-name"]: e for e in get_certificates(ctx, state)}
    denial = report["r1.tls-requirer.example.com"]["denial"]
    assert denial["code"] == 102 and "not allowed" in denial["message"]
    assert report["tls-requirer.example.com"]["certificate"]


def test_provider_disabled_and_non_leader_write_nothing():
    state, rel = created(requirer_ctx(), {}, leader=False)
    out, prel = provider_answer(rel, config={"enabled": False})
    assert "certificates" not in prel.local_app_data
    assert out.unit_status == testing.ActiveStatus("signing disabled (enabled=false)")
    out, prel = provider_answer(rel, leader=False)
    assert "certificates" not in prel.local_app_data
    assert out.unit_status == testing.ActiveStatus("standby (not leader)")


def test_provider_rotate_ca_reissues():
    ctx = requirer_ctx()
    state, rel = created(ctx, {}, leader=False)
    pstate, prel = provider_answer(rel)
    old = json.loads(prel.local_app_data["certificates"])[0]
    pctx = provider_ctx()
    pstate = pctx.run(pctx.on.action("rotate-ca"), pstate)
    assert pctx.action_results["reissued"] == "1"
    new = json.loads(pstate.get_relation(prel.id).local_app_data["certificates"])
    assert len(new) == 1
    assert new[0]["certificate_signing_request"] == old["certificate_signing_request"]
    assert new[0]["ca"] != old["ca"] and not new[0].get("revoked")
    state, rel = requirer_receives(ctx, state, rel, pstate.get_relation(prel.id).local_app_data)
    (entry,) = get_certificates(ctx, state)
    assert entry["ca"] == new[0]["ca"]


def test_mode_change_removes_stale_unit_csrs():
    ctx = requirer_ctx()
    state, rel = created(ctx, {"mode": "unit"}, leader=True)
    assert csr_entries(rel.local_unit_data)
    state = dataclasses.replace(state, config={"mode": "app"})
    out = ctx.run(ctx.on.config_changed(), state)
    rel = out.get_relation(rel.id)
    assert CSRS not in rel.local_unit_data
    assert len(csr_entries(rel.local_app_data)) == 1


def test_key_algorithm_change_regenerates_key():
    ctx = requirer_ctx()
    state, rel = created(ctx, {"key-algorithm": "rsa"}, leader=False)
    (before,) = csr_entries(rel.local_unit_data)
    state = dataclasses.replace(state, config={"key-algorithm": "ecdsa", "key-size": 384})
    out = ctx.run(ctx.on.config_changed(), state)
    (after,) = csr_entries(out.get_relation(rel.id).local_unit_data)
    assert after != before
    key = parse_csr(after).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.key_size == 384


def test_renew_action_sends_new_csr():
    ctx = requirer_ctx()
    state, rel = created(ctx, {}, leader=False)
    _, prel = provider_answer(rel)
    state, rel = requirer_receives(ctx, state, rel, prel.local_app_data)
    (before,) = csr_entries(rel.local_unit_data)
    out = ctx.run(ctx.on.action("renew"), state)
    assert ctx.action_results["renewed"] == "1"
    (after,) = csr_entries(out.get_relation(rel.id).local_unit_data)
    assert after["certificate_signing_request"] != before["certificate_signing_request"]
