//! Argv of the secret tools (`secret-add`, `secret-get`, `secret-set`, `secret-info-get`,
//! `secret-remove`, `secret-ids`, `secret-grant`) and the private temp files their content travels
//! in. The shapes follow `ops/hookcmds/_secret.py` in canonical/operator: content goes in
//! `key#file=<path>` files (mode 0600, in a private 0700 temp dir, deleted as soon as the tool
//! returns) and never appears on argv (see `docs/juju-hook-contract.md` §1.3 and §4).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::call::{truncate, ProcessTools};
use super::runner::CommandRunner;
use crate::error::ToolError;
use crate::tools::{Databag, RelationId, SecretInfo, SecretOptions, SecretRead, SecretRef};

fn secret_opts_args(opts: &SecretOptions) -> Vec<String> {
    let mut args = Vec::new();
    let pairs = [
        ("--label", &opts.label),
        ("--description", &opts.description),
        ("--expire", &opts.expire),
        ("--rotate", &opts.rotate),
    ];
    for (flag, value) in pairs {
        if let Some(v) = value {
            args.push(flag.to_string());
            args.push(v.clone());
        }
    }
    args
}

fn secret_ref_args(secret: &SecretRef) -> Vec<String> {
    match secret {
        SecretRef::Id(id) => vec![id.clone()],
        SecretRef::Label(label) => vec!["--label".into(), label.clone()],
        SecretRef::IdAndLabel { id, label } => vec![id.clone(), "--label".into(), label.clone()],
    }
}

pub(super) fn secret_add<R: CommandRunner>(
    t: &ProcessTools<R>,
    content: &Databag,
    opts: &SecretOptions,
) -> Result<String, ToolError> {
    let tool = "secret-add";
    let mut args = secret_opts_args(opts);
    args.push("--owner".into());
    args.push(opts.owner.as_str().into());
    let stdout = call_with_secret_files(t, tool, args, Some(content))?;
    let id = String::from_utf8_lossy(&stdout).trim().to_string();
    if id.is_empty() || id.contains(char::is_whitespace) {
        return Err(ToolError::BadOutput {
            tool: tool.into(),
            detail: format!("expected a secret id, got {:?}", truncate(&id, 200)),
        });
    }
    Ok(id)
}

pub(super) fn secret_get<R: CommandRunner>(
    t: &ProcessTools<R>,
    secret: &SecretRef,
    read: SecretRead,
) -> Result<Databag, ToolError> {
    let mut args = secret_ref_args(secret);
    match read {
        SecretRead::Pinned => {}
        SecretRead::Peek => args.push("--peek".into()),
        SecretRead::Refresh => args.push("--refresh".into()),
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let bag: Option<Databag> = t.call_json("secret-get", &refs)?;
    Ok(bag.unwrap_or_default())
}

pub(super) fn secret_set<R: CommandRunner>(
    t: &ProcessTools<R>,
    id: &str,
    content: Option<&Databag>,
    opts: &SecretOptions,
) -> Result<(), ToolError> {
    let mut args = vec![id.to_string()];
    args.extend(secret_opts_args(opts));
    call_with_secret_files(t, "secret-set", args, content).map(drop)
}

pub(super) fn secret_info_get<R: CommandRunner>(
    t: &ProcessTools<R>,
    secret: &SecretRef,
) -> Result<SecretInfo, ToolError> {
    let tool = "secret-info-get";
    // Juju takes an id or a label, not both.
    let args = match secret {
        SecretRef::Id(id) | SecretRef::IdAndLabel { id, .. } => vec![id.as_str()],
        SecretRef::Label(label) => vec!["--label", label.as_str()],
    };
    let map: Option<BTreeMap<String, SecretInfo>> = t.call_json(tool, &args)?;
    let mut map = map.unwrap_or_default();
    if map.len() != 1 {
        return Err(ToolError::BadOutput {
            tool: tool.into(),
            detail: format!("expected one secret, got {}", map.len()),
        });
    }
    let (id, mut info) = map.pop_first().expect("one entry");
    info.id = id;
    Ok(info)
}

pub(super) fn secret_remove<R: CommandRunner>(
    t: &ProcessTools<R>,
    id: &str,
    revision: Option<u64>,
) -> Result<(), ToolError> {
    let mut args = vec![id.to_string()];
    if let Some(rev) = revision {
        args.extend(["--revision".to_string(), rev.to_string()]);
    }
    t.call("secret-remove", args, None).map(drop)
}

pub(super) fn secret_ids<R: CommandRunner>(t: &ProcessTools<R>) -> Result<Vec<String>, ToolError> {
    let ids: Option<Vec<String>> = t.call_json("secret-ids", &[])?;
    Ok(ids.unwrap_or_default())
}

pub(super) fn secret_grant<R: CommandRunner>(
    t: &ProcessTools<R>,
    id: &str,
    rel: RelationId,
    unit: Option<&str>,
) -> Result<(), ToolError> {
    let mut args = vec![id.to_string(), "--relation".into(), rel.to_string()];
    if let Some(u) = unit {
        args.extend(["--unit".to_string(), u.to_string()]);
    }
    t.call("secret-grant", args, None).map(drop)
}

/// Writes each secret value to its own 0600 file in a private temp dir, runs `tool` with
/// `args + key#file=<path>...`, then deletes the files (also on error)., then deletes the files (also on error).
fn call_with_secret_files<R: CommandRunner>(
    t: &ProcessTools<R>,
    tool: &str,
    mut args: Vec<String>,
    content: Option<&Databag>,
) -> Result<Vec<u8>, ToolError> {
    let io_err = |source: std::io::Error| ToolError::Io {
        tool: tool.to_string(),
        source,
    };
    let dir = match content {
        Some(c) if !c.is_empty() => Some(private_temp_dir().map_err(io_err)?),
        _ => None,
    };
    if let (Some(dir), Some(content)) = (&dir, content) {
        for (i, (key, value)) in content.iter().enumerate() {
            let path: PathBuf = dir.path().join(format!("value-{i}"));
            write_private(&path, value.as_bytes()).map_err(io_err)?;
            args.push(format!("{key}#file={}", path.display()));
        }
    }
    let result = t.call(tool, args, None);
    if let Some(dir) = dir {
        // Best effort; the content is gone from disk either way once the dir is removed.
        let _ = dir.close();
    }
    result
}

/// A new temp dir readable only by us (0700).
fn private_temp_dir() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("juju-secret-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// Creates `path` with mode 0600 (never readable by others, even for an instant) and writes `data`.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::process::runner::{CommandRunner, Output};
    use crate::process::test_support::{bag, tools};
    use crate::process::ProcessTools;
    use crate::process::RecordedCall;
    use crate::tools::{
        HookTools, RelationId, SecretInfo, SecretOptions, SecretOwner, SecretRead, SecretRef,
    };
    use crate::ToolError;

    #[test]
    fn secret_add_passes_content_in_private_files_only() {
        let t = tools();
        t.runner()
            .respond_ok("secret-add", "secret:d0abcdefghijklmnopqr\n");
        let content = bag(&[
            ("private-key", "SECRET-KEY-MATERIAL"),
            ("certificate", "CERT"),
        ]);
        let opts = SecretOptions {
            label: Some("ca".into()),
            description: Some("the CA".into()),
            expire: Some("24h".into()),
            rotate: Some("never".into()),
            owner: SecretOwner::Application,
        };
        let id = t.secret_add(&content, &opts).unwrap();
        assert_eq!(id, "secret:d0abcdefghijklmnopqr");
        let call = t.runner().single();
        assert_eq!(
            call.args[..10],
            [
                "--label",
                "ca",
                "--description",
                "the CA",
                "--expire",
                "24h",
                "--rotate",
                "never",
                "--owner",
                "application"
            ]
        );
        assert_eq!(call.args.len(), 12);
        assert!(call.args.iter().all(|a| !a.contains("SECRET-KEY-MATERIAL")));
        assert_eq!(call.stdin, None);
        // BTreeMap order: certificate, then private-key.
        let mut seen = BTreeMap::new();
        for arg in &call.args[10..] {
            let (key, path) = arg.split_once("#file=").expect("key#file=path");
            let (content, mode) = &call.files[path];
            assert_eq!(*mode, 0o600, "{path}");
            seen.insert(key.to_string(), String::from_utf8(content.clone()).unwrap());
            // Deleted right after the call, with its private directory.
            assert!(!std::path::Path::new(path).exists());
            assert!(!std::path::Path::new(path).parent().unwrap().exists());
        }
        assert_eq!(seen, content);
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_live_in_a_private_directory() {
        // A runner that checks the directory's mode while the tool "runs".
        struct DirCheck;
        impl CommandRunner for DirCheck {
            fn run(&self, _: &str, args: &[String], _: Option<&[u8]>) -> Result<Output, ToolError> {
                use std::os::unix::fs::PermissionsExt;
                let path = args.last().unwrap().split_once("#file=").unwrap().1;
                let dir = std::path::Path::new(path).parent().unwrap();
                let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o700);
                Ok(Output::ok("secret:x"))
            }
        }
        let t = ProcessTools::with_runner(DirCheck);
        t.secret_add(&bag(&[("key", "v")]), &SecretOptions::default())
            .unwrap();
    }

    #[test]
    fn secret_add_unit_owner_and_files_removed_on_failure() {
        let t = tools();
        t.runner().respond(
            "secret-add",
            Output::fail(2, "ERROR missing secret value or filename\n"),
        );
        let err = t
            .secret_add(
                &bag(&[("token", "t")]),
                &SecretOptions {
                    owner: SecretOwner::Unit,
                    ..SecretOptions::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, ToolError::Failed { code: 2, .. }), "{err:?}");
        let call = t.runner().single();
        assert_eq!(call.args[..2], ["--owner", "unit"]);
        let path = call.args[2].strip_prefix("token#file=").unwrap();
        assert!(!std::path::Path::new(path).exists());
    }

    #[test]
    fn secret_add_without_id_output_is_bad_output() {
        let t = tools();
        assert!(matches!(
            t.secret_add(&bag(&[("key", "v")]), &SecretOptions::default()),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn secret_get_argv_forms() {
        let t = tools();
        for _ in 0..4 {
            t.runner()
                .respond_ok("secret-get", "{\"private-key\":\"k\"}");
        }
        let got = t
            .secret_get(&SecretRef::Id("secret:abc".into()), SecretRead::Pinned)
            .unwrap();
        assert_eq!(got, bag(&[("private-key", "k")]));
        t.secret_get(&SecretRef::Label("ca".into()), SecretRead::Peek)
            .unwrap();
        t.secret_get(
            &SecretRef::IdAndLabel {
                id: "secret:abc".into(),
                label: "ca".into(),
            },
            SecretRead::Refresh,
        )
        .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-get --format=json secret:abc",
                "secret-get --format=json --label ca --peek",
                "secret-get --format=json secret:abc --label ca --refresh",
            ]
        );
    }

    #[test]
    fn secret_set_content_and_metadata() {
        let t = tools();
        t.secret_set(
            "secret:abc",
            Some(&bag(&[("private-key", "NEWKEY")])),
            &SecretOptions {
                label: Some("ca".into()),
                ..SecretOptions::default()
            },
        )
        .unwrap();
        t.secret_set(
            "secret:abc",
            None,
            &SecretOptions {
                rotate: Some("daily".into()),
                ..SecretOptions::default()
            },
        )
        .unwrap();
        let calls = t.runner().calls();
        assert_eq!(calls[0].args[..3], ["secret:abc", "--label", "ca"]);
        let path = calls[0].args[3].strip_prefix("private-key#file=").unwrap();
        assert_eq!(calls[0].files[path].0, b"NEWKEY");
        assert_eq!(calls[0].files[path].1, 0o600);
        assert!(calls
            .iter()
            .all(|c| c.args.iter().all(|a| !a.contains("NEWKEY"))));
        assert_eq!(calls[1].argv(), "secret-set secret:abc --rotate daily");
        assert!(calls[1].files.is_empty());
    }

    #[test]
    fn secret_info_get_fills_id() {
        let t = tools();
        let out = "{\"d0abcdefghijklmnopqr\":{\"revision\":2,\"label\":\"ca\",\"owner\":\"application\",\"rotation\":\"never\",\"expiry\":\"2027-01-01T00:00:00Z\",\"access\":[]}}";
        t.runner().respond_ok("secret-info-get", out);
        t.runner().respond_ok("secret-info-get", out);
        let info = t.secret_info_get(&SecretRef::Label("ca".into())).unwrap();
        assert_eq!(
            info,
            SecretInfo {
                id: "d0abcdefghijklmnopqr".into(),
                revision: 2,
                label: Some("ca".into()),
                owner: Some("application".into()),
                description: None,
                rotation: Some("never".into()),
                expiry: Some("2027-01-01T00:00:00Z".into()),
            }
        );
        t.secret_info_get(&SecretRef::IdAndLabel {
            id: "secret:d0abcdefghijklmnopqr".into(),
            label: "ca".into(),
        })
        .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-info-get --format=json --label ca",
                "secret-info-get --format=json secret:d0abcdefghijklmnopqr",
            ]
        );
    }

    #[test]
    fn secret_info_get_empty_map_is_bad_output() {
        let t = tools();
        t.runner().respond_ok("secret-info-get", "{}");
        assert!(matches!(
            t.secret_info_get(&SecretRef::Label("ca".into())),
            Err(ToolError::BadOutput { .. })
        ));
    }

    #[test]
    fn secret_remove_argv() {
        let t = tools();
        t.secret_remove("secret:abc", None).unwrap();
        t.secret_remove("secret:abc", Some(3)).unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-remove secret:abc",
                "secret-remove secret:abc --revision 3"
            ]
        );
    }

    #[test]
    fn secret_ids_argv_and_null() {
        let t = tools();
        t.runner().respond_ok("secret-ids", "null\n");
        t.runner().respond_ok("secret-ids", "[\"d0a\",\"d0b\"]");
        assert!(t.secret_ids().unwrap().is_empty());
        assert_eq!(t.secret_ids().unwrap(), vec!["d0a", "d0b"]);
        assert_eq!(t.runner().calls()[0].argv(), "secret-ids --format=json");
    }

    #[test]
    fn secret_grant_argv() {
        let t = tools();
        t.secret_grant("secret:abc", RelationId(3), None).unwrap();
        t.secret_grant("secret:abc", RelationId(3), Some("req/1"))
            .unwrap();
        let calls: Vec<String> = t.runner().calls().iter().map(RecordedCall::argv).collect();
        assert_eq!(
            calls,
            vec![
                "secret-grant secret:abc --relation 3",
                "secret-grant secret:abc --relation 3 --unit req/1",
            ]
        );
    }
}
