//! Generates a demo sector and prints what was written.
//!
//! `cargo run --release -p vigie-demo --example demo_gen -- england 0.003 30 2026-08-31 /tmp/demo`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use vigie_demo::{DemoSpec, Profile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let spec = DemoSpec {
        profile: arg(1, "england").parse::<Profile>()?,
        scale: arg(2, "0.003").parse()?,
        days: arg(3, "30").parse()?,
        end: arg(4, "2026-08-31").parse()?,
        seed: arg(6, "42").parse()?,
    };
    let out = std::path::PathBuf::from(arg(5, "/tmp/vigie-demo"));
    let t = Instant::now();
    let sector = vigie_demo::sector(&spec)?;
    println!(
        "sector: {} regions, {} establishments kept of {}, {} machines ({:?})",
        sector.regions.len(),
        sector.establishments.len(),
        sector.registry_establishments,
        sector.total_hosts(),
        t.elapsed()
    );
    for (kind, n, hosts) in sector.fleet_by_kind() {
        println!("  {kind:<14} {n:>6} establishments {hosts:>9} machines");
    }
    for (agent, hosts) in sector.fleet_by_agent() {
        println!("  agent {:<11} {hosts:>9} machines", agent.as_str());
    }
    if args.get(5).map(String::as_str) == Some("-") {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let total = AtomicU64::new(0);
    let files = vigie_demo::write_inventories(&spec, &sector, &out, &|n| {
        total.fetch_add(n, Ordering::Relaxed);
    })?;
    let elapsed = t.elapsed();
    let mut by_format: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::metadata(&f.path)?.len();
        let e = by_format.entry(f.format).or_default();
        e.0 += 1;
        e.1 += f.hosts;
        e.2 += bytes;
    }
    let mut org = Vec::new();
    vigie_demo::write_org_csv(&sector, &mut org)?;
    std::fs::write(out.join("org.csv"), &org)?;
    println!(
        "wrote {} files, {} host observations in {:?}",
        files.len(),
        total.load(Ordering::Relaxed),
        elapsed
    );
    for (format, (n, hosts, bytes)) in by_format {
        println!(
            "  {format:<11} {n:>6} files {hosts:>8} hosts {:>9.1} MB",
            bytes as f64 / 1e6
        );
    }
    Ok(())
}
