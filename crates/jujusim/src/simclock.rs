//! The simulated-clock shim for hook processes (`Model::set_hook_clock`).
//!
//! `shim/simclock.c`, compiled by `build.rs` and embedded here, is an `LD_PRELOAD` library that
//! adds `JUJUSIM_CLOCK_OFFSET_NS` (signed ns) to every wall-clock read through libc
//! (`clock_gettime` of `CLOCK_REALTIME`/`CLOCK_REALTIME_COARSE`, `gettimeofday`, `time`,
//! `timespec_get`). It is written once per user and content to
//! `$TMPDIR/jujusim-<uid>/simclock-<hash>.so` (a directory only that user can write), so every
//! model of every process uses the same path: the Python fork server of the test charms keys
//! its warm server on `LD_PRELOAD`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::SystemTime;

/// The variable the shim reads: the offset in nanoseconds, signed decimal.
pub const OFFSET_VAR: &str = "JUJUSIM_CLOCK_OFFSET_NS";

static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libjujusim_simclock.so"));

/// The installed shim's path: checked (and written if missing or different) on every call,
/// so a temp cleaner that removed it between models does not leave hooks without it.
pub fn shim_path() -> Result<PathBuf, String> {
    install()
}

/// `model clock - real now` in nanoseconds, saturating at the `i64` range (±292 years).
pub fn offset_ns(model_now: SystemTime) -> i64 {
    let real = SystemTime::now();
    let ns = match model_now.duration_since(real) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn install() -> Result<PathBuf, String> {
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("jujusim-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("creating {}: {e}", dir.display())),
    }
    // Ours and writable by us only: nobody else can swap the library we preload.
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a directory owned and writable only by uid {uid}",
            dir.display()
        ));
    }
    let path = dir.join(format!("simclock-{:016x}.so", fnv1a(SHIM)));
    if std::fs::read(&path).is_ok_and(|b| b == SHIM) {
        return Ok(path);
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".simclock-")
        .tempfile_in(&dir)
        .map_err(|e| format!("writing the clock shim in {}: {e}", dir.display()))?;
    tmp.write_all(SHIM)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("writing the clock shim: {e}"))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("writing the clock shim: {e}"))?;
    tmp.persist(&path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}
