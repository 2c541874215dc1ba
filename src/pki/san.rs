//! Subject alternative names: the kinds this provider reads from CSRs and writes into
//! certificates (DNS names, IP addresses, registeredIDs).

use std::fmt;
use std::net::IpAddr;

/// One subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum San {
    /// A `dNSName` (as written, e.g. `*.example.com`).
    Dns(String),
    /// An `iPAddress` (IPv4 or IPv6).
    Ip(IpAddr),
    /// A `registeredID`, as a dotted OID.
    Oid(String),
}

impl San {
    /// `"dns"`, `"ip"` or `"oid"`.
    pub fn kind(&self) -> &'static str {
        match self {
            San::Dns(_) => "dns",
            San::Ip(_) => "ip",
            San::Oid(_) => "oid",
        }
    }

    /// A name given as plain text (legacy requests, operator input): an IP address when it
    /// parses as one, otherwise a DNS name.
    pub fn from_name(name: &str) -> San {
        match name.parse::<IpAddr>() {
            Ok(ip) => San::Ip(ip),
            Err(_) => San::Dns(name.to_string()),
        }
    }

    /// Where the kind goes when SANs are grouped: DNS names, then IPs, then OIDs.
    fn rank(&self) -> u8 {
        match self {
            San::Dns(_) => 0,
            San::Ip(_) => 1,
            San::Oid(_) => 2,
        }
    }
}

/// The value as text: the DNS name, the IP address, or the dotted OID.
impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) | San::Oid(name) => f.write_str(name),
            San::Ip(ip) => ip.fmt(f),
        }
    }
}

/// The DNS names among `sans`, in order.
pub fn dns_names(sans: &[San]) -> impl Iterator<Item = &str> {
    sans.iter().filter_map(|s| match s {
        San::Dns(name) => Some(name.as_str()),
        _ => None,
    })
}

/// The IP addresses among `sans`, in order.
pub fn ip_addrs(sans: &[San]) -> impl Iterator<Item = IpAddr> + '_ {
    sans.iter().filter_map(|s| match s {
        San::Ip(ip) => Some(*ip),
        _ => None,
    })
}

/// The registeredIDs (dotted OIDs) among `sans`, in order.
pub fn oids(sans: &[San]) -> impl Iterator<Item = &str> {
    sans.iter().filter_map(|s| match s {
        San::Oid(oid) => Some(oid.as_str()),
        _ => None,
    })
}

/// `sans` grouped by kind (DNS names, then IPs, then OIDs), each group in its original order.
/// This is the order SANs are written in the certificates and CSRs this provider makes.
pub fn grouped(sans: &[San]) -> Vec<&San> {
    let mut out: Vec<&San> = sans.iter().collect();
    out.sort_by_key(|s| s.rank());
    out
}

/// Every SAN as text, grouped as [`grouped`] does (DNS names, then IPs, then OIDs).
pub fn san_strings(sans: &[San]) -> Vec<String> {
    grouped(sans).into_iter().map(San::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_text_and_grouping() {
        let sans = vec![
            San::from_name("10.0.0.1"),
            San::from_name("a.example.com"),
            San::Oid("1.2.3.4".into()),
            San::from_name("fe80::1"),
            San::from_name("*.b.example.com"),
        ];
        let kinds: Vec<&str> = sans.iter().map(San::kind).collect();
        assert_eq!(kinds, ["ip", "dns", "oid", "ip", "dns"]);
        assert_eq!(sans[3].to_string(), "fe80::1");
        assert_eq!(
            san_strings(&sans),
            [
                "a.example.com",
                "*.b.example.com",
                "10.0.0.1",
                "fe80::1",
                "1.2.3.4"
            ]
        );
        assert_eq!(
            dns_names(&sans).collect::<Vec<_>>(),
            ["a.example.com", "*.b.example.com"]
        );
        assert_eq!(ip_addrs(&sans).count(), 2);
        assert_eq!(oids(&sans).collect::<Vec<_>>(), ["1.2.3.4"]);
        // Not an IP address: a DNS name, kept as written.
        assert_eq!(San::from_name("10.0.0.256"), San::Dns("10.0.0.256".into()));
    }
}
