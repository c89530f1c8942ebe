//! Local receivers for the integration tests: a webhook endpoint, a Matrix
//! homeserver stub and an SMTP sink, all on 127.0.0.1 with ephemeral ports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{post, put};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vigie_notify::{Alert, AlertKind, Severity};

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn alert(
    key: &str,
    kind: AlertKind,
    severity: Severity,
    ests: &[&str],
    regions: &[&str],
) -> Alert {
    Alert {
        key: key.to_string(),
        kind,
        severity,
        title: format!("{key} title"),
        body: format!("details of {key}\nsecond line"),
        establishments: ests.iter().map(|s| s.to_string()).collect(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        at: 1_767_225_600,
        details: serde_json::json!({ "incident": key, "targets": 3 }),
    }
}

/// One HTTP request a receiver saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Did the receiver's own signature check pass (webhook only)?
    pub signature_ok: bool,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

#[derive(Clone)]
struct HttpState {
    secret: Vec<u8>,
    token: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    /// Statuses to answer first, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

/// A webhook receiver and Matrix homeserver stub sharing one server.
pub struct HttpReceiver {
    pub base: String,
    state: HttpState,
}

impl HttpReceiver {
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.seen.lock().unwrap().clone()
    }
    pub fn requests_to(&self, path_prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .collect()
    }
    pub fn script(&self, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }
}

async fn webhook(
    State(st): State<HttpState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let ts = headers
        .get("x-vigie-timestamp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let sig = headers
        .get("x-vigie-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ok = vigie_notify::verify_signature(&st.secret, &ts, &body, &sig);
    st.seen.lock().unwrap().push(Recorded {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        signature_ok: ok,
    });
    let scripted = st.script.lock().unwrap().pop_front();
    if !ok {
        return (StatusCode::UNAUTHORIZED, "bad signature".to_string());
    }
    let status = StatusCode::from_u16(scripted.unwrap_or(200)).unwrap();
    (status, "ok".to_string())
}

async fn matrix_send(
    State(st): State<HttpState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    st.seen.lock().unwrap().push(Recorded {
        path: uri.path().to_string(),
        headers: headers.clone(),
        body: body.to_vec(),
        signature_ok: false,
    });
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", st.token) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#.to_string(),
        );
    }
    let scripted = st.script.lock().unwrap().pop_front();
    match scripted {
        Some(code) if code != 200 => (
            StatusCode::from_u16(code).unwrap(),
            r#"{"errcode":"M_UNKNOWN","error":"scripted"}"#.to_string(),
        ),
        _ => (StatusCode::OK, r#"{"event_id":"$x"}"#.to_string()),
    }
}

/// Starts the HTTP receiver: POST /hook/* (webhooks, verified with
/// `secret`) and PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}
/// (checked against `token`).
pub async fn http_receiver(secret: &str, token: &str) -> HttpReceiver {
    let state = HttpState {
        secret: secret.as_bytes().to_vec(),
        token: token.to_string(),
        seen: Arc::default(),
        script: Arc::default(),
    };
    let app = Router::new()
        .route("/hook/{name}", post(webhook))
        .route(
            "/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
            put(matrix_send),
        )
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    HttpReceiver {
        base: format!("http://{addr}"),
        state,
    }
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub rcpts: Vec<String>,
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn addr_of(arg: &str) -> String {
    let start = arg.find('<').map(|i| i + 1).unwrap_or(0);
    let end = arg.find('>').unwrap_or(arg.len());
    arg[start..end].to_string()
}

pub async fn smtp_session<S>(stream: S, mails: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    let mut current = Mail::default();
    for _ in 0..10_000 {
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-sink.test greets you\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 PIPELINING\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            current = Mail {
                from: addr_of(&line[10..]),
                ..Mail::default()
            };
            w.write_all(b"250 2.1.0 Ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            current.rcpts.push(addr_of(&line[8..]));
            w.write_all(b"250 2.1.5 Ok\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            let mut ended = false;
            for _ in 0..100_000 {
                let Some(l) = lines.next_line().await? else {
                    break;
                };
                if l == "." {
                    ended = true;
                    break;
                }
                let l = l
                    .strip_prefix('.')
                    .filter(|_| l.starts_with(".."))
                    .unwrap_or(&l);
                data.push_str(l);
                data.push('\n');
            }
            if !ended {
                break;
            }
            current.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut current));
            w.write_all(b"250 2.0.0 Ok: queued\r\n").await?;
        } else if upper == "RSET" {
            current = Mail::default();
            w.write_all(b"250 2.0.0 Ok\r\n").await?;
        } else if upper == "NOOP" {
            w.write_all(b"250 2.0.0 Ok\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 Bye\r\n").await?;
            break;
        } else {
            w.write_all(b"502 5.5.2 Command not recognized\r\n").await?;
        }
    }
    Ok(())
}

/// A minimal SMTP server capturing messages (no TLS, no AUTH).
pub async fn smtp_sink() -> SmtpSink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let m = Arc::clone(&mails);
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let m = Arc::clone(&m);
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(15), smtp_session(stream, m)).await;
            });
        }
    });
    SmtpSink { port, mails }
}

/// Builds a notifier from TOML text whose secrets come from `env`.
pub fn notifier(toml: &str, env: &[(&str, &str)]) -> vigie_notify::Notifier {
    let mut cfg = vigie_notify::NotifyConfig::from_toml_str(toml, "notify.toml").unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cfg.resolve_secrets(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .unwrap();
    vigie_notify::Notifier::new(cfg).unwrap()
}

/// `[settings]` suited to tests: short timeouts and backoff.
pub const FAST: &str = "[settings]\ntimeout_seconds = 5\nattempts = 3\nretry_backoff_ms = 20\n\n";
