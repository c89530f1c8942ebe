//! The operating systems the demo fleet runs, with the exact strings each
//! agent prints for them.

/// Index into [`OSES`].
pub(crate) type OsId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Windows,
    Linux,
    Macos,
}

/// How a Windows OS is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Servicing {
    /// NT 10: cumulative updates of one build (UBR table).
    Nt10 {
        build: u32,
    },
    /// Windows 7 / 8.1 / 2008 R2 / 2012 R2: rollups of a family, the last
    /// date without and with extended security updates.
    Legacy {
        family: &'static str,
        end: &'static str,
        esu_end: &'static str,
    },
    /// Windows XP: only the MS17-010 emergency update.
    Xp,
    None,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OsSpec {
    pub key: &'static str,
    pub family: Family,
    /// Product name as WMI Caption / GLPI full_name prints it.
    pub name: &'static str,
    /// NT version without UBR ("10.0.19045"), or the release ("22.04").
    pub version: &'static str,
    /// Display version ("22H2") or the long release string for Linux.
    pub display: &'static str,
    pub service_pack: &'static str,
    pub server: bool,
    pub servicing: Servicing,
    /// What nmap's smb-os-discovery prints (SMBv1 hosts only).
    pub smb_os: &'static str,
    pub lanmanager: &'static str,
    /// Kernel for Linux/macOS ("5.15.0-119-generic").
    pub kernel: &'static str,
    /// Build string for macOS / codename for Linux.
    pub codename: &'static str,
    /// Whether SMB1 is on by default.
    pub smb1_default: bool,
}

#[allow(clippy::too_many_arguments)] // a table row
const fn win(
    key: &'static str,
    name: &'static str,
    version: &'static str,
    display: &'static str,
    service_pack: &'static str,
    server: bool,
    servicing: Servicing,
    smb_os: &'static str,
    lanmanager: &'static str,
    smb1_default: bool,
) -> OsSpec {
    OsSpec {
        key,
        family: Family::Windows,
        name,
        version,
        display,
        service_pack,
        server,
        servicing,
        smb_os,
        lanmanager,
        kernel: "",
        codename: "",
        smb1_default,
    }
}

const fn unix(
    key: &'static str,
    family: Family,
    name: &'static str,
    version: &'static str,
    display: &'static str,
    kernel: &'static str,
    codename: &'static str,
) -> OsSpec {
    OsSpec {
        key,
        family,
        name,
        version,
        display,
        service_pack: "",
        server: false,
        servicing: Servicing::None,
        smb_os: "",
        lanmanager: "",
        kernel,
        codename,
        smb1_default: false,
    }
}

pub(crate) const XP: OsId = 0;
pub(crate) const W7: OsId = 1;
pub(crate) const W81: OsId = 2;
pub(crate) const W10_1607: OsId = 3;
pub(crate) const W10_1809: OsId = 4;
pub(crate) const W10_LTSC21: OsId = 5;
pub(crate) const W10_IOT21: OsId = 6;
pub(crate) const W10_22H2: OsId = 7;
pub(crate) const W11_23H2: OsId = 8;
pub(crate) const W11_24H2: OsId = 9;
pub(crate) const S2008R2: OsId = 10;
pub(crate) const S2012R2: OsId = 11;
pub(crate) const S2016: OsId = 12;
pub(crate) const S2019: OsId = 13;
pub(crate) const S2022: OsId = 14;
pub(crate) const UBUNTU2204: OsId = 15;
pub(crate) const UBUNTU2404: OsId = 16;
pub(crate) const RHEL8: OsId = 17;
pub(crate) const RHEL9: OsId = 18;
pub(crate) const DEBIAN12: OsId = 19;
pub(crate) const MACOS14: OsId = 20;
pub(crate) const MACOS15: OsId = 21;

const W7_FAMILY: Servicing = Servicing::Legacy {
    family: "win7_2008r2",
    end: "2020-01-14",
    esu_end: "2023-01-10",
};
const S2008R2_FAMILY: Servicing = Servicing::Legacy {
    family: "win7_2008r2",
    end: "2020-01-14",
    esu_end: "2026-01-13",
};
const W81_FAMILY: Servicing = Servicing::Legacy {
    family: "win81_2012r2",
    end: "2023-01-10",
    esu_end: "2023-01-10",
};
const S2012R2_FAMILY: Servicing = Servicing::Legacy {
    family: "win81_2012r2",
    end: "2023-10-10",
    esu_end: "2026-06-09",
};

pub(crate) const OSES: [OsSpec; 22] = [
    win(
        "windows-xp-sp3",
        "Microsoft Windows XP Professional",
        "5.1.2600",
        "",
        "Service Pack 3",
        false,
        Servicing::Xp,
        "Windows XP (Windows 2000 LAN Manager)",
        "Windows 2000 LAN Manager",
        true,
    ),
    win(
        "windows-7-sp1",
        "Microsoft Windows 7 Enterprise",
        "6.1.7601",
        "",
        "Service Pack 1",
        false,
        W7_FAMILY,
        "Windows 7 Enterprise 7601 Service Pack 1",
        "Windows 7 Enterprise 6.1",
        true,
    ),
    win(
        "windows-8.1",
        "Microsoft Windows 8.1 Pro",
        "6.3.9600",
        "",
        "",
        false,
        W81_FAMILY,
        "Windows 8.1 Pro 9600",
        "Windows 8.1 Pro 6.3",
        true,
    ),
    win(
        "windows-10-1607-ltsb",
        "Microsoft Windows 10 Enterprise 2016 LTSB",
        "10.0.14393",
        "1607",
        "",
        false,
        Servicing::Nt10 { build: 14393 },
        "Windows 10 Enterprise 2016 LTSB 14393",
        "Windows 10 Enterprise 2016 LTSB 6.3",
        false,
    ),
    win(
        "windows-10-1809-ltsc",
        "Microsoft Windows 10 Enterprise LTSC 2019",
        "10.0.17763",
        "1809",
        "",
        false,
        Servicing::Nt10 { build: 17763 },
        "Windows 10 Enterprise LTSC 2019 17763",
        "Windows 10 Enterprise LTSC 2019 6.3",
        false,
    ),
    win(
        "windows-10-21h2-ltsc",
        "Microsoft Windows 10 Enterprise LTSC",
        "10.0.19044",
        "21H2",
        "",
        false,
        Servicing::Nt10 { build: 19044 },
        "Windows 10 Enterprise LTSC 2021 19044",
        "Windows 10 Enterprise LTSC 2021 6.3",
        false,
    ),
    win(
        "windows-10-iot-ltsc-2021",
        "Microsoft Windows 10 IoT Enterprise LTSC",
        "10.0.19044",
        "21H2",
        "",
        false,
        Servicing::Nt10 { build: 19044 },
        "Windows 10 IoT Enterprise LTSC 2021 19044",
        "Windows 10 IoT Enterprise LTSC 2021 6.3",
        false,
    ),
    win(
        "windows-10-22h2",
        "Microsoft Windows 10 Enterprise",
        "10.0.19045",
        "22H2",
        "",
        false,
        Servicing::Nt10 { build: 19045 },
        "Windows 10 Enterprise 19045",
        "Windows 10 Enterprise 6.3",
        false,
    ),
    win(
        "windows-11-23h2",
        "Microsoft Windows 11 Enterprise",
        "10.0.22631",
        "23H2",
        "",
        false,
        Servicing::Nt10 { build: 22631 },
        "Windows 11 Enterprise 22631",
        "Windows 11 Enterprise 6.3",
        false,
    ),
    win(
        "windows-11-24h2",
        "Microsoft Windows 11 Enterprise",
        "10.0.26100",
        "24H2",
        "",
        false,
        Servicing::Nt10 { build: 26100 },
        "Windows 11 Enterprise 26100",
        "Windows 11 Enterprise 6.3",
        false,
    ),
    win(
        "windows-server-2008-r2",
        "Microsoft Windows Server 2008 R2 Standard",
        "6.1.7601",
        "",
        "Service Pack 1",
        true,
        S2008R2_FAMILY,
        "Windows Server 2008 R2 Standard 7601 Service Pack 1",
        "Windows Server 2008 R2 Standard 6.1",
        true,
    ),
    win(
        "windows-server-2012-r2",
        "Microsoft Windows Server 2012 R2 Standard",
        "6.3.9600",
        "",
        "",
        true,
        S2012R2_FAMILY,
        "Windows Server 2012 R2 Standard 9600",
        "Windows Server 2012 R2 Standard 6.3",
        true,
    ),
    win(
        "windows-server-2016",
        "Microsoft Windows Server 2016 Standard",
        "10.0.14393",
        "1607",
        "",
        true,
        Servicing::Nt10 { build: 14393 },
        "Windows Server 2016 Standard 14393",
        "Windows Server 2016 Standard 6.3",
        false,
    ),
    win(
        "windows-server-2019",
        "Microsoft Windows Server 2019 Standard",
        "10.0.17763",
        "1809",
        "",
        true,
        Servicing::Nt10 { build: 17763 },
        "Windows Server 2019 Standard 17763",
        "Windows Server 2019 Standard 6.3",
        false,
    ),
    win(
        "windows-server-2022",
        "Microsoft Windows Server 2022 Standard",
        "10.0.20348",
        "21H2",
        "",
        true,
        Servicing::Nt10 { build: 20348 },
        "Windows Server 2022 Standard 20348",
        "Windows Server 2022 Standard 6.3",
        false,
    ),
    unix(
        "ubuntu-22.04",
        Family::Linux,
        "Ubuntu",
        "22.04",
        "22.04.5 LTS (Jammy Jellyfish)",
        "5.15.0-153-generic",
        "jammy",
    ),
    unix(
        "ubuntu-24.04",
        Family::Linux,
        "Ubuntu",
        "24.04",
        "24.04.3 LTS (Noble Numbat)",
        "6.8.0-79-generic",
        "noble",
    ),
    unix(
        "rhel-8",
        Family::Linux,
        "Red Hat Enterprise Linux",
        "8.10",
        "8.10 (Ootpa)",
        "4.18.0-553.72.1.el8_10.x86_64",
        "ootpa",
    ),
    unix(
        "rhel-9",
        Family::Linux,
        "Red Hat Enterprise Linux",
        "9.6",
        "9.6 (Plow)",
        "5.14.0-570.39.1.el9_6.x86_64",
        "plow",
    ),
    unix(
        "debian-12",
        Family::Linux,
        "Debian GNU/Linux",
        "12",
        "12 (bookworm)",
        "6.1.0-38-amd64",
        "bookworm",
    ),
    unix(
        "macos-14",
        Family::Macos,
        "macOS",
        "14.7.8",
        "14.7.8",
        "23.6.0",
        "23H730",
    ),
    unix(
        "macos-15",
        Family::Macos,
        "macOS",
        "15.6.1",
        "15.6.1",
        "24.6.0",
        "24G90",
    ),
];

pub(crate) fn spec(id: OsId) -> &'static OsSpec {
    OSES.get(id).unwrap_or(&OSES[W10_22H2])
}

impl OsSpec {
    pub(crate) fn is_windows(&self) -> bool {
        self.family == Family::Windows
    }

    /// The Windows product name with the edition an organisation buys:
    /// GP practices and small clinics run Pro rather than Enterprise.
    pub(crate) fn product_name(&self, pro: bool) -> String {
        if pro && !self.server && self.name.ends_with(" Enterprise") {
            format!("{} Pro", self.name.trim_end_matches(" Enterprise"))
        } else {
            self.name.to_string()
        }
    }

    /// RHEL-style or Debian-style packages.
    pub(crate) fn is_rpm(&self) -> bool {
        self.key.starts_with("rhel")
    }

    /// "6.1", "10.0": the NT major.minor.
    pub(crate) fn nt_major_minor(&self) -> &'static str {
        match self.version.rfind('.') {
            Some(i) => self.version.get(..i).unwrap_or(self.version),
            None => self.version,
        }
    }

    /// NT build number.
    pub(crate) fn nt_build(&self) -> &'static str {
        match self.version.rfind('.') {
            Some(i) => self.version.get(i + 1..).unwrap_or(""),
            None => "",
        }
    }

    /// Whether MS17-010 applies at all (pre-Windows 10 1703 with SMBv1 server).
    pub(crate) fn ms17_affected(&self) -> bool {
        matches!(self.servicing, Servicing::Xp | Servicing::Legacy { .. })
            || matches!(self.servicing, Servicing::Nt10 { build } if build < 15063)
    }
}
