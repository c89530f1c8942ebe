#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Each channel against a real local receiver.

mod common;

use common::{FAST, alert, http_receiver, init, notifier, smtp_sink};
use vigie_notify::{AlertKind, DeliveryOutcome, Severity, verify_signature};

const SECRET: &str = "s3cret-for-tests";
const TOKEN: &str = "syt_test_token";

fn webhook_toml(base: &str) -> String {
    format!(
        r#"{FAST}
[[channel]]
name = "hook"
kind = "webhook"
url = "{base}/hook/main"
secret_env = "HOOK_SECRET"

[[route]]
name = "all"
channel = "hook"
"#
    )
}

#[tokio::test]
async fn webhook_is_signed_and_carries_the_alert() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    let n = notifier(&webhook_toml(&rx.base), &[("HOOK_SECRET", SECRET)]);
    let mut a = alert(
        "incident-12",
        AlertKind::Opened,
        Severity::Critical,
        &["CHU-X", "CH-Y"],
        &["IDF"],
    );
    a.title = "12 hospital portals down".to_string();
    let d = n.dispatch(&a).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].route, "all");
    assert_eq!(d[0].channel, "hook");
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.signature_ok, "the receiver's own check passed");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("vigie/"));
    let ts = r.header("x-vigie-timestamp");
    let sig = r.header("x-vigie-signature");
    assert!(ts.parse::<i64>().unwrap() > 1_700_000_000);
    assert!(verify_signature(SECRET.as_bytes(), ts, &r.body, sig));
    assert!(!verify_signature(b"wrong secret", ts, &r.body, sig));
    // The timestamp is bound into the MAC.
    let other_ts = (ts.parse::<i64>().unwrap() + 1).to_string();
    assert!(!verify_signature(
        SECRET.as_bytes(),
        &other_ts,
        &r.body,
        sig
    ));

    let j = r.json();
    assert_eq!(j["version"], 1);
    assert_eq!(j["key"], "incident-12");
    assert_eq!(j["kind"], "opened");
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["title"], "12 hospital portals down");
    assert_eq!(j["body"], "details of incident-12\nsecond line");
    assert_eq!(j["establishments"], serde_json::json!(["CHU-X", "CH-Y"]));
    assert_eq!(j["regions"], serde_json::json!(["IDF"]));
    assert_eq!(j["at"], 1_767_225_600);
    assert_eq!(
        j["details"],
        serde_json::json!({ "incident": "incident-12", "targets": 3 })
    );
    assert!(j.get("suppressed").is_none());
}

#[tokio::test]
async fn webhook_with_a_wrong_secret_is_refused_and_not_retried() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    let n = notifier(
        &webhook_toml(&rx.base),
        &[("HOOK_SECRET", "not-the-secret")],
    );
    let d = n
        .dispatch(&alert("k", AlertKind::Opened, Severity::Major, &[], &[]))
        .await;
    match &d[0].outcome {
        DeliveryOutcome::Failed { attempts, error } => {
            assert_eq!(*attempts, 1);
            assert!(error.contains("401"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert!(!reqs[0].signature_ok);
}

#[tokio::test]
async fn webhook_server_errors_are_retried_up_to_the_attempts() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    rx.script(&[503, 503, 503, 503]);
    let n = notifier(&webhook_toml(&rx.base), &[("HOOK_SECRET", SECRET)]);
    let d = n
        .dispatch(&alert("k", AlertKind::Opened, Severity::Major, &[], &[]))
        .await;
    match &d[0].outcome {
        DeliveryOutcome::Failed { attempts, error } => {
            assert_eq!(*attempts, 3);
            assert!(error.contains("503"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(rx.requests().len(), 3);
}

#[tokio::test]
async fn webhook_429_then_ok_is_sent_on_the_second_attempt() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    rx.script(&[429]);
    let n = notifier(&webhook_toml(&rx.base), &[("HOOK_SECRET", SECRET)]);
    let d = n
        .dispatch(&alert("k", AlertKind::Opened, Severity::Major, &[], &[]))
        .await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 2 });
    assert_eq!(rx.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_failed() {
    init();
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let n = notifier(
        &webhook_toml(&format!("http://127.0.0.1:{port}")),
        &[("HOOK_SECRET", SECRET)],
    );
    let started = std::time::Instant::now();
    let d = n
        .dispatch(&alert("k", AlertKind::Opened, Severity::Major, &[], &[]))
        .await;
    match &d[0].outcome {
        DeliveryOutcome::Failed { attempts, error } => {
            assert_eq!(*attempts, 3);
            assert!(!error.contains(SECRET));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

fn matrix_toml(base: &str) -> String {
    format!(
        r#"{FAST}
[[channel]]
name = "tchap"
kind = "matrix"
homeserver = "{base}/"
room = "!abcdef:agent.tchap.gouv.fr"
access_token_env = "MX_TOKEN"

[[route]]
name = "ars-idf"
channel = "tchap"
"#
    )
}

#[tokio::test]
async fn matrix_message_goes_to_the_encoded_room_with_the_token() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    let n = notifier(&matrix_toml(&rx.base), &[("MX_TOKEN", TOKEN)]);
    let mut a = alert(
        "incident-7",
        AlertKind::Opened,
        Severity::Critical,
        &["CHU-X"],
        &["IDF"],
    );
    a.title = "Defacement <script> & co".to_string();
    a.body = (0..100).map(|i| format!("target {i}\n")).collect();
    let d = n.dispatch(&a).await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    let prefix = "/_matrix/client/v3/rooms/%21abcdef%3Aagent.tchap.gouv.fr/send/m.room.message/";
    assert!(r.path.starts_with(prefix), "{}", r.path);
    let txn = &r.path[prefix.len()..];
    assert!(txn.starts_with("vigie-") && txn.len() > 10);
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let j = r.json();
    assert_eq!(j["msgtype"], "m.text");
    assert_eq!(j["format"], "org.matrix.custom.html");
    let plain = j["body"].as_str().unwrap();
    assert!(plain.starts_with("[vigie] CRITICAL: Defacement <script> & co"));
    assert!(plain.contains("target 59\n… and 40 more lines"));
    assert!(!plain.contains("target 60\n"));
    assert!(plain.contains("Establishments (1): CHU-X"));
    let html = j["formatted_body"].as_str().unwrap();
    assert!(html.contains("Defacement &lt;script&gt; &amp; co"));
    assert!(!html.contains("<script>"));

    // The transaction id is deterministic: the same alert on the same route
    // reuses it (idempotent on the homeserver); a different kind does not.
    n.dispatch(&a).await;
    let mut resolved = a.clone();
    resolved.kind = AlertKind::Resolved;
    n.dispatch(&resolved).await;
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].path, reqs[0].path);
    assert_ne!(reqs[2].path, reqs[0].path);
    assert!(
        reqs[2].json()["body"]
            .as_str()
            .unwrap()
            .starts_with("[vigie] RESOLVED: ")
    );
}

#[tokio::test]
async fn matrix_500_then_200_is_retried_with_the_same_transaction() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    rx.script(&[500]);
    let n = notifier(&matrix_toml(&rx.base), &[("MX_TOKEN", TOKEN)]);
    let d = n
        .dispatch(&alert("k", AlertKind::Failed, Severity::Major, &[], &[]))
        .await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 2 });
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, reqs[1].path);
}

#[tokio::test]
async fn matrix_401_is_not_retried() {
    init();
    let rx = http_receiver(SECRET, TOKEN).await;
    let n = notifier(&matrix_toml(&rx.base), &[("MX_TOKEN", "expired-token")]);
    let d = n
        .dispatch(&alert("k", AlertKind::Failed, Severity::Major, &[], &[]))
        .await;
    match &d[0].outcome {
        DeliveryOutcome::Failed { attempts, error } => {
            assert_eq!(*attempts, 1);
            assert!(
                error.contains("401") && error.contains("M_UNKNOWN_TOKEN"),
                "{error}"
            );
            assert!(!error.contains("expired-token"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn smtp_mail_reaches_every_recipient() {
    init();
    let sink = smtp_sink().await;
    let toml = format!(
        r#"{FAST}
[[channel]]
name = "rssi-mail"
kind = "smtp"
host = "127.0.0.1"
port = {}
tls = "none"
from = "vigie <vigie@vigie.test>"
to = ["rssi@chu-x.test", "Astreinte <astreinte@ars-idf.test>"]

[[route]]
name = "mail"
channel = "rssi-mail"
min_severity = "major"
"#,
        sink.port
    );
    let n = notifier(&toml, &[]);
    let mut a = alert(
        "incident-3",
        AlertKind::Opened,
        Severity::Critical,
        &["CHU-X"],
        &["IDF"],
    );
    a.title = "Portal of CHU-X defaced".to_string();
    a.body = "https://portail.chu-x.test/ shows a foreign page\nsince 08:02".to_string();
    let d = n.dispatch(&a).await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "vigie@vigie.test");
    assert_eq!(m.rcpts, vec!["rssi@chu-x.test", "astreinte@ars-idf.test"]);
    assert!(
        m.data
            .contains("Subject: [vigie] CRITICAL: Portal of CHU-X defaced"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("To: rssi@chu-x.test, \"Astreinte\" <astreinte@ars-idf.test>")
            || m.data
                .contains("To: rssi@chu-x.test, Astreinte <astreinte@ars-idf.test>"),
        "{}",
        m.data
    );
    assert!(m.data.contains("Message-ID: <"), "{}", m.data);
    assert!(m.data.contains("Date: "), "{}", m.data);
    assert!(
        m.data
            .contains("https://portail.chu-x.test/ shows a foreign page\nsince 08:02"),
        "{}",
        m.data
    );
    assert!(m.data.contains("Reference: incident-3"), "{}", m.data);

    // Below the route's minimum: nothing sent.
    let d = n
        .dispatch(&alert(
            "low",
            AlertKind::Opened,
            Severity::Warning,
            &[],
            &[],
        ))
        .await;
    assert!(d.is_empty());
    assert_eq!(sink.mails().len(), 1);
}
