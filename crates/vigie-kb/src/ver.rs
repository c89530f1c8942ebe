//! Pre-parsed versions.
//!
//! `vigie_core::version::compare` re-tokenises both strings on every call.
//! KEV matching compares one installed version against hundreds of bounds, so
//! bounds are tokenised once at load time. The ordering is the same as
//! `vigie_core::version::compare` (a property test checks it).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(u64),
    /// Lowercased letter run.
    Text(Box<str>),
}

const ZERO: Part = Part::Num(0);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ver {
    parts: Vec<Part>,
    raw: Box<str>,
}

impl Ver {
    pub(crate) fn parse(v: &str) -> Ver {
        let mut parts = Vec::new();
        let bytes = v.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            if bytes[i].is_ascii_digit() {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let trimmed = v[start..i].trim_start_matches('0');
                let n = if trimmed.len() > 19 {
                    u64::MAX
                } else {
                    trimmed.parse::<u64>().unwrap_or(0)
                };
                parts.push(Part::Num(n));
            } else if bytes[i].is_ascii_alphabetic() {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                parts.push(Part::Text(
                    v[start..i].to_ascii_lowercase().into_boxed_str(),
                ));
            } else {
                i += 1;
            }
        }
        Ver {
            parts,
            raw: v.into(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// First numeric component: the "major line" used to tell whether an
    /// enumerated affected version belongs to the same release line.
    pub(crate) fn major(&self) -> Option<u64> {
        match self.parts.first() {
            Some(Part::Num(n)) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn cmp_to(&self, other: &Ver) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let x = self.parts.get(i).unwrap_or(&ZERO);
            let y = other.parts.get(i).unwrap_or(&ZERO);
            let ord = match (x, y) {
                (Part::Num(p), Part::Num(q)) => p.cmp(q),
                (Part::Text(p), Part::Text(q)) => p.cmp(q),
                (Part::Num(_), Part::Text(_)) => Ordering::Greater,
                (Part::Text(_), Part::Num(_)) => Ordering::Less,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
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
