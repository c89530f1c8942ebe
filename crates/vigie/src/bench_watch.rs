//! `vigie bench watch`: HTTPS targets on loopback probed by `vigie watch
//! run` and by prometheus-blackbox-exporter in the same run, CPU-seconds
//! per 1,000 probes for each, then a defacement of some targets and the
//! time to the single grouped notification; `--duration` turns it into a
//! long run that samples vigie's memory.
//!
//! Four processes, so each one's CPU is its own: the site server (`vigie
//! bench serve-sites`), `vigie watch run`, the exporter, and this one,
//! which drives the exporter and receives the webhook.

use crate::output::{Table, emit};
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Args;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vigie_core::EstablishmentCode;
use vigie_store::{SqlStore, Store, WatchTargetInput};
use vigie_watch::target::TargetOptions;

const TLS_NAME: &str = "sites.bench.vigie.test";

#[derive(Args)]
pub struct WatchBenchArgs {
    #[arg(long, default_value_t = 10_000)]
    targets: usize,
    /// Probe interval (s).
    #[arg(long, default_value_t = 60)]
    interval: u32,
    /// Cycles before measuring (baselines are learned over the first three fetches).
    #[arg(long, default_value_t = 3)]
    warmup: u32,
    /// Cycles measured.
    #[arg(long, default_value_t = 2)]
    cycles: u32,
    /// Loopback addresses the sites are spread over (127.1.0.1 …).
    #[arg(long, default_value_t = 40)]
    hosts: usize,
    /// Targets defaced at the end.
    #[arg(long, default_value_t = 40)]
    deface: usize,
    /// prometheus-blackbox-exporter binary (default: from PATH).
    #[arg(long)]
    blackbox: Option<PathBuf>,
    /// Do not run the exporter side by side.
    #[arg(long)]
    no_blackbox: bool,
    /// A long run instead: probe for this many seconds and sample vigie's memory every minute.
    #[arg(long)]
    duration: Option<u64>,
    /// Scratch directory (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServeSitesArgs {
    #[arg(long)]
    targets: usize,
    #[arg(long)]
    hosts: usize,
    #[arg(long)]
    port: u16,
    #[arg(long)]
    control_port: u16,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    deface: usize,
}

fn host_addr(h: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (h / 250) as u8, (h % 250 + 1) as u8)
}

fn site_url(i: usize, hosts: usize, port: u16) -> String {
    format!("https://{}:{port}/site/{i}", host_addr(i % hosts.max(1)))
}

fn page(i: usize, defaced: bool, tick: u64) -> String {
    if defaced {
        return format!(
            "<html><head><title>owned</title></head><body><h1>Hacked by bench crew</h1>\
             <p>your security is low. greetz {i}</p><script src='https://evil.example/x.js'></script></body></html>"
        );
    }
    let mut s = String::with_capacity(4096);
    s.push_str(&format!(
        "<!doctype html><html><head><title>Etablissement de sante {i}</title>\
         <link rel='stylesheet' href='/s.css'><script>var nonce='{:x}';</script></head><body>\
         <header><nav><a href='/'>Accueil</a> <a href='/rdv'>Prendre rendez-vous</a> <a href='/urgences'>Urgences</a> \
         <a href='/contact'>Contact</a></nav></header><main><h1>Bienvenue au centre hospitalier {i}</h1>",
        tick.wrapping_mul(2_654_435_761)
    ));
    for p in 0..12 {
        s.push_str(&format!(
            "<section><h2>Service {p}</h2><p>Le service {p} accueille les patients du lundi au vendredi. \
             Consultations sur rendez-vous, hospitalisation de jour et suivi apres la sortie. \
             Les equipes medicales et paramedicales vous accompagnent.</p></section>"
        ));
    }
    s.push_str(&format!(
        "<aside>Mis a jour le {tick}, {} visites aujourd'hui.</aside></main>\
         <footer>Mentions legales - Accessibilite - Plan du site</footer></body></html>",
        tick % 9973
    ));
    s
}

/// The site server (a hidden command run by the bench in its own process).
pub async fn serve_sites(a: ServeSitesArgs) -> Result<ExitCode> {
    let certs: Vec<rustls::pki_types::CertificateDer<'static>> = {
        let pem = std::fs::read(&a.cert)?;
        rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .context("certificate PEM")?
    };
    let key = {
        let pem = std::fs::read(&a.key)?;
        <rustls::pki_types::PrivateKeyDer as rustls::pki_types::pem::PemObject>::from_pem_slice(
            &pem,
        )
        .context("key PEM")?
    };
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let defaced = Arc::new(AtomicBool::new(false));
    let deface_n = a.deface;
    for h in 0..a.hosts {
        let addr = SocketAddr::new(IpAddr::V4(host_addr(h)), a.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let acceptor = acceptor.clone();
        let defaced = defaced.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let defaced = defaced.clone();
                tokio::spawn(async move {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let defaced = defaced.clone();
                        async move {
                            let i: usize = req
                                .uri()
                                .path()
                                .strip_prefix("/site/")
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(0);
                            let tick = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs())
                                .unwrap_or(0);
                            let body =
                                page(i, defaced.load(Ordering::Relaxed) && i < deface_n, tick);
                            hyper::Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(Full::new(Bytes::from(body)))
                        }
                    });
                    let _ = tokio::time::timeout(
                        Duration::from_secs(30),
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), svc),
                    )
                    .await;
                });
            }
        });
    }
    let control = Router::new()
        .route(
            "/deface",
            post(|State(d): State<Arc<AtomicBool>>| async move {
                d.store(true, Ordering::Relaxed);
                StatusCode::OK
            }),
        )
        .with_state(defaced);
    let l = tokio::net::TcpListener::bind(("127.0.0.1", a.control_port)).await?;
    axum::serve(l, control).await?;
    Ok(ExitCode::SUCCESS)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // fields after the command name, which may hold spaces
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unreadable /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after ')'
    let hz = 100.0;
    Ok((ticks(11) + ticks(12)) / hz)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

async fn wait_port(addr: SocketAddr, within: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < within {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{addr} did not come up within {within:?}")
}

async fn scrape(client: &reqwest::Client, url: &str, metric: &str) -> Option<f64> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find(|l| l.starts_with(metric) && l[metric.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[derive(Serialize)]
struct WatchBench {
    machine: String,
    targets: usize,
    interval_s: u32,
    cycles_measured: u32,
    window_seconds: f64,
    vigie_probes: u64,
    vigie_cpu_seconds: f64,
    vigie_cpu_s_per_1000_probes: f64,
    vigie_rss_mib: f64,
    vigie_concurrency_limit: f64,
    blackbox_probes: Option<u64>,
    blackbox_failed: Option<u64>,
    blackbox_cpu_seconds: Option<f64>,
    blackbox_cpu_s_per_1000_probes: Option<f64>,
    blackbox_rss_mib: Option<f64>,
    site_server_cpu_seconds: f64,
    vigie_to_blackbox_cpu_ratio: Option<f64>,
    defaced_targets: usize,
    seconds_to_grouped_notification: Option<f64>,
    notifications_received: u64,
    rss_samples_mib: Vec<f64>,
}

#[derive(Clone, Default)]
struct Hook {
    count: Arc<AtomicU64>,
    first_at: Arc<std::sync::Mutex<Option<Instant>>>,
    bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

pub async fn bench(ctx: &crate::app::Ctx, a: WatchBenchArgs) -> Result<ExitCode> {
    if a.targets == 0 || a.hosts == 0 || a.interval < 2 {
        bail!("--targets and --hosts must be positive and --interval at least 2");
    }
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe()?;
    // certificates: a CA and one leaf for the sites' TLS name
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vigie bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf =
        rcgen::CertificateParams::new(vec![TLS_NAME.to_string()])?.signed_by(&leaf_key, &issuer)?;
    let ca_pem = dir.join("ca.pem");
    let cert_pem = dir.join("cert.pem");
    let key_pem = dir.join("key.pem");
    std::fs::write(&ca_pem, ca.pem())?;
    std::fs::write(&cert_pem, format!("{}{}", leaf.pem(), ca.pem()))?;
    std::fs::write(&key_pem, leaf_key.serialize_pem())?;

    let site_port = free_port()?;
    let control_port = free_port()?;
    let _sites = Proc(
        Command::new(&exe)
            .args(["bench", "serve-sites"])
            .args(["--targets", &a.targets.to_string()])
            .args(["--hosts", &a.hosts.to_string()])
            .args(["--port", &site_port.to_string()])
            .args(["--control-port", &control_port.to_string()])
            .args(["--deface", &a.deface.to_string()])
            .arg("--cert")
            .arg(&cert_pem)
            .arg("--key")
            .arg(&key_pem)
            .stdout(Stdio::null())
            .spawn()
            .context("starting the site server")?,
    );
    let sites_pid = _sites.0.id();
    wait_port(
        SocketAddr::from(([127, 0, 0, 1], control_port)),
        Duration::from_secs(20),
    )
    .await?;

    // the targets, in a database of their own
    let db = dir.join("watch-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let db_url = db.display().to_string();
    {
        let store = SqlStore::connect(&db_url).await?;
        let options = TargetOptions {
            interval_s: a.interval,
            timeout_s: 10.min(a.interval - 1),
            tls_server_name: Some(TLS_NAME.into()),
            ..TargetOptions::default()
        };
        let opts = serde_json::to_string(&options)?;
        let inputs: Vec<WatchTargetInput> = (0..a.targets)
            .map(|i| WatchTargetInput {
                name: format!("site{i}"),
                url: site_url(i, a.hosts, site_port),
                establishment: None::<EstablishmentCode>,
                options: opts.clone(),
            })
            .collect();
        store.upsert_watch_targets(&inputs).await?;
        store.close().await;
    }
    // the webhook receiver
    let hook = Hook::default();
    let hook_port = free_port()?;
    {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", hook_port)).await?;
        let app = Router::new()
            .route(
                "/hook",
                post(|State(h): State<Hook>, body: Bytes| async move {
                    h.count.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = h.first_at.lock() {
                        f.get_or_insert_with(Instant::now);
                    }
                    if let (Ok(mut b), Ok(v)) = (h.bodies.lock(), serde_json::from_slice(&body)) {
                        b.push(v);
                    }
                    StatusCode::OK
                }),
            )
            .with_state(hook.clone());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
    }
    let notify = dir.join("notify.toml");
    std::fs::write(
        &notify,
        format!(
            "[[channel]]\nname = \"bench\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{hook_port}/hook\"\nsecret = \"bench\"\n\n\
             [[route]]\nname = \"all\"\nchannel = \"bench\"\nmin_severity = \"major\"\n"
        ),
    )?;
    let metrics_port = free_port()?;
    let vigie = Proc(
        Command::new(&exe)
            .arg("--db")
            .arg(&db)
            .args(["--quiet", "watch", "run", "--no-system-roots"])
            .arg("--ca-file")
            .arg(&ca_pem)
            .args(["--listen", &format!("127.0.0.1:{metrics_port}")])
            .arg("--notify")
            .arg(&notify)
            .env_remove("VIGIE_NOTIFY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting vigie watch run")?,
    );
    let vigie_pid = vigie.0.id();
    wait_port(
        SocketAddr::from(([127, 0, 0, 1], metrics_port)),
        Duration::from_secs(120),
    )
    .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let interval = Duration::from_secs(u64::from(a.interval));

    if let Some(secs) = a.duration {
        // the long run: memory over time
        let mut samples = Vec::new();
        let start = Instant::now();
        let cpu0 = cpu_seconds(vigie_pid)?;
        let p0 = scrape(&client, &metrics_url, "vigie_probes_finished_total")
            .await
            .unwrap_or(0.0);
        while start.elapsed() < Duration::from_secs(secs) {
            tokio::time::sleep(Duration::from_secs(60).min(Duration::from_secs(secs))).await;
            let r = rss_mib(vigie_pid);
            samples.push((r * 10.0).round() / 10.0);
            if !ctx.quiet {
                eprintln!(
                    "{:>6.0} s  rss {r:.1} MiB  probes {}",
                    start.elapsed().as_secs_f64(),
                    scrape(&client, &metrics_url, "vigie_probes_finished_total")
                        .await
                        .unwrap_or(0.0)
                );
            }
        }
        let probes = scrape(&client, &metrics_url, "vigie_probes_finished_total")
            .await
            .unwrap_or(0.0)
            - p0;
        let cpu = cpu_seconds(vigie_pid)? - cpu0;
        let out = serde_json::json!({
            "machine": crate::bench::machine(),
            "targets": a.targets,
            "interval_s": a.interval,
            "seconds": secs,
            "probes": probes,
            "cpu_seconds": cpu,
            "cpu_s_per_1000_probes": if probes > 0.0 { cpu / probes * 1000.0 } else { 0.0 },
            "rss_mib_per_minute": samples,
        });
        let mut t = Table::new(["minute", "rss MiB"]);
        for (i, s) in samples.iter().enumerate() {
            t.row([(i + 1).to_string(), format!("{s:.1}")]);
        }
        emit(ctx.format, &out, &t)?;
        return Ok(ExitCode::SUCCESS);
    }

    // the exporter, probing the same sites through its /probe endpoint
    let blackbox_bin = if a.no_blackbox {
        None
    } else {
        a.blackbox
            .clone()
            .or_else(|| which("prometheus-blackbox-exporter"))
    };
    let mut blackbox = None;
    let bb_port = free_port()?;
    if let Some(bin) = &blackbox_bin {
        let cfg = dir.join("blackbox.yml");
        std::fs::write(
            &cfg,
            format!(
                "modules:\n  bench:\n    prober: http\n    timeout: {}s\n    http:\n      preferred_ip_protocol: ip4\n      \
                 valid_status_codes: []\n      tls_config:\n        ca_file: {}\n        server_name: {TLS_NAME}\n",
                10.min(a.interval - 1),
                ca_pem.display()
            ),
        )?;
        blackbox = Some(Proc(
            Command::new(bin)
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{bb_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?,
        ));
        wait_port(
            SocketAddr::from(([127, 0, 0, 1], bb_port)),
            Duration::from_secs(20),
        )
        .await?;
    }
    let bb_done = Arc::new(AtomicU64::new(0));
    let bb_failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let driver = blackbox.as_ref().map(|_| {
        // one probe per target per interval, spread like vigie's
        let client = client.clone();
        let done = bb_done.clone();
        let failed = bb_failed.clone();
        let stop = stop.clone();
        let urls: Vec<String> = (0..a.targets)
            .map(|i| site_url(i, a.hosts, site_port))
            .collect();
        tokio::spawn(async move {
            let gate = Arc::new(tokio::sync::Semaphore::new(512));
            let spacing = interval / u32::try_from(urls.len().max(1)).unwrap_or(u32::MAX);
            let mut next = tokio::time::Instant::now();
            'cycles: loop {
                for u in &urls {
                    if stop.load(Ordering::Relaxed) {
                        break 'cycles;
                    }
                    next += spacing;
                    tokio::time::sleep_until(next).await;
                    let Ok(permit) = gate.clone().acquire_owned().await else {
                        break 'cycles;
                    };
                    let client = client.clone();
                    let done = done.clone();
                    let failed = failed.clone();
                    let url = format!(
                        "http://127.0.0.1:{bb_port}/probe?module=bench&target={}",
                        u.replace(':', "%3A").replace('/', "%2F")
                    );
                    tokio::spawn(async move {
                        let ok = match client.get(&url).send().await {
                            Ok(r) => r
                                .text()
                                .await
                                .is_ok_and(|t| t.lines().any(|l| l == "probe_success 1")),
                            Err(_) => false,
                        };
                        done.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        drop(permit);
                    });
                }
            }
        })
    });
    let bb_pid = blackbox.as_ref().map(|b| b.0.id());

    if !ctx.quiet {
        eprintln!(
            "warming up for {} cycles of {} s…",
            a.warmup,
            interval.as_secs()
        );
    }
    tokio::time::sleep(interval * a.warmup).await;
    let t0 = Instant::now();
    let v_cpu0 = cpu_seconds(vigie_pid)?;
    let s_cpu0 = cpu_seconds(sites_pid)?;
    let b_cpu0 = bb_pid.map(cpu_seconds).transpose()?;
    let v_p0 = scrape(&client, &metrics_url, "vigie_probes_finished_total")
        .await
        .unwrap_or(0.0);
    let b_p0 = bb_done.load(Ordering::Relaxed);
    let b_f0 = bb_failed.load(Ordering::Relaxed);
    if !ctx.quiet {
        eprintln!("measuring {} cycles…", a.cycles);
    }
    tokio::time::sleep(interval * a.cycles).await;
    let window = t0.elapsed().as_secs_f64();
    let v_cpu = cpu_seconds(vigie_pid)? - v_cpu0;
    let s_cpu = cpu_seconds(sites_pid)? - s_cpu0;
    let b_cpu = match (bb_pid, b_cpu0) {
        (Some(p), Some(c0)) => Some(cpu_seconds(p)? - c0),
        _ => None,
    };
    let v_probes = scrape(&client, &metrics_url, "vigie_probes_finished_total")
        .await
        .unwrap_or(0.0)
        - v_p0;
    let b_probes = bb_done.load(Ordering::Relaxed) - b_p0;
    let b_failed = bb_failed.load(Ordering::Relaxed) - b_f0;
    let concurrency = scrape(&client, &metrics_url, "vigie_probe_concurrency_limit")
        .await
        .unwrap_or(0.0);
    let v_rss = rss_mib(vigie_pid);
    let b_rss = bb_pid.map(rss_mib);
    stop.store(true, Ordering::Relaxed);
    if let Some(d) = driver {
        d.abort();
    }
    drop(blackbox);

    // the defacement, and the single grouped notification
    let before = hook.count.load(Ordering::Relaxed);
    if !ctx.quiet {
        eprintln!("defacing {} targets…", a.deface);
    }
    let flipped = Instant::now();
    client
        .post(format!("http://127.0.0.1:{control_port}/deface"))
        .send()
        .await?;
    let limit = interval * 3;
    let mut latency = None;
    while flipped.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if hook.count.load(Ordering::Relaxed) > before {
            latency = hook
                .first_at
                .lock()
                .ok()
                .and_then(|f| *f)
                .map(|f| f.saturating_duration_since(flipped).as_secs_f64());
            break;
        }
    }
    // a further interval: a correct run receives nothing more
    tokio::time::sleep(interval).await;
    let received = hook.count.load(Ordering::Relaxed) - before;
    drop(vigie);

    let per_k = |cpu: f64, n: f64| if n > 0.0 { cpu / n * 1000.0 } else { 0.0 };
    let v_per_k = per_k(v_cpu, v_probes);
    let b_per_k = b_cpu.map(|c| per_k(c, b_probes as f64));
    let out = WatchBench {
        machine: crate::bench::machine(),
        targets: a.targets,
        interval_s: a.interval,
        cycles_measured: a.cycles,
        window_seconds: window,
        vigie_probes: v_probes as u64,
        vigie_cpu_seconds: v_cpu,
        vigie_cpu_s_per_1000_probes: v_per_k,
        vigie_rss_mib: v_rss,
        vigie_concurrency_limit: concurrency,
        blackbox_probes: bb_pid.map(|_| b_probes),
        blackbox_failed: bb_pid.map(|_| b_failed),
        blackbox_cpu_seconds: b_cpu,
        blackbox_cpu_s_per_1000_probes: b_per_k,
        blackbox_rss_mib: b_rss,
        site_server_cpu_seconds: s_cpu,
        vigie_to_blackbox_cpu_ratio: b_per_k.filter(|b| *b > 0.0).map(|b| v_per_k / b),
        defaced_targets: a.deface,
        seconds_to_grouped_notification: latency,
        notifications_received: received,
        rss_samples_mib: Vec::new(),
    };
    let mut t = Table::new(["measure", "value"]);
    t.row(["machine".to_string(), out.machine.clone()]);
    t.row([
        "targets × interval".to_string(),
        format!("{} × {} s", a.targets, a.interval),
    ]);
    t.row([
        "vigie probes / CPU s / CPU s per 1000".to_string(),
        format!("{} / {v_cpu:.1} / {v_per_k:.3}", out.vigie_probes),
    ]);
    if let (Some(c), Some(k)) = (b_cpu, b_per_k) {
        t.row([
            "blackbox probes (failed) / CPU s / CPU s per 1000".to_string(),
            format!("{b_probes} ({b_failed}) / {c:.1} / {k:.3}"),
        ]);
    }
    t.row([
        "vigie / blackbox CPU per probe".to_string(),
        out.vigie_to_blackbox_cpu_ratio
            .map_or("-".into(), |r| format!("{r:.2}")),
    ]);
    t.row(["vigie RSS MiB".to_string(), format!("{v_rss:.1}")]);
    t.row([
        "defaced → grouped notification".to_string(),
        latency.map_or("none".into(), |l| format!("{l:.1} s")),
    ]);
    t.row(["notifications received".to_string(), received.to_string()]);
    emit(ctx.format, &out, &t)?;
    Ok(ExitCode::SUCCESS)
}
