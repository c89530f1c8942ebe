//! Identity keys: how observations from different sources find the same host.
//!
//! Strongest first: hardware (UUID, else serial), then hostname within the
//! establishment, then address within the establishment. Keys are scoped by
//! establishment because two GP practices may both own a "RECEPTION-PC".

use std::net::IpAddr;
use vigie_core::{EstablishmentCode, HostIdentity};

fn scope(est: Option<&EstablishmentCode>) -> &str {
    est.map(|e| e.as_str()).unwrap_or("-")
}

/// Addresses that say nothing about which machine this is.
pub fn meaningful_address(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The keys of an observation, strongest first.
pub fn keys(id: &HostIdentity, est: Option<&EstablishmentCode>) -> Vec<String> {
    let mut out = Vec::with_capacity(2 + id.addresses.len());
    if let Some(hw) = id.hardware_key() {
        out.push(format!("hw:{hw}"));
    }
    if let Some(name) = id.short_hostname() {
        out.push(format!("name:{}:{name}", scope(est)));
    }
    for a in id.addresses.iter().filter(|a| meaningful_address(a)) {
        out.push(format!("addr:{}:{a}", scope(est)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_strength_order() {
        let id = HostIdentity {
            hostname: Some("PC-1.example.org".into()),
            serial: Some("CZC1234".into()),
            addresses: vec![
                "10.0.0.5".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
                "fe80::1".parse().unwrap(),
            ],
            ..Default::default()
        };
        let est = EstablishmentCode::new("RAL").unwrap();
        assert_eq!(
            keys(&id, Some(&est)),
            vec!["hw:serial:czc1234", "name:RAL:pc-1", "addr:RAL:10.0.0.5"]
        );
        assert_eq!(keys(&HostIdentity::default(), None), Vec::<String>::new());
    }
}
