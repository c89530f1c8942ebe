#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Routing and rate limits, observed on a local webhook receiver.

mod common;

use common::{FAST, HttpReceiver, alert, http_receiver, init, notifier};
use vigie_notify::{AlertKind, DeliveryOutcome, Notifier, Severity, format_utc};

const SECRET: &str = "routing-secret";
const T0: i64 = 1_767_225_600;

/// Channels a..f, each a webhook on its own path, and routes over them.
async fn setup(routes: &str) -> (HttpReceiver, Notifier) {
    init();
    let rx = http_receiver(SECRET, "unused").await;
    let mut toml = FAST.to_string();
    for c in ["a", "b", "c", "d", "e", "f"] {
        toml.push_str(&format!(
            "[[channel]]\nname = \"{c}\"\nkind = \"webhook\"\nurl = \"{}/hook/{c}\"\nsecret = \"{SECRET}\"\n\n",
            rx.base
        ));
    }
    toml.push_str(routes);
    let n = notifier(&toml, &[]);
    (rx, n)
}

fn sent_routes(d: &[vigie_notify::Delivery]) -> Vec<String> {
    d.iter()
        .filter(|d| matches!(d.outcome, DeliveryOutcome::Sent { .. }))
        .map(|d| d.route.clone())
        .collect()
}

const FILTER_ROUTES: &str = r#"
[[route]]
name = "national"
channel = "a"
min_severity = "major"

[[route]]
name = "chu-x"
channel = "b"
establishments = ["CHU-X"]

[[route]]
name = "ars-idf"
channel = "c"
regions = ["IDF"]
min_severity = "warning"

[[route]]
name = "either"
channel = "d"
establishments = ["CH-Z"]
regions = ["ARA"]

[[route]]
name = "many"
channel = "e"
establishments = ["CHU-X", "CH-Y", "CH-W"]
"#;

#[tokio::test]
async fn filters_select_routes() {
    let (rx, n) = setup(FILTER_ROUTES).await;

    // Info, CHU-X in IDF: chu-x and many only (national wants major,
    // ars-idf wants warning).
    let a = alert(
        "i1",
        AlertKind::Warning,
        Severity::Info,
        &["CHU-X"],
        &["IDF"],
    );
    assert_eq!(n.routes_for(&a), vec!["chu-x", "many"]);
    let d = n.dispatch_at(&a, T0).await;
    assert_eq!(sent_routes(&d), vec!["chu-x", "many"]);

    // Warning in IDF elsewhere: ars-idf.
    let a = alert(
        "i2",
        AlertKind::Opened,
        Severity::Warning,
        &["CH-Q"],
        &["IDF"],
    );
    assert_eq!(n.routes_for(&a), vec!["ars-idf"]);

    // Critical in ARA: national and either (by region).
    let a = alert(
        "i3",
        AlertKind::Opened,
        Severity::Critical,
        &["CH-R"],
        &["ARA"],
    );
    assert_eq!(n.routes_for(&a), vec!["national", "either"]);

    // "either" also matches by establishment alone.
    let a = alert("i4", AlertKind::Opened, Severity::Info, &["CH-Z"], &["BRE"]);
    assert_eq!(n.routes_for(&a), vec!["either"]);

    // Codes compare without regard to case.
    let a = alert("i5", AlertKind::Opened, Severity::Info, &["chu-x"], &[]);
    assert_eq!(n.routes_for(&a), vec!["chu-x", "many"]);

    // Nothing matches.
    let a = alert("i6", AlertKind::Opened, Severity::Info, &["CH-Q"], &["BRE"]);
    assert!(n.routes_for(&a).is_empty());
    assert!(n.dispatch_at(&a, T0).await.is_empty());

    assert_eq!(rx.requests_to("/hook/b").len(), 1);
    assert_eq!(rx.requests_to("/hook/e").len(), 1);
    assert_eq!(rx.requests().len(), 2);
}

#[tokio::test]
async fn one_alert_over_three_establishments_reaches_a_route_once() {
    let (rx, n) = setup(FILTER_ROUTES).await;
    let a = alert(
        "incident-9",
        AlertKind::Opened,
        Severity::Critical,
        &["CHU-X", "CH-Y", "CH-W"],
        &["IDF", "IDF", "HDF"],
    );
    let d = n.dispatch_at(&a, T0).await;
    assert_eq!(
        sent_routes(&d),
        vec!["national", "chu-x", "ars-idf", "many"]
    );
    assert_eq!(rx.requests_to("/hook/e").len(), 1);
    assert_eq!(rx.requests_to("/hook/c").len(), 1);
    assert_eq!(rx.requests().len(), 4);
    assert!(rx.requests().iter().all(|r| r.signature_ok));
}

#[tokio::test]
async fn resolved_goes_only_where_the_opening_was_delivered() {
    let routes = r#"
[[route]]
name = "national"
channel = "a"
min_severity = "critical"

[[route]]
name = "chu-x"
channel = "b"
establishments = ["CHU-X"]

[[route]]
name = "quiet"
channel = "c"
send_resolved = false
"#;
    let (rx, n) = setup(routes).await;
    let opened = alert(
        "incident-1",
        AlertKind::Opened,
        Severity::Major,
        &["CHU-X"],
        &[],
    );
    let d = n.dispatch_at(&opened, T0).await;
    assert_eq!(sent_routes(&d), vec!["chu-x", "quiet"]);

    // It grows to critical: now national sees it too.
    let mut grew = opened.clone();
    grew.kind = AlertKind::Grew;
    grew.severity = Severity::Critical;
    let d = n.dispatch_at(&grew, T0 + 60).await;
    assert_eq!(sent_routes(&d), vec!["national", "chu-x", "quiet"]);

    // Resolved (carrying a low severity): national and chu-x; quiet skips.
    let mut resolved = opened.clone();
    resolved.kind = AlertKind::Resolved;
    resolved.severity = Severity::Info;
    assert_eq!(n.routes_for(&resolved), vec!["national", "chu-x"]);
    let d = n.dispatch_at(&resolved, T0 + 120).await;
    assert_eq!(sent_routes(&d), vec!["national", "chu-x"]);
    assert!(matches!(&d[2].outcome, DeliveryOutcome::Skipped(r) if r.contains("send_resolved")));
    assert_eq!(d[2].route, "quiet");

    // A second resolution of the same key goes nowhere: it was closed.
    assert!(n.dispatch_at(&resolved, T0 + 180).await.is_empty());

    // A resolution whose opening was never delivered goes nowhere.
    let mut other = alert(
        "incident-2",
        AlertKind::Resolved,
        Severity::Critical,
        &["CHU-X"],
        &[],
    );
    assert!(n.routes_for(&other).is_empty());
    assert!(n.dispatch_at(&other, T0).await.is_empty());
    other.kind = AlertKind::Recovered;
    assert!(n.dispatch_at(&other, T0).await.is_empty());

    let to_a = rx.requests_to("/hook/a");
    assert_eq!(to_a.len(), 2);
    assert_eq!(to_a[1].json()["kind"], "resolved");
    assert_eq!(rx.requests_to("/hook/c").len(), 2);
}

#[tokio::test]
async fn a_restored_delivery_gets_its_resolution() {
    let routes = r#"
[[route]]
name = "national"
channel = "a"

[[route]]
name = "chu-x"
channel = "b"
establishments = ["CHU-X"]
"#;
    // a new process: nothing was dispatched by this notifier
    let (rx, n) = setup(routes).await;
    let mut resolved = alert(
        "incident-41",
        AlertKind::Resolved,
        Severity::Major,
        &["CHU-X"],
        &[],
    );
    assert!(n.routes_for(&resolved).is_empty(), "nothing known yet");
    // the previous run stored that the opening reached "national" only
    assert!(n.restore_delivered("national", "incident-41"));
    assert!(!n.restore_delivered("no-such-route", "incident-41"));
    assert_eq!(n.routes_for(&resolved), vec!["national"]);
    let d = n.dispatch_at(&resolved, T0).await;
    assert_eq!(sent_routes(&d), vec!["national"]);
    assert_eq!(rx.requests_to("/hook/a").len(), 1);
    assert!(rx.requests_to("/hook/b").is_empty());
    // ended: a second resolution goes nowhere
    assert!(n.dispatch_at(&resolved, T0 + 1).await.is_empty());
    // recoveries of single targets work the same way
    resolved.key = "target:chu-x-portail".into();
    resolved.kind = AlertKind::Recovered;
    assert!(n.restore_delivered("chu-x", "target:chu-x-portail"));
    assert_eq!(
        sent_routes(&n.dispatch_at(&resolved, T0 + 2).await),
        vec!["chu-x"]
    );
}

#[tokio::test]
async fn failed_target_then_recovered() {
    let routes = "[[route]]\nname = \"ops\"\nchannel = \"a\"\nmin_severity = \"major\"\n";
    let (rx, n) = setup(routes).await;
    let failed = alert(
        "target:chu-x-portail",
        AlertKind::Failed,
        Severity::Major,
        &["CHU-X"],
        &[],
    );
    assert_eq!(sent_routes(&n.dispatch_at(&failed, T0).await), vec!["ops"]);
    let mut rec = failed.clone();
    rec.kind = AlertKind::Recovered;
    rec.severity = Severity::Info;
    assert_eq!(
        sent_routes(&n.dispatch_at(&rec, T0 + 30).await),
        vec!["ops"]
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].json()["kind"], "recovered");
}

const LIMITED: &str = r#"
[[route]]
name = "limited"
channel = "a"
rate_limit = { max = 2, per_seconds = 3600 }

[[route]]
name = "free"
channel = "b"
"#;

#[tokio::test]
async fn bursts_beyond_the_limit_are_counted_and_reported() {
    let (rx, n) = setup(LIMITED).await;
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let a = alert(
            &format!("k{i}"),
            AlertKind::Opened,
            Severity::Major,
            &[],
            &[],
        );
        let d = n.dispatch_at(&a, T0 + i).await;
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[1].outcome,
            DeliveryOutcome::Sent { attempts: 1 },
            "free is unlimited"
        );
        outcomes.push(d[0].outcome.clone());
    }
    assert_eq!(
        outcomes,
        vec![
            DeliveryOutcome::Sent { attempts: 1 },
            DeliveryOutcome::Sent { attempts: 1 },
            DeliveryOutcome::RateLimited,
            DeliveryOutcome::RateLimited,
            DeliveryOutcome::RateLimited,
        ]
    );
    assert_eq!(rx.requests_to("/hook/a").len(), 2);
    assert_eq!(rx.requests_to("/hook/b").len(), 5);

    // Still inside the window.
    let a = alert("k5", AlertKind::Opened, Severity::Major, &[], &[]);
    assert_eq!(
        n.dispatch_at(&a, T0 + 3599).await[0].outcome,
        DeliveryOutcome::RateLimited
    );

    // The window slid past the first send: one slot. The message carries the count.
    let a = alert("k6", AlertKind::Opened, Severity::Major, &[], &[]);
    let d = n.dispatch_at(&a, T0 + 3600).await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let to_a = rx.requests_to("/hook/a");
    assert_eq!(to_a.len(), 3);
    let j = to_a[2].json();
    let line = format!(
        "4 alerts were suppressed by the rate limit since {}.",
        format_utc(T0 + 2)
    );
    assert!(j["body"].as_str().unwrap().contains(&line), "{}", j["body"]);
    assert_eq!(j["suppressed"]["count"], 4);
    assert_eq!(j["suppressed"]["since"], T0 + 2);

    // Reported once: the next allowed message has no such line.
    let a = alert("k7", AlertKind::Opened, Severity::Major, &[], &[]);
    assert_eq!(
        n.dispatch_at(&a, T0 + 3601).await[0].outcome,
        DeliveryOutcome::Sent { attempts: 1 }
    );
    let to_a = rx.requests_to("/hook/a");
    assert!(
        !to_a[3].json()["body"]
            .as_str()
            .unwrap()
            .contains("suppressed")
    );
    assert!(to_a[3].json().get("suppressed").is_none());
}

#[tokio::test]
async fn resolutions_are_never_rate_limited() {
    let (rx, n) = setup(LIMITED).await;
    let first = alert(
        "incident-1",
        AlertKind::Opened,
        Severity::Critical,
        &[],
        &[],
    );
    n.dispatch_at(&first, T0).await;
    n.dispatch_at(
        &alert(
            "incident-2",
            AlertKind::Opened,
            Severity::Critical,
            &[],
            &[],
        ),
        T0 + 1,
    )
    .await;
    // Saturated: incident-3 is held back.
    let third = alert(
        "incident-3",
        AlertKind::Opened,
        Severity::Critical,
        &[],
        &[],
    );
    assert_eq!(
        n.dispatch_at(&third, T0 + 2).await[0].outcome,
        DeliveryOutcome::RateLimited
    );

    // The end of incident-1 still goes out, and reports the held-back alert.
    let mut resolved = first.clone();
    resolved.kind = AlertKind::Resolved;
    let d = n.dispatch_at(&resolved, T0 + 3).await;
    assert_eq!(d[0].route, "limited");
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let to_a = rx.requests_to("/hook/a");
    assert_eq!(to_a.len(), 3);
    let body = to_a[2].json()["body"].as_str().unwrap().to_string();
    assert!(
        body.contains("1 alert was suppressed by the rate limit since"),
        "{body}"
    );

    // The end of incident-3 (never delivered on "limited") does not go there.
    let mut resolved3 = third.clone();
    resolved3.kind = AlertKind::Resolved;
    assert_eq!(n.routes_for(&resolved3), vec!["free"]);

    // Still saturated for new alerts.
    let fourth = alert(
        "incident-4",
        AlertKind::Opened,
        Severity::Critical,
        &[],
        &[],
    );
    assert_eq!(
        n.dispatch_at(&fourth, T0 + 4).await[0].outcome,
        DeliveryOutcome::RateLimited
    );
}

#[tokio::test]
async fn send_to_route_bypasses_filters() {
    let (rx, n) = setup(LIMITED).await;
    let a = alert("test", AlertKind::Warning, Severity::Info, &[], &[]);
    let d = n.send_to_route("limited", &a).await.unwrap();
    assert_eq!(d.outcome, DeliveryOutcome::Sent { attempts: 1 });
    assert!(n.send_to_route("nope", &a).await.is_none());
    assert_eq!(rx.requests_to("/hook/a").len(), 1);
}
