//! `Model::set_hook_clock`: with it on, hook processes read the simulated clock (`date`, Python's
//! `time.time()`/`datetime.now()`, Rust's `SystemTime::now()`), through the test charms' warm
//! Python fork server too; off (the default), the machine's real clock.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jujusim::Model;

const DAY: u64 = 86_400;
/// Seconds a hook's reading may be off: the time the hook takes on a loaded machine. The
/// clocks told apart are days apart.
const SLACK: i64 = 120;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("JUJUSIM_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("/usr/bin/python3")
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Not a test of its own: the hooks below run this test binary with this one test, a Rust
/// program reading `SystemTime::now()` as the charm does.
#[test]
#[ignore = "run by the hooks of rust_and_shell_hooks_see_the_model_clock_only_when_switched_on"]
fn print_system_time_for_a_hook() {
    println!("RUST_NOW={}", secs(SystemTime::now()));
}

/// Seconds since the epoch as `date`, Python and Rust in a hook of `unit` see them.
fn clocks_in_hook(m: &mut Model, unit: &str) -> Vec<(String, i64)> {
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "{{ echo DATE_NOW=$(date +%s)\n\
         {py} -c 'import time, datetime; print(\"PY_TIME=%d\" % time.time()); \
         print(\"PY_DATETIME=%d\" % datetime.datetime.now(datetime.timezone.utc).timestamp())'\n\
         {exe} --ignored --exact print_system_time_for_a_hook --nocapture --test-threads=1 \
         | grep -o 'RUST_NOW=[0-9]*'\n\
         }} > clocks.out 2>&1",
        py = common::quote(&python().display().to_string()),
        exe = common::quote(&exe.display().to_string()),
    );
    assert_eq!(common::run_script(m, unit, "update-status", &script), 0);
    let text = std::fs::read_to_string(m.charm_dir(unit).join("clocks.out")).unwrap();
    let got: Vec<(String, i64)> = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect();
    let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["DATE_NOW", "PY_TIME", "PY_DATETIME", "RUST_NOW"],
        "{text}"
    );
    got
}

fn assert_near(got: &[(String, i64)], want: i64, slack: i64) {
    for (k, v) in got {
        assert!(
            (*v - want).abs() <= slack,
            "{k}={v}, expected {want} ± {slack} (off by {} s)",
            v - want
        );
    }
}

fn shell_model() -> (tempfile::TempDir, Model) {
    let t = tempfile::tempdir().unwrap();
    let charm = common::shell_charm(t.path(), "clk", common::REQ_META, "", "");
    let mut m = Model::new().unwrap();
    m.deploy("clk", &charm, 1, Default::default()).unwrap();
    m.settle().unwrap();
    (t, m)
}

#[test]
fn rust_and_shell_hooks_see_the_model_clock_only_when_switched_on() {
    let (_t, mut m) = shell_model();
    assert!(!m.hook_clock(), "off by default");
    m.advance_clock(Duration::from_secs(30 * DAY));

    // Off: the real clock, whatever the model's says.
    let got = clocks_in_hook(&mut m, "clk/0");
    assert_near(&got, secs(SystemTime::now()), SLACK);

    // On: the model's clock (plus the few seconds the hook takes), for every reader.
    m.set_hook_clock(true).unwrap();
    assert!(m.hook_clock());
    let got = clocks_in_hook(&mut m, "clk/0");
    assert_near(&got, secs(m.now()), SLACK);

    // It follows the model's clock from hook to hook.
    m.advance_clock(Duration::from_secs(45 * DAY + 3600));
    let got = clocks_in_hook(&mut m, "clk/0");
    assert_near(&got, secs(m.now()), SLACK);

    // Off again: real time.
    m.set_hook_clock(false).unwrap();
    let got = clocks_in_hook(&mut m, "clk/0");
    assert_near(&got, secs(SystemTime::now()), SLACK);
}

#[test]
fn an_action_sees_the_model_clock() {
    let t = tempfile::tempdir().unwrap();
    let charm = common::shell_charm(
        t.path(),
        "clk",
        common::REQ_META,
        "",
        "now:\n  description: prints the time\n",
    );
    let mut m = Model::new().unwrap();
    m.deploy("clk", &charm, 1, Default::default()).unwrap();
    m.settle().unwrap();
    common::write_exec(
        &m.charm_dir("clk/0").join("hook.sh"),
        "#!/bin/sh\nif [ \"$JUJU_ACTION_NAME\" = now ]; then action-set now=$(date +%s); fi\n",
    );
    m.set_hook_clock(true).unwrap();
    m.advance_clock(Duration::from_secs(400 * DAY));
    let r = m.run_action("clk/0", "now", Default::default()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    let now: i64 = r.results["now"].as_str().unwrap().parse().unwrap();
    assert_near(&[("action".into(), now)], secs(m.now()), SLACK);
}

/// The test charms' Python fork server (`build/pyfork`, `scripts/build-test-charms.sh`): a hook
/// with the shim is still served warm (by a server started with the shim, which it shares with
/// the other such hooks), and one without by a server without it.
#[test]
fn python_hooks_through_the_fork_server_see_the_model_clock_and_stay_warm() {
    let pyfork = repo().join("build/pyfork");
    if !pyfork.join("pyfork").exists() {
        eprintln!(
            "skipped: no {} (scripts/build-test-charms.sh; PYFORK=0 builds none)",
            pyfork.display()
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let charm = common::shell_charm(t.path(), "pyclk", common::REQ_META, "", "");
    common::write_exec(
        &charm.join("dispatch"),
        &format!(
            "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib exec {} {} {} ./src/charm.py\n",
            common::quote(&pyfork.join("pyfork").display().to_string()),
            common::quote(&python().display().to_string()),
            common::quote(&pyfork.join("server.py").display().to_string()),
        ),
    );
    // `warm`: the server preloads ops; a plain interpreter has not imported it yet.
    std::fs::create_dir_all(charm.join("src")).unwrap();
    std::fs::write(
        charm.join("src/charm.py"),
        "import datetime, json, os, sys, time\n\
         warm = 'ops' in sys.modules\n\
         if os.environ.get('JUJU_HOOK_NAME') == 'update-status':\n\
         \x20   with open('clock.json', 'w') as f:\n\
         \x20       json.dump({'warm': warm, 'time': time.time(), 'datetime': \
         datetime.datetime.now(datetime.timezone.utc).timestamp()}, f)\n",
    )
    .unwrap();
    let mut m = Model::new().unwrap();
    m.deploy("pyclk", &charm, 1, Default::default()).unwrap();
    m.settle().unwrap();
    let read = |m: &mut Model| -> (bool, i64, i64) {
        m.update_status("pyclk");
        m.settle().unwrap();
        let path = m.charm_dir("pyclk/0").join("clock.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        (
            v["warm"].as_bool().unwrap(),
            v["time"].as_f64().unwrap() as i64,
            v["datetime"].as_f64().unwrap() as i64,
        )
    };
    m.advance_clock(Duration::from_secs(30 * DAY));
    let (warm, time, dt) = read(&mut m);
    assert!(warm, "served by the fork server");
    assert_near(
        &[("time".into(), time), ("datetime".into(), dt)],
        secs(SystemTime::now()),
        SLACK,
    );

    m.set_hook_clock(true).unwrap();
    for step in [0, 73 * DAY, 2 * DAY] {
        m.advance_clock(Duration::from_secs(step));
        let (warm, time, dt) = read(&mut m);
        assert!(warm, "served by the fork server with the shim");
        assert_near(
            &[("time".into(), time), ("datetime".into(), dt)],
            secs(m.now()),
            SLACK,
        );
    }

    m.set_hook_clock(false).unwrap();
    let (warm, time, _) = read(&mut m);
    assert!(warm);
    assert_near(&[("time".into(), time)], secs(SystemTime::now()), SLACK);
}
