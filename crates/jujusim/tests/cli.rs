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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jujusim"))
        .arg("run")
        .arg(&f)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
