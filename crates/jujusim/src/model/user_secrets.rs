//! User secrets, as an operator makes them with `juju add-secret`, `grant-secret`,
//! `revoke-secret`, `update-secret` and `remove-secret` (Juju 3.3 and later): secrets owned by the
//! model, which no unit can change and which the units of a granted application read as consumers
//! (`secret-get <uri>`). The hook tools need nothing of their own for them: the model owns them,
//! so `Secret::owned_by` is false for every unit and the consumer rules apply.
//!
//! Sources (juju/juju, 3.x line; README rule 8 says which copies were read): `apiserver/facades/client/secrets/secrets.go` (`CreateSecrets`,
//! `UpdateSecrets`, `RemoveSecrets`, `GrantSecret`, `RevokeSecret`), Mongo `state/secrets.go`
//! (`CreateSecret`, `UpdateSecret`, `GrantSecretAccess`, `RevokeSecretAccess`,
//! `secretUpdateConsumersOps`, `markObsoleteRevisionOps`).

use std::collections::{BTreeMap, BTreeSet};

use super::secrets::queue_secret_remove;
use super::Model;
use crate::error::SimError;
use crate::state::{Event, Kind, Secret, State, MODEL_OWNER};
use crate::tools::{check_user_content, secret_id_of};
use crate::util;
use crate::views::Databag;

/// The id of the user secret `secret` names: a secret URI in any form (`secret:<id>`,
/// `secret://<uuid>/<id>`, bare id) or the secret's name, as `juju grant-secret <ID>|<name>`
/// takes it (`getSecretURI`: a model-owned secret with that label).
fn user_secret_id(st: &State, secret: &str) -> Result<String, SimError> {
    if let Some(s) = secret_id_of(secret).and_then(|id| st.secrets.get(&id)) {
        if !s.model_owned {
            return Err(SimError::Invalid(format!(
                "permission denied: secret {secret:?} is owned by {:?}, not a user secret",
                s.owner
            )));
        }
        return Ok(s.id.clone());
    }
    st.secrets
        .values()
        .find(|s| s.model_owned && s.label.as_deref() == Some(secret))
        .map(|s| s.id.clone())
        .ok_or_else(|| SimError::NotFound(format!("secret {secret:?}")))
}

impl Model {
    /// `juju add-secret <name> key=value...`: a new user secret, owned by the model (its
    /// [`SecretView::owner`](crate::SecretView::owner) is `"model"`, its `label` the name), with
    /// `content` as revision 1. No application can read it until [`Model::grant_user_secret`].
    /// Returns its URI, `secret:<id>`, as `juju add-secret` prints it.
    ///
    /// Errors (`SimError::Invalid`): an empty name; content that is empty, has a key that is not
    /// valid or is over the size limits of the simulated Juju version (the texts of the hook
    /// tools); a name another user secret has (`secret with name "<name>" already exists`).
    pub fn add_user_secret(&mut self, name: &str, content: Databag) -> Result<String, SimError> {
        let mut st = self.st();
        if name.is_empty() {
            return Err(SimError::Invalid("missing secret name".into()));
        }
        check_user_content(&content, st.juju_version).map_err(SimError::Invalid)?;
        if st
            .secrets
            .values()
            .any(|s| s.model_owned && s.label.as_deref() == Some(name))
        {
            return Err(SimError::Invalid(format!(
                "secret with name {name:?} already exists"
            )));
        }
        let id = util::xid();
        st.secrets.insert(
            id.clone(),
            Secret {
                id: id.clone(),
                owner: MODEL_OWNER.to_string(),
                owner_is_unit: false,
                model_owned: true,
                app_grants: BTreeSet::new(),
                label: Some(name.to_string()),
                description: None,
                revisions: BTreeMap::from([(1, content)]),
                latest: 1,
                expire: BTreeMap::new(),
                expire_notified: BTreeSet::new(),
                rotate: None,
                next_rotate: None,
                grants: BTreeMap::new(),
                consumers: BTreeMap::new(),
                obsolete: BTreeSet::new(),
                peer_readers: BTreeSet::new(),
            },
        );
        Ok(format!("secret:{id}"))
    }

    /// `juju grant-secret <secret> <app>`: the units of `app` may read the user secret
    /// (`secret` is its URI in any form or its name). Granting twice is no change.
    pub fn grant_user_secret(&mut self, secret: &str, app: &str) -> Result<(), SimError> {
        let mut st = self.st();
        let id = user_secret_id(&st, secret)?;
        if !st.apps.contains_key(app) {
            return Err(SimError::no_app(app));
        }
        let s = st.secrets.get_mut(&id).expect("secret");
        s.app_grants.insert(app.to_string());
        Ok(())
    }

    /// `juju revoke-secret <secret> <app>`: the units of `app` can no longer read the user secret
    /// (`secret-get` fails with `permission denied`) nor get `secret-changed` for it. Their
    /// consumer records stay, as Juju's `RevokeSecretAccess` deletes only the permission: a unit
    /// granted again reads the revision it tracked. Revoking an application never granted is no
    /// change.
    pub fn revoke_user_secret(&mut self, secret: &str, app: &str) -> Result<(), SimError> {
        let mut st = self.st();
        let id = user_secret_id(&st, secret)?;
        st.secrets
            .get_mut(&id)
            .expect("secret")
            .app_grants
            .remove(app);
        Ok(())
    }

    /// `juju update-secret <secret> key=value...`: `content` becomes a new revision, unless it
    /// equals the latest revision's (Juju compares checksums and makes no revision). Units of
    /// granted applications tracking an older revision get `secret-changed`; they keep reading
    /// the revision they track until `secret-get --refresh` (or see the new one with `--peek`).
    /// Revisions no consumer tracks any more are marked obsolete (no hook: the model owns it).
    /// Returns the latest revision. Content errors as for [`Model::add_user_secret`].
    pub fn update_user_secret(&mut self, secret: &str, content: Databag) -> Result<u32, SimError> {
        let mut st = self.st();
        let id = user_secret_id(&st, secret)?;
        check_user_content(&content, st.juju_version).map_err(SimError::Invalid)?;
        let s = st.secrets.get_mut(&id).expect("secret");
        if s.revisions.get(&s.latest) == Some(&content) {
            return Ok(s.latest);
        }
        s.latest += 1;
        let latest = s.latest;
        s.revisions.insert(latest, content);
        let s = s.clone();
        for (unit, c) in &s.consumers {
            if c.revision < latest && s.granted_to(unit) && st.units.contains_key(unit) {
                st.push(
                    unit,
                    Event {
                        secret: Some(id.clone()),
                        kind: Kind::Secret,
                        ..Event::plain("secret-changed")
                    },
                );
            }
        }
        queue_secret_remove(&mut st, std::slice::from_ref(&id));
        Ok(latest)
    }

    /// `juju remove-secret <secret>`: delete the user secret, all its revisions, grants and
    /// consumer records. Consumers get no hook; their next `secret-get` fails with `not found`.
    pub fn remove_user_secret(&mut self, secret: &str) -> Result<(), SimError> {
        let mut st = self.st();
        let id = user_secret_id(&st, secret)?;
        st.secrets.remove(&id);
        Ok(())
    }

    /// The applications granted access to a user secret (`secret`: URI or name), sorted; empty
    /// if there is no such user secret. (Grants of charm-owned secrets: [`Model::secret_grants`].)
    pub fn user_secret_grants(&self, secret: &str) -> Vec<String> {
        let st = self.st();
        user_secret_id(&st, secret)
            .ok()
            .and_then(|id| st.secrets.get(&id))
            .map(|s| s.app_grants.iter().cloned().collect())
            .unwrap_or_default()
    }
}
