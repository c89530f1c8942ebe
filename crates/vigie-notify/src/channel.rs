//! The three channels: one attempt each; retries are the notifier's.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::alert::Alert;
use crate::config::{ChannelConfig, ChannelKind, Settings, SmtpConfig, SmtpTls};
use crate::error::NotifyError;
use crate::render::{self, MAIL_CAP, MATRIX_CAP, WEBHOOK_CAP};
use crate::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// One failed attempt.
#[derive(Debug)]
pub(crate) struct SendError {
    /// Worth another attempt (network trouble, 5xx, 429, SMTP 4xx).
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    fn retry(message: impl Into<String>) -> SendError {
        SendError {
            retryable: true,
            message: message.into(),
        }
    }

    fn fatal(message: impl Into<String>) -> SendError {
        SendError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// What a route adds to the alert when sending it.
#[derive(Debug, Clone)]
pub(crate) struct Extras {
    pub route: String,
    /// (count, since) held back by the route's rate limit.
    pub suppressed: Option<(u64, i64)>,
}

impl Extras {
    fn note(&self) -> Option<String> {
        self.suppressed
            .map(|(n, since)| render::suppressed_line(n, since))
    }
}

/// A channel ready to send.
pub(crate) enum Channel {
    Webhook {
        url: url::Url,
        secret: Vec<u8>,
    },
    Matrix {
        homeserver: url::Url,
        room: String,
        token: String,
    },
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        cfg: Box<SmtpConfig>,
    },
}

/// Extra CA certificates from the settings (inline PEM and/or file).
pub(crate) fn extra_ca(settings: &Settings) -> Result<Vec<CertificateDer<'static>>, NotifyError> {
    let mut pem = settings.extra_ca_pem.clone().unwrap_or_default();
    if let Some(path) = &settings.extra_ca_file {
        let text = std::fs::read_to_string(path).map_err(|source| NotifyError::Io {
            path: path.clone(),
            source,
        })?;
        pem.push('\n');
        pem.push_str(&text);
    }
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        out.push(cert.map_err(|e| NotifyError::Tls(format!("extra CA certificate: {e}")))?);
    }
    if out.is_empty() && !pem.trim().is_empty() {
        return Err(NotifyError::Tls(
            "extra CA: no PEM certificate found".to_string(),
        ));
    }
    Ok(out)
}

/// The shared HTTP client: rustls with the ring provider, webpki roots plus
/// the extra CAs, bounded by the settings' timeout, no environment proxy.
pub(crate) fn http_client(
    settings: &Settings,
    extra: &[CertificateDer<'static>],
) -> Result<reqwest::Client, NotifyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| NotifyError::Tls(format!("extra CA certificate: {e}")))?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NotifyError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(crate::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(proxy) = &settings.proxy {
        let p = reqwest::Proxy::all(proxy.as_str())
            .map_err(|e| NotifyError::HttpClient(format!("proxy: {e}")))?;
        builder = builder.proxy(p);
    }
    builder
        .build()
        .map_err(|e| NotifyError::HttpClient(e.to_string()))
}

fn smtp_transport(
    name: &str,
    cfg: &SmtpConfig,
    settings: &Settings,
    extra: &[CertificateDer<'static>],
) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    let err = |message: String| NotifyError::Smtp {
        channel: name.to_string(),
        message,
    };
    let tls_params = || -> Result<TlsParameters, NotifyError> {
        let mut b = TlsParameters::builder(cfg.host.clone())
            .certificate_store(CertificateStore::WebpkiRoots);
        for cert in extra {
            let c = Certificate::from_der(cert.as_ref().to_vec())
                .map_err(|e| err(format!("extra CA certificate: {e}")))?;
            b = b.add_root_certificate(c);
        }
        b.build_rustls().map_err(|e| err(format!("TLS setup: {e}")))
    };
    let tls = match cfg.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(tls_params()?),
        SmtpTls::Tls => Tls::Wrapper(tls_params()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.as_str())
        .port(cfg.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if let Some(user) = &cfg.username {
        let password = cfg
            .password
            .as_ref()
            .and_then(|p| p.value.as_ref())
            .ok_or_else(|| NotifyError::UnresolvedSecret {
                channel: name.to_string(),
                what: "SMTP password",
            })?;
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

impl Channel {
    pub(crate) fn build(
        cfg: &ChannelConfig,
        settings: &Settings,
        extra: &[CertificateDer<'static>],
    ) -> Result<Channel, NotifyError> {
        Ok(match &cfg.kind {
            ChannelKind::Webhook(w) => Channel::Webhook {
                url: w.url.clone(),
                secret: w
                    .secret
                    .value
                    .as_ref()
                    .ok_or_else(|| NotifyError::UnresolvedSecret {
                        channel: cfg.name.clone(),
                        what: "webhook secret",
                    })?
                    .expose()
                    .as_bytes()
                    .to_vec(),
            },
            ChannelKind::Matrix(m) => Channel::Matrix {
                homeserver: m.homeserver.clone(),
                room: m.room.clone(),
                token: m
                    .access_token
                    .value
                    .as_ref()
                    .ok_or_else(|| NotifyError::UnresolvedSecret {
                        channel: cfg.name.clone(),
                        what: "Matrix access token",
                    })?
                    .expose()
                    .to_string(),
            },
            ChannelKind::Smtp(s) => Channel::Smtp {
                transport: Box::new(smtp_transport(&cfg.name, s, settings, extra)?),
                cfg: Box::new(s.clone()),
            },
        })
    }

    /// One attempt.
    pub(crate) async fn send_once(
        &self,
        http: &reqwest::Client,
        alert: &Alert,
        extras: &Extras,
    ) -> Result<(), SendError> {
        match self {
            Channel::Webhook { url, secret } => {
                let body = webhook_body(alert, extras)
                    .map_err(|e| SendError::fatal(format!("encoding the JSON body: {e}")))?;
                let ts = unix_now().to_string();
                let sig = sign(secret, &ts, &body);
                let req = http
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(TIMESTAMP_HEADER, ts)
                    .header(SIGNATURE_HEADER, sig)
                    .body(body);
                http_outcome(req.send().await).await
            }
            Channel::Matrix {
                homeserver,
                room,
                token,
            } => {
                let txn = matrix_txn_id(alert, &extras.route);
                let url = matrix_send_url(homeserver, room, &txn)
                    .map_err(|e| SendError::fatal(format!("building the Matrix URL: {e}")))?;
                let (plain, html) = matrix_texts(alert, extras);
                let body = json!({
                    "msgtype": "m.text",
                    "body": plain,
                    "format": "org.matrix.custom.html",
                    "formatted_body": html,
                });
                let req = http.put(url).bearer_auth(token).json(&body);
                http_outcome(req.send().await).await
            }
            Channel::Smtp { transport, cfg } => {
                let msg = mail_message(cfg, alert, extras)
                    .map_err(|e| SendError::fatal(format!("building the e-mail: {e}")))?;
                match transport.send(msg).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let retryable = !(e.is_permanent() || e.is_client() || e.is_tls());
                        Err(SendError {
                            retryable,
                            message: format!("SMTP: {e}"),
                        })
                    }
                }
            }
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn http_outcome(res: Result<reqwest::Response, reqwest::Error>) -> Result<(), SendError> {
    match res {
        Err(e) => {
            let e = e.without_url();
            let retryable = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body();
            Err(SendError {
                retryable,
                message: format!("HTTP: {e}"),
            })
        }
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let snippet = tokio::time::timeout(Duration::from_secs(2), resp.text())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|t| {
                    let t: String = t.chars().take(200).collect();
                    t.split_whitespace().collect::<Vec<_>>().join(" ")
                })
                .unwrap_or_default();
            let message = if snippet.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {snippet}")
            };
            if status.is_server_error() || status.as_u16() == 429 {
                Err(SendError::retry(message))
            } else {
                Err(SendError::fatal(message))
            }
        }
    }
}

/// The webhook JSON body.
pub(crate) fn webhook_body(alert: &Alert, extras: &Extras) -> serde_json::Result<Vec<u8>> {
    let mut body = render::cap_text(&alert.body, WEBHOOK_CAP);
    if let Some(note) = extras.note() {
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str(&note);
    }
    let mut v = json!({
        "version": 1,
        "key": alert.key,
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "body": body,
        "establishments": alert.establishments,
        "regions": alert.regions,
        "at": alert.at,
        "details": alert.details,
    });
    if let (Some((n, since)), Some(obj)) = (extras.suppressed, v.as_object_mut()) {
        obj.insert(
            "suppressed".to_string(),
            json!({ "count": n, "since": since }),
        );
    }
    serde_json::to_vec(&v)
}

/// Deterministic per (alert key, kind, at, route): a retry reuses it, so the
/// homeserver deduplicates.
pub(crate) fn matrix_txn_id(alert: &Alert, route: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        alert.key.as_bytes(),
        alert.kind.as_str().as_bytes(),
        alert.at.to_string().as_bytes(),
        route.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    format!(
        "vigie-{}",
        hex::encode(digest.get(..16).unwrap_or_default())
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn matrix_send_url(
    homeserver: &url::Url,
    room: &str,
    txn: &str,
) -> Result<url::Url, url::ParseError> {
    let base = homeserver.as_str().trim_end_matches('/');
    url::Url::parse(&format!(
        "{base}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        percent_encode(room),
        percent_encode(txn)
    ))
}

/// (plain, HTML) bodies of a Matrix message.
pub(crate) fn matrix_texts(alert: &Alert, extras: &Extras) -> (String, String) {
    let head = render::heading(alert);
    let note = extras.note();
    let rest = render::plain_text(alert, MATRIX_CAP, note.as_deref());
    let plain = format!("[vigie] {head}: {}\n\n{rest}", alert.title);
    let html_rest = render::html_escape(&rest).replace('\n', "<br>\n");
    let html = format!(
        "<p><strong>[vigie] {}: {}</strong></p>\n<p>{html_rest}</p>",
        render::html_escape(head),
        render::html_escape(&alert.title)
    );
    (plain, html)
}

/// `[vigie] CRITICAL: <title>` (or RESOLVED / RECOVERED).
pub(crate) fn mail_subject(alert: &Alert) -> String {
    let title: String = alert
        .title
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    format!("[vigie] {}: {title}", render::heading(alert))
}

/// `<random@domain-of-from>`: unique per send (a retry of the same message
/// may reuse the id; receivers then deduplicate).
fn mail_message_id(cfg: &SmtpConfig, alert: &Alert, extras: &Extras) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(matrix_txn_id(alert, &extras.route).as_bytes());
    h.update(nanos.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    let digest = h.finalize();
    format!(
        "<vigie.{}@{}>",
        hex::encode(digest.get(..16).unwrap_or_default()),
        cfg.from.email.domain()
    )
}

fn mail_message(
    cfg: &SmtpConfig,
    alert: &Alert,
    extras: &Extras,
) -> Result<Message, lettre::error::Error> {
    let note = extras.note();
    let mut text = format!("{}\n\n", alert.title.trim());
    text.push_str(&render::plain_text(alert, MAIL_CAP, note.as_deref()));
    text.push_str(&format!("\n\n-- \nvigie, route {}\n", extras.route));
    let mut b = Message::builder()
        .from(cfg.from.clone())
        .subject(mail_subject(alert))
        .message_id(Some(mail_message_id(cfg, alert, extras)))
        .user_agent(crate::USER_AGENT.to_string());
    for to in &cfg.to {
        b = b.to(to.clone());
    }
    b.header(ContentType::TEXT_PLAIN).body(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(
            percent_encode("!abc:tchap.gouv.fr"),
            "%21abc%3Atchap.gouv.fr"
        );
        let hs = url::Url::parse("https://matrix.example/").unwrap_or_else(|_| unreachable!());
        let u = matrix_send_url(&hs, "!r:s", "t").map(|u| u.to_string());
        assert_eq!(
            u.as_deref(),
            Ok("https://matrix.example/_matrix/client/v3/rooms/%21r%3As/send/m.room.message/t")
        );
    }
}
