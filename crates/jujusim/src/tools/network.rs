//! Port and address tools: open-port, close-port, opened-ports, network-get, unit-get.

use serde_json::{json, Map, Value};

use super::call::{fail, no_args, usage, Call, E, R};
use super::relation::relation_arg;
use crate::flags::{self, boolean, val, Format, ToolFail};
use crate::state::{app_of, Ctx, State};

/// `open-port` and `close-port`.
pub(super) fn ports(ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["endpoints"]), val(&["format"])])?;
    let spec = match p.pos.as_slice() {
        [s] => s.clone(),
        [] => return usage("no port or range specified"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let norm = normalize_port(&spec).ok_or_else(|| {
        E::Fail(ToolFail::usage(format!(
            "expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got {spec:?}"
        )))
    })?;
    if c.command == "open-port" {
        ctx.txn.ports.insert(norm);
    } else {
        ctx.txn.ports.remove(&norm);
    }
    Ok(String::new())
}

pub(super) fn opened_ports(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"]), boolean(&["endpoints"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    no_args(&p)?;
    let ports: Vec<Value> = st
        .units
        .get(&ctx.unit)
        .map(|u| {
            u.ports
                .iter()
                .map(|x| {
                    Value::String(if p.has("endpoints") {
                        format!("{x} (*)")
                    } else {
                        x.clone()
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(flags::render(&Value::Array(ports), f))
}

/// A port spec as Juju stores it (`80/tcp`, `8000-8100/udp`, `icmp`), or `None` if invalid.
fn normalize_port(s: &str) -> Option<String> {
    if s.eq_ignore_ascii_case("icmp") {
        return Some("icmp".into());
    }
    let (range, proto) = match s.split_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    let port = |x: &str| x.parse::<u32>().ok().filter(|n| (1..=65535).contains(n));
    match range.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            (a <= b).then(|| {
                if a == b {
                    format!("{a}/{proto}")
                } else {
                    format!("{a}-{b}/{proto}")
                }
            })
        }
        None => port(range).map(|n| format!("{n}/{proto}")),
    }
}

pub(super) fn network_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[
        val(&["r", "relation"]),
        val(&["format"]),
        boolean(&["bind-address"]),
        boolean(&["ingress-address"]),
        boolean(&["egress-subnets"]),
        boolean(&["primary-address"]),
    ])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let _ = relation_arg(st, ctx, &p)?;
    let binding = match p.pos.as_slice() {
        [b] => b.clone(),
        [] => return usage("no arguments specified"),
        more => return usage(format!("unrecognized args: {:?}", &more[1..])),
    };
    let app = app_of(&ctx.unit);
    let ok = binding == "juju-info"
        || st
            .apps
            .get(app)
            .map(|a| a.meta.endpoints.iter().any(|e| e.name == binding))
            .unwrap_or(false);
    if !ok {
        return fail(format!("no network config found for binding {binding:?}"));
    }
    let ip = st.units[&ctx.unit].address.clone();
    let mut picked = Map::new();
    for (flag, v) in [
        ("bind-address", Value::String(ip.clone())),
        ("ingress-address", Value::String(ip.clone())),
        ("egress-subnets", Value::String(format!("{ip}/32"))),
        ("primary-address", Value::String(ip.clone())),
    ] {
        if p.has(flag) {
            picked.insert(flag.to_string(), v);
        }
    }
    let v = match picked.len() {
        0 => json!({
            "bind-addresses": [{
                "mac-address": "",
                "interface-name": "eth0",
                "addresses": [{"hostname": "", "value": ip, "cidr": "10.0.0.0/24"}],
                "macaddress": "",
                "interfacename": "eth0",
            }],
            "egress-subnets": [format!("{ip}/32")],
            "ingress-addresses": [ip],
        }),
        1 => picked
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        _ => Value::Object(picked),
    };
    Ok(flags::render(&v, f))
}

pub(super) fn unit_get(st: &mut State, ctx: &mut Ctx, c: &Call) -> R {
    let p = c.parse(&[val(&["format"])])?;
    let f = Format::parse(p.get("format"), Format::Smart, true)?;
    let addr = st
        .units
        .get(&ctx.unit)
        .map(|u| u.address.clone())
        .unwrap_or_default();
    match p.pos.as_slice() {
        [k] if k == "private-address" || k == "public-address" => {
            Ok(flags::render(&Value::String(addr), f))
        }
        [k] => usage(format!("unknown setting {k:?}")),
        [] => usage("no setting specified"),
        more => usage(format!("unrecognized args: {:?}", &more[1..])),
    }
}
