//! When a certificate we signed is signed again. One place for both dialects' rules.
//!
//! There are two thresholds on purpose. Modern requirers renew on their own (the library sends a
//! new CSR well before expiry), so our renewal is only a safety net: we re-sign when less than a
//! tenth of the lifetime is left. Legacy reactive requirers never ask for a renewal; the provider
//! must push a fresh certificate, and a reactive charm only picks it up when its handlers next
//! run, so we re-sign earlier, when less than a third of `certificate-validity` is left.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::x509::X509Ref;

use crate::pki::verify::asn1_to_system;

/// Modern: re-signed when less than 1/10 of its lifetime is left.
pub const MODERN_RENEW_FRACTION: u32 = 10;
/// Legacy: re-signed when less than 1/3 of `certificate-validity` is left.
pub const LEGACY_RENEW_FRACTION: u64 = 3;

/// When a modern certificate is due for renewal: notAfter − lifetime / 10.
pub fn modern_renew_at(cert: &X509Ref) -> SystemTime {
    let nb = asn1_to_system(cert.not_before());
    let na = asn1_to_system(cert.not_after());
    let lifetime = na.duration_since(nb).unwrap_or(Duration::ZERO);
    na - lifetime / MODERN_RENEW_FRACTION
}

/// Whether a legacy certificate ending at `not_after` is still current at `now`: more than a
/// third of `validity_secs` left, or already as long-lived as the CA (ending at `ca_not_after`)
/// allows, since renewing would not help when the CA itself ends first (the CA rotates before).
pub fn legacy_is_current(
    not_after: SystemTime,
    ca_not_after: SystemTime,
    validity_secs: u64,
    now: SystemTime,
) -> bool {
    now < legacy_renew_at(not_after, ca_not_after, validity_secs)
}

/// When a legacy certificate stops being current ([`legacy_is_current`]): a third of
/// `validity_secs` before its end, or at its end when it is as long-lived as the CA allows.
pub fn legacy_renew_at(
    not_after: SystemTime,
    ca_not_after: SystemTime,
    validity_secs: u64,
) -> SystemTime {
    if not_after + Duration::from_secs(60) >= ca_not_after {
        return not_after;
    }
    not_after
        .checked_sub(Duration::from_secs(validity_secs / LEGACY_RENEW_FRACTION))
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_renewal_point_matches_the_current_rule() {
        let day = Duration::from_secs(86_400);
        let t0 = UNIX_EPOCH + 1_000 * day;
        let validity = 90 * 86_400;
        for (na, ca_na) in [
            (t0 + 90 * day, t0 + 365 * day),
            (t0 + 90 * day, t0 + 90 * day),
        ] {
            let at = legacy_renew_at(na, ca_na, validity);
            for now in [at - Duration::from_secs(1), at, at + Duration::from_secs(1)] {
                assert_eq!(legacy_is_current(na, ca_na, validity, now), now < at);
            }
        }
        assert_eq!(
            legacy_renew_at(t0 + 90 * day, t0 + 365 * day, validity),
            t0 + 60 * day
        );
    }
}
