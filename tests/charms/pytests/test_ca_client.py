"""ca-client charm, driven by ops.testing (Scenario) with hand-written provider data."""

from __future__ import annotations

import dataclasses
import json

from ops import testing

from conftest import load_charm

Client = load_charm("ca-client", "CAClientCharm")

RELATION = "receive-ca-cert"
CA1 = "-----BEGIN CERTIFICATE-----\nMIIB1\n-----END CERTIFICATE-----"
CA2 = "-----BEGIN CERTIFICATE-----\nMIIB2\n-----END CERTIFICATE-----"


def ctx() -> testing.Context:
    return testing.Context(Client, app_name="ca-client", unit_id=0)


def v1_bag(*pems: str) -> dict:
    """The application databag the library's provider writes (json.dumps of the sorted set)."""
    return {"certificates": json.dumps(sorted(pems)), "version": "1"}


def changed(state: testing.State, relation: testing.Relation, **data):
    relation = dataclasses.replace(relation, **data)
    state = dataclasses.replace(state, relations={relation})
    return ctx().run(ctx().on.relation_changed(relation, remote_unit=0), state), relation


def bundle(state: testing.State) -> dict:
    c = ctx()
    c.run(c.on.action("get-bundle"), state)
    r = c.action_results
    return {
        "bundle": json.loads(r["bundle"]),
        "updates": int(r["updates"]),
        "removals": int(r["removals"]),
        "relations": json.loads(r["relations"]),
        "current": json.loads(r["current"]),
    }


def test_leader_announces_version_1_on_relation_created():
    relation = testing.Relation(RELATION, remote_app_name="tls-provider")
    for leader, announced in ((True, {"version": "1"}), (False, {})):
        state = testing.State(leader=leader, relations={relation})
        out = ctx().run(ctx().on.relation_created(relation), state)
        assert out.get_relation(relation.id).local_app_data == announced


def test_bundle_follows_the_set_and_counts_updates():
    relation = testing.Relation(RELATION, remote_app_name="tls-provider")
    state = testing.State(leader=True, relations={relation})
    state, relation = changed(state, relation, remote_app_data=v1_bag(CA2, CA1))
    assert state.unit_status == testing.ActiveStatus("trusting 2 certificate(s)")
    got = bundle(state)
    assert got["bundle"] == sorted([CA1, CA2])
    assert got["current"] == sorted([CA1, CA2])
    assert got["relations"] == {str(relation.id): sorted([CA1, CA2])}
    assert (got["updates"], got["removals"]) == (1, 0)
    # Same set, another change in the bag: no certificate_set_updated.
    state, relation = changed(
        state, relation, remote_app_data={**v1_bag(CA1, CA2), "other": '"x"'}
    )
    assert bundle(state)["updates"] == 1
    state, relation = changed(state, relation, remote_app_data=v1_bag(CA2))
    assert bundle(state)["bundle"] == [CA2]
    assert bundle(state)["updates"] == 2
    assert state.unit_status == testing.ActiveStatus("trusting 1 certificate(s)")
    out = ctx().run(ctx().on.relation_broken(relation), state)
    got = bundle(dataclasses.replace(out, relations=set()))
    assert (got["bundle"], got["updates"], got["removals"]) == ([], 2, 1)
    assert out.unit_status == testing.BlockedStatus(f"missing {RELATION} relation")


def test_v0_unit_databag_is_read_when_the_app_bag_has_nothing():
    unit_bag = {
        "ca": json.dumps(CA1),
        "certificate": json.dumps(CA1),
        "chain": json.dumps([CA1, CA2]),
        "version": "0",
    }
    relation = testing.Relation(
        RELATION, remote_app_name="old-provider", remote_units_data={0: unit_bag}
    )
    state = testing.State(leader=True, relations={relation})
    out = ctx().run(ctx().on.relation_changed(relation, remote_unit=0), state)
    assert bundle(out)["bundle"] == sorted([CA1, CA2])


def test_first_change_without_data_is_an_empty_update():
    relation = testing.Relation(RELATION, remote_app_name="tls-provider")
    state = testing.State(leader=True, relations={relation})
    out = ctx().run(ctx().on.relation_changed(relation, remote_unit=0), state)
    got = bundle(out)
    assert (got["bundle"], got["updates"]) == ([], 1)
    assert out.unit_status == testing.WaitingStatus("trusting 0 certificate(s)")
