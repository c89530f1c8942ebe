//! `vigie user`, `vigie token` and `vigie audit`: accounts, API tokens and
//! the audit log, administered from the machine that holds the database.
//!
//! Every change is appended to the audit log with the actor
//! `cli:<$USER>` (`cli:local` when `$USER` is unset): whoever can run these
//! commands can open the database, so the command line is the national
//! administrator of last resort (and how the first account is created).

use crate::app::Ctx;
use crate::output::{OutputFormat, Table, emit};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use vigie_auth::{Grant, hash_password, new_api_token, normalize_token_name, normalize_username};
use vigie_core::{Day, EstablishmentCode, RegionCode};
use vigie_store::{
    ApiTokenRecord, AuditEntry, AuditFilter, NewApiToken, NewAuditEntry, NewUser, Store, UserRecord,
};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from the terminal (twice,
    /// without echo) or, with --password-stdin, from the first line of
    /// standard input; never from the command line.
    Add(UserAddArgs),
    /// Every account, with its role and perimeter.
    List,
    /// Refuse an account's logins and end its sessions (its history stays).
    Disable { name: String },
    /// Let a disabled account log in again.
    Enable { name: String },
    /// Set a new password (ends the account's sessions).
    Passwd {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Args)]
pub struct UserAddArgs {
    /// Username: a-z, 0-9, '.', '_', '@', '-' (stored in lowercase).
    name: String,
    #[command(flatten)]
    grant: GrantArgs,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Args)]
pub struct GrantArgs {
    /// national-admin, national-analyst, regional-analyst (with --region),
    /// establishment-officer (with --establishment), ingest (tokens, with --establishment).
    #[arg(long)]
    role: String,
    /// The region of a regional analyst.
    #[arg(long)]
    region: Option<String>,
    /// The establishment of an establishment officer or an ingest token.
    #[arg(long)]
    establishment: Option<String>,
}

impl GrantArgs {
    /// The same rules as the web administration (`vigie_auth`).
    fn grant(&self) -> Result<Grant> {
        Ok(Grant::from_input(
            &self.role,
            self.region.as_deref(),
            self.establishment.as_deref(),
        )?)
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its secret is printed once and never stored.
    Create(TokenCreateArgs),
    /// Every token: prefix, name, role, perimeter, expiry, revocation, last use.
    List,
    /// Revoke a token by its id or prefix (as `token list` shows them).
    Revoke { id_or_prefix: String },
}

#[derive(Args)]
pub struct TokenCreateArgs {
    /// What the token is for, e.g. "RX1 GLPI export".
    #[arg(long)]
    name: String,
    #[command(flatten)]
    grant: GrantArgs,
    /// Expire the token after this many days (default: never).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(vigie_auth::MAX_TOKEN_DAYS)))]
    expires_days: Option<u32>,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Entries at or after this day (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only this action (login, ingest, export, user.add, token.revoke, …).
    #[arg(long)]
    action: Option<String>,
    /// Only this actor (user:alice, token:NAME, cli:root, …).
    #[arg(long)]
    actor: Option<String>,
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    limit: u64,
}

/// Who the audit log says ran a command: `cli:$USER`, or `cli:local`.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty() && u.len() <= 64 && !u.chars().any(char::is_control))
        .unwrap_or_else(|| "local".into());
    format!("cli:{user}")
}

/// Appends an audit entry for a command's outcome. A failure to write it
/// makes the command fail (an administrative change must not go unlogged)
/// unless the command had already failed, whose error is the one reported.
async fn audit_outcome<T>(
    store: &dyn Store,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    result: &Result<T>,
) -> Result<()> {
    let (outcome, detail) = match result {
        Ok(_) => ("ok", detail),
        Err(e) => {
            let mut d = detail;
            if let serde_json::Value::Object(m) = &mut d {
                m.insert("error".into(), serde_json::Value::String(format!("{e:#}")));
            }
            ("failed", d)
        }
    };
    let entry = NewAuditEntry {
        at: Timestamp::now(),
        actor: cli_actor(),
        action: action.into(),
        target: target.into(),
        outcome: outcome.into(),
        ip: None,
        detail,
    };
    match (store.append_audit(&entry).await, result) {
        (Err(e), Ok(_)) => Err(e).context("writing the audit log"),
        _ => Ok(()),
    }
}

fn grant_detail(g: &Grant) -> serde_json::Value {
    serde_json::json!({
        "role": g.role().as_str(),
        "region": g.region().map(|r| r.as_str()),
        "establishment": g.establishment().map(|e| e.as_str()),
    })
}

fn perimeter(region: Option<&RegionCode>, est: Option<&EstablishmentCode>) -> String {
    match (region, est) {
        (Some(r), _) => format!("region {r}"),
        (None, Some(e)) => format!("establishment {e}"),
        (None, None) => "sector".into(),
    }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

// --- passwords -------------------------------------------------------------

/// Turns terminal echo off while alive (with `stty`, so no extra crate),
/// and back on when dropped.
struct NoEcho {
    active: bool,
}

impl NoEcho {
    fn new() -> NoEcho {
        let active = std::process::Command::new("stty")
            .arg("-echo")
            .stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        NoEcho { active }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if self.active {
            let _ = std::process::Command::new("stty")
                .arg("echo")
                .stdin(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// One line without its line ending (and only that: spaces are part of a
/// password).
fn read_line(input: &mut dyn BufRead) -> Result<String> {
    let mut line = String::new();
    input.read_line(&mut line).context("reading the password")?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

fn prompt_hidden(prompt: &str) -> Result<String> {
    let mut err = std::io::stderr();
    write!(err, "{prompt}")?;
    err.flush()?;
    let line = {
        let _guard = NoEcho::new();
        read_line(&mut std::io::stdin().lock())
    };
    writeln!(err)?;
    line
}

/// The new password, from standard input or prompted twice on a terminal,
/// already hashed (the policy is checked before asking twice).
fn read_new_password(username: &str, from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        read_line(&mut std::io::stdin().lock())?
    } else {
        if !std::io::stdin().is_terminal() {
            bail!(
                "no terminal to ask the password on: pipe it with --password-stdin \
                 (it is never accepted as an argument)"
            );
        }
        let first = prompt_hidden(&format!("Password for {username}: "))?;
        vigie_auth::check_password_policy(&first)?;
        let second = prompt_hidden("Same password again: ")?;
        if !vigie_auth::constant_time_eq(first.as_bytes(), second.as_bytes()) {
            bail!("the two passwords differ");
        }
        first
    };
    Ok(hash_password(&password)?)
}

// --- users -----------------------------------------------------------------

fn users_table(users: &[UserRecord]) -> Table {
    let mut t = Table::new([
        "id",
        "username",
        "role",
        "perimeter",
        "created",
        "last login",
        "disabled",
    ]);
    for u in users {
        t.row([
            u.id.to_string(),
            u.username.clone(),
            u.role.clone(),
            perimeter(u.region.as_ref(), u.establishment.as_ref()),
            u.created_at.to_string(),
            time(u.last_login_at),
            time(u.disabled_at),
        ]);
    }
    t
}

pub async fn user(ctx: &Ctx, cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add(a) => user_add(ctx, a).await,
        UserCommand::List => {
            let store = ctx.store().await?;
            let users = store.users().await?;
            emit(ctx.format, &users, &users_table(&users))?;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Disable { name } => user_set_disabled(ctx, &name, true).await,
        UserCommand::Enable { name } => user_set_disabled(ctx, &name, false).await,
        UserCommand::Passwd {
            name,
            password_stdin,
        } => user_passwd(ctx, &name, password_stdin).await,
    }
}

async fn user_add(ctx: &Ctx, a: UserAddArgs) -> Result<ExitCode> {
    let username = normalize_username(&a.name)?;
    let grant = a.grant.grant()?;
    if let Err(e) = grant.check_account() {
        bail!("{e}: use `vigie token create --role ingest --establishment CODE`");
    }
    let store = ctx.store().await?;
    // refuse a taken name before asking for a password
    if store.user_by_name(&username).await?.is_some() {
        bail!("user {username:?} already exists");
    }
    let password_hash = read_new_password(&username, a.password_stdin)?;
    let new = NewUser {
        username: username.clone(),
        password_hash,
        role: grant.role().as_str().into(),
        region: grant.region().cloned(),
        establishment: grant.establishment().cloned(),
        created_at: Timestamp::now(),
    };
    let result = store.create_user(&new).await.map_err(anyhow::Error::from);
    audit_outcome(
        store.as_ref(),
        "user.add",
        &username,
        grant_detail(&grant),
        &result,
    )
    .await?;
    let user = result?;
    emit(ctx.format, &user, &users_table(std::slice::from_ref(&user)))?;
    Ok(ExitCode::SUCCESS)
}

async fn user_set_disabled(ctx: &Ctx, raw: &str, disabled: bool) -> Result<ExitCode> {
    let username = normalize_username(raw)?;
    let store = ctx.store().await?;
    let result = store
        .set_user_disabled(&username, disabled, Timestamp::now())
        .await
        .map_err(anyhow::Error::from)
        .and_then(|u| u.with_context(|| format!("no user {username:?} (see `vigie user list`)")));
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit_outcome(
        store.as_ref(),
        action,
        &username,
        serde_json::json!({}),
        &result,
    )
    .await?;
    let user = result?;
    emit(ctx.format, &user, &users_table(std::slice::from_ref(&user)))?;
    Ok(ExitCode::SUCCESS)
}

async fn user_passwd(ctx: &Ctx, raw: &str, from_stdin: bool) -> Result<ExitCode> {
    let username = normalize_username(raw)?;
    let store = ctx.store().await?;
    if store.user_by_name(&username).await?.is_none() {
        bail!("no user {username:?} (see `vigie user list`)");
    }
    let hash = read_new_password(&username, from_stdin)?;
    let result = store
        .set_user_password(&username, &hash)
        .await
        .map_err(anyhow::Error::from)
        .and_then(|found| {
            if found {
                Ok(())
            } else {
                bail!("no user {username:?}")
            }
        });
    audit_outcome(
        store.as_ref(),
        "user.passwd",
        &username,
        serde_json::json!({}),
        &result,
    )
    .await?;
    result?;
    if ctx.format == OutputFormat::Table {
        println!("password of {username} changed; its sessions are ended");
    } else {
        emit(
            ctx.format,
            &serde_json::json!({"username": username, "password_changed": true}),
            &Table {
                headers: vec!["username".into(), "password changed".into()],
                rows: vec![vec![username.clone(), "true".into()]],
            },
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

// --- tokens ----------------------------------------------------------------

/// A token as listed: the record (never its hash) and its state.
#[derive(Serialize)]
struct TokenView<'a> {
    #[serde(flatten)]
    token: &'a ApiTokenRecord,
    /// active, expired or revoked.
    state: &'static str,
}

fn tokens_table(tokens: &[ApiTokenRecord], now: Timestamp) -> Table {
    let mut t = Table::new([
        "id",
        "prefix",
        "name",
        "role",
        "perimeter",
        "state",
        "created",
        "created by",
        "expires",
        "revoked",
        "last used",
    ]);
    for k in tokens {
        t.row([
            k.id.to_string(),
            k.prefix.clone(),
            k.name.clone(),
            k.role.clone(),
            perimeter(k.region.as_ref(), k.establishment.as_ref()),
            k.state(now).to_string(),
            k.created_at.to_string(),
            k.created_by.clone(),
            time(k.expires_at),
            time(k.revoked_at),
            time(k.last_used_at),
        ]);
    }
    t
}

pub async fn token(ctx: &Ctx, cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create(a) => token_create(ctx, a).await,
        TokenCommand::List => {
            let store = ctx.store().await?;
            let tokens = store.tokens().await?;
            let now = Timestamp::now();
            let views: Vec<TokenView> = tokens
                .iter()
                .map(|t| TokenView {
                    token: t,
                    state: t.state(now),
                })
                .collect();
            emit(ctx.format, &views, &tokens_table(&tokens, now))?;
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id_or_prefix } => token_revoke(ctx, &id_or_prefix).await,
    }
}

async fn token_create(ctx: &Ctx, a: TokenCreateArgs) -> Result<ExitCode> {
    let name = normalize_token_name(&a.name).context("--name")?;
    let grant = a.grant.grant()?;
    // whole seconds, as stored
    let now = Timestamp::from_second(Timestamp::now().as_second())?;
    let expires_at = a
        .expires_days
        .map(|d| {
            now.checked_add(jiff::SignedDuration::from_hours(i64::from(d) * 24))
                .context("--expires-days")
        })
        .transpose()?;
    let store = ctx.store().await?;
    let secret = new_api_token()?;
    let new = NewApiToken {
        name: name.clone(),
        prefix: secret.prefix.clone(),
        token_hash: secret.hash.clone(),
        role: grant.role().as_str().into(),
        region: grant.region().cloned(),
        establishment: grant.establishment().cloned(),
        created_by: cli_actor(),
        created_at: now,
        expires_at,
    };
    let result = store.create_token(&new).await.map_err(anyhow::Error::from);
    let mut detail = grant_detail(&grant);
    if let serde_json::Value::Object(m) = &mut detail {
        m.insert("name".into(), serde_json::Value::String(name.clone()));
        m.insert(
            "expires_at".into(),
            expires_at.map_or(serde_json::Value::Null, |e| {
                serde_json::Value::String(e.to_string())
            }),
        );
    }
    audit_outcome(
        store.as_ref(),
        "token.create",
        &secret.prefix,
        detail,
        &result,
    )
    .await?;
    let token = result?;

    #[derive(Serialize)]
    struct Created<'a> {
        #[serde(flatten)]
        token: &'a ApiTokenRecord,
        /// Shown once: only its SHA-256 is stored.
        secret: &'a str,
    }
    let created = Created {
        token: &token,
        secret: &secret.secret,
    };
    let notice = "This is the only time the token's secret is shown: vigie keeps only its hash. \
                  Store it now (e.g. in the ingest job's secret store).";
    match ctx.format {
        OutputFormat::Table => {
            let t = tokens_table(std::slice::from_ref(&token), now);
            emit(ctx.format, &created, &t)?;
            // on its own line, never wrapped by the table layout
            println!("secret: {}", secret.secret);
            eprintln!("{notice}");
        }
        OutputFormat::Json | OutputFormat::Csv => {
            let mut t = tokens_table(std::slice::from_ref(&token), now);
            t.headers.push("secret".into());
            if let Some(r) = t.rows.first_mut() {
                r.push(secret.secret.clone());
            }
            emit(ctx.format, &created, &t)?;
            eprintln!("{notice}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn token_revoke(ctx: &Ctx, key: &str) -> Result<ExitCode> {
    let store = ctx.store().await?;
    // whole seconds, as stored
    let now = Timestamp::from_second(Timestamp::now().as_second())?;
    let result = store
        .revoke_token(key, now)
        .await
        .map_err(anyhow::Error::from)
        .and_then(|t| t.with_context(|| format!("no token {key:?} (see `vigie token list`)")));
    let target = result
        .as_ref()
        .map(|t| t.prefix.clone())
        .unwrap_or_else(|_| key.to_string());
    let detail = match &result {
        Ok(t) => serde_json::json!({"id": t.id, "name": t.name}),
        Err(_) => serde_json::json!({}),
    };
    audit_outcome(store.as_ref(), "token.revoke", &target, detail, &result).await?;
    let token = result?;
    if token.revoked_at.is_some_and(|r| r < now) {
        eprintln!(
            "token {} was already revoked at {}",
            token.prefix,
            time(token.revoked_at)
        );
    }
    let view = TokenView {
        token: &token,
        state: token.state(now),
    };
    emit(
        ctx.format,
        &view,
        &tokens_table(std::slice::from_ref(&token), now),
    )?;
    Ok(ExitCode::SUCCESS)
}

// --- audit -----------------------------------------------------------------

fn parse_since(s: &str) -> Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let day = Day::parse(s).with_context(|| {
        format!("--since {s:?}: expected a day (YYYY-MM-DD) or an RFC 3339 time")
    })?;
    Timestamp::from_second(day.start_second()).context("--since")
}

pub async fn audit(ctx: &Ctx, a: AuditArgs) -> Result<ExitCode> {
    let filter = AuditFilter {
        since: a.since.as_deref().map(parse_since).transpose()?,
        action: a.action,
        actor: a.actor,
        before_id: None,
        limit: a.limit,
    };
    let store = ctx.store().await?;
    let entries: Vec<AuditEntry> = store.audit(&filter).await?;
    let mut t = Table::new([
        "id", "at", "actor", "action", "target", "outcome", "ip", "detail",
    ]);
    for e in &entries {
        t.row([
            e.id.to_string(),
            e.at.to_string(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.outcome.clone(),
            e.ip.clone().unwrap_or_else(|| "-".into()),
            if e.detail.is_null() {
                String::new()
            } else {
                e.detail.to_string()
            },
        ]);
    }
    emit(ctx.format, &entries, &t)?;
    Ok(ExitCode::SUCCESS)
}
