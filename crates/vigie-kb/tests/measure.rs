//! Informal timings (not assertions): `cargo test --release -p vigie-kb --test measure -- --ignored --nocapture`.

use std::time::Instant;
use vigie_core::Software;
use vigie_kb::KnowledgeBase;

#[test]
#[ignore = "timing report, run on demand"]
fn report_timings() {
    let t = Instant::now();
    let kb = KnowledgeBase::embedded().unwrap();
    println!("first KnowledgeBase::embedded(): {:?}", t.elapsed());
    let runs = 5;
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(KnowledgeBase::embedded().unwrap());
    }
    println!(
        "KnowledgeBase::embedded() average of {runs}: {:?}",
        t.elapsed() / runs
    );

    let names = [
        ("Google Chrome", Some("120.0.6099.71"), Some("Google LLC")),
        (
            "Mozilla Firefox (x64 en-GB)",
            Some("131.0"),
            Some("Mozilla"),
        ),
        ("7-Zip 19.00 (x64)", Some("19.00"), Some("Igor Pavlov")),
        (
            "Microsoft Edge",
            Some("120.0.2210.91"),
            Some("Microsoft Corporation"),
        ),
        (
            "Adobe Acrobat Reader DC",
            Some("24.001.20604"),
            Some("Adobe Systems Incorporated"),
        ),
        (
            "Oracle Java 8 Update 201",
            Some("8.0.2010.9"),
            Some("Oracle Corporation"),
        ),
        ("VLC media player", Some("3.0.18"), Some("VideoLAN")),
        (
            "Microsoft Office Click-to-Run Extensibility Component",
            Some("16.0.17126.20132"),
            Some("Microsoft Corporation"),
        ),
        (
            "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.36.32532",
            Some("14.36.32532.0"),
            Some("Microsoft Corporation"),
        ),
        (
            "Intel(R) Management Engine Components",
            Some("2241.3.38.0"),
            Some("Intel Corporation"),
        ),
        (
            "Notepad++ (64-bit x64)",
            Some("8.5.8"),
            Some("Notepad++ Team"),
        ),
        (
            "Zoom",
            Some("5.16.10"),
            Some("Zoom Video Communications, Inc."),
        ),
    ];
    let list: Vec<Software> = names
        .iter()
        .map(|(n, v, p)| Software {
            name: n.to_string(),
            version: v.map(Into::into),
            publisher: p.map(Into::into),
        })
        .collect();
    let iterations = 20_000;
    let t = Instant::now();
    let mut matches = 0usize;
    for _ in 0..iterations {
        for sw in &list {
            matches += std::hint::black_box(kb.kev_for_software(sw)).len();
        }
    }
    let per = t.elapsed() / (iterations * list.len() as u32);
    println!(
        "kev_for_software: {per:?} per lookup (mixed list of {}, {matches} matches)",
        list.len()
    );
    for (label, version) in [
        ("chrome 120 (16 confirmed)", Some("120.0.6099.71")),
        ("chrome 999 (no match)", Some("999.0")),
        ("chrome, version unknown (41 to review)", None),
    ] {
        let chrome = Software {
            name: "Google Chrome".into(),
            version: version.map(Into::into),
            publisher: Some("Google LLC".into()),
        };
        let t = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(kb.kev_for_software(&chrome));
        }
        println!(
            "kev_for_software({label}): {:?} per lookup",
            t.elapsed() / iterations
        );
    }
}
