//! The packed charm: `scripts/pack-charm.py` (what `make charm` runs) with the test build of the
//! binary, unpacked with the `zip` crate and checked file by file, plus the charm YAML files against
//! what the binary implements.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use tls_provider::charm::{actions, config, dispatch};

/// One file of the .charm.
struct Entry {
    data: Vec<u8>,
    mode: u32,
    deflated: bool,
}

fn unpack(path: &Path) -> BTreeMap<String, Entry> {
    let mut archive = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        let entry = Entry {
            mode: f.unix_mode().expect("unix mode recorded"),
            deflated: f.compression() == zip::CompressionMethod::Deflated,
            data,
        };
        assert!(
            out.insert(f.name().to_string(), entry).is_none(),
            "duplicate {}",
            f.name()
        );
    }
    out
}

/// The charm packed once per test process: (path of the .charm, its files).
fn packed() -> &'static (std::path::PathBuf, BTreeMap<String, Entry>) {
    static PACKED: OnceLock<(std::path::PathBuf, BTreeMap<String, Entry>)> = OnceLock::new();
    PACKED.get_or_init(|| {
        let path = common::process_dir("pack").join("tls-provider.charm");
        common::run_packer(&["--output", path.to_str().unwrap()]);
        let files = unpack(&path);
        (path, files)
    })
}

fn yaml(text: &[u8]) -> Value {
    serde_norway::from_slice(text).expect("valid YAML")
}

fn repo_yaml(name: &str) -> Value {
    yaml(&fs::read(common::repo_root().join(name)).unwrap())
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => panic!("unexpected arch {other}"),
    }
}

#[test]
fn charm_has_exactly_the_expected_files_and_modes() {
    let (_, files) = packed();
    let mut want: BTreeSet<String> = [
        "metadata.yaml",
        "config.yaml",
        "actions.yaml",
        "manifest.yaml",
        "dispatch",
        "README.md",
        "LICENSE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for hook in dispatch::handled_hooks() {
        want.insert(format!("hooks/{hook}"));
    }
    let got: BTreeSet<String> = files.keys().cloned().collect();
    assert_eq!(got, want);

    for (name, e) in files {
        assert!(e.deflated, "{name} is not deflated");
        assert_eq!(e.mode & 0o170000, 0o100000, "{name} is not a regular file");
        let perm = e.mode & 0o7777;
        let executable = name == "dispatch" || name.starts_with("hooks/");
        assert_eq!(
            perm,
            if executable { 0o755 } else { 0o644 },
            "{name} has mode {perm:o}"
        );
    }
    let binary = fs::read(common::provider_binary()).unwrap();
    assert!(
        files["dispatch"].data == binary,
        "dispatch is not the binary"
    );
    for name in [
        "metadata.yaml",
        "config.yaml",
        "actions.yaml",
        "README.md",
        "LICENSE",
    ] {
        let on_disk = fs::read(common::repo_root().join(name)).unwrap();
        assert!(files[name].data == on_disk, "{name} differs from the repo");
    }
}

#[test]
fn manifest_is_like_charmcraft_s() {
    let (_, files) = packed();
    let m = yaml(&files["manifest.yaml"].data);
    let bases = m["bases"].as_array().unwrap();
    let channels: Vec<&str> = bases
        .iter()
        .map(|b| b["channel"].as_str().unwrap())
        .collect();
    // Channels must be strings ("22.04"), not numbers.
    assert_eq!(channels, ["22.04", "24.04"]);
    for b in bases {
        assert_eq!(b["name"], "ubuntu");
        assert_eq!(b["architectures"], serde_json::json!([host_arch()]));
    }
    assert!(m["charmcraft-version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    let started = m["charmcraft-started-at"].as_str().unwrap();
    assert!(started.ends_with('Z') && started.contains('T'), "{started}");
    let attrs: BTreeMap<&str, &str> = m["analysis"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        attrs,
        BTreeMap::from([("framework", "unknown"), ("language", "unknown")])
    );
}

#[test]
fn metadata_declares_the_certificates_endpoint() {
    let m = repo_yaml("metadata.yaml");
    assert_eq!(m["name"], "tls-provider");
    assert!(m["summary"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(m["description"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        m["provides"]["certificates"]["interface"],
        "tls-certificates"
    );
    assert_eq!(m["assumes"], serde_json::json!(["juju >= 3.1"]));
    assert_eq!(tls_provider::charm::ENDPOINT, "certificates");
    // The one requirer endpoint: where an intermediate CA comes from.
    let requires = m["requires"].as_object().unwrap();
    assert_eq!(requires.len(), 1);
    let upstream = &m["requires"][tls_provider::charm::ca::source::UPSTREAM_ENDPOINT];
    assert_eq!(upstream["interface"], "tls-certificates");
    assert_eq!(upstream["limit"], 1);
    // The peer relation the leader tells the other units through.
    assert_eq!(
        m["peers"][tls_provider::charm::peers::PEER_ENDPOINT]["interface"],
        "tls_provider_cluster"
    );
    assert_eq!(m["peers"].as_object().unwrap().len(), 1);
}

#[test]
fn every_action_in_actions_yaml_is_implemented_and_vice_versa() {
    let a = repo_yaml("actions.yaml");
    let declared: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = actions::ACTIONS.iter().copied().collect();
    assert_eq!(declared, known);
    let name_re = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-')
    };
    for (name, spec) in a.as_object().unwrap() {
        assert!(name_re(name), "action name {name}");
        assert!(
            spec["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} has no description"
        );
        // Juju refuses unknown parameters (e.g. `relation_id=3`, the manual provider's spelling).
        assert_eq!(spec["additionalProperties"], false, "{name}");
        let params = spec.get("params").and_then(Value::as_object);
        for required in spec
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = required.as_str().unwrap();
            assert!(
                params.is_some_and(|p| p.contains_key(r)),
                "{name}: required {r} is not a param"
            );
        }
        for (pname, p) in params.into_iter().flatten() {
            assert!(name_re(pname), "{name}: param {pname}");
            assert!(
                matches!(p["type"].as_str(), Some("string" | "integer" | "boolean")),
                "{name}.{pname}"
            );
            assert!(p["description"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    // The parameters of the manual-mode how-to (README, manual mode).
    let pc = &a["provide-certificate"];
    for p in [
        "relation-id",
        "certificate-signing-request",
        "certificate",
        "ca-certificate",
        "ca-chain",
        "unit-name",
    ] {
        assert!(pc["params"].get(p).is_some(), "provide-certificate {p}");
    }
    assert_eq!(
        pc["required"],
        serde_json::json!([
            "certificate-signing-request",
            "certificate",
            "ca-certificate"
        ])
    );
    assert_eq!(
        a["get-certificate-request"]["required"],
        serde_json::json!(["relation-id"])
    );
    assert_eq!(
        a["get-outstanding-certificate-requests"]["params"]["relation-id"]["type"],
        "integer"
    );
}

#[test]
fn every_config_option_is_known_to_the_binary_and_vice_versa() {
    let c = repo_yaml("config.yaml");
    let opts = c["options"].as_object().unwrap();
    let declared: BTreeSet<&str> = opts.keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = config::OPTIONS.iter().copied().collect();
    assert_eq!(declared, known);
    for (name, spec) in opts {
        assert!(
            spec["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} has no description"
        );
        let ty = spec["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no type"));
        if let Some(default) = spec.get("default") {
            let ok = match ty {
                "string" => default.is_string(),
                "boolean" => default.is_boolean(),
                "int" => default.is_i64(),
                "float" => default.is_number(),
                other => panic!("{name}: unexpected type {other}"),
            };
            assert!(ok, "{name}: default {default} is not a {ty}");
        }
    }
    assert_eq!(opts["mode"]["default"], "self-signed");
    assert_eq!(opts["ca-key-algorithm"]["default"], "rsa-2048");
    assert_eq!(opts["certificate-limit"]["default"], 0);
}

#[test]
fn hooks_dir_matches_the_dispatch_table() {
    let dir = common::repo_root().join("hooks");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want = dispatch::handled_hooks();
    want.sort();
    assert_eq!(names, want);
    for name in names {
        let text = fs::read_to_string(dir.join(&name)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        assert!(
            text.contains(&format!("JUJU_DISPATCH_PATH=\"hooks/{name}\"\n")),
            "{name}"
        );
        assert!(text.trim_end().ends_with("/../dispatch\""), "{name}");
    }
}

#[test]
fn charmcraft_yaml_builds_the_binary_as_dispatch() {
    let c = repo_yaml("charmcraft.yaml");
    assert_eq!(c["type"], "charm");
    let platforms: BTreeSet<&str> = c["platforms"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        platforms,
        BTreeSet::from([
            "ubuntu@22.04:amd64",
            "ubuntu@22.04:arm64",
            "ubuntu@24.04:amd64",
            "ubuntu@24.04:arm64",
        ])
    );
    let part = &c["parts"]["charm"];
    assert_eq!(part["plugin"], "rust");
    assert_eq!(part["source"], ".");
    assert_eq!(part["organize"]["bin/tls-provider"], "dispatch");
    assert_eq!(c["parts"]["hooks"]["plugin"], "dump");
}

#[test]
fn unpacked_dispatch_is_executable() {
    let (path, _) = packed();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("unpacked");
    zip::ZipArchive::new(fs::File::open(path).unwrap())
        .unwrap()
        .extract(&dir)
        .unwrap();
    let out = Command::new(dir.join("dispatch"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tls-provider "));
}

/// glibc and OpenSSL of each Ubuntu base the charm may declare (scripts/pack-charm.py `BASES`).
const BASE_GLIBC: [(&str, &str); 2] = [("22.04", "2.35"), ("24.04", "2.39")];
const BASE_OPENSSL: [(&str, &str); 2] = [("22.04", "3.0.2"), ("24.04", "3.0.13")];

/// Sonames every declared base ships, besides the dynamic loader (`ld-linux-*.so.*`).
const BASE_LIBS: [&str; 4] = [
    "libc.so.6",
    "libgcc_s.so.1",
    "libssl.so.3",
    "libcrypto.so.3",
];

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|x| x.parse().unwrap()).collect()
}

fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .env("LC_ALL", "C")
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success(), "readelf {args:?} {}", file.display());
    String::from_utf8(out.stdout).unwrap()
}

/// What an ELF needs at run time, read with binutils' `readelf` (independently of the packer's
/// own reader): DT_NEEDED sonames and the symbol versions of `.gnu.version_r`.
struct ElfNeeds {
    needed: Vec<String>,
    versions: Vec<String>,
}

fn elf_needs(file: &Path) -> ElfNeeds {
    let dynamic = readelf(&["-d", "-W"], file);
    let needed = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .map(|l| {
            let start = l.find('[').unwrap() + 1;
            l[start..l.rfind(']').unwrap()].to_string()
        })
        .collect();
    let versions_text = readelf(&["-V", "-W"], file);
    let needs_part = versions_text
        .split("Version needs section")
        .nth(1)
        .unwrap_or("");
    let versions = needs_part
        .lines()
        .filter_map(|l| l.split("Name: ").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect();
    ElfNeeds { needed, versions }
}

/// The newest `<family>_x.y` among the version names.
fn newest(versions: &[String], family: &str) -> Option<String> {
    versions
        .iter()
        .filter_map(|v| v.strip_prefix(&format!("{family}_")))
        .filter(|v| v.split('.').all(|x| x.parse::<u32>().is_ok()))
        .max_by_key(|v| version_key(v))
        .map(str::to_string)
}

fn is_loader(soname: &str) -> bool {
    soname.starts_with("ld-linux-") && soname.contains(".so.")
}

/// Runs the packer without asserting success.
fn packer(binary: &Path, args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(common::repo_root().join("scripts/pack-charm.py"))
        .arg("--binary")
        .arg(binary)
        .args(args)
        .output()
        .expect("run python3 scripts/pack-charm.py")
}

#[test]
fn dispatch_runs_on_every_declared_base() {
    let (_, files) = packed();
    let tmp = tempfile::tempdir().unwrap();
    let dispatch = tmp.path().join("dispatch");
    fs::write(&dispatch, &files["dispatch"].data).unwrap();
    let needs = elf_needs(&dispatch);

    let manifest = yaml(&files["manifest.yaml"].data);
    let channels: Vec<&str> = manifest["bases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["channel"].as_str().unwrap())
        .collect();
    let glibc = newest(&needs.versions, "GLIBC").expect("dispatch needs versioned glibc symbols");
    let openssl = newest(&needs.versions, "OPENSSL");
    for channel in &channels {
        let base = |table: &[(&str, &'static str)]| {
            table
                .iter()
                .find(|(c, _)| c == channel)
                .unwrap_or_else(|| panic!("no table entry for declared base {channel}"))
                .1
        };
        let have = base(&BASE_GLIBC);
        assert!(
            version_key(&glibc) <= version_key(have),
            "dispatch needs GLIBC_{glibc}, Ubuntu {channel} ships {have}"
        );
        if let Some(openssl) = &openssl {
            let have = base(&BASE_OPENSSL);
            assert!(
                version_key(openssl) <= version_key(have),
                "dispatch needs OPENSSL_{openssl}, Ubuntu {channel} ships {have}"
            );
        }
    }
    for lib in &needs.needed {
        assert!(
            BASE_LIBS.contains(&lib.as_str()) || is_loader(lib),
            "dispatch links {lib}, which not every base ships (links {:?})",
            needs.needed
        );
    }
    assert!(needs.needed.iter().any(|l| l == "libc.so.6"));

    // The packer's own ELF reader (pure Python) finds the same, and says so when packing.
    let out = packer(
        &common::provider_binary(),
        &["--unpacked", tmp.path().join("charm").to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut needed = needs.needed.clone();
    needed.sort();
    let wants = match &openssl {
        Some(o) => format!("GLIBC_{glibc}, OPENSSL_{o}"),
        None => format!("GLIBC_{glibc}"),
    };
    let want = format!(
        "dispatch: {} ELF, needs {wants}; links {}\n",
        host_arch(),
        needed.join(", ")
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn packer_refuses_a_base_whose_glibc_is_older_than_the_binary_needs() {
    let glibc = newest(&elf_needs(&common::provider_binary()).versions, "GLIBC").unwrap();
    let dir = common::process_dir("pack-refuse-glibc");
    let charm = dir.join("tls-provider.charm");
    let out = packer(
        &common::provider_binary(),
        &[
            "--output",
            charm.to_str().unwrap(),
            "--glibc-of-base",
            "22.04=2.30",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("pack-charm: refusing to pack "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the binary needs GLIBC_{glibc} but Ubuntu 22.04 ships 2.30: build it on Ubuntu 22.04 \
             (as charmcraft pack does) or drop 22.04 from BASE_CHANNELS in scripts/pack-charm.py \
             and the platforms in charmcraft.yaml"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Ubuntu 24.04 ships"), "{stderr}");
    assert!(!charm.exists(), "a refused charm was written");
    assert!(!dir.join("tls-provider.charm.tmp").exists());
}

#[test]
fn packer_refuses_a_library_the_bases_do_not_ship() {
    // A tiny executable that links a library of our own (libtlsfake.so.1).
    let dir = common::process_dir("pack-refuse-lib");
    fs::write(dir.join("lib.c"), "int tls_fake(void) { return 0; }\n").unwrap();
    fs::write(
        dir.join("main.c"),
        "int tls_fake(void);\nint main(void) { return tls_fake(); }\n",
    )
    .unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    for args in [
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libtlsfake.so.1",
            "-Wl,-soname,libtlsfake.so.1",
            "lib.c",
        ][..],
        &["-o", "prog", "main.c", "./libtlsfake.so.1"][..],
    ] {
        let st = Command::new(&cc)
            .args(args)
            .current_dir(&dir)
            .status()
            .expect("run the C compiler");
        assert!(st.success(), "{cc} {args:?}");
    }
    assert!(elf_needs(&dir.join("prog"))
        .needed
        .contains(&"libtlsfake.so.1".to_string()));
    let out = packer(
        &dir.join("prog"),
        &["--unpacked", dir.join("charm").to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the binary links libtlsfake.so.1, which not every Ubuntu base ships (a charm can rely on "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("link it statically or drop the dependency"),
        "{stderr}"
    );
    assert!(!dir.join("charm").exists());
}
