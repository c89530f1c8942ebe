//! Loose version comparison for software versions found in inventories
//! ("10.0.19045.3803", "24.08 (x64)", "22.7R2.6", "1.7.0_80").
//!
//! Versions are split into runs of digits and runs of letters; numeric runs
//! compare numerically, letter runs case-insensitively, and a numeric run sorts
//! after a letter run ("1.0" > "1.0rc1" is not modelled: vendors disagree, and
//! KEV ranges rarely depend on it).

use std::cmp::Ordering;

#[derive(Debug, Clone)]
enum Part {
    Num(u64),
    /// Lowercased letter run.
    Text(Box<str>),
}

const ZERO: Part = Part::Num(0);

/// A version split once into its parts, for comparing against many others
/// (the knowledge base's KEV bounds) without re-splitting each time.
/// Equality and order follow [`compare`]: "10.0" == "10.0.0".
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<Part>,
}

impl Version {
    pub fn parse(v: &str) -> Version {
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
        Version { parts }
    }

    /// The first component when it is a number (the release line).
    pub fn major(&self) -> Option<u64> {
        match self.parts.first() {
            Some(Part::Num(n)) => Some(*n),
            _ => None,
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
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

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compares two version strings. Missing trailing components count as zero,
/// so "10.0" == "10.0.0".
pub fn compare(a: &str, b: &str) -> Ordering {
    Version::parse(a).cmp(&Version::parse(b))
}

/// True when the string holds at least one digit: a usable version.
pub fn is_versionish(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn compares_like_people_expect() {
        assert_eq!(compare("10.0.19045.3803", "10.0.19045.400"), Greater);
        assert_eq!(compare("1.2", "1.2.0"), Equal);
        assert_eq!(compare("22.7R2.6", "22.7R2.10"), Less);
        assert_eq!(compare("1.7.0_80", "1.7.0_9"), Greater);
        assert_eq!(compare("24.08 (x64)", "24.09"), Less);
        assert_eq!(compare("", ""), Equal);
    }

    proptest::proptest! {
        #[test]
        fn compare_is_antisymmetric(a in "[0-9a-z._-]{0,16}", b in "[0-9a-z._-]{0,16}") {
            proptest::prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }
        #[test]
        fn huge_numbers_do_not_panic(a in "[0-9]{1,40}") {
            let _ = compare(&a, "1");
        }
        #[test]
        fn parsed_versions_agree_with_compare(a in "[0-9a-zA-Z._-]{0,16}", b in "[0-9a-zA-Z._-]{0,16}") {
            proptest::prop_assert_eq!(Version::parse(&a).cmp(&Version::parse(&b)), compare(&a, &b));
            proptest::prop_assert_eq!(Version::parse(&a) == Version::parse(&b), compare(&a, &b) == Ordering::Equal);
        }
    }
}
