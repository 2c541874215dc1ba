#!/usr/bin/env python3
"""ops probe charm: the provider side creates a secret and shares it; the requirer reads it."""

import logging

import ops

logger = logging.getLogger(__name__)


class ProbeCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        for ev in (self.on.install, self.on.config_changed, self.on.leader_elected):
            framework.observe(ev, self._on_config)
        framework.observe(self.on.data_relation_joined, self._on_data_joined)
        framework.observe(self.on.data_relation_changed, self._on_data_changed)
        framework.observe(self.on.upstream_relation_changed, self._on_upstream_changed)
        framework.observe(self.on.upstream_relation_broken, self._on_upstream_broken)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.secret_remove, self._on_secret_remove)
        framework.observe(self.on.echo_action, self._on_echo)
        framework.observe(self.on.fail_action, self._on_fail)
        framework.observe(self.on.show_secret_action, self._on_show_secret)

    def _secret(self):
        try:
            return self.model.get_secret(label="probe-secret")
        except ops.SecretNotFoundError:
            return None

    def _on_config(self, event):
        self.unit.set_workload_version("1.2.3")
        self.unit.open_port("tcp", 8080)
        if self.unit.is_leader():
            pw = self.config["password"]
            s = self._secret()
            if s is None:
                s = self.app.add_secret({"password": pw}, label="probe-secret")
                logger.info("created secret %s", s.id)
            elif s.get_content(refresh=True).get("password") != pw:
                s.set_content({"password": pw})
                logger.info("updated secret")
            for rel in self.model.relations["data"]:
                self._share(rel)
        self.unit.status = ops.ActiveStatus("ready")

    def _share(self, rel):
        s = self._secret()
        if s is None:
            return
        s.grant(rel)
        rel.data[self.app]["secret-id"] = s.id

    def _on_data_joined(self, event):
        if self.unit.is_leader():
            self._share(event.relation)

    def _on_data_changed(self, event):
        if event.unit is None:
            return
        ping = event.relation.data[event.unit].get("ping", "")
        event.relation.data[self.unit]["pong"] = ping
        if self.unit.is_leader():
            event.relation.data[self.app]["last-ping"] = ping
        self.unit.status = ops.ActiveStatus(f"pong {ping}")

    def _read_upstream(self, refresh=False):
        rel = self.model.get_relation("upstream")
        if rel is None or rel.app is None:
            return None
        sid = rel.data[rel.app].get("secret-id")
        if not sid:
            return None
        secret = self.model.get_secret(id=sid, label="upstream-secret")
        return secret.get_content(refresh=refresh).get("password")

    def _on_upstream_changed(self, event):
        ping = self.config["ping"]
        if ping:
            event.relation.data[self.unit]["ping"] = ping
        pw = self._read_upstream()
        if pw is not None:
            self.unit.status = ops.ActiveStatus(f"secret {pw}")
        else:
            self.unit.status = ops.WaitingStatus("no secret yet")

    def _on_upstream_broken(self, event):
        self.unit.status = ops.BlockedStatus("upstream gone")

    def _on_secret_changed(self, event):
        pw = event.secret.get_content(refresh=True).get("password")
        self.unit.status = ops.ActiveStatus(f"secret {pw}")

    def _on_secret_remove(self, event):
        logger.info("removing revision %s of %s", event.revision, event.secret.label)
        event.remove_revision()

    def _on_echo(self, event):
        event.log("echoing")
        event.set_results({"echo": {"msg": event.params["msg"]}, "unit": self.unit.name})

    def _on_fail(self, event):
        event.fail("nope")

    def _on_show_secret(self, event):
        try:
            pw = self._read_upstream()
        except ops.SecretNotFoundError:
            event.fail("secret not found")
            return
        event.set_results({"password": pw or ""})


if __name__ == "__main__":
    ops.main(ProbeCharm)
