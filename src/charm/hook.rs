//! What every handler takes: the running [`Hook`] (context, hook tools, "now") and, on the leader
//! with a valid configuration, the [`Leader`] view (validated config and the CA).

use std::time::SystemTime;

use juju_hook::{HookContext, HookTools, LogLevel};

use super::ca::install::{CaChange, Intake, IntakeReport};
use super::ca::{self, CaOutcome, Loaded, RotateReason, StoredCa};
use super::config::{Config, ConfigErrors, Mode};
use super::upstream;
use super::CharmError;

/// One hook or action run: what Juju gave us, and the time every decision is made at.
#[derive(Clone, Copy)]
pub struct Hook<'a> {
    pub ctx: &'a HookContext,
    pub tools: &'a dyn HookTools,
    pub now: SystemTime,
    /// Whether a relation hook may serve only its own relation (see `reconcile::scope`; off
    /// with `TLS_PROVIDER_SCOPE=0`).
    pub scoping: bool,
}

impl<'a> Hook<'a> {
    /// A hook running now.
    pub fn new(ctx: &'a HookContext, tools: &'a dyn HookTools) -> Hook<'a> {
        Hook::at(ctx, tools, SystemTime::now())
    }

    /// A hook running at `now` (tests and benchmarks move the clock).
    pub fn at(ctx: &'a HookContext, tools: &'a dyn HookTools, now: SystemTime) -> Hook<'a> {
        Hook {
            ctx,
            tools,
            now,
            scoping: true,
        }
    }

    /// The same hook with scoping on or off.
    pub fn with_scoping(self, scoping: bool) -> Hook<'a> {
        Hook { scoping, ..self }
    }

    /// Our application's name.
    pub fn app(&self) -> &'a str {
        &self.ctx.app_name
    }

    /// Our unit's name.
    pub fn unit(&self) -> &'a str {
        &self.ctx.unit_name
    }

    /// The charm's one logging path: a `juju-log` line. Logging never fails a hook: when
    /// `juju-log` itself fails, the line goes to stderr (which Juju also keeps).
    pub fn log(&self, level: LogLevel, message: &str) {
        if self.tools.juju_log(level, message).is_err() {
            eprintln!("{message}");
        }
    }

    /// The configuration, validated (one `config-get`).
    pub fn config(&self) -> Result<Result<Config, ConfigErrors>, CharmError> {
        Ok(Config::from_map(&self.tools.config_get()?))
    }
}

/// The leader with a valid configuration: what reconcile plans and the actions that publish
/// work with.
pub struct Leader<'a> {
    pub hook: Hook<'a>,
    pub config: Config,
    /// The CA; `None` in manual mode when no CA was ever made (or its secret is unusable).
    pub ca: Option<StoredCa>,
    /// Set when a new CA started signing in this hook.
    pub ca_rotated: Option<RotateReason>,
    /// Set when a CA rotation was announced in this hook.
    pub ca_announced: Option<RotateReason>,
    /// Where the request for an intermediate on `upstream-ca` stands (when related).
    pub intake: Option<IntakeReport>,
}

/// Why the leader cannot plan: the status to show instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    Config(ConfigErrors),
    /// The CA could not be made (e.g. a subject the encoder refuses).
    CaFailed(String),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Config(e) => write!(f, "{e}"),
            NotReady::CaFailed(why) => write!(f, "cannot create the CA: {why}"),
        }
    }
}

impl<'a> Leader<'a> {
    /// Config, then the CA as a reconcile wants it: in self-signed mode made or rotated when due
    /// (`force` asks for a rotation), in manual mode only loaded.
    pub fn prepare(
        hook: Hook<'a>,
        change: Option<CaChange>,
    ) -> Result<Result<Leader<'a>, NotReady>, CharmError> {
        let config = match hook.config()? {
            Ok(c) => c,
            Err(e) => return Ok(Err(NotReady::Config(e))),
        };
        let outcome = match config.mode {
            Mode::SelfSigned => {
                let expired = ca::is_ca_secret_expired_hook(hook.ctx)
                    .then(|| hook.ctx.secret.as_ref().and_then(|s| s.revision))
                    .flatten();
                let view = upstream::read(&hook)?;
                let intake = view.as_ref().map(|v| v as &dyn Intake);
                match ca::ensure(hook.tools, &config, hook.now, change, expired, intake) {
                    Ok(o) => {
                        if let Some(v) = &view {
                            upstream::publish(&hook, v, upstream::wanted_csr(&o.stored, &v.app))?;
                            for n in &v.notes {
                                hook.log(LogLevel::Warning, n);
                            }
                        }
                        Some(o)
                    }
                    Err(CharmError::Pki(e)) => return Ok(Err(NotReady::CaFailed(e.to_string()))),
                    Err(e) => return Err(e),
                }
            }
            Mode::Manual => loaded(ca::load(hook.tools)?),
        };
        let (ca, ca_rotated, ca_announced, intake) = match outcome {
            Some(CaOutcome {
                stored,
                rotated,
                announced,
                intake,
            }) => (Some(stored), rotated, announced, intake),
            None => (None, None, None, None),
        };
        if let (Some(stored), Some(reason)) = (&ca, &ca_rotated) {
            hook.log(
                LogLevel::Info,
                &format!("new CA ({reason}): {}", ca::describe(stored, &config)),
            );
        }
        if let (Some(stored), Some(reason)) = (&ca, &ca_announced) {
            let phase = ca::Phase::of(stored, &config);
            hook.log(
                LogLevel::Info,
                &format!(
                    "CA rotation announced ({reason}): {}",
                    phase.describe().unwrap_or_default()
                ),
            );
        }
        Ok(Ok(Leader {
            hook,
            config,
            ca,
            ca_rotated,
            ca_announced,
            intake,
        }))
    }

    /// The CA that signs: the built-in CA in self-signed mode, `None` in manual mode.
    pub fn signer(&self) -> Option<&StoredCa> {
        match self.config.mode {
            Mode::SelfSigned => self.ca.as_ref(),
            Mode::Manual => None,
        }
    }

    /// The CA was just made because its secret was missing or unreadable: certificates it did not
    /// issue cannot be told apart from those of the lost CA (see the modern dialect).
    pub fn ca_lost(&self) -> bool {
        matches!(
            self.ca_rotated,
            Some(RotateReason::Missing | RotateReason::Unreadable(_))
        )
    }
}

fn loaded(l: Loaded) -> Option<CaOutcome> {
    match l {
        Loaded::Ok(stored) => Some(CaOutcome {
            stored,
            rotated: None,
            announced: None,
            intake: None,
        }),
        Loaded::Missing | Loaded::Unreadable(_) => None,
    }
}
