//! TLS client: rustls with the ring provider, verification by the probe
//! itself after the handshake (so that a certificate that fails is still
//! described), certificate details with x509-parser.

use std::fmt::Write as _;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::hash::Hash;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme, SupportedCipherSuite,
};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::{
    CertInfo, CertProblem, ErrorKind, Phase, ProbeEnvConfig, ProbeEnvError, ProbeError, TlsInfo,
    err, timeout_err,
};

/// At most this many certificates of a presented chain are parsed.
const MAX_CHAIN: usize = 16;

pub(super) struct TlsEnv {
    connector: TlsConnector,
    verifier: Arc<WebPkiServerVerifier>,
    sha256: &'static dyn Hash,
}

/// Accepts any certificate during the handshake (the probe verifies it
/// itself right after, with the same WebPKI verifier, before any byte of
/// HTTP is sent) but checks the handshake signatures for real: the server
/// must hold the key of the certificate it presents.
#[derive(Debug)]
struct DeferredVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for DeferredVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl TlsEnv {
    pub(super) fn new(cfg: &ProbeEnvConfig) -> Result<TlsEnv, ProbeEnvError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let sha256 = match rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256 {
            SupportedCipherSuite::Tls13(suite) => suite.common.hash_provider,
            #[allow(unreachable_patterns)]
            _ => return Err(ProbeEnvError::Tls("no SHA-256 in the ring provider".into())),
        };

        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if cfg.use_system_roots {
            let native = rustls_native_certs::load_native_certs();
            for e in native.errors.iter().take(4) {
                tracing::debug!("system root certificates: {e}");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            tracing::debug!("system root certificates: {added} added, {ignored} ignored");
        }
        for (i, pem) in cfg.extra_ca_pem.iter().enumerate() {
            let mut n = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert =
                    cert.map_err(|e| ProbeEnvError::ExtraCa(format!("PEM #{}: {e}", i + 1)))?;
                roots
                    .add(cert)
                    .map_err(|e| ProbeEnvError::ExtraCa(format!("PEM #{}: {e}", i + 1)))?;
                n += 1;
            }
            if n == 0 {
                return Err(ProbeEnvError::ExtraCa(format!(
                    "PEM #{}: no certificate",
                    i + 1
                )));
            }
        }

        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ProbeEnvError::Tls(e.to_string()))?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeEnvError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(DeferredVerifier {
                inner: verifier.clone(),
            }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Every probe sees the certificate afresh (a resumed session shows none).
        config.resumption = Resumption::disabled();
        Ok(TlsEnv {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
            sha256,
        })
    }

    /// Handshakes on `tcp` for `name` (a DNS name or an IP address) and
    /// verifies the presented chain. A chain that does not verify is
    /// reported in `TlsInfo::verification`, not as an `Err`.
    pub(super) async fn handshake(
        &self,
        tcp: TcpStream,
        name: &str,
        deadline: Instant,
        start: Instant,
    ) -> Result<(TlsStream<TcpStream>, TlsInfo), ProbeError> {
        let server_name = ServerName::try_from(name.to_owned()).map_err(|e| {
            err(
                Phase::Tls,
                ErrorKind::BadUrl,
                format!("invalid TLS server name {name:?}: {e}"),
            )
        })?;
        let stream = match tokio::time::timeout_at(
            deadline,
            self.connector.connect(server_name.clone(), tcp),
        )
        .await
        {
            Err(_) => return Err(timeout_err(Phase::Tls, start)),
            Ok(Err(e)) => return Err(classify_handshake(&e)),
            Ok(Ok(stream)) => stream,
        };
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|s| {
                let suite = s.suite();
                suite
                    .as_str()
                    .map_or_else(|| format!("{suite:?}"), str::to_owned)
            })
            .unwrap_or_default();
        let chain = conn.peer_certificates().unwrap_or(&[]);
        let verification = match chain.split_first() {
            None => Err(CertProblem::Other("no certificate presented".into())),
            Some((leaf, intermediates)) => self
                .verifier
                .verify_server_cert(leaf, intermediates, &server_name, &[], UnixTime::now())
                .map(|_| ())
                .map_err(|e| problem(&e)),
        };
        let mut leaf = None;
        let mut earliest_expiry: Option<i64> = None;
        for (i, der) in chain.iter().take(MAX_CHAIN).enumerate() {
            let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
                continue;
            };
            let not_after = cert.validity().not_after.timestamp();
            earliest_expiry = Some(earliest_expiry.map_or(not_after, |e| e.min(not_after)));
            if i == 0 {
                leaf = Some(self.cert_info(der.as_ref(), &cert));
            }
        }
        let info = TlsInfo {
            version,
            cipher,
            verification,
            leaf,
            earliest_expiry,
        };
        Ok((stream, info))
    }

    fn cert_info(&self, der: &[u8], cert: &X509Certificate<'_>) -> CertInfo {
        let dns_names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .take(256)
                .collect(),
            _ => Vec::new(),
        };
        CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            dns_names,
            spki_sha256: hex(self.sha256.hash(cert.public_key().raw).as_ref()),
            sha256: hex(self.sha256.hash(der).as_ref()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn problem(e: &rustls::Error) -> CertProblem {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertProblem::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertProblem::NameMismatch
            }
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            other => CertProblem::Other(format!("{other:?}")),
        },
        other => CertProblem::Other(other.to_string()),
    }
}

fn classify_handshake(e: &std::io::Error) -> ProbeError {
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let kind = match (tls_error, e.kind()) {
        (Some(_), _) => ErrorKind::TlsHandshake,
        (
            None,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe,
        ) => ErrorKind::Reset,
        (None, std::io::ErrorKind::TimedOut) => ErrorKind::Timeout,
        (None, _) => ErrorKind::TlsHandshake,
    };
    err(Phase::Tls, kind, format!("TLS handshake: {e}"))
}
