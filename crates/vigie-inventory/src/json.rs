//! A scalar JSON value that borrows from the input where it can.
//!
//! Agents disagree on types (osquery prints numbers as strings unless
//! `--logger_numerics`; GLPI agents print some ids as numbers), so every
//! field we read accepts a string, a number, a boolean or null. Nested
//! objects and arrays in a field we expected to be scalar are skipped rather
//! than failing the whole line.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
}

impl<'a> Val<'a> {
    /// The value as text; numbers are formatted. Null and empty give `None`.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) => {
                let t = s.trim();
                (!t.is_empty()).then_some(Cow::Borrowed(t))
            }
            Val::Int(n) => Some(Cow::Owned(n.to_string())),
            Val::UInt(n) => Some(Cow::Owned(n.to_string())),
            Val::Float(f) => Some(Cow::Owned(f.to_string())),
            Val::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Val::Null => None,
        }
    }

    pub(crate) fn string(&self) -> Option<String> {
        self.text().map(Cow::into_owned)
    }

    /// The value as whole seconds, saturating at the ends of `i64` (a
    /// clock far in the future must not read as "no time").
    pub(crate) fn as_seconds(&self) -> Option<i64> {
        match self {
            Val::Str(s) => crate::util::parse_seconds(s).or_else(|| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|f| Val::Float(f).as_seconds())
            }),
            Val::Int(n) => Some(*n),
            Val::UInt(n) => Some(i64::try_from(*n).unwrap_or(i64::MAX)),
            // `as` saturates at the ends of i64
            Val::Float(f) if !f.is_nan() => Some(f.trunc() as i64),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Str(s) => s.trim().parse().ok(),
            Val::Int(n) => Some(*n),
            Val::UInt(n) => i64::try_from(*n).ok(),
            // Unix times may come as 1706695200.0.
            Val::Float(f) if f.is_finite() && f.abs() < 1e15 => Some(f.trunc() as i64),
            _ => None,
        }
    }
}

/// Helpers for `Option<Val>` fields.
pub(crate) trait OptVal {
    fn text(&self) -> Option<Cow<'_, str>>;
    fn string(&self) -> Option<String>;
}

impl OptVal for Option<Val<'_>> {
    fn text(&self) -> Option<Cow<'_, str>> {
        self.as_ref().and_then(Val::text)
    }
    fn string(&self) -> Option<String> {
        self.as_ref().and_then(Val::string)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json scalar")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Owned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Val::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Val::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Val::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Val::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Val::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ValVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Val::Null)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

/// Turns a serde_json error into a short lowercase message.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => return "unexpected end of json".to_string(),
        Category::Syntax => "invalid json",
        Category::Data => "unexpected json structure",
        Category::Io => "read error",
    };
    // serde_json appends " at line L column C"; the location is ours to give.
    let full = e.to_string();
    let detail = full.split(" at line ").next().unwrap_or(&full).to_string();
    format!("{what}: {}", detail.to_lowercase())
}

/// A sequence where each element is handed to a callback as it is parsed,
/// so large arrays never exist as a `Vec` of intermediate structs.
pub(crate) struct EachSeed<F, T>(F, std::marker::PhantomData<T>);

/// Calls `f` on each element of a JSON array as it is parsed.
pub(crate) fn each<T, F: FnMut(T)>(f: F) -> EachSeed<F, T> {
    EachSeed(f, std::marker::PhantomData)
}

impl<'de, F, T> de::DeserializeSeed<'de> for EachSeed<F, T>
where
    T: Deserialize<'de>,
    F: FnMut(T),
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct SeqVisitor<F, T>(F, std::marker::PhantomData<T>);
        impl<'de, F: FnMut(T), T: Deserialize<'de>> Visitor<'de> for SeqVisitor<F, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
                while let Some(item) = seq.next_element::<T>()? {
                    (self.0)(item);
                }
                Ok(())
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
        }
        d.deserialize_any(SeqVisitor(self.0, std::marker::PhantomData))
    }
}
