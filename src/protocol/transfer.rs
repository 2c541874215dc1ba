//! The `certificate_transfer` relation data (the `send-ca-cert` endpoint), as the
//! `charmlibs-interfaces-certificate-transfer` library (1.x) reads and writes it. Pure data.
//!
//! - The requirer's leader writes `version` = `1` (JSON) in its application databag when it uses
//!   v1 of the library. Exactly the string `1` means v1; anything else (absent, `0`, junk) is v0,
//!   as the library decides.
//! - v1: the provider application databag has `certificates` = a JSON list of PEM strings (sorted,
//!   no duplicates) and `version` = `1`.
//! - v0: the library writes the same application databag **and** each provider unit's databag:
//!   `ca`, `certificate` (JSON strings), `chain` (a JSON list of PEM strings) and `version` = `0`.
//!   A v0 requirer reads one arbitrary provider unit, so every provider unit publishes it.

use serde_json::Value;

use super::Bag;

pub const VERSION_KEY: &str = "version";
pub const CERTIFICATES_KEY: &str = "certificates";
pub const V0_CA_KEY: &str = "ca";
pub const V0_CERTIFICATE_KEY: &str = "certificate";
pub const V0_CHAIN_KEY: &str = "chain";
/// Every key we write in our unit databag (v0).
pub const V0_UNIT_KEYS: [&str; 4] = [V0_CA_KEY, V0_CERTIFICATE_KEY, V0_CHAIN_KEY, VERSION_KEY];

/// Which version of the interface a requirer speaks, from its application databag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0,
    V1,
}

/// The requirer's version, and a note when its `version` value is not one the library writes
/// (we answer it in v0, as the library does).
pub fn requirer_version(remote_app_bag: &Bag) -> (Version, Option<String>) {
    match remote_app_bag.get(VERSION_KEY).map(String::as_str) {
        Some("1") => (Version::V1, None),
        None | Some("0") => (Version::V0, None),
        Some(other) => {
            let shown: String = other.chars().take(40).collect();
            (
                Version::V0,
                Some(format!(
                    "requirer application databag has version {shown:?} (expected 1, or none); answering in v0"
                )),
            )
        }
    }
}

/// The provider application databag (both versions): `certificates` sorted and de-duplicated.
pub fn app_bag(certificates: &[String]) -> Bag {
    let mut sorted: Vec<&String> = certificates.iter().collect();
    sorted.sort();
    sorted.dedup();
    Bag::from([
        (CERTIFICATES_KEY.to_string(), json_list(&sorted)),
        (VERSION_KEY.to_string(), "1".to_string()),
    ])
}

/// A provider unit databag for v0: `ca` and `certificate` are `active` (the CA that signs now),
/// `chain` is the whole bundle, sorted.
pub fn unit_bag_v0(active: &str, certificates: &[String]) -> Bag {
    let mut chain: Vec<&str> = certificates.iter().map(String::as_str).collect();
    chain.sort();
    chain.dedup();
    Bag::from([
        (V0_CA_KEY.to_string(), Value::from(active).to_string()),
        (
            V0_CERTIFICATE_KEY.to_string(),
            Value::from(active).to_string(),
        ),
        (V0_CHAIN_KEY.to_string(), json_list(&chain)),
        (VERSION_KEY.to_string(), "0".to_string()),
    ])
}

/// A JSON list of strings spelled as Python's `json.dumps` spells it (`", "` between items), so
/// our databags are byte for byte what the library would write.
fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|s| Value::from(s.as_ref()).to_string())
        .collect();
    format!("[{}]", items.join(", "))
}

/// The certificates of a provider application databag we wrote (`None` when absent or not a
/// list of strings).
pub fn certificates_of(app_bag: &Bag) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(app_bag.get(CERTIFICATES_KEY)?).ok()?;
    v.as_array()?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_exactly_the_string_1() {
        let bag = |v: &str| Bag::from([(VERSION_KEY.to_string(), v.to_string())]);
        assert_eq!(requirer_version(&Bag::new()), (Version::V0, None));
        assert_eq!(requirer_version(&bag("1")).0, Version::V1);
        assert_eq!(requirer_version(&bag("0")), (Version::V0, None));
        for junk in ["\"1\"", "2", "[1]", "1.0", ""] {
            let (v, note) = requirer_version(&bag(junk));
            assert_eq!(v, Version::V0, "{junk}");
            assert!(note.is_some(), "{junk}");
        }
        let (_, note) = requirer_version(&bag(&"x".repeat(10_000)));
        assert!(note.unwrap().len() < 200);
    }

    #[test]
    fn bags_are_json_as_the_library_dumps_them() {
        let certs = vec!["B\n".to_string(), "A\n".to_string(), "B\n".to_string()];
        let app = app_bag(&certs);
        assert_eq!(app[CERTIFICATES_KEY], r#"["A\n", "B\n"]"#);
        assert_eq!(app[VERSION_KEY], "1");
        assert_eq!(certificates_of(&app).unwrap(), vec!["A\n", "B\n"]);
        let unit = unit_bag_v0("B\n", &certs);
        assert_eq!(unit[V0_CA_KEY], r#""B\n""#);
        assert_eq!(unit[V0_CERTIFICATE_KEY], r#""B\n""#);
        assert_eq!(unit[V0_CHAIN_KEY], r#"["A\n", "B\n"]"#);
        assert_eq!(unit[VERSION_KEY], "0");
    }
}
