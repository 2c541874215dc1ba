//! Parsing single option values: durations, key algorithms, DNS suffixes and
//! `application-domains` entries.

use crate::pki::KeyAlgorithm;

/// Formats seconds back in the largest exact unit (`180d`, `90m`, `2w`).
pub fn format_duration(secs: u64) -> String {
    for (unit, n) in [("w", 604_800u64), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// Parses `<positive integer>[m|h|d|w]` (bare number = days) into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let not_positive = || format!("{text:?} is not a positive duration");
    let bad = || {
        format!(
            "{text:?} is not a duration: use a whole number followed by m, h, d or w (e.g. 90d)"
        )
    };
    if t.is_empty() {
        return Err(bad());
    }
    if t.starts_with('-') {
        return Err(not_positive());
    }
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 'd'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(not_positive());
    }
    // Cap at 100 years: beyond that X.509 tooling misbehaves and it is surely a typo.
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs > 100 * 366 * 86_400 {
        return Err(format!("{text:?} is longer than 100 years"));
    }
    Ok(secs)
}

/// The config spelling of a key algorithm (kept here so config does not depend on PKI internals).
pub fn parse_key_algorithm(s: &str) -> Option<KeyAlgorithm> {
    match s.trim().to_ascii_lowercase().as_str() {
        "rsa-2048" => Some(KeyAlgorithm::Rsa2048),
        "rsa-3072" => Some(KeyAlgorithm::Rsa3072),
        "rsa-4096" => Some(KeyAlgorithm::Rsa4096),
        "ecdsa-p256" => Some(KeyAlgorithm::EcdsaP256),
        "ecdsa-p384" => Some(KeyAlgorithm::EcdsaP384),
        _ => None,
    }
}

/// Checks one DNS suffix of `allowed-domains` (already trimmed and lowercased).
pub fn check_dns_suffix(s: &str) -> Result<(), String> {
    if s.contains('*') {
        return Err(format!(
            "{s:?} contains a wildcard; list the suffix itself (e.g. example.com allows every name under it)"
        ));
    }
    if s.len() > 253 {
        return Err(format!("{s:?} is longer than 253 characters"));
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("{s:?} is not a DNS domain"));
        }
    }
    Ok(())
}

/// One `application-domains` entry: `app=domain,*.domain,...`.
pub(super) fn parse_application_entry(entry: &str) -> Result<(String, Vec<String>), String> {
    let Some((app, list)) = entry.split_once('=') else {
        return Err(format!(
            "{entry:?} is not app=domains (e.g. web=web.example.com,*.web.example.com)"
        ));
    };
    let app = app.trim();
    let valid_app = app.starts_with(|c: char| c.is_ascii_lowercase())
        && app
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_app {
        return Err(format!("{app:?} is not an application name"));
    }
    let mut domains = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lower = part.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        let (prefix, base) = match lower.strip_prefix("*.") {
            Some(base) => ("*.", base),
            None => ("", lower),
        };
        check_dns_suffix(base).map_err(|why| format!("{app}: {why}"))?;
        domains.push(format!("{prefix}{base}"));
    }
    if domains.is_empty() {
        return Err(format!("{app}: no domains given"));
    }
    Ok((app.to_string(), domains))
}
