//! Mass events become one incident; lone failures stay lone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use vigie_watch::correlate::{
    Change, Config, Correlator, GroupScope, IncidentRecord, Member, Notice, TargetInfo,
};
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

/// A mass event at short intervals: 60 sites probed every 5 s fail one
/// after the other over one interval, seen at sub-second times that the
/// runner's clock truncates to whole seconds, while the notices are ticked
/// every 2 s at any phase. The opening must list all 60 whatever the
/// fraction of the second the first failure fell in and the phase of the
/// ticks, with the gather at the interval (not widened).
#[test]
fn the_opening_lists_every_site_that_fell_within_one_interval_at_short_intervals() {
    const SITES: i64 = 60;
    const INTERVAL_MS: i64 = 5_000;
    const TICK_MS: i64 = 2_000;
    let targets: Vec<TargetInfo> = (0..SITES as usize)
        .map(|i| target(i, "ARS", "R1", "sante.gouv.fr"))
        .collect();
    let mut runs = 0;
    // the first failure at every tenth of a second, ticks at every phase
    for start_frac in (0..1_000).step_by(100) {
        for tick_phase in (0..TICK_MS).step_by(250) {
            runs += 1;
            let cfg = Config {
                gather: INTERVAL_MS / 1_000,
                window: 120,
                hold: 5,
                ..Config::default()
            };
            let mut c = Correlator::new(cfg);
            let t0 = 1_000_000 + start_frac;
            // each site's slot in the interval; its first failed probe, then
            // the second (one interval later) that declares it
            let mut probes: Vec<(i64, usize, bool)> = Vec::new();
            for i in 0..SITES {
                let at = t0 + i * INTERVAL_MS / SITES + (i * 37) % 50;
                assert!(at < t0 + INTERVAL_MS);
                probes.push((at, i as usize, false));
                probes.push((at + INTERVAL_MS, i as usize, true));
            }
            probes.sort();
            let mut ticks: Vec<i64> = (0..20)
                .map(|k| 999_000 + tick_phase + k * TICK_MS)
                .collect();
            ticks.retain(|t| *t <= t0 + 3 * INTERVAL_MS);
            let mut notices = Vec::new();
            let mut p = probes.iter().peekable();
            for tick in ticks {
                // results received before the tick are handled first
                while let Some((at, i, second)) = p.next_if(|(at, _, _)| *at <= tick) {
                    let s = at.div_euclid(1_000);
                    c.observe(&targets[*i], Status::Down, s);
                    if *second {
                        fail(&mut c, &targets[*i], Status::Down, s);
                    }
                }
                notices.extend(c.tick(tick.div_euclid(1_000)));
            }
            let opened: Vec<&Notice> = notices
                .iter()
                .filter(|n| matches!(n, Notice::IncidentOpened { .. }))
                .collect();
            assert_eq!(
                opened.len(),
                1,
                "start +{start_frac} ms, ticks +{tick_phase} ms: {notices:?}"
            );
            match opened[0] {
                Notice::IncidentOpened { members, at, .. } => {
                    assert_eq!(
                        members.len(),
                        SITES as usize,
                        "start +{start_frac} ms, ticks +{tick_phase} ms: the notice at {at} lists {} sites",
                        members.len()
                    );
                    // and it is not late: within the interval plus one tick and a second
                    assert!(*at * 1_000 <= t0 + INTERVAL_MS + TICK_MS + 1_000, "{at}");
                }
                _ => unreachable!(),
            }
            assert!(
                !notices
                    .iter()
                    .any(|n| matches!(n, Notice::IncidentGrew { .. })),
                "nothing left for a digest: {notices:?}"
            );
        }
    }
    assert_eq!(runs, 80);
}

/// What a store keeps of [`Correlator::take_changes`]: incidents with
/// their members, and lone failures.
#[derive(Default)]
struct Kept {
    incidents: BTreeMap<u64, (IncidentRecord, BTreeMap<String, Member>)>,
    lone: BTreeMap<String, (Member, i64)>,
    writes: usize,
}

impl Kept {
    fn apply(&mut self, changes: Vec<Change>) {
        for ch in changes {
            self.writes += 1;
            match ch {
                Change::Incident {
                    record,
                    members,
                    removed,
                } => {
                    let e = self
                        .incidents
                        .entry(record.id)
                        .or_insert_with(|| (record.clone(), BTreeMap::new()));
                    e.0 = record;
                    for m in members {
                        e.1.insert(m.target.clone(), m);
                    }
                    for r in removed {
                        e.1.remove(&r);
                    }
                }
                Change::IncidentClosed { id } => {
                    self.incidents.remove(&id);
                }
                Change::Lone { member, since } => {
                    self.lone.insert(member.target.clone(), (member, since));
                }
                Change::LoneClosed { target } => {
                    self.lone.remove(&target);
                }
            }
        }
    }

    fn incidents(&self) -> Vec<(IncidentRecord, Vec<Member>)> {
        self.incidents
            .values()
            .map(|(r, m)| (r.clone(), m.values().cloned().collect()))
            .collect()
    }

    fn lone(&self) -> Vec<(Member, i64)> {
        self.lone.values().cloned().collect()
    }
}

fn tick_and_keep(c: &mut Correlator, kept: &mut Kept, from: i64, to: i64) -> Vec<Notice> {
    let mut out = Vec::new();
    for t in (from..=to).step_by(5) {
        out.extend(c.tick(t));
        kept.apply(c.take_changes());
    }
    out
}

fn restarted(kept: &Kept, targets: &[TargetInfo], declared: Status, now: i64) -> Correlator {
    let mut c = Correlator::new(Config {
        gather: 10,
        ..Config::default()
    });
    // a new process: ids come from the store, never the ones used before
    c.grant_ids(1_000, 64);
    let lookup = |name: &str| {
        targets
            .iter()
            .find(|t| t.id == name)
            .map(|t| (t.clone(), declared))
    };
    c.resume(kept.incidents(), kept.lone(), lookup, now);
    c
}

#[test]
fn an_open_incident_survives_a_restart_without_a_second_opening() {
    let cfg = Config {
        gather: 10,
        ..Config::default()
    };
    let targets: Vec<TargetInfo> = (0..8).map(|i| target(i, "E", "R", "z.fr")).collect();
    let mut kept = Kept::default();
    let mut c = Correlator::new(cfg);
    c.grant_ids(7, 64);
    for t in &targets {
        c.observe(t, Status::Down, 100);
        fail(&mut c, t, Status::Down, 100);
    }
    let n = tick_and_keep(&mut c, &mut kept, 100, 130);
    let key = match &n[..] {
        [o @ Notice::IncidentOpened { incident: 7, .. }] => o.key(),
        other => panic!("{other:?}"),
    };
    assert_eq!(key, "incident-7");
    assert_eq!(kept.incidents.len(), 1);
    assert!(kept.incidents[&7].0.announced, "the announcement is kept");
    assert_eq!(kept.incidents[&7].1.len(), 8, "with its members");
    drop(c);

    // still failing after the restart: no second opening, the same incident
    let mut c = restarted(&kept, &targets, Status::Down, 200);
    assert!(c.take_changes().is_empty(), "resuming writes nothing");
    assert_eq!(c.incidents().len(), 1);
    let writes = kept.writes;
    for t in &targets {
        c.observe(t, Status::Down, 205);
    }
    assert!(tick_and_keep(&mut c, &mut kept, 200, 400).is_empty());
    assert_eq!(kept.writes, writes, "nothing changed, nothing written");
    // a new failure elsewhere in the scope joins it and goes out as a digest
    let late = target(50, "E", "R", "z.fr");
    c.observe(&late, Status::Down, 410);
    let n = tick_and_keep(&mut c, &mut kept, 410, 800);
    assert!(
        matches!(&n[..], [Notice::IncidentGrew { incident: 7, added, total: 9, .. }] if added.len() == 1),
        "{n:?}"
    );
    drop(c);

    // restarted again, and everything came back while it was down: the
    // members are probed again and the incident resolves, with its own key
    let mut all = targets.clone();
    all.push(late.clone());
    let mut c = restarted(&kept, &all, Status::Down, 900);
    assert!(
        tick_and_keep(&mut c, &mut kept, 900, 920).is_empty(),
        "not resolved before the members are probed again"
    );
    for t in &all {
        recover(&mut c, t, 925);
    }
    let n = tick_and_keep(&mut c, &mut kept, 925, 935);
    assert!(
        matches!(&n[..], [r @ Notice::IncidentResolved { incident: 7, members, began: 100, .. }] if members.len() == 9 && r.key() == key),
        "{n:?}"
    );
    assert!(kept.incidents.is_empty(), "the ended incident is forgotten");
    // the next incident takes a new id, never 7 again
    for t in &targets {
        c.observe(t, Status::Down, 1_000);
    }
    let n = tick_and_keep(&mut c, &mut kept, 1_000, 1_020);
    assert!(
        matches!(
            &n[..],
            [Notice::IncidentOpened {
                incident: 1_000,
                ..
            }]
        ),
        "{n:?}"
    );
}

#[test]
fn a_restart_resolves_members_whose_failure_was_never_declared() {
    // killed before the members' declared state was stored: they are
    // suspects only, and one good probe each ends the incident
    let targets: Vec<TargetInfo> = (0..6).map(|i| target(i, "E", "R", "z.fr")).collect();
    let mut kept = Kept::default();
    let mut c = Correlator::new(Config {
        gather: 10,
        ..Config::default()
    });
    for t in &targets {
        c.observe(t, Status::Down, 0);
    }
    let n = tick_and_keep(&mut c, &mut kept, 0, 20);
    assert!(
        matches!(&n[..], [Notice::IncidentOpened { incident: 1, .. }]),
        "{n:?}"
    );
    let mut c = restarted(&kept, &targets, Status::Up, 100);
    for t in &targets[..5] {
        c.observe(t, Status::Up, 102);
    }
    assert!(
        tick_and_keep(&mut c, &mut kept, 105, 110).is_empty(),
        "one member not probed yet"
    );
    c.observe(&targets[5], Status::Up, 111);
    let n = tick_and_keep(&mut c, &mut kept, 115, 115);
    assert!(
        matches!(&n[..], [Notice::IncidentResolved { incident: 1, .. }]),
        "{n:?}"
    );
}

#[test]
fn an_incident_not_yet_announced_gathers_again_after_a_restart() {
    let targets: Vec<TargetInfo> = (0..6).map(|i| target(i, "E", "R", "z.fr")).collect();
    let mut kept = Kept::default();
    let mut c = Correlator::new(Config {
        gather: 10,
        ..Config::default()
    });
    for t in &targets {
        c.observe(t, Status::Down, 0);
    }
    assert!(tick_and_keep(&mut c, &mut kept, 0, 5).is_empty());
    assert_eq!(kept.incidents.len(), 1, "kept before it is announced");
    // down for a long time; meanwhile two sites came back
    let mut c = restarted(&kept, &targets, Status::Up, 1_000);
    assert!(
        tick_and_keep(&mut c, &mut kept, 1_000, 1_005).is_empty(),
        "not announced before its members are probed again"
    );
    for t in &targets[..2] {
        c.observe(t, Status::Up, 1_006);
    }
    for t in &targets[2..] {
        c.observe(t, Status::Down, 1_006);
    }
    let n = tick_and_keep(&mut c, &mut kept, 1_010, 1_020);
    assert!(
        matches!(&n[..], [Notice::IncidentOpened { incident: 1, members, .. }] if members.len() == 4),
        "{n:?}"
    );
}

#[test]
fn a_lone_failure_survives_a_restart_and_its_recovery_is_sent() {
    let t = target(1, "A81001", "Y63", "practice.nhs.uk");
    let mut kept = Kept::default();
    let mut c = Correlator::new(Config::default());
    c.observe(&t, Status::Down, 100);
    fail(&mut c, &t, Status::Down, 160);
    let n = tick_and_keep(&mut c, &mut kept, 155, 200);
    assert!(matches!(&n[..], [Notice::TargetFailed { .. }]), "{n:?}");
    assert_eq!(kept.lone.len(), 1);
    let mut c = restarted(&kept, std::slice::from_ref(&t), Status::Down, 500);
    c.observe(&t, Status::Down, 505);
    assert!(
        tick_and_keep(&mut c, &mut kept, 500, 800).is_empty(),
        "not notified twice"
    );
    recover(&mut c, &t, 900);
    let n = tick_and_keep(&mut c, &mut kept, 900, 905);
    assert!(
        matches!(&n[..], [Notice::TargetRecovered { target, .. }] if target.target == t.id),
        "{n:?}"
    );
    assert!(kept.lone.is_empty());
    // a target no longer watched is forgotten, not announced as recovered
    let mut c = Correlator::new(Config::default());
    c.observe(&t, Status::Down, 100);
    fail(&mut c, &t, Status::Down, 160);
    tick_and_keep(&mut c, &mut kept, 155, 200);
    let mut c = restarted(&kept, &[], Status::Down, 500);
    assert!(tick_and_keep(&mut c, &mut kept, 500, 600).is_empty());
    assert!(kept.lone.is_empty());
}

#[test]
fn granted_ids_are_used_and_an_incident_waits_for_one() {
    let cfg = Config {
        gather: 0,
        ..Config::default()
    };
    let mut c = Correlator::new(cfg);
    c.grant_ids(100, 1);
    assert_eq!(c.ids_left(), 1);
    for i in 0..5 {
        c.observe(&target(i, "E1", "R1", "a.fr"), Status::Down, 0);
    }
    let n = run(&mut c, 0, 5);
    assert!(
        matches!(&n[..], [Notice::IncidentOpened { incident: 100, .. }]),
        "{n:?}"
    );
    assert_eq!(c.ids_left(), 0);
    // another mass event elsewhere: no id left, it waits
    for i in 0..5 {
        let mut t = target(10 + i, "E2", "R2", "b.fr");
        t.address = None;
        c.observe(&t, Status::Down, 10);
    }
    assert!(run(&mut c, 10, 15).is_empty());
    c.grant_ids(500, 10);
    let n = run(&mut c, 20, 25);
    assert!(
        matches!(&n[..], [Notice::IncidentOpened { incident: 500, .. }]),
        "{n:?}"
    );
    assert_eq!(c.ids_left(), 9);
}

#[test]
fn a_lone_failure_that_joined_an_incident_still_gets_its_recovery_after_a_restart() {
    let cfg = Config {
        gather: 0,
        ..Config::default()
    };
    let targets: Vec<TargetInfo> = (0..6).map(|i| target(i, "E", "R", "z.fr")).collect();
    let mut kept = Kept::default();
    let mut c = Correlator::new(cfg);
    // the first fails alone and is notified after the hold
    c.observe(&targets[0], Status::Down, 0);
    fail(&mut c, &targets[0], Status::Down, 0);
    let n = tick_and_keep(&mut c, &mut kept, 60, 60);
    assert!(matches!(&n[..], [Notice::TargetFailed { .. }]), "{n:?}");
    // then the others: an incident, which it joins at its next probe
    for t in &targets[1..] {
        c.observe(t, Status::Down, 100);
        fail(&mut c, t, Status::Down, 100);
    }
    assert!(tick_and_keep(&mut c, &mut kept, 100, 100).is_empty());
    c.observe(&targets[0], Status::Down, 102);
    let n = tick_and_keep(&mut c, &mut kept, 105, 110);
    assert!(
        matches!(&n[..], [Notice::IncidentOpened { members, .. }] if members.len() == 6),
        "{n:?}"
    );
    let mut c = restarted(&kept, &targets, Status::Down, 200);
    assert!(c.take_changes().is_empty(), "resuming writes nothing");
    for t in &targets {
        recover(&mut c, t, 300);
    }
    let n = tick_and_keep(&mut c, &mut kept, 300, 300);
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(
        n.iter()
            .any(|n| matches!(n, Notice::IncidentResolved { .. }))
    );
    assert!(n.iter().any(
        |n| matches!(n, Notice::TargetRecovered { target, .. } if target.target == targets[0].id)
    ));
    assert!(kept.incidents.is_empty() && kept.lone.is_empty());
}
