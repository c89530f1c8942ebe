//! The rule language: TOML in, compiled rules out, with line-numbered errors.

use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;
use vigie_core::{RuleId, Severity};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A built-in knowledge-base check and the states it can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckKind {
    OsLifecycle,
    Ms17010,
    Smbv1,
    KevSoftware,
}

impl CheckKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "os-lifecycle" => CheckKind::OsLifecycle,
            "ms17-010" => CheckKind::Ms17010,
            "smbv1" => CheckKind::Smbv1,
            "kev-software" => CheckKind::KevSoftware,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::OsLifecycle => "os-lifecycle",
            CheckKind::Ms17010 => "ms17-010",
            CheckKind::Smbv1 => "smbv1",
            CheckKind::KevSoftware => "kev-software",
        }
    }
    pub fn states(self) -> &'static [&'static str] {
        match self {
            CheckKind::OsLifecycle => &["supported", "ends-soon", "esu-only", "eol", "unknown"],
            CheckKind::Ms17010 => &["not-affected", "fixed", "missing", "unknown"],
            CheckKind::Smbv1 => &["enabled", "not-enabled", "unknown"],
            CheckKind::KevSoftware => &["confirmed", "needs-review", "none", "unknown"],
        }
    }
}

/// A host fact rules can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    OsFamily,
    OsName,
    OsVersion,
    OsBuild,
    OsUbr,
    OsEdition,
    OsServicePack,
    OsDisplayVersion,
    Hostname,
}

impl Fact {
    pub const ALL: [(&'static str, Fact); 9] = [
        ("os.family", Fact::OsFamily),
        ("os.name", Fact::OsName),
        ("os.version", Fact::OsVersion),
        ("os.build", Fact::OsBuild),
        ("os.ubr", Fact::OsUbr),
        ("os.edition", Fact::OsEdition),
        ("os.service_pack", Fact::OsServicePack),
        ("os.display_version", Fact::OsDisplayVersion),
        ("hostname", Fact::Hostname),
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// A test on a string value.
#[derive(Debug, Clone)]
pub enum Test {
    Equals(String),
    Contains(String),
    Matches(Regex),
    In(Vec<String>),
    VersionLt(String),
    VersionLe(String),
    VersionGt(String),
    VersionGe(String),
    Exists(bool),
}

impl PartialEq for Test {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Check {
        check: CheckKind,
        states: Vec<String>,
    },
    /// Newest installed security update older than N days on the evaluation day.
    PatchAge {
        older_than_days: u32,
    },
    Fact {
        fact: Fact,
        test: Test,
    },
    /// Some installed software whose name matches, optionally with a version test.
    Software {
        name: RegexEq,
        version: Option<Test>,
    },
    /// Any of these updates installed.
    HotfixPresent(Vec<String>),
    /// None of these updates installed (requires a known update list).
    HotfixMissing(Vec<String>),
    FeatureEnabled(String),
    /// The newest report from any source is older than N days.
    StaleDays(u32),
}

/// A regex with equality by pattern, so conditions can be compared.
#[derive(Debug, Clone)]
pub struct RegexEq(pub Regex);

impl PartialEq for RegexEq {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: RuleId,
    pub title: String,
    pub severity: Severity,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub when: Condition,
    /// Severity by check state (e.g. `esu-only = "high"`).
    pub severity_by_state: BTreeMap<String, Severity>,
    /// What to do when the rule cannot be decided for a machine (its
    /// inputs are missing): report a finding with status `unknown`, or not.
    pub unknown: UnknownPolicy,
    /// Where the rule came from ("default" or a file path) and its line.
    pub origin: String,
    pub line: usize,
}

/// A rule's answer when its inputs are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownPolicy {
    /// A finding with status `unknown` (the default: what vigie cannot
    /// decide is said, never counted as compliant).
    #[default]
    Report,
    /// No finding: the rule only speaks on positive evidence.
    Ignore,
}

impl UnknownPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownPolicy::Report => "report",
            UnknownPolicy::Ignore => "ignore",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    severity: String,
    rationale: String,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
    when: toml::Value,
    #[serde(default)]
    severity_by_state: BTreeMap<String, String>,
    #[serde(default)]
    unknown: Option<String>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()
        .iter()
        .take(offset.min(src.len()))
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Self {
        RuleSet { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.as_str() == id)
    }

    /// The embedded default rules.
    pub fn defaults() -> Result<RuleSet, RuleError> {
        RuleSet::parse("default", crate::DEFAULT_RULES)
    }

    /// Parses one rules file. `origin` names the file in errors.
    pub fn parse(origin: &str, src: &str) -> Result<RuleSet, RuleError> {
        let err = |line: usize, message: String| RuleError {
            file: origin.to_string(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(1);
            err(line, e.message().trim().to_lowercase())
        })?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut seen = BTreeSet::new();
        for spanned in raw.rule {
            let line = line_of(src, spanned.span().start);
            let r = spanned.into_inner();
            let id = RuleId::new(&r.id).map_err(|e| err(line, format!("rule id: {e}")))?;
            if !seen.insert(id.clone()) {
                return Err(err(line, format!("rule {id} is defined twice")));
            }
            let ctx = |m: String| err(line, format!("rule {id}: {m}"));
            let severity = Severity::parse(&r.severity).ok_or_else(|| {
                ctx(format!(
                    "unknown severity {:?} (info, low, medium, high, critical)",
                    r.severity
                ))
            })?;
            for (what, v) in [
                ("title", &r.title),
                ("rationale", &r.rationale),
                ("remediation", &r.remediation),
            ] {
                if v.trim().is_empty() {
                    return Err(ctx(format!("{what} must not be empty")));
                }
            }
            let when = compile(&r.when, "when").map_err(ctx)?;
            let mut severity_by_state = BTreeMap::new();
            for (state, sev) in r.severity_by_state {
                let s = Severity::parse(&sev).ok_or_else(|| {
                    ctx(format!(
                        "severity_by_state.{state}: unknown severity {sev:?}"
                    ))
                })?;
                if !checks_in(&when)
                    .iter()
                    .any(|c| c.states().contains(&state.as_str()))
                {
                    return Err(ctx(format!(
                        "severity_by_state.{state}: no check in `when` reports state {state:?}"
                    )));
                }
                severity_by_state.insert(state, s);
            }
            let unknown = match r.unknown.as_deref() {
                None | Some("report") => UnknownPolicy::Report,
                Some("ignore") => UnknownPolicy::Ignore,
                Some(other) => {
                    return Err(ctx(format!(
                        "unknown = {other:?}: expected \"report\" or \"ignore\""
                    )));
                }
            };
            rules.push(Rule {
                id,
                unknown,
                title: r.title,
                severity,
                rationale: r.rationale,
                remediation: r.remediation,
                references: r.references,
                when,
                severity_by_state,
                origin: origin.to_string(),
                line,
            });
        }
        Ok(RuleSet { rules })
    }

    /// Adds rules from another set. A rule with an existing id replaces it,
    /// so users can tune a default rule (e.g. patch-age's threshold).
    pub fn extend(&mut self, other: RuleSet) {
        for r in other.rules {
            match self.rules.iter_mut().find(|x| x.id == r.id) {
                Some(slot) => *slot = r,
                None => self.rules.push(r),
            }
        }
    }
}

fn checks_in(c: &Condition) -> Vec<CheckKind> {
    match c {
        Condition::All(v) | Condition::Any(v) => v.iter().flat_map(checks_in).collect(),
        Condition::Not(b) => checks_in(b),
        Condition::Check { check, .. } => vec![*check],
        _ => vec![],
    }
}

fn as_str_list(v: &toml::Value, path: &str) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{path}: expected strings"))
            })
            .collect(),
        _ => Err(format!("{path}: expected a string or a list of strings")),
    }
}

fn as_days(v: &toml::Value, path: &str) -> Result<u32, String> {
    v.as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= 36_500)
        .ok_or_else(|| format!("{path}: expected a number of days between 0 and 36500"))
}

fn regex(pattern: &str, path: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "{path}: invalid regex: {}",
                e.to_string().lines().last().unwrap_or("")
            )
        })
}

fn compile_test(
    t: &toml::map::Map<String, toml::Value>,
    path: &str,
    skip: &[&str],
) -> Result<Test, String> {
    let ops: Vec<(&String, &toml::Value)> = t
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect();
    let [(op, v)] = ops.as_slice() else {
        return Err(format!(
            "{path}: expected exactly one test among equals, contains, matches, in, version_lt, version_le, version_gt, version_ge, exists"
        ));
    };
    let s = || {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{path}.{op}: expected a string"))
    };
    Ok(match op.as_str() {
        "equals" => Test::Equals(s()?),
        "contains" => Test::Contains(s()?),
        "matches" => Test::Matches(regex(&s()?, &format!("{path}.matches"))?),
        "in" => Test::In(as_str_list(v, &format!("{path}.in"))?),
        "version_lt" => Test::VersionLt(s()?),
        "version_le" => Test::VersionLe(s()?),
        "version_gt" => Test::VersionGt(s()?),
        "version_ge" => Test::VersionGe(s()?),
        "exists" => Test::Exists(
            v.as_bool()
                .ok_or_else(|| format!("{path}.exists: expected true or false"))?,
        ),
        other => return Err(format!("{path}: unknown test {other:?}")),
    })
}

fn compile(v: &toml::Value, path: &str) -> Result<Condition, String> {
    let t = v.as_table().ok_or_else(|| {
        format!("{path}: expected a table such as {{ check = \"ms17-010\", in = [\"missing\"] }}")
    })?;
    let has = |k: &str| t.contains_key(k);
    let only = |allowed: &[&str]| -> Result<(), String> {
        match t.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "{path}: unexpected key {k:?} (allowed here: {})",
                allowed.join(", ")
            )),
            None => Ok(()),
        }
    };
    let list = |k: &str| -> Result<Vec<Condition>, String> {
        let a = t
            .get(k)
            .and_then(|x| x.as_array())
            .ok_or_else(|| format!("{path}.{k}: expected a list of conditions"))?;
        if a.is_empty() {
            return Err(format!("{path}.{k}: must not be empty"));
        }
        a.iter()
            .enumerate()
            .map(|(i, c)| compile(c, &format!("{path}.{k}[{i}]")))
            .collect()
    };
    if has("all") {
        only(&["all"])?;
        return Ok(Condition::All(list("all")?));
    }
    if has("any") {
        only(&["any"])?;
        return Ok(Condition::Any(list("any")?));
    }
    if let Some(inner) = t.get("not") {
        only(&["not"])?;
        return Ok(Condition::Not(Box::new(compile(
            inner,
            &format!("{path}.not"),
        )?)));
    }
    if let Some(c) = t.get("check") {
        let name = c
            .as_str()
            .ok_or_else(|| format!("{path}.check: expected a string"))?;
        if name == "patch-age" {
            only(&["check", "older_than_days"])?;
            let days = t
                .get("older_than_days")
                .ok_or_else(|| format!("{path}: patch-age needs older_than_days"))
                .and_then(|d| as_days(d, &format!("{path}.older_than_days")))?;
            return Ok(Condition::PatchAge {
                older_than_days: days,
            });
        }
        let check = CheckKind::parse(name).ok_or_else(|| {
            format!("{path}.check: unknown check {name:?} (os-lifecycle, ms17-010, smbv1, patch-age, kev-software)")
        })?;
        only(&["check", "in"])?;
        let states = as_str_list(
            t.get("in")
                .ok_or_else(|| format!("{path}: check {name} needs `in` (states)"))?,
            &format!("{path}.in"),
        )?;
        if let Some(bad) = states
            .iter()
            .find(|s| !check.states().contains(&s.as_str()))
        {
            return Err(format!(
                "{path}.in: check {name} has no state {bad:?} (states: {})",
                check.states().join(", ")
            ));
        }
        return Ok(Condition::Check { check, states });
    }
    if let Some(f) = t.get("fact") {
        let name = f
            .as_str()
            .ok_or_else(|| format!("{path}.fact: expected a string"))?;
        let fact = Fact::parse(name).ok_or_else(|| {
            format!(
                "{path}.fact: unknown fact {name:?} ({})",
                Fact::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        return Ok(Condition::Fact {
            fact,
            test: compile_test(t, path, &["fact"])?,
        });
    }
    if let Some(s) = t.get("software") {
        only(&["software", "version"])?;
        let pattern = s
            .as_str()
            .ok_or_else(|| format!("{path}.software: expected a name regex"))?;
        let name = RegexEq(regex(pattern, &format!("{path}.software"))?);
        let version = match t.get("version") {
            None => None,
            Some(v) => {
                let vt = v.as_table().ok_or_else(|| {
                    format!("{path}.version: expected a table such as {{ version_lt = \"15\" }}")
                })?;
                Some(compile_test(vt, &format!("{path}.version"), &[])?)
            }
        };
        return Ok(Condition::Software { name, version });
    }
    if let Some(h) = t.get("hotfix_present") {
        only(&["hotfix_present"])?;
        return Ok(Condition::HotfixPresent(norm_kbs(
            h,
            &format!("{path}.hotfix_present"),
        )?));
    }
    if let Some(h) = t.get("hotfix_missing") {
        only(&["hotfix_missing"])?;
        return Ok(Condition::HotfixMissing(norm_kbs(
            h,
            &format!("{path}.hotfix_missing"),
        )?));
    }
    if let Some(f) = t.get("feature_enabled") {
        only(&["feature_enabled"])?;
        let name = f
            .as_str()
            .ok_or_else(|| format!("{path}.feature_enabled: expected a feature name"))?;
        return Ok(Condition::FeatureEnabled(name.to_string()));
    }
    if let Some(d) = t.get("stale_days") {
        only(&["stale_days"])?;
        return Ok(Condition::StaleDays(as_days(
            d,
            &format!("{path}.stale_days"),
        )?));
    }
    Err(format!(
        "{path}: expected one of all, any, not, check, fact, software, hotfix_present, hotfix_missing, feature_enabled, stale_days"
    ))
}

fn norm_kbs(v: &toml::Value, path: &str) -> Result<Vec<String>, String> {
    as_str_list(v, path)?
        .into_iter()
        .map(|k| {
            vigie_core::Hotfix::kb_in(&k)
                .ok_or_else(|| format!("{path}: {k:?} is not a KB number such as KB4012212"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let set = RuleSet::defaults().unwrap();
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        for id in [
            "os-eol",
            "os-eol-soon",
            "ms17-010-missing",
            "smbv1-enabled",
            "patch-age",
            "kev-software",
        ] {
            assert!(ids.contains(&id), "{id} missing from defaults");
        }
    }

    fn err_of(src: &str) -> RuleError {
        RuleSet::parse("t.toml", src).unwrap_err()
    }

    const HEAD: &str = "[[rule]]\nid = \"x\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\nremediation = \"m\"\n";

    #[test]
    fn errors_name_the_line() {
        let e = err_of("\n\n[[rule]]\nid = \"x\"\ntitle = \n");
        assert_eq!(e.line, 5, "{e}");
        assert!(e.to_string().starts_with("t.toml:5:"), "{e}");
        let e = err_of(&format!(
            "# c\n{HEAD}when = {{ check = \"nope\", in = [\"x\"] }}\n"
        ));
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("unknown check \"nope\""), "{e}");
        let e = err_of(&format!(
            "{HEAD}when = {{ check = \"ms17-010\", in = [\"broken\"] }}\n"
        ));
        assert!(e.message.contains("no state \"broken\""), "{e}");
        let e = err_of(&format!(
            "{HEAD}when = {{ all = [{{ fact = \"os.name\", matches = \"(\" }}] }}\n"
        ));
        assert!(
            e.message.contains("when.all[0].matches: invalid regex"),
            "{e}"
        );
        let e = err_of(&format!(
            "{HEAD}severity_by_state = {{ eol = \"high\" }}\nwhen = {{ check = \"smbv1\", in = [\"enabled\"] }}\n"
        ));
        assert!(
            e.message.contains("no check in `when` reports state"),
            "{e}"
        );
        let e = err_of(&format!(
            "{HEAD}when = {{ check = \"smbv1\", in = [\"enabled\"] }}\n{HEAD}when = {{ stale_days = 3 }}\n"
        ));
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("defined twice"), "{e}");
        let e = err_of(&format!(
            "{HEAD}colour = \"red\"\nwhen = {{ stale_days = 3 }}\n"
        ));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn users_can_override_a_default() {
        let mut set = RuleSet::defaults().unwrap();
        let n = set.rules().len();
        let custom = RuleSet::parse(
            "site.toml",
            "[[rule]]\nid = \"patch-age\"\ntitle = \"Patches older than 30 days\"\nseverity = \"medium\"\nrationale = \"r\"\nremediation = \"m\"\nwhen = { check = \"patch-age\", older_than_days = 30 }\n",
        )
        .unwrap();
        set.extend(custom);
        assert_eq!(set.rules().len(), n);
        assert_eq!(
            set.get("patch-age").unwrap().when,
            Condition::PatchAge {
                older_than_days: 30
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(src in "\\PC{0,400}") {
            let _ = RuleSet::parse("p.toml", &src);
        }
    }
}
