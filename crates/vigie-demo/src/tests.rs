//! End-to-end checks: every file parses with vigie-inventory, parsed facts
//! match the model, attribution works, history trends go the right way,
//! output is deterministic.

use crate::fleet::{Ctx, Machine};
use crate::os;
use crate::{DemoFile, DemoSpec, Profile, Sector};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use vigie_core::{Day, Observation, OrgDirectory, Section, SourceKind};
use vigie_inventory::{Format, ParseOptions, detect, parse};

fn spec(profile: Profile, scale: f64, days: u32) -> DemoSpec {
    DemoSpec {
        profile,
        scale,
        days,
        end: Day::parse("2026-08-31").unwrap(),
        seed: 7,
    }
}

fn generate(spec: &DemoSpec, dir: &Path) -> (Sector, Vec<DemoFile>) {
    let sector = crate::sector(spec).unwrap();
    let files = crate::write_inventories(spec, &sector, dir, &|_| {}).unwrap();
    (sector, files)
}

fn read_file(f: &DemoFile) -> Vec<Observation> {
    let mut input = BufReader::with_capacity(
        vigie_inventory::DETECT_BYTES,
        std::fs::File::open(&f.path).unwrap(),
    );
    let format = detect(input.fill_buf().unwrap())
        .unwrap_or_else(|| panic!("{}: format not detected", f.path.display()));
    let expected = Format::parse(f.format).unwrap();
    assert_eq!(format, expected, "{}", f.path.display());
    parse(format, input, &ParseOptions::default())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", f.path.display()))
}

fn directory(sector: &Sector) -> OrgDirectory {
    let mut buf = Vec::new();
    crate::write_org_csv(sector, &mut buf).unwrap();
    let (regions, establishments) = vigie_inventory::parse_org_csv(&buf[..]).unwrap();
    OrgDirectory::new(regions, establishments)
}

/// hostname (lowercase) → machine.
fn machines_by_name(ctx: &Ctx<'_>) -> HashMap<String, Machine> {
    let mut map = HashMap::new();
    for (s, site) in ctx.sector.sites.iter().enumerate() {
        for i in 0..site.hosts {
            let m = Machine::new(ctx, s, i);
            map.insert(m.hostname.to_lowercase(), m);
        }
    }
    map
}

fn short(obs: &Observation) -> String {
    obs.host.short_hostname().unwrap_or_default()
}

/// Parses everything and checks each observation against the model.
fn check_profile(profile: Profile, scale: f64) {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(profile, scale, 10);
    let (sector, files) = generate(&spec, dir.path());
    assert!(!files.is_empty());
    assert!(
        files.windows(2).all(|w| w[0].day <= w[1].day),
        "sorted by day"
    );
    let ctx = Ctx::new(&spec, &sector);
    let by_name = machines_by_name(&ctx);
    let org = directory(&sector);
    let mut formats: HashMap<&str, usize> = HashMap::new();
    let (mut unassigned, mut by_subnet, mut total) = (0, 0, 0);
    let mut first_seen: HashMap<String, bool> = HashMap::new();
    let kb = vigie_kb::KnowledgeBase::embedded().unwrap();
    let mut verdicts: HashMap<&'static str, usize> = HashMap::new();
    for f in &files {
        let observations = read_file(f);
        assert_eq!(
            observations.len() as u64,
            f.hosts,
            "{}: host count",
            f.path.display()
        );
        *formats.entry(f.format).or_default() += 1;
        for obs in observations {
            total += 1;
            let name = short(&obs);
            let m = by_name
                .get(&name)
                .unwrap_or_else(|| panic!("{}: unknown host {name:?}", f.path.display()));
            let code = sector.establishments[m.site].code.clone();
            let when = obs.observed_at.expect("observed_at").as_second();
            let day = Day::from_number(i32::try_from(when.div_euclid(86_400)).unwrap());
            assert!(day >= spec.start() && day <= spec.end, "{name}: {day}");
            if f.format != "nmap" {
                let snap = m.snapshot(&ctx, day);
                // Observation time: exact, or to the minute for GLPI lists.
                let delta = (when - snap.time).abs();
                assert!(
                    delta < 60,
                    "{}: {name} observed_at {when} vs {}",
                    f.path.display(),
                    snap.time
                );
                // Tag.
                let tag = m.tagged.then(|| code.as_str().to_string());
                assert_eq!(
                    obs.establishment_hint,
                    tag,
                    "{}: {name} tag",
                    f.path.display()
                );
                // OS.
                let spec_os = os::spec(snap.os);
                let facts = obs.os.as_ref().expect("os facts");
                if spec_os.is_windows() {
                    assert_eq!(
                        facts.build,
                        spec_os.nt_build().parse::<u32>().ok(),
                        "{}: {name} build",
                        f.path.display()
                    );
                    // OCS agents print no UBR.
                    if obs.source != SourceKind::OcsXml
                        && matches!(spec_os.servicing, os::Servicing::Nt10 { .. })
                    {
                        assert_eq!(facts.ubr, snap.ubr, "{}: {name} ubr", f.path.display());
                    }
                    // A KB: full lists name the newest installed update.
                    let first = first_seen.insert(name.clone(), true).is_none();
                    if let (Section::Full(list), Some(kb)) = (&obs.hotfixes, snap.hotfixes.first())
                    {
                        assert!(
                            list.iter().any(|h| h.id == kb.id()),
                            "{}: {name} lacks {}",
                            f.path.display(),
                            kb.id()
                        );
                        assert_eq!(list.len(), snap.hotfixes.len(), "{name} hotfix count");
                    } else if first && f.format == "osquery" && !snap.hotfixes.is_empty() {
                        panic!("{name}: first osquery report must be a snapshot");
                    }
                } else {
                    assert_ne!(facts.family, vigie_core::OsFamily::Windows);
                }
            } else {
                let net = obs.network.as_ref().expect("network facts");
                let snap = m.snapshot(&ctx, day);
                assert_eq!(
                    net.smbv1_offered.unwrap_or(false),
                    snap.smb1,
                    "{name} smbv1"
                );
                if snap.smb1 {
                    let spec_os = os::spec(snap.os);
                    assert_eq!(
                        net.ms17_010_vulnerable,
                        Some(spec_os.ms17_affected() && !snap.ms17_fixed),
                        "{name} ms17"
                    );
                }
            }
            // vigie's own MS17-010 verdict on this observation alone agrees
            // with the model (osquery differential reports lack the full
            // update list, and so do OCS Windows 10 hosts without UBR).
            let full_list = matches!(obs.hotfixes, Section::Full(_));
            if full_list || f.format == "nmap" {
                let when = obs.observed_at.unwrap();
                let mut state = vigie_core::facts::SourceState::empty(obs.source, when);
                state.apply(&obs, when);
                let facts = vigie_core::HostFacts::merge(obs.host.hostname.clone(), &[state]);
                let snap = m.snapshot(&ctx, day);
                let spec_os = os::spec(snap.os);
                let verdict = kb.ms17_010(&facts);
                let label = match &verdict {
                    vigie_kb::Ms17Verdict::Missing { .. } => "missing",
                    vigie_kb::Ms17Verdict::Fixed { .. } => "fixed",
                    vigie_kb::Ms17Verdict::NotAffected { .. } => "not-affected",
                    vigie_kb::Ms17Verdict::Unknown { .. } => "unknown",
                };
                *verdicts.entry(label).or_default() += 1;
                let expect_missing = spec_os.ms17_affected() && !snap.ms17_fixed;
                if f.format != "nmap" || snap.smb1 {
                    assert_eq!(
                        label == "missing",
                        expect_missing,
                        "{}: {name} ({}) ms17 verdict {verdict:?}",
                        f.path.display(),
                        spec_os.key
                    );
                }
            }
            // Attribution through the org directory.
            let names: Vec<&str> = [obs.host.hostname.as_deref(), obs.host.fqdn.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let got = org.attribute(
                None,
                obs.establishment_hint.as_deref(),
                &names,
                &obs.host.addresses,
            );
            match got {
                None => {
                    assert!(m.rogue, "{name} should be attributed");
                    unassigned += 1;
                }
                Some(a) => {
                    assert!(!m.rogue, "{name} should stay unassigned");
                    assert_eq!(a.establishment, code, "{name}");
                    if a.reason == vigie_core::AttributionReason::Subnet {
                        by_subnet += 1;
                    }
                }
            }
        }
    }
    for format in [
        "osquery",
        "glpi-json",
        "fusion-xml",
        "ocs-xml",
        "nmap",
        "csv",
    ] {
        assert!(
            formats.contains_key(format),
            "{profile:?}: no {format} file"
        );
    }
    assert!(unassigned > 0, "some machines must stay unassigned");
    assert!(
        unassigned * 100 < total,
        "{unassigned} of {total} unassigned"
    );
    assert!(by_subnet > 0, "some machines are attributed by subnet only");
    assert!(
        verdicts.get("missing").copied().unwrap_or(0) > 0,
        "{verdicts:?}"
    );
    eprintln!("{profile:?}: {total} observations, ms17-010 verdicts {verdicts:?}");
}

#[test]
fn england_files_parse_and_match_the_model() {
    check_profile(Profile::England, 0.002);
}

#[test]
fn france_files_parse_and_match_the_model() {
    check_profile(Profile::France, 0.002);
}

#[test]
fn sectors_follow_the_registries() {
    let en = crate::sector(&spec(Profile::England, 1.0, 30)).unwrap();
    assert_eq!(en.regions.len(), 7);
    assert_eq!(en.registry_establishments, 202 + 6220);
    assert_eq!(en.establishments.len(), en.registry_establishments);
    let total = en.total_hosts();
    assert!((1_400_000..1_650_000).contains(&total), "england {total}");
    let gp = en
        .establishments
        .iter()
        .filter(|e| e.kind == vigie_core::EstablishmentKind::GpPractice)
        .count();
    assert_eq!(gp, 6220);
    assert!(
        en.establishments
            .iter()
            .all(|e| e.region.as_str().starts_with('Y'))
    );
    assert!(
        en.establishments
            .iter()
            .filter(|e| e.kind == vigie_core::EstablishmentKind::Ambulance)
            .count()
            == 10
    );

    let fr = crate::sector(&spec(Profile::France, 1.0, 30)).unwrap();
    assert_eq!(fr.regions.len(), 18);
    assert_eq!(fr.establishments.len(), 3974);
    assert!(fr.regions.iter().any(|r| r.code.as_str() == "84"));
    let total = fr.total_hosts();
    assert!((1_000_000..1_800_000).contains(&total), "france {total}");

    // Small scales sample practices but keep every region.
    let small = crate::sector(&spec(Profile::England, 0.003, 30)).unwrap();
    assert_eq!(small.regions.len(), 7);
    let total = small.total_hosts() as f64;
    assert!((total / (1.5e6 * 0.003) - 1.0).abs() < 0.25, "{total}");
    let trusts = small
        .establishments
        .iter()
        .filter(|e| e.kind == vigie_core::EstablishmentKind::Acute)
        .count();
    assert!(trusts > 120, "acute trusts kept: {trusts}");
}

#[test]
fn org_csv_attributes_generated_machines() {
    let spec = spec(Profile::England, 0.002, 30);
    let sector = crate::sector(&spec).unwrap();
    let org = directory(&sector);
    assert_eq!(org.establishments().len(), sector.establishments.len());
    assert_eq!(org.regions().len(), 7);
    let parsed = &org.establishments()[0];
    assert_eq!(parsed, &sector.establishments[0]);
    let ctx = Ctx::new(&spec, &sector);
    let (mut by_pattern, mut by_subnet, mut none) = (0, 0, 0);
    for (s, site) in sector.sites.iter().enumerate() {
        for i in 0..site.hosts {
            let m = Machine::new(&ctx, s, i);
            let code = &sector.establishments[s].code;
            let addr = std::net::IpAddr::V4(m.ip);
            match org.attribute(None, None, &[&m.hostname], &[]) {
                Some(a) => {
                    assert_eq!(&a.establishment, code);
                    by_pattern += 1;
                }
                None => match org.attribute(None, None, &[&m.hostname], &[addr]) {
                    Some(a) => {
                        assert!(!m.rogue);
                        assert_eq!(&a.establishment, code);
                        by_subnet += 1;
                    }
                    None => {
                        assert!(m.rogue);
                        none += 1;
                    }
                },
            }
        }
    }
    assert!(by_pattern > 20 * by_subnet, "{by_pattern} {by_subnet}");
    assert!(by_subnet > 0 && none > 0);
}

#[test]
fn history_improves() {
    let spec = spec(Profile::England, 0.01, 30);
    let sector = crate::sector(&spec).unwrap();
    let ctx = Ctx::new(&spec, &sector);
    let (mut legacy_start, mut legacy_end, mut ms17_start, mut ms17_end) = (0, 0, 0, 0);
    let (mut smb_start, mut smb_end, mut w11_start, mut w11_end) = (0, 0, 0, 0);
    for (s, site) in sector.sites.iter().enumerate() {
        for i in 0..site.hosts {
            let m = Machine::new(&ctx, s, i);
            for (d, legacy, ms17, smb, w11) in [
                (
                    ctx.start,
                    &mut legacy_start,
                    &mut ms17_start,
                    &mut smb_start,
                    &mut w11_start,
                ),
                (
                    spec.end,
                    &mut legacy_end,
                    &mut ms17_end,
                    &mut smb_end,
                    &mut w11_end,
                ),
            ] {
                if !m.active(d) {
                    continue;
                }
                let o = m.os_on(d);
                *legacy += usize::from(o == os::XP || o == os::W7);
                *ms17 += usize::from(!m.ms17_fixed_on(d));
                *smb += usize::from(m.smb1_on(d));
                *w11 += usize::from(o == os::W11_23H2 || o == os::W11_24H2);
            }
        }
    }
    assert!(
        legacy_end < legacy_start,
        "xp/7: {legacy_start} -> {legacy_end}"
    );
    assert!(
        ms17_end < ms17_start,
        "ms17-010 missing: {ms17_start} -> {ms17_end}"
    );
    assert!(smb_end < smb_start, "smbv1: {smb_start} -> {smb_end}");
    assert!(w11_end > w11_start, "windows 11: {w11_start} -> {w11_end}");
    assert!(legacy_start > 0 && ms17_start > 0);
}

fn digest(dir: &Path) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push((
                    rel,
                    bytes.len() as u64,
                    crate::rng::hash_str(&String::from_utf8_lossy(&bytes)),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn deterministic_for_a_seed() {
    let spec = spec(Profile::England, 0.001, 8);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(&spec, a.path());
    generate(&spec, b.path());
    let (da, db) = (digest(a.path()), digest(b.path()));
    assert!(!da.is_empty());
    assert_eq!(da, db);
    let other = DemoSpec { seed: 8, ..spec };
    let c = tempfile::tempdir().unwrap();
    generate(&other, c.path());
    assert_ne!(da, digest(c.path()));
}

#[test]
fn osquery_fleet_parses_back() {
    let codes: Vec<_> = ["RX1", "RJ1", "A81001"]
        .iter()
        .map(|c| vigie_core::EstablishmentCode::new(c).unwrap())
        .collect();
    let mut buf = Vec::new();
    let day = Day::parse("2026-06-15").unwrap();
    let bytes = crate::write_osquery_fleet(&mut buf, 50, &codes, 120, 90, day, 1).unwrap();
    assert_eq!(bytes, buf.len() as u64);
    let obs: Vec<Observation> = parse(Format::Osquery, &buf[..], &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(obs.len(), 50);
    for (i, o) in obs.iter().enumerate() {
        let Section::Full(sw) = &o.software else {
            panic!("software")
        };
        let Section::Full(hf) = &o.hotfixes else {
            panic!("hotfixes")
        };
        assert_eq!(sw.len(), 120);
        assert_eq!(hf.len(), 90);
        assert_eq!(o.establishment_hint.as_deref(), Some(codes[i % 3].as_str()));
        assert_eq!(Day::of_timestamp(o.observed_at.unwrap()), day);
        assert!(o.os.as_ref().unwrap().ubr.is_some());
    }
    // Programs beyond the catalogue size stay distinct.
    let mut big = Vec::new();
    crate::write_osquery_fleet(&mut big, 2, &codes, 400, 150, day, 1).unwrap();
    let obs: Vec<Observation> = parse(Format::Osquery, &big[..], &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    let Section::Full(sw) = &obs[0].software else {
        panic!()
    };
    let mut names: Vec<_> = sw.iter().map(|s| &s.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 400);
}

#[test]
fn kev_listed_releases_match_kev_and_current_ones_do_not() {
    let kb = vigie_kb::KnowledgeBase::embedded().unwrap();
    for p in crate::software::WINDOWS.iter().filter(|p| p.kev) {
        let (name, version) = p.stale.unwrap();
        let sw = vigie_core::Software {
            name: name.into(),
            version: Some(version.into()),
            publisher: Some(p.publisher.into()),
        };
        let hits = kb.kev_for_software(&sw);
        assert!(
            hits.iter()
                .any(|m| m.confidence == vigie_core::FindingStatus::Confirmed),
            "{name} {version}: no confirmed kev match"
        );
        let current = vigie_core::Software {
            name: p.name.into(),
            version: Some(p.version.into()),
            publisher: Some(p.publisher.into()),
        };
        let hits = kb.kev_for_software(&current);
        assert!(
            !hits
                .iter()
                .any(|m| m.confidence == vigie_core::FindingStatus::Confirmed),
            "{} {}: current release matches {:?}",
            p.name,
            p.version,
            hits.iter().map(|h| &h.cve).collect::<Vec<_>>()
        );
    }
}
