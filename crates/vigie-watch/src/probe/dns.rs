//! Name resolution with hickory-resolver: A and AAAA, CNAME chain, error
//! classification, a bounded cache that respects TTLs.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;

use super::{DnsAnswer, ErrorKind, Phase, ProbeEnvConfig, ProbeEnvError, ProbeError, err};

/// Entries of the resolver's cache (each a name and type; TTL-bounded).
const CACHE_SIZE: u64 = 32_768;
/// Longest a positive answer is cached, whatever its TTL.
const MAX_POSITIVE_TTL: Duration = Duration::from_secs(3600);
/// Longest a negative answer (NXDOMAIN, no data) is cached: a target that
/// comes back should be seen within a minute.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// At most this many bytes of /etc/resolv.conf are read.
const MAX_RESOLV_CONF: u64 = 64 * 1024;
/// Like glibc (MAXNS).
const MAX_NAMESERVERS: usize = 3;
/// At most this many CNAMEs are reported.
const MAX_CNAMES: usize = 16;

pub(super) struct Resolver {
    inner: TokioResolver,
}

/// A failed resolution: the error and, for an empty answer, what was seen.
pub(super) struct DnsFailure {
    pub(super) error: ProbeError,
    pub(super) answer: Option<DnsAnswer>,
}

impl Resolver {
    pub(super) fn new(cfg: &ProbeEnvConfig) -> Result<Resolver, ProbeEnvError> {
        let (servers, system) = match &cfg.nameservers {
            Some(list) => (list.clone(), false),
            None => (system_nameservers()?, true),
        };
        if servers.is_empty() {
            return Err(ProbeEnvError::NoNameservers(
                "the list of DNS servers is empty".into(),
            ));
        }
        let name_servers = servers
            .iter()
            .map(|sa| {
                let mut udp = ConnectionConfig::udp();
                udp.port = sa.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = sa.port();
                NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
        let mut opts = ResolverOpts::default();
        opts.timeout = cfg.dns_timeout;
        opts.attempts = 2;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.cache_size = CACHE_SIZE;
        opts.positive_max_ttl = Some(MAX_POSITIVE_TTL);
        opts.negative_max_ttl = Some(MAX_NEGATIVE_TTL);
        opts.preserve_intermediates = true;
        opts.ndots = 0;
        opts.use_hosts_file = if system {
            ResolveHosts::Auto
        } else {
            ResolveHosts::Never
        };
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = opts;
        let inner = builder
            .build()
            .map_err(|e| ProbeEnvError::Resolver(e.to_string()))?;
        Ok(Resolver { inner })
    }

    /// Resolves `host` (a DNS name, as in a URL) to its addresses.
    pub(super) async fn resolve(&self, host: &str) -> Result<DnsAnswer, DnsFailure> {
        // Fully qualified: one query per type, no search list.
        let fqdn = if host.ends_with('.') {
            host.to_owned()
        } else {
            format!("{host}.")
        };
        match self.inner.lookup_ip(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut cnames: Vec<String> = Vec::new();
                for record in lookup.as_lookup().answers() {
                    if let RData::CNAME(target) = &record.data {
                        let name = normalise(&target.0.to_ascii());
                        if !cnames.contains(&name) && cnames.len() < MAX_CNAMES {
                            cnames.push(name);
                        }
                    }
                }
                let mut addresses: Vec<IpAddr> = lookup.iter().collect();
                addresses.sort_unstable();
                addresses.dedup();
                let answer = DnsAnswer { addresses, cnames };
                if answer.addresses.is_empty() {
                    return Err(DnsFailure {
                        error: err(
                            Phase::Dns,
                            ErrorKind::NoAddress,
                            format!("{host}: no A or AAAA record"),
                        ),
                        answer: Some(answer),
                    });
                }
                Ok(answer)
            }
            Err(e) => {
                let (kind, detail) = classify(&e);
                Err(DnsFailure {
                    error: err(Phase::Dns, kind, format!("{host}: {detail}")),
                    answer: None,
                })
            }
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn classify(e: &NetError) -> (ErrorKind, String) {
    match e {
        NetError::Timeout => (ErrorKind::Timeout, "DNS query timed out".into()),
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            if no.response_code == ResponseCode::NXDomain {
                (ErrorKind::Nxdomain, "NXDOMAIN".into())
            } else {
                (ErrorKind::NoAddress, "no A or AAAA record".into())
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            if *code == ResponseCode::NXDomain {
                (ErrorKind::Nxdomain, "NXDOMAIN".into())
            } else {
                (ErrorKind::Servfail, format!("DNS server answered {code}"))
            }
        }
        NetError::Io(io) => {
            let kind = match io.kind() {
                std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
                std::io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
                _ => ErrorKind::Other,
            };
            (kind, format!("DNS: {io}"))
        }
        other => {
            let text = other.to_string();
            let kind = if text.contains("timed out") || text.contains("timeout") {
                ErrorKind::Timeout
            } else {
                ErrorKind::Other
            };
            (kind, format!("DNS: {text}"))
        }
    }
}

/// The DNS servers of `/etc/resolv.conf`.
fn system_nameservers() -> Result<Vec<SocketAddr>, ProbeEnvError> {
    let path = "/etc/resolv.conf";
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RESOLV_CONF).read_to_string(&mut text))
        .map_err(|e| ProbeEnvError::NoNameservers(format!("{path}: {e}")))?;
    let servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        return Err(ProbeEnvError::NoNameservers(format!(
            "{path}: no nameserver line"
        )));
    }
    Ok(servers)
}

/// The `nameserver` lines of a resolv.conf (at most three, port 53; IPv6
/// zone suffixes dropped; comments and other options ignored).
pub(super) fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in text.lines().take(10_000) {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let addr = addr.split('%').next().unwrap_or(addr);
        if let Ok(ip) = addr.parse::<IpAddr>() {
            let sa = SocketAddr::new(ip, 53);
            if !out.contains(&sa) {
                out.push(sa);
            }
        }
        if out.len() >= MAX_NAMESERVERS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let text = "# comment\nsearch example.fr\nnameserver 10.0.0.1 # primary\n\
                    nameserver fe80::1%eth0\n  nameserver   10.0.0.1\noptions ndots:2\n\
                    nameserver bogus\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n";
        let got = parse_resolv_conf(text);
        let want: Vec<SocketAddr> = vec![
            "10.0.0.1:53".parse().unwrap(),
            "[fe80::1]:53".parse().unwrap(),
            "10.0.0.3:53".parse().unwrap(),
        ];
        assert_eq!(got, want);
        assert!(parse_resolv_conf("").is_empty());
        assert!(parse_resolv_conf("nameserver\n;nameserver 1.1.1.1").is_empty());
    }
}
