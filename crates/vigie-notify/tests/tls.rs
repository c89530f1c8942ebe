#![allow(clippy::unwrap_used, clippy::expect_used)]
//! TLS against local servers with a test CA given as `extra_ca_pem`: the
//! HTTP client and the SMTP transport use rustls with the ring provider.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FAST, Mail, alert, init, smtp_session};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vigie_notify::{
    AlertKind, DeliveryOutcome, Notifier, NotifyConfig, Severity, verify_signature,
};

/// (CA PEM, acceptor for a 127.0.0.1 / localhost certificate it issued).
fn test_pki() -> (String, TlsAcceptor) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (ca.pem(), TlsAcceptor::from(Arc::new(server)))
}

/// A one-route-per-request HTTPS endpoint answering 200; records raw requests.
async fn https_receiver(acceptor: TlsAcceptor) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let work = async {
                    let mut tls = acceptor.accept(tcp).await.ok()?;
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read headers, then Content-Length bytes of body.
                    for _ in 0..1000 {
                        let n = tls.read(&mut chunk).await.ok()?;
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = find(&buf, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    s.lock().unwrap().push(buf);
                    tls.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await
                    .ok()?;
                    tls.shutdown().await.ok()
                };
                let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
            });
        }
    });
    (port, seen)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn webhook_config(port: u16, ca: Option<&str>) -> NotifyConfig {
    let toml = format!(
        "{FAST}[[channel]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"https://127.0.0.1:{port}/hook\"\nsecret = \"tls-secret\"\n\n\
         [[route]]\nname = \"r\"\nchannel = \"h\"\n"
    );
    let mut cfg = NotifyConfig::from_toml_str(&toml, "notify.toml").unwrap();
    cfg.settings.attempts = 1;
    cfg.settings.extra_ca_pem = ca.map(str::to_string);
    cfg
}

#[tokio::test]
async fn https_webhook_with_an_extra_ca() {
    init();
    let (ca_pem, acceptor) = test_pki();
    let (port, seen) = https_receiver(acceptor).await;

    let n = Notifier::new(webhook_config(port, Some(&ca_pem))).unwrap();
    let d = n
        .dispatch(&alert(
            "tls-1",
            AlertKind::Opened,
            Severity::Critical,
            &[],
            &[],
        ))
        .await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let raw = seen.lock().unwrap()[0].clone();
    let end = find(&raw, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let body = &raw[end + 4..];
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap()
    };
    assert!(head.starts_with("POST /hook HTTP/1.1"));
    assert!(verify_signature(
        b"tls-secret",
        &header("x-vigie-timestamp"),
        body,
        &header("x-vigie-signature")
    ));

    // Without the CA the certificate is refused.
    let n = Notifier::new(webhook_config(port, None)).unwrap();
    let d = n
        .dispatch(&alert(
            "tls-2",
            AlertKind::Opened,
            Severity::Critical,
            &[],
            &[],
        ))
        .await;
    assert!(
        matches!(d[0].outcome, DeliveryOutcome::Failed { .. }),
        "{:?}",
        d[0].outcome
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn smtp_over_implicit_tls() {
    init();
    let (ca_pem, acceptor) = test_pki();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let m = Arc::clone(&mails);
    tokio::spawn(async move {
        for _ in 0..5 {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            let m = Arc::clone(&m);
            tokio::spawn(async move {
                let work = async {
                    let tls = acceptor.accept(tcp).await?;
                    smtp_session(tls, m).await
                };
                let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
            });
        }
    });
    let toml = format!(
        "{FAST}[[channel]]\nname = \"m\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"tls\"\n\
         from = \"vigie@vigie.test\"\nto = [\"soc@ars.test\"]\n\n[[route]]\nname = \"r\"\nchannel = \"m\"\n"
    );
    let mut cfg = NotifyConfig::from_toml_str(&toml, "notify.toml").unwrap();
    cfg.settings.extra_ca_pem = Some(ca_pem);
    let n = Notifier::new(cfg).unwrap();
    let d = n
        .dispatch(&alert(
            "tls-mail",
            AlertKind::Opened,
            Severity::Major,
            &[],
            &[],
        ))
        .await;
    assert_eq!(d[0].outcome, DeliveryOutcome::Sent { attempts: 1 });
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpts, vec!["soc@ars.test"]);
    assert!(
        mails[0]
            .data
            .contains("Subject: [vigie] MAJOR: tls-mail title")
    );
}
