//! vigie accounts and perimeters: roles, grants, principals, password
//! hashing (argon2id), API and session tokens. Pure: no I/O beyond the
//! operating system's random number generator.
//!
//! - A [`Role`] says what kind of account it is; a [`Grant`] binds the role
//!   to its perimeter (a region for a regional analyst, an establishment
//!   for an establishment officer or an ingest token) and answers the
//!   authorization questions: what it may read ([`Grant::read_scope`]),
//!   whether it may administer ([`Grant::is_admin`]) and where it may push
//!   inventories ([`Grant::may_ingest_into`]).
//! - Passwords are stored as argon2id PHC strings ([`hash_password`],
//!   [`verify_password`]).
//! - API tokens, session cookies and CSRF tokens are random strings; API
//!   tokens and sessions are stored only as their SHA-256 ([`hash_token`]).
//! - Machine ids leave the server as opaque strings ([`HostIds`]): a keyed
//!   permutation of the number, so they reveal neither order nor count.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, Params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use vigie_core::{EstablishmentCode, RegionCode};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// What every API token starts with (so secret scanners can find leaked ones).
pub const TOKEN_MARK: &str = "vgt_";
/// Characters of a token kept in clear for listing (`vgt_` and 8 hex digits).
pub const TOKEN_PREFIX_LEN: usize = 12;

/// Bounds on the cost parameters a stored hash may ask for: a hash outside
/// them is refused rather than computed (a tampered row must not make a
/// login allocate gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("password too short: at least {MIN_PASSWORD_CHARS} characters are required")]
    PasswordTooShort,
    #[error("password too long: at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    #[error(
        "unknown role {0:?} (national-admin, national-analyst, regional-analyst, establishment-officer, ingest)"
    )]
    UnknownRole(String),
    /// The perimeter given does not fit the role.
    #[error("{0}")]
    Perimeter(String),
    #[error(
        "invalid username {0:?}: 1 to 64 of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit"
    )]
    Username(String),
    /// Accounts are for people; pushing inventories is for tokens.
    #[error("the ingest role is for API tokens, which push inventories and read nothing")]
    IngestAccount,
    #[error("a token's name must be 1 to {MAX_TOKEN_NAME_BYTES} bytes without control characters")]
    TokenName,
    #[error("a token expires after 1 to {MAX_TOKEN_DAYS} days, not {0}")]
    TokenDays(u32),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// What kind of account a user or token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, including accounts, tokens, the audit log, the
    /// organisation directory and knowledge-base updates.
    NationalAdmin,
    /// Reads the whole sector.
    NationalAnalyst,
    /// Reads one region.
    RegionalAnalyst,
    /// Reads one establishment and pushes its inventories.
    EstablishmentOfficer,
    /// Pushes inventories for one establishment; reads nothing.
    Ingest,
}

/// The perimeter a role needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerimeterKind {
    None,
    Region,
    Establishment,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::NationalAdmin,
        Role::NationalAnalyst,
        Role::RegionalAnalyst,
        Role::EstablishmentOfficer,
        Role::Ingest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::NationalAdmin => "national-admin",
            Role::NationalAnalyst => "national-analyst",
            Role::RegionalAnalyst => "regional-analyst",
            Role::EstablishmentOfficer => "establishment-officer",
            Role::Ingest => "ingest",
        }
    }

    /// The perimeter a grant of this role must name.
    pub fn perimeter(self) -> PerimeterKind {
        match self {
            Role::NationalAdmin | Role::NationalAnalyst => PerimeterKind::None,
            Role::RegionalAnalyst => PerimeterKind::Region,
            Role::EstablishmentOfficer | Role::Ingest => PerimeterKind::Establishment,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    /// Accepts the kebab-case names, case-insensitively, and `_` for `-`.
    fn from_str(s: &str) -> Result<Role, AuthError> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| AuthError::UnknownRole(s.to_string()))
    }
}

/// A role bound to its perimeter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "GrantRepr", try_from = "GrantRepr")]
pub enum Grant {
    NationalAdmin,
    NationalAnalyst,
    RegionalAnalyst(RegionCode),
    EstablishmentOfficer(EstablishmentCode),
    Ingest(EstablishmentCode),
}

/// How a grant is written in JSON: `{"role": "regional-analyst", "region": "Y56"}`.
#[derive(Serialize, Deserialize)]
struct GrantRepr {
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<RegionCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    establishment: Option<EstablishmentCode>,
}

impl From<Grant> for GrantRepr {
    fn from(g: Grant) -> GrantRepr {
        GrantRepr {
            role: g.role(),
            region: g.region().cloned(),
            establishment: g.establishment().cloned(),
        }
    }
}

impl TryFrom<GrantRepr> for Grant {
    type Error = AuthError;
    fn try_from(r: GrantRepr) -> Result<Grant, AuthError> {
        Grant::new(r.role, r.region, r.establishment)
    }
}

/// What a grant may read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "level", content = "code")]
pub enum ReadScope {
    /// The whole sector, including machines no establishment claims.
    National,
    Region(RegionCode),
    Establishment(EstablishmentCode),
}

impl ReadScope {
    /// Whether this scope covers an establishment of `region`.
    pub fn covers(&self, establishment: &EstablishmentCode, region: &RegionCode) -> bool {
        match self {
            ReadScope::National => true,
            ReadScope::Region(r) => r == region,
            ReadScope::Establishment(e) => e == establishment,
        }
    }

    /// Whether this scope covers a whole region.
    pub fn covers_region(&self, region: &RegionCode) -> bool {
        match self {
            ReadScope::National => true,
            ReadScope::Region(r) => r == region,
            ReadScope::Establishment(_) => false,
        }
    }
}

impl Grant {
    /// A grant with exactly the perimeter `role` needs: a region for a
    /// regional analyst, an establishment for an establishment officer or an
    /// ingest token, nothing for the national roles.
    pub fn new(
        role: Role,
        region: Option<RegionCode>,
        establishment: Option<EstablishmentCode>,
    ) -> Result<Grant, AuthError> {
        let perimeter = |msg: String| Err(AuthError::Perimeter(msg));
        match (role.perimeter(), region, establishment) {
            (PerimeterKind::None, None, None) => Ok(match role {
                Role::NationalAdmin => Grant::NationalAdmin,
                _ => Grant::NationalAnalyst,
            }),
            (PerimeterKind::None, _, _) => perimeter(format!(
                "role {role} covers the whole sector: give neither a region nor an establishment"
            )),
            (PerimeterKind::Region, Some(r), None) => Ok(Grant::RegionalAnalyst(r)),
            (PerimeterKind::Region, None, None) => perimeter(format!("role {role} needs a region")),
            (PerimeterKind::Region, _, Some(_)) => perimeter(format!(
                "role {role} is bound to a region, not to an establishment: give only a region"
            )),
            (PerimeterKind::Establishment, None, Some(e)) => Ok(match role {
                Role::Ingest => Grant::Ingest(e),
                _ => Grant::EstablishmentOfficer(e),
            }),
            (PerimeterKind::Establishment, None, None) => {
                perimeter(format!("role {role} needs an establishment"))
            }
            (PerimeterKind::Establishment, Some(_), _) => perimeter(format!(
                "role {role} is bound to an establishment, not to a region: give only an establishment"
            )),
        }
    }

    /// A grant from stored text (role name and codes), as the web layer
    /// reads it back from a user or token record.
    pub fn from_stored(
        role: &str,
        region: Option<&str>,
        establishment: Option<&str>,
    ) -> Result<Grant, AuthError> {
        let role: Role = role.parse()?;
        let region = region
            .map(|r| RegionCode::new(r).map_err(|e| AuthError::Perimeter(e.to_string())))
            .transpose()?;
        let establishment = establishment
            .map(|e| EstablishmentCode::new(e).map_err(|e| AuthError::Perimeter(e.to_string())))
            .transpose()?;
        Grant::new(role, region, establishment)
    }

    /// The grant an administrator asks for, from text (the command line's
    /// options, a form's fields, an API body): a role name and the region or
    /// establishment its perimeter needs. Blank codes count as absent (a
    /// form sends every field). Whether the codes exist is the store's
    /// business.
    pub fn from_input(
        role: &str,
        region: Option<&str>,
        establishment: Option<&str>,
    ) -> Result<Grant, AuthError> {
        let role: Role = role.parse()?;
        fn given(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let region = given(region)
            .map(|r| RegionCode::new(r).map_err(|e| AuthError::Perimeter(e.to_string())))
            .transpose()?;
        let establishment = given(establishment)
            .map(|c| EstablishmentCode::new(c).map_err(|e| AuthError::Perimeter(e.to_string())))
            .transpose()?;
        Grant::new(role, region, establishment)
    }

    /// Refuses a grant that cannot be a person's account: the ingest role
    /// is for API tokens.
    pub fn check_account(&self) -> Result<(), AuthError> {
        match self {
            Grant::Ingest(_) => Err(AuthError::IngestAccount),
            _ => Ok(()),
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Grant::NationalAdmin => Role::NationalAdmin,
            Grant::NationalAnalyst => Role::NationalAnalyst,
            Grant::RegionalAnalyst(_) => Role::RegionalAnalyst,
            Grant::EstablishmentOfficer(_) => Role::EstablishmentOfficer,
            Grant::Ingest(_) => Role::Ingest,
        }
    }

    pub fn region(&self) -> Option<&RegionCode> {
        match self {
            Grant::RegionalAnalyst(r) => Some(r),
            _ => None,
        }
    }

    pub fn establishment(&self) -> Option<&EstablishmentCode> {
        match self {
            Grant::EstablishmentOfficer(e) | Grant::Ingest(e) => Some(e),
            _ => None,
        }
    }

    /// What this grant may read; `None` = nothing (ingest tokens read nothing).
    pub fn read_scope(&self) -> Option<ReadScope> {
        match self {
            Grant::NationalAdmin | Grant::NationalAnalyst => Some(ReadScope::National),
            Grant::RegionalAnalyst(r) => Some(ReadScope::Region(r.clone())),
            Grant::EstablishmentOfficer(e) => Some(ReadScope::Establishment(e.clone())),
            Grant::Ingest(_) => None,
        }
    }

    /// National administrators only: users, tokens, the audit log, the
    /// organisation import, knowledge-base updates.
    pub fn is_admin(&self) -> bool {
        matches!(self, Grant::NationalAdmin)
    }

    /// Whether this grant may push inventories attributed to `est`: a
    /// national administrator anywhere, an establishment officer or an
    /// ingest token into its own establishment, analysts nowhere.
    pub fn may_ingest_into(&self, est: &EstablishmentCode) -> bool {
        match self {
            Grant::NationalAdmin => true,
            Grant::EstablishmentOfficer(e) | Grant::Ingest(e) => e == est,
            Grant::NationalAnalyst | Grant::RegionalAnalyst(_) => false,
        }
    }

    /// The perimeter in words: "sector", "region Y56", "establishment RX1".
    pub fn perimeter_label(&self) -> String {
        match self {
            Grant::NationalAdmin | Grant::NationalAnalyst => "sector".into(),
            Grant::RegionalAnalyst(r) => format!("region {r}"),
            Grant::EstablishmentOfficer(e) | Grant::Ingest(e) => format!("establishment {e}"),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::NationalAdmin | Grant::NationalAnalyst => f.write_str(self.role().as_str()),
            Grant::RegionalAnalyst(r) => write!(f, "{} {r}", self.role()),
            Grant::EstablishmentOfficer(e) | Grant::Ingest(e) => write!(f, "{} {e}", self.role()),
        }
    }
}

/// Whether a principal is a person (session) or an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    Token,
}

/// Who is making a request, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The user's or token's id in the store.
    pub id: i64,
    /// The username or the token's name.
    pub name: String,
    pub grant: Grant,
}

impl Principal {
    /// How the audit log names this principal: `user:alice`, `token:rx1-glpi`.
    pub fn actor(&self) -> String {
        match self.kind {
            PrincipalKind::User => format!("user:{}", self.name),
            PrincipalKind::Token => format!("token:{}", self.name),
        }
    }
}

// --- usernames -------------------------------------------------------------

/// Longest accepted username.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The canonical form of a username: trimmed, lowercase, 1 to 64 of
/// `a-z 0-9 . _ @ -`, starting with a letter or digit. Apply it both when
/// creating a user and before looking one up at login.
pub fn normalize_username(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim().to_ascii_lowercase();
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c);
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !starts_ok || name.len() > MAX_USERNAME_CHARS || !name.chars().all(ok_char) {
        return Err(AuthError::Username(raw.to_string()));
    }
    Ok(name)
}

// --- passwords -------------------------------------------------------------

/// Refuses a password outside the accepted lengths.
pub fn check_password_policy(password: &str) -> Result<(), AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::PasswordTooShort);
    }
    Ok(())
}

/// Hashes a password as an argon2id PHC string (`$argon2id$v=19$…`) with a
/// random salt and the library's default costs (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    check_password_policy(password)?;
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. False, never a panic,
/// for a malformed hash, another algorithm than argon2id, or costs beyond
/// sane bounds.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES || phc.len() > 512 {
        return false;
    }
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm.as_str() != "argon2id" {
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// A valid argon2id hash of a random password nobody knows (default costs).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$2kZzS1oh4Cq9ld6iGCrNFQ$Rm/8NcMyrEIKv3yOqKGSQw6rVfpRfxkR69KOBNkO9qI";

/// Spends the time of one password verification without an account: call
/// it when the username is unknown or disabled, so a login's timing does
/// not tell whether an account exists. Always false.
pub fn verify_dummy(password: &str) -> bool {
    let _ = verify_password(password, DUMMY_HASH);
    false
}

/// Characters of a generated password (Crockford's base 32 in lowercase:
/// no i, l, o or u to misread).
const PASSWORD_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A random password an administrator hands over: four groups of five
/// characters of a 32-letter alphabet (100 random bits), e.g.
/// `7k2mq-x0c9d-4hz8r-pn3tw`. It satisfies [`check_password_policy`].
pub fn generate_password() -> Result<String, AuthError> {
    let mut bytes = [0u8; 20];
    fill_random(&mut bytes)?;
    let mut out = String::with_capacity(23);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        out.push(char::from(PASSWORD_ALPHABET[usize::from(b & 31)]));
    }
    Ok(out)
}

// --- tokens ----------------------------------------------------------------

/// Longest accepted token name, in bytes.
pub const MAX_TOKEN_NAME_BYTES: usize = 128;
/// Longest lifetime of an API token, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A token's name as stored: trimmed, 1 to [`MAX_TOKEN_NAME_BYTES`] bytes,
/// no control characters.
pub fn normalize_token_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    if name.is_empty() || name.len() > MAX_TOKEN_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(AuthError::TokenName);
    }
    Ok(name.to_string())
}

/// Refuses a token lifetime outside 1 to [`MAX_TOKEN_DAYS`] days.
pub fn check_token_days(days: u32) -> Result<u32, AuthError> {
    if (1..=MAX_TOKEN_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(AuthError::TokenDays(days))
    }
}

/// A new API token. Only `hash` and `prefix` are stored; `secret` is shown
/// once to whoever created it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    /// `vgt_` and 64 hex digits (32 random bytes).
    pub secret: String,
    /// The first [`TOKEN_PREFIX_LEN`] characters of the secret, for listing.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("secret", &"…")
            .field("prefix", &self.prefix)
            .field("hash", &self.hash)
            .finish()
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|e| AuthError::Random(e.to_string()))
}

/// 32 random bytes in hex.
fn random_hex32() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

pub fn new_api_token() -> Result<NewToken, AuthError> {
    let secret = format!("{TOKEN_MARK}{}", random_hex32()?);
    let prefix = secret[..TOKEN_PREFIX_LEN].to_string();
    let hash = hash_token(&secret);
    Ok(NewToken {
        secret,
        prefix,
        hash,
    })
}

/// Whether a string has the shape of an API token (before looking it up).
pub fn looks_like_api_token(s: &str) -> bool {
    s.len() == TOKEN_MARK.len() + 64
        && s.starts_with(TOKEN_MARK)
        && s[TOKEN_MARK.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// SHA-256 of a token or session secret, lowercase hex: what is stored
/// and looked up.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new session: the cookie value (64 hex digits) and its SHA-256, which
/// is what the store keeps.
pub fn new_session() -> Result<(String, String), AuthError> {
    let cookie = random_hex32()?;
    let hash = hash_token(&cookie);
    Ok((cookie, hash))
}

/// A new CSRF token (64 hex digits), kept with the session and embedded in
/// forms.
pub fn new_csrf_token() -> Result<String, AuthError> {
    random_hex32()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

mod host_id;
pub use host_id::{
    HOST_ID_LEN, HOST_ID_SECRET, HOST_ID_SECRET_BYTES, HostIdError, HostIds, new_host_id_secret,
};

#[cfg(test)]
mod tests;
