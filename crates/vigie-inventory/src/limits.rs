//! The text every parser hands out goes through [`enforce`] (called by the
//! [`Observations`](crate::Observations) iterator), so every stored string,
//! whatever its format, obeys the same two rules:
//!
//! * control characters (C0 other than TAB, DEL, C1) are written as
//!   `\u{XX}`: both storage backends then hold the same text (PostgreSQL
//!   refuses NUL where SQLite keeps it), and no terminal or page shows them
//!   raw;
//! * a value longer than its field's limit is cut at a character boundary
//!   and ends with `…` and 16 hex digits of a hash of the whole value, so
//!   two values that differ only past the limit stay distinct (two
//!   machines are never merged by the cut).
//!
//! Each value changed is counted in [`Observation::adjusted`], which the
//! ingest report adds up.

use std::fmt::Write;
use vigie_core::observation::Adjustments;
use vigie_core::{Feature, Hotfix, Observation, Section, Software};

/// Longest identifier kept, in bytes: hostname, FQDN, serial number, UUID,
/// establishment tag, MAC address.
pub const MAX_IDENTIFIER_BYTES: usize = 255;
/// Longest name kept, in bytes: OS name and edition, software name and
/// publisher, feature name, OS guessed by a scan.
pub const MAX_NAME_BYTES: usize = 512;
/// Longest version kept, in bytes: OS version, kernel, service pack,
/// display version, architecture, software version, SMB dialect.
pub const MAX_VERSION_BYTES: usize = 128;
/// Longest hotfix id kept, in bytes (ids are normalised to `KB` and at most
/// eight digits, so this never cuts one).
pub const MAX_HOTFIX_ID_BYTES: usize = 32;

/// `…` and 16 hex digits.
const MARK_BYTES: usize = '…'.len_utf8() + 16;

fn is_control(c: char) -> bool {
    (c < ' ' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// FNV-1a, 64 bits: stable across builds and platforms, so the same long
/// value is always cut to the same text.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a value holds a control character. Bytes first (this runs on
/// every string of every observation): C1 controls start with 0xC2.
fn has_control(value: &str) -> bool {
    value
        .bytes()
        .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2)
        && value.chars().any(is_control)
}

/// Applies both rules to one value, counting what it changed.
fn fix(value: &mut String, max: usize, counts: &mut Adjustments) {
    let control = has_control(value);
    if value.len() <= max && !control {
        return;
    }
    if control {
        let mut escaped = String::with_capacity(value.len() + 8);
        for c in value.chars() {
            if is_control(c) {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            } else {
                escaped.push(c);
            }
        }
        *value = escaped;
        counts.escaped = counts.escaped.saturating_add(1);
    }
    if value.len() > max {
        let hash = fnv1a(value);
        let mut end = max.saturating_sub(MARK_BYTES);
        while end > 0 && !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        let _ = write!(value, "…{hash:016x}");
        counts.truncated = counts.truncated.saturating_add(1);
    }
}

fn fix_opt(value: &mut Option<String>, max: usize, counts: &mut Adjustments) {
    if let Some(v) = value {
        fix(v, max, counts);
    }
}

fn fix_section<T>(section: &mut Section<T>, mut each: impl FnMut(&mut T)) {
    match section {
        Section::Unknown => {}
        Section::Full(items) => items.iter_mut().for_each(each),
        Section::Delta { added, removed } => {
            added.iter_mut().for_each(&mut each);
            removed.iter_mut().for_each(each);
        }
    }
}

/// Escapes control characters and caps the length of every string of an
/// observation, recording what it changed in `obs.adjusted`.
pub(crate) fn enforce(obs: &mut Observation) {
    let mut n = obs.adjusted;
    let host = &mut obs.host;
    for v in [
        &mut host.hostname,
        &mut host.fqdn,
        &mut host.serial,
        &mut host.uuid,
        &mut obs.establishment_hint,
    ] {
        fix_opt(v, MAX_IDENTIFIER_BYTES, &mut n);
    }
    for mac in &mut host.macs {
        fix(mac, MAX_IDENTIFIER_BYTES, &mut n);
    }
    if let Some(os) = &mut obs.os {
        fix_opt(&mut os.name, MAX_NAME_BYTES, &mut n);
        fix_opt(&mut os.edition, MAX_NAME_BYTES, &mut n);
        for v in [
            &mut os.version,
            &mut os.service_pack,
            &mut os.display_version,
            &mut os.arch,
            &mut os.kernel,
        ] {
            fix_opt(v, MAX_VERSION_BYTES, &mut n);
        }
    }
    fix_section(&mut obs.hotfixes, |h: &mut Hotfix| {
        fix(&mut h.id, MAX_HOTFIX_ID_BYTES, &mut n)
    });
    fix_section(&mut obs.software, |s: &mut Software| {
        fix(&mut s.name, MAX_NAME_BYTES, &mut n);
        fix_opt(&mut s.version, MAX_VERSION_BYTES, &mut n);
        fix_opt(&mut s.publisher, MAX_NAME_BYTES, &mut n);
    });
    fix_section(&mut obs.features, |f: &mut Feature| {
        fix(&mut f.name, MAX_NAME_BYTES, &mut n)
    });
    if let Some(net) = &mut obs.network {
        fix_opt(&mut net.os_guess, MAX_NAME_BYTES, &mut n);
        for d in &mut net.smb_dialects {
            fix(d, MAX_VERSION_BYTES, &mut n);
        }
    }
    obs.adjusted = n;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(v: &str, max: usize) -> (String, Adjustments) {
        let mut s = v.to_string();
        let mut n = Adjustments::default();
        fix(&mut s, max, &mut n);
        (s, n)
    }

    #[test]
    fn controls_are_escaped_tab_is_kept() {
        let (s, n) = fixed("SRV-\0A\tB\u{1b}[31m\u{7f}\u{85}é", 255);
        assert_eq!(s, "SRV-\\u{0}A\tB\\u{1b}[31m\\u{7f}\\u{85}é");
        assert_eq!((n.escaped, n.truncated), (1, 0));
        let (s, n) = fixed("plain", 255);
        assert_eq!((s.as_str(), n), ("plain", Adjustments::default()));
    }

    #[test]
    fn long_values_are_cut_marked_and_kept_apart() {
        let a = format!("{}a", "é".repeat(200));
        let b = format!("{}b", "é".repeat(200));
        let (ca, n) = fixed(&a, MAX_IDENTIFIER_BYTES);
        let (cb, _) = fixed(&b, MAX_IDENTIFIER_BYTES);
        assert!(ca.len() <= MAX_IDENTIFIER_BYTES, "{}", ca.len());
        assert!(ca.starts_with("éé") && ca.contains('…'), "{ca}");
        assert_ne!(ca, cb, "values differing past the limit stay distinct");
        assert_eq!(fixed(&a, MAX_IDENTIFIER_BYTES).0, ca, "stable");
        assert_eq!((n.escaped, n.truncated), (0, 1));
        // escaping happens first, and the result is still within the limit
        let (c, n) = fixed(&"\0".repeat(100), MAX_VERSION_BYTES);
        assert!(
            c.len() <= MAX_VERSION_BYTES && c.starts_with("\\u{0}"),
            "{c}"
        );
        assert_eq!((n.escaped, n.truncated), (1, 1));
    }
}
