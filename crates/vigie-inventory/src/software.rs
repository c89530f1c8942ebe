//! Telling installed Windows updates apart from ordinary software.
//!
//! GLPI, FusionInventory and OCS agents report hotfixes inside their
//! software list: WMI quick-fix entries (`FROM=WMI`, name `KB4019215`) and
//! registry entries named like "Security Update for Windows 7 (KB4012212)"
//! or, on a French system, "Mise à jour de sécurité pour Windows (KB4012212)".

use crate::util::{non_empty, parse_date};
use vigie_core::{Hotfix, Software};

/// One software entry as an XML or JSON inventory gives it.
#[derive(Debug, Default, Clone)]
pub(crate) struct SoftwareEntry {
    pub name: Option<String>,
    pub version: Option<String>,
    pub publisher: Option<String>,
    pub from: Option<String>,
    pub category: Option<String>,
    pub release_type: Option<String>,
    pub comments: Option<String>,
    pub install_date: Option<String>,
}

pub(crate) enum Classified {
    Hotfix(Hotfix),
    Software(Software),
    Skip,
}

/// Words that mark an update in a software name, in the languages agents
/// report most often.
const UPDATE_WORDS: &[&str] = &[
    "update",
    "hotfix",
    "rollup",
    "security",
    "mise à jour",
    "mise a jour",
    "correctif",
    "sécurité",
    "aktualisierung",
    "sicherheitsupdate",
    "actualización",
    "aggiornamento",
];

fn mentions_update(text: Option<&str>) -> bool {
    text.is_some_and(|t| {
        let l = t.to_lowercase();
        UPDATE_WORDS.iter().any(|w| l.contains(w))
    })
}

impl SoftwareEntry {
    /// `day_first`: how to read an ambiguous `INSTALLDATE` (Fusion writes
    /// dd/mm/yyyy).
    pub(crate) fn classify(self, day_first: bool) -> Classified {
        let Some(name) = self.name.as_deref().and_then(non_empty) else {
            return Classified::Skip;
        };
        if let Some(kb) = Hotfix::kb_in(name) {
            let from_wmi = self
                .from
                .as_deref()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("wmi"));
            let bare_kb = name.trim().eq_ignore_ascii_case(&kb);
            let update = from_wmi
                || bare_kb
                || mentions_update(Some(name))
                || mentions_update(self.category.as_deref())
                || mentions_update(self.release_type.as_deref())
                || mentions_update(self.comments.as_deref());
            if update {
                let installed_on = self
                    .install_date
                    .as_deref()
                    .and_then(|d| parse_date(d, day_first));
                return Classified::Hotfix(Hotfix {
                    id: kb,
                    installed_on,
                });
            }
        }
        let name = name.to_string();
        Classified::Software(Software {
            name,
            version: self
                .version
                .as_deref()
                .and_then(non_empty)
                .map(str::to_string),
            publisher: self
                .publisher
                .as_deref()
                .and_then(non_empty)
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, from: Option<&str>) -> SoftwareEntry {
        SoftwareEntry {
            name: Some(name.into()),
            from: from.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn hotfix_shapes() {
        for (name, from) in [
            ("KB4019215", Some("WMI")),
            ("Security Update KB4019215", None),
            ("Mise à jour de sécurité pour Windows (KB4012212)", None),
            ("Update for Microsoft Windows (KB2999226)", Some("registry")),
        ] {
            assert!(
                matches!(entry(name, from).classify(true), Classified::Hotfix(_)),
                "{name}"
            );
        }
        assert!(matches!(
            entry("Example Tool KB1234567 Edition", None).classify(true),
            Classified::Software(_)
        ));
        assert!(matches!(entry("  ", None).classify(true), Classified::Skip));
    }

    #[test]
    fn install_date_is_read() {
        let e = SoftwareEntry {
            install_date: Some("11/05/2017".into()),
            ..entry("KB4019215", Some("WMI"))
        };
        let Classified::Hotfix(h) = e.classify(true) else {
            panic!("not a hotfix")
        };
        assert_eq!(
            h.installed_on.map(|d| d.to_string()).as_deref(),
            Some("2017-05-11")
        );
    }
}
