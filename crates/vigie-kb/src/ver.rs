//! Pre-parsed versions.
//!
//! `vigie_core::version::compare` re-tokenises both strings on every call.
//! KEV matching compares one installed version against hundreds of bounds, so
//! bounds are split once at load time with `vigie_core::version::Version`,
//! which orders exactly as `compare` does.

use std::cmp::Ordering;
use vigie_core::version::Version;

/// A bound or installed version, split once, with its text kept for evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ver {
    version: Version,
    raw: Box<str>,
}

impl Ver {
    pub(crate) fn parse(v: &str) -> Ver {
        Ver {
            version: Version::parse(v),
            raw: v.into(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// First numeric component: the "major line" used to tell whether an
    /// enumerated affected version belongs to the same release line.
    pub(crate) fn major(&self) -> Option<u64> {
        self.version.major()
    }

    pub(crate) fn cmp_to(&self, other: &Ver) -> Ordering {
        self.version.cmp(&other.version)
    }
}

/// Values CVE records use for "from the beginning" or "no version".
pub(crate) fn is_unbounded_marker(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "*" | "-" | "n/a" | "unspecified" | "all" | "unknown"
    )
}

/// Reduces a CNA version string such as "24.08 (x64)" or "7.11 (64-bit)" to
/// its leading version token, so it compares with inventory versions.
pub(crate) fn clean_version(v: &str) -> &str {
    let v = v.trim();
    let v = match v.find('(') {
        Some(p) => v[..p].trim(),
        None => v,
    };
    v.split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_core::version::compare;

    #[test]
    fn cleans_cna_versions() {
        assert_eq!(clean_version("24.08 (x64)"), "24.08");
        assert_eq!(clean_version(" 7.11 (64-bit)"), "7.11");
        assert_eq!(clean_version("22.7R2.6"), "22.7R2.6");
    }

    #[test]
    fn orders_like_core() {
        for (a, b) in [
            ("10.0.19045.3803", "10.0.19045.400"),
            ("1.7.0_80", "1.7.0_9"),
            ("1.0rc1", "1.0"),
            ("", "0"),
        ] {
            assert_eq!(
                Ver::parse(a).cmp_to(&Ver::parse(b)),
                compare(a, b),
                "{a} vs {b}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn same_order_as_core_compare(a in "[0-9a-zA-Z._ -]{0,20}", b in "[0-9a-zA-Z._ -]{0,20}") {
            proptest::prop_assert_eq!(Ver::parse(&a).cmp_to(&Ver::parse(&b)), compare(&a, &b));
        }

        #[test]
        fn antisymmetric(a in "[0-9a-z.]{0,12}", b in "[0-9a-z.]{0,12}") {
            let (x, y) = (Ver::parse(&a), Ver::parse(&b));
            proptest::prop_assert_eq!(x.cmp_to(&y), y.cmp_to(&x).reverse());
        }
    }
}
