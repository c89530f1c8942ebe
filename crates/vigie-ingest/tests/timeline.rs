//! Findings that the date alone brings (support ending, support ended,
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! patches ageing) are dated on the day they become true, whenever a job
//! happens to run: assessing once after a year, assessing every day, and
//! importing the same files late without any assessment give identical
//! histories, on SQLite and on PostgreSQL, including when the facts change
//! between two trigger dates.

use std::path::{Path, PathBuf};
use vigie_core::{Day, FindingStatus};
use vigie_store::testdb::TestDb;
use vigie_store::{GroupBy, HostFilter, Scope, Store};

mod common;

use common::{opts, t};

const HEADER: &str =
    "Computer Name,Serial Number,Operating System,OS Version,Installed KBs,Last Hardware Scan\n";

/// January: a Windows 10 21H2 Enterprise (support ends 2024-06-11), a
/// Windows 10 22H2 Pro (ends 2025-10-14: ends soon from 2024-10-14), a
/// Windows 11 23H2 Pro (ends 2025-11-11) and a Windows 7, all with
/// December 2023 builds (patches older than 60 days from February).
fn january(dir: &Path) -> PathBuf {
    let rows = [
        "rbh-ent21h2,SN001,Microsoft Windows 10 Enterprise,10.0.19044.3803,,2024-01-02T08:00:00Z",
        "rbh-pro22h2,SN002,Microsoft Windows 10 Pro,10.0.19045.3803,,2024-01-02T08:00:00Z",
        "rbh-w11,SN003,Microsoft Windows 11 Pro,10.0.22631.2861,,2024-01-02T08:00:00Z",
        "rbh-w7,SN004,Microsoft Windows 7 Professional,6.1.7601,KB4012215,2024-01-02T08:00:00Z",
    ];
    let p = dir.join("january.csv");
    std::fs::write(&p, format!("{HEADER}{}\n", rows.join("\n"))).unwrap();
    p
}

/// July: two machines updated in June (facts change between trigger dates).
fn july(dir: &Path) -> PathBuf {
    let rows = [
        "rbh-ent21h2,SN001,Microsoft Windows 10 Enterprise,10.0.19044.4529,,2024-07-01T08:00:00Z",
        "rbh-w11,SN003,Microsoft Windows 11 Pro,10.0.22631.3737,,2024-07-01T08:00:00Z",
    ];
    let p = dir.join("july.csv");
    std::fs::write(&p, format!("{HEADER}{}\n", rows.join("\n"))).unwrap();
    p
}

/// Every machine's open findings (rule and opening time) on every day of
/// 2024, and the sector's posture on each day.
async fn history(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = Day::parse("2024-01-02").unwrap();
    let end = Day::parse("2024-12-31").unwrap();
    while d <= end {
        let hosts = store
            .hosts(
                &Scope::National,
                &HostFilter {
                    at: Some(d),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut line: Vec<String> = Vec::new();
        for h in &hosts {
            let mut f: Vec<String> = h
                .findings
                .iter()
                .filter(|f| f.resolved_at.is_none())
                .map(|f| format!("{}@{}:{}", f.rule, f.first_seen, f.status.as_str()))
                .collect();
            f.sort();
            line.push(format!(
                "{}: {}",
                h.hostname.clone().unwrap_or_default(),
                f.join(" ")
            ));
        }
        line.sort();
        let posture = store
            .posture(&Scope::National, GroupBy::Sector, d)
            .await
            .unwrap();
        // a rule at 0 on a day may or may not have a row of its own
        let nonzero = |m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(r, n)| format!("{r}={n}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        // the daily counts the posture reads agree with the machines'
        // findings of the day, whatever refreshed them
        let mut confirmed = std::collections::BTreeMap::<String, u64>::new();
        let mut unknown = std::collections::BTreeMap::<String, u64>::new();
        for f in hosts
            .iter()
            .flat_map(|h| &h.findings)
            .filter(|f| f.resolved_at.is_none())
        {
            match f.status {
                FindingStatus::Confirmed => *confirmed.entry(f.rule.to_string()).or_default() += 1,
                FindingStatus::Unknown => *unknown.entry(f.rule.to_string()).or_default() += 1,
                _ => {}
            }
        }
        assert_eq!(nonzero(&posture[0].rules), nonzero(&confirmed), "{d}");
        assert_eq!(nonzero(&posture[0].unknown), nonzero(&unknown), "{d}");
        assert_eq!(posture[0].hosts, hosts.len() as u64, "{d}");
        out.push(format!(
            "{d} | {} | {} | unknown {}",
            line.join(" ; "),
            nonzero(&posture[0].rules),
            nonzero(&posture[0].unknown)
        ));
        d = d.add_days(1);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_daily_and_late_imports_give_the_same_history() {
    let files = tempfile::tempdir().unwrap();
    let (jan, jul) = (january(files.path()), july(files.path()));
    for backend_db in TestDb::both("time-triggered intervals").await.unwrap() {
        let backend = backend_db.backend;
        backend_db.cleanup().await.unwrap();
        let fresh = || async {
            match backend {
                "sqlite" => TestDb::sqlite().unwrap(),
                _ => TestDb::postgres("time-triggered intervals")
                    .await
                    .unwrap()
                    .unwrap(),
            }
        };
        // once: each file the day it arrives, one assessment at the end
        let once_db = fresh().await;
        let (once, mut p) = common::seeded(&once_db).await;
        p.ingest_file(&jan, &opts("2024-01-02T09:00:00Z"))
            .await
            .unwrap();
        p.ingest_file(&jul, &opts("2024-07-01T09:00:00Z"))
            .await
            .unwrap();
        p.assess(t("2024-12-31T12:00:00Z")).await.unwrap();
        let once_h = history(once.as_ref()).await;

        // daily: the same files, an assessment every day in between
        let daily_db = fresh().await;
        let (daily, mut p) = common::seeded(&daily_db).await;
        p.ingest_file(&jan, &opts("2024-01-02T09:00:00Z"))
            .await
            .unwrap();
        let mut d = Day::parse("2024-01-02").unwrap();
        let end = Day::parse("2024-12-31").unwrap();
        while d <= end {
            if d == Day::parse("2024-07-01").unwrap() {
                p.ingest_file(&jul, &opts("2024-07-01T09:00:00Z"))
                    .await
                    .unwrap();
            }
            let noon = jiff::Timestamp::from_second(d.start_second() + 12 * 3600).unwrap();
            p.assess(noon).await.unwrap();
            d = d.add_days(1);
        }
        let daily_h = history(daily.as_ref()).await;

        // late: both files imported at the end of the year, no assessment
        let late_db = fresh().await;
        let (late, mut p) = common::seeded(&late_db).await;
        p.ingest_file(&jan, &opts("2024-12-31T12:00:00Z"))
            .await
            .unwrap();
        p.ingest_file(&jul, &opts("2024-12-31T12:00:00Z"))
            .await
            .unwrap();
        let late_h = history(late.as_ref()).await;

        for (i, ((a, b), c)) in once_h.iter().zip(&daily_h).zip(&late_h).enumerate() {
            assert_eq!(a, b, "{backend}: once vs daily, day {i}");
            assert_eq!(a, c, "{backend}: once vs late import, day {i}");
        }
        // the dates themselves: support ended on 2024-06-11, patches of
        // December 2023 are older than 60 days from 2024-02-11, and the
        // June update stopped that for the July machines until mid-August
        let day = |s: &str| once_h.iter().find(|l| l.starts_with(s)).cloned().unwrap();
        // one machine's open findings on a day
        let of = |d: &str, host: &str| -> String {
            let line = day(d);
            let machines = line.split(" | ").nth(1).unwrap_or_default().to_string();
            machines
                .split(" ; ")
                .find(|m| m.starts_with(&format!("{host}: ")))
                .unwrap_or_default()
                .to_string()
        };
        let check = |d: &str, host: &str, needle: &str, present: bool| {
            assert_eq!(
                of(d, host).contains(needle),
                present,
                "{backend} {d} {host} {needle}: {}",
                day(d)
            );
        };
        check(
            "2024-06-11",
            "rbh-ent21h2",
            "os-eol@2024-06-11T00:00:00Z:confirmed",
            true,
        );
        check("2024-06-10", "rbh-ent21h2", "os-eol@", false);
        check(
            "2024-02-11",
            "rbh-pro22h2",
            "patch-age@2024-02-11T00:00:00Z:confirmed",
            true,
        );
        // (the Windows 7 has no update newer than 2017: patch-age all year)
        check("2024-02-10", "rbh-pro22h2", "patch-age@", false);
        check("2024-07-02", "rbh-w11", "patch-age", false);
        check(
            "2024-10-14",
            "rbh-pro22h2",
            "os-eol-soon@2024-10-14T00:00:00Z:confirmed",
            true,
        );
        // no software inventory in these exports: known exploited software
        // cannot be decided, and is never counted as absent
        check(
            "2024-01-02",
            "rbh-w11",
            "kev-software@2024-01-02T08:00:00Z:unknown",
            true,
        );
        assert!(
            day("2024-01-02").ends_with("unknown kev-software=4"),
            "{}",
            day("2024-01-02")
        );
        // silent 30 days after the last report, until the next one
        check("2024-02-01", "rbh-w11", "silent@", false);
        check(
            "2024-02-02",
            "rbh-w11",
            "silent@2024-02-02T00:00:00Z:confirmed",
            true,
        );
        check("2024-07-01", "rbh-w11", "silent@", false);
        check(
            "2024-08-01",
            "rbh-w11",
            "silent@2024-08-01T00:00:00Z:confirmed",
            true,
        );
        check(
            "2024-07-01",
            "rbh-pro22h2",
            "silent@2024-02-02T00:00:00Z:confirmed",
            true,
        );
        for db in [once_db, daily_db, late_db] {
            db.cleanup().await.unwrap();
        }
    }
}
