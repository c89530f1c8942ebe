//! Defacement detection.
//!
//! A page is normalised into visible words (numbers, dates and long tokens
//! masked, script and style bodies dropped), its title, its tag structure
//! and the external origins it loads scripts and frames from. A baseline is
//! learned from several fetches: what is present in most of them is stable,
//! the rest (rotating news, counters, nonces) is allowed to vary. A new
//! fetch is compared with the baseline:
//!
//! - **major change**: most stable text or structure is gone, or most of the
//!   text was never seen in any baseline fetch;
//! - **artefacts**: a defacement phrase ("hacked by", …) that the baseline
//!   does not contain, a title never seen, a script or frame origin never
//!   seen, expected content missing.
//!
//! A major change with an artefact is a defacement, and so is a defacer's
//! phrase backed by a second kind of artefact (a partial defacement that
//! leaves most of the page in place); a major change alone, or artefacts
//! alone, are a change to look at.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Phrases defacers leave, normalised (lowercase, single spaces).
pub const DEFAULT_BANNED: &[&str] = &[
    "hacked by",
    "h4cked by",
    "hacked by:",
    "owned by",
    "defaced by",
    "pwned by",
    "was here",
    "greetz",
    "security is just an illusion",
    "your security is low",
    "piratage",
    "pirate par",
    "piraté par",
];

/// Longest input looked at; the rest of a huge page is ignored.
const MAX_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub title: Option<String>,
    /// Visible words, normalised and masked.
    pub words: Vec<String>,
    /// Element names in document order (structure).
    pub tags: Vec<String>,
    /// Hosts that scripts, frames, objects and embeds are loaded from.
    pub origins: BTreeSet<String>,
}

fn mask(word: &str) -> String {
    let digits = word.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return word.to_string();
    }
    if digits == word.len() {
        return "#".into();
    }
    // tokens, nonces, session ids, times ("10h32"), dates ("2026-11-22")
    if word.len() >= 12 || digits * 2 >= word.len() {
        return "~".into();
    }
    word.to_string()
}

fn decode_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" | "#160" => ' ',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    })
}

fn push_text(text: &str, out: &mut Vec<String>) {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        decoded.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(';').filter(|&j| j <= 8) {
            Some(j) => {
                decoded.push(decode_entity(&after[..j]).unwrap_or(' '));
                rest = &after[j + 1..];
            }
            None => {
                decoded.push('&');
                rest = after;
            }
        }
    }
    decoded.push_str(rest);
    for w in decoded.split(|c: char| !c.is_alphanumeric()) {
        if !w.is_empty() {
            out.push(mask(&w.to_lowercase()));
        }
    }
}

/// The value of an attribute in a tag's source text (`src="…"`).
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower.get(from..)?.find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0
            || lower
                .as_bytes()
                .get(at - 1)
                .is_some_and(|b| b.is_ascii_whitespace());
        let rest = tag.get(from..)?.trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let v = rest.get(1..)?.trim_start();
        return match v.chars().next() {
            Some(q @ ('"' | '\'')) => v.get(1..)?.split(q).next(),
            Some(_) => v.split(|c: char| c.is_whitespace() || c == '>').next(),
            None => None,
        };
    }
    None
}

/// The host of an absolute or protocol-relative URL; `None` for relative ones.
fn origin(url: &str) -> Option<String> {
    let u = url.trim();
    let rest = u
        .strip_prefix("//")
        .or_else(|| u.split_once("://").map(|(_, r)| r))?;
    let host = rest.split(['/', '?', '#']).next()?.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Normalises HTML. Never fails: anything that is not markup is text.
pub fn normalize(html: &str) -> Page {
    let html = match html.char_indices().nth(MAX_BYTES) {
        Some((i, _)) => &html[..i],
        None => html,
    };
    let mut page = Page::default();
    let mut rest = html;
    let mut in_title = false;
    let mut title = String::new();
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(rest, &mut page.words);
            break;
        };
        let text = &rest[..lt];
        if in_title {
            title.push_str(text);
        }
        push_text(text, &mut page.words);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            // an unterminated tag: the rest is not text either
            break;
        };
        let inner = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = inner.starts_with('/');
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if !closing {
            page.tags.push(name.clone());
        }
        match (name.as_str(), closing) {
            ("title", false) => in_title = true,
            ("title", true) => in_title = false,
            ("script" | "iframe" | "frame" | "embed" | "object", false) => {
                let src = attribute(inner, "src").or_else(|| attribute(inner, "data"));
                if let Some(o) = src.and_then(origin) {
                    page.origins.insert(o);
                }
            }
            _ => {}
        }
        // script and style bodies are code, not content
        if !closing && (name == "script" || name == "style") && !inner.ends_with('/') {
            let end = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&end) {
                Some(e) => &rest[e..],
                None => "",
            };
        }
    }
    let t: Vec<String> = {
        let mut v = Vec::new();
        push_text(&title, &mut v);
        v
    };
    page.title = (!t.is_empty()).then(|| t.join(" "));
    page
}

fn shingles(words: &[String]) -> BTreeSet<String> {
    if words.len() < 3 {
        return words.iter().cloned().collect();
    }
    words.windows(3).map(|w| w.join(" ")).collect()
}

fn tag_pairs(tags: &[String]) -> BTreeSet<String> {
    tags.windows(2)
        .map(|w| format!("{}>{}", w[0], w[1]))
        .collect()
}

/// What a target's normal page looks like, learned from several fetches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub fetches: usize,
    stable_text: BTreeSet<String>,
    seen_text: BTreeSet<String>,
    stable_structure: BTreeSet<String>,
    titles: BTreeSet<String>,
    origins: BTreeSet<String>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Artefact {
    BannedPhrase { phrase: String },
    TitleChanged { title: String },
    NewOrigin { origin: String },
    ExpectedMissing { text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Unchanged,
    Changed,
    Defaced,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Share of the baseline's stable text still present (0–1).
    pub text_kept: f64,
    /// Share of the baseline's stable structure still present (0–1).
    pub structure_kept: f64,
    /// Share of the page's text never seen in any baseline fetch (0–1).
    pub text_new: f64,
    pub major_change: bool,
    pub artefacts: Vec<Artefact>,
}

/// Share of fetches a piece must appear in to count as stable.
const STABLE_SHARE: f64 = 0.6;
const MAJOR_KEPT: f64 = 0.5;
const MAJOR_NEW: f64 = 0.6;

impl Baseline {
    /// Learns from pages fetched at different times (at least one).
    pub fn learn(pages: &[Page]) -> Baseline {
        let n = pages.len().max(1);
        let need = ((n as f64) * STABLE_SHARE).ceil() as usize;
        let mut text_counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut struct_counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut b = Baseline {
            fetches: pages.len(),
            stable_text: BTreeSet::new(),
            seen_text: BTreeSet::new(),
            stable_structure: BTreeSet::new(),
            titles: BTreeSet::new(),
            origins: BTreeSet::new(),
            text: String::new(),
        };
        for p in pages {
            for s in shingles(&p.words) {
                b.seen_text.insert(s.clone());
                *text_counts.entry(s).or_default() += 1;
            }
            for s in tag_pairs(&p.tags) {
                *struct_counts.entry(s).or_default() += 1;
            }
            if let Some(t) = &p.title {
                b.titles.insert(t.clone());
            }
            b.origins.extend(p.origins.iter().cloned());
            b.text.push_str(&p.words.join(" "));
            b.text.push('\n');
        }
        b.stable_text = text_counts
            .into_iter()
            .filter(|(_, c)| *c >= need)
            .map(|(s, _)| s)
            .collect();
        b.stable_structure = struct_counts
            .into_iter()
            .filter(|(_, c)| *c >= need)
            .map(|(s, _)| s)
            .collect();
        b
    }

    /// Compares a fresh page with the baseline. `expected` are phrases the
    /// page must contain; `banned` phrases that mark a defacement.
    pub fn assess(&self, page: &Page, expected: &[String], banned: &[&str]) -> Assessment {
        let text = shingles(&page.words);
        let structure = tag_pairs(&page.tags);
        let kept = |stable: &BTreeSet<String>, now: &BTreeSet<String>| -> f64 {
            if stable.is_empty() {
                1.0
            } else {
                stable.iter().filter(|s| now.contains(*s)).count() as f64 / stable.len() as f64
            }
        };
        let text_kept = kept(&self.stable_text, &text);
        let structure_kept = kept(&self.stable_structure, &structure);
        let text_new = if text.is_empty() {
            0.0
        } else {
            text.iter().filter(|s| !self.seen_text.contains(*s)).count() as f64 / text.len() as f64
        };
        let major_change =
            text_kept < MAJOR_KEPT || structure_kept < MAJOR_KEPT || text_new > MAJOR_NEW;
        let joined = page.words.join(" ");
        let mut artefacts = Vec::new();
        let mut seen_phrases = BTreeSet::new();
        for phrase in banned {
            let p: Vec<String> = {
                let mut v = Vec::new();
                push_text(phrase, &mut v);
                v
            };
            let p = p.join(" ");
            if !p.is_empty()
                && seen_phrases.insert(p.clone())
                && contains_phrase(&joined, &p)
                && !contains_phrase(&self.text, &p)
            {
                artefacts.push(Artefact::BannedPhrase { phrase: p });
            }
        }
        if let Some(t) = &page.title
            && !self.titles.is_empty()
            && !self.titles.contains(t)
        {
            artefacts.push(Artefact::TitleChanged { title: t.clone() });
        }
        for o in page.origins.difference(&self.origins) {
            artefacts.push(Artefact::NewOrigin { origin: o.clone() });
        }
        for e in expected {
            let mut v = Vec::new();
            push_text(e, &mut v);
            let want = v.join(" ");
            if !want.is_empty() && !contains_phrase(&joined, &want) {
                artefacts.push(Artefact::ExpectedMissing { text: e.clone() });
            }
        }
        // A defacer's phrase backed by a second, independent artefact (new
        // title, new script origin, expected content gone) is a defacement
        // even when most of the page was left in place.
        let phrase = artefacts
            .iter()
            .any(|a| matches!(a, Artefact::BannedPhrase { .. }));
        let other = artefacts
            .iter()
            .any(|a| !matches!(a, Artefact::BannedPhrase { .. }));
        let verdict = if (major_change && !artefacts.is_empty()) || (phrase && other) {
            Verdict::Defaced
        } else if major_change || !artefacts.is_empty() {
            Verdict::Changed
        } else {
            Verdict::Unchanged
        };
        Assessment {
            verdict,
            text_kept,
            structure_kept,
            text_new,
            major_change,
            artefacts,
        }
    }
}

/// Whole-word phrase search in space-joined words.
fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    let padded = format!(" {haystack} ");
    padded.contains(&format!(" {phrase} ")) || haystack.split('\n').any(|l| l == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_markup() {
        let p = normalize(
            "<html><head><title>ARS Bretagne &amp; santé</title><script src=\"https://cdn.example.org/a.js\">var x = 'hacked by';</script>\
             <style>body{}</style></head><body><!-- c --><h1>Bienvenue</h1><p>Mis à jour le 22/11/2026 à 10h32, 1234 visites, token a1b2c3d4e5f6a7b8</p>\
             <iframe src='//frames.example.net/x'></iframe></body></html>",
        );
        assert_eq!(p.title.as_deref(), Some("ars bretagne santé"));
        assert!(p.words.contains(&"bienvenue".to_string()));
        assert!(
            !p.words.iter().any(|w| w == "hacked"),
            "script bodies are not text"
        );
        assert!(p.words.contains(&"#".to_string()) && p.words.contains(&"~".to_string()));
        assert_eq!(
            p.origins.iter().cloned().collect::<Vec<_>>(),
            vec![
                "cdn.example.org".to_string(),
                "frames.example.net".to_string()
            ]
        );
        assert_eq!(&p.tags[..3], &["html", "head", "title"]);
    }

    #[test]
    fn attributes_and_origins() {
        assert_eq!(attribute("script src=x.js", "src"), Some("x.js"));
        assert_eq!(attribute("script data-src='a' src='b'", "src"), Some("b"));
        assert_eq!(
            origin("https://user@Evil.example:8443/p?q"),
            Some("evil.example:8443".into())
        );
        assert_eq!(origin("/local.js"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let p = normalize(&s);
            let b = Baseline::learn(std::slice::from_ref(&p));
            let _ = b.assess(&p, &["x".to_string()], DEFAULT_BANNED);
        }

        #[test]
        fn a_page_matches_its_own_baseline(words in proptest::collection::vec("[a-z]{2,8}", 5..60)) {
            let html = format!("<html><head><title>t</title></head><body><p>{}</p></body></html>", words.join(" "));
            let p = normalize(&html);
            let b = Baseline::learn(&[p.clone(), p.clone()]);
            proptest::prop_assert_eq!(b.assess(&p, &[], DEFAULT_BANNED).verdict, Verdict::Unchanged);
        }
    }
}
