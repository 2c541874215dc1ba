//! Conformance of each hook tool: the argv forms ops and our Rust charm use, output per format,
//! exit codes (2 argument errors, 1 run errors) and the `ERROR ...` texts ops matches on.

mod common;

use common::*;
use jujusim::Model;
use serde_json::{json, Value};

/// prov (2 units, prov/0 leader) related to req (1 unit), settled. Returns (model, rel id).
fn setup(dir: &std::path::Path) -> (Model, u32) {
    let mut m = two_apps(dir, 2, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    (m, rel)
}

#[test]
fn relation_ids_list_get() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    let r = format!("certs:{rel}");
    let rs = rel.to_string();
    let anything = format!("anything:{rel}");
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["relation-ids", "certs", "--format=json"]), None),
        (v(&["relation-ids", "certs"]), None),
        (v(&["relation-ids", "--format=yaml", "certs"]), None),
        (v(&["relation-ids", "nope", "--format=json"]), None),
        (v(&["relation-ids"]), None),
        (v(&["relation-list", "--format=json", "-r", &r]), None),
        (v(&["relation-list", "--format=json", "-r", &rs]), None),
        (
            v(&["relation-list", "-r", &anything, "--format", "json"]),
            None,
        ),
        (
            v(&["relation-list", "--format=json", "--app", "-r", &r]),
            None,
        ),
        (v(&["relation-list", "-r", "certs:99"]), None),
        (v(&["relation-list", "-r", "abc"]), None),
        (v(&["relation-list"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    assert_eq!(ok(&o[0]), format!("[\"{r}\"]\n"));
    assert_eq!(ok(&o[1]), format!("{r}\n"));
    assert_eq!(ok(&o[2]), format!("- {r}\n"));
    assert_eq!(ok(&o[3]), "[]\n");
    err(&o[4], 2, "ERROR no endpoint name specified\n");
    assert_eq!(ok(&o[5]), "[\"req/0\"]\n");
    assert_eq!(ok(&o[6]), "[\"req/0\"]\n");
    assert_eq!(ok(&o[7]), "[\"req/0\"]\n");
    assert_eq!(ok(&o[8]), "\"req\"\n");
    err(
        &o[9],
        2,
        "ERROR invalid value \"certs:99\" for flag -r: relation not found\n",
    );
    err(
        &o[10],
        2,
        "ERROR invalid value \"abc\" for flag -r: invalid relation id\n",
    );
    err(&o[11], 2, "ERROR no relation id specified\n");

    m.set_relation_data(
        rel,
        "req",
        [("app-key".to_string(), "v".to_string())].into(),
    )
    .unwrap();
    m.settle().unwrap();
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            v(&["relation-get", "--format=json", "-r", &r, "-", "req/0"]),
            None,
        ),
        (
            v(&[
                "relation-get",
                "--format=json",
                "-r",
                &r,
                "--app",
                "-",
                "req",
            ]),
            None,
        ),
        (
            v(&[
                "relation-get",
                &format!("-r={rel}"),
                "-",
                "req/0",
                "--format=json",
            ]),
            None,
        ),
        (
            v(&["relation-get", "-r", &r, "private-address", "req/0"]),
            None,
        ),
        (
            v(&[
                "relation-get",
                "-r",
                &r,
                "--format=json",
                "missing",
                "req/0",
            ]),
            None,
        ),
        (v(&["relation-get", "-r", &r, "-", "req"]), None),
        (v(&["relation-get", "-r", &r, "-", "req/x"]), None),
        (v(&["relation-get", "-r", &r, "-"]), None),
        (
            v(&[
                "relation-get",
                "-r",
                &r,
                "--app=true",
                "--format=json",
                "-",
                "req/0",
            ]),
            None,
        ),
        (
            v(&[
                "relation-get",
                "-r",
                &r,
                "--format=yaml",
                "--app",
                "app-key",
                "req",
            ]),
            None,
        ),
        (v(&["relation-get", "-r", &r, "-", "other/0"]), None),
        (
            v(&[
                "relation-get",
                "--format=json",
                "-r",
                &r,
                "--app",
                "-",
                "prov",
            ]),
            None,
        ),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    let bag = js(&o[0]);
    assert_eq!(bag["private-address"], bag["ingress-address"]);
    assert_eq!(
        bag["egress-subnets"],
        json!(format!("{}/32", bag["private-address"].as_str().unwrap()))
    );
    assert_eq!(ok(&o[1]), "{\"app-key\":\"v\"}\n");
    assert_eq!(js(&o[2]), bag);
    assert_eq!(
        ok(&o[3]),
        format!("{}\n", bag["private-address"].as_str().unwrap())
    );
    assert_eq!(ok(&o[4]), "null\n");
    err(
        &o[5],
        2,
        "ERROR expected unit name, got application name \"req\"\n",
    );
    err(&o[6], 2, "ERROR invalid unit name \"req/x\"\n");
    err(&o[7], 2, "ERROR no unit or application specified\n");
    assert_eq!(
        ok(&o[8]),
        "{\"app-key\":\"v\"}\n",
        "--app converts a unit name to its app"
    );
    assert_eq!(ok(&o[9]), "v\n");
    assert_eq!(o[10].code, 1, "{:?}", o[10]);
    assert_eq!(ok(&o[11]), "{}\n", "leader reads its own app bag");
    // A non-leader may not read its own app bag of a non-peer relation.
    let o = call(
        &mut m,
        "prov/1",
        &[
            "relation-get",
            "--format=json",
            "-r",
            &r,
            "--app",
            "-",
            "prov",
        ],
    );
    err(&o, 1, "ERROR permission denied\n");
}

#[test]
fn relation_get_defaults_inside_relation_hooks() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    m.set_relation_data(rel, "req", [("a".to_string(), "1".to_string())].into())
        .unwrap();
    m.set_relation_data(rel, "req/0", [("u".to_string(), "2".to_string())].into())
        .unwrap();
    // The app-level -changed runs first (JUJU_REMOTE_UNIT empty -> implicit --app), then the unit one.
    write_exec(
        &m.charm_dir("prov/0").join("hook.sh"),
        "#!/bin/sh\nrelation-get --format=json - >> got.txt\nrelation-list --format=json >> got.txt\nrelation-ids --format=json >> got.txt\njuju-log -- in rel\n",
    );
    m.settle().unwrap();
    std::fs::remove_file(m.charm_dir("prov/0").join("hook.sh")).unwrap();
    let got = std::fs::read_to_string(m.charm_dir("prov/0").join("got.txt")).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "{\"a\":\"1\"}");
    assert_eq!(lines[1], "[\"req/0\"]");
    assert_eq!(lines[2], format!("[\"certs:{rel}\"]"));
    assert!(lines[3].contains("\"u\":\"2\""), "{got}");
    assert!(m
        .logs("prov/0")
        .contains(&format!("INFO certs:{rel}: in rel")));
}

#[test]
fn relation_set_forms_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    let r = format!("certs:{rel}");
    std::fs::write(
        m.charm_dir("prov/0").join("data.yaml"),
        "from-file: yes\nnum: 5\n",
    )
    .unwrap();
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            v(&["relation-set", "-r", &r, "--file", "-"]),
            Some("{\"a\": \"1\", \"b\": \"x\"}"),
        ),
        (v(&["relation-set", "-r", &r, "b=", "c=3"]), None),
        (
            v(&["relation-set", "-r", &r, "--app", "--file", "-"]),
            Some("{\"app\": \"yes\"}"),
        ),
        (
            v(&["relation-set", "-r", &r, "--file", "data.yaml", "num=6"]),
            None,
        ),
        (v(&["relation-set", "-r", &r, "novalue"]), None),
        (v(&["relation-set", "a=1"]), None),
        (
            v(&["relation-get", "--format=json", "-r", &r, "-", "prov/0"]),
            None,
        ),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    for x in &o[0..4] {
        ok(x);
    }
    err(&o[4], 2, "ERROR expected \"key=value\", got \"novalue\"\n");
    err(&o[5], 2, "ERROR no relation id specified\n");
    let seen = js(&o[6]);
    assert_eq!(
        (seen["a"].as_str(), seen["c"].as_str(), seen.get("b")),
        (Some("1"), Some("3"), None)
    );
    let bag = m.relation_data(rel, "prov/0");
    assert_eq!(bag["a"], "1");
    assert_eq!(bag["c"], "3");
    assert_eq!(bag["from-file"], "yes");
    assert_eq!(bag["num"], "6", "argv overrides the file");
    assert!(!bag.contains_key("b"), "empty value deletes");
    assert!(bag.contains_key("private-address"));
    assert_eq!(m.relation_data(rel, "prov")["app"], "yes");
    // ops' RelationDataAccessError / ModelError texts.
    let o = call_stdin(
        &mut m,
        "prov/1",
        &["relation-set", "-r", &r, "--app", "--file", "-"],
        "{\"x\": \"1\"}",
    );
    err(&o, 1, "ERROR cannot write relation settings\n");
    // The tool call was recorded once (not twice for the lazy-stdin round trip).
    let last = m.hook_runs().last().unwrap();
    assert_eq!(last.tool_calls.len(), 1);
    assert_eq!(last.tool_calls[0].tool, "relation-set");
}

#[test]
fn leadership_config_state_tools() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["is-leader", "--format=json"]), None),
        (v(&["is-leader"]), None),
        (v(&["leader-set", "k=v", "gone="]), None),
        (v(&["leader-get", "--format=json"]), None),
        (v(&["leader-get", "k"]), None),
        (v(&["leader-get", "a=b"]), None),
        (v(&["config-get", "--format=json", "--all"]), None),
        (v(&["config-get", "name"]), None),
        (v(&["config-get", "--format=json", "nope"]), None),
        (v(&["config-get", "--all", "name"]), None),
        (v(&["config-get", "-a", "--format=yaml"]), None),
        (v(&["state-get", "--format=json"]), None),
        (v(&["state-set", "--file", "-"]), Some("a: '1'\nb: two\n")),
        (v(&["state-set", "c=3"]), None),
        (v(&["state-delete", "b"]), None),
        (v(&["state-get", "--format=json"]), None),
        (v(&["state-get", "a"]), None),
        (v(&["state-get", "missing", "--format=json"]), None),
        (v(&["state-get", "missing", "--strict"]), None),
        (
            v(&["state-set", &format!("big={}", "x".repeat(70_000))]),
            None,
        ),
        (v(&["unit-get", "private-address"]), None),
        (v(&["unit-get", "nonsense"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    assert_eq!(ok(&o[0]), "true\n");
    assert_eq!(ok(&o[1]), "True\n");
    ok(&o[2]);
    assert_eq!(ok(&o[3]), "{\"k\":\"v\"}\n");
    assert_eq!(ok(&o[4]), "v\n");
    err(&o[5], 2, "ERROR invalid key \"a=b\"\n");
    assert_eq!(
        js(&o[6]),
        json!({"count": 3, "enabled": true, "name": "hello", "ratio": null})
    );
    assert_eq!(ok(&o[7]), "hello\n");
    assert_eq!(ok(&o[8]), "null\n");
    err(
        &o[9],
        2,
        "ERROR cannot use argument --all together with key \"name\"\n",
    );
    assert!(ok(&o[10]).contains("ratio: null"));
    assert_eq!(ok(&o[11]), "null\n", "no state yet");
    ok(&o[12]);
    ok(&o[13]);
    ok(&o[14]);
    assert_eq!(ok(&o[15]), "{\"a\":\"1\",\"c\":\"3\"}\n");
    assert_eq!(ok(&o[16]), "1\n");
    assert_eq!(ok(&o[17]), "\"\"\n");
    err(&o[18], 1, "ERROR \"missing\" not found\n");
    assert_eq!(o[19].code, 1);
    assert!(
        o[19].stderr.contains("max allowed value"),
        "{:?}",
        o[19].stderr
    );
    assert_eq!(
        ok(&o[20]).trim(),
        m.relation_data(m.relation_ids()[1], "prov/0")["private-address"]
    );
    assert_eq!(o[21].code, 2);
    assert_eq!(
        m.unit_state("prov/0").get("c").map(String::as_str),
        Some("3")
    );

    let o = calls_in_hook(
        &mut m,
        "prov/1",
        "update-status",
        &[
            (&["is-leader", "--format=json"], None),
            (&["leader-set", "k=w"], None),
            (&["leader-get", "k"], None),
        ],
        0,
    );
    assert_eq!(ok(&o[0]), "false\n");
    err(
        &o[1],
        1,
        "ERROR cannot write leadership settings: cannot write settings: not the leader\n",
    );
    assert_eq!(ok(&o[2]), "v\n", "leader settings are shared and immediate");
    assert!(
        m.hook_runs()
            .iter()
            .any(|r| r.unit == "prov/1" && r.hook == "leader-settings-changed"),
        "leader-set tells the other units"
    );
}

#[test]
fn status_version_log_tools() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            v(&["status-set", "--application=False", "active", "--", "ok"]),
            None,
        ),
        (
            v(&[
                "status-get",
                "--include-data",
                "--format=json",
                "--application=false",
            ]),
            None,
        ),
        (v(&["status-get"]), None),
        (v(&["status-get", "--format=json"]), None),
        (
            v(&[
                "status-set",
                "--application=True",
                "blocked",
                "--",
                "need x",
            ]),
            None,
        ),
        (
            v(&[
                "status-get",
                "--include-data",
                "--format=json",
                "--application=true",
            ]),
            None,
        ),
        (v(&["status-set", "bogus"]), None),
        (v(&["status-set", "active", "a", "b"]), None),
        (v(&["status-set", "--application=maybe", "active"]), None),
        (v(&["application-version-set", "--", "1.2.3"]), None),
        (
            v(&[
                "juju-log",
                "--log-level",
                "DEBUG",
                "--",
                "ops 3.9.0 up and running.",
            ]),
            None,
        ),
        (v(&["juju-log", "-l", "WARN", "two", "words"]), None),
        (v(&["juju-log", "--log-level=NOPE", "odd"]), None),
        (v(&["juju-log", "--debug", "dbg"]), None),
        (v(&["juju-log"]), None),
        (v(&["status-set", "--frobnicate", "active"]), None),
        (v(&["status-set", "--help"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    ok(&o[0]);
    assert_eq!(
        js(&o[1]),
        json!({"message": "ok", "status": "active", "status-data": {}})
    );
    assert_eq!(ok(&o[2]), "active\n");
    assert_eq!(ok(&o[3]), "{\"status\":\"active\"}\n");
    ok(&o[4]);
    let app = js(&o[5]);
    assert_eq!(app["application-status"]["status"], "blocked");
    assert_eq!(app["application-status"]["message"], "need x");
    assert_eq!(
        app["application-status"]["units"]["prov/0"]["status"],
        "active"
    );
    assert_eq!(
        app["application-status"]["units"]["prov/1"]["status"],
        "unknown"
    );
    err(
        &o[6],
        2,
        "ERROR invalid status \"bogus\", expected one of [maintenance blocked waiting active]\n",
    );
    assert_eq!(o[7].code, 2);
    assert_eq!(o[8].code, 2);
    ok(&o[9]);
    for x in &o[10..14] {
        ok(x);
    }
    err(&o[14], 2, "ERROR no message specified\n");
    err(
        &o[15],
        2,
        "ERROR flag provided but not defined: --frobnicate\n",
    );
    assert_eq!(o[16].code, 0);
    assert!(o[16].stdout.contains("Usage"));
    assert_eq!(
        m.app_status("prov"),
        ("blocked".to_string(), "need x".to_string())
    );
    assert_eq!(m.app_version("prov"), "1.2.3");
    let logs = m.logs("prov/0");
    for want in [
        "DEBUG ops 3.9.0 up and running.",
        "WARNING two words",
        "WARNING Specified log level of \"NOPE\" is not valid",
        "INFO odd",
        "DEBUG dbg",
    ] {
        assert!(logs.contains(&want.to_string()), "{want:?} not in {logs:?}");
    }
    let o = calls_in_hook(
        &mut m,
        "prov/1",
        "update-status",
        &[
            (&["status-set", "--application", "active"], None),
            (&["status-get", "--application", "--format=json"], None),
        ],
        0,
    );
    err(&o[0], 1, "ERROR this unit is not the leader\n");
    err(
        &o[1],
        1,
        "ERROR finding application status: this unit is not the leader\n",
    );
}

#[test]
fn action_tools() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let script = r#"
action-get --format=json > get-all.json
action-get size > get-size.txt
action-get --format=json nope.deeper > get-missing.json
action-log -- working hard
action-set result.nested=v count=2 "msg=with spaces=and equals"
action-set Bad_Key=1 2> e1; echo $? >> codes
action-set stdout=x 2> e2; echo $? >> codes
action-set novalue 2> e3; echo $? >> codes
action-set a..b=1 2> e4; echo $? >> codes
action-fail -- "it broke"
"#;
    write_exec(
        &m.charm_dir("prov/0").join("hook.sh"),
        &format!("#!/bin/sh\n{script}"),
    );
    let params = json!({"name": "n", "obj": {"inner": 1}})
        .as_object()
        .unwrap()
        .clone();
    let r = m.run_action("prov/0", "do-thing", params).unwrap();
    let dir = m.charm_dir("prov/0");
    let rd = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&rd("get-all.json")).unwrap(),
        json!({"name": "n", "size": 2048, "obj": {"inner": 1}})
    );
    assert_eq!(rd("get-size.txt"), "2048\n");
    assert_eq!(rd("get-missing.json"), "null\n");
    assert_eq!(rd("codes"), "2\n2\n2\n2\n");
    assert_eq!(
        rd("e1"),
        "ERROR key \"Bad_Key\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric and hyphens\n"
    );
    assert_eq!(
        rd("e2"),
        "ERROR cannot set reserved action key \"stdout\"\n"
    );
    assert_eq!(
        rd("e3"),
        "ERROR argument \"novalue\" must be of the form key...=value\n"
    );
    assert_eq!(r.status, "failed");
    assert_eq!(r.message, "it broke");
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.logs, vec!["working hard"]);
    assert_eq!(
        r.results,
        json!({"result": {"nested": "v"}, "count": "2", "msg": "with spaces=and equals"})
    );

    // Default fail message; non-zero exit fails the action with "exit status N".
    write_exec(&dir.join("hook.sh"), "#!/bin/sh\naction-fail\n");
    let r = m
        .run_action("prov/0", "fail-me", Default::default())
        .unwrap();
    assert_eq!(
        r.message,
        "action failed without reason given, check action for errors"
    );
    write_exec(&dir.join("hook.sh"), "#!/bin/sh\necho oops >&2\nexit 4\n");
    let r = m
        .run_action("prov/0", "fail-me", Default::default())
        .unwrap();
    assert_eq!(
        (r.status.as_str(), r.message.as_str(), r.exit_code),
        ("failed", "exit status 4", 4)
    );
    assert_eq!(r.stderr, "oops\n");
    std::fs::remove_file(dir.join("hook.sh")).unwrap();

    // Param validation and unknown actions.
    let bad = json!({"size": "big"}).as_object().unwrap().clone();
    assert!(m.run_action("prov/0", "do-thing", bad).is_err());
    assert!(m.run_action("prov/0", "nope", Default::default()).is_err());

    // Outside an action.
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["action-get"], None),
            (&["action-set", "a=1"], None),
            (&["action-log", "x"], None),
            (&["action-fail"], None),
        ],
        0,
    );
    for x in &o {
        err(x, 1, "ERROR not running an action\n");
    }
}

#[test]
fn secret_tools() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    let dir = m.charm_dir("prov/0");
    std::fs::write(dir.join("pw.txt"), "from-file").unwrap();
    std::fs::write(dir.join("content.yaml"), "user: bob\n").unwrap();
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            v(&[
                "secret-add",
                "--label",
                "mylabel",
                "--owner",
                "application",
                "password#file=pw.txt",
                "other#base64=aGk=",
            ]),
            None,
        ),
        (
            v(&[
                "secret-add",
                "--owner",
                "unit",
                "--label",
                "u",
                "--file",
                "content.yaml",
            ]),
            None,
        ),
        (v(&["secret-add"]), None),
        (v(&["secret-add", "Bad=1"]), None),
        (v(&["secret-add", "--owner", "nobody", "key=1"]), None),
        (v(&["secret-add", "--rotate", "sometimes", "key=1"]), None),
        (v(&["secret-add", "--expire", "soon", "key=1"]), None),
        (v(&["secret-add", "--label", "mylabel", "key=1"]), None),
        (
            v(&[
                "secret-add",
                "--expire",
                "2030-01-02T03:04:05Z",
                "--rotate",
                "weekly",
                "--description",
                "d",
                "key=1",
            ]),
            None,
        ),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    let id = ok(&o[0]).trim().rsplit('/').next().unwrap().to_string();
    assert!(
        id.len() == 20
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b)),
        "{id}"
    );
    let uid = ok(&o[1]).trim().rsplit('/').next().unwrap().to_string();
    err(&o[2], 2, "ERROR missing secret value or filename\n");
    err(&o[3], 2, "ERROR key \"Bad\" not valid\n");
    assert_eq!(o[4].code, 2);
    err(&o[5], 2, "ERROR rotate policy \"sometimes\" not valid\n");
    err(
        &o[6],
        2,
        "ERROR expire time or duration \"soon\" not valid\n",
    );
    assert_eq!(o[7].code, 1, "label already used: {:?}", o[7]);
    let eid = ok(&o[8]).trim().rsplit('/').next().unwrap().to_string();
    let s = m.secrets().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(s.owner, "prov");
    assert_eq!(s.revisions[0]["password"], "from-file");
    assert_eq!(s.revisions[0]["other"], "hi");
    assert_eq!(
        m.secrets().into_iter().find(|s| s.id == uid).unwrap().owner,
        "prov/0"
    );

    let uuid = m.model_uuid();
    let long = format!("secret://{uuid}/{id}");
    let slash = format!("{uuid}/{id}");
    let opaque = format!("secret:{id}");
    let eid_s = eid.as_str();
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["secret-get", "--format=json", &long]), None),
        (v(&["secret-get", &slash, "password"]), None),
        (
            v(&["secret-get", &opaque, "other#base64", "--format=json"]),
            None,
        ),
        (v(&["secret-get", &id]), None),
        (
            v(&["secret-get", "--format=json", "--label", "mylabel"]),
            None,
        ),
        (v(&["secret-get", "nonsense"]), None),
        (
            v(&["secret-get", "--format=json", "aaaaaaaaaaaaaaaaaaaa"]),
            None,
        ),
        (v(&["secret-get", "--format=json"]), None),
        (v(&["secret-get", &id, "--peek", "--refresh"]), None),
        (
            v(&["secret-info-get", "--format=json", "--label", "mylabel"]),
            None,
        ),
        (v(&["secret-info-get", "--format=json", eid_s]), None),
        (v(&["secret-info-get", &id, "--label", "x"]), None),
        (v(&["secret-info-get", "--label", "nope"]), None),
        (
            v(&[
                "secret-set",
                "--owner",
                "application",
                &long,
                "password#file=pw.txt",
                "extra=e1x",
            ]),
            None,
        ),
        (v(&["secret-ids", "--format=json"]), None),
        (
            v(&["secret-grant", &long, "--relation", &rel.to_string()]),
            None,
        ),
        (
            v(&[
                "secret-grant",
                &long,
                "-r",
                &rel.to_string(),
                "--unit",
                "prov/1",
            ]),
            None,
        ),
        (v(&["secret-remove", eid_s]), None),
        (v(&["secret-get", "--format=json", "--label", "nope"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    assert_eq!(ok(&o[0]), "{\"other\":\"hi\",\"password\":\"from-file\"}\n");
    assert_eq!(
        ok(&o[1]),
        "from-file\n",
        "default yaml format prints a scalar"
    );
    assert_eq!(ok(&o[2]), "\"aGk=\"\n");
    assert_eq!(ok(&o[3]), "other: hi\npassword: from-file\n");
    assert_eq!(ok(&o[4]), "{\"other\":\"hi\",\"password\":\"from-file\"}\n");
    err(&o[5], 2, "ERROR secret URI \"nonsense\" not valid\n");
    assert_eq!(o[6].code, 1);
    assert!(
        o[6].stderr.contains("not found"),
        "ops maps this to SecretNotFoundError: {:?}",
        o[6]
    );
    err(&o[7], 2, "ERROR require either a secret URI or label\n");
    assert_eq!(o[8].code, 2);
    let info = js(&o[9]);
    assert_eq!(info[&id]["revision"], 1);
    assert_eq!(info[&id]["label"], "mylabel");
    assert_eq!(info[&id]["owner"], "application");
    let einfo = js(&o[10]);
    assert_eq!(einfo[&eid]["expiry"], "2030-01-02T03:04:05Z");
    assert_eq!(einfo[&eid]["rotation"], "weekly");
    assert_eq!(einfo[&eid]["description"], "d");
    assert!(einfo[&eid]["rotates"].is_string());
    assert_eq!(o[11].code, 2);
    assert_eq!(o[12].code, 1);
    assert!(o[12].stderr.contains("not found"));
    ok(&o[13]);
    let ids = js(&o[14]);
    assert_eq!(ids.as_array().unwrap().len(), 3);
    ok(&o[15]);
    err(
        &o[16],
        1,
        "ERROR unit \"prov/1\" is not in relation with application \"req\"\n",
    );
    ok(&o[17]);
    assert!(o[18].stderr.contains("not found"));
    let s = m.secrets().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(s.revisions.len(), 2);
    assert_eq!(s.revisions[1]["extra"], "e1x");
    assert!(m.secrets().iter().all(|s| s.id != eid), "removed");
    assert_eq!(m.secret_grants(&id).get("req"), Some(&rel));

    // Non-leader: app-owned writes refused; unit-owned fine; other unit's secret not visible.
    // (A non-leader's `secret-set` of an app-owned secret is refused only at commit: see
    // tests/secret_fidelity.rs.)
    let rel_s = rel.to_string();
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["secret-add", "key=1"]), None),
        (v(&["secret-add", "--owner", "unit", "key=1"]), None),
        (v(&["secret-grant", &long, "-r", &rel_s]), None),
        (v(&["secret-get", &long, "password"]), None),
        (v(&["secret-info-get", &long]), None),
        (v(&["secret-get", "--label", "u"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/1", "update-status", &calls, 0);
    err(&o[0], 1, "ERROR this unit is not the leader\n");
    ok(&o[1]);
    err(&o[2], 1, &format!("ERROR secret {id:?} not found\n"));
    assert_eq!(
        ok(&o[3]),
        "e1x\n".replace("e1x", "from-file"),
        "units of the owner app read content"
    );
    assert!(o[4].stderr.contains("not found"));
    assert!(o[5].stderr.contains("not found"));

    // Consumer: pinned revision, --peek, --refresh, label attach, secret-changed.
    let o = calls_in_hook(
        &mut m,
        "req/0",
        "update-status",
        &[(
            &["secret-get", "--format=json", &long, "--label", "consumed"],
            None,
        )],
        0,
    );
    assert_eq!(js(&o[0])["extra"], "e1x");
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), Some(2));
    let from = m.hook_runs().len();
    let o = call(
        &mut m,
        "prov/0",
        &["secret-set", &id, "password=v3", "extra=e3"],
    );
    ok(&o);
    assert_eq!(
        runs_since(&m, from),
        vec![
            "prov/0 update-status",
            "prov/1 secret-changed", // read it above: a peer consumer record
            "req/0 secret-changed"
        ]
    );
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            v(&["secret-get", "--label", "consumed", "--format=json"]),
            None,
        ),
        (
            v(&[
                "secret-get",
                "--label",
                "consumed",
                "--format=json",
                "--peek",
            ]),
            None,
        ),
        (
            v(&["secret-get", "--label", "consumed", "--format=json"]),
            None,
        ),
        (
            v(&[
                "secret-get",
                "--label",
                "consumed",
                "--format=json",
                "--refresh",
            ]),
            None,
        ),
        (
            v(&["secret-get", "--label", "consumed", "--format=json"]),
            None,
        ),
        (v(&["secret-info-get", &long]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "req/0", "update-status", &calls, 0);
    assert_eq!(js(&o[0])["extra"], "e1x");
    assert_eq!(js(&o[1])["extra"], "e3", "--peek reads the latest");
    assert_eq!(js(&o[2])["extra"], "e1x", "still pinned");
    assert_eq!(js(&o[3])["extra"], "e3", "--refresh re-pins");
    assert_eq!(js(&o[4])["extra"], "e3");
    assert!(o[5].stderr.contains("not found"), "{:?}", o[5]);
    // As in Juju, the first positional is always the URI, even with --label.
    let o = call(
        &mut m,
        "req/0",
        &["secret-get", "--label", "consumed", "extra"],
    );
    err(&o, 2, "ERROR secret URI \"extra\" not valid\n");

    // Revoke: the consumer loses access.
    ok(&call(
        &mut m,
        "prov/0",
        &["secret-revoke", &long, "--relation", &rel.to_string()],
    ));
    let o = call(&mut m, "req/0", &["secret-get", &long]);
    err(&o, 1, "ERROR permission denied\n");
}

#[test]
fn ports_network_goal_state() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["open-port", "8080/tcp"]), None),
        (v(&["open-port", "53/udp"]), None),
        (v(&["open-port", "8000-8999/tcp"]), None),
        (v(&["open-port", "icmp"]), None),
        (v(&["open-port", "99999"]), None),
        (v(&["opened-ports", "--format=json"]), None),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    for x in &o[0..4] {
        ok(x);
    }
    assert_eq!(o[4].code, 2);
    assert_eq!(
        ok(&o[5]),
        "[]\n",
        "ports opened in the same hook are not listed"
    );
    let calls: Vec<(Vec<String>, Option<&str>)> = vec![
        (v(&["opened-ports", "--format=json"]), None),
        (v(&["close-port", "53/udp"]), None),
        (v(&["opened-ports"]), None),
        (v(&["opened-ports", "--endpoints", "--format=json"]), None),
        (v(&["network-get", "--format=json", "certs"]), None),
        (
            v(&["network-get", "certs", "--ingress-address", "--format=json"]),
            None,
        ),
        (
            v(&[
                "network-get",
                "certs",
                "--ingress-address",
                "--bind-address",
                "--format=json",
            ]),
            None,
        ),
        (
            v(&[
                "network-get",
                "--format=json",
                "-r",
                &rel.to_string(),
                "certs",
            ]),
            None,
        ),
        (v(&["network-get", "nope"]), None),
        (v(&["goal-state", "--format=json"]), None),
        (
            v(&[
                "relation-model-get",
                "--format=json",
                "-r",
                &format!("certs:{rel}"),
            ]),
            None,
        ),
    ];
    let o = calls_in_hook_owned(&mut m, "prov/0", "update-status", &calls, 0);
    assert_eq!(
        ok(&o[0]),
        "[\"53/udp\",\"8000-8999/tcp\",\"8080/tcp\",\"icmp\"]\n"
    );
    ok(&o[1]);
    assert_eq!(ok(&o[2]), "53/udp\n8000-8999/tcp\n8080/tcp\nicmp\n");
    assert_eq!(js(&o[3])[0], "53/udp (*)");
    let net = js(&o[4]);
    let ip = m.relation_data(rel, "prov/0")["private-address"].clone();
    assert_eq!(net["ingress-addresses"], json!([ip]));
    assert_eq!(net["egress-subnets"], json!([format!("{ip}/32")]));
    assert_eq!(net["bind-addresses"][0]["addresses"][0]["value"], json!(ip));
    assert_eq!(ok(&o[5]), format!("\"{ip}\"\n"));
    assert_eq!(
        js(&o[6]),
        json!({"bind-address": ip, "ingress-address": ip})
    );
    ok(&o[7]);
    err(
        &o[8],
        1,
        "ERROR no network config found for binding \"nope\"\n",
    );
    let gs = js(&o[9]);
    assert_eq!(gs["units"]["prov/0"]["status"], "active");
    assert_eq!(gs["units"]["prov/1"]["status"], "active");
    assert_eq!(gs["relations"]["certs"]["req"]["status"], "joined");
    assert!(gs["relations"]["certs"]["req/0"].is_object());
    assert_eq!(js(&o[10]), json!({"uuid": m.model_uuid()}));
    assert_eq!(
        m.opened_ports("prov/0"),
        vec!["8000-8999/tcp", "8080/tcp", "icmp"]
    );
}

#[test]
fn client_rejects_unknown_context_and_unimplemented_tools() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let sock = m.socket_path().to_path_buf();
    let out = std::process::Command::new(m.tools_dir().join("relation-ids"))
        .env_clear()
        .env("JUJU_AGENT_SOCKET_ADDRESS", &sock)
        .env("JUJU_CONTEXT_ID", "bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ERROR bad request: "));
    let o = call(&mut m, "prov/0", &["storage-list"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("not implement"));
    // A tool per name, each a symlink to the one binary.
    for name in jujusim::TOOL_NAMES {
        let p = m.tools_dir().join(name);
        assert!(
            std::fs::symlink_metadata(&p)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{name}"
        );
    }
}

#[test]
fn tool_calls_are_counted_per_hook() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["is-leader"], None),
            (&["config-get", "--format=json"], None),
            (&["status-set", "bogus"], None),
        ],
        0,
    );
    let run = m.hook_runs().last().unwrap();
    assert_eq!(run.hook, "update-status");
    let tools: Vec<&str> = run.tool_calls.iter().map(|c| c.tool.as_str()).collect();
    assert_eq!(tools, vec!["is-leader", "config-get", "status-set"]);
    assert_eq!(run.tool_calls[1].args, vec!["--format=json"]);
}
