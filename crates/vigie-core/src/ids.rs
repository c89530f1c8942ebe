//! Newtypes for the codes that identify things, so a region code can never be
//! passed where an establishment code is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is too long (at most {max} characters)")]
    TooLong {
        kind: &'static str,
        value: String,
        max: usize,
    },
    #[error("{kind} {value:?} contains {ch:?}; allowed: letters, digits, '-', '_', '.'")]
    BadChar {
        kind: &'static str,
        value: String,
        ch: char,
    },
}

fn validate(kind: &'static str, raw: &str, max: usize) -> Result<String, IdError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.chars().count() > max {
        return Err(IdError::TooLong {
            kind,
            value: value.to_string(),
            max,
        });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadChar {
            kind,
            value: value.to_string(),
            ch,
        });
    }
    Ok(value.to_string())
}

macro_rules! code_newtype {
    ($name:ident, $kind:literal, $max:expr, $upper:expr) => {
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(raw: &str) -> Result<Self, IdError> {
                let v = validate($kind, raw, $max)?;
                Ok(Self(if $upper { v.to_uppercase() } else { v }))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

code_newtype!(EstablishmentCode, "establishment code", 32, true);
code_newtype!(RegionCode, "region code", 32, true);
code_newtype!(RuleId, "rule id", 64, false);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_uppercased() {
        assert_eq!(EstablishmentCode::new(" rx1 ").unwrap().as_str(), "RX1");
        assert_eq!(RuleId::new("os-eol").unwrap().as_str(), "os-eol");
    }

    #[test]
    fn bad_codes_are_refused() {
        assert!(matches!(
            EstablishmentCode::new(""),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            RegionCode::new("a b"),
            Err(IdError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            RuleId::new(&"x".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
    }
}
