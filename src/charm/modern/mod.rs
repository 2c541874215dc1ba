//! The modern `tls-certificates` dialect (requirers using `charmlibs-interfaces-tls-certificates`):
//! requirers publish CSRs, the leader answers in its application databag (`certificates`,
//! `request_errors`, `capabilities`); see `docs/protocol.md`.
//!
//! Desired databag of a modern relation, per request (CSR string echoed byte for byte):
//! - unparseable CSR (not PEM, too large): never published; logged and counted as rejected;
//! - CSR that parses but is refused (bad signature, key, extension, no names): `request_errors` 999;
//! - an existing entry for the same CSR is kept when its certificate still fits: not revoked,
//!   public key = CSR key, BasicConstraints = requested `ca`, valid now, and
//!   - issued by the current CA: still allowed by policy (self-signed mode; otherwise the CSR gets
//!     a `request_errors` entry) and more than a tenth of its lifetime left (else reissued);
//!   - issued by the previous CA (after a rotation): reissued under the new CA in self-signed mode,
//!     kept while valid in manual mode;
//!   - issued by any other CA (provided by an operator in manual mode): kept while valid, except
//!     in self-signed mode in the hook where the CA had to be made again because its secret was
//!     missing or unreadable (the CA is lost, see below).
//! - otherwise, self-signed mode: policy (CA requests denied unless `allow-ca-requests`), then
//!   `certificate-limit` (certificates already kept count first), then signed (a CSR that cannot
//!   be signed gets `request_errors` 999 and a note; the other requests are still served);
//!   manual mode: left outstanding.
//!
//! Lost CA: when the CA secret is missing or unreadable in self-signed mode, a new CA is made
//! without knowing the old one (unless the unusable secret still held its certificate, which then
//! becomes the previous CA). Entries of a relation whose published `capabilities` were not
//! `manual` are then all reissued under the new CA unless the new CA issued them, **including
//! certificates an operator provided in manual mode and that were kept across a switch to
//! self-signed**: they cannot be told apart from those of the lost CA, whose key is gone and
//! which must not stay in relation data. A relation last published in manual mode (the first
//! switch to self-signed, which also finds no CA secret) keeps its operator-provided certificates.
//! This happens in the hook that makes the new CA only.
//!
//! CA rotation replaces each certificate in the same write instead of first publishing
//! `revoked: true`: the reference provider's revoke-then-reissue makes v4 requirers delete their
//! certificate secret and leaves them without a certificate until the reissue lands, which is the
//! window this charm avoids; the new entry (new certificate, `ca` and `chain`) is what requirers
//! pick up.
//!
//! Canonical order (entries sorted by CSR text) and stable serialisation make a second reconcile
//! write nothing.

pub mod keepcache;
pub mod plan;
pub mod publish;

use self::keepcache::KeepCache;
use self::plan::plan_relation;
use super::config::Mode;
use super::dialect::snapshot::RelationSnapshot;
use super::dialect::{Claim, Counts, Dialect, Plan};
use super::hook::Leader;
use super::status::plural;
use super::{CharmError, ENDPOINT};
use crate::pki::sign::issue;
use juju_hook::RelationId;

/// The modern dialect, for one reconcile: it serves every relation no other dialect recognises.
pub struct ModernDialect {
    cache: KeepCache,
}

impl ModernDialect {
    /// With the keep-verdict cache of this leader's context (none on a non-leader).
    pub fn new(leader: Option<&Leader<'_>>) -> ModernDialect {
        let cache = match leader {
            Some(l) => KeepCache::load(l.hook.ctx, &l.config, l.ca.as_ref()),
            None => KeepCache::disabled(),
        };
        ModernDialect { cache }
    }
}

impl Dialect for ModernDialect {
    fn endpoint(&self) -> &'static str {
        ENDPOINT
    }

    fn claims(&self, _snap: &RelationSnapshot) -> Claim {
        Claim::Fallback
    }

    fn plan(&mut self, leader: &Leader<'_>, snap: &RelationSnapshot) -> Result<Plan, CharmError> {
        Ok(plan_relation(leader, snap, &mut self.cache, &issue))
    }

    fn finish(
        &mut self,
        leader: &Leader<'_>,
        _live: &[RelationId],
    ) -> Result<Vec<Plan>, CharmError> {
        self.cache.save(leader.hook.now);
        Ok(Vec::new())
    }

    /// Not planned in this hook: its keep verdicts stay in the cache.
    fn leave_alone(&mut self, _id: RelationId) {
        self.cache.partial();
    }

    fn status(&self, leader: &Leader<'_>, t: &Counts, relations: usize) -> Option<String> {
        let counts = format!(
            "denied {}, rejected {} across {}",
            t.denied,
            t.rejected,
            plural(relations, "relation")
        );
        Some(match leader.config.mode {
            Mode::SelfSigned => format!("issued {}, {counts}", t.published),
            Mode::Manual if t.outstanding > 0 => format!(
                "manual mode: {} outstanding (list: juju run {}/leader get-outstanding-certificate-requests); provided {}, {counts}",
                plural(t.outstanding, "request"),
                leader.hook.app(),
                t.published
            ),
            Mode::Manual => format!(
                "manual mode: no outstanding requests; provided {}, {counts}",
                t.published
            ),
        })
    }
}
