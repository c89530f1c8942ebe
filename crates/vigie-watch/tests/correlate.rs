//! Mass events become one incident; lone failures stay lone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vigie_watch::correlate::{Config, Correlator, GroupScope, Notice, TargetInfo};
use vigie_watch::state::{Status, Transition};

fn target(i: usize, est: &str, region: &str, zone: &str) -> TargetInfo {
    TargetInfo {
        id: format!("https://site{i}.{zone}/"),
        establishment: Some(est.into()),
        region: Some(region.into()),
        zone: Some(zone.into()),
        address: Some(format!("192.0.2.{}", i % 250)),
    }
}

fn fail(c: &mut Correlator, t: &TargetInfo, to: Status, at: i64) {
    c.record(
        t,
        Transition {
            from: Status::Up,
            to,
            at,
        },
    );
}

fn recover(c: &mut Correlator, t: &TargetInfo, at: i64) {
    c.record(
        t,
        Transition {
            from: Status::Down,
            to: Status::Up,
            at,
        },
    );
}

/// Ticks every 5 s from `from` to `to`, gathering notices.
fn run(c: &mut Correlator, from: i64, to: i64) -> Vec<Notice> {
    (from..=to).step_by(5).flat_map(|t| c.tick(t)).collect()
}

#[test]
fn forty_defaced_and_twenty_down_make_one_incident() {
    let mut c = Correlator::new(Config::default());
    // the night of 1-2 January 2014: many agency sites at once, over one probe interval
    let targets: Vec<TargetInfo> = (0..60)
        .map(|i| {
            target(
                i,
                &format!("ARS{}", i % 26),
                &format!("R{}", i % 13),
                "sante.gouv.fr",
            )
        })
        .collect();
    for (i, t) in targets.iter().enumerate() {
        let status = if i < 40 {
            Status::Defaced
        } else {
            Status::Down
        };
        fail(&mut c, t, status, 1000 + (i as i64 % 60));
    }
    let notices = run(&mut c, 1000, 1600);
    let opened: Vec<&Notice> = notices
        .iter()
        .filter(|n| matches!(n, Notice::IncidentOpened { .. }))
        .collect();
    assert_eq!(opened.len(), 1, "{notices:?}");
    match opened[0] {
        Notice::IncidentOpened {
            scope,
            members,
            defaced,
            down,
            at,
            ..
        } => {
            assert_eq!(*scope, GroupScope::Zone("sante.gouv.fr".into()));
            assert_eq!(members.len() + grew(&notices), 60);
            assert!(
                *at <= 1000 + 60 + 10,
                "opened at {at}: within one interval plus 10 s"
            );
            assert!(*defaced + *down <= 60);
        }
        _ => unreachable!(),
    }
    assert!(
        !notices
            .iter()
            .any(|n| matches!(n, Notice::TargetFailed { .. })),
        "no per-target alerts for members of the incident"
    );
    // all come back: one resolution
    for t in &targets {
        recover(&mut c, t, 2000);
    }
    let notices = run(&mut c, 2000, 2100);
    assert_eq!(
        notices
            .iter()
            .filter(|n| matches!(n, Notice::IncidentResolved { .. }))
            .count(),
        1,
        "{notices:?}"
    );
    assert_eq!(notices.len(), 1);
}

fn grew(notices: &[Notice]) -> usize {
    notices
        .iter()
        .map(|n| match n {
            Notice::IncidentGrew { added, .. } => added.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn a_growing_incident_sends_digests() {
    let cfg = Config {
        digest_every: 120,
        ..Config::default()
    };
    let mut c = Correlator::new(cfg);
    let targets: Vec<TargetInfo> = (0..30)
        .map(|i| target(i, "RX1", "Y56", "trust.nhs.uk"))
        .collect();
    for t in &targets[..10] {
        fail(&mut c, t, Status::Down, 0);
    }
    let first = run(&mut c, 0, 10);
    assert!(
        matches!(&first[0], Notice::IncidentOpened { members, scope: GroupScope::Zone(z), .. } if members.len() == 10 && z == "trust.nhs.uk")
    );
    for (k, t) in targets[10..].iter().enumerate() {
        fail(&mut c, t, Status::Down, 20 + k as i64);
    }
    let later = run(&mut c, 15, 400);
    let digests: Vec<&Notice> = later
        .iter()
        .filter(|n| matches!(n, Notice::IncidentGrew { .. }))
        .collect();
    assert_eq!(digests.len(), 1, "{later:?}");
    assert!(
        matches!(digests[0], Notice::IncidentGrew { added, total: 30, .. } if added.len() == 20)
    );
    assert!(!later.iter().any(|n| matches!(
        n,
        Notice::IncidentOpened { .. } | Notice::TargetFailed { .. }
    )));
}

#[test]
fn a_lone_failure_is_notified_after_the_hold_and_recovers() {
    let mut c = Correlator::new(Config::default());
    let t = target(1, "A81001", "Y63", "practice.nhs.uk");
    fail(&mut c, &t, Status::Down, 100);
    let n = run(&mut c, 100, 150);
    assert!(n.is_empty(), "held: {n:?}");
    let n = run(&mut c, 155, 200);
    assert_eq!(
        n,
        vec![Notice::TargetFailed {
            target: t.id.clone(),
            status: Status::Down,
            at: 160
        }]
    );
    recover(&mut c, &t, 300);
    assert_eq!(
        run(&mut c, 300, 305),
        vec![Notice::TargetRecovered {
            target: t.id.clone(),
            at: 300
        }]
    );
    // a failure that clears within the hold is never notified
    fail(&mut c, &t, Status::Down, 400);
    recover(&mut c, &t, 420);
    assert!(run(&mut c, 400, 600).is_empty());
}

#[test]
fn our_own_network_loss_is_not_a_sector_outage() {
    let mut c = Correlator::new(Config::default());
    assert_eq!(c.canary(false, 10), vec![Notice::CanaryLost { at: 10 }]);
    for i in 0..200 {
        fail(
            &mut c,
            &target(i, &format!("E{i}"), "R", &format!("z{i}.fr")),
            Status::Down,
            12,
        );
    }
    assert!(
        run(&mut c, 12, 300).is_empty(),
        "nothing while the canary fails"
    );
    assert!(c.canary(false, 20).is_empty());
    assert_eq!(
        c.canary(true, 300),
        vec![Notice::CanaryRestored { at: 300 }]
    );
}

#[test]
fn the_incident_names_the_most_specific_shared_scope() {
    let mut c = Correlator::new(Config::default());
    // one hospital group's sites on different domains and hosts
    for i in 0..6 {
        let mut t = target(i, "CHU-NORD", "HDF", &format!("site{i}.fr"));
        t.address = Some(format!("198.51.100.{i}"));
        fail(&mut c, &t, Status::Down, 0);
    }
    let n = run(&mut c, 0, 5);
    assert!(
        matches!(&n[0], Notice::IncidentOpened { scope: GroupScope::Establishment(e), .. } if e == "CHU-NORD"),
        "{n:?}"
    );
    // several establishments of two regions: the sector
    let mut c = Correlator::new(Config::default());
    for i in 0..6 {
        let t = target(
            i,
            &format!("E{i}"),
            if i % 2 == 0 { "R1" } else { "R2" },
            &format!("z{i}.fr"),
        );
        fail(&mut c, &t, Status::Down, 0);
    }
    assert!(matches!(
        &run(&mut c, 0, 5)[0],
        Notice::IncidentOpened {
            scope: GroupScope::Sector,
            ..
        }
    ));
    // fewer than the threshold: no incident, lone alerts after the hold
    let mut c = Correlator::new(Config::default());
    for i in 0..4 {
        fail(&mut c, &target(i, "E", "R", "z.fr"), Status::Down, 0);
    }
    let n = run(&mut c, 0, 100);
    assert_eq!(
        n.iter()
            .filter(|x| matches!(x, Notice::TargetFailed { .. }))
            .count(),
        4
    );
    assert!(!n.iter().any(|x| matches!(x, Notice::IncidentOpened { .. })));
}
