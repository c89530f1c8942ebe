//! Throughput measurement, not a test: run with
//! `cargo test -p vigie-inventory --release --test perf -- --ignored --nocapture`.
//! It prints numbers and asserts only correctness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;
use vigie_core::Section;
use vigie_inventory::{Format, ParseOptions, parse};

/// An osquery log of Windows hosts, each with os_version, system_info, 100
/// patches and 100 programs, as a typical scheduled pack logs them.
fn windows_fleet(hosts: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for h in 0..hosts {
        let tail = format!(
            r#""hostIdentifier":"PC-{h:06}","calendarTime":"Wed Jan 31 10:00:00 2024 UTC","unixTime":{},"epoch":0,"counter":0,"numerics":false,"decorations":{{"host_uuid":"4C4C4544-0042-3510-8056-{h:012}","establishment":"RBH"}}}}"#,
            1_706_695_200 + h
        );
        out.extend(format!(r#"{{"snapshot":[{{"name":"Microsoft Windows 10 Enterprise","version":"10.0.19045","major":"10","minor":"0","patch":"","build":"19045","platform":"windows","platform_like":"windows","codename":"Microsoft Windows 10 Enterprise","arch":"64-bit","revision":"3803"}}],"action":"snapshot","name":"os",{tail}"#).bytes());
        out.push(b'\n');
        out.extend(format!(r#"{{"snapshot":[{{"hostname":"PC-{h:06}.example.org","uuid":"4C4C4544-0042-3510-8056-{h:012}","cpu_brand":"Intel","hardware_vendor":"Dell Inc.","hardware_model":"OptiPlex 7090","hardware_serial":"SN{h:08}","computer_name":"PC-{h:06}"}}],"action":"snapshot","name":"system",{tail}"#).bytes());
        out.push(b'\n');
        let patches: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"hotfix_id":"KB50{:05}","caption":"http://support.microsoft.com/?kbid=50{:05}","description":"Security Update","installed_on":"1/10/2024","installed_by":"NT AUTHORITY\\SYSTEM","csname":"PC-{h:06}","fix_comments":"","install_date":""}}"#, i * 37, i * 37))
            .collect();
        out.extend(
            format!(
                r#"{{"snapshot":[{}],"action":"snapshot","name":"patches",{tail}"#,
                patches.join(",")
            )
            .bytes(),
        );
        out.push(b'\n');
        let programs: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"name":"Application number {i} (x64)","version":"{i}.2.3.4","install_location":"C:\\Program Files\\App{i}","install_source":"","language":"1033","publisher":"Publisher {i} Ltd","uninstall_string":"MsiExec.exe /X{{23170F69-40C1-2702-0920-0000010000{i:02}}}","install_date":"20240110","identifying_number":"{{23170F69-40C1-2702-0920-0000010000{i:02}}}"}}"#))
            .collect();
        out.extend(
            format!(
                r#"{{"snapshot":[{}],"action":"snapshot","name":"programs",{tail}"#,
                programs.join(",")
            )
            .bytes(),
        );
        out.push(b'\n');
    }
    out
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn osquery_throughput() {
    let hosts = 5_000;
    let log = windows_fleet(hosts);
    let start = Instant::now();
    let mut count = 0;
    for obs in parse(Format::Osquery, log.as_slice(), &ParseOptions::default()) {
        let obs = obs.unwrap();
        let Section::Full(h) = &obs.hotfixes else {
            panic!()
        };
        assert_eq!(h.len(), 100);
        count += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(count, hosts);
    println!(
        "osquery: {hosts} hosts, {:.1} MB in {secs:.3} s = {:.0} MB/s, {:.0} hosts/s",
        log.len() as f64 / 1e6,
        log.len() as f64 / 1e6 / secs,
        hosts as f64 / secs
    );
}
