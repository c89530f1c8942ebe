//! The storage conformance suite. Every backend runs the same cases
//! (`tests/sqlite.rs`, `tests/postgres.rs`); a backend is conformant when
//! [`run_all`] passes on an empty database.
//!
//! Failures are returned as errors naming the case, so the caller's test
//! fails with a readable message rather than a panic deep in async code.

use crate::{AuditFilter, NewApiToken, NewAuditEntry, NewUser, SessionRecord, StoreError};
use crate::{
    FileRecord, GroupBy, HostChange, HostFilter, OsSummary, Scope, Step, Store, StoredSourceState,
    WatchEvent, WatchGroup, WatchSample, WatchStateRecord, WatchTargetInput,
};
use jiff::Timestamp;
use vigie_core::{
    AttributionReason, Day, Establishment, EstablishmentCode, EstablishmentKind, Evidence, Finding,
    FindingStatus, Hotfix, OsFacts, OsFamily, Region, RegionCode, RuleId, Severity, Software,
    SourceKind,
};

type CaseResult = std::result::Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("{} (line {})", format!($($msg)+), line!()));
        }
    };
}

macro_rules! tryc {
    ($e:expr) => {
        $e.map_err(|e| format!("{} failed: {e} (line {})", stringify!($e), line!()))?
    };
}

fn code(s: &str) -> EstablishmentCode {
    EstablishmentCode::new(s).unwrap_or_else(|_| unreachable_code())
}

fn unreachable_code() -> EstablishmentCode {
    // Only reached if a literal code above is invalid: a bug in this file.
    EstablishmentCode::new("INVALID").unwrap_or_else(|_| std::process::abort())
}

fn region(s: &str) -> RegionCode {
    RegionCode::new(s).unwrap_or_else(|_| std::process::abort())
}

fn rule(s: &str) -> RuleId {
    RuleId::new(s).unwrap_or_else(|_| std::process::abort())
}

fn day(s: &str) -> Day {
    Day::parse(s).unwrap_or_else(|_| std::process::abort())
}

fn at(s: &str) -> Timestamp {
    s.parse::<Timestamp>()
        .unwrap_or_else(|_| std::process::abort())
}

fn est(c: &str, r: &str, patterns: &[&str]) -> Establishment {
    Establishment {
        code: code(c),
        name: format!("Establishment {c}"),
        kind: EstablishmentKind::Acute,
        region: region(r),
        parent: Some("GHT-1".into()),
        hostname_patterns: patterns.iter().map(|s| s.to_string()).collect(),
        subnets: vec![],
    }
}

fn finding(r: &str, sev: Severity) -> Finding {
    let mut evidence = Evidence::new();
    evidence.insert("reason".into(), format!("{r} holds"));
    Finding {
        rule: rule(r),
        severity: sev,
        status: FindingStatus::Confirmed,
        evidence,
    }
}

fn review_finding(r: &str) -> Finding {
    Finding {
        status: FindingStatus::NeedsReview,
        ..finding(r, Severity::High)
    }
}

fn state(observed: Timestamp) -> StoredSourceState {
    StoredSourceState {
        kind: SourceKind::Osquery,
        observed_at: observed,
        os: Some(OsFacts {
            family: OsFamily::Windows,
            name: Some("Windows 7".into()),
            version: Some("6.1.7601".into()),
            build: Some(7601),
            ..Default::default()
        }),
        hotfixes: Some(vec![Hotfix {
            id: "KB4012212".into(),
            installed_on: None,
        }]),
        software_ids: Some(vec![]),
        features: None,
        network: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn change(
    host_id: i64,
    is_new: bool,
    prev: Option<Option<&str>>,
    est_code: Option<&str>,
    hostname: &str,
    observed: Timestamp,
    opened: Vec<Finding>,
    closed: Vec<&str>,
) -> HostChange {
    HostChange {
        host_id,
        is_new,
        previous_establishment: prev.map(|p| p.map(code)),
        establishment: est_code.map(code),
        attribution: est_code.map(|_| AttributionReason::HostnamePattern),
        hostname: Some(hostname.to_string()),
        keys: vec![format!(
            "name:{}:{}",
            est_code.unwrap_or("-"),
            hostname.to_lowercase()
        )],
        os: OsSummary {
            family: Some(OsFamily::Windows),
            name: Some("Windows 7".into()),
            version: Some("6.1.7601".into()),
            build: Some(7601),
            ubr: None,
        },
        observed_at: observed,
        first_seen: observed,
        source: Some(state(observed)),
        source_unchanged: false,
        opened,
        closed: closed.into_iter().map(rule).collect(),
        updated: vec![],
        bump_open: true,
        rewind_after: None,
    }
}

fn file(hash: &str) -> FileRecord {
    FileRecord {
        content_hash: hash.into(),
        name: format!("{hash}.json"),
        format: "osquery".into(),
        ingested_at: at("2017-05-12T10:00:00Z"),
        observations: 1,
        hosts: 1,
        unassigned: 0,
    }
}

async fn seed_org(store: &dyn Store) -> CaseResult {
    let regions = vec![
        Region {
            code: region("LDN"),
            name: "London".into(),
        },
        Region {
            code: region("NW"),
            name: "North West".into(),
        },
    ];
    let ests = vec![
        est("RAL", "LDN", &["ral-*"]),
        est("RBH", "LDN", &["rbh-*"]),
        est("RW3", "NW", &["rw3-*"]),
    ];
    let summary = tryc!(store.import_org(&regions, &ests).await);
    check!(
        summary.establishments_added == 3,
        "three establishments added, got {summary:?}"
    );
    Ok(())
}

/// Runs every case on an empty store, resetting between cases.
pub async fn run_all(store: &dyn Store) -> CaseResult {
    type Case = for<'a> fn(
        &'a dyn Store,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = CaseResult> + Send + 'a>,
    >;
    let cases: Vec<(&str, Case)> = vec![
        ("org_import_is_idempotent_and_scoped", |s| {
            Box::pin(org_import_is_idempotent_and_scoped(s))
        }),
        ("findings_are_intervals", |s| {
            Box::pin(findings_are_intervals(s))
        }),
        ("rollback_leaves_nothing", |s| {
            Box::pin(rollback_leaves_nothing(s))
        }),
        ("file_hash_is_recorded_once", |s| {
            Box::pin(file_hash_is_recorded_once(s))
        }),
        ("scopes_never_leak", |s| Box::pin(scopes_never_leak(s))),
        ("posture_and_trend_at_past_dates", |s| {
            Box::pin(posture_and_trend_at_past_dates(s))
        }),
        ("unknown_and_silent_are_counted_apart", |s| {
            Box::pin(unknown_and_silent_are_counted_apart(s))
        }),
        ("identity_keys_and_reattribution", |s| {
            Box::pin(identity_keys_and_reattribution(s))
        }),
        ("software_dictionary", |s| Box::pin(software_dictionary(s))),
        ("kb_updates_are_recorded", |s| {
            Box::pin(kb_updates_are_recorded(s))
        }),
        ("assessments_are_recorded_with_their_transaction", |s| {
            Box::pin(assessments_are_recorded_with_their_transaction(s))
        }),
        ("reassessment_changes_findings_only", |s| {
            Box::pin(reassessment_changes_findings_only(s))
        }),
        ("watch_targets_are_scoped_and_atomic", |s| {
            Box::pin(watch_targets_are_scoped_and_atomic(s))
        }),
        ("watch_history_and_uptime", |s| {
            Box::pin(watch_history_and_uptime(s))
        }),
        ("watch_incidents_survive_restarts", |s| {
            Box::pin(watch_incidents_survive_restarts(s))
        }),
        ("watch_changes_of_one_second_are_all_kept", |s| {
            Box::pin(watch_changes_of_one_second_are_all_kept(s))
        }),
        ("users_are_unique_and_can_be_disabled", |s| {
            Box::pin(users_are_unique_and_can_be_disabled(s))
        }),
        ("api_tokens_by_hash_revoke_and_expiry", |s| {
            Box::pin(api_tokens_by_hash_revoke_and_expiry(s))
        }),
        ("sessions_live_and_die", |s| {
            Box::pin(sessions_live_and_die(s))
        }),
        ("audit_log_order_and_filters", |s| {
            Box::pin(audit_log_order_and_filters(s))
        }),
        ("worst_hosts_and_sources_are_ranked_in_scope", |s| {
            Box::pin(worst_hosts_and_sources_are_ranked_in_scope(s))
        }),
    ];
    for (name, case) in cases {
        store
            .reset()
            .await
            .map_err(|e| format!("reset before {name}: {e}"))?;
        case(store)
            .await
            .map_err(|e| format!("[{}] {name}: {e}", store.backend()))?;
    }
    store
        .reset()
        .await
        .map_err(|e| format!("final reset: {e}"))?;
    Ok(())
}

async fn org_import_is_idempotent_and_scoped(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let again = tryc!(
        store
            .import_org(&[], &[est("RAL", "LDN", &["ral-*", "ral2-*"])])
            .await
    );
    check!(
        again.establishments_updated == 1 && again.establishments_added == 0,
        "update counted: {again:?}"
    );
    let org = tryc!(store.org().await);
    check!(org.establishments().len() == 3, "three establishments");
    let ral = org.get(&code("RAL")).ok_or("RAL missing")?;
    check!(
        ral.hostname_patterns == vec!["ral-*", "ral2-*"],
        "patterns updated: {:?}",
        ral.hostname_patterns
    );
    check!(
        org.by_hostname("RAL2-PC1").map(|e| e.code.as_str()) == Some("RAL"),
        "attribution by new pattern"
    );
    let london = tryc!(store.establishments(&Scope::Region(region("LDN"))).await);
    check!(
        london.len() == 2,
        "two London establishments, got {}",
        london.len()
    );
    let one = tryc!(
        store
            .establishments(&Scope::Establishment(code("RW3")))
            .await
    );
    check!(
        one.len() == 1 && one[0].code.as_str() == "RW3",
        "establishment scope sees itself"
    );
    // an establishment in an unknown region is refused, and nothing is written
    let bad = store.import_org(&[], &[est("ZZZ", "NOWHERE", &[])]).await;
    check!(bad.is_err(), "unknown region refused");
    check!(
        tryc!(store.org().await).get(&code("ZZZ")).is_none(),
        "nothing half-written"
    );
    Ok(())
}

async fn findings_are_intervals(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let t1 = at("2017-05-01T08:00:00Z");
    let t2 = at("2017-05-10T08:00:00Z");
    let t3 = at("2017-05-20T08:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let id = tryc!(tx.allocate_host_ids(1).await);
    tryc!(
        tx.apply(&[change(
            id,
            true,
            None,
            Some("RAL"),
            "RAL-PC1",
            t1,
            vec![
                finding("ms17-010-missing", Severity::Critical),
                finding("os-eol", Severity::High)
            ],
            vec![]
        )])
        .await
    );
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(t1)])
            .await
    );
    tryc!(tx.commit().await);

    let mut tx = tryc!(store.begin().await);
    let resolved = tryc!(
        tx.resolve_keys(&[vec!["hw:nothing".into(), "name:RAL:ral-pc1".into()]])
            .await
    );
    check!(
        resolved == vec![Some(id)],
        "host resolved by its name key, got {resolved:?}"
    );
    let loaded = tryc!(tx.load_hosts(&[id]).await);
    check!(
        loaded.len() == 1 && loaded[0].open_findings.len() == 2,
        "two open findings loaded"
    );
    check!(
        loaded[0].sources.len() == 1
            && loaded[0].sources[0]
                .hotfixes
                .as_ref()
                .is_some_and(|h| h.len() == 1),
        "source state round-trips"
    );
    // the assessment's load is the same machine without its identity keys
    let bare = tryc!(tx.load_hosts_for_assessment(&[id]).await);
    check!(
        !loaded[0].keys.is_empty() && bare.len() == 1 && bare[0].keys.is_empty(),
        "keys loaded for ingest only: {:?} / {:?}",
        loaded[0].keys,
        bare.first().map(|h| &h.keys)
    );
    check!(
        bare[0].sources == loaded[0].sources
            && bare[0].open_findings == loaded[0].open_findings
            && bare[0].open_at_last_seen == loaded[0].open_at_last_seen
            && bare[0].last_closed == loaded[0].last_closed
            && bare[0].first_seen == loaded[0].first_seen
            && bare[0].last_seen == loaded[0].last_seen,
        "the assessment's load differs only by the keys"
    );
    let mut c = change(
        id,
        false,
        Some(Some("RAL")),
        Some("RAL"),
        "RAL-PC1",
        t2,
        vec![],
        vec!["ms17-010-missing"],
    );
    c.first_seen = t1;
    tryc!(tx.apply(&[c]).await);
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(t2)])
            .await
    );
    tryc!(tx.commit().await);

    let mut tx = tryc!(store.begin().await);
    let mut c = change(
        id,
        false,
        Some(Some("RAL")),
        Some("RAL"),
        "RAL-PC1",
        t3,
        vec![],
        vec![],
    );
    c.first_seen = t1;
    // nothing changed in the source's facts: only its time is written
    c.source_unchanged = true;
    tryc!(tx.apply(&[c]).await);
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(t3)])
            .await
    );
    tryc!(tx.commit().await);

    let scope = Scope::National;
    let now = tryc!(store.hosts(&scope, &HostFilter::default()).await);
    check!(now.len() == 1, "one host");
    let h = &now[0];
    check!(
        h.findings.len() == 1 && h.findings[0].rule.as_str() == "os-eol",
        "only os-eol open now: {:?}",
        h.findings
    );
    check!(
        h.findings[0].first_seen == t1 && h.findings[0].last_seen == t3,
        "interval first/last seen: {:?}",
        h.findings[0]
    );
    check!(
        h.establishment.as_ref().map(|c| c.as_str()) == Some("RAL"),
        "establishment code"
    );
    check!(
        h.region.as_ref().map(|c| c.as_str()) == Some("LDN"),
        "region code"
    );
    check!(h.os.build == Some(7601), "os build stored");
    check!(
        h.sources.len() == 1 && h.sources[0].last_observed == t3,
        "source last observed: {:?}",
        h.sources
    );

    // on 2017-05-05 both findings were open
    let past = tryc!(
        store
            .hosts(
                &scope,
                &HostFilter {
                    at: Some(day("2017-05-05")),
                    ..Default::default()
                }
            )
            .await
    );
    check!(
        past.len() == 1 && past[0].findings.len() == 2,
        "two findings on 2017-05-05: {:?}",
        past.first().map(|h| &h.findings)
    );
    check!(
        past[0].findings.iter().all(|f| f.resolved_at.is_none()),
        "resolution after the date is hidden"
    );
    // before the host existed: nothing
    let before = tryc!(
        store
            .hosts(
                &scope,
                &HostFilter {
                    at: Some(day("2017-04-01")),
                    ..Default::default()
                }
            )
            .await
    );
    check!(before.is_empty(), "no host before first seen");
    // hosts with rule R on day D
    let with_ms17 = |d: &str| HostFilter {
        rule: Some(rule("ms17-010-missing")),
        at: Some(day(d)),
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&scope, &with_ms17("2017-05-09")).await) == 1,
        "ms17 on 05-09"
    );
    check!(
        tryc!(store.count_hosts(&scope, &with_ms17("2017-05-10")).await) == 0,
        "ms17 closed on 05-10"
    );
    let fixed_now = HostFilter {
        rule: Some(rule("ms17-010-missing")),
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&scope, &fixed_now).await) == 0,
        "ms17 not open now"
    );
    // time to remediate: opened 05-01 08:00, closed 05-10 08:00 = 9 days
    let rem = tryc!(
        store
            .remediation(
                &scope,
                &rule("ms17-010-missing"),
                day("2017-05-01"),
                day("2017-05-31")
            )
            .await
    );
    check!(
        rem.closed == 1 && rem.median_days == Some(9.0),
        "remediation stats: {rem:?}"
    );
    let stats = tryc!(store.stats(&scope).await);
    check!(
        stats.hosts == 1 && stats.open_findings == 1,
        "stats: {stats:?}"
    );
    Ok(())
}

async fn rollback_leaves_nothing(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    {
        let mut tx = tryc!(store.begin().await);
        tryc!(tx.record_file(&file("aaaa")).await);
        let id = tryc!(tx.allocate_host_ids(1).await);
        tryc!(
            tx.apply(&[change(
                id,
                true,
                None,
                Some("RAL"),
                "RAL-PC9",
                at("2017-05-01T00:00:00Z"),
                vec![finding("os-eol", Severity::High)],
                vec![]
            )])
            .await
        );
        // dropped without commit
    }
    check!(
        tryc!(
            store
                .count_hosts(&Scope::National, &HostFilter::default())
                .await
        ) == 0,
        "no host after rollback"
    );
    check!(
        tryc!(store.file_record("aaaa").await).is_none(),
        "file not recorded after rollback"
    );
    check!(
        tryc!(store.stats(&Scope::National).await).open_findings == 0,
        "no finding after rollback"
    );
    Ok(())
}

async fn file_hash_is_recorded_once(store: &dyn Store) -> CaseResult {
    let mut tx = tryc!(store.begin().await);
    check!(
        tryc!(tx.record_file(&file("bbbb")).await),
        "first record is new"
    );
    tryc!(tx.commit().await);
    let mut tx = tryc!(store.begin().await);
    check!(
        !tryc!(tx.record_file(&file("bbbb")).await),
        "second record is a duplicate"
    );
    tryc!(tx.commit().await);
    let rec = tryc!(store.file_record("bbbb").await).ok_or("file record missing")?;
    check!(
        rec.name == "bbbb.json" && rec.ingested_at == at("2017-05-12T10:00:00Z"),
        "file record fields: {rec:?}"
    );
    check!(tryc!(store.files(10).await).len() == 1, "one file listed");
    Ok(())
}

async fn scopes_never_leak(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let t = at("2017-05-01T00:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let first = tryc!(tx.allocate_host_ids(4).await);
    tryc!(
        tx.apply(&[
            change(
                first,
                true,
                None,
                Some("RAL"),
                "RAL-1",
                t,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
            change(
                first + 1,
                true,
                None,
                Some("RBH"),
                "RBH-1",
                t,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
            change(
                first + 2,
                true,
                None,
                Some("RW3"),
                "RW3-1",
                t,
                vec![finding("smbv1-enabled", Severity::High)],
                vec![]
            ),
            change(
                first + 3,
                true,
                None,
                None,
                "STRAY-1",
                t,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
        ])
        .await
    );
    tryc!(
        tx.refresh_daily(
            &[
                Some(code("RAL")),
                Some(code("RBH")),
                Some(code("RW3")),
                None
            ],
            &[Day::of_timestamp(t)]
        )
        .await
    );
    tryc!(tx.commit().await);

    let all = HostFilter::default();
    check!(
        tryc!(store.count_hosts(&Scope::National, &all).await) == 4,
        "national sees all four"
    );
    let ldn = Scope::Region(region("LDN"));
    let hosts = tryc!(store.hosts(&ldn, &all).await);
    check!(
        hosts.len() == 2
            && hosts
                .iter()
                .all(|h| h.region.as_ref().map(|r| r.as_str()) == Some("LDN")),
        "region sees its own two"
    );
    let ral = Scope::Establishment(code("RAL"));
    let hosts = tryc!(store.hosts(&ral, &all).await);
    check!(
        hosts.len() == 1 && hosts[0].hostname.as_deref() == Some("RAL-1"),
        "establishment sees its own host"
    );
    // asking for another perimeter's establishment through the filter reads nothing
    let other = HostFilter {
        establishment: Some(code("RW3")),
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&ral, &other).await) == 0,
        "filter cannot widen the scope"
    );
    check!(
        tryc!(store.count_hosts(&ldn, &other).await) == 0,
        "region cannot read another region"
    );
    let unassigned = HostFilter {
        unassigned_only: true,
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&ldn, &unassigned).await) == 0,
        "unassigned machines are national only"
    );
    check!(
        tryc!(store.count_hosts(&Scope::National, &unassigned).await) == 1,
        "one unassigned machine"
    );
    let posture = tryc!(
        store
            .posture(&ral, GroupBy::Establishment, day("2017-05-01"))
            .await
    );
    check!(
        posture.len() == 1 && posture[0].group == "RAL",
        "posture scoped: {posture:?}"
    );
    let posture = tryc!(
        store
            .posture(&ldn, GroupBy::Sector, day("2017-05-01"))
            .await
    );
    check!(
        posture.len() == 1
            && posture[0].hosts == 2
            && !posture[0].rules.contains_key("smbv1-enabled"),
        "regional sector view: {posture:?}"
    );
    let stats = tryc!(store.stats(&ral).await);
    check!(
        stats.hosts == 1 && stats.open_findings == 1 && stats.unassigned_hosts == 0,
        "scoped stats: {stats:?}"
    );
    check!(
        store
            .hosts(&Scope::Establishment(code("NOPE")), &all)
            .await
            .is_err(),
        "unknown scope is an error"
    );
    Ok(())
}

async fn worst_hosts_and_sources_are_ranked_in_scope(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let t = at("2017-05-01T00:00:00Z");
    let later = at("2017-05-03T00:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let first = tryc!(tx.allocate_host_ids(5).await);
    let (a, b, c, d, e) = (first, first + 1, first + 2, first + 3, first + 4);
    tryc!(
        tx.apply(&[
            // RAL: a = critical + high (110), b = high + high (20) of which
            // one closes later, c = two lows (2), d = none
            change(
                a,
                true,
                None,
                Some("RAL"),
                "RAL-A",
                t,
                vec![
                    finding("ms17-010-missing", Severity::Critical),
                    finding("smbv1-enabled", Severity::High)
                ],
                vec![]
            ),
            change(
                b,
                true,
                None,
                Some("RAL"),
                "RAL-B",
                t,
                vec![
                    finding("os-eol", Severity::High),
                    finding("smbv1-enabled", Severity::High)
                ],
                vec![]
            ),
            change(
                c,
                true,
                None,
                Some("RAL"),
                "RAL-C",
                t,
                vec![
                    finding("patch-lag", Severity::Low),
                    finding("kev-software", Severity::Low)
                ],
                vec![]
            ),
            change(d, true, None, Some("RAL"), "RAL-D", t, vec![], vec![]),
            // another establishment of the region, heavier than all
            change(
                e,
                true,
                None,
                Some("RBH"),
                "RBH-E",
                t,
                vec![
                    finding("ms17-010-missing", Severity::Critical),
                    finding("os-eol", Severity::Critical)
                ],
                vec![]
            ),
        ])
        .await
    );
    tryc!(tx.commit().await);
    // b's smbv1 finding closes two days later
    let mut tx = tryc!(store.begin().await);
    let mut close = change(
        b,
        false,
        Some(Some("RAL")),
        Some("RAL"),
        "RAL-B",
        later,
        vec![],
        vec!["smbv1-enabled"],
    );
    close.first_seen = t;
    tryc!(tx.apply(&[close]).await);
    tryc!(tx.commit().await);

    let ral = Scope::Establishment(code("RAL"));
    let all = HostFilter::default();
    let names = |v: &[crate::HostView]| -> Vec<String> {
        v.iter()
            .map(|h| h.hostname.clone().unwrap_or_default())
            .collect()
    };
    let worst = tryc!(store.worst_hosts(&ral, &all).await);
    check!(
        names(&worst) == ["RAL-A", "RAL-B", "RAL-C"],
        "heaviest first, machines without findings left out, other establishments out of scope: {:?}",
        names(&worst)
    );
    check!(
        worst[0].findings.len() == 2 && worst[1].findings.len() == 1,
        "views carry their open findings: {:?}",
        worst.iter().map(|h| h.findings.len()).collect::<Vec<_>>()
    );
    // at a past date b still had both findings; c is lighter either way
    let past = HostFilter {
        at: Some(day("2017-05-01")),
        ..Default::default()
    };
    let worst = tryc!(store.worst_hosts(&ral, &past).await);
    check!(
        names(&worst) == ["RAL-A", "RAL-B", "RAL-C"] && worst[1].findings.len() == 2,
        "at a past date: {:?}",
        names(&worst)
    );
    let ldn = Scope::Region(region("LDN"));
    let limited = HostFilter {
        limit: Some(2),
        ..Default::default()
    };
    let worst = tryc!(store.worst_hosts(&ldn, &limited).await);
    check!(
        names(&worst) == ["RBH-E", "RAL-A"],
        "region ranks across its establishments, limit applies: {:?}",
        names(&worst)
    );
    let by_rule = HostFilter {
        rule: Some(rule("os-eol")),
        ..Default::default()
    };
    let worst = tryc!(store.worst_hosts(&ral, &by_rule).await);
    check!(
        names(&worst) == ["RAL-B"],
        "only machines with the rule: {:?}",
        names(&worst)
    );
    // the filter cannot widen the scope
    let other = HostFilter {
        establishment: Some(code("RBH")),
        ..Default::default()
    };
    check!(
        tryc!(store.worst_hosts(&ral, &other).await).is_empty(),
        "another establishment through the filter reads nothing"
    );
    check!(
        tryc!(store.worst_hosts(&Scope::Region(region("NW")), &all).await).is_empty(),
        "a region without findings ranks nothing"
    );

    // counting machines with a rule's open finding agrees with the list,
    // in every perimeter, and a filter cannot widen it
    for (scope, filter, want) in [
        (&ral, by_rule.clone(), 1),
        (&ldn, by_rule.clone(), 2),
        (&Scope::National, by_rule.clone(), 2),
        (
            &ral,
            HostFilter {
                establishment: Some(code("RBH")),
                ..by_rule.clone()
            },
            0,
        ),
        (
            &ldn,
            HostFilter {
                establishment: Some(code("RBH")),
                ..by_rule.clone()
            },
            1,
        ),
        (
            &Scope::National,
            HostFilter {
                region: Some(region("NW")),
                ..by_rule.clone()
            },
            0,
        ),
        (
            &ral,
            HostFilter {
                rule: Some(rule("smbv1-enabled")),
                ..Default::default()
            },
            1,
        ),
        (
            &ral,
            HostFilter {
                rule: Some(rule("smbv1-enabled")),
                at: Some(day("2017-05-01")),
                ..Default::default()
            },
            2,
        ),
    ] {
        let n = tryc!(store.count_hosts(scope, &filter).await);
        let listed = tryc!(store.hosts(scope, &filter).await).len() as u64;
        check!(
            n == want && listed == want,
            "count {n}, listed {listed}, want {want} for {scope:?} {filter:?}"
        );
    }

    let sources = tryc!(store.source_summary(&ral, &all).await);
    check!(
        sources.len() == 1
            && sources[0].source == SourceKind::Osquery
            && sources[0].hosts == 4
            && sources[0].last_observed == later,
        "one source describing the four machines, latest report: {sources:?}"
    );
    let sources = tryc!(store.source_summary(&ldn, &all).await);
    check!(
        sources.len() == 1 && sources[0].hosts == 5,
        "region counts both establishments: {sources:?}"
    );
    check!(
        tryc!(store.source_summary(&ral, &other).await).is_empty(),
        "sources: the filter cannot widen the scope"
    );
    Ok(())
}

async fn posture_and_trend_at_past_dates(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    // day 1: 3 hosts in RAL, 2 on XP (os-eol); day 3: one migrated; day 5: another
    let d1 = at("2017-05-01T09:00:00Z");
    let d3 = at("2017-05-03T09:00:00Z");
    let d5 = at("2017-05-05T09:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let first = tryc!(tx.allocate_host_ids(4).await);
    tryc!(
        tx.apply(&[
            change(
                first,
                true,
                None,
                Some("RAL"),
                "RAL-1",
                d1,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
            change(
                first + 1,
                true,
                None,
                Some("RAL"),
                "RAL-2",
                d1,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
            change(
                first + 2,
                true,
                None,
                Some("RAL"),
                "RAL-3",
                d1,
                vec![review_finding("kev-software")],
                vec![]
            ),
            change(
                first + 3,
                true,
                None,
                Some("RW3"),
                "RW3-1",
                d1,
                vec![finding("os-eol", Severity::High)],
                vec![]
            ),
        ])
        .await
    );
    tryc!(
        tx.refresh_daily(
            &[Some(code("RAL")), Some(code("RW3"))],
            &[Day::of_timestamp(d1)]
        )
        .await
    );
    tryc!(tx.commit().await);
    for (t, host, name) in [(d3, first, "RAL-1"), (d5, first + 1, "RAL-2")] {
        let mut tx = tryc!(store.begin().await);
        let mut c = change(
            host,
            false,
            Some(Some("RAL")),
            Some("RAL"),
            name,
            t,
            vec![],
            vec!["os-eol"],
        );
        c.first_seen = d1;
        tryc!(tx.apply(&[c]).await);
        tryc!(
            tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(t)])
                .await
        );
        tryc!(tx.commit().await);
    }
    let nat = Scope::National;
    let p = |rows: &[crate::PostureRow], g: &str| {
        rows.iter()
            .find(|r| r.group == g)
            .map(|r| (r.hosts, r.rules.get("os-eol").copied().unwrap_or(0)))
    };
    let on = |d: &str| {
        let d = day(d);
        async move { store.posture(&nat_scope(), GroupBy::Establishment, d).await }
    };
    check!(
        p(&tryc!(on("2017-05-01").await), "RAL") == Some((3, 2)),
        "RAL on day 1"
    );
    let day1 = tryc!(on("2017-05-01").await);
    let ral = day1.iter().find(|r| r.group == "RAL").ok_or("RAL row")?;
    check!(
        ral.review.get("kev-software") == Some(&1)
            && ral.rules.get("kev-software").copied().unwrap_or(0) == 0,
        "needs-review findings are counted apart: {ral:?}"
    );
    check!(
        p(&tryc!(on("2017-05-02").await), "RAL") == Some((3, 2)),
        "carried forward on day 2"
    );
    check!(
        p(&tryc!(on("2017-05-04").await), "RAL") == Some((3, 1)),
        "RAL on day 4"
    );
    check!(
        p(&tryc!(on("2017-05-30").await), "RAL") == Some((3, 0)),
        "RAL at the end"
    );
    check!(
        tryc!(on("2017-04-30").await).is_empty(),
        "nothing before the first day"
    );
    let by_region = tryc!(
        store
            .posture(&nat, GroupBy::Region, day("2017-05-04"))
            .await
    );
    check!(
        p(&by_region, "LDN") == Some((3, 1)) && p(&by_region, "NW") == Some((1, 1)),
        "by region: {by_region:?}"
    );
    let sector = tryc!(
        store
            .posture(&nat, GroupBy::Sector, day("2017-05-04"))
            .await
    );
    check!(p(&sector, "sector") == Some((4, 2)), "sector: {sector:?}");

    let trend = tryc!(
        store
            .trend(
                &nat,
                &rule("os-eol"),
                GroupBy::Sector,
                day("2017-05-01"),
                day("2017-05-06"),
                Step::Day
            )
            .await
    );
    let values: Vec<u64> = trend.iter().map(|t| t.with_rule).collect();
    check!(
        values == vec![3, 3, 2, 2, 1, 1],
        "daily sector trend: {values:?}"
    );
    // a window that starts later carries each establishment's last value
    // from before it: the same points as the tail of the longer window
    for (from, to, want) in [
        ("2017-05-03", "2017-05-06", vec![2, 2, 1, 1]),
        ("2017-05-05", "2017-05-06", vec![1, 1]),
        ("2017-05-20", "2017-05-22", vec![1, 1, 1]),
    ] {
        let later = tryc!(
            store
                .trend(
                    &nat,
                    &rule("os-eol"),
                    GroupBy::Sector,
                    day(from),
                    day(to),
                    Step::Day
                )
                .await
        );
        let got: Vec<u64> = later.iter().map(|t| t.with_rule).collect();
        let hosts: Vec<u64> = later.iter().map(|t| t.hosts).collect();
        let full_hosts = trend.last().map(|t| t.hosts).unwrap_or(0);
        check!(
            got == want && hosts.iter().all(|h| *h == full_hosts),
            "trend from {from}: {got:?} (machines {hosts:?}, want {want:?} and {full_hosts})"
        );
    }
    let weekly = tryc!(
        store
            .trend(
                &nat,
                &rule("os-eol"),
                GroupBy::Establishment,
                day("2017-05-01"),
                day("2017-05-14"),
                Step::Week
            )
            .await
    );
    let ral: Vec<(String, u64)> = weekly
        .iter()
        .filter(|t| t.group == "RAL")
        .map(|t| (t.day.to_string(), t.with_rule))
        .collect();
    check!(
        ral == vec![("2017-05-01".to_string(), 0), ("2017-05-08".to_string(), 0)],
        "weekly RAL trend (end-of-week values): {ral:?}"
    );
    check!(
        store
            .trend(
                &nat,
                &rule("os-eol"),
                GroupBy::Sector,
                day("2017-05-06"),
                day("2017-05-01"),
                Step::Day
            )
            .await
            .is_err(),
        "reversed window refused"
    );

    // a late file for day 2 rewrites the aggregates of later days too
    let mut tx = tryc!(store.begin().await);
    let extra = tryc!(tx.allocate_host_ids(1).await);
    tryc!(
        tx.apply(&[change(
            extra,
            true,
            None,
            Some("RAL"),
            "RAL-9",
            at("2017-05-02T09:00:00Z"),
            vec![finding("os-eol", Severity::High)],
            vec![]
        )])
        .await
    );
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[day("2017-05-02")])
            .await
    );
    tryc!(tx.commit().await);
    check!(
        p(&tryc!(on("2017-05-04").await), "RAL") == Some((4, 2)),
        "late data reaches later days"
    );
    Ok(())
}

fn nat_scope() -> Scope {
    Scope::National
}

/// Findings with status `unknown` are counted apart from confirmed and
/// needs-review ones in posture and trend, at every date; machines with a
/// `silent` finding are counted, and coverage is the share without one; a
/// change of status (unknown, then confirmed) is a new interval, not a
/// remediation.
async fn unknown_and_silent_are_counted_apart(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let d1 = at("2017-05-01T09:00:00Z");
    let d4 = at("2017-05-04T09:00:00Z");
    let unknown = |r: &str| Finding {
        status: FindingStatus::Unknown,
        ..finding(r, Severity::Critical)
    };
    let mut tx = tryc!(store.begin().await);
    let first = tryc!(tx.allocate_host_ids(3).await);
    tryc!(
        tx.apply(&[
            change(
                first,
                true,
                None,
                Some("RAL"),
                "RAL-1",
                d1,
                vec![
                    unknown("ms17-010-missing"),
                    finding(crate::SILENT_RULE, Severity::Medium)
                ],
                vec![]
            ),
            change(
                first + 1,
                true,
                None,
                Some("RAL"),
                "RAL-2",
                d1,
                vec![finding("ms17-010-missing", Severity::Critical)],
                vec![]
            ),
            change(
                first + 2,
                true,
                None,
                Some("RAL"),
                "RAL-3",
                d1,
                vec![],
                vec![]
            ),
        ])
        .await
    );
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(d1)])
            .await
    );
    tryc!(tx.commit().await);
    // day 4: RAL-1 reports again, its updates now known: confirmed missing
    let mut tx = tryc!(store.begin().await);
    let mut c = change(
        first,
        false,
        Some(Some("RAL")),
        Some("RAL"),
        "RAL-1",
        d4,
        vec![finding("ms17-010-missing", Severity::Critical)],
        vec!["ms17-010-missing", crate::SILENT_RULE],
    );
    c.first_seen = d1;
    tryc!(tx.apply(&[c]).await);
    tryc!(
        tx.refresh_daily(&[Some(code("RAL"))], &[Day::of_timestamp(d4)])
            .await
    );
    tryc!(tx.commit().await);

    let ral = |d: &str| {
        let d = day(d);
        async move {
            let rows = store
                .posture(&Scope::National, GroupBy::Establishment, d)
                .await
                .map_err(|e| e.to_string())?;
            rows.into_iter()
                .find(|r| r.group == "RAL")
                .ok_or_else(|| "no RAL row".to_string())
        }
    };
    let r = ral("2017-05-02").await?;
    let ms17 = |m: &std::collections::BTreeMap<String, u64>| {
        m.get("ms17-010-missing").copied().unwrap_or(0)
    };
    check!(
        r.hosts == 3 && ms17(&r.rules) == 1 && ms17(&r.unknown) == 1 && ms17(&r.review) == 0,
        "unknown counted apart: {r:?}"
    );
    check!(
        r.silent() == 1 && r.coverage().is_some_and(|c| (c - 2.0 / 3.0).abs() < 1e-9),
        "silent and coverage: {r:?}"
    );
    let r = ral("2017-05-04").await?;
    check!(
        ms17(&r.rules) == 2
            && ms17(&r.unknown) == 0
            && r.silent() == 0
            && r.coverage() == Some(1.0),
        "after the report: {r:?}"
    );
    let points = tryc!(
        store
            .trend(
                &Scope::National,
                &rule("ms17-010-missing"),
                GroupBy::Establishment,
                day("2017-05-01"),
                day("2017-05-04"),
                Step::Day,
            )
            .await
    );
    let point = |d: &str| {
        points
            .iter()
            .find(|p| p.group == "RAL" && p.day == day(d))
            .map(|p| (p.hosts, p.with_rule, p.unknown, p.silent))
    };
    check!(
        point("2017-05-03") == Some((3, 1, 1, 1)) && point("2017-05-04") == Some((3, 2, 0, 0)),
        "trend counts unknown and silent machines: {points:?}"
    );
    // the past keeps its status
    let status_on = |d: &str| {
        let d = day(d);
        async move {
            let hosts = store
                .hosts(
                    &Scope::National,
                    &HostFilter {
                        hostname: Some("RAL-1".into()),
                        at: Some(d),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(
                hosts
                    .first()
                    .and_then(|h| {
                        h.findings
                            .iter()
                            .find(|f| f.rule.as_str() == "ms17-010-missing")
                    })
                    .map(|f| f.status),
            )
        }
    };
    check!(
        status_on("2017-05-02").await? == Some(FindingStatus::Unknown),
        "unknown before the report"
    );
    check!(
        status_on("2017-05-05").await? == Some(FindingStatus::Confirmed),
        "confirmed after"
    );
    let r = tryc!(
        store
            .remediation(
                &Scope::National,
                &rule("ms17-010-missing"),
                day("2017-05-01"),
                day("2017-05-31"),
            )
            .await
    );
    check!(
        r.closed == 0 && r.still_open == 2,
        "a change of status is not a remediation: {r:?}"
    );
    Ok(())
}

async fn identity_keys_and_reattribution(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let t1 = at("2017-05-01T00:00:00Z");
    let t2 = at("2017-05-02T00:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let id = tryc!(tx.allocate_host_ids(1).await);
    let mut c = change(
        id,
        true,
        None,
        None,
        "PC-77",
        t1,
        vec![finding("os-eol", Severity::High)],
        vec![],
    );
    c.keys = vec!["hw:serial:abc123".into(), "name:-:pc-77".into()];
    tryc!(tx.apply(&[c]).await);
    tryc!(tx.refresh_daily(&[None], &[Day::of_timestamp(t1)]).await);
    tryc!(tx.commit().await);

    // the org directory now knows the machine: it moves to RBH with its history
    let mut tx = tryc!(store.begin().await);
    let found = tryc!(
        tx.resolve_keys(&[
            vec!["hw:serial:abc123".into()],
            vec!["hw:serial:zzz".into()]
        ])
        .await
    );
    check!(
        found == vec![Some(id), None],
        "hardware key resolves: {found:?}"
    );
    let mut c = change(
        id,
        false,
        Some(None),
        Some("RBH"),
        "PC-77",
        t2,
        vec![],
        vec![],
    );
    c.first_seen = t1;
    c.keys = vec!["hw:serial:abc123".into(), "name:RBH:pc-77".into()];
    tryc!(tx.apply(&[c]).await);
    tryc!(
        tx.refresh_daily(&[None, Some(code("RBH"))], &[Day::of_timestamp(t2)])
            .await
    );
    tryc!(tx.commit().await);
    let hosts = tryc!(
        store
            .hosts(&Scope::Establishment(code("RBH")), &HostFilter::default())
            .await
    );
    check!(
        hosts.len() == 1 && hosts[0].findings.len() == 1,
        "moved host keeps its open finding"
    );
    check!(
        hosts[0].findings[0].first_seen == t1,
        "history kept across the move"
    );
    let unassigned = HostFilter {
        unassigned_only: true,
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&Scope::National, &unassigned).await) == 0,
        "nothing left unassigned"
    );
    let by_name = HostFilter {
        hostname: Some("pc-77".into()),
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&Scope::National, &by_name).await) == 1,
        "hostname filter is case-insensitive"
    );
    Ok(())
}

async fn software_dictionary(store: &dyn Store) -> CaseResult {
    let sw = |n: &str, v: Option<&str>| Software {
        name: n.into(),
        version: v.map(str::to_string),
        publisher: None,
    };
    let items = vec![
        sw("7-Zip", Some("19.00")),
        sw("7-Zip", Some("23.01")),
        sw("VLC", None),
        sw("7-Zip", Some("19.00")),
    ];
    let mut tx = tryc!(store.begin().await);
    let ids = tryc!(tx.intern_software(&items).await);
    check!(
        ids.len() == 4 && ids[0] == ids[3] && ids[0] != ids[1],
        "dictionary ids: {ids:?}"
    );
    let again = tryc!(tx.intern_software(&items[1..3]).await);
    check!(again == ids[1..3], "interning is stable");
    let back = tryc!(tx.software_by_ids(&[ids[2]]).await);
    check!(
        back.len() == 1 && back[0].1 == sw("VLC", None),
        "software read back: {back:?}"
    );
    tryc!(tx.commit().await);
    check!(
        tryc!(store.stats(&Scope::National).await).software_dictionary == 3,
        "three distinct entries"
    );
    Ok(())
}

async fn kb_updates_are_recorded(store: &dyn Store) -> CaseResult {
    tryc!(
        store
            .record_kb_update("cisa-kev", "2025.08.25", "file:old.json", b"{}")
            .await
    );
    tryc!(
        store
            .record_kb_update("cisa-kev", "2026.08.21", "file:new.json", b"{\"x\":1}")
            .await
    );
    let ups = tryc!(store.kb_updates().await);
    check!(ups.len() == 1, "one current update per source: {ups:?}");
    check!(
        ups[0].0.version == "2026.08.21" && ups[0].1 == b"{\"x\":1}",
        "the newest load wins: {ups:?}"
    );
    Ok(())
}

async fn assessments_are_recorded_with_their_transaction(store: &dyn Store) -> CaseResult {
    let before = tryc!(store.last_assessment().await);
    // rolled back: not recorded
    let mut tx = tryc!(store.begin().await);
    tryc!(tx.record_assessment(at("2026-11-30T06:00:00Z")).await);
    drop(tx);
    check!(
        tryc!(store.last_assessment().await) == before,
        "a rolled-back assessment is not recorded"
    );
    for t in ["2026-11-30T06:00:00Z", "2026-12-01T06:00:00Z"] {
        let mut tx = tryc!(store.begin().await);
        tryc!(tx.record_assessment(at(t)).await);
        tryc!(tx.commit().await);
        check!(
            tryc!(store.last_assessment().await) == Some(at(t)),
            "the latest committed assessment is {t}"
        );
    }
    Ok(())
}

async fn reassessment_changes_findings_only(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let seen = at("2017-05-15T18:38:07Z");
    let later = at("2026-11-22T06:00:00Z");
    let mut tx = tryc!(store.begin().await);
    let id = tryc!(tx.allocate_host_ids(1).await);
    tryc!(
        tx.apply(&[change(
            id,
            true,
            None,
            Some("RBH"),
            "RBH-81",
            seen,
            vec![],
            vec![]
        )])
        .await
    );
    tryc!(
        tx.refresh_daily(&[Some(code("RBH"))], &[Day::of_timestamp(seen)])
            .await
    );
    tryc!(tx.commit().await);

    let mut tx = tryc!(store.begin().await);
    let ids = tryc!(tx.host_ids_after(0, 10, later).await);
    check!(ids == vec![id], "host ids page: {ids:?}");
    check!(
        tryc!(tx.host_ids_after(id, 10, later).await).is_empty(),
        "nothing after the last id"
    );
    check!(
        tryc!(tx.host_ids_after(0, 10, at("2017-01-01T00:00:00Z")).await).is_empty(),
        "not first seen yet"
    );
    let mut c = change(
        id,
        false,
        Some(Some("RBH")),
        Some("RBH"),
        "RBH-81",
        later,
        vec![finding("os-eol", Severity::Critical)],
        vec![],
    );
    c.source = None;
    c.source_unchanged = false;
    c.keys = vec![];
    c.bump_open = false;
    tryc!(tx.apply(&[c]).await);
    tryc!(
        tx.refresh_daily(&[Some(code("RBH"))], &[Day::of_timestamp(later)])
            .await
    );
    tryc!(tx.commit().await);

    let hosts = tryc!(store.hosts(&Scope::National, &HostFilter::default()).await);
    check!(hosts.len() == 1, "one host");
    check!(
        hosts[0].last_seen == seen,
        "re-assessment does not move last seen: {}",
        hosts[0].last_seen
    );
    check!(
        hosts[0].sources.len() == 1 && hosts[0].sources[0].last_observed == seen,
        "sources untouched"
    );
    check!(
        hosts[0].findings.len() == 1 && hosts[0].findings[0].first_seen == later,
        "finding opened at the assessment"
    );
    let before = HostFilter {
        rule: Some(rule("os-eol")),
        at: Some(day("2026-11-21")),
        ..Default::default()
    };
    check!(
        tryc!(store.count_hosts(&Scope::National, &before).await) == 0,
        "not eol the day before"
    );
    let p = tryc!(
        store
            .posture(&Scope::National, GroupBy::Sector, day("2026-11-22"))
            .await
    );
    check!(
        p[0].rules.get("os-eol") == Some(&1),
        "posture counts the re-assessed finding: {p:?}"
    );
    Ok(())
}

fn target(name: &str, est: Option<&str>, url: &str) -> WatchTargetInput {
    WatchTargetInput {
        name: name.into(),
        url: url.into(),
        establishment: est.map(code),
        options: "{}".into(),
    }
}

fn sample(target_id: i64, at: i64, observed: &str) -> WatchSample {
    WatchSample {
        target_id,
        at,
        observed: observed.into(),
        http_status: Some(200),
        dns_us: Some(1_000),
        connect_us: Some(2_000),
        tls_us: Some(3_000),
        first_byte_us: Some(4_000),
        total_us: 5_000,
        error: None,
        keep_raw: true,
    }
}

async fn watch_targets_are_scoped_and_atomic(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let first = vec![
        target("ral-portal", Some("RAL"), "https://portal.ral.example/"),
        target("rbh-www", Some("RBH"), "https://www.rbh.example/"),
        target("rw3-www", Some("RW3"), "https://www.rw3.example/"),
        target("ministry", None, "https://ministry.example/"),
    ];
    let import = tryc!(store.upsert_watch_targets(&first).await);
    check!(import.added == 4, "four added: {import:?}");
    let again = tryc!(store.upsert_watch_targets(&first).await);
    check!(
        again.unchanged == 4 && again.added == 0,
        "re-import changes nothing: {again:?}"
    );

    // all or nothing: one unknown establishment writes none
    let bad = vec![
        target("new-one", Some("RAL"), "https://new.example/"),
        target("ghost", Some("NOPE"), "https://ghost.example/"),
    ];
    check!(
        store.upsert_watch_targets(&bad).await.is_err(),
        "unknown establishment refused"
    );
    let dup = vec![
        target("twice", None, "https://a.example/"),
        target("twice", None, "https://b.example/"),
    ];
    check!(
        store.upsert_watch_targets(&dup).await.is_err(),
        "a name given twice is refused"
    );
    let all = tryc!(store.watch_targets(&Scope::National, false).await);
    check!(all.len() == 4, "nothing half-written: {}", all.len());

    // scopes: the region sees its establishments only, not the ministry's
    let ldn = tryc!(
        store
            .watch_targets(&Scope::Region(region("LDN")), false)
            .await
    );
    let names: Vec<&str> = ldn.iter().map(|t| t.name.as_str()).collect();
    check!(names == ["ral-portal", "rbh-www"], "London sees {names:?}");
    let rw3 = tryc!(
        store
            .watch_targets(&Scope::Establishment(code("RW3")), false)
            .await
    );
    check!(
        rw3.len() == 1 && rw3[0].region == Some(region("NW")),
        "RW3 sees its own: {rw3:?}"
    );

    // state round trip
    let id = all
        .iter()
        .find(|t| t.name == "ral-portal")
        .map(|t| t.id)
        .ok_or("ral-portal listed")?;
    let st = WatchStateRecord {
        status: "down".into(),
        since: 1_700_000_000,
        updated_at: 1_700_000_060,
        data: "{\"streak\":2}".into(),
    };
    tryc!(store.save_watch_states(&[(id, st.clone())]).await);
    let listed = tryc!(store.watch_targets(&Scope::National, false).await);
    let got = listed
        .iter()
        .find(|t| t.id == id)
        .and_then(|t| t.state.clone());
    check!(got == Some(st.clone()), "state stored: {got:?}");
    let light = tryc!(store.watch_target_list(&Scope::National).await);
    let l = light
        .iter()
        .find(|t| t.id == id)
        .and_then(|t| t.state.clone());
    check!(
        l.as_ref()
            .is_some_and(|l| l.status == st.status && l.data.is_empty()),
        "the light listing carries the status, not the memory: {l:?}"
    );

    // update of options keeps the state; a new URL drops it
    let mut changed = target("ral-portal", Some("RAL"), "https://portal.ral.example/");
    changed.options = "{\"timeout_s\":5}".into();
    let up = tryc!(store.upsert_watch_targets(&[changed]).await);
    check!(up.updated == 1, "options updated: {up:?}");
    let listed = tryc!(store.watch_targets(&Scope::National, false).await);
    let t = listed.iter().find(|t| t.id == id).ok_or("still listed")?;
    check!(
        t.state.is_some() && t.options.contains("timeout_s"),
        "{t:?}"
    );

    // removal keeps history, hides the target, and re-adding revives it
    tryc!(
        store
            .record_watch(&[sample(id, 1_700_000_100, "down")], &[])
            .await
    );
    check!(
        tryc!(store.remove_watch_target("ral-portal", 1_700_000_200).await),
        "removed"
    );
    check!(
        !tryc!(store.remove_watch_target("ral-portal", 1_700_000_300).await),
        "a second removal reports nothing to remove"
    );
    check!(
        !tryc!(store.remove_watch_target("nobody", 1_700_000_300).await),
        "unknown target"
    );
    let listed = tryc!(store.watch_targets(&Scope::National, false).await);
    check!(listed.len() == 3, "removed target hidden");
    let with_removed = tryc!(store.watch_targets(&Scope::National, true).await);
    check!(with_removed.len() == 4, "removed target kept");
    let kept = tryc!(
        store
            .watch_samples(&Scope::National, "ral-portal", 0, i64::MAX)
            .await
    );
    check!(kept.len() == 1, "history kept after removal");
    let revived = tryc!(
        store
            .upsert_watch_targets(&[target(
                "ral-portal",
                Some("RAL"),
                "https://portal.ral.example/"
            )])
            .await
    );
    check!(revived.updated == 1, "revived: {revived:?}");

    // moving a target to another establishment moves its history with it
    tryc!(
        store
            .upsert_watch_targets(&[target(
                "ral-portal",
                Some("RW3"),
                "https://portal.ral.example/"
            )])
            .await
    );
    let nw = tryc!(
        store
            .watch_samples(&Scope::Region(region("NW")), "ral-portal", 0, i64::MAX)
            .await
    );
    check!(nw.len() == 1, "history follows the target: {nw:?}");
    let ldn = tryc!(
        store
            .watch_samples(&Scope::Region(region("LDN")), "ral-portal", 0, i64::MAX)
            .await
    );
    check!(ldn.is_empty(), "old region no longer sees it");
    Ok(())
}

async fn watch_history_and_uptime(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    tryc!(
        store
            .upsert_watch_targets(&[
                target("ral-portal", Some("RAL"), "https://portal.ral.example/"),
                target("rw3-www", Some("RW3"), "https://www.rw3.example/"),
                target("ministry", None, "https://ministry.example/"),
            ])
            .await
    );
    let all = tryc!(store.watch_targets(&Scope::National, false).await);
    let id = |n: &str| all.iter().find(|t| t.name == n).map(|t| t.id).unwrap_or(-1);
    let (ral, rw3, min) = (id("ral-portal"), id("rw3-www"), id("ministry"));
    let d1 = day("2026-03-01");
    let t0 = d1.start_second();
    // day 1: RAL up 3 of 4 (one degraded among the 3), RW3 all down
    let mut samples = vec![
        sample(ral, t0 + 60, "up"),
        sample(ral, t0 + 120, "degraded"),
        sample(ral, t0 + 180, "up"),
        sample(ral, t0 + 240, "down"),
        sample(rw3, t0 + 60, "down"),
        sample(rw3, t0 + 120, "down"),
        sample(min, t0 + 60, "up"),
    ];
    samples[3].error = Some("connect: refused".into());
    let events = vec![WatchEvent {
        target_id: rw3,
        at: t0 + 120,
        from: "up".into(),
        to: "down".into(),
        detail: "{\"reason\":\"timeout\"}".into(),
    }];
    tryc!(store.record_watch(&samples, &events).await);
    // a thinned-out success counts in the uptime but keeps no raw row
    let mut thin = sample(ral, t0 + 300, "up");
    thin.keep_raw = false;
    tryc!(store.record_watch(&[thin], &[]).await);
    // a probe on the next day
    tryc!(
        store
            .record_watch(&[sample(min, t0 + 60 + 86_400, "up")], &[])
            .await
    );

    let by_target = tryc!(
        store
            .watch_uptime(&Scope::National, WatchGroup::Target, d1, d1.add_days(1))
            .await
    );
    let ral_row = by_target
        .iter()
        .find(|r| r.group == "ral-portal")
        .ok_or("ral row")?;
    check!(
        ral_row.probes == 5 && ral_row.up == 4 && ral_row.degraded == 1,
        "ral uptime {ral_row:?}"
    );
    let close = (ral_row.uptime() - 0.8).abs() < 1e-9;
    check!(close, "80 %");
    let by_region = tryc!(
        store
            .watch_uptime(&Scope::National, WatchGroup::Region, d1, d1)
            .await
    );
    let groups: Vec<(&str, u64, u64)> = by_region
        .iter()
        .map(|r| (r.group.as_str(), r.probes, r.up))
        .collect();
    check!(
        groups == [("(none)", 1, 1), ("LDN", 5, 4), ("NW", 2, 0)],
        "by region {groups:?}"
    );
    let sector = tryc!(
        store
            .watch_uptime(&Scope::National, WatchGroup::Sector, d1, d1.add_days(1))
            .await
    );
    check!(
        sector.len() == 2 && sector[0].probes == 8 && sector[1].probes == 1,
        "sector per day {sector:?}"
    );
    // scoped uptime never shows another region or the ministry
    let nw = tryc!(
        store
            .watch_uptime(&Scope::Region(region("NW")), WatchGroup::Target, d1, d1)
            .await
    );
    check!(
        nw.len() == 1 && nw[0].group == "rw3-www",
        "NW sees its target only: {nw:?}"
    );

    let evs = tryc!(store.watch_events(&Scope::National, 0, 10).await);
    check!(
        evs.len() == 1 && evs[0].target == "rw3-www" && evs[0].to == "down",
        "events {evs:?}"
    );
    let ldn_evs = tryc!(
        store
            .watch_events(&Scope::Region(region("LDN")), 0, 10)
            .await
    );
    check!(ldn_evs.is_empty(), "events scoped: {ldn_evs:?}");

    let s = tryc!(
        store
            .watch_samples(&Scope::National, "ral-portal", t0, t0 + 200)
            .await
    );
    check!(
        s.len() == 3 && s[0].at == t0 + 60 && s[0].tls_us == Some(3_000),
        "samples in range {s:?}"
    );
    let hidden = tryc!(
        store
            .watch_samples(&Scope::Region(region("NW")), "ral-portal", 0, i64::MAX)
            .await
    );
    check!(hidden.is_empty(), "another region's samples read as empty");

    // retention: raw samples go, the daily aggregates stay
    let pruned = tryc!(store.prune_watch_samples(t0 + 86_400).await);
    check!(pruned == 7, "pruned {pruned}");
    let after = tryc!(
        store
            .watch_uptime(&Scope::National, WatchGroup::Sector, d1, d1)
            .await
    );
    check!(
        after.len() == 1 && after[0].probes == 8,
        "aggregates survive pruning {after:?}"
    );

    // the notice register
    let n1 = tryc!(
        store
            .record_watch_notice(t0, "incident-opened", "incident-1", "{}", "[]")
            .await
    );
    let n2 = tryc!(
        store
            .record_watch_notice(t0 + 5, "incident-resolved", "incident-1", "{}", "[]")
            .await
    );
    check!(n2 > n1, "ids grow");
    let notices = tryc!(store.watch_notices(10).await);
    check!(
        notices.len() == 2 && notices[0].kind == "incident-resolved",
        "newest first {notices:?}"
    );
    Ok(())
}

/// Two state changes of one target in the same second, written by two
/// batches (`watch once` run twice in a second), are both kept, in order.
async fn watch_changes_of_one_second_are_all_kept(store: &dyn Store) -> CaseResult {
    tryc!(
        store
            .upsert_watch_targets(&[target("portal", None, "https://portal.example/")])
            .await
    );
    let all = tryc!(store.watch_targets(&Scope::National, false).await);
    let id = all.first().map(|t| t.id).ok_or("listed")?;
    let ev = |from: &str, to: &str| WatchEvent {
        target_id: id,
        at: 1_800_000_000,
        from: from.into(),
        to: to.into(),
        detail: format!("[{{\"kind\":\"{to}\"}}]"),
    };
    tryc!(store.record_watch(&[], &[ev("pending", "up")]).await);
    tryc!(
        store
            .record_watch(&[], &[ev("up", "degraded"), ev("degraded", "down")])
            .await
    );
    let evs = tryc!(store.watch_events(&Scope::National, 0, 10).await);
    let seen: Vec<(&str, &str)> = evs
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    check!(
        seen == [("degraded", "down"), ("up", "degraded"), ("pending", "up")],
        "every change kept, newest first: {seen:?}"
    );
    Ok(())
}

/// Open incidents of the watch: kept per runner with their members and
/// the routes their opening reached, until they end; ids never repeat.
async fn watch_incidents_survive_restarts(store: &dyn Store) -> CaseResult {
    use crate::WatchIncidentOp as Op;
    let first = tryc!(store.allocate_watch_incident_ids(64).await);
    let second = tryc!(store.allocate_watch_incident_ids(1).await);
    let third = tryc!(store.allocate_watch_incident_ids(0).await);
    check!(first >= 1, "ids start at 1: {first}");
    check!(
        second >= first + 64 && third > second,
        "a block is never handed out again: {first}, {second}, {third}"
    );
    let members = |names: &[&str]| -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    format!("{{\"target\":\"{n}\",\"status\":\"down\"}}"),
                )
            })
            .collect()
    };
    tryc!(
        store
            .save_watch_incidents(
                "national",
                &[
                    Op::Save {
                        key: "incident-7".into(),
                        data: "{\"announced\":false}".into(),
                        members: members(&["a", "b", "c"]),
                        removed: vec![],
                        at: 100,
                    },
                    // delivered after it was saved, in the same call
                    Op::Delivered {
                        key: "incident-7".into(),
                        routes: vec!["national".into(), "region-r1".into()],
                        at: 101,
                    },
                    // an incident that is not open: ignored
                    Op::Delivered {
                        key: "incident-99".into(),
                        routes: vec!["national".into()],
                        at: 101,
                    },
                    Op::Save {
                        key: "target:lone".into(),
                        data: "{\"since\":90}".into(),
                        members: members(&["lone"]),
                        removed: vec![],
                        at: 102,
                    },
                ],
            )
            .await
    );
    // it grows, a member changes, one came back before the notice
    tryc!(
        store
            .save_watch_incidents(
                "national",
                &[
                    Op::Save {
                        key: "incident-7".into(),
                        data: "{\"announced\":true}".into(),
                        members: vec![("b".into(), "{\"status\":\"defaced\"}".into())]
                            .into_iter()
                            .chain(members(&["d"]))
                            .collect(),
                        removed: vec!["c".into()],
                        at: 110,
                    },
                    // delivered twice on a route: kept once
                    Op::Delivered {
                        key: "incident-7".into(),
                        routes: vec!["national".into()],
                        at: 111,
                    },
                ],
            )
            .await
    );
    // another runner's incident
    tryc!(
        store
            .save_watch_incidents(
                "region:NW",
                &[Op::Save {
                    key: "incident-8".into(),
                    data: "{}".into(),
                    members: members(&["x"]),
                    removed: vec![],
                    at: 100,
                }],
            )
            .await
    );
    let open = tryc!(store.watch_open_incidents("national").await);
    let keys: Vec<&str> = open.iter().map(|i| i.key.as_str()).collect();
    check!(keys == ["incident-7", "target:lone"], "open: {keys:?}");
    let inc = &open[0];
    check!(
        inc.data == "{\"announced\":true}" && inc.updated_at == 110,
        "the latest record: {inc:?}"
    );
    let names: Vec<&str> = inc.members.iter().map(|(n, _)| n.as_str()).collect();
    check!(names == ["a", "b", "d"], "members {names:?}");
    check!(
        inc.members[1].1.contains("defaced"),
        "a changed member is replaced: {:?}",
        inc.members[1]
    );
    check!(
        inc.routes == ["national", "region-r1"],
        "routes {:?}",
        inc.routes
    );
    check!(
        open[1].routes.is_empty(),
        "the lone failure reached no route"
    );
    let nw = tryc!(store.watch_open_incidents("region:NW").await);
    check!(
        nw.len() == 1 && nw[0].key == "incident-8",
        "each runner sees its own: {nw:?}"
    );
    check!(
        tryc!(store.watch_open_incidents("nobody").await).is_empty(),
        "an unknown runner has none"
    );

    // it ends: forgotten with its members and deliveries
    tryc!(
        store
            .save_watch_incidents(
                "national",
                &[
                    Op::Close {
                        key: "incident-7".into(),
                    },
                    // a delivery recorded after the end is ignored
                    Op::Delivered {
                        key: "incident-7".into(),
                        routes: vec!["late".into()],
                        at: 120,
                    },
                ],
            )
            .await
    );
    let open = tryc!(store.watch_open_incidents("national").await);
    let keys: Vec<&str> = open.iter().map(|i| i.key.as_str()).collect();
    check!(keys == ["target:lone"], "after the end: {keys:?}");
    // the same key saved again starts empty (nothing left behind)
    tryc!(
        store
            .save_watch_incidents(
                "national",
                &[Op::Save {
                    key: "incident-7".into(),
                    data: "{}".into(),
                    members: vec![],
                    removed: vec![],
                    at: 130,
                }],
            )
            .await
    );
    let open = tryc!(store.watch_open_incidents("national").await);
    let again = open
        .iter()
        .find(|i| i.key == "incident-7")
        .ok_or("saved again")?;
    check!(
        again.members.is_empty() && again.routes.is_empty(),
        "no members or deliveries left from before: {again:?}"
    );
    // nothing to do
    tryc!(store.save_watch_incidents("national", &[]).await);
    Ok(())
}

// --- accounts, tokens, sessions, audit ------------------------------------

fn secs(n: i64) -> Timestamp {
    Timestamp::from_second(n).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn new_user(name: &str, role: &str, region_code: Option<&str>, est: Option<&str>) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
        role: role.into(),
        region: region_code.map(region),
        establishment: est.map(code),
        created_at: secs(1_790_000_000),
    }
}

/// A fake token hash: 64 hex digits derived from `n`.
fn token_hash(n: u32) -> String {
    format!("{n:064x}")
}

fn new_token(name: &str, n: u32, prefix: &str) -> NewApiToken {
    NewApiToken {
        name: name.into(),
        prefix: prefix.into(),
        token_hash: token_hash(n),
        role: "ingest".into(),
        region: None,
        establishment: Some(code("RAL")),
        created_by: "cli:test".into(),
        created_at: secs(1_790_000_000),
        expires_at: None,
    }
}

fn session(hash_n: u32, user_id: i64, expires: i64) -> SessionRecord {
    SessionRecord {
        id_hash: token_hash(hash_n),
        user_id,
        csrf_token: format!("csrf-{hash_n}"),
        created_at: secs(1_790_000_000),
        expires_at: secs(expires),
        last_seen_at: secs(1_790_000_000),
    }
}

async fn users_are_unique_and_can_be_disabled(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let alice = tryc!(
        store
            .create_user(&new_user("alice", "national-admin", None, None))
            .await
    );
    check!(
        alice.username == "alice" && alice.disabled_at.is_none() && alice.last_login_at.is_none(),
        "created {alice:?}"
    );
    // duplicate username: Invalid, nothing written
    let dup = store
        .create_user(&new_user("alice", "national-analyst", None, None))
        .await;
    check!(
        matches!(dup, Err(StoreError::Invalid(_))),
        "duplicate username refused as invalid, got {dup:?}"
    );
    // unknown perimeters
    let r = store
        .create_user(&new_user("bob", "regional-analyst", Some("ZZZ"), None))
        .await;
    check!(
        matches!(r, Err(StoreError::UnknownRegion(_))),
        "unknown region, got {r:?}"
    );
    let r = store
        .create_user(&new_user(
            "bob",
            "establishment-officer",
            None,
            Some("NOPE"),
        ))
        .await;
    check!(
        matches!(r, Err(StoreError::UnknownEstablishment(_))),
        "unknown establishment, got {r:?}"
    );
    let r = store
        .create_user(&new_user("", "national-analyst", None, None))
        .await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "empty name, got {r:?}"
    );
    let users = tryc!(store.users().await);
    check!(
        users.len() == 1,
        "failed creations write nothing: {users:?}"
    );
    let bob = tryc!(
        store
            .create_user(&new_user("bob", "regional-analyst", Some("LDN"), None))
            .await
    );
    check!(bob.id != alice.id, "distinct ids");
    let carol = tryc!(
        store
            .create_user(&new_user(
                "carol",
                "establishment-officer",
                None,
                Some("RW3")
            ))
            .await
    );
    let users = tryc!(store.users().await);
    check!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>()
            == ["alice", "bob", "carol"],
        "users by name: {users:?}"
    );
    let found = tryc!(store.user_by_name("bob").await);
    check!(found.as_ref() == Some(&bob), "bob by name: {found:?}");
    check!(
        found.as_ref().and_then(|u| u.region.clone()) == Some(region("LDN")),
        "region stored"
    );
    let found = tryc!(store.user_by_id(carol.id).await);
    check!(
        found.as_ref().and_then(|u| u.establishment.clone()) == Some(code("RW3")),
        "carol by id: {found:?}"
    );
    check!(
        found.as_ref().map(|u| u.password_hash.as_str()) == Some(carol.password_hash.as_str()),
        "password hash stored"
    );
    check!(
        tryc!(store.user_by_name("nobody").await).is_none(),
        "unknown name"
    );
    check!(
        tryc!(store.user_by_name("ALICE").await).is_none(),
        "names are exact"
    );
    check!(tryc!(store.user_by_id(9999).await).is_none(), "unknown id");

    tryc!(store.record_login(alice.id, secs(1_790_000_100)).await);
    let a = tryc!(store.user_by_name("alice").await);
    check!(
        a.and_then(|u| u.last_login_at) == Some(secs(1_790_000_100)),
        "last login recorded"
    );

    // disabling drops sessions; a second disable keeps the first time
    tryc!(
        store
            .create_session(&session(1, bob.id, 1_790_090_000))
            .await
    );
    tryc!(
        store
            .create_session(&session(2, alice.id, 1_790_090_000))
            .await
    );
    let d = tryc!(
        store
            .set_user_disabled("bob", true, secs(1_790_000_200))
            .await
    );
    check!(
        d.as_ref().and_then(|u| u.disabled_at) == Some(secs(1_790_000_200)),
        "disabled: {d:?}"
    );
    check!(
        tryc!(store.session_by_hash(&token_hash(1)).await).is_none(),
        "a disabled user's sessions are gone"
    );
    check!(
        tryc!(store.session_by_hash(&token_hash(2)).await).is_some(),
        "other users' sessions stay"
    );
    let d = tryc!(
        store
            .set_user_disabled("bob", true, secs(1_790_000_900))
            .await
    );
    check!(
        d.and_then(|u| u.disabled_at) == Some(secs(1_790_000_200)),
        "first disable time kept"
    );
    let stored = tryc!(store.user_by_name("bob").await);
    check!(
        stored.as_ref().is_some_and(|u| u.is_disabled()),
        "disabled stored: {stored:?}"
    );
    let e = tryc!(
        store
            .set_user_disabled("bob", false, secs(1_790_001_000))
            .await
    );
    check!(e.is_some_and(|u| !u.is_disabled()), "enabled");
    let stored = tryc!(store.user_by_name("bob").await);
    check!(
        stored.is_some_and(|u| u.disabled_at.is_none()),
        "enabled stored"
    );
    check!(
        tryc!(store.set_user_disabled("nobody", true, secs(1)).await).is_none(),
        "unknown user"
    );

    // a new password drops sessions too
    check!(
        tryc!(store.set_user_password("alice", "$argon2id$new").await),
        "password changed"
    );
    check!(
        tryc!(store.session_by_hash(&token_hash(2)).await).is_none(),
        "sessions dropped on password change"
    );
    let a = tryc!(store.user_by_name("alice").await);
    check!(
        a.is_some_and(|u| u.password_hash == "$argon2id$new"),
        "new hash stored"
    );
    check!(
        !tryc!(store.set_user_password("nobody", "$argon2id$x").await),
        "unknown user's password"
    );
    Ok(())
}

async fn api_tokens_by_hash_revoke_and_expiry(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let t1 = tryc!(
        store
            .create_token(&new_token("ral-glpi", 1, "vgt_aaaa1111"))
            .await
    );
    let mut expiring = new_token("ral-ocs", 2, "vgt_bbbb2222");
    expiring.expires_at = Some(secs(1_790_086_400));
    let t2 = tryc!(store.create_token(&expiring).await);
    check!(t1.id != t2.id, "distinct ids");
    check!(
        t2.expires_at == Some(secs(1_790_086_400)),
        "expiry returned: {t2:?}"
    );
    // lookups by hash, whatever the prefix
    let found = tryc!(store.token_by_hash(&token_hash(2)).await);
    check!(found.as_ref() == Some(&t2), "by hash: {found:?}");
    check!(
        found.as_ref().and_then(|t| t.expires_at) == Some(secs(1_790_086_400)),
        "expiry stored"
    );
    check!(
        found
            .as_ref()
            .is_some_and(|t| t.is_active(secs(1_790_000_001)) && !t.is_active(secs(1_790_086_400))),
        "active until it expires"
    );
    check!(
        tryc!(store.token_by_hash(&token_hash(3)).await).is_none(),
        "unknown hash"
    );
    // duplicate hash, unknown establishment, expiry before creation: nothing written
    let r = store
        .create_token(&new_token("again", 1, "vgt_cccc3333"))
        .await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "duplicate hash, got {r:?}"
    );
    let mut bad = new_token("bad", 4, "vgt_dddd4444");
    bad.establishment = Some(code("NOPE"));
    let r = store.create_token(&bad).await;
    check!(
        matches!(r, Err(StoreError::UnknownEstablishment(_))),
        "unknown establishment, got {r:?}"
    );
    let mut bad = new_token("bad", 5, "vgt_eeee5555");
    bad.expires_at = Some(secs(1_780_000_000));
    let r = store.create_token(&bad).await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "expired at creation, got {r:?}"
    );
    let tokens = tryc!(store.tokens().await);
    check!(
        tokens.iter().map(|t| t.id).collect::<Vec<_>>() == [t1.id, t2.id],
        "only the two tokens, by id: {tokens:?}"
    );

    // revoke by prefix, then again: the first time stays
    let r = tryc!(
        store
            .revoke_token("vgt_aaaa1111", secs(1_790_000_500))
            .await
    );
    check!(
        r.as_ref().and_then(|t| t.revoked_at) == Some(secs(1_790_000_500)),
        "revoked by prefix: {r:?}"
    );
    let r = tryc!(
        store
            .revoke_token(&t1.id.to_string(), secs(1_790_000_900))
            .await
    );
    check!(
        r.and_then(|t| t.revoked_at) == Some(secs(1_790_000_500)),
        "revoked by id keeps the first time"
    );
    let found = tryc!(store.token_by_hash(&token_hash(1)).await);
    check!(
        found.is_some_and(|t| t.revoked_at.is_some() && !t.is_active(secs(1_790_000_600))),
        "a revoked token is found but inactive"
    );
    check!(
        tryc!(store.revoke_token("vgt_zzzz9999", secs(1)).await).is_none(),
        "unknown prefix"
    );
    check!(
        tryc!(store.revoke_token("4242", secs(1)).await).is_none(),
        "unknown id"
    );
    // an ambiguous prefix revokes nothing
    tryc!(
        store
            .create_token(&new_token("twin", 6, "vgt_bbbb2222"))
            .await
    );
    let r = store
        .revoke_token("vgt_bbbb2222", secs(1_790_000_700))
        .await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "ambiguous prefix, got {r:?}"
    );
    let tokens = tryc!(store.tokens().await);
    check!(
        tokens
            .iter()
            .filter(|t| t.prefix == "vgt_bbbb2222")
            .all(|t| t.revoked_at.is_none()),
        "nothing revoked on an ambiguous prefix"
    );
    // use is recorded
    tryc!(store.touch_token(t2.id, secs(1_790_000_800)).await);
    let found = tryc!(store.token_by_hash(&token_hash(2)).await);
    check!(
        found.and_then(|t| t.last_used_at) == Some(secs(1_790_000_800)),
        "last use recorded"
    );
    Ok(())
}

async fn sessions_live_and_die(store: &dyn Store) -> CaseResult {
    seed_org(store).await?;
    let alice = tryc!(
        store
            .create_user(&new_user("alice", "national-analyst", None, None))
            .await
    );
    let bob = tryc!(
        store
            .create_user(&new_user("bob", "establishment-officer", None, Some("RAL")))
            .await
    );
    let s1 = session(1, alice.id, 1_790_003_600);
    tryc!(store.create_session(&s1).await);
    tryc!(
        store
            .create_session(&session(2, alice.id, 1_790_007_200))
            .await
    );
    tryc!(
        store
            .create_session(&session(3, bob.id, 1_790_001_000))
            .await
    );
    let r = store
        .create_session(&session(1, bob.id, 1_790_003_600))
        .await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "duplicate session hash, got {r:?}"
    );
    let r = store.create_session(&session(9, 4242, 1_790_003_600)).await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "session of an unknown user, got {r:?}"
    );
    check!(
        tryc!(store.session_by_hash(&token_hash(9)).await).is_none(),
        "nothing written for an unknown user"
    );
    let found = tryc!(store.session_by_hash(&token_hash(1)).await);
    check!(found.as_ref() == Some(&s1), "by hash: {found:?}");
    check!(
        found.is_some_and(|s| s.is_live(secs(1_790_003_599)) && !s.is_live(secs(1_790_003_600))),
        "live until it expires"
    );
    check!(
        tryc!(
            store
                .touch_session(&token_hash(1), secs(1_790_000_600), secs(1_790_004_200))
                .await
        ),
        "touched"
    );
    let found = tryc!(store.session_by_hash(&token_hash(1)).await);
    check!(
        found.is_some_and(|s| s.last_seen_at == secs(1_790_000_600)
            && s.expires_at == secs(1_790_004_200)
            && s.created_at == secs(1_790_000_000)),
        "sliding expiry"
    );
    check!(
        !tryc!(store.touch_session(&token_hash(8), secs(1), secs(2)).await),
        "touching an unknown session"
    );
    // prune: only bob's session has expired at this time
    let pruned = tryc!(store.prune_sessions(secs(1_790_002_000)).await);
    check!(pruned == 1, "one expired session pruned, got {pruned}");
    check!(
        tryc!(store.session_by_hash(&token_hash(3)).await).is_none(),
        "expired session gone"
    );
    check!(
        tryc!(store.delete_session(&token_hash(1)).await),
        "logged out"
    );
    check!(
        !tryc!(store.delete_session(&token_hash(1)).await),
        "second logout finds nothing"
    );
    check!(
        tryc!(store.session_by_hash(&token_hash(2)).await).is_some(),
        "the other session stays"
    );
    let n = tryc!(store.delete_sessions_of_user(alice.id).await);
    check!(n == 1, "one session left for alice, got {n}");
    check!(
        tryc!(store.session_by_hash(&token_hash(2)).await).is_none(),
        "all of alice's sessions gone"
    );
    Ok(())
}

async fn audit_log_order_and_filters(store: &dyn Store) -> CaseResult {
    let entry = |at: i64, actor: &str, action: &str, target: &str| NewAuditEntry {
        at: secs(at),
        actor: actor.into(),
        action: action.into(),
        target: target.into(),
        outcome: "ok".into(),
        ip: None,
        detail: serde_json::Value::Null,
    };
    let mut ids = Vec::new();
    ids.push(tryc!(
        store
            .append_audit(&entry(100, "cli:root", "user.add", "alice"))
            .await
    ));
    let mut login = entry(200, "user:alice", "login", "alice");
    login.ip = Some("192.0.2.7".into());
    login.outcome = "denied".into();
    login.detail = serde_json::json!({"reason": "bad password", "attempt": 1});
    ids.push(tryc!(store.append_audit(&login).await));
    ids.push(tryc!(
        store
            .append_audit(&entry(200, "user:alice", "login", "alice"))
            .await
    ));
    ids.push(tryc!(
        store
            .append_audit(&entry(300, "token:ral-glpi", "ingest", "glpi.json"))
            .await
    ));
    // out of order in time: still listed by append order
    ids.push(tryc!(
        store
            .append_audit(&entry(250, "cli:root", "token.create", "vgt_aaaa1111"))
            .await
    ));
    check!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");

    // invalid entries write nothing
    let r = store.append_audit(&entry(400, "", "login", "x")).await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "empty actor, got {r:?}"
    );
    let r = store
        .append_audit(&entry(400, "cli:root", "bad\naction", "x"))
        .await;
    check!(
        matches!(r, Err(StoreError::Invalid(_))),
        "control characters, got {r:?}"
    );

    let all = tryc!(store.audit(&AuditFilter::default()).await);
    check!(
        all.iter().map(|e| e.id).collect::<Vec<_>>()
            == ids.iter().rev().copied().collect::<Vec<_>>(),
        "newest first, nothing else: {all:?}"
    );
    let l = all.iter().find(|e| e.id == ids[1]);
    check!(
        l.is_some_and(|e| e.ip.as_deref() == Some("192.0.2.7")
            && e.outcome == "denied"
            && e.detail["reason"] == "bad password"
            && e.detail["attempt"] == 1
            && e.at == secs(200)),
        "fields round trip: {l:?}"
    );
    check!(
        all.iter()
            .find(|e| e.id == ids[0])
            .is_some_and(|e| e.detail.is_null()),
        "null detail"
    );
    let logins = tryc!(
        store
            .audit(&AuditFilter {
                action: Some("login".into()),
                ..Default::default()
            })
            .await
    );
    check!(
        logins.iter().map(|e| e.id).collect::<Vec<_>>() == [ids[2], ids[1]],
        "action filter: {logins:?}"
    );
    let since = tryc!(
        store
            .audit(&AuditFilter {
                since: Some(secs(250)),
                ..Default::default()
            })
            .await
    );
    check!(
        since.iter().map(|e| e.id).collect::<Vec<_>>() == [ids[4], ids[3]],
        "since filter: {since:?}"
    );
    let root = tryc!(
        store
            .audit(&AuditFilter {
                actor: Some("cli:root".into()),
                since: Some(secs(100)),
                ..Default::default()
            })
            .await
    );
    check!(
        root.iter().map(|e| e.id).collect::<Vec<_>>() == [ids[4], ids[0]],
        "actor filter: {root:?}"
    );
    let page1 = tryc!(
        store
            .audit(&AuditFilter {
                limit: 2,
                ..Default::default()
            })
            .await
    );
    check!(
        page1.iter().map(|e| e.id).collect::<Vec<_>>() == [ids[4], ids[3]],
        "limit: {page1:?}"
    );
    let page2 = tryc!(
        store
            .audit(&AuditFilter {
                limit: 2,
                before_id: page1.last().map(|e| e.id),
                ..Default::default()
            })
            .await
    );
    check!(
        page2.iter().map(|e| e.id).collect::<Vec<_>>() == [ids[2], ids[1]],
        "next page: {page2:?}"
    );
    let none = tryc!(
        store
            .audit(&AuditFilter {
                action: Some("export".into()),
                ..Default::default()
            })
            .await
    );
    check!(none.is_empty(), "no such action: {none:?}");
    Ok(())
}

/// Cases needing two handles on one database (two processes: the CLI and
/// a running server). Run after [`run_all`].
pub async fn run_two_handles(a: &dyn Store, b: &dyn Store) -> CaseResult {
    tryc!(a.reset().await);
    directory_changes_reach_other_handles(a, b)
        .await
        .map_err(|e| {
            format!(
                "[{}] directory_changes_reach_other_handles: {e}",
                a.backend()
            )
        })?;
    tryc!(a.reset().await);
    installation_secrets_are_shared(a, b)
        .await
        .map_err(|e| format!("[{}] installation_secrets_are_shared: {e}", a.backend()))?;
    Ok(())
}

/// Two handles (two processes) asking for the same installation secret at
/// once, each with its own fresh candidate, get one and the same value,
/// ever after; another name is another secret; a reset keeps them.
async fn installation_secrets_are_shared(a: &dyn Store, b: &dyn Store) -> CaseResult {
    // a name of its own per run: secrets outlive resets
    let name = format!("conformance-{}", jiff::Timestamp::now().as_nanosecond());
    let (ca, cb) = (vec![0xa5u8; 32], vec![0x5au8; 32]);
    let (x, y) = tokio::join!(
        a.installation_secret(&name, &ca),
        b.installation_secret(&name, &cb)
    );
    let (x, y) = (tryc!(x), tryc!(y));
    check!(x == y, "both handles get the same secret: {x:?} vs {y:?}");
    check!(x == ca || x == cb, "the secret is one of the candidates");
    // later calls, whatever their candidate, read the first one stored
    for (s, c) in [(a, vec![1u8; 32]), (b, vec![2u8; 32])] {
        let again = tryc!(s.installation_secret(&name, &c).await);
        check!(again == x, "the secret never changes: {again:?}");
    }
    let other = tryc!(b.installation_secret(&format!("{name}-other"), &cb).await);
    check!(other == cb, "another name is another secret");
    let empty = a.installation_secret(&format!("{name}-empty"), &[]).await;
    check!(
        matches!(empty, Err(StoreError::Invalid(_))),
        "an empty secret is refused: {empty:?}"
    );
    tryc!(a.reset().await);
    let kept = tryc!(b.installation_secret(&name, &cb).await);
    check!(kept == x, "a reset keeps the secret");
    Ok(())
}

async fn directory_changes_reach_other_handles(a: &dyn Store, b: &dyn Store) -> CaseResult {
    seed_org(a).await?;
    let t = at("2017-05-01T00:00:00Z");
    // b writes a machine of RAL: b has read the directory now
    let mut tx = tryc!(b.begin().await);
    let first = tryc!(tx.allocate_host_ids(2).await);
    tryc!(
        tx.apply(&[change(
            first,
            true,
            None,
            Some("RAL"),
            "RAL-1",
            t,
            vec![],
            vec![]
        )])
        .await
    );
    tryc!(tx.commit().await);
    let region_seen_by_b = |hosts: Vec<crate::HostView>| {
        hosts
            .first()
            .and_then(|h| h.region.as_ref().map(|r| r.to_string()))
    };
    let hosts = tryc!(b.hosts(&Scope::National, &HostFilter::default()).await);
    check!(
        region_seen_by_b(hosts).as_deref() == Some("LDN"),
        "RAL starts in LDN"
    );
    // a (another process) moves RAL to NW and adds an establishment
    tryc!(
        a.import_org(&[], &[est("RAL", "NW", &["ral-*"]), est("RNEW", "NW", &[])])
            .await
    );
    let hosts = tryc!(b.hosts(&Scope::National, &HostFilter::default()).await);
    check!(
        region_seen_by_b(hosts).as_deref() == Some("NW"),
        "b sees the move made through a"
    );
    // and b can write into the new establishment at once
    let mut tx = tryc!(b.begin().await);
    tryc!(
        tx.apply(&[change(
            first + 1,
            true,
            None,
            Some("RNEW"),
            "RNEW-1",
            t,
            vec![],
            vec![]
        )])
        .await
    );
    tryc!(tx.commit().await);
    check!(
        tryc!(
            a.count_hosts(&Scope::Establishment(code("RNEW")), &HostFilter::default())
                .await
        ) == 1,
        "the machine of the new establishment is stored"
    );
    // a reset through a empties b's directory too
    tryc!(a.reset().await);
    let mut tx = tryc!(b.begin().await);
    let id = tryc!(tx.allocate_host_ids(1).await);
    let refused = tx
        .apply(&[change(
            id,
            true,
            None,
            Some("RAL"),
            "RAL-2",
            t,
            vec![],
            vec![],
        )])
        .await;
    check!(
        matches!(refused, Err(StoreError::UnknownEstablishment(_))),
        "after a reset elsewhere, b no longer knows RAL: {refused:?}"
    );
    Ok(())
}
