//! Property tests: verdicts never panic on arbitrary facts, and an
//! unrecognised OS is never reported as supported.

mod common;

use proptest::prelude::*;
use vigie_core::{Day, Feature, HostFacts, Hotfix, NetworkFacts, OsFacts, OsFamily, Software};
use vigie_kb::{LifecycleStatus, OsProduct};

fn family() -> impl Strategy<Value = OsFamily> {
    prop_oneof![
        Just(OsFamily::Windows),
        Just(OsFamily::Linux),
        Just(OsFamily::Macos),
        Just(OsFamily::Bsd),
        Just(OsFamily::Other)
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[ -~]{0,24}".prop_map(Some),
        prop_oneof![
            Just("Microsoft Windows 10 Enterprise LTSC"),
            Just("Windows Server 2008 R2"),
            Just("Windows XP"),
            Just("Ubuntu 22.04"),
            Just("Debian GNU/Linux 12 (bookworm)"),
            Just("SUSE Linux Enterprise Server 15 SP5"),
            Just("macOS"),
            Just("Windows Embedded POSReady 7"),
            Just("IoT Enterprise LTSC"),
        ]
        .prop_map(|s| Some(s.to_string())),
    ]
}

fn version() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[0-9]{1,5}(\\.[0-9]{1,6}){0,4}".prop_map(Some),
        "[ -~]{0,12}".prop_map(Some)
    ]
}

prop_compose! {
    fn os_facts()(family in family(), name in text(), version in version(), build in proptest::option::of(0u32..40_000),
                  ubr in proptest::option::of(0u32..40_000), sp in text(), dv in text(), edition in text(),
                  sku in proptest::option::of(0u32..300), kernel in version()) -> OsFacts {
        OsFacts { family, name, version, build, ubr, service_pack: sp, display_version: dv, edition, sku, arch: None, kernel }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn os_verdicts_never_panic(os in os_facts(), day in 10_000i32..25_000,
                               kbs in proptest::collection::vec("KB[0-9]{6,7}", 0..4),
                               features in proptest::option::of(proptest::collection::vec(("[A-Za-z0-9-]{1,20}", any::<bool>()), 0..3)),
                               offered in proptest::option::of(any::<bool>()), vulnerable in proptest::option::of(any::<bool>())) {
        let kb = common::kb();
        let on = Day::from_number(day);
        let product = kb.identify_os(&os);
        let verdict = kb.lifecycle(&os, on);
        if let OsProduct::Unknown { .. } = product {
            let unknown = matches!(verdict.status, LifecycleStatus::Unknown { .. });
            prop_assert!(unknown, "unknown os reported as {:?}", verdict.status);
        }
        match verdict.status {
            LifecycleStatus::Supported => prop_assert!(verdict.security_end.is_none_or(|d| d >= on)),
            LifecycleStatus::EndsSoon { ends, days_left } => {
                prop_assert!(ends >= on);
                prop_assert!((0..=vigie_kb::ENDS_SOON_DAYS).contains(&days_left));
            }
            LifecycleStatus::EsuOnly { security_end, esu_end } => prop_assert!(security_end < on && on <= esu_end),
            LifecycleStatus::Eol { since } => prop_assert!(since.is_none_or(|d| d < on)),
            LifecycleStatus::Unknown { .. } => {}
        }
        let facts = HostFacts {
            os: Some(os),
            hotfixes: Some(kbs.into_iter().map(|id| Hotfix { id, installed_on: None }).collect()),
            features: features.map(|l| l.into_iter().map(|(name, enabled)| Feature { name, enabled }).collect()),
            network: Some(NetworkFacts { smbv1_offered: offered, ms17_010_vulnerable: vulnerable, ..Default::default() }),
            ..Default::default()
        };
        let _ = kb.ms17_010(&facts);
        let _ = kb.smbv1(&facts);
        let _ = kb.newest_security_update(&facts);
    }

    #[test]
    fn kev_lookup_never_panics_and_confirms_only_with_a_version(name in "[ -~]{0,40}", version in version(),
                                                                 publisher in text()) {
        let kb = common::kb();
        let sw = Software { name, version: version.clone(), publisher };
        for m in kb.kev_for_software(&sw) {
            if m.confidence == vigie_core::FindingStatus::Confirmed {
                prop_assert!(version.as_deref().is_some_and(vigie_core::version::is_versionish)
                    || sw.name.to_lowercase().contains("java"));
            }
        }
    }
}
