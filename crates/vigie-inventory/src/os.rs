//! Turning the OS fields each inventory prints into [`OsFacts`].
//!
//! Windows is where precision matters: rules compare NT builds and update
//! revisions, so the build is always taken from a version number
//! ("6.1.7601", "10.0.19045.3803"), never from a localised product name.

use crate::util::non_empty;
use vigie_core::{OsFacts, OsFamily};

/// An NT version split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NtVersion {
    /// "major.minor.build" ("6.1.7601"), or "major.minor" when no build.
    pub version: String,
    pub build: Option<u32>,
    pub ubr: Option<u32>,
}

/// Reads "10.0.19045", "10.0.19045.3803", "6.1 (7601)", "6.1.7601 Build 7601".
pub(crate) fn parse_nt_version(s: &str) -> Option<NtVersion> {
    let s = s.trim();
    let mut nums: Vec<u32> = Vec::with_capacity(4);
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if cur.len() >= 9 {
                return None;
            }
            cur.push(c);
        } else {
            if !cur.is_empty() {
                nums.push(cur.parse().ok()?);
                cur.clear();
            }
            if nums.len() >= 4 {
                break;
            }
            // Only dots, spaces and brackets separate NT version parts.
            if !matches!(c, '.' | ' ' | '(' | ')') {
                break;
            }
        }
    }
    if !cur.is_empty() && nums.len() < 4 {
        nums.push(cur.parse().ok()?);
    }
    let (&major, rest) = nums.split_first()?;
    let (&minor, rest) = rest.split_first()?;
    // Only real NT version pairs, and builds in NT's range (1381 for NT 4
    // onwards), so a Linux kernel "6.1.44" is never taken for Windows 7.
    let known = matches!(
        (major, minor),
        (3, 1 | 5 | 51) | (4, 0 | 90) | (5, 0..=2) | (6, 0..=4) | (10, 0)
    );
    if !known {
        return None;
    }
    let build = rest.first().copied();
    if build.is_some_and(|b| b < 1000) {
        return None;
    }
    let ubr = rest.get(1).copied();
    let version = match build {
        Some(b) => format!("{major}.{minor}.{b}"),
        None => format!("{major}.{minor}"),
    };
    Some(NtVersion {
        version,
        build,
        ubr,
    })
}

/// The NT version a given build number belongs to (for sources that only
/// print a build, like nmap's smb-os-discovery).
pub(crate) fn nt_for_build(build: u32) -> Option<&'static str> {
    Some(match build {
        2195 => "5.0",
        2600 => "5.1",
        3790 => "5.2",
        6000..=6003 => "6.0",
        7600..=7601 => "6.1",
        9200 => "6.2",
        9600 => "6.3",
        10240.. => "10.0",
        _ => return None,
    })
}

/// "19045.3803" as GLPI agents put it in `service_pack` on Windows 10+.
pub(crate) fn ubr_from_build_dot_ubr(s: &str, build: Option<u32>) -> Option<u32> {
    let (b, u) = s.trim().split_once('.')?;
    let b: u32 = b.parse().ok()?;
    let u: u32 = u.parse().ok()?;
    (build.is_none() || build == Some(b)).then_some(u)
}

/// Windows marketing versions: "21H2", "22H2", "1607", "2009".
pub(crate) fn looks_like_display_version(s: &str) -> bool {
    let s = s.trim();
    let b = s.as_bytes();
    match b {
        [y1, y2, h, n] if h.eq_ignore_ascii_case(&b'h') => {
            y1.is_ascii_digit() && y2.is_ascii_digit() && n.is_ascii_digit()
        }
        [_, _, _, _] => s.parse::<u32>().is_ok_and(|n| (1507..=2009).contains(&n)),
        _ => false,
    }
}

/// Edition words found in a Windows product name, in canonical English, in
/// the order they appear. Localised names (French mostly) map to the same
/// words so that rules do not depend on the UI language.
pub(crate) fn edition_hint(name: &str) -> Option<String> {
    const WORDS: &[(&str, &str)] = &[
        ("iot", "IoT"),
        ("enterprise", "Enterprise"),
        ("entreprise", "Enterprise"),
        ("ltsc", "LTSC"),
        ("ltsb", "LTSB"),
        ("embedded", "Embedded"),
        ("posready", "POSReady"),
        ("server", "Server"),
        ("education", "Education"),
        ("éducation", "Education"),
        ("professional", "Professional"),
        ("professionnel", "Professional"),
        ("pro", "Professional"),
        ("home", "Home"),
        ("famille", "Home"),
        ("standard", "Standard"),
        ("datacenter", "Datacenter"),
        ("ultimate", "Ultimate"),
        ("intégrale", "Ultimate"),
        ("integrale", "Ultimate"),
        ("starter", "Starter"),
        ("business", "Business"),
        ("essentials", "Essentials"),
        ("foundation", "Foundation"),
        ("thin", "Thin PC"),
    ];
    let lower = name.to_lowercase();
    let mut found: Vec<&str> = Vec::new();
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if let Some((_, canon)) = WORDS.iter().find(|(w, _)| *w == word)
            && !found.contains(canon)
        {
            found.push(canon);
        }
    }
    (!found.is_empty()).then(|| found.join(" "))
}

/// OS fields as one inventory reports them, before normalisation.
#[derive(Debug, Default, Clone)]
pub(crate) struct OsInput<'a> {
    /// Product name ("Microsoft Windows 10 Enterprise", "Ubuntu 22.04 LTS").
    pub name: Option<&'a str>,
    /// Short name ("Windows", "Debian GNU/Linux") when `name` is missing.
    pub short_name: Option<&'a str>,
    /// Version field as the source prints it: NT version, release or
    /// marketing version depending on the source.
    pub version: Option<&'a str>,
    /// Kernel version: the NT version on Windows agents.
    pub kernel_version: Option<&'a str>,
    pub kernel_name: Option<&'a str>,
    pub service_pack: Option<&'a str>,
    pub display_version: Option<&'a str>,
    pub arch: Option<&'a str>,
    pub build: Option<&'a str>,
    pub ubr: Option<&'a str>,
}

impl OsInput<'_> {
    pub(crate) fn family(&self) -> OsFamily {
        for text in [self.name, self.short_name, self.kernel_name]
            .into_iter()
            .flatten()
        {
            if text.eq_ignore_ascii_case("mswin32") {
                return OsFamily::Windows;
            }
            let f = OsFamily::guess(text);
            if f != OsFamily::Other {
                return f;
            }
        }
        OsFamily::Other
    }

    /// Normalises into [`OsFacts`]; `None` when the source said nothing.
    pub(crate) fn build(&self) -> Option<OsFacts> {
        fn clean(v: Option<&str>) -> Option<&str> {
            v.and_then(non_empty)
        }
        let name = clean(self.name).or(clean(self.short_name));
        let family = self.family();
        if name.is_none() && clean(self.version).is_none() && clean(self.kernel_version).is_none() {
            return None;
        }
        let mut os = OsFacts {
            family,
            name: name.map(str::to_string),
            arch: clean(self.arch).map(str::to_string),
            ..OsFacts::default()
        };
        if family == OsFamily::Windows {
            let nt = [self.kernel_version, self.version]
                .into_iter()
                .flatten()
                .find_map(parse_nt_version);
            let explicit_build = clean(self.build).and_then(|b| b.parse::<u32>().ok());
            if let Some(nt) = &nt {
                os.version = Some(nt.version.clone());
                os.build = nt.build.or(explicit_build);
                os.ubr = nt.ubr;
            } else {
                os.build = explicit_build;
            }
            if os.ubr.is_none() {
                os.ubr = clean(self.ubr).and_then(|u| u.parse().ok());
            }
            if let Some(sp) = clean(self.service_pack) {
                if let Some(ubr) = ubr_from_build_dot_ubr(sp, os.build) {
                    os.ubr = os.ubr.or(Some(ubr));
                } else if sp != "0" && !sp.eq_ignore_ascii_case("none") {
                    os.service_pack = Some(sp.to_string());
                }
            }
            os.display_version = [self.display_version, self.version]
                .into_iter()
                .flatten()
                .find(|v| looks_like_display_version(v))
                .map(|v| v.trim().to_string());
            os.edition = name.and_then(edition_hint);
        } else {
            // "31 (Workstation Edition)" → "31", "22.04.4 LTS" → "22.04.4":
            // the release number is what lifecycle rules compare.
            os.version = clean(self.version).map(|v| match v.split_whitespace().next() {
                Some(first) if first.starts_with(|c: char| c.is_ascii_digit()) => first.to_string(),
                _ => v.to_string(),
            });
            os.kernel = clean(self.kernel_version).map(str::to_string);
            os.service_pack = clean(self.service_pack).map(str::to_string);
        }
        Some(os)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_versions() {
        let v = parse_nt_version("10.0.19045.3803").unwrap();
        assert_eq!(
            (v.version.as_str(), v.build, v.ubr),
            ("10.0.19045", Some(19045), Some(3803))
        );
        let v = parse_nt_version("6.1 (7601)").unwrap();
        assert_eq!((v.version.as_str(), v.build), ("6.1.7601", Some(7601)));
        assert_eq!(parse_nt_version("6.18.44-fc-v657"), None);
        assert_eq!(parse_nt_version("22.04"), None);
        assert_eq!(parse_nt_version(""), None);
        assert_eq!(parse_nt_version("99999999999999.1"), None);
    }

    #[test]
    fn editions() {
        assert_eq!(
            edition_hint("Microsoft Windows 10 IoT Enterprise LTSC").as_deref(),
            Some("IoT Enterprise LTSC")
        );
        assert_eq!(
            edition_hint("Microsoft Windows 7 Professionnel").as_deref(),
            Some("Professional")
        );
        assert_eq!(
            edition_hint("Windows Embedded POSReady 7").as_deref(),
            Some("Embedded POSReady")
        );
        assert_eq!(edition_hint("Windows"), None);
    }

    #[test]
    fn glpi_style_windows() {
        let os = OsInput {
            name: Some("Microsoft Windows 10 IoT Enterprise LTSC"),
            kernel_version: Some("10.0.19044"),
            version: Some("21H2"),
            service_pack: Some("19044.5854"),
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_eq!(os.family, OsFamily::Windows);
        assert_eq!(os.version.as_deref(), Some("10.0.19044"));
        assert_eq!((os.build, os.ubr), (Some(19044), Some(5854)));
        assert_eq!(os.display_version.as_deref(), Some("21H2"));
        assert_eq!(os.service_pack, None);
    }

    #[test]
    fn display_versions() {
        assert!(looks_like_display_version("22H2"));
        assert!(looks_like_display_version("1607"));
        assert!(!looks_like_display_version("2024"));
        assert!(!looks_like_display_version("6.1"));
    }
}
