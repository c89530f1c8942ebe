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
    c.observe(t, Status::Up, at);
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
fn forty_defaced_and_twenty_down_make_one_incident() {
    let mut c = Correlator::new(Config::default());
    // the night of 1-2 January 2014: many agency sites at once, seen over
    // one 60 s probe interval; the first failed probe of each is raw
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
    let mut notices = Vec::new();
    for second in 0..60 {
        let now = 1000 + second;
        for (i, t) in targets.iter().enumerate() {
            if i as i64 == second {
                let status = if i < 40 {
                    Status::Defaced
                } else {
                    Status::Down
                };
                c.observe(t, status, now);
                if status == Status::Defaced {
                    // declared at once
                    fail(&mut c, t, status, now);
                }
            }
        }
        if second % 5 == 0 {
            notices.extend(c.tick(now));
        }
    }
    // the second probe of the down ones declares them
    for t in &targets[40..] {
        fail(&mut c, t, Status::Down, 1065);
    }
    notices.extend(run(&mut c, 1060, 1600));
    assert_eq!(notices.len(), 1, "exactly one notice: {notices:?}");
    match &notices[0] {
        Notice::IncidentOpened {
            scope,
            members,
            defaced,
            down,
            at,
            ..
        } => {
            assert_eq!(*scope, GroupScope::Zone("sante.gouv.fr".into()));
            assert_eq!(members.len(), 60, "the notice lists every site");
            assert_eq!((*defaced, *down), (40, 20));
            assert!(
                *at <= 1000 + 60 + 10,
                "opened at {at}: within one interval plus 10 s"
            );
        }
        other => panic!("{other:?}"),
    }
    // all come back: one resolution
    for t in &targets {
        recover(&mut c, t, 2000);
    }
    let notices = run(&mut c, 2000, 2100);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        matches!(&notices[0], Notice::IncidentResolved { members, began: 1000, .. } if members.len() == 60)
    );
}

#[test]
fn a_growing_incident_sends_digests() {
    let cfg = Config {
        digest_every: 120,
        gather: 0,
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
        matches!(&first[0], Notice::IncidentOpened { members, scope: GroupScope::Zone(z), .. } if members.len() == 10 && z == "trust.nhs.uk"),
        "{first:?}"
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
    assert_eq!(grew(&later), 20);
    assert!(!later.iter().any(|n| matches!(
        n,
        Notice::IncidentOpened { .. } | Notice::TargetFailed { .. }
    )));
}

#[test]
fn a_lone_failure_is_notified_after_the_hold_and_recovers() {
    let mut c = Correlator::new(Config::default());
    let t = target(1, "A81001", "Y63", "practice.nhs.uk");
    c.observe(&t, Status::Down, 100);
    assert!(run(&mut c, 100, 150).is_empty(), "a suspect alone is held");
    fail(&mut c, &t, Status::Down, 160);
    let n = run(&mut c, 155, 200);
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(
        matches!(&n[0], Notice::TargetFailed { target, since: 100, at: 160 } if target.target == t.id && target.status == Status::Down && target.establishment.as_deref() == Some("A81001"))
    );
    recover(&mut c, &t, 300);
    let n = run(&mut c, 300, 305);
    assert!(
        matches!(&n[..], [Notice::TargetRecovered { target, at: 300 }] if target.target == t.id),
        "{n:?}"
    );
    // a failure that clears within the hold is never notified
    c.observe(&t, Status::Down, 400);
    fail(&mut c, &t, Status::Down, 420);
    recover(&mut c, &t, 440);
    assert!(run(&mut c, 400, 600).is_empty());
    // nor is a single failed probe
    c.observe(&t, Status::Down, 700);
    c.observe(&t, Status::Up, 760);
    assert!(run(&mut c, 700, 900).is_empty());
}

#[test]
fn suspects_that_recover_before_the_notice_are_not_an_incident() {
    let mut c = Correlator::new(Config::default());
    let ts: Vec<TargetInfo> = (0..8).map(|i| target(i, "E", "R", "z.fr")).collect();
    for t in &ts {
        c.observe(t, Status::Down, 0);
    }
    assert!(run(&mut c, 0, 30).is_empty());
    for t in &ts {
        c.observe(t, Status::Up, 40);
    }
    assert!(run(&mut c, 35, 400).is_empty(), "a blip is not an incident");
}

#[test]
fn our_own_network_loss_is_not_a_sector_outage() {
    let mut c = Correlator::new(Config::default());
    assert_eq!(c.canary(false, 10), vec![Notice::CanaryLost { at: 10 }]);
    for i in 0..200 {
        let t = target(i, &format!("E{i}"), "R", &format!("z{i}.fr"));
        c.observe(&t, Status::Down, 12);
        fail(&mut c, &t, Status::Down, 12);
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
    assert!(
        run(&mut c, 300, 600).is_empty(),
        "failures seen while we were cut off are not reported afterwards"
    );
}

#[test]
fn the_incident_names_the_most_specific_shared_scope() {
    let cfg = Config {
        gather: 0,
        ..Config::default()
    };
    let mut c = Correlator::new(cfg);
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
    let mut c = Correlator::new(cfg);
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
}
