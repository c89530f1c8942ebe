//! Windows identification: NT version, build, service pack, server/client,
//! edition channel (Home/Pro, Enterprise/Education, LTSC, IoT, Embedded).

use crate::lifecycle::{
    EditionClass, KnownOs, LifecycleDb, LifecycleRef, OsChannel, OsProduct, put, unknown,
};
use vigie_core::{Evidence, OsFacts, OsFamily};

/// What the inventory tells about a Windows installation, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WinFacts {
    pub major: u32,
    pub minor: u32,
    pub build: Option<u32>,
    pub ubr: Option<u32>,
    pub server: bool,
    pub sp: Option<u8>,
    /// Lowercased name + edition, for keyword tests.
    pub text: String,
    pub lts: bool,
    pub iot: bool,
    pub enterprise: bool,
    /// Where the NT version came from ("os.version", "os.name").
    pub basis: &'static str,
}

impl WinFacts {
    pub(crate) fn nt(&self) -> String {
        match self.build {
            Some(b) => format!("{}.{}.{b}", self.major, self.minor),
            None => format!("{}.{}", self.major, self.minor),
        }
    }
}

/// Product names → NT version, for inventories (and nmap guesses) without a
/// version number. Most specific first.
const NAME_TO_NT: &[(&str, u32, u32, Option<u32>)] = &[
    ("posready 2009", 5, 1, Some(2600)),
    ("embedded standard 2009", 5, 1, Some(2600)),
    ("posready 7", 6, 1, Some(7601)),
    ("embedded standard 7", 6, 1, Some(7601)),
    ("embedded 8.1", 6, 3, Some(9600)),
    ("embedded 8", 6, 2, Some(9200)),
    ("thin pc", 6, 1, Some(7601)),
    ("server 2025", 10, 0, Some(26100)),
    ("server 2022", 10, 0, Some(20348)),
    ("server 2019", 10, 0, Some(17763)),
    ("server 2016", 10, 0, Some(14393)),
    ("server 2012 r2", 6, 3, Some(9600)),
    ("server 2012", 6, 2, Some(9200)),
    ("server 2008 r2", 6, 1, Some(7601)),
    ("server 2008", 6, 0, Some(6002)),
    ("server 2003", 5, 2, Some(3790)),
    ("windows 11", 10, 0, None),
    ("windows 10", 10, 0, None),
    ("windows 8.1", 6, 3, Some(9600)),
    ("windows rt 8.1", 6, 3, Some(9600)),
    ("windows 8", 6, 2, Some(9200)),
    ("windows 7", 6, 1, Some(7601)),
    ("vista", 6, 0, Some(6002)),
    ("windows xp", 5, 1, Some(2600)),
    ("windows 2000", 5, 0, Some(2195)),
];

fn parse_sp(s: &str) -> Option<u8> {
    let lower = s.to_ascii_lowercase();
    let tail = if let Some(p) = lower.find("service pack") {
        &lower[p + "service pack".len()..]
    } else if let Some(p) = lower.find("sp") {
        &lower[p + 2..]
    } else {
        &lower[..]
    };
    let digits: String = tail
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn nums(v: &str) -> Vec<u32> {
    v.trim()
        .split('.')
        .map_while(|p| p.trim().parse::<u32>().ok())
        .collect()
}

pub(crate) fn win_facts(os: &OsFacts, db: &LifecycleDb) -> Option<WinFacts> {
    let text = format!(
        "{} {}",
        os.name.as_deref().unwrap_or(""),
        os.edition.as_deref().unwrap_or("")
    )
    .to_lowercase();
    let sku = db.sku(os.sku);
    let sku_value = sku.map(|s| s.value.as_str()).unwrap_or("");
    let server = text.contains("server")
        || text.contains("serveur")
        || sku_value.contains("SERVER")
        || sku_value == "PRODUCT_HYPERV";
    let sp = os.service_pack.as_deref().and_then(parse_sp).or_else(|| {
        let name = os.name.as_deref().unwrap_or("").to_ascii_lowercase();
        name.contains("service pack")
            .then(|| parse_sp(&name))
            .flatten()
    });
    // SKU names: PRODUCT_ENTERPRISE_S* = Enterprise LTSB/LTSC,
    // PRODUCT_IOTENTERPRISE_S = IoT Enterprise LTSC, PRODUCT_IOTENTERPRISE = IoT Enterprise.
    let sku_lts = sku_value == "PRODUCT_ENTERPRISE_S"
        || sku_value.starts_with("PRODUCT_ENTERPRISE_S_")
        || sku_value == "PRODUCT_IOTENTERPRISE_S"
        || sku_value.starts_with("PRODUCT_IOTENTERPRISE_S_");
    let lts = sku_lts || text.contains("ltsb") || text.contains("ltsc");
    let iot = sku_value.starts_with("PRODUCT_IOTENTERPRISE") || text.contains("iot");
    let enterprise = lts
        || iot
        || [
            "enterprise",
            "entreprise",
            "education",
            "éducation",
            "bildung",
            "educación",
        ]
        .iter()
        .any(|k| text.contains(k))
        || ((sku_value.contains("ENTERPRISE") || sku_value.contains("EDUCATION"))
            && !sku_value.starts_with("PRODUCT_PRO"));

    let version_nums = os.version.as_deref().map(nums).unwrap_or_default();
    let kernel_nums = os.kernel.as_deref().map(nums).unwrap_or_default();
    let (major, minor, mut build, ubr, basis) =
        if version_nums.len() >= 2 && matches!(version_nums[0], 5 | 6 | 10) {
            (
                version_nums[0],
                version_nums[1],
                version_nums.get(2).copied().or(os.build),
                version_nums.get(3).copied(),
                "os.version",
            )
        } else if kernel_nums.len() >= 3 && matches!(kernel_nums[0], 5 | 6 | 10) {
            (
                kernel_nums[0],
                kernel_nums[1],
                Some(kernel_nums[2]).or(os.build),
                kernel_nums.get(3).copied(),
                "os.kernel",
            )
        } else {
            let (_, major, minor, build) = NAME_TO_NT
                .iter()
                .find(|(needle, ..)| text.contains(needle))?;
            let build = os.build.or(*build);
            (*major, *minor, build, None, "os.name")
        };
    // Service pack levels changed the build number on Vista/7/2008.
    if basis == "os.name" {
        build = match (major, minor, sp) {
            (6, 1, Some(0)) => Some(7600),
            (6, 0, Some(0)) if !server => Some(6000),
            (6, 0, Some(1)) | (6, 0, Some(0)) => Some(6001),
            _ => build,
        };
    }
    if major == 10 && build.is_none() {
        build = build_from_display_version(os, &text, db);
    }
    let ubr = if major == 10 { os.ubr.or(ubr) } else { None };
    Some(WinFacts {
        major,
        minor,
        build,
        ubr,
        server,
        sp,
        text,
        lts,
        iot,
        enterprise,
        basis,
    })
}

/// Windows 10/11 without a build: "22H2" + "Windows 11" → 22621.
fn build_from_display_version(os: &OsFacts, text: &str, db: &LifecycleDb) -> Option<u32> {
    let dv = os.display_version.as_deref()?.trim().to_ascii_lowercase();
    let major = if text.contains("windows 11") {
        "11"
    } else if text.contains("windows 10") {
        "10"
    } else {
        return None;
    };
    let windows = db.eol.get("windows")?;
    windows.cycles.iter().find_map(|c| {
        let mut parts = c.cycle.splitn(3, '-');
        (parts.next() == Some(major) && parts.next() == Some(dv.as_str()))
            .then(|| {
                c.latest
                    .as_deref()
                    .map(nums)
                    .and_then(|n| n.get(2).copied())
            })
            .flatten()
    })
}

struct Pick {
    label: String,
    channel: OsChannel,
    lifecycle: LifecycleRef,
    sp: Option<u8>,
}

fn known(
    os: &OsFacts,
    w: &WinFacts,
    mut evidence: Evidence,
    key: &str,
    p: Pick,
    edition: Option<EditionClass>,
) -> OsProduct {
    put(&mut evidence, "windows.nt", w.nt());
    put(&mut evidence, "windows.nt_basis", w.basis);
    put(&mut evidence, "windows.server", w.server.to_string());
    OsProduct::Known(KnownOs {
        key: key.to_string(),
        label: p.label,
        family: OsFamily::Windows,
        channel: Some(p.channel),
        edition,
        service_pack: p.sp,
        build: w.build.or(os.build),
        evidence,
        lifecycle: p.lifecycle,
    })
}

fn sp_label(sp: Option<u8>) -> String {
    match sp {
        Some(0) => " RTM".into(),
        Some(n) => format!(" SP{n}"),
        None => String::new(),
    }
}

pub(crate) fn identify(
    db: &LifecycleDb,
    os: &OsFacts,
    w: &WinFacts,
    mut evidence: Evidence,
) -> OsProduct {
    let t = w.text.as_str();
    let has = |k: &str| t.contains(k);
    let assume_sp = |evidence: &mut Evidence, assumed: u8| {
        put(
            evidence,
            "assumption",
            format!(
                "service pack unknown: SP{assumed} assumed (the latest, longest-supported level)"
            ),
        );
    };
    let legacy =
        |label: String, channel: OsChannel, lifecycle: LifecycleRef, sp: Option<u8>| Pick {
            label,
            channel,
            lifecycle,
            sp,
        };
    let pick: (&'static str, Pick) = match (w.major, w.minor) {
        (5, 0) => (
            "windows-2000",
            legacy(
                "Windows 2000".into(),
                if w.server {
                    OsChannel::Server
                } else {
                    OsChannel::Client
                },
                LifecycleRef::eol("windows-server", "2000", false),
                w.sp,
            ),
        ),
        (5, 1) => {
            if has("posready") {
                (
                    "windows-embedded-posready-2009",
                    legacy(
                        "Windows Embedded POSReady 2009".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-posready-2009"),
                        w.sp,
                    ),
                )
            } else if has("embedded standard 2009") || has("embedded 2009") {
                (
                    "windows-embedded-standard-2009",
                    legacy(
                        "Windows Embedded Standard 2009".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-2009"),
                        w.sp,
                    ),
                )
            } else if has("wepos") || has("point of service") {
                (
                    "windows-embedded-pos",
                    legacy(
                        "Windows Embedded for Point of Service".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-for-point-of-service"),
                        w.sp,
                    ),
                )
            } else if has("embedded") {
                let r = if w.sp == Some(2) {
                    "Service Pack 2"
                } else {
                    "Service Pack 3"
                };
                (
                    "windows-xp-embedded",
                    legacy(
                        format!("Windows XP Embedded{}", sp_label(w.sp)),
                        OsChannel::Embedded,
                        LifecycleRef::ms_release("windows-xp-embedded", r),
                        w.sp,
                    ),
                )
            } else if has("fundamentals") {
                (
                    "windows-fundamentals-legacy-pcs",
                    legacy(
                        "Windows Fundamentals for Legacy PCs".into(),
                        OsChannel::Client,
                        LifecycleRef::ms_extended("windows-fundamentals-for-legacy-pcs"),
                        w.sp,
                    ),
                )
            } else {
                let (lc, sp) = match w.sp {
                    Some(2) => (
                        LifecycleRef::ms_release("windows-xp", "Service Pack 2"),
                        Some(2),
                    ),
                    Some(1) => (
                        LifecycleRef::ms_release("windows-xp", "Service Pack 1"),
                        Some(1),
                    ),
                    Some(0) => (
                        LifecycleRef::ms_release("windows-xp", "Original Release"),
                        Some(0),
                    ),
                    Some(n) => (LifecycleRef::eol("windows", "5-sp3", false), Some(n)),
                    None => {
                        assume_sp(&mut evidence, 3);
                        (LifecycleRef::eol("windows", "5-sp3", false), Some(3))
                    }
                };
                (
                    "windows-xp",
                    legacy(
                        format!("Windows XP{}", sp_label(sp)),
                        OsChannel::Client,
                        lc,
                        sp,
                    ),
                )
            }
        }
        (5, 2) => {
            if has("xp") {
                (
                    "windows-xp",
                    legacy(
                        "Windows XP Professional x64 Edition".into(),
                        OsChannel::Client,
                        LifecycleRef::eol("windows", "5-sp3", false),
                        w.sp,
                    ),
                )
            } else if has("small business") {
                (
                    "windows-sbs-2003",
                    legacy(
                        "Windows Small Business Server 2003".into(),
                        OsChannel::Server,
                        LifecycleRef::ms_extended("microsoft-windows-small-business-server-2003"),
                        w.sp,
                    ),
                )
            } else {
                let r2 = if has("r2") { " R2" } else { "" };
                let (lc, sp) = match w.sp {
                    Some(1) => (
                        LifecycleRef::eol("windows-server", "2003-sp1", false),
                        Some(1),
                    ),
                    Some(0) if r2.is_empty() => {
                        (LifecycleRef::eol("windows-server", "2003", false), Some(0))
                    }
                    Some(0) => (
                        LifecycleRef::ms_release("windows-server-2003-r2", "Original Release"),
                        Some(0),
                    ),
                    Some(n) => (
                        LifecycleRef::eol("windows-server", "2003-sp2", false),
                        Some(n),
                    ),
                    None => {
                        assume_sp(&mut evidence, 2);
                        (
                            LifecycleRef::eol("windows-server", "2003-sp2", false),
                            Some(2),
                        )
                    }
                };
                (
                    "windows-server-2003",
                    legacy(
                        format!("Windows Server 2003{r2}{}", sp_label(sp)),
                        OsChannel::Server,
                        lc,
                        sp,
                    ),
                )
            }
        }
        (6, 0) => {
            let early = w.build.is_some_and(|b| b < 6002) || w.sp.is_some_and(|s| s < 2);
            if w.server {
                if early {
                    (
                        "windows-server-2008",
                        legacy(
                            "Windows Server 2008 (SP1 level)".into(),
                            OsChannel::Server,
                            LifecycleRef::ms_release("windows-server-2008", "Original Release"),
                            Some(1),
                        ),
                    )
                } else {
                    (
                        "windows-server-2008",
                        legacy(
                            "Windows Server 2008 SP2".into(),
                            OsChannel::Server,
                            LifecycleRef::eol("windows-server", "2008-sp2", true),
                            Some(2),
                        ),
                    )
                }
            } else if w.build == Some(6000) || w.sp == Some(0) {
                (
                    "windows-vista",
                    legacy(
                        "Windows Vista RTM".into(),
                        OsChannel::Client,
                        LifecycleRef::ms_release("windows-vista", "Original Release"),
                        Some(0),
                    ),
                )
            } else if early {
                (
                    "windows-vista",
                    legacy(
                        "Windows Vista SP1".into(),
                        OsChannel::Client,
                        LifecycleRef::ms_release("windows-vista", "Service Pack 1"),
                        Some(1),
                    ),
                )
            } else {
                (
                    "windows-vista",
                    legacy(
                        "Windows Vista SP2".into(),
                        OsChannel::Client,
                        LifecycleRef::eol("windows", "6-sp2", false),
                        Some(2),
                    ),
                )
            }
        }
        (6, 1) => {
            let rtm = w.build == Some(7600) || w.sp == Some(0);
            if w.build.is_none() && w.sp.is_none() {
                assume_sp(&mut evidence, 1);
            }
            if has("posready") {
                (
                    "windows-embedded-posready-7",
                    legacy(
                        "Windows Embedded POSReady 7".into(),
                        OsChannel::Embedded,
                        LifecycleRef::eol("windows-embedded", "posready-7", false)
                            .with_ms_esu("windows-embedded-posready-7"),
                        w.sp,
                    ),
                )
            } else if has("embedded") {
                (
                    "windows-embedded-standard-7",
                    legacy(
                        "Windows Embedded Standard 7".into(),
                        OsChannel::Embedded,
                        LifecycleRef::eol("windows-embedded", "standard-7-sp1", false)
                            .with_ms_esu("windows-embedded-standard-7"),
                        w.sp,
                    ),
                )
            } else if has("thin pc") {
                (
                    "windows-thin-pc",
                    legacy(
                        "Windows Thin PC".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-thin-pc"),
                        w.sp,
                    ),
                )
            } else if w.server {
                if rtm {
                    (
                        "windows-server-2008-r2",
                        legacy(
                            "Windows Server 2008 R2 RTM".into(),
                            OsChannel::Server,
                            LifecycleRef::ms_release("windows-server-2008-r2", "Original Release"),
                            Some(0),
                        ),
                    )
                } else {
                    (
                        "windows-server-2008-r2",
                        legacy(
                            "Windows Server 2008 R2 SP1".into(),
                            OsChannel::Server,
                            LifecycleRef::eol("windows-server", "2008-r2-sp1", true),
                            Some(1),
                        ),
                    )
                }
            } else if rtm {
                (
                    "windows-7",
                    legacy(
                        "Windows 7 RTM".into(),
                        OsChannel::Client,
                        LifecycleRef::ms_release("windows-7", "Original Release"),
                        Some(0),
                    ),
                )
            } else {
                (
                    "windows-7",
                    legacy(
                        "Windows 7 SP1".into(),
                        OsChannel::Client,
                        LifecycleRef::eol("windows", "7-sp1", false).with_ms_esu("windows-7"),
                        Some(1),
                    ),
                )
            }
        }
        (6, 2) => {
            if has("embedded") && has("standard") {
                (
                    "windows-embedded-8-standard",
                    legacy(
                        "Windows Embedded 8 Standard".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-8-standard"),
                        None,
                    ),
                )
            } else if has("embedded") && has("industry") {
                (
                    "windows-embedded-8-industry",
                    legacy(
                        "Windows Embedded 8 Industry".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-8-industry"),
                        None,
                    ),
                )
            } else if has("embedded") {
                (
                    "windows-embedded-8",
                    legacy(
                        "Windows Embedded 8".into(),
                        OsChannel::Embedded,
                        LifecycleRef::ms_extended("windows-embedded-8"),
                        None,
                    ),
                )
            } else if w.server {
                (
                    "windows-server-2012",
                    legacy(
                        "Windows Server 2012".into(),
                        OsChannel::Server,
                        LifecycleRef::eol("windows-server", "2012", true),
                        None,
                    ),
                )
            } else {
                (
                    "windows-8",
                    legacy(
                        "Windows 8".into(),
                        OsChannel::Client,
                        LifecycleRef::eol("windows", "8", false),
                        None,
                    ),
                )
            }
        }
        (6, 3) => {
            if has("embedded") && has("industry") {
                (
                    "windows-embedded-8.1-industry",
                    legacy(
                        "Windows Embedded 8.1 Industry".into(),
                        OsChannel::Embedded,
                        LifecycleRef::eol("windows-embedded", "8.1-industry", false),
                        None,
                    ),
                )
            } else if has("embedded") {
                (
                    "windows-embedded-8.1-pro",
                    legacy(
                        "Windows Embedded 8.1 Pro".into(),
                        OsChannel::Embedded,
                        LifecycleRef::eol("windows-embedded", "8.1-pro", false),
                        None,
                    ),
                )
            } else if w.server {
                (
                    "windows-server-2012-r2",
                    legacy(
                        "Windows Server 2012 R2".into(),
                        OsChannel::Server,
                        LifecycleRef::eol("windows-server", "2012-r2", true),
                        None,
                    ),
                )
            } else {
                let label = if has(" rt") {
                    "Windows RT 8.1"
                } else {
                    "Windows 8.1"
                };
                (
                    "windows-8.1",
                    legacy(
                        label.into(),
                        OsChannel::Client,
                        LifecycleRef::eol("windows", "8.1", false),
                        None,
                    ),
                )
            }
        }
        (10, 0) => return identify_nt10(db, w, evidence),
        _ => {
            return unknown(
                format!("windows nt {} not in the lifecycle data", w.nt()),
                evidence,
            );
        }
    };
    let (key, p) = pick;
    known(os, w, evidence, key, p, None)
}

fn latest_build(latest: Option<&str>) -> Option<u32> {
    latest.map(nums).and_then(|n| n.get(2).copied())
}

/// Long-term servicing release names by build.
fn ltsc_name(build: u32) -> Option<&'static str> {
    match build {
        10240 => Some("2015 LTSB"),
        14393 => Some("2016 LTSB"),
        17763 => Some("LTSC 2019"),
        19044 => Some("LTSC 2021"),
        26100 => Some("LTSC 2024"),
        _ => None,
    }
}

fn identify_nt10(db: &LifecycleDb, w: &WinFacts, mut evidence: Evidence) -> OsProduct {
    let Some(build) = w.build else {
        return unknown(
            "windows 10/11 version unknown: no build number or display version",
            evidence,
        );
    };
    put(&mut evidence, "windows.nt", w.nt());
    put(&mut evidence, "windows.nt_basis", w.basis);
    put(&mut evidence, "windows.server", w.server.to_string());
    if w.server {
        let Some(servers) = db.eol.get("windows-server") else {
            return unknown("no windows server lifecycle data", evidence);
        };
        let wants_sac = w.text.contains("semi-annual")
            || w.text.contains(" sac")
            || w.text.contains("annual channel");
        let mut cands: Vec<_> = servers
            .cycles
            .iter()
            .filter(|c| latest_build(c.latest.as_deref()) == Some(build))
            .collect();
        // LTSC releases are plain years ("2019"); channels carry a suffix ("1809-sac").
        cands.sort_by_key(|c| c.cycle.contains('-') != wants_sac);
        let Some(c) = cands.first() else {
            return unknown(
                format!("windows server build {build} not in the lifecycle data"),
                evidence,
            );
        };
        return OsProduct::Known(KnownOs {
            key: format!("windows-server-{}", c.cycle),
            label: c.label.clone(),
            family: OsFamily::Windows,
            channel: Some(OsChannel::Server),
            edition: None,
            service_pack: None,
            build: Some(build),
            evidence,
            lifecycle: LifecycleRef::eol("windows-server", &c.cycle, true),
        });
    }
    let Some(windows) = db.eol.get("windows") else {
        return unknown("no windows lifecycle data", evidence);
    };
    let major = if build >= 22000 { "11" } else { "10" };
    // (version, suffix, cycle id) of the endoflife.date cycles for this build:
    // suffix "" (all editions), "w" (Home/Pro), "e" (Enterprise/Education),
    // "e-lts" (LTSB/LTSC), "iot-lts" (IoT Enterprise LTSC), "iot" (IoT Core: not used).
    let cands: Vec<(String, String, &str)> = windows
        .cycles
        .iter()
        .filter(|c| latest_build(c.latest.as_deref()) == Some(build))
        .filter_map(|c| {
            let mut parts = c.cycle.splitn(3, '-');
            let m = parts.next()?;
            let version = parts.next()?;
            (m == major).then(|| {
                (
                    version.to_string(),
                    parts.next().unwrap_or("").to_string(),
                    c.cycle.as_str(),
                )
            })
        })
        .collect();
    if cands.is_empty() {
        return unknown(
            format!("windows build 10.0.{build} not in the lifecycle data"),
            evidence,
        );
    }
    let preference: &[&str] = if w.iot && w.lts {
        &["iot-lts", "e-lts", "e", ""]
    } else if w.lts {
        &["e-lts", "e", ""]
    } else if w.enterprise {
        &["e", ""]
    } else {
        &["w", ""]
    };
    let Some((version, suffix, cycle)) = preference
        .iter()
        .find_map(|p| cands.iter().find(|(_, s, _)| s == p))
        .cloned()
    else {
        return unknown(
            format!("no lifecycle cycle for windows build 10.0.{build} and this edition"),
            evidence,
        );
    };
    if suffix != preference[0] && !(preference[0] == "w" && suffix.is_empty()) {
        put(
            &mut evidence,
            "assumption",
            format!(
                "no {} release for build {build}: using cycle {cycle}",
                preference[0]
            ),
        );
    }
    let split = cands.iter().any(|(_, s, _)| s == "w" || s == "e");
    if !w.enterprise && split {
        put(
            &mut evidence,
            "assumption",
            "edition unknown or home/pro: home/pro servicing dates used (earlier than enterprise/education)",
        );
    }
    let edition = match suffix.as_str() {
        "w" => Some(EditionClass::HomePro),
        "e" | "e-lts" | "iot-lts" => Some(EditionClass::EnterpriseEducation),
        _ if w.enterprise => Some(EditionClass::EnterpriseEducation),
        _ => None,
    };
    let version_label = version.to_uppercase();
    let (channel, label) = match suffix.as_str() {
        "iot-lts" => (
            OsChannel::Iot,
            format!(
                "Windows {major} IoT Enterprise {}",
                ltsc_name(build).unwrap_or("LTSC")
            ),
        ),
        "e-lts" if w.iot => (
            OsChannel::Iot,
            format!(
                "Windows {major} IoT Enterprise {}",
                ltsc_name(build).unwrap_or("LTSC")
            ),
        ),
        "e-lts" => (
            OsChannel::Ltsc,
            format!(
                "Windows {major} Enterprise {}",
                ltsc_name(build).unwrap_or("LTSC")
            ),
        ),
        "e" => (
            if w.iot {
                OsChannel::Iot
            } else {
                OsChannel::Client
            },
            format!("Windows {major} {version_label} Enterprise/Education"),
        ),
        "w" => (
            OsChannel::Client,
            format!("Windows {major} {version_label} Home/Pro"),
        ),
        _ => (
            if w.iot {
                OsChannel::Iot
            } else {
                OsChannel::Client
            },
            format!("Windows {major} {version_label}"),
        ),
    };
    put(&mut evidence, "lifecycle.cycle", format!("windows {cycle}"));
    OsProduct::Known(KnownOs {
        key: format!("windows-{major}-{version}"),
        label,
        family: OsFamily::Windows,
        channel: Some(channel),
        edition,
        service_pack: None,
        build: Some(build),
        evidence,
        lifecycle: LifecycleRef::eol("windows", cycle, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_pack_text() {
        assert_eq!(parse_sp("Service Pack 3"), Some(3));
        assert_eq!(parse_sp("SP1"), Some(1));
        assert_eq!(parse_sp("2"), Some(2));
        assert_eq!(parse_sp("none"), None);
    }
}
