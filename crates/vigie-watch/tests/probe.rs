#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The network probes against servers started by the tests on 127.0.0.1
//! (ephemeral ports only): TLS with certificates made here with rcgen, a DNS
//! server written here with hickory-proto, and HTTP servers that behave and
//! misbehave. Every probe is checked to return within its timeout + 1 s.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use url::Url;
use vigie_watch::probe::{
    CertProblem, ErrorKind, Phase, ProbeEnv, ProbeEnvConfig, ProbeEnvError, ProbeOutcome,
    ProbeSpec, probe, registrable_zone,
};

// ------------------------------------------------------------------ PKI

struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn make_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

/// A served identity: the chain (leaf first) and the leaf's key.
#[derive(Clone)]
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

/// A leaf for `names`, valid 2020-01-01 .. 2035-01-01 unless `adjust`
/// changes it; issued by `ca` (and served with it) or self-signed.
fn make_leaf(
    names: &[&str],
    ca: Option<&Ca>,
    adjust: impl FnOnce(&mut CertificateParams),
) -> Identity {
    let sans: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2035, 1, 1);
    adjust(&mut params);
    let key = KeyPair::generate().unwrap();
    let chain = match ca {
        Some(ca) => vec![
            params.signed_by(&key, &ca.issuer).unwrap().der().clone(),
            ca.der.clone(),
        ],
        None => vec![params.self_signed(&key).unwrap().der().clone()],
    };
    Identity {
        chain,
        key_der: key.serialize_der(),
    }
}

fn acceptor(id: &Identity) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            id.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
        )
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

// ------------------------------------------------------------------ HTTP servers

/// What a test server does with a request.
#[derive(Clone)]
enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Reads the request, never answers.
    Hang,
    /// Announces `total` bytes and sends one every `every`.
    Trickle { total: usize, every: Duration },
    /// No length, data until the client goes away.
    Endless,
    /// Announces and sends `len` bytes.
    Huge { len: usize },
    /// One header of 1 MiB.
    HugeHeader,
}

fn ok(body: &str) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn redirect(status: u16, location: String) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Location".into(), location)],
        body: b"moved".to_vec(),
    }
}

/// The routes of every test server (`port` is the server's own).
fn route(path: &str, port: u16) -> Reply {
    match path {
        "/" => ok("<html>hello vigie</html>"),
        "/r1" => redirect(302, "/r2".into()),
        "/r2" => redirect(301, format!("http://127.0.0.1:{port}/final?x=1")),
        "/final?x=1" => ok("final page"),
        "/loop" => redirect(302, "/loop".into()),
        "/hang" => Reply::Hang,
        "/trickle" => Reply::Trickle {
            total: 100,
            every: Duration::from_millis(500),
        },
        "/endless" => Reply::Endless,
        "/huge" => Reply::Huge {
            len: 10 * 1024 * 1024,
        },
        "/bigheader" => Reply::HugeHeader,
        "/many-headers" => {
            let mut headers: Vec<(String, String)> = (0..100)
                .map(|i| (format!("X-Filler-{i:03}"), format!("v{i}")))
                .collect();
            headers.insert(0, ("X-Long".into(), "a".repeat(5000)));
            Reply::Full {
                status: 200,
                headers,
                body: b"many".to_vec(),
            }
        }
        p if p.starts_with("/to-port/") => redirect(
            302,
            format!("http://127.0.0.1:{}/", &p["/to-port/".len()..]),
        ),
        _ => Reply::Full {
            status: 404,
            headers: vec![],
            body: b"not found".to_vec(),
        },
    }
}

struct Server {
    addr: SocketAddr,
    /// Request heads received, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn start_server(tls: Option<TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            let log = log.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            handle(stream, addr.port(), log).await;
                        }
                    }
                    None => handle(tcp, addr.port(), log).await,
                }
            });
        }
    });
    Server { addr, requests }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().unwrap().push(head);
    match route(&path, port) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            let _ = s.write_all(&bytes).await;
            let _ = s.flush().await;
            let _ = s.shutdown().await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
        Reply::Trickle { total, every } => {
            let h = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
            if s.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..total {
                if s.write_all(b"x").await.is_err() || s.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Reply::Endless => {
            if s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            let block = vec![b'e'; 16 * 1024];
            // Bounded: 64 Ki blocks (1 GiB), far more than any cap.
            for _ in 0..65_536 {
                if s.write_all(&block).await.is_err() || s.flush().await.is_err() {
                    return;
                }
            }
        }
        Reply::Huge { len } => {
            let h = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            if s.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'h'; 64 * 1024];
            let mut sent = 0;
            while sent < len {
                let n = block.len().min(len - sent);
                if s.write_all(&block[..n]).await.is_err() {
                    return;
                }
                sent += n;
            }
            let _ = s.flush().await;
        }
        Reply::HugeHeader => {
            let mut out = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            out.extend(std::iter::repeat_n(b'a', 1024 * 1024));
            out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            let _ = s.write_all(&out).await;
            let _ = s.flush().await;
        }
    }
}

/// Accepts TCP connections and holds them, silent.
async fn start_silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
            if held.len() > 64 {
                held.remove(0);
            }
        }
    });
    addr
}

/// A port nobody listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

// ------------------------------------------------------------------ DNS server

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a_record(owner: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A(Ipv4Addr::LOCALHOST)))
}

fn cname_record(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
}

/// The zone served: `None` = no answer at all.
fn dns_answer(req: &Message) -> Option<Message> {
    let q = req.queries.first()?;
    let qname = q.name.to_ascii().to_ascii_lowercase();
    let is_a = q.query_type == RecordType::A;
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authoritative = true;
    resp.queries = req.queries.clone();
    match qname.as_str() {
        "www.example.test." | "localhost." => {
            if is_a {
                resp.add_answer(a_record(&qname));
            }
        }
        "alias.example.test." => {
            resp.add_answer(cname_record("alias.example.test.", "Mid.Example.test."));
            resp.add_answer(cname_record("mid.example.test.", "www.example.test."));
            if is_a {
                resp.add_answer(a_record("www.example.test."));
            }
        }
        "dangling.example.test." => {
            resp.add_answer(cname_record(
                "dangling.example.test.",
                "noaddr.example.test.",
            ));
        }
        "fail.example.test." => resp.metadata.response_code = ResponseCode::ServFail,
        "noaddr.example.test." => {}
        "silent.example.test." => return None,
        _ => resp.metadata.response_code = ResponseCode::NXDomain,
    }
    Some(resp)
}

async fn start_dns() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Some(resp) = dns_answer(&req) {
                let _ = socket.send_to(&resp.to_vec().unwrap(), peer).await;
            }
        }
    });
    addr
}

// ------------------------------------------------------------------ helpers

/// A probe environment using the test DNS server and trusting `cas`.
async fn env(cas: &[&Ca]) -> ProbeEnv {
    let dns = start_dns().await;
    ProbeEnv::new(ProbeEnvConfig {
        nameservers: Some(vec![dns]),
        dns_timeout: Duration::from_secs(1),
        extra_ca_pem: cas.iter().map(|c| c.pem.as_bytes().to_vec()).collect(),
        use_system_roots: false,
        ..ProbeEnvConfig::default()
    })
    .unwrap()
}

fn spec(url: &str, timeout_ms: u64) -> ProbeSpec {
    let mut s = ProbeSpec::new(Url::parse(url).unwrap());
    s.timeout = Duration::from_millis(timeout_ms);
    s
}

/// Probes and checks the outcome arrived within the timeout + 1 s.
async fn run(env: &ProbeEnv, spec: &ProbeSpec) -> ProbeOutcome {
    let t0 = Instant::now();
    let out = probe(env, spec).await;
    let took = t0.elapsed();
    assert!(
        took <= spec.timeout + Duration::from_secs(1),
        "probe of {} took {took:?} (timeout {:?}): {out:?}",
        spec.url,
        spec.timeout
    );
    assert!(out.phases.total <= spec.timeout + Duration::from_secs(1));
    out
}

fn error_of(out: &ProbeOutcome) -> (Phase, ErrorKind) {
    let e = out
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("expected an error: {out:?}"));
    (e.phase, e.kind)
}

async fn https_server(id: &Identity) -> Server {
    start_server(Some(acceptor(id))).await
}

// ------------------------------------------------------------------ TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_valid_certificate_through_dns() {
    let ca = make_ca("Vigie Test CA 1");
    let id = make_leaf(&["localhost", "www.example.test"], Some(&ca), |_| {});
    let server = https_server(&id).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(
            &format!("https://www.example.test:{}/", server.port()),
            3000,
        ),
    )
    .await;
    assert!(out.error.is_none(), "{out:?}");
    let dns = out.dns.as_ref().unwrap();
    assert_eq!(
        dns.addresses,
        vec![std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
    assert!(dns.cnames.is_empty());
    assert_eq!(out.address, Some(server.addr));
    let tls = out.tls.as_ref().unwrap();
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.cipher.starts_with("TLS13_"), "{}", tls.cipher);
    assert_eq!(tls.verification, Ok(()));
    let leaf = tls.leaf.as_ref().unwrap();
    assert_eq!(leaf.subject, "CN=localhost");
    assert_eq!(leaf.issuer, "CN=Vigie Test CA 1");
    assert_eq!(leaf.dns_names, vec!["localhost", "www.example.test"]);
    assert_eq!(leaf.not_before, date_time_ymd(2020, 1, 1).unix_timestamp());
    assert_eq!(leaf.not_after, date_time_ymd(2035, 1, 1).unix_timestamp());
    assert_eq!(leaf.sha256.len(), 64);
    assert_eq!(leaf.spki_sha256.len(), 64);
    assert!(
        leaf.sha256
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // The CA (served too) expires later: the earliest is the leaf's.
    assert_eq!(tls.earliest_expiry, Some(leaf.not_after));
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 200);
    assert_eq!(&http.body[..], b"<html>hello vigie</html>");
    assert!(out.phases.dns.is_some());
    assert!(out.phases.connect.is_some());
    assert!(out.phases.tls.is_some());
    assert!(out.phases.first_byte.is_some());
    let head = server.requests.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.starts_with("get / http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: www.example.test:{}\r\n", server.port())),
        "{head}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_expired_certificate_is_described_and_not_requested() {
    let ca = make_ca("Vigie Test CA 1");
    let id = make_leaf(&["localhost"], Some(&ca), |p| {
        p.not_before = date_time_ymd(2019, 1, 1);
        p.not_after = date_time_ymd(2020, 1, 1);
    });
    let server = https_server(&id).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(&format!("https://localhost:{}/", server.port()), 3000),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Tls, ErrorKind::TlsHandshake));
    let tls = out.tls.as_ref().unwrap();
    assert_eq!(tls.verification, Err(CertProblem::Expired));
    let leaf = tls.leaf.as_ref().unwrap();
    assert_eq!(leaf.not_after, date_time_ymd(2020, 1, 1).unix_timestamp());
    assert_eq!(tls.earliest_expiry, Some(leaf.not_after));
    assert!(out.http.is_none());
    // Give the server a moment: no request may have been sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.requests.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_wrong_name() {
    let ca = make_ca("Vigie Test CA 1");
    let id = make_leaf(&["other.example"], Some(&ca), |_| {});
    let server = https_server(&id).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(&format!("https://localhost:{}/", server.port()), 3000),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Tls, ErrorKind::TlsHandshake));
    let tls = out.tls.as_ref().unwrap();
    assert_eq!(tls.verification, Err(CertProblem::NameMismatch));
    assert_eq!(tls.leaf.as_ref().unwrap().dns_names, vec!["other.example"]);
    assert!(out.http.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_self_signed_is_unknown_issuer() {
    let ca = make_ca("Vigie Test CA 1");
    let id = make_leaf(&["localhost"], None, |_| {});
    let server = https_server(&id).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(&format!("https://localhost:{}/", server.port()), 3000),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Tls, ErrorKind::TlsHandshake));
    let tls = out.tls.as_ref().unwrap();
    assert_eq!(tls.verification, Err(CertProblem::UnknownIssuer));
    let leaf = tls.leaf.as_ref().unwrap();
    assert_eq!(leaf.subject, leaf.issuer);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["tls"]["verification"], "unknown-issuer");
    assert_eq!(json["error"]["phase"], "tls");
    assert_eq!(json["error"]["kind"], "tls-handshake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_changed_issuer_verifies_but_differs() {
    let ca1 = make_ca("Vigie Test CA 1");
    let ca2 = make_ca("Vigie Test CA 2");
    let s1 = https_server(&make_leaf(&["localhost"], Some(&ca1), |_| {})).await;
    let s2 = https_server(&make_leaf(&["localhost"], Some(&ca2), |_| {})).await;
    let env = env(&[&ca1, &ca2]).await;
    let o1 = run(
        &env,
        &spec(&format!("https://localhost:{}/", s1.port()), 3000),
    )
    .await;
    let o2 = run(
        &env,
        &spec(&format!("https://localhost:{}/", s2.port()), 3000),
    )
    .await;
    assert!(o1.error.is_none() && o2.error.is_none(), "{o1:?} {o2:?}");
    let l1 = o1.tls.unwrap().leaf.unwrap();
    let l2 = o2.tls.unwrap().leaf.unwrap();
    assert_eq!(l1.subject, l2.subject);
    assert_eq!(l1.issuer, "CN=Vigie Test CA 1");
    assert_eq!(l2.issuer, "CN=Vigie Test CA 2");
    assert_ne!(l1.spki_sha256, l2.spki_sha256);
    assert_ne!(l1.sha256, l2.sha256);
    assert_ne!(l1, l2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ip_literal_with_and_without_server_name() {
    let ca = make_ca("Vigie Test CA 1");
    let server = https_server(&make_leaf(&["localhost"], Some(&ca), |_| {})).await;
    let env = env(&[&ca]).await;
    let url = format!("https://127.0.0.1:{}/", server.port());
    let mut named = spec(&url, 3000);
    named.tls_server_name = Some("localhost".into());
    let out = run(&env, &named).await;
    assert!(out.error.is_none(), "{out:?}");
    assert!(out.dns.is_none());
    assert!(out.phases.dns.is_none());
    assert_eq!(out.http.as_ref().unwrap().status, 200);
    // The certificate has no IP address: the bare IP does not verify.
    let out = run(&env, &spec(&url, 3000)).await;
    assert_eq!(error_of(&out), (Phase::Tls, ErrorKind::TlsHandshake));
    assert_eq!(
        out.tls.as_ref().unwrap().verification,
        Err(CertProblem::NameMismatch)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_silent_before_handshake_times_out() {
    let addr = start_silent().await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(&format!("https://127.0.0.1:{}/", addr.port()), 1500),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Tls, ErrorKind::Timeout));
    assert_eq!(out.address, Some(addr));
    assert!(out.tls.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_silent_after_handshake_times_out() {
    let ca = make_ca("Vigie Test CA 1");
    let server = https_server(&make_leaf(&["localhost"], Some(&ca), |_| {})).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(&format!("https://localhost:{}/hang", server.port()), 1500),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Http, ErrorKind::Timeout));
    assert_eq!(out.tls.as_ref().unwrap().verification, Ok(()));
    assert!(out.phases.tls.is_some());
    assert!(out.phases.first_byte.is_none());
    assert!(out.http.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_speaking_to_tls_port_fails_cleanly() {
    let ca = make_ca("Vigie Test CA 1");
    let server = https_server(&make_leaf(&["localhost"], Some(&ca), |_| {})).await;
    let env = env(&[&ca]).await;
    let out = run(
        &env,
        &spec(&format!("http://127.0.0.1:{}/", server.port()), 2000),
    )
    .await;
    let (phase, kind) = error_of(&out);
    assert_eq!(phase, Phase::Http, "{out:?}");
    assert!(
        matches!(kind, ErrorKind::Protocol | ErrorKind::Reset),
        "{out:?}"
    );
}

// ------------------------------------------------------------------ DNS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_cname_chain_is_reported() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(
            &format!("http://alias.example.test:{}/", server.port()),
            3000,
        ),
    )
    .await;
    assert!(out.error.is_none(), "{out:?}");
    let dns = out.dns.as_ref().unwrap();
    assert_eq!(dns.cnames, vec!["mid.example.test", "www.example.test"]);
    assert_eq!(
        dns.addresses,
        vec![std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
    assert_eq!(out.http.as_ref().unwrap().status, 200);
    // Cached the second time: same answer.
    let again = run(
        &env,
        &spec(
            &format!("http://alias.example.test:{}/", server.port()),
            3000,
        ),
    )
    .await;
    assert_eq!(again.dns, out.dns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failures_are_classified() {
    let env = env(&[]).await;
    let cases = [
        ("nx.example.test", ErrorKind::Nxdomain),
        ("fail.example.test", ErrorKind::Servfail),
        ("noaddr.example.test", ErrorKind::NoAddress),
        ("dangling.example.test", ErrorKind::NoAddress),
    ];
    for (host, kind) in cases {
        let out = run(&env, &spec(&format!("http://{host}:9/"), 3000)).await;
        assert_eq!(error_of(&out), (Phase::Dns, kind), "{host}: {out:?}");
        assert!(out.phases.dns.is_none());
        assert!(out.address.is_none());
        if let Some(dns) = &out.dns {
            assert_eq!(kind, ErrorKind::NoAddress);
            assert!(dns.addresses.is_empty());
        }
        assert!(out.http.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_server_that_never_answers_times_out() {
    let env = env(&[]).await;
    let out = run(&env, &spec("http://silent.example.test:9/", 2500)).await;
    assert_eq!(error_of(&out), (Phase::Dns, ErrorKind::Timeout), "{out:?}");
    // Also when the probe's deadline is shorter than the DNS timeout.
    let out = run(&env, &spec("http://silent.example.test:9/", 400)).await;
    assert_eq!(error_of(&out), (Phase::Dns, ErrorKind::Timeout), "{out:?}");
}

// ------------------------------------------------------------------ HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_probe() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(&format!("http://127.0.0.1:{}/", server.port()), 3000),
    )
    .await;
    assert!(out.error.is_none(), "{out:?}");
    assert!(out.tls.is_none() && out.dns.is_none());
    assert!(out.phases.connect.is_some() && out.phases.first_byte.is_some());
    assert!(out.phases.tls.is_none());
    assert!(out.started_at > 1_600_000_000);
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 200);
    assert_eq!(http.content_length, Some(24));
    assert!(!http.body_truncated);
    assert_eq!(http.header("content-type"), Some("text/html"));
    assert!(
        http.headers
            .iter()
            .all(|(n, _)| n == &n.to_ascii_lowercase())
    );
    assert_eq!(
        http.final_url,
        format!("http://127.0.0.1:{}/", server.port())
    );
    assert!(http.redirects.is_empty());

    let head = server.requests.lock().unwrap()[0].clone();
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains(&format!("host: 127.0.0.1:{}\r\n", server.port())),
        "{head}"
    );
    assert!(
        lower.contains(&format!(
            "user-agent: vigie-watch/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{head}"
    );
    assert!(lower.contains("connection: close\r\n"), "{head}");
    assert!(lower.contains("accept: text/html,*/*\r\n"), "{head}");
    assert!(!lower.contains("accept-encoding"), "{head}");

    let json = serde_json::to_value(&out).unwrap();
    assert!(json["phases"]["total"].as_f64().unwrap() >= 0.0);
    assert!(json["phases"]["tls"].is_null());
    assert_eq!(json["http"]["body"], "<html>hello vigie</html>");
    assert!(json["error"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_capped() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(
            &format!("http://127.0.0.1:{}/many-headers", server.port()),
            3000,
        ),
    )
    .await;
    assert!(out.error.is_none(), "{out:?}");
    let http = out.http.unwrap();
    assert_eq!(http.headers.len(), 64);
    assert_eq!(http.header("x-long").map(str::len), Some(1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_body_times_out_with_partial_body() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(&format!("http://127.0.0.1:{}/trickle", server.port()), 2000),
    )
    .await;
    assert_eq!(error_of(&out), (Phase::Body, ErrorKind::Timeout), "{out:?}");
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 200);
    assert_eq!(http.content_length, Some(100));
    assert!(
        !http.body.is_empty() && http.body.len() < 100,
        "{}",
        http.body.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_body_is_capped_and_returns_fast() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let mut s = spec(
        &format!("http://127.0.0.1:{}/endless", server.port()),
        10_000,
    );
    s.max_body = 256 * 1024;
    let t0 = Instant::now();
    let out = run(&env, &s).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(out.error.is_none(), "{out:?}");
    let http = out.http.unwrap();
    assert!(http.body_truncated);
    assert_eq!(http.body.len(), 256 * 1024);
    assert_eq!(http.content_length, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body_is_truncated() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let mut s = spec(&format!("http://127.0.0.1:{}/huge", server.port()), 10_000);
    s.max_body = 1024 * 1024;
    let t0 = Instant::now();
    let out = run(&env, &s).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(out.error.is_none(), "{out:?}");
    let http = out.http.unwrap();
    assert!(http.body_truncated);
    assert_eq!(http.body.len(), 1024 * 1024);
    assert_eq!(http.content_length, Some(10 * 1024 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_header_is_a_protocol_error() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(
            &format!("http://127.0.0.1:{}/bigheader", server.port()),
            3000,
        ),
    )
    .await;
    assert_eq!(
        error_of(&out),
        (Phase::Http, ErrorKind::Protocol),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_chain_is_followed() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let port = server.port();
    let out = run(&env, &spec(&format!("http://localhost:{port}/r1"), 3000)).await;
    assert!(out.error.is_none(), "{out:?}");
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 200);
    assert_eq!(&http.body[..], b"final page");
    assert_eq!(
        http.redirects,
        vec![
            format!("http://localhost:{port}/r2"),
            format!("http://127.0.0.1:{port}/final?x=1"),
        ]
    );
    assert_eq!(http.final_url, format!("http://127.0.0.1:{port}/final?x=1"));
    // The last request went to an IP literal: no DNS for it.
    assert!(out.dns.is_none());
    assert_eq!(server.requests.lock().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loop_is_too_many_redirects() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let mut s = spec(&format!("http://127.0.0.1:{}/loop", server.port()), 3000);
    s.max_redirects = 3;
    let out = run(&env, &s).await;
    assert_eq!(
        error_of(&out),
        (Phase::Http, ErrorKind::TooManyRedirects),
        "{out:?}"
    );
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 302);
    assert_eq!(http.redirects.len(), 3);
    assert_eq!(server.requests.lock().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_not_followed_is_the_final_response() {
    let server = start_server(None).await;
    let env = env(&[]).await;
    let mut s = spec(&format!("http://127.0.0.1:{}/r1", server.port()), 3000);
    s.follow_redirects = false;
    let out = run(&env, &s).await;
    assert!(out.error.is_none(), "{out:?}");
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 302);
    assert_eq!(http.header("location"), Some("/r2"));
    assert!(http.redirects.is_empty());
    assert_eq!(&http.body[..], b"moved");
    assert_eq!(server.requests.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_a_failing_hop_keeps_the_chain() {
    let server = start_server(None).await;
    let closed = closed_port().await;
    let env = env(&[]).await;
    let url = format!(
        "http://127.0.0.1:{}/to-port/{}",
        server.port(),
        closed.port()
    );
    let out = run(&env, &spec(&url, 3000)).await;
    assert_eq!(
        error_of(&out),
        (Phase::Connect, ErrorKind::Refused),
        "{out:?}"
    );
    // The last response received is kept, with the chain so far.
    let http = out.http.as_ref().unwrap();
    assert_eq!(http.status, 302);
    assert_eq!(
        http.redirects,
        vec![format!("http://127.0.0.1:{}/", closed.port())]
    );
    assert_eq!(http.final_url, url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused() {
    let closed = closed_port().await;
    let env = env(&[]).await;
    let out = run(
        &env,
        &spec(&format!("http://127.0.0.1:{}/", closed.port()), 3000),
    )
    .await;
    assert_eq!(
        error_of(&out),
        (Phase::Connect, ErrorKind::Refused),
        "{out:?}"
    );
    assert!(out.address.is_none());
    let out = run(
        &env,
        &spec(&format!("https://localhost:{}/", closed.port()), 3000),
    )
    .await;
    assert_eq!(
        error_of(&out),
        (Phase::Connect, ErrorKind::Refused),
        "{out:?}"
    );
    assert!(out.dns.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_url_is_bad_url() {
    let env = env(&[]).await;
    let out = run(&env, &spec("ftp://127.0.0.1/", 1000)).await;
    assert_eq!(error_of(&out).1, ErrorKind::BadUrl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_probes_share_one_env() {
    let ca = make_ca("Vigie Test CA 1");
    let plain = start_server(None).await;
    let tls = https_server(&make_leaf(
        &["localhost", "www.example.test"],
        Some(&ca),
        |_| {},
    ))
    .await;
    let env = env(&[&ca]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let env = env.clone();
        let url = if i % 2 == 0 {
            format!("http://www.example.test:{}/", plain.port())
        } else {
            format!("https://www.example.test:{}/", tls.port())
        };
        tasks.spawn(async move {
            let s = spec(&url, 10_000);
            run(&env, &s).await
        });
    }
    let mut ok = 0;
    while let Some(res) = tasks.join_next().await {
        let out = res.unwrap();
        assert!(out.error.is_none(), "{out:?}");
        ok += 1;
    }
    assert_eq!(ok, 200);
}

// ------------------------------------------------------------------ env

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_configuration_errors() {
    let base = || ProbeEnvConfig {
        nameservers: Some(vec!["127.0.0.1:53".parse().unwrap()]),
        use_system_roots: false,
        ..ProbeEnvConfig::default()
    };
    let mut c = base();
    c.extra_ca_pem = vec![b"not a certificate".to_vec()];
    assert!(matches!(ProbeEnv::new(c), Err(ProbeEnvError::ExtraCa(_))));
    let mut c = base();
    c.nameservers = Some(vec![]);
    assert!(matches!(
        ProbeEnv::new(c),
        Err(ProbeEnvError::NoNameservers(_))
    ));
    let mut c = base();
    c.user_agent = "bad\nagent".into();
    assert!(matches!(ProbeEnv::new(c), Err(ProbeEnvError::UserAgent(_))));
    // The defaults, with the system roots.
    let d = ProbeEnvConfig::default();
    assert_eq!(d.dns_timeout, Duration::from_secs(3));
    assert!(d.use_system_roots);
    assert!(d.nameservers.is_none());
    let mut c = base();
    c.use_system_roots = true;
    assert!(ProbeEnv::new(c).is_ok());
    let s = ProbeSpec::new(Url::parse("https://example.test/").unwrap());
    assert_eq!(s.max_redirects, 5);
    assert_eq!(s.max_body, 2 * 1024 * 1024);
    assert!(s.follow_redirects);
}

/// The probe's future can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn probe_future_is_send(env: &ProbeEnv, spec: &ProbeSpec) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(probe(env, spec));
    fn assert_sync_clone<T: Send + Sync + Clone>() {}
    assert_sync_clone::<ProbeEnv>();
}

#[test]
fn zones_of_the_sector() {
    assert_eq!(
        registrable_zone("www.ars.sante.fr").as_deref(),
        Some("sante.fr")
    );
    assert_eq!(
        registrable_zone("portail.chu.gouv.fr").as_deref(),
        Some("chu.gouv.fr")
    );
    assert_eq!(
        registrable_zone("www.trust.nhs.uk").as_deref(),
        Some("trust.nhs.uk")
    );
    assert_eq!(registrable_zone("10.1.2.3"), None);
}
