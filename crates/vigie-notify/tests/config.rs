#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Configuration parsing and validation; errors name the source and line.

use std::time::Duration;

use vigie_notify::{
    ChannelKind, Notifier, NotifyConfig, NotifyError, RateLimit, Severity, SmtpTls,
};

const FULL: &str = r#"# vigie notifications
[settings]
timeout_seconds = 8
attempts = 2
retry_backoff_ms = 250

[[channel]]
name = "cert-national"
kind = "webhook"
url = "https://hooks.example/vigie"
secret_env = "VIGIE_WEBHOOK_SECRET"

[[channel]]
name = "ars-idf-tchap"
kind = "matrix"
homeserver = "https://matrix.agent.tchap.gouv.fr"
room = "!abcdef:agent.tchap.gouv.fr"
access_token_env = "VIGIE_MATRIX_TOKEN"

[[channel]]
name = "rssi-mail"
kind = "smtp"
host = "smtp.example"
port = 587
tls = "starttls"
username = "vigie"
password_env = "VIGIE_SMTP_PASSWORD"
from = "vigie <vigie@example>"
to = ["rssi@chu-x.example"]

[[route]]
name = "national"
channel = "cert-national"
min_severity = "major"
rate_limit = { max = 20, per_seconds = 3600 }
send_resolved = true

[[route]]
name = "idf"
channel = "ars-idf-tchap"
regions = ["IDF"]

[[route]]
name = "chu-x"
channel = "rssi-mail"
establishments = ["CHU-X"]
min_severity = "warning"
send_resolved = false
"#;

fn err(text: &str) -> String {
    NotifyConfig::from_toml_str(text, "notify.toml")
        .unwrap_err()
        .to_string()
}

fn env(name: &str) -> Option<String> {
    match name {
        "VIGIE_WEBHOOK_SECRET" => Some("w".into()),
        "VIGIE_MATRIX_TOKEN" => Some("m".into()),
        "VIGIE_SMTP_PASSWORD" => Some("p".into()),
        _ => None,
    }
}

#[test]
fn the_full_example_parses() {
    let cfg = NotifyConfig::from_toml_str(FULL, "notify.toml").unwrap();
    assert_eq!(cfg.settings.timeout, Duration::from_secs(8));
    assert_eq!(cfg.settings.attempts, 2);
    assert_eq!(cfg.settings.retry_backoff, Duration::from_millis(250));
    assert_eq!(cfg.channels.len(), 3);
    match &cfg.channels[0].kind {
        ChannelKind::Webhook(w) => {
            assert_eq!(w.url.as_str(), "https://hooks.example/vigie");
            assert_eq!(w.secret.env.as_deref(), Some("VIGIE_WEBHOOK_SECRET"));
            assert!(w.secret.value.is_none());
        }
        other => panic!("{other:?}"),
    }
    match &cfg.channels[1].kind {
        ChannelKind::Matrix(m) => assert_eq!(m.room, "!abcdef:agent.tchap.gouv.fr"),
        other => panic!("{other:?}"),
    }
    match &cfg.channels[2].kind {
        ChannelKind::Smtp(s) => {
            assert_eq!(s.port, 587);
            assert_eq!(s.tls, SmtpTls::Starttls);
            assert_eq!(s.username.as_deref(), Some("vigie"));
            assert_eq!(s.to.len(), 1);
            assert_eq!(s.from.email.to_string(), "vigie@example");
        }
        other => panic!("{other:?}"),
    }
    let r = &cfg.routes[0];
    assert_eq!(r.min_severity, Severity::Major);
    assert_eq!(
        r.rate_limit,
        Some(RateLimit {
            max: 20,
            per_seconds: 3600
        })
    );
    assert!(r.send_resolved);
    assert_eq!(r.line, Some(32));
    assert_eq!(cfg.routes[1].min_severity, Severity::Info);
    assert_eq!(cfg.routes[1].regions, Some(vec!["IDF".to_string()]));
    assert!(cfg.routes[1].establishments.is_none());
    assert!(
        cfg.routes[1].send_resolved,
        "send_resolved defaults to true"
    );
    assert!(!cfg.routes[2].send_resolved);
    assert!(cfg.unused_channels().is_empty());
    // Secrets never show in Debug output.
    let mut resolved = cfg.clone();
    resolved.resolve_secrets(env).unwrap();
    assert!(!format!("{resolved:?}").contains("\"w\""));
}

#[test]
fn secrets_are_resolved_through_the_lookup() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = NotifyConfig::from_toml_str(FULL, "notify.toml").unwrap();
    // Unresolved: the notifier refuses.
    let e = Notifier::new(cfg.clone()).unwrap_err();
    assert!(matches!(e, NotifyError::UnresolvedSecret { .. }), "{e}");
    cfg.resolve_secrets(env).unwrap();
    match &cfg.channels[0].kind {
        ChannelKind::Webhook(w) => assert_eq!(w.secret.value.as_ref().unwrap().expose(), "w"),
        other => panic!("{other:?}"),
    }
    let n = Notifier::new(cfg).unwrap();
    assert_eq!(n.route_names(), vec!["national", "idf", "chu-x"]);

    // A missing variable names the channel, the variable and the line.
    let mut cfg = NotifyConfig::from_toml_str(FULL, "notify.toml").unwrap();
    let e = cfg
        .resolve_secrets(|n| (n != "VIGIE_MATRIX_TOKEN").then(|| "x".to_string()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "notify.toml line 18: channel \"ars-idf-tchap\": environment variable VIGIE_MATRIX_TOKEN \
         (access_token_env) is not set or empty"
    );
}

#[test]
fn inline_secrets_are_accepted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = "[[channel]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"inline\"\n\
                [[route]]\nname = \"r\"\nchannel = \"h\"\n";
    let mut cfg = NotifyConfig::from_toml_str(text, "notify.toml").unwrap();
    cfg.resolve_secrets(|_| None).unwrap();
    Notifier::new(cfg).unwrap();
}

#[test]
fn unknown_channel_names_the_line() {
    let text = FULL.replace("channel = \"ars-idf-tchap\"", "channel = \"x\"");
    let e = err(&text);
    assert!(
        e.starts_with("notify.toml line 40: unknown channel \"x\" in route \"idf\""),
        "{e}"
    );
}

#[test]
fn validation_errors_name_the_line() {
    let cases: &[(&str, &str, &str)] = &[
        // duplicate channel
        (
            "name = \"rssi-mail\"",
            "name = \"cert-national\"",
            "notify.toml line 21: duplicate channel name \"cert-national\"",
        ),
        // bad URL
        (
            "url = \"https://hooks.example/vigie\"",
            "url = \"hooks.example/vigie\"",
            "notify.toml line 10: channel \"cert-national\": url \"hooks.example/vigie\" is not a valid URL",
        ),
        (
            "url = \"https://hooks.example/vigie\"",
            "url = \"ftp://hooks.example/vigie\"",
            "notify.toml line 10: channel \"cert-national\": url \"ftp://hooks.example/vigie\" must be an http or https URL",
        ),
        // zero rate limit
        (
            "max = 20",
            "max = 0",
            "notify.toml line 35: route \"national\": rate_limit needs max and per_seconds above zero",
        ),
        // missing field
        (
            "room = \"!abcdef:agent.tchap.gouv.fr\"\n",
            "",
            "notify.toml line 14: channel \"ars-idf-tchap\": missing field room",
        ),
        // room alias instead of id
        (
            "room = \"!abcdef:agent.tchap.gouv.fr\"",
            "room = \"#vigie:agent.tchap.gouv.fr\"",
            "notify.toml line 17: channel \"ars-idf-tchap\": room \"#vigie:agent.tchap.gouv.fr\" is not a room id",
        ),
        // unknown kind
        (
            "kind = \"webhook\"",
            "kind = \"slack\"",
            "notify.toml line 9: channel \"cert-national\": unknown kind \"slack\"",
        ),
        // a field of another kind
        (
            "secret_env = \"VIGIE_WEBHOOK_SECRET\"",
            "secret_env = \"VIGIE_WEBHOOK_SECRET\"\nport = 25",
            "notify.toml line 12: channel \"cert-national\": field port does not apply to a webhook channel",
        ),
        // both secret forms
        (
            "secret_env = \"VIGIE_WEBHOOK_SECRET\"",
            "secret_env = \"VIGIE_WEBHOOK_SECRET\"\nsecret = \"x\"",
            "notify.toml line 12: channel \"cert-national\": give either secret or secret_env, not both",
        ),
        // bad severity
        (
            "min_severity = \"major\"",
            "min_severity = \"urgent\"",
            "notify.toml line 34: route \"national\": unknown severity \"urgent\"",
        ),
        // bad tls
        (
            "tls = \"starttls\"",
            "tls = \"ssl\"",
            "notify.toml line 25: channel \"rssi-mail\": tls \"ssl\"",
        ),
        // bad recipient
        (
            "to = [\"rssi@chu-x.example\"]",
            "to = [\"rssi@chu-x.example\",\n  \"not an address\"]",
            "notify.toml line 30: channel \"rssi-mail\": recipient \"not an address\" is not a valid address",
        ),
        // empty filter list
        (
            "regions = [\"IDF\"]",
            "regions = []",
            "notify.toml line 41: route \"idf\": regions is empty",
        ),
        // username without password
        (
            "password_env = \"VIGIE_SMTP_PASSWORD\"\n",
            "",
            "notify.toml line 21: channel \"rssi-mail\": username is set but neither password_env nor password",
        ),
        // duplicate route
        (
            "name = \"chu-x\"",
            "name = \"idf\"",
            "notify.toml line 44: duplicate route name \"idf\"",
        ),
    ];
    for (from, to, want) in cases {
        assert!(FULL.contains(from), "{from}");
        let text = FULL.replacen(from, to, 1);
        let e = err(&text);
        assert!(e.starts_with(want), "\nwant: {want}\n got: {e}");
    }
}

#[test]
fn toml_errors_name_the_line() {
    // Syntax error on line 3.
    let e = err("[[channel]]\nname = \"a\"\nkind = = \"webhook\"\n");
    assert!(e.starts_with("notify.toml line 3: "), "{e}");
    // Unknown field on line 4.
    let e = err("[[channel]]\nname = \"a\"\nkind = \"webhook\"\ncolour = \"blue\"\n");
    assert!(e.starts_with("notify.toml line 4: "), "{e}");
    assert!(e.contains("colour"), "{e}");
    // Wrong type on line 2.
    let e = err("[[route]]\nname = 3\nchannel = \"a\"\n");
    assert!(e.starts_with("notify.toml line 2: "), "{e}");
    // Port out of range.
    let e = err("[[channel]]\nname = \"m\"\nkind = \"smtp\"\nport = 70000\n");
    assert!(e.starts_with("notify.toml line 4: "), "{e}");
    // Missing route name: points into the route table.
    let e = err(
        "[[channel]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"https://x.example/\"\nsecret = \"s\"\n\n[[route]]\nchannel = \"a\"\n",
    );
    assert!(e.starts_with("notify.toml line "), "{e}");
    assert!(e.contains("name"), "{e}");
    // Zero settings.
    let e = err("[settings]\nattempts = 0\n");
    assert_eq!(
        e,
        "notify.toml line 2: settings: attempts must be between 1 and 10"
    );
}

#[test]
fn an_empty_configuration_is_valid() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = NotifyConfig::from_toml_str("", "notify.toml").unwrap();
    assert!(cfg.channels.is_empty() && cfg.routes.is_empty());
    let n = Notifier::new(cfg).unwrap();
    assert!(n.route_names().is_empty());
}

#[test]
fn severities_parse_and_order() {
    assert!(Severity::Info < Severity::Warning);
    assert!(Severity::Major < Severity::Critical);
    assert_eq!("CRITICAL".parse::<Severity>().unwrap(), Severity::Critical);
    assert!("urgent".parse::<Severity>().is_err());
    assert_eq!(
        serde_json::to_string(&Severity::Major).unwrap(),
        "\"major\""
    );
    assert_eq!(
        serde_json::from_str::<Severity>("\"warning\"").unwrap(),
        Severity::Warning
    );
}

#[test]
fn the_documented_example_is_valid() {
    let doc = include_str!("../../../docs/notifications.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = doc[start..].find("```").unwrap();
    let cfg =
        NotifyConfig::from_toml_str(&doc[start..start + len], "docs/notifications.md").unwrap();
    assert_eq!(cfg.channels.len(), 3);
    assert_eq!(cfg.routes.len(), 3);
    assert_eq!(cfg.settings.timeout, Duration::from_secs(10));
}
