//! One machine of the fleet, and what it looks like on a given day.
//!
//! A machine is a pure function of (seed, establishment, index): its
//! identity, its schedule and the days on which things change for it
//! (Windows 11 migration, MS17-010 fix, SMBv1 switched off, a stale KEV-listed
//! program updated, decommissioning). Its state on a day is computed from
//! those, so any file can be generated alone, in any order, in parallel.

use crate::os::{self, Family, OsId, Servicing};
use crate::rng::{Rng, hash_str, key};
use crate::sector::{Agent, Site};
use crate::software::{self, Product};
use crate::updates::Updates;
use crate::{DemoSpec, Sector};
use std::net::Ipv4Addr;
use vigie_core::{Day, EstablishmentKind};

pub(crate) const FAR_PAST: Day = Day::from_number(-1_000_000);
pub(crate) const FAR_FUTURE: Day = Day::from_number(1_000_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Workstation,
    Laptop,
    Device,
    Server,
    LinuxServer,
    Mac,
    LinuxDesktop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Hp,
    Dell,
    Lenovo,
    Vmware,
    Apple,
}

/// The history window and the sector, shared by every machine.
pub(crate) struct Ctx<'a> {
    pub spec: &'a DemoSpec,
    pub sector: &'a Sector,
    pub start: Day,
    pub days: u32,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(spec: &'a DemoSpec, sector: &'a Sector) -> Self {
        let days = spec.days.max(1);
        let start = spec
            .end
            .add_days(1 - i32::try_from(days).unwrap_or(i32::MAX));
        Ctx {
            spec,
            sector,
            start,
            days,
        }
    }

    /// 0 at the first day of the history, 1 at the last.
    fn progress(&self, d: Day) -> f64 {
        if self.days <= 1 {
            return 1.0;
        }
        f64::from(d.days_since(self.start)).clamp(0.0, f64::from(self.days - 1))
            / f64::from(self.days - 1)
    }

    /// A day in the window drawn for an event happening at `rate` per year;
    /// `FAR_FUTURE` when it does not happen within the window.
    fn event_day(&self, rng: &mut Rng, rate_per_year: f64) -> Day {
        let p = 1.0 - (-rate_per_year * f64::from(self.days) / 365.0).exp();
        if rng.chance(p) {
            let offset = rng.below(u64::from(self.days));
            self.start.add_days(
                i32::try_from(offset)
                    .unwrap_or(0)
                    .max(1)
                    .min(self.days as i32 - 1),
            )
        } else {
            FAR_FUTURE
        }
    }
}

/// A program a machine has, with the day its stale release gets updated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Installed {
    pub product: &'static Product,
    pub stale_until: Day,
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub site: usize,
    pub seed: u64,
    pub hostname: String,
    /// The agent reports the establishment tag.
    pub tagged: bool,
    /// Neither tag, hostname nor address attributes the machine.
    pub rogue: bool,
    pub serial: String,
    pub uuid: String,
    pub mac: String,
    pub ip: Ipv4Addr,
    pub mask_len: u8,
    pub vendor: Vendor,
    pub model: &'static str,
    pub cpu: &'static str,
    pub interval: u32,
    pub phase: u32,
    /// Seconds after midnight UTC of the usual report.
    pub tod: u32,
    pub os0: OsId,
    pub migration: Option<(Day, OsId)>,
    pub first_day: Day,
    /// Last day the machine runs (inclusive).
    pub last_day: Day,
    lag_base: f64,
    lag_shrink: f64,
    pub esu: bool,
    /// MS17-010 fix missing before this day (legacy Windows only).
    pub ms17_missing_until: Option<Day>,
    /// SMBv1 enabled before this day.
    pub smb1_until: Option<Day>,
    /// No agent: only network scans see it.
    pub agentless: bool,
    pub programs: Vec<Installed>,
    pub drivers: usize,
    pub hotfix_fill: usize,
    pub pro: bool,
    pub french: bool,
}

/// One installed update as agents list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Kb {
    /// KB number: 5034122 for KB5034122.
    pub number: u32,
    pub installed: Day,
    pub security: bool,
}

impl Kb {
    pub(crate) fn id(&self) -> String {
        format!("KB{}", self.number)
    }
}

/// One installed program as agents list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Sw {
    pub name: &'static str,
    pub version: &'static str,
    pub publisher: &'static str,
    /// macOS bundle identifier; empty elsewhere.
    pub bundle: &'static str,
}

/// What an agent sees on a machine at one time.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// Unix seconds.
    pub time: i64,
    pub os: OsId,
    pub ubr: Option<u32>,
    pub hotfixes: Vec<Kb>,
    pub smb1: bool,
    pub ms17_fixed: bool,
    pub software: Vec<Sw>,
}

const HP_MODELS: &[&str] = &[
    "HP EliteDesk 800 G6 Desktop Mini PC",
    "HP ProDesk 400 G7 Microtower PC",
    "HP EliteDesk 800 G8 Small Form Factor PC",
];
const HP_LAPTOPS: &[&str] = &["HP EliteBook 840 G8 Notebook PC", "HP ProBook 450 G9"];
const DELL_MODELS: &[&str] = &["OptiPlex 7090", "OptiPlex 5000", "OptiPlex 7010"];
const DELL_LAPTOPS: &[&str] = &["Latitude 5420", "Latitude 5440"];
const LENOVO_MODELS: &[&str] = &["11MY0039UK", "11T7003JUK", "12E30007UK"];
const LENOVO_LAPTOPS: &[&str] = &["21CBCTO1WW", "20W0005TUK"];
const OLD_MODELS: &[&str] = &[
    "HP Compaq 8200 Elite SFF PC",
    "OptiPlex 790",
    "HP Compaq Elite 8300 SFF",
    "OptiPlex 7010",
];
const SERVER_MODELS: &[&str] = &[
    "ProLiant DL380 Gen10",
    "PowerEdge R740",
    "ProLiant DL360 Gen10 Plus",
];
const MAC_MODELS: &[&str] = &["MacBookPro18,3", "Mac14,2", "Mac15,3"];
const CPUS: &[&str] = &[
    "Intel(R) Core(TM) i5-10500T CPU @ 2.30GHz",
    "Intel(R) Core(TM) i5-1145G7 @ 2.60GHz",
    "12th Gen Intel(R) Core(TM) i5-12500",
    "Intel(R) Core(TM) i7-1265U",
];
const OLD_CPUS: &[&str] = &[
    "Intel(R) Core(TM) i5-2400 CPU @ 3.10GHz",
    "Intel(R) Core(TM)2 Duo CPU E8400 @ 3.00GHz",
    "Intel(R) Core(TM) i3-3220 CPU @ 3.30GHz",
];
const SERVER_CPUS: &[&str] = &[
    "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
    "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz",
];

const ALNUM: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

fn alnum(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| {
            let i = usize::try_from(rng.below(ALNUM.len() as u64)).unwrap_or(0);
            char::from(ALNUM.get(i).copied().unwrap_or(b'0'))
        })
        .collect()
}

fn pick_str(rng: &mut Rng, list: &[&'static str]) -> &'static str {
    rng.pick(list).copied().unwrap_or("")
}

fn hex_uuid(a: u64, b: u64) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        (a & 0x0FFF) | 0x4000,
        ((b >> 48) & 0x3FFF) | 0x8000,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn initial_os(rng: &mut Rng, role: Role, legacy: f64, site: &Site) -> OsId {
    use os::*;
    let l = legacy;
    // Intune cannot manage Windows 7/8.1 and osquery never ran on XP: the
    // sites that rely on them have retired those (or cannot see them).
    let intune = site.agent == Agent::IntuneCsv;
    let table: Vec<(OsId, f64)> = match role {
        Role::Workstation | Role::Laptop => vec![
            (XP, if intune { 0.0 } else { 0.002 * l }),
            (W7, if intune { 0.0 } else { 0.035 * l }),
            (W81, if intune { 0.0 } else { 0.006 * l }),
            (W10_1607, 0.004),
            (W10_1809, 0.008),
            (W10_LTSC21, 0.02),
            (W10_22H2, 0.56),
            (W11_23H2, 0.14),
            (W11_24H2, 0.2),
        ],
        Role::Device => vec![
            (XP, if intune { 0.0 } else { 0.12 * l }),
            (W7, if intune { 0.0 } else { 0.38 * l }),
            (W81, if intune { 0.0 } else { 0.04 * l }),
            (W10_1607, 0.14),
            (W10_1809, 0.12),
            (W10_LTSC21, 0.06),
            (W10_IOT21, 0.14),
        ],
        Role::Server => vec![
            (S2008R2, 0.06 * l),
            (S2012R2, 0.14 * l),
            (S2016, 0.26),
            (S2019, 0.28),
            (S2022, 0.26),
        ],
        Role::LinuxServer => vec![
            (UBUNTU2204, 0.3),
            (UBUNTU2404, 0.2),
            (RHEL8, 0.2),
            (RHEL9, 0.2),
            (DEBIAN12, 0.1),
        ],
        Role::Mac => vec![(MACOS14, 0.4), (MACOS15, 0.6)],
        Role::LinuxDesktop => vec![(UBUNTU2204, 0.5), (UBUNTU2404, 0.5)],
    };
    let weights: Vec<f64> = table.iter().map(|(_, w)| *w).collect();
    table
        .get(rng.weighted(&weights))
        .map_or(W10_22H2, |(o, _)| *o)
}

/// Where a machine on `os` migrates to, and the yearly rate.
fn migration_target(os: OsId, role: Role) -> Option<(OsId, f64)> {
    use os::*;
    let desk = matches!(role, Role::Workstation | Role::Laptop);
    match os {
        W10_22H2 if desk => Some((W11_24H2, 0.9)),
        W11_23H2 if desk => Some((W11_24H2, 1.2)),
        XP | W7 | W81 if desk => Some((W11_24H2, 2.5)),
        XP | W7 if role == Role::Device => Some((W10_IOT21, 0.4)),
        S2008R2 => Some((S2022, 0.8)),
        S2012R2 => Some((S2022, 0.6)),
        _ => None,
    }
}

fn interval_for(rng: &mut Rng, agent: Agent, role: Role) -> u32 {
    let table: &[(u32, f64)] = match agent {
        // Per-machine agents inventory every few days: one file each time.
        Agent::GlpiJson | Agent::FusionXml | Agent::OcsXml => &[(3, 0.2), (5, 0.3), (7, 0.5)],
        _ if matches!(role, Role::Server | Role::LinuxServer) && rng.chance(0.8) => &[(1, 1.0)],
        Agent::Osquery => &[(1, 0.45), (2, 0.25), (3, 0.12), (5, 0.05), (7, 0.13)],
        Agent::SccmCsv | Agent::GlpiCsv => &[(1, 0.3), (2, 0.1), (3, 0.1), (7, 0.5)],
        Agent::IntuneCsv => &[(1, 0.6), (2, 0.2), (3, 0.1), (7, 0.1)],
    };
    let weights: Vec<f64> = table.iter().map(|(_, w)| *w).collect();
    table.get(rng.weighted(&weights)).map_or(1, |(i, _)| *i)
}

fn role_for(rng: &mut Rng, kind: EstablishmentKind, hosts: u64) -> Role {
    let r = rng.unit();
    if kind == EstablishmentKind::GpPractice {
        return if r < 0.05 {
            Role::Device
        } else if r < 0.30 {
            Role::Laptop
        } else {
            Role::Workstation
        };
    }
    let servers = if hosts < 40 { 0.03 } else { 0.07 };
    let cuts = [
        (servers, Role::Server),
        (0.02, Role::LinuxServer),
        (0.06, Role::Device),
        (0.012, Role::Mac),
        (0.004, Role::LinuxDesktop),
        (0.25, Role::Laptop),
    ];
    let mut acc = 0.0;
    for (share, role) in cuts {
        acc += share;
        if r < acc {
            return role;
        }
    }
    Role::Workstation
}

impl Machine {
    pub(crate) fn new(ctx: &Ctx<'_>, site_index: usize, index: u64) -> Machine {
        let site = &ctx.sector.sites[site_index];
        let est = &ctx.sector.establishments[site_index];
        let site_key = hash_str(est.code.as_str());
        let seed = key(&[ctx.spec.seed, site_key, index]);
        let mut rng = Rng::new(seed);
        let role = role_for(&mut rng, est.kind, site.hosts);

        // Identity.
        let rogue = rng.chance(0.003);
        let unmatched = !rogue && rng.chance(0.03);
        let p = &site.prefix;
        let hostname = if rogue {
            format!("DESKTOP-{}", alnum(&mut rng, 7))
        } else if unmatched {
            match role {
                Role::Server => format!("WIN-{}", alnum(&mut rng, 11)),
                Role::Device => {
                    let stem = pick_str(
                        &mut rng,
                        &["XRAY-CONSOLE", "LAB-ANALYSER", "US-CART", "ECG"],
                    );
                    format!("{stem}-{}", alnum(&mut rng, 4))
                }
                Role::LinuxServer => format!("localhost-{}", alnum(&mut rng, 6).to_lowercase()),
                Role::Mac => format!("MacBook-Pro-{}", alnum(&mut rng, 4)),
                _ => format!("DESKTOP-{}", alnum(&mut rng, 7)),
            }
        } else {
            match role {
                Role::Workstation => format!("{p}-WS{index:06}"),
                Role::Laptop => format!("{p}-LT{index:06}"),
                Role::Device => format!("{p}-MD{index:05}"),
                Role::Server => format!("{p}-SRV{index:04}"),
                Role::LinuxServer => format!("{}-lnx{index:04}", p.to_lowercase()),
                Role::Mac => format!("{p}-MAC{index:04}"),
                Role::LinuxDesktop => format!("{p}-UBT{index:04}"),
            }
        };
        let tagged = !rogue && !unmatched && rng.chance(0.97);
        let (ip, mask_len) = if rogue {
            (
                Ipv4Addr::new(192, 168, rng.range(0, 250) as u8, rng.range(2, 250) as u8),
                24,
            )
        } else {
            let base = u32::from(site.subnet.network());
            let offset = u32::try_from(10 + index).unwrap_or(10);
            (
                Ipv4Addr::from(base.saturating_add(offset)),
                site.subnet.prefix_len(),
            )
        };

        let mut site_rng = Rng::keyed(&[ctx.spec.seed, site_key, 77]);
        let primary = match site_rng.below(3) {
            0 => Vendor::Hp,
            1 => Vendor::Dell,
            _ => Vendor::Lenovo,
        };
        let vendor = match role {
            Role::Mac => Vendor::Apple,
            Role::Server | Role::LinuxServer if rng.chance(0.7) => Vendor::Vmware,
            _ if rng.chance(0.8) => primary,
            _ => match rng.below(3) {
                0 => Vendor::Hp,
                1 => Vendor::Dell,
                _ => Vendor::Lenovo,
            },
        };
        let a = rng.next_u64();
        let b = rng.next_u64();
        let uuid = hex_uuid(a, b);
        let laptop = role == Role::Laptop;
        let serial = match vendor {
            Vendor::Hp => format!(
                "{}{}",
                if laptop { "5CG" } else { "CZC" },
                alnum(&mut rng, 7)
            ),
            Vendor::Dell => alnum(&mut rng, 7),
            Vendor::Lenovo => format!("PC{}", alnum(&mut rng, 6)),
            Vendor::Apple => format!("C02{}", alnum(&mut rng, 9)),
            Vendor::Vmware => {
                let hexes: Vec<String> = a
                    .to_be_bytes()
                    .iter()
                    .chain(b.to_be_bytes().iter())
                    .map(|x| format!("{x:02x}"))
                    .collect();
                format!("VMware-{}-{}", hexes[..8].join(" "), hexes[8..].join(" "))
            }
        };
        let oui = match vendor {
            Vendor::Hp => "3C:4A:92",
            Vendor::Dell => "F8:BC:12",
            Vendor::Lenovo => "54:EE:75",
            Vendor::Vmware => "00:50:56",
            Vendor::Apple => "A4:83:E7",
        };
        let mac = format!(
            "{oui}:{:02X}:{:02X}:{:02X}",
            (b >> 16) & 0xFF,
            (b >> 8) & 0xFF,
            b & 0xFF
        );

        // Schedule.
        let interval = interval_for(&mut rng, site.agent, role);
        let phase = u32::try_from(rng.below(u64::from(interval))).unwrap_or(0);
        let tod = match role {
            Role::Server | Role::LinuxServer => rng.range(0, 6 * 3600),
            _ => rng.range(7 * 3600, 18 * 3600 + 1800),
        } as u32;

        // Lifecycle.
        let first_day = if rng.chance(0.015) {
            ctx.event_day(&mut rng, f64::INFINITY)
        } else {
            FAR_PAST
        };
        let last_day = if rng.chance(0.01) {
            ctx.event_day(&mut rng, f64::INFINITY).add_days(-1)
        } else {
            FAR_FUTURE
        };
        let mut os0 = initial_os(&mut rng, role, site.legacy, site);
        if first_day > FAR_PAST && matches!(role, Role::Workstation | Role::Laptop) {
            os0 = os::W11_24H2;
        }
        let spec0 = os::spec(os0);
        let migration = migration_target(os0, role).and_then(|(target, rate)| {
            let day = ctx.event_day(&mut rng, rate * site.pace);
            (day < FAR_FUTURE).then_some((day, target))
        });
        let old = matches!(spec0.servicing, Servicing::Xp | Servicing::Legacy { .. });
        let lag_base = {
            let r = rng.unit();
            let (a, b) = if role == Role::Device {
                (0.45, 0.7)
            } else {
                (0.7, 0.88)
            };
            if r < a {
                rng.range_f(7.0, 30.0)
            } else if r < b {
                rng.range_f(30.0, 90.0)
            } else {
                rng.range_f(60.0, 400.0)
            }
        };
        let lag_shrink = (0.3 * site.pace).min(0.6);
        let esu = match os0 {
            os::W7 => rng.chance(0.3),
            os::S2008R2 => rng.chance(0.25),
            os::S2012R2 => rng.chance(0.4),
            _ => false,
        };
        let missing_share = match (os0, role) {
            (os::XP, _) => 0.55,
            (os::W7, Role::Device) => 0.4,
            (os::W7, _) => 0.12,
            (os::S2008R2, _) => 0.1,
            _ => 0.0,
        };
        let ms17_missing_until = (missing_share > 0.0 && rng.chance(missing_share))
            .then(|| ctx.event_day(&mut rng, 1.8 * site.pace));
        let smb1_share = if spec0.smb1_default {
            if role == Role::Device { 0.95 } else { 0.75 }
        } else {
            match role {
                Role::Device => 0.25,
                Role::Server => 0.08,
                _ if spec0.is_windows() => 0.03,
                _ => 0.0,
            }
        };
        let smb1_until = rng
            .chance(smb1_share)
            .then(|| ctx.event_day(&mut rng, 1.5 * site.pace));
        let agentless = match spec0.family {
            Family::Windows => {
                (role == Role::Device && site.nmap && rng.chance(0.4))
                    || (os0 == os::XP && site.agent == Agent::Osquery)
            }
            Family::Linux | Family::Macos => {
                site.agent == Agent::SccmCsv
                    || (site.agent == Agent::IntuneCsv && spec0.family == Family::Linux)
            }
        };

        // Software.
        let mut programs = Vec::new();
        let mut drivers = 0;
        if spec0.is_windows() {
            let role_bit = match role {
                Role::Server => software::SRV,
                Role::Device => software::DEV,
                _ => software::WS,
            };
            let gp = est.kind == EstablishmentKind::GpPractice;
            let vendor_bit = match vendor {
                Vendor::Hp => software::HP,
                Vendor::Dell => software::DELL,
                Vendor::Lenovo => software::LENOVO,
                Vendor::Vmware => software::VM,
                Vendor::Apple => 0,
            };
            let stale_share = 0.10 * site.legacy * if old { 3.0 } else { 1.0 };
            for product in software::WINDOWS {
                let s = product.scope;
                if s & role_bit == 0
                    || (s & software::GP != 0 && !gp)
                    || (s & software::HOSP != 0 && gp)
                    || (s & software::EN != 0 && site.french)
                    || (s & software::FR != 0 && !site.french)
                {
                    continue;
                }
                let vendor_only =
                    s & (software::HP | software::DELL | software::LENOVO | software::VM);
                if vendor_only != 0 && vendor_only & vendor_bit == 0 {
                    continue;
                }
                if !rng.chance(f64::from(product.share)) {
                    continue;
                }
                let stale_until = if product.stale.is_some() && rng.chance(stale_share) {
                    ctx.event_day(&mut rng, 2.0 * site.pace)
                } else {
                    FAR_PAST
                };
                programs.push(Installed {
                    product,
                    stale_until,
                });
            }
            let target = match role {
                Role::Workstation | Role::Laptop => rng.range(60, 140),
                _ => rng.range(40, 90),
            } as usize;
            drivers = target
                .saturating_sub(programs.len())
                .min(software::DRIVER_PACKAGES.len());
        }
        let hotfix_target = rng.range(60, 120) as usize;
        let hotfix_fill = match spec0.servicing {
            Servicing::Xp => hotfix_target - 1,
            Servicing::Legacy { .. } => rng.range(15, 30) as usize,
            Servicing::Nt10 { .. } => hotfix_target / 2 + 10,
            Servicing::None => 0,
        };
        Machine {
            site: site_index,
            seed,
            hostname,
            tagged,
            rogue,
            serial,
            uuid,
            mac,
            ip,
            mask_len,
            vendor,
            model: match (vendor, role) {
                (Vendor::Vmware, _) => "VMware Virtual Platform",
                (Vendor::Apple, _) => pick_str(&mut rng, MAC_MODELS),
                (_, Role::Server | Role::LinuxServer) => pick_str(&mut rng, SERVER_MODELS),
                _ if old => pick_str(&mut rng, OLD_MODELS),
                (Vendor::Hp, Role::Laptop) => pick_str(&mut rng, HP_LAPTOPS),
                (Vendor::Hp, _) => pick_str(&mut rng, HP_MODELS),
                (Vendor::Dell, Role::Laptop) => pick_str(&mut rng, DELL_LAPTOPS),
                (Vendor::Dell, _) => pick_str(&mut rng, DELL_MODELS),
                (Vendor::Lenovo, Role::Laptop) => pick_str(&mut rng, LENOVO_LAPTOPS),
                (Vendor::Lenovo, _) => pick_str(&mut rng, LENOVO_MODELS),
            },
            cpu: match role {
                Role::Server | Role::LinuxServer => pick_str(&mut rng, SERVER_CPUS),
                Role::Mac => "Apple M2",
                _ if old => pick_str(&mut rng, OLD_CPUS),
                _ => pick_str(&mut rng, CPUS),
            },
            interval,
            phase,
            tod,
            os0,
            migration,
            first_day,
            last_day,
            lag_base,
            lag_shrink,
            esu,
            ms17_missing_until,
            smb1_until,
            agentless,
            programs,
            drivers,
            hotfix_fill,
            pro: site.pro_editions,
            french: site.french,
        }
    }

    pub(crate) fn active(&self, d: Day) -> bool {
        d >= self.first_day && d <= self.last_day
    }

    /// Whether the agent inventories the machine on day `d`.
    pub(crate) fn reports(&self, d: Day) -> bool {
        !self.agentless
            && self.active(d)
            && (i64::from(d.number()) + i64::from(self.phase)).rem_euclid(i64::from(self.interval))
                == 0
    }

    /// The last report on or before `d`, not before `from`.
    pub(crate) fn last_report(&self, d: Day, from: Day) -> Option<Day> {
        (0..i32::try_from(self.interval).unwrap_or(1))
            .map(|back| d.add_days(-back))
            .find(|r| *r >= from && self.reports(*r))
    }

    /// The report before `d` within the history, if any.
    pub(crate) fn previous_report(&self, d: Day, from: Day) -> Option<Day> {
        let prev = d.add_days(-1);
        if prev < from {
            return None;
        }
        self.last_report(prev, from)
    }

    /// Unix time of the report on day `d` (a little jitter around the
    /// machine's usual time).
    pub(crate) fn report_time(&self, d: Day) -> i64 {
        let jitter = key(&[self.seed, u64::try_from(d.number()).unwrap_or(0), 9]) % 1800;
        d.start_second() + i64::from(self.tod) + i64::try_from(jitter).unwrap_or(0)
    }

    pub(crate) fn os_on(&self, d: Day) -> OsId {
        match self.migration {
            Some((m, target)) if d >= m => target,
            _ => self.os0,
        }
    }

    pub(crate) fn migrated_on(&self, d: Day) -> Option<Day> {
        self.migration.map(|(m, _)| m).filter(|m| d >= *m)
    }

    pub(crate) fn smb1_on(&self, d: Day) -> bool {
        if self.migrated_on(d).is_some() {
            return false;
        }
        self.smb1_until.is_some_and(|until| d < until)
    }

    pub(crate) fn ms17_fixed_on(&self, d: Day) -> bool {
        let spec = os::spec(self.os_on(d));
        if !spec.ms17_affected() || self.migrated_on(d).is_some() {
            return true;
        }
        self.ms17_missing_until.is_none_or(|until| d >= until)
    }

    /// The date up to which updates are installed on day `d`.
    fn cutoff(&self, ctx: &Ctx<'_>, d: Day) -> Day {
        // At least a week: updates are installed within six days of their
        // release, and never after the observation.
        let lag = (self.lag_base * (1.0 - self.lag_shrink * ctx.progress(d))).max(7.0);
        let mut cutoff = d.add_days(-(lag.round() as i32));
        if let Some(m) = self.migrated_on(d) {
            cutoff = cutoff.max(m.add_days(-14));
        }
        cutoff
    }

    pub(crate) fn snapshot(&self, ctx: &Ctx<'_>, d: Day) -> Snapshot {
        let os_id = self.os_on(d);
        let spec = os::spec(os_id);
        let cutoff = self.cutoff(ctx, d);
        let ms17_fixed = self.ms17_fixed_on(d);
        let updates = Updates::get();
        let mut ubr = None;
        let mut hotfixes = Vec::new();
        let mut frng = Rng::keyed(&[self.seed, 31]);
        let filler = |rng: &mut Rng, n: usize, xp: bool, out: &mut Vec<Kb>| {
            // An increasing sequence: distinct ids, in each OS's era.
            let mut number = if xp {
                950_000 + rng.below(1_000)
            } else {
                2_500_000 + rng.below(300_000)
            };
            for _ in 0..n {
                number += 1 + rng.below(if xp { 350 } else { 1_500 });
                let installed = Day::from_number(
                    Day::parse("2014-06-01").map_or(16_000, |d| d.number())
                        + i32::try_from(rng.below(800)).unwrap_or(0),
                );
                out.push(Kb {
                    number: u32::try_from(number).unwrap_or(0),
                    installed,
                    security: rng.chance(0.6),
                });
            }
        };
        match spec.servicing {
            Servicing::Nt10 { build } => {
                let list = updates.releases(build, spec.server);
                if let Some(i) = updates.release_index(build, spec.server, cutoff) {
                    ubr = list.get(i).map(|r| r.ubr);
                    let from = i.saturating_sub(34);
                    for (k, r) in list.iter().enumerate().take(i + 1).skip(from) {
                        let delay = key(&[self.seed, k as u64]) % 6 + 1;
                        let installed = r.date.add_days(delay as i32);
                        if hotfixes.iter().any(|h: &Kb| h.number == r.kb) {
                            continue;
                        }
                        hotfixes.push(Kb {
                            number: r.kb,
                            installed,
                            security: true,
                        });
                    }
                }
                filler(&mut frng, self.hotfix_fill, false, &mut hotfixes);
            }
            Servicing::Legacy {
                family,
                end,
                esu_end,
            } => {
                let cap = Day::parse(if self.esu { esu_end } else { end }).unwrap_or(cutoff);
                let ms17_release = Day::parse("2017-03-14").unwrap_or(cutoff);
                let limit = if ms17_fixed {
                    cutoff.min(cap)
                } else {
                    ms17_release.add_days(-1)
                };
                let keep = 120usize.saturating_sub(self.hotfix_fill).max(20);
                let real: Vec<_> = updates
                    .legacy(family)
                    .iter()
                    .filter(|k| k.date <= limit && (self.esu || !k.esu))
                    .collect();
                let skip = real.len().saturating_sub(keep);
                for k in real.into_iter().skip(skip) {
                    let delay = key(&[self.seed, u64::from(k.kb)]) % 6 + 1;
                    hotfixes.push(Kb {
                        number: k.kb,
                        installed: k.date.add_days(delay as i32),
                        security: true,
                    });
                }
                if !ms17_fixed && key(&[self.seed, 41]).is_multiple_of(3) {
                    // The April 2017 security-only update: installed, but it
                    // does not contain the MS17-010 fix.
                    let number = if family == "win7_2008r2" {
                        4_015_546
                    } else {
                        4_015_547
                    };
                    hotfixes.push(Kb {
                        number,
                        installed: Day::parse("2017-04-13").unwrap_or(d),
                        security: true,
                    });
                }
                filler(&mut frng, self.hotfix_fill, false, &mut hotfixes);
            }
            Servicing::Xp => {
                if ms17_fixed {
                    let installed = match self.ms17_missing_until {
                        Some(until) if until <= d => until,
                        _ => Day::parse("2017-05-16").unwrap_or(d),
                    };
                    hotfixes.push(Kb {
                        number: 4_012_598,
                        installed,
                        security: true,
                    });
                }
                filler(&mut frng, self.hotfix_fill, true, &mut hotfixes);
            }
            Servicing::None => {}
        }

        let software = self.software_on(d, os_id);
        Snapshot {
            time: self.report_time(d),
            os: os_id,
            ubr,
            hotfixes,
            smb1: self.smb1_on(d),
            ms17_fixed,
            software,
        }
    }

    fn software_on(&self, d: Day, os_id: OsId) -> Vec<Sw> {
        let spec = os::spec(os_id);
        match spec.family {
            Family::Windows => {
                let mut out: Vec<Sw> = self
                    .programs
                    .iter()
                    .map(|i| {
                        let p = i.product;
                        let (name, version) = match p.stale {
                            Some((name, version)) if d < i.stale_until => (name, version),
                            _ => (p.name, p.version),
                        };
                        Sw {
                            name,
                            version,
                            publisher: p.publisher,
                            bundle: "",
                        }
                    })
                    .collect();
                let start = usize::try_from(self.seed % software::DRIVER_PACKAGES.len() as u64)
                    .unwrap_or(0);
                for k in 0..self.drivers {
                    let idx = (start + k * 7) % software::DRIVER_PACKAGES.len();
                    if let Some((name, publisher)) = software::DRIVER_PACKAGES.get(idx) {
                        let version = name
                            .rsplit('(')
                            .next()
                            .map_or("", |v| v.trim_end_matches(')'));
                        if out.iter().any(|s| s.name == *name) {
                            continue;
                        }
                        out.push(Sw {
                            name,
                            version,
                            publisher,
                            bundle: "",
                        });
                    }
                }
                out
            }
            Family::Linux => {
                let col = match spec.key {
                    "ubuntu-22.04" => 0,
                    "ubuntu-24.04" => 1,
                    "debian-12" => 2,
                    "rhel-8" => 3,
                    _ => 4,
                };
                let publisher = match col {
                    0 | 1 => "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>",
                    2 => "Debian Developers",
                    _ => "Red Hat, Inc.",
                };
                software::LINUX
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        // Servers run a web server or a database now and then.
                        !matches!(i, 24 | 25) || key(&[self.seed, *i as u64]).is_multiple_of(4)
                    })
                    .map(|(_, row)| {
                        let version = match col {
                            0 => row.1,
                            1 => row.2,
                            2 => row.3,
                            3 => row.4,
                            _ => row.5,
                        };
                        Sw {
                            name: row.0,
                            version,
                            publisher,
                            bundle: "",
                        }
                    })
                    .collect()
            }
            Family::Macos => software::MACOS
                .iter()
                .enumerate()
                .filter(|(i, _)| key(&[self.seed, *i as u64, 5]) % 10 < 7)
                .map(|(_, (name, bundle, version))| Sw {
                    name,
                    version,
                    publisher: "",
                    bundle,
                })
                .collect(),
        }
    }
}
