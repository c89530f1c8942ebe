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

use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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

/// Byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case, without
/// copying `hay` (a page with many scripts would otherwise be lowercased
/// once per script).
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    if h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
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
            rest = match find_ascii_ci(rest, &end) {
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

/// FNV-1a, 64 bits: stable across builds and processes, so stored
/// baselines stay comparable after an upgrade.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Hashes of the page's word trigrams (the words themselves when fewer
/// than three), sorted and deduplicated.
fn shingles(words: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = if words.len() < 3 {
        words.iter().map(|w| fnv(&[w])).collect()
    } else {
        words
            .windows(3)
            .map(|w| fnv(&[&w[0], &w[1], &w[2]]))
            .collect()
    };
    v.sort_unstable();
    v.dedup();
    v
}

/// Hashes of consecutive element pairs (structure), sorted and deduplicated.
fn tag_pairs(tags: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = tags.windows(2).map(|w| fnv(&[&w[0], &w[1]])).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Most shingle hashes a baseline keeps, per kind (a bottom-k sketch).
const TEXT_SKETCH: usize = 1024;
const STRUCTURE_SKETCH: usize = 512;

/// The largest hash kept so that at most `k` distinct hashes are at or
/// below it: comparing only hashes up to this limit samples the same
/// shingles on every page, so shares measured on the sample estimate the
/// shares on the whole page (bottom-k sampling).
fn sketch_limit(all: &BTreeSet<u64>, k: usize) -> u64 {
    all.iter()
        .nth(k.saturating_sub(1))
        .copied()
        .unwrap_or(u64::MAX)
}

fn below(v: &[u64], limit: u64) -> &[u64] {
    let end = v.partition_point(|h| *h <= limit);
    &v[..end]
}

fn contains_sorted(v: &[u64], h: u64) -> bool {
    v.binary_search(&h).is_ok()
}

/// What a target's page normally looks like: a compact, serialisable
/// summary of several fetches (a few kilobytes whatever the page size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub fetches: usize,
    text_limit: u64,
    /// Text shingles present in most fetches, sorted.
    stable_text: Vec<u64>,
    /// Text shingles present in any fetch, sorted.
    seen_text: Vec<u64>,
    structure_limit: u64,
    stable_structure: Vec<u64>,
    titles: BTreeSet<String>,
    origins: BTreeSet<String>,
    /// Defacement phrases looked for when learning, and those found then
    /// (a page that legitimately says "hacked by" keeps saying it).
    phrases_checked: BTreeSet<String>,
    phrases_present: BTreeSet<String>,
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

/// A phrase normalised like page text.
pub(crate) fn phrase_words(phrase: &str) -> String {
    let mut v = Vec::new();
    push_text(phrase, &mut v);
    v.join(" ")
}

const STABLE_SHARE: f64 = 0.6;
const MAJOR_KEPT: f64 = 0.5;
const MAJOR_NEW: f64 = 0.6;

impl Baseline {
    /// Learns from several fetches, checking the default defacement phrases.
    pub fn learn(pages: &[Page]) -> Baseline {
        Baseline::learn_with(pages, DEFAULT_BANNED)
    }

    /// Learns from several fetches; `banned` lists the phrases whose
    /// presence in the baseline is remembered (so they are not artefacts).
    pub fn learn_with(pages: &[Page], banned: &[&str]) -> Baseline {
        let n = pages.len().max(1);
        let need = ((n as f64) * STABLE_SHARE).ceil() as usize;
        let per_page: Vec<(Vec<u64>, Vec<u64>)> = pages
            .iter()
            .map(|p| (shingles(&p.words), tag_pairs(&p.tags)))
            .collect();
        let all_text: BTreeSet<u64> = per_page
            .iter()
            .flat_map(|(t, _)| t.iter().copied())
            .collect();
        let all_structure: BTreeSet<u64> = per_page
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        let text_limit = sketch_limit(&all_text, TEXT_SKETCH);
        let structure_limit = sketch_limit(&all_structure, STRUCTURE_SKETCH);
        let mut text_counts: BTreeMap<u64, usize> = BTreeMap::new();
        let mut struct_counts: BTreeMap<u64, usize> = BTreeMap::new();
        for (t, st) in &per_page {
            for h in below(t, text_limit) {
                *text_counts.entry(*h).or_default() += 1;
            }
            for h in below(st, structure_limit) {
                *struct_counts.entry(*h).or_default() += 1;
            }
        }
        let joined: Vec<String> = pages.iter().map(|p| p.words.join(" ")).collect();
        let mut phrases_checked = BTreeSet::new();
        let mut phrases_present = BTreeSet::new();
        for phrase in banned {
            let p = phrase_words(phrase);
            if p.is_empty() {
                continue;
            }
            if joined.iter().any(|j| contains_phrase(j, &p)) {
                phrases_present.insert(p.clone());
            }
            phrases_checked.insert(p);
        }
        Baseline {
            fetches: pages.len(),
            text_limit,
            seen_text: text_counts.keys().copied().collect(),
            stable_text: text_counts
                .iter()
                .filter(|(_, c)| **c >= need)
                .map(|(h, _)| *h)
                .collect(),
            structure_limit,
            stable_structure: struct_counts
                .iter()
                .filter(|(_, c)| **c >= need)
                .map(|(h, _)| *h)
                .collect(),
            titles: pages.iter().filter_map(|p| p.title.clone()).collect(),
            origins: pages
                .iter()
                .flat_map(|p| p.origins.iter().cloned())
                .collect(),
            phrases_checked,
            phrases_present,
        }
    }

    pub fn assess(&self, page: &Page, expected: &[String], banned: &[&str]) -> Assessment {
        let all_text = shingles(&page.words);
        let text = below(&all_text, self.text_limit);
        let all_structure = tag_pairs(&page.tags);
        let structure = below(&all_structure, self.structure_limit);
        let kept = |stable: &[u64], now: &[u64]| -> f64 {
            if stable.is_empty() {
                1.0
            } else {
                stable.iter().filter(|h| contains_sorted(now, **h)).count() as f64
                    / stable.len() as f64
            }
        };
        let text_kept = kept(&self.stable_text, text);
        let structure_kept = kept(&self.stable_structure, structure);
        let text_new = if text.is_empty() {
            0.0
        } else {
            text.iter()
                .filter(|h| !contains_sorted(&self.seen_text, **h))
                .count() as f64
                / text.len() as f64
        };
        let major_change =
            text_kept < MAJOR_KEPT || structure_kept < MAJOR_KEPT || text_new > MAJOR_NEW;
        let joined = page.words.join(" ");
        let mut artefacts = Vec::new();
        let mut seen_phrases = BTreeSet::new();
        for phrase in banned {
            let p = phrase_words(phrase);
            // a phrase the baseline was not checked for counts as new
            if !p.is_empty()
                && seen_phrases.insert(p.clone())
                && contains_phrase(&joined, &p)
                && !self.phrases_present.contains(&p)
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
            let want = phrase_words(e);
            if !want.is_empty() && !contains_phrase(&joined, &want) {
                artefacts.push(Artefact::ExpectedMissing { text: e.clone() });
            }
        }
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

    /// Whether this baseline knows about every phrase in `banned` (false
    /// after the target's banned list changed: relearn).
    pub fn checked_for(&self, banned: &[&str]) -> bool {
        banned.iter().all(|p| {
            let w = phrase_words(p);
            w.is_empty() || self.phrases_checked.contains(&w)
        })
    }
}

/// Whether normalised text holds a normalised phrase as whole words.
pub(crate) fn contains_phrase(haystack: &str, phrase: &str) -> bool {
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
