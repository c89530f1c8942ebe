//! Real Windows update data, embedded: the NT 10 build ↔ UBR ↔ KB ↔ date
//! table and the Windows 7 / 8.1 (and 2008 R2 / 2012 R2) rollup lists.
//! See `data/README.md` for provenance.

use std::collections::HashMap;
use std::sync::OnceLock;
use vigie_core::Day;

const BUILDS_CSV: &str = include_str!("../data/windows-builds.csv");
const LEGACY_CSV: &str = include_str!("../data/legacy-kbs.csv");

/// One cumulative update of an NT 10 build.
#[derive(Debug, Clone)]
pub(crate) struct BuildRelease {
    pub ubr: u32,
    pub date: Day,
    /// KB number (5034122 for KB5034122).
    pub kb: u32,
}

/// A Windows 7 / 8.1 family update.
#[derive(Debug, Clone)]
pub(crate) struct LegacyKb {
    pub kb: u32,
    pub date: Day,
    pub esu: bool,
}

fn kb_number(s: &str) -> Option<u32> {
    s.trim().trim_start_matches("KB").parse().ok()
}

#[derive(Debug, Default)]
pub(crate) struct Updates {
    /// (build, server) → releases sorted by date then UBR.
    builds: HashMap<(u32, bool), Vec<BuildRelease>>,
    /// family → updates sorted by date.
    legacy: HashMap<&'static str, Vec<LegacyKb>>,
}

fn parse_day(s: &str) -> Option<Day> {
    Day::parse(s).ok()
}

impl Updates {
    fn load() -> Updates {
        let mut u = Updates::default();
        let mut rdr = csv::Reader::from_reader(BUILDS_CSV.as_bytes());
        for rec in rdr.records().flatten() {
            let (Some(build), Some(ubr), Some(date), Some(kb), Some(os_type)) = (
                rec.get(0).and_then(|b| b.parse::<u32>().ok()),
                rec.get(1).and_then(|b| b.parse::<u32>().ok()),
                rec.get(2).and_then(parse_day),
                rec.get(3),
                rec.get(4),
            ) else {
                continue;
            };
            let Some(kb) = kb_number(kb) else {
                continue;
            };
            u.builds
                .entry((build, os_type == "server"))
                .or_default()
                .push(BuildRelease { ubr, date, kb });
        }
        for list in u.builds.values_mut() {
            list.sort_by_key(|r| (r.date, r.ubr));
        }
        let mut rdr = csv::Reader::from_reader(LEGACY_CSV.as_bytes());
        for rec in rdr.records().flatten() {
            let family: &'static str = match rec.get(0) {
                Some("win7_2008r2") => "win7_2008r2",
                Some("win81_2012r2") => "win81_2012r2",
                _ => continue,
            };
            let (Some(kb), Some(kind), Some(date)) = (
                rec.get(1).and_then(kb_number),
                rec.get(2),
                rec.get(3).and_then(parse_day),
            ) else {
                continue;
            };
            u.legacy.entry(family).or_default().push(LegacyKb {
                kb,
                date,
                esu: kind.starts_with("esu"),
            });
        }
        for list in u.legacy.values_mut() {
            list.sort_by_key(|k| k.date);
        }
        u
    }

    pub(crate) fn get() -> &'static Updates {
        static U: OnceLock<Updates> = OnceLock::new();
        U.get_or_init(Updates::load)
    }

    /// Releases of a build (client or server servicing), oldest first.
    pub(crate) fn releases(&self, build: u32, server: bool) -> &[BuildRelease] {
        self.builds
            .get(&(build, server))
            .or_else(|| self.builds.get(&(build, !server)))
            .map_or(&[], Vec::as_slice)
    }

    /// Index of the newest release out on `cutoff`, or of the first release
    /// when the build is newer than the cutoff (fresh install media).
    pub(crate) fn release_index(&self, build: u32, server: bool, cutoff: Day) -> Option<usize> {
        let list = self.releases(build, server);
        if list.is_empty() {
            return None;
        }
        let n = list.partition_point(|r| r.date <= cutoff);
        Some(n.saturating_sub(1))
    }

    pub(crate) fn legacy(&self, family: &str) -> &[LegacyKb] {
        self.legacy.get(family).map_or(&[], Vec::as_slice)
    }

    /// The newest release date in the build table: the demo cannot show a
    /// machine patched later than this.
    #[cfg(test)]
    pub(crate) fn newest_release(&self) -> Option<Day> {
        self.builds
            .values()
            .filter_map(|l| l.last().map(|r| r.date))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_load() {
        let u = Updates::get();
        let w10 = u.releases(19045, false);
        assert!(w10.len() > 50, "{}", w10.len());
        assert!(w10.windows(2).all(|p| p[0].date <= p[1].date));
        assert!(!u.releases(20348, true).is_empty());
        assert!(!u.releases(14393, true).is_empty());
        let cutoff = Day::parse("2024-01-01").unwrap();
        let i = u.release_index(19045, false, cutoff).unwrap();
        assert!(w10[i].date <= cutoff && w10[i + 1].date > cutoff);
        let w7 = u.legacy("win7_2008r2");
        assert!(w7.iter().any(|k| k.kb == 4_012_212));
        assert!(w7.iter().any(|k| k.kb == 4_012_215));
        assert!(!u.legacy("win81_2012r2").is_empty());
        assert!(u.newest_release().unwrap() >= Day::parse("2026-08-01").unwrap());
    }
}
