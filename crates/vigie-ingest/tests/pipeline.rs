//! End-to-end ingest on SQLite: real fixtures, history, idempotence, bad
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! input leaving the database untouched, identity merge across sources.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigie_core::{
    Day, Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode, RuleId,
};
use vigie_ingest::{FileStatus, IngestError, IngestOptions, Pipeline};
use vigie_kb::KnowledgeBase;
use vigie_posture::{KbChecks, RuleSet};
use vigie_store::{HostFilter, HostView, Scope, SqlStore, Store};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigie-inventory/tests/data")
        .join(rel)
}

fn est(code: &str, region: &str, patterns: &[&str], subnets: &[&str]) -> Establishment {
    Establishment {
        code: EstablishmentCode::new(code).unwrap(),
        name: format!("{code} hospital"),
        kind: EstablishmentKind::Acute,
        region: RegionCode::new(region).unwrap(),
        parent: None,
        hostname_patterns: patterns.iter().map(|s| s.to_string()).collect(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

struct Env {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    store: Arc<dyn Store>,
    pipeline: Pipeline,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", path.join("t.db").display()))
            .await
            .unwrap(),
    );
    store
        .import_org(
            &[
                Region {
                    code: RegionCode::new("Y56").unwrap(),
                    name: "London".into(),
                },
                Region {
                    code: RegionCode::new("NORD").unwrap(),
                    name: "Nord".into(),
                },
            ],
            &[
                est("RBH", "Y56", &["rbh-*"], &[]),
                est("CHUN", "NORD", &["chun-*"], &["10.40.0.0/16"]),
                est("W81", "Y56", &[], &[]),
            ],
        )
        .await
        .unwrap();
    let pipeline = pipeline_for(&store).await;
    Env {
        _dir: dir,
        dir: path,
        store,
        pipeline,
    }
}

/// A pipeline on the store's current organisation directory.
async fn pipeline_for(store: &Arc<dyn Store>) -> Pipeline {
    Pipeline::new(
        store.clone(),
        store.org().await.unwrap(),
        RuleSet::defaults().unwrap(),
        Arc::new(KbChecks::new(Arc::new(KnowledgeBase::embedded().unwrap()))),
    )
}

/// Hides the hardware ids of osquery lines, so only the hostname identifies
/// the machine.
fn without_hardware_ids(lines: String) -> String {
    lines
        .replace(r#""uuid":"#, r#""x_uuid":"#)
        .replace(r#""hardware_serial":"#, r#""x_serial":"#)
}

fn rules_of(h: &HostView) -> Vec<String> {
    h.findings.iter().map(|f| f.rule.to_string()).collect()
}

/// One Windows 7 host as osquery snapshot lines.
fn win7_lines(host: &str, unix: i64, kbs: &[&str], smb1: bool) -> String {
    let deco = format!(
        r#""hostIdentifier":"{host}","unixTime":{unix},"epoch":0,"counter":0,"decorations":{{"establishment":"RBH"}}"#
    );
    let os = format!(
        r#"{{"snapshot":[{{"name":"Microsoft Windows 7 Professionnel","version":"6.1.7601","major":"6","minor":"1","build":"7601","platform":"windows","arch":"64-bit"}}],"action":"snapshot","name":"os",{deco}}}"#
    );
    let sys = format!(
        r#"{{"snapshot":[{{"hostname":"{host}","computer_name":"{host}","uuid":"4C4C4544-0000-0000-0000-{:012}","hardware_serial":"SN-{host}"}}],"action":"snapshot","name":"sys",{deco}}}"#,
        host.bytes()
            .fold(0u64, |a, b| a.wrapping_mul(131).wrapping_add(u64::from(b)))
            % 1_000_000_000_000
    );
    let patches: Vec<String> =
        kbs.iter().map(|k| format!(r#"{{"hotfix_id":"{k}","description":"Security Update","installed_on":"3/15/2017"}}"#)).collect();
    let pat = format!(
        r#"{{"snapshot":[{}],"action":"snapshot","name":"patches",{deco}}}"#,
        patches.join(",")
    );
    let feat = format!(
        r#"{{"snapshot":[{{"name":"SMB1Protocol","caption":"SMB 1.0/CIFS","state":"{}","statename":"{}"}}],"action":"snapshot","name":"features",{deco}}}"#,
        if smb1 { 1 } else { 2 },
        if smb1 { "Enabled" } else { "Disabled" }
    );
    format!("{os}\n{sys}\n{pat}\n{feat}\n")
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

const MAY_11: i64 = 1_494_489_600; // 2017-05-11T08:00:00Z
const MAY_14: i64 = 1_494_748_800; // 2017-05-14T08:00:00Z

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_a_fix_is_an_interval() {
    let mut e = env().await;
    let opts = IngestOptions::default();
    let day1 = write(
        &e.dir,
        "day1.jsonl",
        &win7_lines("RBH-PC001", MAY_11, &["KB3205394"], true),
    );
    let r = e.pipeline.ingest_file(&day1, &opts).await.unwrap();
    assert_eq!(r.status, FileStatus::Ingested);
    assert_eq!(r.hosts_new, 1);
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let h = &hosts[0];
    assert_eq!(h.establishment.as_ref().unwrap().as_str(), "RBH");
    assert_eq!(h.os.build, Some(7601));
    let rules = rules_of(h);
    assert!(rules.contains(&"ms17-010-missing".to_string()), "{rules:?}");
    assert!(rules.contains(&"smbv1-enabled".to_string()), "{rules:?}");
    let ms17 = h
        .findings
        .iter()
        .find(|f| f.rule.as_str() == "ms17-010-missing")
        .unwrap();
    assert!(!ms17.evidence.is_empty(), "evidence explains the finding");

    // three days later the March rollup is installed and SMBv1 disabled
    let day2 = write(
        &e.dir,
        "day2.jsonl",
        &win7_lines("RBH-PC001", MAY_14, &["KB3205394", "KB4012215"], false),
    );
    let r = e.pipeline.ingest_file(&day2, &opts).await.unwrap();
    assert_eq!((r.hosts_new, r.hosts_updated), (0, 1), "same machine");
    assert!(r.findings_closed >= 2, "{r:?}");
    let now = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert!(!rules_of(&now[0]).contains(&"ms17-010-missing".to_string()));
    let rule = RuleId::new("ms17-010-missing").unwrap();
    let on = |d: &str| HostFilter {
        rule: Some(rule.clone()),
        at: Some(Day::parse(d).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        e.store
            .count_hosts(&Scope::National, &on("2017-05-12"))
            .await
            .unwrap(),
        1,
        "vulnerable on WannaCry day"
    );
    assert_eq!(
        e.store
            .count_hosts(&Scope::National, &on("2017-05-14"))
            .await
            .unwrap(),
        0,
        "fixed on the 14th"
    );
    let p = e
        .store
        .posture(
            &Scope::National,
            vigie_store::GroupBy::Region,
            Day::parse("2017-05-12").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(p[0].rules.get("ms17-010-missing"), Some(&1));
    let rem = e
        .store
        .remediation(
            &Scope::National,
            &rule,
            Day::parse("2017-05-01").unwrap(),
            Day::parse("2017-05-31").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rem.closed, 1);
    assert_eq!(rem.median_days, Some(3.0));

    // re-ingesting a file changes nothing
    let again = e.pipeline.ingest_file(&day1, &opts).await.unwrap();
    assert_eq!(again.status, FileStatus::AlreadyIngested);
    let after = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(after, now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fusion_windows81_sample_fixed_but_end_of_life() {
    let mut e = env().await;
    let opts = IngestOptions {
        establishment: Some(EstablishmentCode::new("W81").unwrap()),
        ..Default::default()
    };
    let r = e
        .pipeline
        .ingest_file(
            &fixture("fusion/fusioninventory_windows81_sample.xml"),
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(r.hosts_new, 1, "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let h = &hosts[0];
    assert_eq!(h.establishment.as_ref().unwrap().as_str(), "W81");
    assert_eq!(h.os.build, Some(9600));
    assert_eq!(h.sources[0].kind.as_str(), "fusion-xml");
    // observed 2017-05-15: KB4019215 fixes MS17-010, and 8.1 was supported then
    let then = e
        .store
        .hosts(
            &Scope::National,
            &HostFilter {
                at: Some(vigie_core::Day::parse("2017-05-16").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rules = rules_of(&then[0]);
    assert!(
        !rules.contains(&"ms17-010-missing".to_string()),
        "{rules:?}"
    );
    assert!(!rules.contains(&"os-eol".to_string()), "{rules:?}");
    // today, without any assessment: the last known OS has been out of
    // support since 2023-01-10, and the newest update (May 2017) passed 60
    // days on 2017-07-09
    let first_seen = |h: &HostView, rule: &str| {
        h.findings
            .iter()
            .find(|f| f.rule.as_str() == rule && f.resolved_at.is_none())
            .map(|f| f.first_seen.to_string())
    };
    assert_eq!(
        first_seen(h, "os-eol").as_deref(),
        Some("2023-01-10T00:00:00Z"),
        "{:?}",
        rules_of(h)
    );
    assert_eq!(
        first_seen(h, "patch-age").as_deref(),
        Some("2017-07-09T00:00:00Z"),
        "{:?}",
        rules_of(h)
    );
    assert!(!rules_of(h).contains(&"ms17-010-missing".to_string()));
    let posture = e
        .store
        .posture(
            &Scope::National,
            vigie_store::GroupBy::Sector,
            vigie_core::Day::parse("2024-01-01").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(posture[0].rules.get("os-eol"), Some(&1), "{posture:?}");
    // an assessment today finds the history already right
    let today: jiff::Timestamp = "2026-11-22T06:00:00Z".parse().unwrap();
    let a = e.pipeline.assess(today).await.unwrap();
    assert_eq!(a.hosts, 1);
    assert_eq!((a.findings_opened, a.findings_closed), (0, 0), "{a:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(
        first_seen(&hosts[0], "os-eol").as_deref(),
        Some("2023-01-10T00:00:00Z")
    );
    // LOGDATE is the agent's local time; the inventory's TIMEZONE (+0200) makes it UTC
    assert_eq!(
        hosts[0].last_seen.to_string(),
        "2017-05-15T16:38:07Z",
        "assessment is not an observation"
    );
    // a second assessment the same day changes nothing
    let again = e.pipeline.assess(today).await.unwrap();
    assert_eq!((again.findings_opened, again.findings_closed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_file_leaves_the_database_as_it_was() {
    let mut e = env().await;
    let opts = IngestOptions::default();
    let good = write(
        &e.dir,
        "good.jsonl",
        &win7_lines("RBH-PC002", MAY_11, &[], false),
    );
    e.pipeline.ingest_file(&good, &opts).await.unwrap();
    let before = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let stats_before = e.store.stats(&Scope::National).await.unwrap();

    // a second host, then a line cut in the middle
    let mut text = win7_lines("RBH-PC003", MAY_14, &["KB4012212"], false);
    text.push_str(&win7_lines("RBH-PC002", MAY_14, &["KB4012212"], false));
    text.push_str(r#"{"snapshot":[{"name":"Microsoft Windows 7","version":"6.1."#);
    let bad = write(&e.dir, "bad.jsonl", &text);
    let err = e.pipeline.ingest_file(&bad, &opts).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IngestError::Parse { .. }), "{msg}");
    assert!(
        msg.contains("bad.jsonl") && msg.contains("line 9"),
        "error names the file and line: {msg}"
    );
    assert_eq!(
        e.store
            .hosts(&Scope::National, &HostFilter::default())
            .await
            .unwrap(),
        before
    );
    assert_eq!(e.store.stats(&Scope::National).await.unwrap(), stats_before);

    // garbage of every kind is refused the same way
    for (name, bytes) in [
        (
            "garbage.xml",
            b"<?xml version=\"1.0\"?><REQUEST><CONTENT><HARDWARE><NAME>x</NAME>".to_vec(),
        ),
        ("empty.json", b"{\"content\": ".to_vec()),
        ("noise.bin", vec![0xff, 0xfe, 0x00, 0x01, 0x02]),
    ] {
        let p = e.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        assert!(
            e.pipeline.ingest_file(&p, &opts).await.is_err(),
            "{name} refused"
        );
    }
    assert_eq!(e.store.stats(&Scope::National).await.unwrap(), stats_before);
    // the pipeline is still usable after failures
    let r = e
        .pipeline
        .ingest_file(&fixture("osquery/windows7-snapshot.log"), &opts)
        .await
        .unwrap();
    assert!(r.observations > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_nmap_merge_and_unassigned() {
    let mut e = env().await;
    let opts = IngestOptions::default();
    // stdin-like stream, twice: the second time is recognised by its hash
    let bytes = std::fs::read(fixture("nmap/hospital-subnet.xml")).unwrap();
    let r = e
        .pipeline
        .ingest_reader("<stdin>", std::io::Cursor::new(bytes.clone()), &opts)
        .await
        .unwrap();
    assert_eq!(r.status, FileStatus::Ingested);
    assert!(r.hosts_new >= 2, "{r:?}");
    let again = e
        .pipeline
        .ingest_reader("<stdin>", std::io::Cursor::new(bytes), &opts)
        .await
        .unwrap();
    assert_eq!(again.status, FileStatus::AlreadyIngested);
    let chun = e
        .store
        .hosts(
            &Scope::Establishment(EstablishmentCode::new("CHUN").unwrap()),
            &HostFilter::default(),
        )
        .await
        .unwrap();
    assert!(!chun.is_empty(), "nmap hosts attributed by subnet");
    assert!(
        chun.iter()
            .all(|h| h.sources.iter().all(|s| s.kind.as_str() == "nmap"))
    );

    // a machine nothing claims is kept and counted
    let stray = win7_lines("LAPTOP-XYZ", MAY_11, &[], false)
        .replace(r#""establishment":"RBH""#, r#""establishment":"NOPE""#);
    let p = write(&e.dir, "stray.jsonl", &stray);
    let r = e.pipeline.ingest_file(&p, &opts).await.unwrap();
    assert_eq!(r.unassigned, 1);
    let un = HostFilter {
        unassigned_only: true,
        ..Default::default()
    };
    assert_eq!(e.store.count_hosts(&Scope::National, &un).await.unwrap(), 1);
    assert_eq!(
        e.store
            .stats(&Scope::National)
            .await
            .unwrap()
            .unassigned_hosts,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_scanner_reports_are_one_machine() {
    let mut e = env().await;
    let opts = IngestOptions::default();
    let agent = write(
        &e.dir,
        "agent.jsonl",
        &win7_lines("RBH-PC010", MAY_11, &["KB4012212"], false),
    );
    e.pipeline.ingest_file(&agent, &opts).await.unwrap();
    let scan = format!(
        r#"<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p445" start="{MAY_14}" version="7.93">
<host starttime="{MAY_14}" endtime="{MAY_14}"><status state="up"/>
<address addr="10.9.9.9" addrtype="ipv4"/>
<hostnames><hostname name="RBH-PC010" type="PTR"/></hostnames>
<ports><port protocol="tcp" portid="445"><state state="open"/><service name="microsoft-ds"/></port></ports>
<hostscript><script id="smb-protocols" output="dialects"><table key="dialects"><elem>NT LM 0.12 (SMBv1) [dangerous, but default]</elem><elem>2:0:2</elem></table></script></hostscript>
</host></nmaprun>
"#
    );
    let p = write(&e.dir, "scan.xml", &scan);
    let r = e.pipeline.ingest_file(&p, &opts).await.unwrap();
    assert_eq!((r.hosts_new, r.hosts_updated), (0, 1), "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1);
    let mut kinds: Vec<&str> = hosts[0].sources.iter().map(|s| s.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["nmap", "osquery"]);
    let rules = rules_of(&hosts[0]);
    assert!(
        rules.contains(&"smbv1-enabled".to_string()),
        "the scan's SMBv1 evidence counts: {rules:?}"
    );
    assert!(
        !rules.contains(&"ms17-010-missing".to_string()),
        "the agent's KB still counts: {rules:?}"
    );
}

/// Batches are written while the next one is evaluated: whatever the batch
/// size, the outcome must be the same as one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_does_not_change_the_outcome() {
    let mut text = String::new();
    // five machines, twice each, interleaved; the second report fixes MS17-010
    for round in 0..2 {
        for i in 0..5 {
            let kbs: &[&str] = if round == 0 {
                &["KB3205394"]
            } else {
                &["KB4012215"]
            };
            text.push_str(&win7_lines(
                &format!("RBH-PC1{i:02}"),
                MAY_11 + round * 86_400 + i,
                kbs,
                round == 0,
            ));
        }
    }
    type Summary = Vec<(Option<String>, Vec<String>, usize)>;
    let mut reference: Option<Summary> = None;
    for batch in [1usize, 2, 3, 7, 1000] {
        let e = env().await;
        let mut pipeline = pipeline_for(&e.store).await.with_batch_size(batch);
        let p = write(&e.dir, "mixed.jsonl", &text);
        let r = pipeline
            .ingest_file(&p, &IngestOptions::default())
            .await
            .unwrap();
        assert_eq!(r.hosts_new, 5, "batch {batch}: {r:?}");
        let hosts = e
            .store
            .hosts(&Scope::National, &HostFilter::default())
            .await
            .unwrap();
        let summary: Summary = hosts
            .iter()
            .map(|h| (h.hostname.clone(), rules_of(h), h.sources.len()))
            .collect();
        let rule = RuleId::new("ms17-010-missing").unwrap();
        let on_11 = HostFilter {
            rule: Some(rule),
            at: Some(Day::parse("2017-05-11").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            e.store.count_hosts(&Scope::National, &on_11).await.unwrap(),
            5,
            "batch {batch}"
        );
        match &reference {
            None => reference = Some(summary),
            Some(r) => assert_eq!(&summary, r, "batch size {batch} changed the outcome"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unassigned_machine_is_reattached_once_the_directory_knows_it() {
    let e = env().await;
    let text = |unix: i64| {
        win7_lines("WARD-PC01", unix, &[], false)
            .replace(r#""establishment":"RBH""#, r#""site":"""#)
    };
    let strip = without_hardware_ids;
    let mut p1 = pipeline_for(&e.store).await;
    let f1 = write(&e.dir, "d1.jsonl", &strip(text(MAY_11)));
    let r = p1
        .ingest_file(&f1, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!((r.hosts_new, r.unassigned), (1, 1), "{r:?}");
    // the directory learns the ward's naming scheme
    e.store
        .import_org(&[], &[est("WARD", "Y56", &["ward-*"], &[])])
        .await
        .unwrap();
    let mut p2 = pipeline_for(&e.store).await;
    let f2 = write(&e.dir, "d2.jsonl", &strip(text(MAY_14)));
    let r = p2
        .ingest_file(&f2, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (r.hosts_new, r.hosts_updated, r.unassigned),
        (0, 1, 0),
        "{r:?}"
    );
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1, "one machine, not two");
    assert_eq!(hosts[0].establishment.as_ref().unwrap().as_str(), "WARD");
    assert_eq!(hosts[0].first_seen.as_second(), MAY_11, "history kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weaker_attribution_does_not_move_a_machine() {
    let mut e = env().await;
    // tagged RBH by its inventory, but named like CHUN's machines
    let tagged = win7_lines("CHUN-PC09", MAY_11, &[], false);
    let f1 = write(&e.dir, "tagged.jsonl", &tagged);
    e.pipeline
        .ingest_file(&f1, &IngestOptions::default())
        .await
        .unwrap();
    // the same machine (same hardware ids) reported without a tag
    let untagged = win7_lines("CHUN-PC09", MAY_14, &[], false)
        .replace(r#""establishment":"RBH""#, r#""site":"""#);
    let f2 = write(&e.dir, "untagged.jsonl", &untagged);
    let r = e
        .pipeline
        .ingest_file(&f2, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!((r.hosts_new, r.hosts_updated), (0, 1), "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(
        hosts[0].establishment.as_ref().unwrap().as_str(),
        "RBH",
        "the tag outranks a hostname pattern"
    );
    assert_eq!(hosts[0].attribution.as_deref(), Some("inventory-tag"));
    // an explicit flag outranks the tag
    let flagged = win7_lines("CHUN-PC09", MAY_14 + 3600, &[], false);
    let f3 = write(&e.dir, "flagged.jsonl", &flagged);
    let opts = IngestOptions {
        establishment: Some(EstablishmentCode::new("CHUN").unwrap()),
        ..Default::default()
    };
    e.pipeline.ingest_file(&f3, &opts).await.unwrap();
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert_eq!(hosts[0].establishment.as_ref().unwrap().as_str(), "CHUN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_clock_does_not_date_evidence_in_the_future() {
    let mut e = env().await;
    let year_3000 = 32_503_680_000; // 3000-01-01
    let f = write(
        &e.dir,
        "future.jsonl",
        &win7_lines("RBH-PC500", year_3000, &[], false),
    );
    let r = e
        .pipeline
        .ingest_file(&f, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(r.future_dated, 1, "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    assert!(hosts[0].last_seen <= jiff::Timestamp::now());
    assert!(
        hosts[0]
            .findings
            .iter()
            .all(|f| f.first_seen <= jiff::Timestamp::now())
    );
}

/// One file in which a machine first reports without a tag, then with one:
/// whatever the batch size, it stays one machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_tagged_later_in_the_same_file_stays_one() {
    let strip = without_hardware_ids;
    let untagged = strip(
        win7_lines("LAB-PC7", MAY_11, &[], false)
            .replace(r#""establishment":"RBH""#, r#""site":"""#),
    );
    let tagged = strip(win7_lines("LAB-PC7", MAY_14, &[], false));
    let text = format!("{untagged}{tagged}");
    for batch in [1usize, 1000] {
        let e = env().await;
        let mut pipeline = pipeline_for(&e.store).await.with_batch_size(batch);
        let p = write(&e.dir, "lab.jsonl", &text);
        let r = pipeline
            .ingest_file(&p, &IngestOptions::default())
            .await
            .unwrap();
        assert_eq!(r.hosts_new, 1, "batch {batch}: {r:?}");
        let hosts = e
            .store
            .hosts(&Scope::National, &HostFilter::default())
            .await
            .unwrap();
        assert_eq!(hosts.len(), 1, "batch {batch}");
        assert_eq!(
            hosts[0].establishment.as_ref().map(|c| c.as_str()),
            Some("RBH"),
            "batch {batch}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_bytes_for_another_establishment_are_not_already_ingested() {
    let mut e = env().await;
    // without its establishment tag (a tag naming another establishment
    // makes a confined upload refused: see the test below)
    let bytes = std::fs::read_to_string(fixture("osquery/windows7-snapshot.log"))
        .unwrap()
        .replace(r#""establishment":"#, r#""x_note":"#)
        .into_bytes();
    let for_est = |code: &str| IngestOptions {
        establishment: Some(EstablishmentCode::new(code).unwrap()),
        confine: true,
        ..Default::default()
    };
    // an upload for W81, then the very same bytes for CHUN (two
    // establishments exporting the same image's inventory, say)
    let first = e
        .pipeline
        .ingest_reader("w81", std::io::Cursor::new(bytes.clone()), &for_est("W81"))
        .await
        .unwrap();
    assert_eq!(first.status, FileStatus::Ingested);
    let other = e
        .pipeline
        .ingest_reader(
            "chun",
            std::io::Cursor::new(bytes.clone()),
            &for_est("CHUN"),
        )
        .await
        .unwrap();
    assert_eq!(
        other.status,
        FileStatus::Ingested,
        "another establishment's upload is never answered from someone else's"
    );
    assert_eq!(
        other.content_hash, first.content_hash,
        "the content hash is the file's"
    );
    for code in ["W81", "CHUN"] {
        let n = e
            .store
            .count_hosts(
                &Scope::Establishment(EstablishmentCode::new(code).unwrap()),
                &HostFilter::default(),
            )
            .await
            .unwrap();
        assert!(n >= 1, "{code} has its machines");
    }
    // the same establishment again: recognised, nothing written
    let stats = e.store.stats(&Scope::National).await.unwrap();
    let again = e
        .pipeline
        .ingest_reader("w81", std::io::Cursor::new(bytes.clone()), &for_est("W81"))
        .await
        .unwrap();
    assert_eq!(again.status, FileStatus::AlreadyIngested);
    // and as a file, skipped before parsing
    let p = write(&e.dir, "again.log", &String::from_utf8(bytes).unwrap());
    let again = e.pipeline.ingest_file(&p, &for_est("CHUN")).await.unwrap();
    assert_eq!(again.status, FileStatus::AlreadyIngested);
    assert_eq!(e.store.stats(&Scope::National).await.unwrap(), stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_times_are_counted_and_never_the_evaluation_date() {
    let mut e = env().await;
    // year 10000 and i64::MAX (beyond any timestamp), 1970 and before
    let lines: String = [
        ("RBH-PC601", "9223372036854775807"),
        ("RBH-PC602", "253402300800"),
        ("RBH-PC603", "0"),
        ("RBH-PC604", "-86400"),
        ("RBH-PC605", &MAY_11.to_string()),
    ]
    .iter()
    .map(|(host, unix)| {
        win7_lines(host, 1, &[], false).replace("\"unixTime\":1,", &format!("\"unixTime\":{unix},"))
    })
    .collect();
    let f = write(&e.dir, "clocks.jsonl", &lines);
    let opts = IngestOptions::default();
    let r = e.pipeline.ingest_file(&f, &opts).await.unwrap();
    assert_eq!((r.future_dated, r.too_old, r.hosts_new), (2, 2, 5), "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    for h in &hosts {
        let name = h.hostname.as_deref().unwrap_or_default();
        if name == "RBH-PC605" {
            assert_eq!(h.last_seen.as_second(), MAY_11);
            continue;
        }
        // observed now: a Windows 7 past its end of support, not one
        // judged as of 1970 or of year 10000
        assert_eq!(h.last_seen.as_second(), opts.now.as_second(), "{name}");
        assert_eq!(h.first_seen.as_second(), opts.now.as_second(), "{name}");
        assert!(rules_of(h).contains(&"os-eol".to_string()), "{name}: {h:?}");
    }
    // the time given for a file that has none is held to the same window
    let f = write(
        &e.dir,
        "undated.csv",
        "Computer Name,Site Code\nRBH-PC606,RBH\n",
    );
    let opts = IngestOptions {
        observed_at: Some(jiff::Timestamp::UNIX_EPOCH),
        ..Default::default()
    };
    let r = e.pipeline.ingest_file(&f, &opts).await.unwrap();
    assert_eq!((r.too_old, r.hosts_new), (1, 1), "{r:?}");
    assert_eq!(r.last_observed, Some(opts.now), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_never_merged_by_decoding_and_stored_the_same_everywhere() {
    let mut e = env().await;
    let lines: String = ["SRV-@TAGE1", "SRV-#TAGE1", "SRV-\\u0000A"]
        .iter()
        .map(|h| without_hardware_ids(win7_lines(h, MAY_11, &[], false)))
        .collect();
    // the same name with an invalid byte in Windows-1252's é and è, and
    // a NUL (stored by SQLite, refused by PostgreSQL, if it got that far)
    let bytes: Vec<u8> = lines
        .into_bytes()
        .into_iter()
        .map(|b| match b {
            b'@' => 0xe9,
            b'#' => 0xe8,
            b => b,
        })
        .collect();
    let p = e.dir.join("bytes.jsonl");
    std::fs::write(&p, bytes).unwrap();
    let r = e
        .pipeline
        .ingest_file(&p, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!(r.hosts_new, 3, "{r:?}");
    assert!(r.values_escaped >= 1, "{r:?}");
    let mut names: Vec<String> = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|h| h.hostname)
        .collect();
    names.sort();
    assert_eq!(names, ["SRV-\\u{0}A", "SRV-èTAGE1", "SRV-éTAGE1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_host_name_is_stored_cut_and_counted() {
    let mut e = env().await;
    // the report: a 40 MB hardware.name, stored and served everywhere
    let name = "A".repeat(40 << 20);
    let program = "P".repeat(1 << 20);
    let doc = format!(
        r#"{{"itemtype":"Computer","tag":"RBH","content":{{"hardware":{{"name":"{name}"}},"accesslog":{{"logdate":"2017-05-11 08:00:00"}},"softwares":[{{"name":"{program}","version":"1"}}]}}}}"#
    );
    let f = write(&e.dir, "huge.json", &doc);
    let r = e
        .pipeline
        .ingest_file(&f, &IngestOptions::default())
        .await
        .unwrap();
    assert_eq!((r.hosts_new, r.values_truncated), (1, 2), "{r:?}");
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let stored = hosts[0].hostname.as_deref().unwrap();
    assert!(
        stored.len() <= vigie_inventory::MAX_IDENTIFIER_BYTES,
        "{}",
        stored.len()
    );
    assert!(
        stored.starts_with("AAAA") && stored.contains('…'),
        "{stored}"
    );
}

/// A file sent for one establishment whose inventory tags machines for
/// another: confined (an officer's or an ingest token's upload), it is
/// refused whole; sent by the CLI with `--establishment`, it is recorded as
/// asked and the report names the foreign machines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_tagged_for_another_establishment_are_said_or_refused() {
    let mut e = env().await;
    let mut log = String::new();
    for i in 0..5 {
        log.push_str(&win7_lines(&format!("rbh-pc{i}"), MAY_11, &[], false));
    }
    for i in 0..3 {
        log.push_str(
            &win7_lines(&format!("pc-chun{i}"), MAY_11, &[], false)
                .replace(r#""establishment":"RBH""#, r#""establishment":"CHUN""#),
        );
    }
    let f = write(&e.dir, "mixed.log", &log);
    let confined = IngestOptions {
        establishment: Some(EstablishmentCode::new("RBH").unwrap()),
        confine: true,
        ..Default::default()
    };
    let err = e.pipeline.ingest_file(&f, &confined).await.unwrap_err();
    assert!(matches!(err, IngestError::ForeignMachine { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("CHUN") && msg.contains("RBH") && msg.contains("nothing was stored"),
        "{msg}"
    );
    let stats = e.store.stats(&Scope::National).await.unwrap();
    assert_eq!((stats.hosts, stats.files), (0, 0));
    // the national operator's CLI: recorded in RBH as asked, and said
    let forced = IngestOptions {
        establishment: Some(EstablishmentCode::new("RBH").unwrap()),
        ..Default::default()
    };
    let r = e.pipeline.ingest_file(&f, &forced).await.unwrap();
    assert_eq!(r.foreign, 3, "{r:?}");
    assert!(
        r.foreign_examples
            .iter()
            .any(|x| x.contains("pc-chun0") && x.contains("CHUN")),
        "{r:?}"
    );
    let rbh = e
        .store
        .count_hosts(
            &Scope::Establishment(EstablishmentCode::new("RBH").unwrap()),
            &HostFilter::default(),
        )
        .await
        .unwrap();
    assert_eq!(rbh, 8);
}

/// A Windows 11 build above every release the knowledge base knows was
/// released after the base ends: its age is not known, so it is never
/// confirmed `patch-age` (it was reported "113 days" old, confirmed); it is
/// `unknown`, "newer than the knowledge base", with the horizon. A known
/// old build still is confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_newer_than_the_knowledge_base_is_not_patch_age() {
    let mut e = env().await;
    let csv = "Computer Name,Serial Number,Operating System,OS Version,Installed KBs,Last Hardware Scan\n\
               rbh-new,SN1,Microsoft Windows 11 Pro,10.0.26100.9999,,2026-11-20T08:00:00Z\n\
               rbh-old,SN2,Microsoft Windows 11 Pro,10.0.26100.3476,,2026-11-20T08:00:00Z\n";
    let f = write(&e.dir, "w11.csv", csv);
    let opts = IngestOptions {
        now: "2026-12-03T12:00:00Z".parse().unwrap(),
        ..Default::default()
    };
    e.pipeline.ingest_file(&f, &opts).await.unwrap();
    let hosts = e
        .store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let of = |name: &str| {
        rules_of(
            hosts
                .iter()
                .find(|h| h.hostname.as_deref() == Some(name))
                .unwrap(),
        )
    };
    let new = hosts
        .iter()
        .find(|h| h.hostname.as_deref() == Some("rbh-new"))
        .unwrap();
    // never judged late on what the base does not know: at most unknown,
    // with the horizon in the evidence (the bundled history ends in
    // August 2026, more than 60 days before this report)
    let age = new
        .findings
        .iter()
        .find(|f| f.rule.as_str() == "patch-age")
        .unwrap_or_else(|| panic!("{:?}", new.findings));
    assert_eq!(age.status, vigie_core::FindingStatus::Unknown, "{age:?}");
    let kb = age
        .evidence
        .get("knowledge_base")
        .cloned()
        .unwrap_or_default();
    assert!(
        kb.contains("newer than the knowledge base") && kb.contains("2026-"),
        "{:?}",
        age.evidence
    );
    let old = hosts
        .iter()
        .find(|h| h.hostname.as_deref() == Some("rbh-old"))
        .unwrap();
    assert!(
        old.findings
            .iter()
            .any(|f| f.rule.as_str() == "patch-age"
                && f.status == vigie_core::FindingStatus::Confirmed),
        "{:?}",
        of("rbh-old")
    );
}
