//! The `jujusim run` CLI on the example scenario (the README demo's engine).

#[test]
fn run_example_scenario() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jujusim"))
        .arg("run")
        .arg(&demo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "relation 0: greeter:greeting <-> listener:friend",
        "listener/1           active       idle       10.0.0.12    heard: hello from greeter/0 to jujusim",
        "greeting: hello from greeter/0 to jujusim",
        "    text: hello reader",
        "status: completed",
        "owner=greeter label=api-key revisions=1",
        "added greeter/1",
        "listener/0*          blocked      idle       10.0.0.11    no friends",
        "INFO installing",
    ] {
        assert!(stdout.contains(want), "{want:?} missing from:\n{stdout}");
    }
}

#[test]
fn bad_scenario_fails_with_a_message() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("bad.yaml");
    std::fs::write(&f, "- frobnicate: {}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jujusim"))
        .arg("run")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown step \"frobnicate\""));
}

#[test]
fn user_secret_steps() {
    let t = tempfile::tempdir().unwrap();
    let hello = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let f = t.path().join("secrets.yaml");
    std::fs::write(
        &f,
        format!(
            "- deploy: {{app: greeter, charm: {}, units: 1}}\n\
             - settle\n\
             - add-secret: {{name: ca, content: {{certificate: abc, private-key: def}}}}\n\
             - grant-secret: [ca, greeter]\n\
             - update-secret: {{secret: ca, content: {{certificate: ghi, private-key: def}}}}\n\
             - show-secrets\n\
             - revoke-secret: {{secret: ca, app: greeter}}\n\
             - remove-secret: ca\n\
             - show-secrets\n",
            hello.display()
        ),
    )
    .unwrap();
    let stdout = run_ok(&f);
    let uri = stdout
        .lines()
        .find(|l| l.starts_with("secret:") && l.len() == 27)
        .unwrap_or_else(|| panic!("no secret:<id> line in:\n{stdout}"));
    for want in [
        "ca: revision 2".to_string(),
        format!("{uri} owner=model label=ca revisions=2"),
        "  granted to: [\"greeter\"]".to_string(),
    ] {
        assert!(stdout.contains(&want), "{want:?} missing from:\n{stdout}");
    }
    assert_eq!(stdout.matches("owner=model").count(), 1, "{stdout}");
}

#[test]
fn hook_clock_step() {
    let t = tempfile::tempdir().unwrap();
    let charm = t.path().join("clk");
    std::fs::create_dir_all(&charm).unwrap();
    std::fs::write(charm.join("metadata.yaml"), "name: clk\n").unwrap();
    let dispatch = charm.join("dispatch");
    std::fs::write(
        &dispatch,
        "#!/bin/sh\nif [ \"$JUJU_HOOK_NAME\" = update-status ]; then juju-log \"year $(date -u +%Y)\"; fi\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = t.path().join("clock.yaml");
    // 100 years on: the hook's `date` says so only while `hook-clock` is on.
    std::fs::write(
        &f,
        "- deploy: {app: clk, charm: clk, units: 1}\n\
         - settle\n\
         - advance-clock: 3155760000\n\
         - update-status: clk\n\
         - settle\n\
         - hook-clock: true\n\
         - update-status: clk\n\
         - settle\n\
         - hook-clock: false\n\
         - update-status: clk\n\
         - settle\n\
         - logs: clk/0\n",
    )
    .unwrap();
    let stdout = run_ok(&f);
    let years: Vec<u32> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("INFO year ")?.trim().parse().ok())
        .collect();
    assert_eq!(years.len(), 3, "{stdout}");
    assert_eq!(years[0], years[2], "real time with the switch off");
    assert!(
        (99..=101).contains(&(years[1] - years[0])),
        "{years:?}: 100 years on with it on"
    );
}

/// `jujusim run <scenario>`, asserting success: its stdout.
fn run_ok(scenario: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jujusim"))
        .arg("run")
        .arg(scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
