"""legacy-requirer charm, driven by ops.testing (Scenario) with hand-written provider data."""

from __future__ import annotations

import dataclasses
import json

import pytest
from ops import testing

from conftest import load_charm

Legacy = load_charm("legacy-requirer", "LegacyRequirerCharm")

FULL_CONFIG = {
    "common-name": "etcd.example.com",
    "sans": "10.0.0.1,etcd-0.example.com",
    "cert-requests": '{"b.example.com": {"sans": ["b1"]}, "a.example.com": {"sans": []}}',
    "client-cert-requests": '{"client1": {"sans": null}}',
    "application-cert-requests": '{"app.example.com": {"sans": ["10.0.0.9"]}}',
    "intermediate-cert-requests": '{"inter-ca": {"sans": []}}',
}


def ctx() -> testing.Context:
    return testing.Context(Legacy, app_name="etcd", unit_id=0)


def run(event_name, config, provider_units=None, state=None, relation=None):
    c = ctx()
    provider_units = provider_units if provider_units is not None else {0: {}}
    if relation is None:
        relation = testing.Relation(
            "certificates", remote_app_name="easyrsa", remote_units_data=provider_units
        )
    else:
        relation = dataclasses.replace(relation, remote_units_data=provider_units)
    if state is None:
        state = testing.State(config=config, relations={relation})
    else:
        state = dataclasses.replace(state, config=config, relations={relation})
    event = getattr(c.on, event_name)
    if event_name.startswith("relation_"):
        kwargs = {"remote_unit": min(provider_units)} if provider_units and event_name in (
            "relation_joined", "relation_changed") else {}
        out = c.run(event(relation, **kwargs), state)
    else:
        out = c.run(event(), state)
    return out, out.get_relation(relation.id)


def report(state) -> dict:
    c = ctx()
    c.run(c.on.action("get-certificates"), state)
    doc = json.loads(c.action_results["certificates"])
    assert c.action_results["ready"] == str(doc["ready"]).lower()
    assert c.action_results["views-agree"] == str(doc["views-agree"]).lower()
    return doc


def test_publishes_reactive_keys_exactly():
    config = dict(FULL_CONFIG, **{"unit-name-override": "etcd/7"})
    out, rel = run("relation_joined", config)
    bag = rel.local_unit_data
    assert bag["unit_name"] == "etcd_7"
    assert bag["common_name"] == "etcd.example.com"
    assert bag["sans"] == '["10.0.0.1", "etcd-0.example.com"]'
    assert len(bag["certificate_name"]) == 36
    assert bag["cert_requests"] == (
        '{"a.example.com": {"sans": []}, "b.example.com": {"sans": ["b1"]}}'
    )
    assert bag["client_cert_requests"] == '{"client1": {"sans": null}}'
    assert bag["application_cert_requests"] == '{"app.example.com": {"sans": ["10.0.0.9"]}}'
    assert bag["intermediate_cert_requests"] == '{"inter-ca": {"sans": []}}'
    # certificate_name is stable across hooks; nothing changes on a second run
    out2, rel2 = run("relation_changed", config, state=out, relation=rel)
    assert rel2.local_unit_data == bag
    assert out.unit_status == testing.WaitingStatus("waiting for ca and client certificate")


def test_nothing_published_before_a_provider_unit_joins():
    out, rel = run("relation_created", FULL_CONFIG, provider_units={})
    assert "unit_name" not in rel.local_unit_data
    assert "common_name" not in rel.local_unit_data


def test_removed_requests_are_unpublished():
    out, rel = run("relation_joined", FULL_CONFIG)
    out, rel = run("config_changed", {"cert-requests": "{}"}, state=out, relation=rel)
    bag = rel.local_unit_data
    assert bag["unit_name"] == "etcd_0"
    for key in ("common_name", "sans", "certificate_name", "cert_requests",
                "client_cert_requests", "application_cert_requests",
                "intermediate_cert_requests"):
        assert key not in bag


def test_raw_data_overrides_for_malformed_requests():
    config = {"common-name": "x", "raw-data": '{"cert_requests": "{not json", "sans": null}'}
    out, rel = run("relation_joined", config)
    assert rel.local_unit_data["cert_requests"] == "{not json"
    assert "sans" not in rel.local_unit_data


@pytest.mark.parametrize(
    "option,value",
    [("cert-requests", "{nope"), ("client-cert-requests", "[1]"), ("raw-data", '{"a": 1}')],
)
def test_invalid_config_blocks(option, value):
    out, rel = run("config_changed", {option: value})
    assert out.unit_status.name == "blocked" and option in out.unit_status.message
    assert "unit_name" not in rel.local_unit_data
    with pytest.raises(testing.ActionFailed, match=option):
        c = ctx()
        c.run(c.on.action("get-certificates"), out)


def provider_bag(name="etcd_0", ca="CA-1", server="S"):
    pair = lambda cn: {"cert": f"CERT-{cn}-{server}", "key": f"KEY-{cn}"}  # noqa: E731
    return {
        "ca": ca,
        "chain": "CHAIN",
        "client.cert": "GLOBAL-CLIENT-CERT",
        "client.key": "GLOBAL-CLIENT-KEY",
        f"{name}.server.cert": f"CERT-top-{server}",
        f"{name}.server.key": "KEY-top",
        f"{name}.processed_requests": json.dumps(
            {"a.example.com": pair("a"), "b.example.com": pair("b")}, sort_keys=True),
        f"{name}.processed_client_requests": json.dumps({"client1": pair("c")}, sort_keys=True),
        f"{name}.processed_application_requests": json.dumps(
            {"app_data": pair("app")}, sort_keys=True),
        f"{name}.processed_intermediate_requests": json.dumps(
            {"inter-ca": pair("i"), "app_data": pair("i")}, sort_keys=True),
        "other_9.server.cert": "NOT-MINE",
    }


def test_full_answer_from_two_agreeing_units():
    bag = provider_bag()
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: bag, 1: dict(bag)})
    assert out.unit_status == testing.ActiveStatus(
        "ready: server 3/3, client 1/1, application 1/1, intermediate 1/1"
    )
    doc = report(out)
    assert doc["ready"] and doc["views-agree"] and doc["units-identical"]
    assert doc["provider-units"] == ["easyrsa/0", "easyrsa/1"]
    assert doc["ca"] == "CA-1" and doc["chain"] == "CHAIN"
    assert doc["client-cert-present"] and doc["client-key-present"]
    assert doc["server-certs"] == [
        {"cn": "etcd.example.com", "cert": "CERT-top-S", "key": "KEY-top"},
        {"cn": "a.example.com", "cert": "CERT-a-S", "key": "KEY-a"},
        {"cn": "b.example.com", "cert": "CERT-b-S", "key": "KEY-b"},
    ]
    assert doc["client-certs"] == [{"cn": "client1", "cert": "CERT-c-S", "key": "KEY-c"}]
    assert doc["application-certs"] == [{"cn": "app_data", "cert": "CERT-app-S", "key": "KEY-app"}]
    assert doc["intermediate-certs"] == [{"cn": "inter-ca", "cert": "CERT-i-S", "key": "KEY-i"}]
    assert doc["intermediate-app-data"] == {"cert": "CERT-i-S", "key": "KEY-i"}
    assert doc["counts"]["server"] == {"received": 3, "expected": 3}
    assert doc["errors"] == []


def test_unit_name_override_reads_under_published_name():
    config = dict(FULL_CONFIG, **{"unit-name-override": "remote-etcd/3"})
    out, rel = run("relation_changed", config, provider_units={0: provider_bag("etcd_0")})
    doc = report(out)
    assert doc["unit-name"] == "remote-etcd_3"
    assert doc["server-certs"] == [] and doc["ready"]
    out, rel = run("relation_changed", config, provider_units={0: provider_bag("remote-etcd_3")})
    assert len(report(out)["server-certs"]) == 3


def test_merged_view_lowest_unit_name_wins_and_disagreement_is_reported():
    # Sorted as strings: easyrsa/1 < easyrsa/10 < easyrsa/2.
    units = {2: provider_bag(ca="CA-2"), 10: provider_bag(ca="CA-10"), 1: provider_bag(ca="CA-1")}
    out, rel = run("relation_changed", FULL_CONFIG, provider_units=units)
    doc = report(out)
    assert doc["ca"] == "CA-1"
    assert not doc["views-agree"] and doc["disagreeing-keys"] == ["ca"]
    assert out.unit_status == testing.BlockedStatus("provider units disagree on: ca")


def test_only_one_unit_publishing_agrees_but_is_not_identical():
    units = {0: {}, 1: provider_bag()}
    out, rel = run("relation_changed", FULL_CONFIG, provider_units=units)
    doc = report(out)
    assert doc["views-agree"] and not doc["units-identical"] and doc["ready"]
    assert doc["provider-keys"]["easyrsa/0"] == []
    assert "ca" in doc["provider-keys"]["easyrsa/1"]


def test_missing_client_cert_is_not_ready():
    bag = provider_bag()
    del bag["client.key"]
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: bag})
    assert not report(out)["ready"]
    assert out.unit_status == testing.WaitingStatus("waiting for ca and client certificate")


def test_partial_answer_waits():
    bag = provider_bag()
    del bag["etcd_0.processed_client_requests"]
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: bag})
    assert out.unit_status == testing.WaitingStatus(
        "waiting for certificates: server 3/3, client 0/1, application 1/1, intermediate 1/1"
    )


def test_malformed_provider_data_is_reported_not_fatal():
    bag = provider_bag()
    bag["etcd_0.processed_requests"] = "{not json"
    bag["etcd_0.processed_client_requests"] = '{"client1": "str"}'
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: bag})
    doc = report(out)
    assert doc["errors"] == [
        "etcd_0.processed_requests is not a JSON object",
        "etcd_0.processed_client_requests['client1'] is not an object",
    ]
    assert out.unit_status.name == "blocked"


def test_change_counters_follow_data_changes():
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: provider_bag()})
    out, rel = run("relation_changed", FULL_CONFIG, provider_units={0: provider_bag()},
                   state=out, relation=rel)
    first = report(out)["changes"]
    assert first == {"ca": 1, "server": 1, "client": 1, "application": 1, "intermediate": 1}
    out, rel = run("relation_changed", FULL_CONFIG,
                   provider_units={0: provider_bag(server="T")}, state=out, relation=rel)
    assert report(out)["changes"] == {
        "ca": 1, "server": 2, "client": 2, "application": 2, "intermediate": 2}
