//! Perimeters: what a caller may read, and how a request narrows it.
//! Anything outside the caller's perimeter reads as "not found", with the
//! same words as something that does not exist.

use crate::error::{ApiError, ApiResult};
use vigie_auth::ReadScope;
use vigie_core::{Establishment, EstablishmentCode, RegionCode};
use vigie_store::{Scope, Store};

pub fn store_scope(r: ReadScope) -> Scope {
    match r {
        ReadScope::National => Scope::National,
        ReadScope::Region(c) => Scope::Region(c),
        ReadScope::Establishment(c) => Scope::Establishment(c),
    }
}

/// Establishments a scope may read.
pub async fn visible_establishments(
    store: &dyn Store,
    scope: &Scope,
) -> ApiResult<Vec<Establishment>> {
    Ok(store.establishments(scope).await?)
}

/// The caller's scope narrowed to a region or an establishment asked for.
pub async fn narrow(
    store: &dyn Store,
    scope: &Scope,
    region: Option<&str>,
    establishment: Option<&str>,
) -> ApiResult<Scope> {
    let region = region.map(str::trim).filter(|s| !s.is_empty());
    let establishment = establishment.map(str::trim).filter(|s| !s.is_empty());
    match (region, establishment) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give region or establishment, not both",
        )),
        (None, None) => Ok(scope.clone()),
        (Some(r), None) => {
            let code = RegionCode::new(r).map_err(|_| ApiError::not_found())?;
            match scope {
                Scope::National => {
                    // unknown regions read as not found
                    store.establishments(&Scope::Region(code.clone())).await?;
                    Ok(Scope::Region(code))
                }
                Scope::Region(own) if *own == code => Ok(scope.clone()),
                _ => Err(ApiError::not_found()),
            }
        }
        (None, Some(e)) => {
            let code = EstablishmentCode::new(e).map_err(|_| ApiError::not_found())?;
            if establishment_visible(store, scope, &code).await? {
                Ok(Scope::Establishment(code))
            } else {
                Err(ApiError::not_found())
            }
        }
    }
}

pub async fn establishment_visible(
    store: &dyn Store,
    scope: &Scope,
    code: &EstablishmentCode,
) -> ApiResult<bool> {
    Ok(match scope {
        Scope::Establishment(own) => own == code,
        _ => visible_establishments(store, scope)
            .await?
            .iter()
            .any(|e| &e.code == code),
    })
}

pub fn region_visible(scope: &Scope, code: &RegionCode) -> bool {
    match scope {
        Scope::National => true,
        Scope::Region(own) => own == code,
        Scope::Establishment(_) => false,
    }
}

/// The establishment a path names, if the scope may read it; otherwise
/// not found (the same answer as for a code that does not exist).
pub async fn visible_establishment(
    store: &dyn Store,
    scope: &Scope,
    code: &str,
) -> ApiResult<Establishment> {
    let code = EstablishmentCode::new(code).map_err(|_| ApiError::not_found())?;
    if !establishment_visible(store, scope, &code).await? {
        return Err(ApiError::not_found());
    }
    store
        .establishments(&Scope::Establishment(code))
        .await?
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)
}

/// The region a path names, if the scope may read it; otherwise not found.
pub async fn visible_region(
    store: &dyn Store,
    scope: &Scope,
    code: &str,
) -> ApiResult<vigie_core::Region> {
    let code = RegionCode::new(code).map_err(|_| ApiError::not_found())?;
    if !region_visible(scope, &code) {
        return Err(ApiError::not_found());
    }
    store
        .org()
        .await?
        .regions()
        .iter()
        .find(|r| r.code == code)
        .cloned()
        .ok_or_else(ApiError::not_found)
}
