//! Data-driven verdict matrix: every case of `tests/data/verdict-matrix.json`
//! gives host facts, an evaluation date and the expected verdict kinds.

mod common;

use serde::Deserialize;
use vigie_core::{Day, Feature, HostFacts, Hotfix, NetworkFacts, OsFacts};
use vigie_kb::{LifecycleStatus, Ms17Verdict, OsProduct, Smb1Verdict};

#[derive(Deserialize)]
struct Case {
    name: String,
    on: String,
    os: Option<OsFacts>,
    hotfixes: Option<Vec<String>>,
    features: Option<Vec<(String, bool)>>,
    smbv1_offered: Option<bool>,
    ms17_scan: Option<bool>,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    product: Option<String>,
    channel: Option<String>,
    edition: Option<String>,
    lifecycle: Option<String>,
    security_end: Option<String>,
    esu_end: Option<String>,
    ms17: Option<String>,
    smbv1: Option<String>,
    /// Absent: not checked; `null`: no patch level; a date: its release date.
    #[serde(default, deserialize_with = "present")]
    patch: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

fn host(case: &Case) -> HostFacts {
    let network =
        (case.smbv1_offered.is_some() || case.ms17_scan.is_some()).then(|| NetworkFacts {
            smbv1_offered: case.smbv1_offered,
            ms17_010_vulnerable: case.ms17_scan,
            ..Default::default()
        });
    HostFacts {
        os: case.os.clone(),
        hotfixes: case.hotfixes.as_ref().map(|l| {
            l.iter()
                .map(|id| Hotfix {
                    id: id.clone(),
                    installed_on: None,
                })
                .collect()
        }),
        features: case.features.as_ref().map(|l| {
            l.iter()
                .map(|(name, enabled)| Feature {
                    name: name.clone(),
                    enabled: *enabled,
                })
                .collect()
        }),
        network,
        ..Default::default()
    }
}

fn lifecycle_kind(s: &LifecycleStatus) -> &'static str {
    match s {
        LifecycleStatus::Supported => "supported",
        LifecycleStatus::EndsSoon { .. } => "ends-soon",
        LifecycleStatus::EsuOnly { .. } => "esu-only",
        LifecycleStatus::Eol { .. } => "eol",
        LifecycleStatus::Unknown { .. } => "unknown",
    }
}

fn ms17_kind(v: &Ms17Verdict) -> &'static str {
    match v {
        Ms17Verdict::NotAffected { .. } => "not-affected",
        Ms17Verdict::Fixed { .. } => "fixed",
        Ms17Verdict::Missing { .. } => "missing",
        Ms17Verdict::Unknown { .. } => "unknown",
    }
}

fn smb_kind(v: &Smb1Verdict) -> &'static str {
    match v {
        Smb1Verdict::Enabled { .. } => "enabled",
        Smb1Verdict::NotEnabled { .. } => "not-enabled",
        Smb1Verdict::Unknown => "unknown",
    }
}

#[test]
fn verdict_matrix() {
    let kb = common::kb();
    let cases: Vec<Case> = serde_json::from_str(include_str!("data/verdict-matrix.json"))
        .expect("verdict-matrix.json parses");
    assert!(cases.len() >= 60, "matrix shrank: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let on = Day::parse(&case.on).expect("case date");
        let facts = host(case);
        let os = facts.os.clone().unwrap_or_default();
        let mut got = Vec::new();
        let mut check = |what: &str, want: &Option<String>, have: String| {
            if let Some(w) = want
                && *w != have
            {
                got.push(format!("{what}: want {w}, got {have}"));
            }
        };
        let product = kb.identify_os(&os);
        let (product_key, channel, edition) = match &product {
            OsProduct::Known(k) => (
                k.key.clone(),
                k.channel
                    .map(|c| {
                        serde_json::to_value(c)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .unwrap_or_default(),
                k.edition
                    .map(|c| {
                        serde_json::to_value(c)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .unwrap_or_default(),
            ),
            OsProduct::Unknown { .. } => ("unknown".into(), String::new(), String::new()),
        };
        if case.os.is_some() {
            check("product", &case.expect.product, product_key);
            check("channel", &case.expect.channel, channel);
            check("edition", &case.expect.edition, edition);
            let lc = kb.lifecycle(&os, on);
            check(
                "lifecycle",
                &case.expect.lifecycle,
                lifecycle_kind(&lc.status).into(),
            );
            check(
                "security_end",
                &case.expect.security_end,
                lc.security_end.map(|d| d.to_string()).unwrap_or_default(),
            );
            check(
                "esu_end",
                &case.expect.esu_end,
                lc.esu_end.map(|d| d.to_string()).unwrap_or_default(),
            );
            assert!(!lc.evidence.is_empty(), "{}: lifecycle evidence", case.name);
        }
        let ms17 = kb.ms17_010(&facts);
        check("ms17", &case.expect.ms17, ms17_kind(&ms17).into());
        assert!(!ms17.evidence().is_empty(), "{}: ms17 evidence", case.name);
        check(
            "smbv1",
            &case.expect.smbv1,
            smb_kind(&kb.smbv1(&facts)).into(),
        );
        if let Some(want) = &case.expect.patch {
            let have = kb
                .newest_security_update(&facts)
                .map(|p| p.released.to_string());
            if *want != have {
                got.push(format!("patch: want {want:?}, got {have:?}"));
            }
        }
        if !got.is_empty() {
            failures.push(format!("{}:\n    {}", case.name, got.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn ms17_missing_names_the_fix_kbs() {
    let kb = common::kb();
    let facts = HostFacts {
        os: Some(OsFacts {
            family: vigie_core::OsFamily::Windows,
            name: Some("Windows 7 Enterprise".into()),
            version: Some("6.1.7601".into()),
            ..Default::default()
        }),
        hotfixes: Some(vec![Hotfix {
            id: "KB4015546".into(),
            installed_on: None,
        }]),
        ..Default::default()
    };
    match kb.ms17_010(&facts) {
        Ms17Verdict::Missing {
            platform,
            fix_kbs,
            evidence,
        } => {
            assert!(platform.contains("Windows 7"), "{platform}");
            assert!(
                fix_kbs.contains(&"KB4012212".to_string())
                    && fix_kbs.contains(&"KB4012215".to_string())
            );
            assert!(!fix_kbs.contains(&"KB4015546".to_string()));
            assert!(
                evidence
                    .values()
                    .any(|v| v.contains("KB4015546") && v.contains("does not contain")),
                "{evidence:?}"
            );
        }
        other => panic!("expected missing, got {other:?}"),
    }
}

#[test]
fn lifecycle_dates_are_exact() {
    let kb = common::kb();
    let win7 = OsFacts {
        family: vigie_core::OsFamily::Windows,
        name: Some("Windows 7 Professional".into()),
        version: Some("6.1.7601".into()),
        ..Default::default()
    };
    let d = |s: &str| Day::parse(s).unwrap();
    let v = kb.lifecycle(&win7, d("2019-06-01"));
    assert_eq!(
        v.status,
        LifecycleStatus::EndsSoon {
            ends: d("2020-01-14"),
            days_left: 227
        }
    );
    let v = kb.lifecycle(&win7, d("2021-06-01"));
    assert_eq!(
        v.status,
        LifecycleStatus::EsuOnly {
            security_end: d("2020-01-14"),
            esu_end: d("2023-01-10")
        }
    );
    let v = kb.lifecycle(&win7, d("2024-01-01"));
    assert_eq!(
        v.status,
        LifecycleStatus::Eol {
            since: Some(d("2020-01-14"))
        }
    );
    // the day before the end date is the last supported day; the end date
    // is the first without free support ("ended on 2020-01-14")
    let v = kb.lifecycle(&win7, d("2020-01-13"));
    assert_eq!(
        v.status,
        LifecycleStatus::EndsSoon {
            ends: d("2020-01-14"),
            days_left: 1
        }
    );
    let v = kb.lifecycle(&win7, d("2020-01-14"));
    assert_eq!(
        v.status,
        LifecycleStatus::EsuOnly {
            security_end: d("2020-01-14"),
            esu_end: d("2023-01-10")
        }
    );
    let v = kb.lifecycle(&win7, d("2023-01-10"));
    assert_eq!(
        v.status,
        LifecycleStatus::Eol {
            since: Some(d("2020-01-14"))
        }
    );
    let xp = OsFacts {
        family: vigie_core::OsFamily::Windows,
        name: Some("Windows XP".into()),
        ..Default::default()
    };
    let v = kb.lifecycle(&xp, d("2017-05-12"));
    assert_eq!(
        v.status,
        LifecycleStatus::Eol {
            since: Some(d("2014-04-08"))
        }
    );
    assert!(
        v.evidence.contains_key("assumption"),
        "sp3 assumed: {:?}",
        v.evidence
    );
}
