//! Network probes of the exposure watch: DNS, TCP connect, TLS and HTTP/1.1.
//!
//! One [`probe`] call fetches one URL the way a visitor would (following
//! redirects when asked) and reports what each phase saw and how long it
//! took, in a [`ProbeOutcome`]. It never panics and always returns by the
//! spec's deadline (plus a few milliseconds): every phase, from the DNS
//! query to the last byte of the body, is bounded by the one overall
//! deadline of [`ProbeSpec::timeout`].
//!
//! What is shared between probes lives in a [`ProbeEnv`] (built once, cheap
//! to clone): the DNS resolver with its bounded, TTL-respecting cache, and
//! the TLS client configuration (roots, ring provider, verifier).
//!
//! TLS verification is done by the probe itself after the handshake, so
//! that a certificate that does not verify is still described (expired,
//! wrong name, unknown issuer, and its details); no HTTP request is ever
//! sent on a connection whose certificate did not verify.

mod dns;
mod http;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::{Host, Url};

/// How [`ProbeEnv`] is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeEnvConfig {
    /// DNS servers to use (ip:port). `None` = the system's (`/etc/resolv.conf`,
    /// at most three `nameserver` lines, port 53).
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Timeout of one DNS query (default 3 s). The probe's overall deadline
    /// bounds the whole resolution anyway.
    #[serde(serialize_with = "ser_duration")]
    pub dns_timeout: Duration,
    /// Extra trusted CA certificates (PEM bytes, one or more certificates
    /// each), added to webpki-roots and the system roots.
    #[serde(skip)]
    pub extra_ca_pem: Vec<Vec<u8>>,
    /// Also trust the system's root certificates (default true).
    pub use_system_roots: bool,
    /// The `User-Agent` sent (default `vigie-watch/<version>`).
    pub user_agent: String,
}

impl Default for ProbeEnvConfig {
    fn default() -> Self {
        ProbeEnvConfig {
            nameservers: None,
            dns_timeout: Duration::from_secs(3),
            extra_ca_pem: Vec::new(),
            use_system_roots: true,
            user_agent: format!("vigie-watch/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why a [`ProbeEnv`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum ProbeEnvError {
    /// No DNS server configured (none given, none in `/etc/resolv.conf`).
    #[error("no DNS server: {0}")]
    NoNameservers(String),
    /// The DNS resolver could not be built.
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// An extra CA certificate could not be read or used.
    #[error("extra CA certificate: {0}")]
    ExtraCa(String),
    /// The TLS client configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The user agent is not a valid header value.
    #[error("invalid user agent: {0}")]
    UserAgent(String),
}

/// What the probes share: the resolver (and its cache) and the TLS client
/// configuration. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// Build it inside the Tokio runtime that runs the probes: the resolver's
/// background work is spawned on the runtime current at query time.
#[derive(Clone)]
pub struct ProbeEnv {
    inner: Arc<EnvInner>,
}

struct EnvInner {
    resolver: dns::Resolver,
    tls: tls::TlsEnv,
    user_agent: ::http::HeaderValue,
}

impl std::fmt::Debug for ProbeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeEnv")
            .field("user_agent", &self.inner.user_agent)
            .finish_non_exhaustive()
    }
}

impl ProbeEnv {
    /// Builds the resolver and the TLS configuration (reads
    /// `/etc/resolv.conf` and the system roots when asked to; do it once).
    pub fn new(cfg: ProbeEnvConfig) -> Result<ProbeEnv, ProbeEnvError> {
        let user_agent = ::http::HeaderValue::from_str(&cfg.user_agent)
            .map_err(|e| ProbeEnvError::UserAgent(e.to_string()))?;
        let resolver = dns::Resolver::new(&cfg)?;
        let tls = tls::TlsEnv::new(&cfg)?;
        Ok(ProbeEnv {
            inner: Arc::new(EnvInner {
                resolver,
                tls,
                user_agent,
            }),
        })
    }
}

/// One probe: what to fetch and within which bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeSpec {
    /// `http` or `https`; the host may be a name or an IP literal.
    #[serde(serialize_with = "ser_url")]
    pub url: Url,
    /// The whole probe's deadline, every phase and every redirect included.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Follow 301/302/303/307/308 responses that carry a `Location`.
    pub follow_redirects: bool,
    /// At most this many redirects are followed (default 5); one more is
    /// [`ErrorKind::TooManyRedirects`].
    pub max_redirects: u8,
    /// At most this many body bytes are read (default 2 MiB); the rest is not
    /// read and [`HttpInfo::body_truncated`] is set.
    pub max_body: usize,
    /// TLS server name (SNI and verification) to use instead of the URL's
    /// host, for IP-literal URLs. It applies while the host is the original
    /// URL's, not to a redirect to another host.
    pub tls_server_name: Option<String>,
}

impl ProbeSpec {
    /// A spec with the defaults: 10 s timeout, redirects followed (at most
    /// 5), 2 MiB of body.
    pub fn new(url: Url) -> ProbeSpec {
        ProbeSpec {
            url,
            timeout: Duration::from_secs(10),
            follow_redirects: true,
            max_redirects: 5,
            max_body: 2 * 1024 * 1024,
            tls_server_name: None,
        }
    }
}

/// Everything one probe saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeOutcome {
    /// When the probe started (unix seconds).
    pub started_at: i64,
    /// Durations of the last request of a redirect chain, plus the total.
    pub phases: Phases,
    /// The last request's DNS answer; `None` for IP literals and when
    /// resolution failed (except [`ErrorKind::NoAddress`]: the answer, with
    /// its CNAMEs and no address, is kept).
    pub dns: Option<DnsAnswer>,
    /// The address connected to (last request).
    pub address: Option<SocketAddr>,
    /// The last request's TLS session (https only), filled also when the
    /// certificate did not verify.
    pub tls: Option<TlsInfo>,
    /// The last response received. When a later phase or redirect fails,
    /// this is the last response that did arrive (if any), and `error` says
    /// what failed after it.
    pub http: Option<HttpInfo>,
    /// `None` = every phase completed.
    pub error: Option<ProbeError>,
}

impl ProbeOutcome {
    /// True when every phase completed (a 4xx/5xx status is still "ok"
    /// here: judging the status is the caller's business).
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Phase durations (serialized as seconds, `null` when the phase did not
/// run or did not complete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    /// DNS resolution.
    #[serde(serialize_with = "ser_opt_duration")]
    pub dns: Option<Duration>,
    /// TCP connect (all addresses tried).
    #[serde(serialize_with = "ser_opt_duration")]
    pub connect: Option<Duration>,
    /// TLS handshake.
    #[serde(serialize_with = "ser_opt_duration")]
    pub tls: Option<Duration>,
    /// From the request being sent to the response head received.
    #[serde(serialize_with = "ser_opt_duration")]
    pub first_byte: Option<Duration>,
    /// The whole probe, redirects included.
    #[serde(serialize_with = "ser_duration")]
    pub total: Duration,
}

/// A DNS answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// A and AAAA addresses, sorted (IPv4 first), without duplicates.
    pub addresses: Vec<IpAddr>,
    /// The CNAME targets followed, in order, lowercase, no trailing dot
    /// (`www.a.fr` → `x.cdn.net` → `y.cdn.net` gives `["x.cdn.net", "y.cdn.net"]`).
    pub cnames: Vec<String>,
}

/// The TLS session of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// `"TLSv1.3"` or `"TLSv1.2"`.
    pub version: String,
    /// The cipher suite as rustls names it, e.g. `"TLS13_AES_256_GCM_SHA384"`
    /// or `"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"`.
    pub cipher: String,
    /// Serialized as `"ok"` or the problem (`"expired"`, `"name-mismatch"`,
    /// `"unknown-issuer"`, `"not-yet-valid"`, `{"other": "..."}`).
    #[serde(serialize_with = "ser_verification")]
    pub verification: Result<(), CertProblem>,
    /// The end-entity certificate presented.
    pub leaf: Option<CertInfo>,
    /// The earliest `not_after` over the presented chain (unix seconds), as
    /// blackbox's `probe_ssl_earliest_cert_expiry`.
    pub earliest_expiry: Option<i64>,
}

/// Why a certificate did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertProblem {
    /// Past its `not_after` (or a certificate of the chain is).
    Expired,
    /// Before its `not_before`.
    NotYetValid,
    /// Not valid for the name (or IP address) probed.
    NameMismatch,
    /// Not issued by a trusted root (self-signed, private CA, missing
    /// intermediate).
    UnknownIssuer,
    /// Anything else (revoked, bad encoding, unsupported algorithm...).
    Other(String),
}

/// A certificate, as parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// RFC 4514-like subject, e.g. `"CN=www.example.fr, O=..."`.
    pub subject: String,
    /// Same for the issuer.
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// The subject alternative names of type DNS.
    pub dns_names: Vec<String>,
    /// Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub spki_sha256: String,
    /// Lowercase hex SHA-256 of the certificate DER.
    pub sha256: String,
}

/// The HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpInfo {
    /// Status code.
    pub status: u16,
    /// The URLs followed, in order (the resolved `Location` targets).
    pub redirects: Vec<String>,
    /// The URL this response came from.
    pub final_url: String,
    /// The response headers, lowercase names, at most 64, values lossy UTF-8
    /// capped at 1 KiB.
    pub headers: Vec<(String, String)>,
    /// At most `max_body` bytes of the body, as received (nothing decoded).
    /// Serialized as lossy UTF-8.
    #[serde(serialize_with = "ser_body")]
    pub body: bytes::Bytes,
    /// More body existed than was read.
    pub body_truncated: bool,
    /// The `Content-Length` announced, if any.
    pub content_length: Option<u64>,
}

impl HttpInfo {
    /// The first header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a probe did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeError {
    /// Where it failed (for a timeout: the phase under way when time ran out).
    pub phase: Phase,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Human-readable details.
    pub message: String,
}

/// The phases of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Connect,
    /// TLS handshake and certificate verification.
    Tls,
    /// Request sent, waiting for the response head; redirects.
    Http,
    /// Reading the body.
    Body,
}

/// The kinds of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The deadline (or a DNS query timeout) passed.
    Timeout,
    /// The name does not exist.
    Nxdomain,
    /// The DNS server answered SERVFAIL or another error code.
    Servfail,
    /// The name exists but has no A/AAAA address.
    NoAddress,
    /// Connection refused.
    Refused,
    /// Connection reset or closed early.
    Reset,
    /// TLS handshake failed, or the certificate did not verify.
    TlsHandshake,
    /// The server spoke something that is not valid HTTP/1.x (or too big a head).
    Protocol,
    /// More redirects than `max_redirects`.
    TooManyRedirects,
    /// Not an http(s) URL, no host, bad `Location`, bad TLS name.
    BadUrl,
    /// Anything else.
    Other,
}

/// How long after the deadline the outer guard fires if an inner bound
/// somehow did not (it should never have to).
const SLACK: Duration = Duration::from_millis(50);

/// Caps a message so that an outcome stays small.
const MAX_MESSAGE: usize = 512;

fn err(phase: Phase, kind: ErrorKind, message: impl Into<String>) -> ProbeError {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    ProbeError {
        phase,
        kind,
        message,
    }
}

fn timeout_err(phase: Phase, started: Instant) -> ProbeError {
    err(
        phase,
        ErrorKind::Timeout,
        format!(
            "deadline reached after {:.3} s",
            started.elapsed().as_secs_f64()
        ),
    )
}

/// Probes `spec.url`. Never panics; returns by `spec.timeout` (plus a few
/// milliseconds of slack).
pub async fn probe(env: &ProbeEnv, spec: &ProbeSpec) -> ProbeOutcome {
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let start = Instant::now();
    // A deadline too far to be represented is the same as a very long one.
    let deadline = start
        .checked_add(spec.timeout)
        .unwrap_or_else(|| start + Duration::from_secs(86_400 * 365));
    let mut out = ProbeOutcome {
        started_at,
        phases: Phases::default(),
        dns: None,
        address: None,
        tls: None,
        http: None,
        error: None,
    };
    let mut phase = Phase::Dns;
    let guard = tokio::time::timeout_at(
        deadline + SLACK,
        run(env, spec, deadline, start, &mut out, &mut phase),
    )
    .await;
    if guard.is_err() {
        out.error = Some(timeout_err(phase, start));
    }
    out.phases.total = start.elapsed();
    out
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The redirects loop: one request per hop, each hop filling `out`.
async fn run(
    env: &ProbeEnv,
    spec: &ProbeSpec,
    deadline: Instant,
    start: Instant,
    out: &mut ProbeOutcome,
    phase: &mut Phase,
) {
    let mut url = spec.url.clone();
    let mut redirects: Vec<String> = Vec::new();
    loop {
        out.phases = Phases::default();
        out.dns = None;
        out.address = None;
        out.tls = None;
        let hop = one_request(env, spec, &url, deadline, start, out, phase).await;
        let error = match hop {
            Hop::Failed(e) => Some(e),
            Hop::Redirect { mut info, location } => {
                info.redirects.clone_from(&redirects);
                if redirects.len() >= usize::from(spec.max_redirects) {
                    out.http = Some(info);
                    Some(err(
                        Phase::Http,
                        ErrorKind::TooManyRedirects,
                        format!(
                            "more than {} redirects (next: {location})",
                            spec.max_redirects
                        ),
                    ))
                } else {
                    match next_url(&url, &location) {
                        Ok(next) => {
                            out.http = Some(info);
                            redirects.push(next.to_string());
                            url = next;
                            continue;
                        }
                        Err(e) => {
                            out.http = Some(info);
                            Some(e)
                        }
                    }
                }
            }
            Hop::Done { mut info, error } => {
                info.redirects.clone_from(&redirects);
                out.http = Some(info);
                error
            }
        };
        if let (Some(http), false) = (out.http.as_mut(), redirects.is_empty()) {
            // A later hop failed: the last response received keeps the
            // redirects followed so far.
            if http.redirects.len() < redirects.len() {
                http.redirects.clone_from(&redirects);
            }
        }
        out.error = error;
        return;
    }
}

fn next_url(current: &Url, location: &str) -> Result<Url, ProbeError> {
    let next = current.join(location).map_err(|e| {
        err(
            Phase::Http,
            ErrorKind::BadUrl,
            format!("bad Location {location:?}: {e}"),
        )
    })?;
    match next.scheme() {
        "http" | "https" => Ok(next),
        other => Err(err(
            Phase::Http,
            ErrorKind::BadUrl,
            format!("redirect to unsupported scheme {other:?}"),
        )),
    }
}

/// What one request of the chain gave.
enum Hop {
    /// Failed before a response head arrived.
    Failed(ProbeError),
    /// A redirect to follow (body not read).
    Redirect { info: HttpInfo, location: String },
    /// A final response; `error` when reading the body failed.
    Done {
        info: HttpInfo,
        error: Option<ProbeError>,
    },
}

/// One request: DNS, connect, TLS, HTTP. Fills the per-hop fields of `out`.
async fn one_request(
    env: &ProbeEnv,
    spec: &ProbeSpec,
    url: &Url,
    deadline: Instant,
    start: Instant,
    out: &mut ProbeOutcome,
    phase: &mut Phase,
) -> Hop {
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Hop::Failed(err(
                Phase::Dns,
                ErrorKind::BadUrl,
                format!("unsupported scheme {other:?}"),
            ));
        }
    };
    let Some(host) = url.host() else {
        return Hop::Failed(err(Phase::Dns, ErrorKind::BadUrl, "URL without host"));
    };
    let Some(port) = url.port_or_known_default() else {
        return Hop::Failed(err(Phase::Dns, ErrorKind::BadUrl, "URL without port"));
    };

    // DNS
    *phase = Phase::Dns;
    let addresses: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        Host::Domain(name) => {
            let t0 = Instant::now();
            let res = tokio::time::timeout_at(deadline, env.inner.resolver.resolve(name)).await;
            match res {
                Err(_) => return Hop::Failed(timeout_err(Phase::Dns, start)),
                Ok(Err(failure)) => {
                    out.dns = failure.answer;
                    return Hop::Failed(failure.error);
                }
                Ok(Ok(answer)) => {
                    out.phases.dns = Some(t0.elapsed());
                    let addresses = answer.addresses.clone();
                    out.dns = Some(answer);
                    addresses
                }
            }
        }
    };

    // Connect
    *phase = Phase::Connect;
    let t0 = Instant::now();
    let (tcp, address) = match connect(&addresses, port, deadline, start).await {
        Ok(ok) => ok,
        Err(e) => return Hop::Failed(e),
    };
    out.phases.connect = Some(t0.elapsed());
    out.address = Some(address);

    let ctx = http::Exchange {
        url,
        user_agent: &env.inner.user_agent,
        deadline,
        start,
        max_body: spec.max_body,
        follow_redirects: spec.follow_redirects,
    };
    if !https {
        return http::exchange(tcp, &ctx, out, phase).await;
    }

    // TLS
    *phase = Phase::Tls;
    let name = match (&spec.tls_server_name, host_matches(url, &spec.url)) {
        (Some(name), true) => name.clone(),
        _ => match url.host() {
            Some(Host::Domain(d)) => d.trim_end_matches('.').to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => String::new(),
        },
    };
    let t0 = Instant::now();
    let stream = match env.inner.tls.handshake(tcp, &name, deadline, start).await {
        Ok((stream, info)) => {
            out.phases.tls = Some(t0.elapsed());
            let verified = info.verification.clone();
            out.tls = Some(info);
            if let Err(problem) = verified {
                return Hop::Failed(err(
                    Phase::Tls,
                    ErrorKind::TlsHandshake,
                    format!("certificate not verified for {name:?}: {problem:?}"),
                ));
            }
            stream
        }
        Err(e) => return Hop::Failed(e),
    };
    http::exchange(stream, &ctx, out, phase).await
}

fn host_matches(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str()
}

/// At most this many addresses are tried.
const MAX_CONNECT_ATTEMPTS: usize = 8;

/// Tries the addresses in order, each attempt getting an equal share of the
/// remaining time (the last one all of it).
async fn connect(
    addresses: &[IpAddr],
    port: u16,
    deadline: Instant,
    start: Instant,
) -> Result<(TcpStream, SocketAddr), ProbeError> {
    if addresses.is_empty() {
        return Err(err(
            Phase::Connect,
            ErrorKind::NoAddress,
            "no address to connect to",
        ));
    }
    let addresses = &addresses[..addresses.len().min(MAX_CONNECT_ATTEMPTS)];
    let mut last: Option<ProbeError> = None;
    for (i, ip) in addresses.iter().enumerate() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let left = u32::try_from(addresses.len() - i).unwrap_or(1).max(1);
        let share = deadline.saturating_duration_since(now) / left;
        let attempt_deadline = (now + share).min(deadline);
        let addr = SocketAddr::new(*ip, port);
        match tokio::time::timeout_at(attempt_deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Only a latency optimisation: a failure changes nothing.
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
            Ok(Err(e)) => {
                last = Some(err(Phase::Connect, classify_io(&e), format!("{addr}: {e}")));
            }
            Err(_) => {
                last = Some(err(
                    Phase::Connect,
                    ErrorKind::Timeout,
                    format!("{addr}: connect timed out"),
                ));
            }
        }
    }
    // The last attempt's failure; none made means the deadline had passed.
    Err(last.unwrap_or_else(|| timeout_err(Phase::Connect, start)))
}

fn classify_io(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ErrorKind::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            ErrorKind::Reset
        }
        K::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

/// Two-level public suffixes common in the probed sectors, for
/// [`registrable_zone`].
const TWO_LEVEL_SUFFIXES: &[&str] = &[
    // United Kingdom
    "ac.uk",
    "co.uk",
    "gov.uk",
    "ltd.uk",
    "me.uk",
    "mod.uk",
    "net.uk",
    "nhs.uk",
    "org.uk",
    "plc.uk",
    "police.uk",
    "sch.uk", // France
    "asso.fr",
    "com.fr",
    "gouv.fr",
    "nom.fr",
    "presse.fr",
    "tm.fr", // elsewhere
    "com.au",
    "edu.au",
    "gov.au",
    "net.au",
    "org.au",
    "co.nz",
    "govt.nz",
    "org.nz",
    "co.za",
    "gov.za",
    "co.jp",
    "go.jp",
    "or.jp",
    "ac.jp",
    "ne.jp",
    "com.br",
    "gov.br",
    "com.cn",
    "gov.cn",
    "co.in",
    "gov.in",
    "co.kr",
    "gc.ca",
    "gv.at",
    "co.il",
    "org.il",
    "com.mx",
    "gob.mx",
    "com.tr",
    "gov.tr",
];

/// The DNS zone a host most likely belongs to, used to group failures:
/// `"www.ars.sante.fr"` → `"sante.fr"`, `"www.x.nhs.uk"` → `"x.nhs.uk"`.
///
/// A **heuristic**, not the Public Suffix List: the last two labels, or
/// three when the last two are a common two-level public suffix (`co.uk`,
/// `nhs.uk`, `gouv.fr`, `org.uk`, `ac.uk`, `gov.uk`...). `None` for IP
/// literals, single labels, a bare public suffix and malformed names.
pub fn registrable_zone(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() || bare.len() > 253 || bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    let host = bare.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    if labels
        .iter()
        .any(|l| l.is_empty() || l.len() > 63 || l.contains(|c: char| c.is_whitespace()))
    {
        return None;
    }
    let n = labels.len();
    if n < 2 {
        return None;
    }
    let last_two = labels[n - 2..].join(".");
    if TWO_LEVEL_SUFFIXES.contains(&last_two.as_str()) {
        if n < 3 {
            return None;
        }
        return Some(labels[n - 3..].join("."));
    }
    Some(last_two)
}

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn ser_url<S: Serializer>(u: &Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.as_str())
}

fn ser_verification<S: Serializer>(v: &Result<(), CertProblem>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Ok(()) => s.serialize_str("ok"),
        Err(p) => p.serialize(s),
    }
}

fn ser_body<S: Serializer>(b: &bytes::Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert_eq!(
            registrable_zone("www.ars.sante.fr").as_deref(),
            Some("sante.fr")
        );
        assert_eq!(
            registrable_zone("WWW.Example.FR.").as_deref(),
            Some("example.fr")
        );
        assert_eq!(
            registrable_zone("www.leeds.nhs.uk").as_deref(),
            Some("leeds.nhs.uk")
        );
        assert_eq!(
            registrable_zone("a.b.chu.gouv.fr").as_deref(),
            Some("chu.gouv.fr")
        );
        assert_eq!(registrable_zone("x.co.uk").as_deref(), Some("x.co.uk"));
        assert_eq!(registrable_zone("co.uk"), None);
        assert_eq!(registrable_zone("localhost"), None);
        assert_eq!(registrable_zone("127.0.0.1"), None);
        assert_eq!(registrable_zone("[::1]"), None);
        assert_eq!(registrable_zone("::1"), None);
        assert_eq!(registrable_zone(""), None);
        assert_eq!(registrable_zone("a..fr"), None);
        assert_eq!(registrable_zone("."), None);
    }

    #[test]
    fn messages_are_capped_on_char_boundaries() {
        let e = err(Phase::Http, ErrorKind::Other, "é".repeat(1000));
        assert!(e.message.len() <= MAX_MESSAGE);
        assert!(e.message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn redirect_targets() {
        let base = Url::parse("https://a.example/x/y?q=1").unwrap_or_else(|_| unreachable!());
        let n = next_url(&base, "/z").map(|u| u.to_string());
        assert_eq!(n.ok().as_deref(), Some("https://a.example/z"));
        let n = next_url(&base, "http://b.example:8080/").map(|u| u.to_string());
        assert_eq!(n.ok().as_deref(), Some("http://b.example:8080/"));
        let n = next_url(&base, "ftp://b.example/").map_err(|e| e.kind);
        assert_eq!(n.err(), Some(ErrorKind::BadUrl));
    }
}
