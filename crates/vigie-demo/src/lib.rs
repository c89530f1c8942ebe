//! A realistic synthetic health sector, written as real inventory files.
//!
//! `vigie demo` needs data that looks like a real sector: real organisations,
//! believable fleets, the formats real agents write, and a history in which
//! things improve the way they do in a migration programme. This crate
//! builds that from real public registries and real Windows update data.
//!
//! # What is modelled
//!
//! **Organisations** come from the national registries, embedded from
//! `data/registries/` (see the READMEs there for provenance and licences):
//!
//! * *England* — the 7 NHS England regions (codes `Y56`…`Y63`), the 202 open
//!   English NHS trusts of the ODS `etr` file and the 6,220 active English GP
//!   practices (prescribing setting 4) of `epraccur`. The parent of each
//!   establishment is its ICB. Trust kinds are read from the name
//!   (`AMBULANCE` → ambulance; `MENTAL HEALTH`, `PARTNERSHIP` and a short list
//!   of mental-health trusts whose names do not say so → mental-health;
//!   `COMMUNITY`, `HEALTH AND CARE` → community; otherwise acute).
//! * *France* — the 18 regions (INSEE codes, e.g. `84`) and the 3,974 FINESS
//!   hospital establishments, parent = département. Kinds and sizes come
//!   from the name: CHU/CHR/AP-HP → large acute; CH/CHI → acute; CHS, EPSM,
//!   "psychiatr…" → mental-health; CLINIQUE/POLYCLINIQUE, SSR/SMR → clinic;
//!   HAD → community; USLD → care-home; dialysis units → other.
//!
//! **Fleet sizes** at scale 1 (drawn per establishment, deterministic):
//!
//! | establishments | machines each |
//! | --- | --- |
//! | NHS acute trust | 4,000–14,000 (+15 % university/teaching; specialist 2,500–5,000) |
//! | NHS mental-health trust | 1,500–4,000 |
//! | NHS community trust | 1,000–3,000 |
//! | NHS ambulance trust | 800–2,000 |
//! | GP practice | 8–45 |
//! | CHU / CHR site (France) | 800–6,000 (log-uniform, as all French ranges) |
//! | CH / CHI | 120–1,800 |
//! | CHS / EPSM (public psychiatry) | 300–1,500 |
//! | private clinic | 80–600 |
//! | SSR / HAD / USLD / dialysis / SMUR | 8–200 |
//!
//! At scale 1, England totals 1,543,956 machines (1,379,943 in 202 trusts,
//! 164,013 in 6,220 practices) and France 1,420,709 (3,974 establishments),
//! with seed 42 (other seeds differ by a few percent). `scale`
//! multiplies every fleet.
//! When a scaled fleet falls below a floor (3 machines for practices and
//! small sites, 8 for trusts and hospitals), the establishment is kept with
//! probability `expected / floor` at the floor size, so expected totals hold
//! and small-scale demos keep every trust but only a sample of practices.
//! [`Sector::establishments`] lists the kept establishments only.
//!
//! **Machines**: workstations (`RX1-WS000123`), laptops (`-LT`), medical
//! device PCs (`-MD`), Windows servers (`-SRV0042`), Linux servers
//! (`rx1-lnx0007`), a few Macs and Ubuntu desktops. Each establishment has
//! one `PREFIX-*` hostname pattern and one subnet of 10.0.0.0/8 sized to its
//! fleet. About 3 % of machines carry names no pattern matches (`DESKTOP-…`,
//! `WIN-…`, `XRAY-CONSOLE-…`) and no tag: only their address attributes
//! them. About 0.3 % are unattributable (`DESKTOP-…` on 192.168.x.x, no
//! tag): vigie must leave them unassigned.
//!
//! **Operating systems** (2026): Windows 10 22H2 is the majority, Windows 11
//! 23H2/24H2 grows, LTSB 2016 / LTSC 2019 / LTSC 2021 / IoT LTSC 2021 run on
//! devices, a tail of Windows XP SP3, 7 SP1 and 8.1 survives (mostly on
//! medical devices), servers run 2008 R2 to 2022, plus Ubuntu 22.04/24.04,
//! RHEL 8/9, Debian 12 and macOS 14/15. NT versions and builds are the real
//! ones; UBRs and KB numbers come from the real Windows 10/11 update history
//! and the real Windows 7/8.1 rollup lists (`data/`): a machine's UBR is the
//! newest release out `lag` days before the observation, with lag mostly
//! under 30 days and a tail of 60–400 days. Windows 7 / 2008 R2 / XP
//! machines lacking MS17-010 have no update released on or after
//! 2017-03-14 (some have the April 2017 security-only KB4015546, which does
//! not fix it). SMBv1 is on by default on XP/7/8.1/2008 R2/2012 R2, and
//! enabled as an optional feature on a few newer machines.
//!
//! **Software**: 60–140 programs per Windows workstation (40–90 on servers
//! and devices) from a catalogue of real products and publishers, invented
//! clinical applications, and driver packages. Some machines keep a
//! KEV-listed old release (Chrome 120.0.6099.71, Firefox 131.0, Acrobat
//! Reader DC 19.010.20069, 7-Zip 24.08, WinRAR 6.02, Java 8u201, Tomcat
//! 9.0.116) until their fix day.
//!
//! **History**: the files cover `days` days ending on `end`. Machines
//! report every 1–7 days (per machine). A migration is under way at a pace
//! per establishment and region: Windows 10 and 11 23H2 move to 11 24H2,
//! XP/7/8.1 desktops are re-imaged to 11 24H2, some 7/XP devices to IoT
//! LTSC, 2008 R2/2012 R2 servers to 2022; MS17-010 gaps get fixed, SMBv1 is
//! switched off, stale programs are updated and patch lag shrinks. A few
//! machines are commissioned or decommissioned during the window. A machine
//! keeps its hostname, serial and UUID across days and sources (upgrades are
//! in place).
//!
//! **Formats** (per establishment, deterministic), under
//! `out_dir/<day>/<dir>/`:
//!
//! | dir | format | who | file |
//! | --- | --- | --- | --- |
//! | `osquery` | osquery results log | ~50 % of trusts, some practices, ~25 % of French sites | one per ICB (France: region) per day; snapshots on a host's first report, differential results after |
//! | `glpi` | GLPI Agent JSON | smaller trusts and French sites | one per machine per inventory (every 3–7 days) |
//! | `fusion` | FusionInventory XML | same | same |
//! | `ocs` | OCS Inventory NG XML | same | same |
//! | `csv` | ConfigMgr report (`"Computer Name",…,"Installed KBs","Site Code","Last Hardware Scan",…`) | ~36 % of trusts | one per trust per week, one row per (device, third-party program) |
//! | `csv` | Intune devices + discovered apps (`Device name,…,Last check-in,Application,…`) | ~90 % of practices | one per region (the GP IT provider) per day |
//! | `csv` | GLPI computer list (`Nom;Numéro de série;…;Entité;Dernier inventaire;Correctifs;Logiciel;…`) | ~45 % of French sites | one per site per week |
//! | `nmap` | nmap XML, SMB scripts | ~40 % of trusts, some French sites | one per subnet per week, in the evening |
//!
//! Observation times are inside the files (osquery `unixTime`, GLPI/Fusion
//! `logdate` with the time-zone offset, OCS `LOGDATE` in UTC, nmap
//! `starttime`, CSV last-scan/check-in columns in UTC). Establishment tags
//! are the osquery `establishment` decoration, GLPI `tag`, Fusion/OCS
//! `ACCOUNTINFO` TAG, and the CSV site/entity columns.
//!
//! At England scale 0.003 over 30 days (≈ 4,650 machines, 364
//! establishments) the demo writes about 3,000 files, 66,000 host
//! observations and 190 MB in under 3 s (release build, 2 cores).
//!
//! # Assumptions and limits
//!
//! * Update data ends in August 2026: for `end` dates much later, every
//!   machine looks behind on patches (the demo cannot invent builds).
//! * Times are UTC, except GLPI/Fusion documents, which carry local time
//!   and their offset (Europe/London or Europe/Paris).
//! * Weekly CSV reports carry each machine's last scan of the past week, so
//!   some rows were observed days before the file's day (as real reports).
//!
//! Generation is deterministic for a seed, streams (memory stays flat) and
//! runs in parallel with rayon.

mod fleet;
mod generate;
mod os;
mod rng;
mod sector;
mod software;
mod updates;
mod write;

pub use sector::{Agent, Sector, Site};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use vigie_core::{Day, EstablishmentCode};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo settings: {0}")]
    Spec(String),
    #[error("registry data: {0}")]
    Registry(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write error: {0}")]
    Write(#[from] std::io::Error),
}

impl DemoError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DemoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Which country's registries the sector is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    England,
    France,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::England => "england",
            Profile::France => "france",
        }
    }
}

impl FromStr for Profile {
    type Err = DemoError;
    fn from_str(s: &str) -> Result<Self, DemoError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "england" | "en" | "uk" | "nhs" => Ok(Profile::England),
            "france" | "fr" => Ok(Profile::France),
            other => Err(DemoError::Spec(format!(
                "unknown profile {other:?}; expected england or france"
            ))),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSpec {
    pub profile: Profile,
    /// Multiplies every fleet size (1.0 ≈ 1.5 M machines for England).
    pub scale: f64,
    /// Days of history, ending on `end` (inclusive).
    pub days: u32,
    pub end: Day,
    pub seed: u64,
}

impl DemoSpec {
    /// The first day of the history.
    pub fn start(&self) -> Day {
        self.end
            .add_days(1 - i32::try_from(self.days.max(1)).unwrap_or(i32::MAX))
    }
}

/// One file written by [`write_inventories`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFile {
    pub path: PathBuf,
    /// The day the file was produced (its observations are from that day or,
    /// for weekly reports, the six days before).
    pub day: Day,
    /// The format name as `vigie_inventory::Format::as_str` spells it.
    pub format: &'static str,
    /// Host observations in the file.
    pub hosts: u64,
}

/// The org directory from the registries, with a fleet per establishment.
pub fn sector(spec: &DemoSpec) -> Result<Sector, DemoError> {
    sector::build(spec)
}

/// Writes the org directory as the CSV `vigie org import` reads:
/// `code,name,kind,region,parent,hostname_patterns,subnets,region_name`.
pub fn write_org_csv(sector: &Sector, w: impl Write) -> Result<(), DemoError> {
    let mut csv = csv::Writer::from_writer(w);
    let err = |e: csv::Error| DemoError::Write(std::io::Error::other(e.to_string()));
    csv.write_record([
        "code",
        "name",
        "kind",
        "region",
        "parent",
        "hostname_patterns",
        "subnets",
        "region_name",
    ])
    .map_err(err)?;
    for e in &sector.establishments {
        let region_name = sector
            .regions
            .iter()
            .find(|r| r.code == e.region)
            .map_or("", |r| r.name.as_str());
        let subnets: Vec<String> = e.subnets.iter().map(ToString::to_string).collect();
        csv.write_record([
            e.code.as_str(),
            e.name.as_str(),
            e.kind.as_str(),
            e.region.as_str(),
            e.parent.as_deref().unwrap_or(""),
            e.hostname_patterns.join(";").as_str(),
            subnets.join(";").as_str(),
            region_name,
        ])
        .map_err(err)?;
    }
    csv.flush()?;
    Ok(())
}

/// Writes the history as inventory files under `out_dir/<day>/<format>/`,
/// in parallel. `progress` is called after each file with the number of
/// host observations it holds (add them up for a running total). Returns
/// the files in ingest order: by day, nmap scans (evening) last.
pub fn write_inventories(
    spec: &DemoSpec,
    sector: &Sector,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<DemoFile>, DemoError> {
    if sector.profile != spec.profile {
        return Err(DemoError::Spec(
            "the sector was built for another profile".into(),
        ));
    }
    generate::write_all(spec, sector, out_dir, progress)
}

/// For benchmarks: `hosts` Windows machines as osquery snapshot JSON lines
/// (`os_version`, `system_info`, `patches` with `hotfixes_per_host` rows,
/// `programs` with `programs_per_host` rows), attributed through an
/// `establishment` decoration cycling over `establishments`, observed on
/// `day`. Streams host by host; returns the bytes written.
pub fn write_osquery_fleet(
    w: impl Write,
    hosts: u64,
    establishments: &[EstablishmentCode],
    programs_per_host: usize,
    hotfixes_per_host: usize,
    day: Day,
    seed: u64,
) -> Result<u64, DemoError> {
    bench::write_osquery_fleet(
        w,
        hosts,
        establishments,
        programs_per_host,
        hotfixes_per_host,
        day,
        seed,
    )
}

mod bench;

#[cfg(test)]
mod tests;
