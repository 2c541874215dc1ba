//! Deploying applications (charmed or puppet) and changing their config.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::charm_files::extract_zip;
use super::Model;
use crate::error::SimError;
use crate::meta::{self, Role};
use crate::state::{App, Event, Relation};
use crate::views::Databag;

impl Model {
    /// Deploy `app` from a charm directory or `.charm` zip; queues the deploy hooks. The first unit
    /// is the leader.
    pub fn deploy(
        &mut self,
        app: &str,
        charm: &Path,
        units: usize,
        config: Map<String, Value>,
    ) -> Result<(), SimError> {
        self.check_new_app(app)?;
        let src = if charm.is_file() {
            let dst = self.root.path().join("charms").join(app);
            extract_zip(charm, &dst)?;
            dst
        } else if charm.is_dir() {
            charm.to_path_buf()
        } else {
            return Err(SimError::Charm(format!(
                "charm {} does not exist",
                charm.display()
            )));
        };
        let meta_text = std::fs::read_to_string(src.join("metadata.yaml"))
            .map_err(|e| SimError::Charm(format!("charm {}: metadata.yaml: {e}", src.display())))?;
        let metadata = meta::parse_metadata(&meta_text)?;
        let config_defs = meta::parse_config(&meta::read_optional(&src, "config.yaml")?)?;
        let actions = meta::parse_actions(&meta::read_optional(&src, "actions.yaml")?)?;
        let mut a = App {
            charm_name: metadata.name.clone(),
            meta: metadata,
            config_defs,
            config: Map::new(),
            actions,
            leader: None,
            status: None,
            version: String::new(),
            next_unit: 0,
            puppet: false,
            charm_src: Some(src),
            leader_settings: Databag::new(),
            leader_settings_version: 1,
        };
        a.config = validate_config(&a, config)?;
        self.add_app(app, a, units)
    }

    /// An application with no charm code: it never runs hooks; write its bags with
    /// `set_relation_data`.
    pub fn deploy_puppet(
        &mut self,
        app: &str,
        metadata_yaml: &str,
        units: usize,
    ) -> Result<(), SimError> {
        self.check_new_app(app)?;
        let metadata = meta::parse_metadata(metadata_yaml)?;
        let a = App {
            charm_name: metadata.name.clone(),
            meta: metadata,
            config_defs: BTreeMap::new(),
            config: Map::new(),
            actions: BTreeMap::new(),
            leader: None,
            status: Some(("active".into(), String::new())),
            version: String::new(),
            next_unit: 0,
            puppet: true,
            charm_src: None,
            leader_settings: Databag::new(),
            leader_settings_version: 1,
        };
        self.add_app(app, a, units)
    }

    fn check_new_app(&self, app: &str) -> Result<(), SimError> {
        if app.is_empty() || app.contains('/') || app.contains(':') {
            return Err(SimError::Invalid(format!(
                "invalid application name {app:?}"
            )));
        }
        if self.st().apps.contains_key(app) {
            return Err(SimError::Invalid(format!(
                "application {app:?} already exists"
            )));
        }
        Ok(())
    }

    fn add_app(&mut self, app: &str, a: App, units: usize) -> Result<(), SimError> {
        let peers: Vec<String> = a
            .meta
            .endpoints
            .iter()
            .filter(|e| e.role == Role::Peers)
            .map(|e| e.name.clone())
            .collect();
        let interfaces: BTreeMap<String, String> = a
            .meta
            .endpoints
            .iter()
            .map(|e| (e.name.clone(), e.interface.clone()))
            .collect();
        {
            let mut st = self.st();
            st.apps.insert(app.to_string(), a);
            for p in peers {
                let id = st.new_relation_id();
                st.relations.insert(
                    id,
                    Relation {
                        id,
                        ends: [(app.to_string(), p.clone()), (app.to_string(), p.clone())],
                        interface: interfaces.get(&p).cloned().unwrap_or_default(),
                        peer: true,
                        bags: BTreeMap::from([(app.to_string(), Databag::new())]),
                        dying: false,
                    },
                );
            }
        }
        for _ in 0..units {
            self.add_unit(app)?;
        }
        Ok(())
    }

    /// Merge config (`null` resets to the default); queues `config-changed` on every unit.
    pub fn set_config(&mut self, app: &str, config: Map<String, Value>) -> Result<(), SimError> {
        let mut st = self.st();
        let a = st.apps.get(app).ok_or_else(|| SimError::no_app(app))?;
        let mut merged = a.config.clone();
        let checked = validate_config(a, config.clone())?;
        for (k, v) in config {
            if v.is_null() {
                merged.remove(&k);
            } else if let Some(c) = checked.get(&k) {
                merged.insert(k, c.clone());
            }
        }
        let changed = merged != a.config;
        st.apps.get_mut(app).expect("app").config = merged;
        if changed {
            for u in st.live_app_units(app) {
                st.push(&u, Event::plain("config-changed"));
            }
        }
        Ok(())
    }
}

fn validate_config(a: &App, config: Map<String, Value>) -> Result<Map<String, Value>, SimError> {
    let mut out = Map::new();
    for (k, v) in config {
        let def = a.config_defs.get(&k).ok_or_else(|| {
            SimError::Invalid(format!(
                "unknown config option {k:?} (known: {})",
                a.config_defs.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if v.is_null() {
            continue;
        }
        let c = meta::coerce_config(&def.kind, &v)
            .map_err(|e| SimError::Invalid(format!("config option {k:?}: {e}")))?;
        out.insert(k, c);
    }
    Ok(out)
}
