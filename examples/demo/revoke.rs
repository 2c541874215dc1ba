//! The demo's revocation section: `revoke-certificate` takes one web unit's certificate back,
//! the requirer library drops it, `get-crl` lists its serial (checked with `openssl crl -verify`
//! and `openssl verify -crl_check`, which refuses the revoked certificate and accepts another),
//! `list-certificates state=revoked` shows it, and the unit's new CSR gets a new certificate.

use serde_json::json;

use super::{parse, pki, result_str, str_of, Demo, Res, LEADER, PROVIDER};

pub fn section(d: &mut Demo) -> Res<()> {
    d.section("6. Revocation, the CRL and the inventory");
    let victim = d
        .modern_unit("web/0")?
        .ok_or("web/0 holds no certificate")?;
    let other = d
        .modern_unit("web/1")?
        .ok_or("web/1 holds no certificate")?;
    let hex = parse(&victim.cert)?
        .serial_number()
        .to_bn()?
        .to_hex_str()?
        .to_string();
    println!("  juju run {PROVIDER}/leader revoke-certificate serial={hex} reason=keyCompromise");
    let r = d.action(
        LEADER,
        "revoke-certificate",
        json!({"serial": hex, "reason": "keyCompromise"}),
    )?;
    println!("  message: {}", result_str(&r, "message")?);
    d.settle()?;
    let raw = d.action_str("web/0", "get-certificates", json!({}), "certificates")?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(&raw)?;
    let seen = entries.iter().any(|e| e["revoked"] == json!(true));
    d.check(
        seen,
        "web/0's requirer library sees its certificate revoked (and no longer uses it)",
    );

    let r = d.action(LEADER, "get-crl", json!({}))?;
    let crl = result_str(&r, "crl")?;
    println!(
        "  juju run {PROVIDER}/leader get-crl: {} revoked, next update {}",
        str_of(&r.results["revoked-count"]),
        str_of(&r.results["next-update"])
    );
    d.pem("  CRL", &crl);
    let ca = d.write("crl-ca.pem", &victim.ca)?;
    let crl_file = d.write("crl.pem", &crl)?;
    let (ok, out) = pki::openssl_cli(
        d.dir.path(),
        &[
            "crl", "-in", &crl_file, "-CAfile", &ca, "-noout", "-verify", "-text",
        ],
    );
    d.check(
        ok && out.contains("verify OK") && out.contains(&hex),
        "openssl crl -verify: signed by the CA, lists the serial",
    );
    for (h, revoked) in [(&victim, true), (&other, false)] {
        let leaf = d.write("leaf.pem", &h.cert)?;
        let args = [
            "verify",
            "-crl_check",
            "-CAfile",
            &ca,
            "-CRLfile",
            &crl_file,
            &leaf,
        ];
        let (ok, out) = pki::openssl_cli(d.dir.path(), &args);
        let what = match revoked {
            true => format!(
                "openssl verify -crl_check refuses {}'s old certificate",
                h.who
            ),
            false => format!("openssl verify -crl_check accepts {}'s certificate", h.who),
        };
        d.check(ok != revoked && (ok || out.contains("revoked")), &what);
    }

    println!("  juju run {PROVIDER}/leader list-certificates state=revoked");
    let r = d.action(LEADER, "list-certificates", json!({"state": "revoked"}))?;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&result_str(&r, "certificates")?)?;
    for e in &listed {
        println!(
            "    {} {} serial {} ({})",
            str_of(&e["application"]),
            str_of(&e["unit"]),
            str_of(&e["serial"]),
            str_of(&e["reason"])
        );
    }
    d.check(
        listed.len() == 1 && listed[0]["serial"] == json!(hex.to_ascii_uppercase()),
        "the inventory lists the revoked certificate, with its reason",
    );
    let r = d.action(LEADER, "list-certificates", json!({}))?;
    println!(
        "  juju run {PROVIDER}/leader list-certificates: {}",
        result_str(&r, "message")?
    );

    println!("  juju run web/0 regenerate-key   (a new key, a new CSR)");
    d.action("web/0", "regenerate-key", json!({}))?;
    d.settle()?;
    let renewed = d.modern_unit("web/0")?;
    let fresh = renewed
        .as_ref()
        .map(|h| h.cert.trim() != victim.cert.trim());
    d.check(fresh == Some(true), "web/0's new CSR got a new certificate");
    Ok(())
}
