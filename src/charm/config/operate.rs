//! Options for operating the CA over time: `crl-distribution-url`.

use super::Reader;

/// The longest `crl-distribution-url` accepted (it goes into every certificate).
const MAX_URL_LEN: usize = 1024;

impl Reader<'_> {
    /// `crl-distribution-url`: an `http://`, `https://` or `ldap://` URL with a host, printable
    /// ASCII without spaces; `None` when unset.
    pub(super) fn crl_distribution_url(&mut self) -> Option<String> {
        let url = self.string("crl-distribution-url")?;
        match check_url(&url) {
            Ok(()) => Some(url),
            Err(why) => {
                self.issue("crl-distribution-url", why);
                None
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "is {} characters long; the limit is {MAX_URL_LEN}",
            url.len()
        ));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{url:?} must be printable ASCII without spaces (percent-encode other characters)"
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://", "ldap://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme))
        .ok_or_else(|| {
            format!("{url:?} is not an http://, https:// or ldap:// URL (e.g. http://pki.example.com/ca.crl)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::charm::config::Config;

    fn url_of(v: &str) -> Result<Option<String>, String> {
        Config::from_map(json!({ "crl-distribution-url": v }).as_object().unwrap())
            .map(|c| c.crl_distribution_url)
            .map_err(|e| e.summary())
    }

    #[test]
    fn crl_distribution_url_is_checked() {
        assert_eq!(url_of(""), Ok(None));
        assert_eq!(
            url_of(" http://pki.example.com/ca.crl "),
            Ok(Some("http://pki.example.com/ca.crl".into()))
        );
        assert_eq!(
            url_of("ldap://ldap.example.com/cn=CA?certificateRevocationList"),
            Ok(Some(
                "ldap://ldap.example.com/cn=CA?certificateRevocationList".into()
            ))
        );
        assert_eq!(
            url_of("ftp://x/ca.crl"),
            Err("crl-distribution-url: \"ftp://x/ca.crl\" is not an http://, https:// or ldap:// URL (e.g. http://pki.example.com/ca.crl)".into())
        );
        assert_eq!(
            url_of("http:///ca.crl"),
            Err("crl-distribution-url: \"http:///ca.crl\" has no host".into())
        );
        assert!(url_of("http://x/a b")
            .unwrap_err()
            .contains("without spaces"));
        assert!(url_of("http://é/x")
            .unwrap_err()
            .contains("printable ASCII"));
        let long = format!("http://x/{}", "a".repeat(1100));
        assert!(url_of(&long).unwrap_err().contains("the limit is 1024"));
    }
}
