//! Watch targets: what to probe, where it belongs and what counts as
//! healthy. Targets come from `vigie watch add`, from a targets file (CSV
//! with a `url` column and optional option columns), or from an
//! organisation export with a `domains` column.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Per-target probe options. Every field has a default, so `{}` is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetOptions {
    /// Accepted HTTP status codes: "200-399", "200,301-302"…
    pub expect_status: String,
    /// Text the page must contain (case-insensitive, on visible words).
    pub expect_content: Vec<String>,
    /// A regular expression the raw body must match.
    pub expect_regex: Option<String>,
    /// Phrases that must never appear, beyond the built-in defacer phrases.
    pub banned_content: Vec<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    /// Warn when the certificate expires in fewer days.
    pub min_cert_days: u32,
    pub follow_redirects: bool,
    pub max_body_kib: u32,
    /// Answers slower than this are degraded.
    pub slow_ms: u32,
    /// Learn a content baseline and look for defacement.
    pub deface: bool,
    /// TLS name to verify instead of the URL's host (IP-literal URLs).
    pub tls_server_name: Option<String>,
    /// Bumped by `vigie watch rebaseline`: a target whose baseline was
    /// learned under another epoch learns it again.
    pub baseline_epoch: u32,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            expect_status: "200-399".into(),
            expect_content: Vec::new(),
            expect_regex: None,
            banned_content: Vec::new(),
            interval_s: 60,
            timeout_s: 10,
            min_cert_days: 14,
            follow_redirects: true,
            max_body_kib: 2048,
            slow_ms: 5_000,
            deface: true,
            tls_server_name: None,
            baseline_epoch: 0,
        }
    }
}

/// Accepted status codes as inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn parse(s: &str) -> Result<StatusSet, String> {
        let mut v = Vec::new();
        for part in s.split([',', ' ', '|']).filter(|p| !p.is_empty()) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let code = |x: &str| -> Result<u16, String> {
                x.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| format!("{x:?} is not an HTTP status code (100–599)"))
            };
            let (a, b) = (code(a)?, code(b)?);
            if a > b {
                return Err(format!("status range {part} is reversed"));
            }
            v.push((a, b));
        }
        if v.is_empty() {
            return Err("no status code given".into());
        }
        Ok(StatusSet(v))
    }

    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&code))
    }
}

/// Largest compiled size of a target's regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl TargetOptions {
    /// Checks every option; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        StatusSet::parse(&self.expect_status).map_err(|e| format!("expect_status: {e}"))?;
        if let Some(r) = &self.expect_regex {
            build_regex(r).map_err(|e| format!("expect_regex: {e}"))?;
        }
        if !(1..=86_400).contains(&self.interval_s) {
            return Err("interval_s must be between 1 and 86400".into());
        }
        if !(1..=120).contains(&self.timeout_s) || self.timeout_s >= self.interval_s {
            return Err("timeout_s must be between 1 and 120 and below interval_s".into());
        }
        if !(1..=65_536).contains(&self.max_body_kib) {
            return Err("max_body_kib must be between 1 and 65536".into());
        }
        if self.slow_ms == 0 {
            return Err("slow_ms must be above 0".into());
        }
        for list in [&self.expect_content, &self.banned_content] {
            if list.iter().any(|s| s.trim().is_empty() || s.len() > 512) {
                return Err("content phrases are 1 to 512 characters".into());
            }
        }
        Ok(())
    }

    pub fn status_set(&self) -> StatusSet {
        StatusSet::parse(&self.expect_status).unwrap_or(StatusSet(vec![(200, 399)]))
    }

    /// The compiled `expect_regex` (compile it once per target, not per probe).
    pub fn regex(&self) -> Option<regex::Regex> {
        self.expect_regex
            .as_deref()
            .and_then(|r| build_regex(r).ok())
    }
}

fn build_regex(r: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(r)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A target as defined by its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetDef {
    pub name: String,
    pub url: String,
    pub establishment: Option<String>,
    pub options: TargetOptions,
}

/// A URL as users write it: a bare host becomes `https://host/`.
pub fn normalise_url(raw: &str) -> Result<url::Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty URL".into());
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}/")
    };
    let u = url::Url::parse(&with_scheme).map_err(|e| format!("URL {raw:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("URL {raw:?}: only http and https are watched"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL {raw:?} has no host"));
    }
    Ok(u)
}

impl TargetDef {
    /// Builds and validates a target.
    pub fn new(
        name: Option<&str>,
        url: &str,
        establishment: Option<&str>,
        options: TargetOptions,
    ) -> Result<TargetDef, String> {
        let u = normalise_url(url)?;
        options.validate()?;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => default_name(&u),
        };
        if name.len() > 200 || name.chars().any(char::is_control) {
            return Err(format!("target name {name:?} is too long or not printable"));
        }
        Ok(TargetDef {
            name,
            url: u.to_string(),
            establishment: establishment
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string),
            options,
        })
    }
}

/// The name a target gets when none is given: host, plus path when not "/".
pub fn default_name(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or("");
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    match u.path() {
        "" | "/" => format!("{host}{port}"),
        p => format!("{host}{port}{}", p.trim_end_matches('/')),
    }
}

/// A targets-file error naming the source and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsError {
    pub source: String,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for TargetsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for TargetsError {}

fn split_list(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "oui" => Ok(true),
        "0" | "false" | "no" | "n" | "non" => Ok(false),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

fn parse_u32(s: &str, what: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("{what}: {s:?} is not a whole number"))
}

/// Reads a targets file: CSV (comma or semicolon) with a header.
///
/// - A `url` column (a URL or a bare host) makes one target per row, with
///   optional `name`, `establishment` (or `code`) and option columns named
///   like [`TargetOptions`] fields (`interval`/`timeout` are accepted for
///   `interval_s`/`timeout_s`; lists are separated by `|`).
/// - Without `url`, a `domains` column (an organisation export) makes one
///   target per domain, `https://DOMAIN/`, named `CODE:DOMAIN`.
///
/// Blank lines and lines starting with `#` are skipped.
pub fn parse_targets(text: &str, source: &str) -> Result<Vec<TargetDef>, TargetsError> {
    let err = |line: u64, message: String| TargetsError {
        source: source.to_string(),
        line,
        message,
    };
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(e.position().map_or(1, |p| p.line()), e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let url_col = col(&["url", "target", "host", "hostname"]);
    let domains_col = col(&["domains", "domain", "domaines"]);
    let est_col = col(&[
        "establishment",
        "code",
        "establishment_code",
        "etablissement",
    ]);
    let name_col = col(&["name", "nom"]);
    if url_col.is_none() && domains_col.is_none() {
        return Err(err(
            1,
            format!("no url or domains column (columns: {})", headers.join(", ")),
        ));
    }
    let known = [
        "url",
        "target",
        "host",
        "hostname",
        "domains",
        "domain",
        "domaines",
        "establishment",
        "code",
        "establishment_code",
        "etablissement",
        "name",
        "nom",
        "expect_status",
        "expect_content",
        "expect_regex",
        "banned_content",
        "interval",
        "interval_s",
        "timeout",
        "timeout_s",
        "min_cert_days",
        "follow_redirects",
        "max_body_kib",
        "slow_ms",
        "deface",
        "tls_server_name",
    ];
    let mut out = Vec::new();
    let mut names = std::collections::BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim();
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut opts = TargetOptions::default();
        for (i, h) in headers.iter().enumerate() {
            let v = rec.get(i).unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            let r: Result<(), String> = match h.as_str() {
                "expect_status" => {
                    opts.expect_status = v.to_string();
                    Ok(())
                }
                "expect_content" => {
                    opts.expect_content = split_list(v);
                    Ok(())
                }
                "expect_regex" => {
                    opts.expect_regex = Some(v.to_string());
                    Ok(())
                }
                "banned_content" => {
                    opts.banned_content = split_list(v);
                    Ok(())
                }
                "interval" | "interval_s" => parse_u32(v, h).map(|n| opts.interval_s = n),
                "timeout" | "timeout_s" => parse_u32(v, h).map(|n| opts.timeout_s = n),
                "min_cert_days" => parse_u32(v, h).map(|n| opts.min_cert_days = n),
                "max_body_kib" => parse_u32(v, h).map(|n| opts.max_body_kib = n),
                "slow_ms" => parse_u32(v, h).map(|n| opts.slow_ms = n),
                "follow_redirects" => parse_bool(v).map(|b| opts.follow_redirects = b),
                "deface" => parse_bool(v).map(|b| opts.deface = b),
                "tls_server_name" => {
                    opts.tls_server_name = Some(v.to_string());
                    Ok(())
                }
                other if known.contains(&other) => Ok(()),
                // organisation exports carry other columns: ignore them
                _ => Ok(()),
            };
            r.map_err(|m| err(line, m))?;
        }
        let est = Some(get(est_col)).filter(|e| !e.is_empty());
        let mut push = |def: TargetDef| -> Result<(), TargetsError> {
            if let Some(prev) = names.insert(def.name.clone(), line) {
                return Err(err(
                    line,
                    format!("target {} already defined on line {prev}", def.name),
                ));
            }
            out.push(def);
            Ok(())
        };
        if let Some(i) = url_col {
            let url = get(Some(i));
            if url.is_empty() {
                return Err(err(line, "empty url".into()));
            }
            let name = Some(get(name_col)).filter(|n| !n.is_empty());
            let def = TargetDef::new(name, url, est, opts).map_err(|m| err(line, m))?;
            push(def)?;
        } else {
            for d in get(domains_col)
                .split([' ', ';', '|', ','])
                .map(str::trim)
                .filter(|d| !d.is_empty())
            {
                let name = match est {
                    Some(e) => format!("{e}:{d}"),
                    None => d.to_string(),
                };
                let def =
                    TargetDef::new(Some(&name), d, est, opts.clone()).map_err(|m| err(line, m))?;
                push(def)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets() {
        let s = StatusSet::parse("200-299, 301|401").unwrap_or(StatusSet(vec![]));
        assert!(s.contains(204) && s.contains(301) && s.contains(401));
        assert!(!s.contains(302) && !s.contains(500));
        assert!(StatusSet::parse("299-200").is_err());
        assert!(StatusSet::parse("abc").is_err());
        assert!(StatusSet::parse("").is_err());
        assert!(StatusSet::parse("99").is_err());
    }

    #[test]
    fn targets_file_with_options() {
        let text = "name,url,establishment,expect_content,interval,timeout,follow_redirects\n\
                    # the portal\n\
                    portal,https://portal.chu.example/login,CHU-X,Connexion|Mot de passe,30,5,no\n\
                    ,www.ars.example,,,,,\n";
        let t = parse_targets(text, "t.csv").unwrap_or_default();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "portal");
        assert_eq!(t[0].establishment.as_deref(), Some("CHU-X"));
        assert_eq!(t[0].options.expect_content, ["Connexion", "Mot de passe"]);
        assert_eq!((t[0].options.interval_s, t[0].options.timeout_s), (30, 5));
        assert!(!t[0].options.follow_redirects);
        assert_eq!(t[1].name, "www.ars.example");
        assert_eq!(t[1].url, "https://www.ars.example/");
        assert_eq!(t[1].establishment, None);
    }

    #[test]
    fn org_export_with_domains() {
        let text = "code;name;region;domains\nCHU-X;CHU X;IDF;www.chu-x.example rdv.chu-x.example\nCH-Y;CH Y;IDF;\n";
        let t = parse_targets(text, "org.csv").unwrap_or_default();
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["CHU-X:www.chu-x.example", "CHU-X:rdv.chu-x.example"]
        );
        assert!(
            t.iter()
                .all(|t| t.establishment.as_deref() == Some("CHU-X"))
        );
    }

    #[test]
    fn errors_name_the_line() {
        let text = "url,interval\nhttps://a.example/,60\nhttps://b.example/,abc\n";
        let e = parse_targets(text, "t.csv").err();
        assert_eq!(e.as_ref().map(|e| e.line), Some(3), "{e:?}");
        assert!(e.is_some_and(|e| e.to_string().starts_with("t.csv line 3: interval")));
        let e = parse_targets("url\nftp://x.example/\n", "t.csv").err();
        assert!(e.is_some_and(|e| e.line == 2 && e.message.contains("only http")));
        let e = parse_targets("url\nhttps://a.example/\nhttps://a.example/\n", "t.csv").err();
        assert!(e.is_some_and(|e| e.line == 3 && e.message.contains("already defined")));
        let e = parse_targets("name,where\nx,y\n", "t.csv").err();
        assert!(e.is_some_and(|e| e.line == 1));
        let e = parse_targets("url,timeout,interval\nhttps://a.example/,60,60\n", "t.csv").err();
        assert!(e.is_some_and(|e| e.message.contains("timeout_s")));
        let e = parse_targets("url,expect_regex\nhttps://a.example/,(unclosed\n", "t.csv").err();
        assert!(e.is_some_and(|e| e.message.contains("expect_regex")));
    }

    #[test]
    fn options_json_round_trip_and_defaults() {
        let o: TargetOptions = serde_json::from_str("{}").unwrap_or_else(|_| TargetOptions {
            interval_s: 0,
            ..TargetOptions::default()
        });
        assert_eq!(o, TargetOptions::default());
        assert!(serde_json::from_str::<TargetOptions>("{\"bogus\":1}").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in ".{0,400}") {
            let _ = parse_targets(&s, "p.csv");
        }
    }
}
