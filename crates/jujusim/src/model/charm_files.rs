//! Charm files on disk: a unit's own copy of a charm directory, and unpacking `.charm` zips.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::io;
use crate::error::SimError;

/// Copy a charm dir; symlinks are recreated pointing at absolute targets.
pub(super) fn copy_dir(src: &Path, dst: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(dst).map_err(io(dst.display()))?;
    for entry in std::fs::read_dir(src).map_err(io(src.display()))? {
        let entry = entry.map_err(io(src.display()))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type().map_err(io(from.display()))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&from).map_err(io(from.display()))?;
            let abs = if target.is_absolute() {
                target
            } else {
                src.join(target)
            };
            std::os::unix::fs::symlink(&abs, &to).map_err(io(to.display()))?;
        } else if ft.is_dir() {
            if entry.file_name() == ".git" || entry.file_name() == "target" {
                continue;
            }
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(io(from.display()))?;
        }
    }
    Ok(())
}

pub(super) fn extract_zip(zip_path: &Path, dst: &Path) -> Result<(), SimError> {
    let f = std::fs::File::open(zip_path).map_err(io(zip_path.display()))?;
    let mut z = zip::ZipArchive::new(f).map_err(io(zip_path.display()))?;
    for i in 0..z.len() {
        let mut file = z.by_index(i).map_err(io(zip_path.display()))?;
        let Some(rel) = file.enclosed_name() else {
            continue;
        };
        let out = dst.join(&rel);
        if file.is_dir() {
            std::fs::create_dir_all(&out).map_err(io(out.display()))?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(io(p.display()))?;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io(zip_path.display()))?;
        std::fs::write(&out, &buf).map_err(io(out.display()))?;
        let mut mode = file.unix_mode().unwrap_or(0o644) & 0o7777;
        // Juju forces u+x on files under hooks/ named after hooks.
        if rel.starts_with("hooks") {
            mode |= 0o100;
        }
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode))
            .map_err(io(out.display()))?;
    }
    Ok(())
}
