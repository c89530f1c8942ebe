//! Memory stays flat however long the input is: a generated input much
//! larger than the allowed growth is parsed from a reader that never holds
//! it whole. Linux only (reads the peak RSS from /proc); its own test binary
//! so no other test shares the process peak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufReader, Read};
use vigie_inventory::{Format, ParseOptions, parse};

/// Produces `count` records from `make` on demand.
struct Generated<F: FnMut(usize) -> String> {
    make: F,
    next: usize,
    count: usize,
    header: Vec<u8>,
    footer: Vec<u8>,
    pending: Vec<u8>,
    pos: usize,
    produced: u64,
}

impl<F: FnMut(usize) -> String> Generated<F> {
    fn new(header: &str, footer: &str, count: usize, make: F) -> Self {
        Generated {
            make,
            next: 0,
            count,
            header: header.as_bytes().to_vec(),
            footer: footer.as_bytes().to_vec(),
            pending: Vec::new(),
            pos: 0,
            produced: 0,
        }
    }
}

impl<F: FnMut(usize) -> String> Read for Generated<F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.pending.len() {
            self.pos = 0;
            self.pending = if !self.header.is_empty() {
                std::mem::take(&mut self.header)
            } else if self.next < self.count {
                self.next += 1;
                (self.make)(self.next).into_bytes()
            } else {
                std::mem::take(&mut self.footer)
            };
            if self.pending.is_empty() {
                return Ok(0);
            }
        }
        let n = (self.pending.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        self.produced += n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn osquery_host(i: usize) -> String {
    let programs: Vec<String> = (0..20)
        .map(|p| format!(r#"{{"name":"Program {p} for host {i}","version":"1.{p}","publisher":"Vendor {p}","install_location":""}}"#))
        .collect();
    format!(
        "{{\"name\":\"programs\",\"hostIdentifier\":\"host-{i}\",\"unixTime\":{},\"action\":\"snapshot\",\"snapshot\":[{}]}}\n",
        1_700_000_000 + i,
        programs.join(",")
    )
}

fn nmap_host(i: usize) -> String {
    format!(
        "<host starttime=\"1\" endtime=\"2\"><status state=\"up\"/><address addr=\"10.{}.{}.{}\" addrtype=\"ipv4\"/>\
         <ports><port protocol=\"tcp\" portid=\"445\"><state state=\"open\"/></port></ports>\
         <hostscript><script id=\"smb-protocols\" output=\"{}\"><table key=\"dialects\"><elem>NT LM 0.12 (SMBv1) [dangerous, but default]</elem><elem>2:0:2</elem></table></script></hostscript></host>\n",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        "x".repeat(200)
    )
}

#[test]
fn long_inputs_do_not_grow_memory() {
    let Some(before) = peak_rss_kib() else {
        return; // not Linux
    };
    let mut input = Generated::new("", "", 20_000, osquery_host);
    let mut hosts = 0;
    for obs in parse(
        Format::Osquery,
        BufReader::new(&mut input),
        &ParseOptions::default(),
    ) {
        obs.unwrap();
        hosts += 1;
    }
    assert_eq!(hosts, 20_000);
    let osquery_bytes = input.produced;

    let mut input = Generated::new(
        "<?xml version=\"1.0\"?><nmaprun start=\"1\">\n",
        "</nmaprun>\n",
        60_000,
        nmap_host,
    );
    let mut hosts = 0;
    for obs in parse(
        Format::Nmap,
        BufReader::new(&mut input),
        &ParseOptions::default(),
    ) {
        obs.unwrap();
        hosts += 1;
    }
    assert_eq!(hosts, 60_000);
    let nmap_bytes = input.produced;

    let after = peak_rss_kib().unwrap();
    let grown_mib = (after.saturating_sub(before)) / 1024;
    eprintln!(
        "parsed {} MiB, peak memory grew by {grown_mib} MiB",
        (osquery_bytes + nmap_bytes) >> 20
    );
    assert!(
        osquery_bytes > 30 << 20 && nmap_bytes > 30 << 20,
        "inputs too small to show anything"
    );
    assert!(
        grown_mib < 24,
        "peak memory grew by {grown_mib} MiB while parsing {} MiB",
        (osquery_bytes + nmap_bytes) >> 20
    );
}
