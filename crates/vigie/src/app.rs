//! What every command needs: the store, the knowledge base, the rules.

use crate::output::OutputFormat;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigie_core::{Day, EstablishmentCode, RegionCode, RuleId};
use vigie_ingest::Pipeline;
use vigie_kb::KnowledgeBase;
use vigie_posture::{KbChecks, RuleSet};
use vigie_store::{Scope, SqlStore, Store};

pub struct Ctx {
    pub db: String,
    pub format: OutputFormat,
    pub rules_dir: Option<PathBuf>,
    pub quiet: bool,
}

impl Ctx {
    /// The store with a small SQLite page cache, for long-running processes.
    pub async fn store_small_cache(&self) -> Result<Arc<dyn Store>> {
        let store = SqlStore::connect_with_cache(&self.db, 8)
            .await
            .with_context(|| format!("opening database {}", redact(&self.db)))?;
        Ok(Arc::new(store))
    }

    pub async fn store(&self) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(self.sql_store().await?))
    }

    /// The store as the SQL implementation, for what only it does
    /// (distributing the schema under Citus).
    pub async fn sql_store(&self) -> Result<SqlStore> {
        SqlStore::connect(&self.db)
            .await
            .with_context(|| format!("opening database {}", redact(&self.db)))
    }

    pub fn rules(&self) -> Result<RuleSet> {
        let mut set = RuleSet::defaults().context("default rules")?;
        if let Some(dir) = &self.rules_dir {
            set.extend(load_rules_dir(dir)?);
        }
        Ok(set)
    }

    /// The embedded knowledge base with the updates recorded in the store.
    pub async fn kb(&self, store: &dyn Store) -> Result<KnowledgeBase> {
        let mut kb = KnowledgeBase::embedded().context("embedded knowledge base")?;
        for (rec, bytes) in store.kb_updates().await? {
            kb.load_update(&bytes).with_context(|| {
                format!(
                    "recorded knowledge-base update {} {}",
                    rec.name, rec.version
                )
            })?;
        }
        Ok(kb)
    }

    pub async fn checks(&self, store: &dyn Store) -> Result<Arc<KbChecks>> {
        Ok(Arc::new(KbChecks::new(Arc::new(self.kb(store).await?))))
    }

    /// An ingest pipeline on the store's directory, rules and knowledge base.
    pub async fn pipeline(&self, store: &Arc<dyn Store>) -> Result<Pipeline> {
        let org = store.org().await?;
        let checks = self.checks(store.as_ref()).await?;
        Ok(Pipeline::new(store.clone(), org, self.rules()?, checks))
    }

    /// Refuses a rule id the rules in effect do not define.
    pub fn known_rule(&self, rule: &RuleId) -> Result<()> {
        if self.rules()?.get(rule.as_str()).is_none() {
            bail!("unknown rule {rule} (see `vigie rules list`)");
        }
        Ok(())
    }
}

/// Hides a password in a database URL before printing it.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub fn load_rules_dir(dir: &Path) -> Result<RuleSet> {
    let mut files: Vec<PathBuf> = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        std::fs::read_dir(dir)
            .with_context(|| format!("reading rules directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect()
    };
    files.sort();
    let mut set = RuleSet::default();
    for f in files {
        let src =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        set.extend(RuleSet::parse(&f.display().to_string(), &src)?);
    }
    Ok(set)
}

pub fn parse_day(s: Option<&str>, what: &str) -> Result<Option<Day>> {
    s.map(|v| Day::parse(v).with_context(|| format!("--{what}")))
        .transpose()
}

pub fn today() -> Day {
    Day::of_timestamp(jiff::Timestamp::now())
}

pub fn scope_of(region: Option<&str>, establishment: Option<&str>) -> Result<Scope> {
    match (region, establishment) {
        (Some(_), Some(_)) => bail!("give --region or --establishment, not both"),
        (Some(r), None) => Ok(Scope::Region(RegionCode::new(r)?)),
        (None, Some(e)) => Ok(Scope::Establishment(EstablishmentCode::new(e)?)),
        (None, None) => Ok(Scope::National),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("vigie.db"), "vigie.db");
    }
}
