//! Building the application state from a store, the rules and the
//! knowledge base (the binary and the tests share it).

use crate::state::{AppState, PipelineFactory, RuleInfo, WebConfig};
use std::sync::Arc;
use vigie_ingest::Pipeline;
use vigie_kb::KnowledgeBase;
use vigie_posture::{KbChecks, RuleSet};
use vigie_store::Store;

pub fn rule_infos(rules: &RuleSet) -> Vec<RuleInfo> {
    rules
        .rules()
        .iter()
        .map(|r| RuleInfo {
            id: r.id.to_string(),
            title: r.title.clone(),
            severity: format!("{:?}", r.severity).to_lowercase(),
            rationale: r.rationale.clone(),
            remediation: r.remediation.clone(),
            references: r.references.clone(),
            origin: r.origin.clone(),
        })
        .collect()
}

/// A state whose ingest pipeline reads the organisation directory afresh
/// for each upload (an import made meanwhile is taken into account).
pub fn app_state(
    store: Arc<dyn Store>,
    rules: RuleSet,
    kb: Arc<KnowledgeBase>,
    cfg: WebConfig,
) -> AppState {
    let infos = rule_infos(&rules);
    let sources = kb.sources();
    let checks = Arc::new(KbChecks::new(kb));
    let factory_store = store.clone();
    let factory: PipelineFactory = Arc::new(move || {
        let store = factory_store.clone();
        let rules = rules.clone();
        let checks = checks.clone();
        Box::pin(async move {
            let org = store.org().await?;
            Ok(Pipeline::new(store, org, rules, checks))
        })
    });
    AppState::new(store, factory, infos, sources, cfg)
}

/// The embedded knowledge base and default rules.
pub async fn default_state(store: Arc<dyn Store>, cfg: WebConfig) -> anyhow::Result<AppState> {
    let kb = Arc::new(KnowledgeBase::embedded()?);
    let rules = RuleSet::defaults()?;
    Ok(app_state(store, rules, kb, cfg))
}
