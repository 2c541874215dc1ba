//! What the leader keeps in the peer application databag for `send-ca-cert` (nothing secret):
//!
//! - `trust-bundle`: the bundle with each certificate's reason ([`Bundle`]), so every unit can
//!   publish the same v0 unit data;
//! - `trust-relations`: per `send-ca-cert` relation, the requirer application's name and a digest
//!   of what was last published there and by which unit, so a steady-state hook reads one databag
//!   per relation (the requirer's `version`) instead of three.

use std::collections::BTreeMap;

use juju_hook::{Databag, RelationId};
use openssl::hash::{hash, MessageDigest};
use serde::{Deserialize, Serialize};

use super::bundle::Bundle;
use crate::protocol::Bag;

pub const BUNDLE_KEY: &str = "trust-bundle";
pub const RELATIONS_KEY: &str = "trust-relations";

/// What was last published on one relation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub app: String,
    pub digest: String,
    /// The unit (the leader then) that published it.
    pub by: String,
}

/// The peer application databag's `send-ca-cert` part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    pub bundle: Option<Bundle>,
    pub relations: BTreeMap<u32, Record>,
}

impl Shared {
    /// Reads it from the peer application databag; unreadable parts count as absent (the leader
    /// rewrites them).
    pub fn from_bag(bag: &Databag) -> Shared {
        Shared {
            bundle: bag
                .get(BUNDLE_KEY)
                .and_then(|v| serde_json::from_str(v).ok()),
            relations: bag
                .get(RELATIONS_KEY)
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default(),
        }
    }

    /// The keys to write so that `bag` holds `self`.
    pub fn changes(&self, bag: &Databag) -> Databag {
        let mut want = Databag::new();
        if let Some(b) = &self.bundle {
            want.insert(BUNDLE_KEY.into(), to_json(b));
        }
        want.insert(RELATIONS_KEY.into(), to_json(&self.relations));
        crate::charm::dialect::changes_over(bag, &want, |k| k == BUNDLE_KEY || k == RELATIONS_KEY)
    }

    /// The record of relation `id` when the unit `me` wrote it.
    pub fn mine(&self, id: RelationId, me: &str) -> Option<&Record> {
        self.relations.get(&id.0).filter(|r| r.by == me)
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data encodes")
}

/// A digest of what a relation's databags should hold (app and unit changes together).
pub fn digest(app: &Bag, unit: &Bag) -> String {
    let text = to_json(&(app, unit));
    hash(MessageDigest::sha256(), text.as_bytes())
        .map(|d| d.iter().take(16).map(|b| format!("{b:02x}")).collect())
        .unwrap_or_default()
}
