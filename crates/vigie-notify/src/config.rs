//! The notification configuration (`notify.toml`): parsing, validation and
//! secret resolution.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::alert::Severity;
use crate::error::{ConfigError, NotifyError};

/// A secret value; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret given inline or by the name of an environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretSetting {
    /// Environment variable to read at load time (`secret_env = "..."`).
    pub env: Option<String>,
    /// The value: given inline, or filled by [`NotifyConfig::resolve_secrets`].
    pub value: Option<Secret>,
    /// Line of the setting in the source, for error messages.
    pub line: Option<usize>,
}

impl SecretSetting {
    /// An inline secret.
    pub fn inline(value: impl Into<String>) -> SecretSetting {
        SecretSetting {
            env: None,
            value: Some(Secret::new(value)),
            line: None,
        }
    }

    /// A secret to read from an environment variable.
    pub fn from_env(name: impl Into<String>) -> SecretSetting {
        SecretSetting {
            env: Some(name.into()),
            value: None,
            line: None,
        }
    }
}

/// Process-wide settings (`[settings]`, all optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Bound on each attempt of each send (default 10 s).
    pub timeout: Duration,
    /// Attempts per send, counting the first (default 3).
    pub attempts: u32,
    /// First pause between attempts; doubled each time (default 500 ms).
    pub retry_backoff: Duration,
    /// Extra trusted CA certificates (PEM text), added to the webpki roots.
    pub extra_ca_pem: Option<String>,
    /// A PEM file of extra trusted CA certificates, read by `Notifier::new`.
    pub extra_ca_file: Option<PathBuf>,
    /// HTTP(S) proxy for webhook and Matrix requests. Environment proxy
    /// variables are ignored.
    pub proxy: Option<Url>,
    /// Keys remembered per route to pair resolved messages with their
    /// opening (default 10 000; the oldest are forgotten first).
    pub max_tracked_keys: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: Duration::from_secs(10),
            attempts: 3,
            retry_backoff: Duration::from_millis(500),
            extra_ca_pem: None,
            extra_ca_file: None,
            proxy: None,
            max_tracked_keys: 10_000,
        }
    }
}

/// A signed JSON webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: Url,
    pub secret: SecretSetting,
}

/// A Matrix room (Tchap is Matrix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixConfig {
    pub homeserver: Url,
    /// Room id (`!abcdef:server`), not an alias.
    pub room: String,
    pub access_token: SecretSetting,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text; only for a local relay.
    None,
    /// STARTTLS required (default port 587).
    Starttls,
    /// Implicit TLS (default port 465).
    Tls,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// E-mail through an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Required when `username` is set.
    pub password: Option<SecretSetting>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

/// What a channel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    Webhook(WebhookConfig),
    Matrix(MatrixConfig),
    Smtp(SmtpConfig),
}

impl ChannelKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Matrix(_) => "matrix",
            ChannelKind::Smtp(_) => "smtp",
        }
    }
}

/// A named channel (`[[channel]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// Line of the channel's `name` in the source.
    pub line: Option<usize>,
}

/// At most `max` alerts per `per_seconds` (sliding window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub per_seconds: u64,
}

/// A route (`[[route]]`): which alerts go to which channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub name: String,
    pub channel: String,
    /// Default `info` (everything).
    pub min_severity: Severity,
    /// `None`: no establishment filter.
    pub establishments: Option<Vec<String>>,
    /// `None`: no region filter.
    pub regions: Option<Vec<String>>,
    pub rate_limit: Option<RateLimit>,
    /// Default true.
    pub send_resolved: bool,
    pub line: Option<usize>,
}

/// The whole notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Name of the source, used in error messages (`notify.toml`).
    pub source_name: String,
    pub settings: Settings,
    pub channels: Vec<ChannelConfig>,
    pub routes: Vec<RouteConfig>,
}

// ---------------------------------------------------------------- raw TOML

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: Option<RawSettings>,
    #[serde(default)]
    channel: Vec<Spanned<RawChannel>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    timeout_seconds: Option<Spanned<u64>>,
    attempts: Option<Spanned<u32>>,
    retry_backoff_ms: Option<u64>,
    extra_ca_pem: Option<String>,
    extra_ca_file: Option<String>,
    proxy: Option<Spanned<String>>,
    max_tracked_keys: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    kind: Spanned<String>,
    // webhook
    url: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    // matrix
    homeserver: Option<Spanned<String>>,
    room: Option<Spanned<String>>,
    access_token: Option<Spanned<String>>,
    access_token_env: Option<Spanned<String>>,
    // smtp
    host: Option<Spanned<String>>,
    port: Option<Spanned<u16>>,
    tls: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Spanned<String>,
    channel: Spanned<String>,
    min_severity: Option<Spanned<String>>,
    establishments: Option<Spanned<Vec<String>>>,
    regions: Option<Spanned<Vec<String>>>,
    rate_limit: Option<Spanned<RawRateLimit>>,
    send_resolved: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    max: u32,
    per_seconds: u64,
}

/// Converts byte offsets into 1-based line numbers.
struct Lines<'a> {
    text: &'a str,
    source: &'a str,
}

impl Lines<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        let prefix = self.text.as_bytes().get(..end).unwrap_or_default();
        prefix.iter().filter(|b| **b == b'\n').count() + 1
    }

    fn at<T>(&self, spanned: &Spanned<T>) -> Option<usize> {
        Some(self.line_of(spanned.span().start))
    }

    fn err(&self, line: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            source_name: self.source.to_string(),
            line,
            message: message.into(),
        }
    }
}

fn non_empty(
    lines: &Lines<'_>,
    value: &Spanned<String>,
    what: &str,
) -> Result<String, ConfigError> {
    let v = value.get_ref().trim();
    if v.is_empty() {
        return Err(lines.err(lines.at(value), format!("{what} is empty")));
    }
    Ok(v.to_string())
}

fn parse_http_url(
    lines: &Lines<'_>,
    value: &Spanned<String>,
    what: &str,
) -> Result<Url, ConfigError> {
    let line = lines.at(value);
    let url = Url::parse(value.get_ref().trim()).map_err(|e| {
        lines.err(
            line,
            format!("{what} \"{}\" is not a valid URL: {e}", value.get_ref()),
        )
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(lines.err(
            line,
            format!(
                "{what} \"{}\" must be an http or https URL",
                value.get_ref()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(lines.err(line, format!("{what} \"{}\" has no host", value.get_ref())));
    }
    Ok(url)
}

/// `secret` / `secret_env` pair → setting; exactly one required unless `optional`.
fn secret_pair(
    lines: &Lines<'_>,
    channel: &str,
    channel_line: Option<usize>,
    inline: &Option<Spanned<String>>,
    env: &Option<Spanned<String>>,
    names: (&str, &str),
    optional: bool,
) -> Result<Option<SecretSetting>, ConfigError> {
    match (inline, env) {
        (Some(a), Some(_)) => Err(lines.err(
            lines.at(a),
            format!(
                "channel \"{channel}\": give either {} or {}, not both",
                names.0, names.1
            ),
        )),
        (Some(v), None) => {
            if v.get_ref().is_empty() {
                return Err(lines.err(
                    lines.at(v),
                    format!("channel \"{channel}\": {} is empty", names.0),
                ));
            }
            Ok(Some(SecretSetting {
                env: None,
                value: Some(Secret::new(v.get_ref().clone())),
                line: lines.at(v),
            }))
        }
        (None, Some(e)) => {
            let name = e.get_ref().trim();
            if name.is_empty() {
                return Err(lines.err(
                    lines.at(e),
                    format!("channel \"{channel}\": {} is empty", names.1),
                ));
            }
            Ok(Some(SecretSetting {
                env: Some(name.to_string()),
                value: None,
                line: lines.at(e),
            }))
        }
        (None, None) if optional => Ok(None),
        (None, None) => Err(lines.err(
            channel_line,
            format!(
                "channel \"{channel}\": missing {} (or {})",
                names.1, names.0
            ),
        )),
    }
}

impl RawChannel {
    /// The fields that are set, with their lines, for "does not apply" checks.
    fn present_fields(&self, lines: &Lines<'_>) -> Vec<(&'static str, Option<usize>)> {
        let mut out = Vec::new();
        let mut push = |name: &'static str, line: Option<Option<usize>>| {
            if let Some(l) = line {
                out.push((name, l));
            }
        };
        push("url", self.url.as_ref().map(|s| lines.at(s)));
        push("secret", self.secret.as_ref().map(|s| lines.at(s)));
        push("secret_env", self.secret_env.as_ref().map(|s| lines.at(s)));
        push("homeserver", self.homeserver.as_ref().map(|s| lines.at(s)));
        push("room", self.room.as_ref().map(|s| lines.at(s)));
        push(
            "access_token",
            self.access_token.as_ref().map(|s| lines.at(s)),
        );
        push(
            "access_token_env",
            self.access_token_env.as_ref().map(|s| lines.at(s)),
        );
        push("host", self.host.as_ref().map(|s| lines.at(s)));
        push("port", self.port.as_ref().map(|s| lines.at(s)));
        push("tls", self.tls.as_ref().map(|s| lines.at(s)));
        push("username", self.username.as_ref().map(|s| lines.at(s)));
        push("password", self.password.as_ref().map(|s| lines.at(s)));
        push(
            "password_env",
            self.password_env.as_ref().map(|s| lines.at(s)),
        );
        push("from", self.from.as_ref().map(|s| lines.at(s)));
        push("to", self.to.as_ref().map(|s| lines.at(s)));
        out
    }

    fn build(&self, lines: &Lines<'_>) -> Result<ChannelConfig, ConfigError> {
        let line = lines.at(&self.name);
        let name = non_empty(lines, &self.name, "channel name")?;
        let kind = self.kind.get_ref().trim().to_ascii_lowercase();
        let allowed: &[&str] = match kind.as_str() {
            "webhook" => &["url", "secret", "secret_env"],
            "matrix" => &["homeserver", "room", "access_token", "access_token_env"],
            "smtp" => &[
                "host",
                "port",
                "tls",
                "username",
                "password",
                "password_env",
                "from",
                "to",
            ],
            other => {
                return Err(lines.err(
                    lines.at(&self.kind),
                    format!(
                        "channel \"{name}\": unknown kind \"{other}\" (expected webhook, matrix or smtp)"
                    ),
                ));
            }
        };
        for (field, fline) in self.present_fields(lines) {
            if !allowed.contains(&field) {
                return Err(lines.err(
                    fline,
                    format!("channel \"{name}\": field {field} does not apply to a {kind} channel"),
                ));
            }
        }
        let missing =
            |field: &str| lines.err(line, format!("channel \"{name}\": missing field {field}"));
        let kind = match kind.as_str() {
            "webhook" => {
                let url = self.url.as_ref().ok_or_else(|| missing("url"))?;
                let url = parse_http_url(lines, url, &format!("channel \"{name}\": url"))?;
                let secret = secret_pair(
                    lines,
                    &name,
                    line,
                    &self.secret,
                    &self.secret_env,
                    ("secret", "secret_env"),
                    false,
                )?
                .unwrap_or_default();
                ChannelKind::Webhook(WebhookConfig { url, secret })
            }
            "matrix" => {
                let hs = self
                    .homeserver
                    .as_ref()
                    .ok_or_else(|| missing("homeserver"))?;
                let homeserver =
                    parse_http_url(lines, hs, &format!("channel \"{name}\": homeserver"))?;
                let room = self.room.as_ref().ok_or_else(|| missing("room"))?;
                let room_id = room.get_ref().trim().to_string();
                if !room_id.starts_with('!') || room_id.len() < 2 {
                    return Err(lines.err(
                        lines.at(room),
                        format!(
                            "channel \"{name}\": room \"{room_id}\" is not a room id (it starts with '!'; \
                             resolve an alias such as #room:server to its id first)"
                        ),
                    ));
                }
                let access_token = secret_pair(
                    lines,
                    &name,
                    line,
                    &self.access_token,
                    &self.access_token_env,
                    ("access_token", "access_token_env"),
                    false,
                )?
                .unwrap_or_default();
                ChannelKind::Matrix(MatrixConfig {
                    homeserver,
                    room: room_id,
                    access_token,
                })
            }
            _ => {
                let host = self.host.as_ref().ok_or_else(|| missing("host"))?;
                let host = non_empty(lines, host, &format!("channel \"{name}\": host"))?;
                let tls = match &self.tls {
                    None => SmtpTls::Starttls,
                    Some(t) => match t.get_ref().trim().to_ascii_lowercase().as_str() {
                        "none" => SmtpTls::None,
                        "starttls" => SmtpTls::Starttls,
                        "tls" => SmtpTls::Tls,
                        other => {
                            return Err(lines.err(
                                lines.at(t),
                                format!(
                                    "channel \"{name}\": tls \"{other}\" (expected none, starttls or tls)"
                                ),
                            ));
                        }
                    },
                };
                let port = match &self.port {
                    None => tls.default_port(),
                    Some(p) if *p.get_ref() == 0 => {
                        return Err(lines.err(lines.at(p), format!("channel \"{name}\": port 0")));
                    }
                    Some(p) => *p.get_ref(),
                };
                let username = match &self.username {
                    None => None,
                    Some(u) => Some(non_empty(
                        lines,
                        u,
                        &format!("channel \"{name}\": username"),
                    )?),
                };
                let password = secret_pair(
                    lines,
                    &name,
                    line,
                    &self.password,
                    &self.password_env,
                    ("password", "password_env"),
                    true,
                )?;
                match (&username, &password) {
                    (Some(_), None) => {
                        return Err(lines.err(
                            line,
                            format!("channel \"{name}\": username is set but neither password_env nor password"),
                        ));
                    }
                    (None, Some(p)) => {
                        return Err(lines.err(
                            p.line.or(line),
                            format!("channel \"{name}\": a password without a username"),
                        ));
                    }
                    _ => {}
                }
                let from = self.from.as_ref().ok_or_else(|| missing("from"))?;
                let from_mb: Mailbox = from.get_ref().trim().parse().map_err(|e| {
                    lines.err(
                        lines.at(from),
                        format!(
                            "channel \"{name}\": from \"{}\" is not a valid address: {e}",
                            from.get_ref()
                        ),
                    )
                })?;
                let to = self.to.as_ref().ok_or_else(|| missing("to"))?;
                if to.get_ref().is_empty() {
                    return Err(lines.err(lines.at(to), format!("channel \"{name}\": to is empty")));
                }
                let mut recipients = Vec::new();
                for r in to.get_ref() {
                    let mb: Mailbox = r.get_ref().trim().parse().map_err(|e| {
                        lines.err(
                            lines.at(r),
                            format!(
                                "channel \"{name}\": recipient \"{}\" is not a valid address: {e}",
                                r.get_ref()
                            ),
                        )
                    })?;
                    recipients.push(mb);
                }
                ChannelKind::Smtp(SmtpConfig {
                    host,
                    port,
                    tls,
                    username,
                    password,
                    from: from_mb,
                    to: recipients,
                })
            }
        };
        Ok(ChannelConfig { name, kind, line })
    }
}

fn code_list(
    lines: &Lines<'_>,
    route: &str,
    field: &str,
    list: &Option<Spanned<Vec<String>>>,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = list else { return Ok(None) };
    let codes: Vec<String> = list
        .get_ref()
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    if codes.is_empty() {
        return Err(lines.err(
            lines.at(list),
            format!("route \"{route}\": {field} is empty (remove it to match every {field})"),
        ));
    }
    if codes.iter().any(String::is_empty) {
        return Err(lines.err(
            lines.at(list),
            format!("route \"{route}\": {field} has an empty code"),
        ));
    }
    Ok(Some(codes))
}

impl RawRoute {
    fn build(&self, lines: &Lines<'_>) -> Result<RouteConfig, ConfigError> {
        let line = lines.at(&self.name);
        let name = non_empty(lines, &self.name, "route name")?;
        let channel = non_empty(lines, &self.channel, &format!("route \"{name}\": channel"))?;
        let min_severity = match &self.min_severity {
            None => Severity::Info,
            Some(s) => s
                .get_ref()
                .parse()
                .map_err(|e| lines.err(lines.at(s), format!("route \"{name}\": {e}")))?,
        };
        let rate_limit = match &self.rate_limit {
            None => None,
            Some(rl) => {
                let r = rl.get_ref();
                if r.max == 0 || r.per_seconds == 0 {
                    return Err(lines.err(
                        lines.at(rl),
                        format!(
                            "route \"{name}\": rate_limit needs max and per_seconds above zero \
                             (remove rate_limit for no limit)"
                        ),
                    ));
                }
                Some(RateLimit {
                    max: r.max,
                    per_seconds: r.per_seconds,
                })
            }
        };
        Ok(RouteConfig {
            establishments: code_list(lines, &name, "establishments", &self.establishments)?,
            regions: code_list(lines, &name, "regions", &self.regions)?,
            name,
            channel,
            min_severity,
            rate_limit,
            send_resolved: self.send_resolved.unwrap_or(true),
            line,
        })
    }
}

impl NotifyConfig {
    /// Parses and validates a configuration. `source_name` (a file name) is
    /// used in error messages, which name the line when it is known.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<NotifyConfig, ConfigError> {
        let lines = Lines {
            text,
            source: source_name,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| lines.line_of(s.start));
            lines.err(line, e.message().trim().to_string())
        })?;

        let mut settings = Settings::default();
        if let Some(s) = raw.settings {
            if let Some(t) = s.timeout_seconds {
                if *t.get_ref() == 0 {
                    return Err(
                        lines.err(lines.at(&t), "settings: timeout_seconds must be above zero")
                    );
                }
                settings.timeout = Duration::from_secs(*t.get_ref());
            }
            if let Some(a) = s.attempts {
                if *a.get_ref() == 0 || *a.get_ref() > 10 {
                    return Err(
                        lines.err(lines.at(&a), "settings: attempts must be between 1 and 10")
                    );
                }
                settings.attempts = *a.get_ref();
            }
            if let Some(ms) = s.retry_backoff_ms {
                settings.retry_backoff = Duration::from_millis(ms.min(60_000));
            }
            settings.extra_ca_pem = s.extra_ca_pem;
            settings.extra_ca_file = s.extra_ca_file.map(PathBuf::from);
            if let Some(p) = s.proxy {
                settings.proxy = Some(parse_http_url(&lines, &p, "settings: proxy")?);
            }
            if let Some(k) = s.max_tracked_keys {
                if *k.get_ref() == 0 {
                    return Err(lines.err(
                        lines.at(&k),
                        "settings: max_tracked_keys must be above zero",
                    ));
                }
                settings.max_tracked_keys = *k.get_ref();
            }
        }

        let mut channels: Vec<ChannelConfig> = Vec::new();
        for c in &raw.channel {
            let built = c.get_ref().build(&lines)?;
            if channels.iter().any(|o| o.name == built.name) {
                return Err(lines.err(
                    built.line,
                    format!("duplicate channel name \"{}\"", built.name),
                ));
            }
            channels.push(built);
        }
        let mut routes: Vec<RouteConfig> = Vec::new();
        for r in &raw.route {
            let built = r.get_ref().build(&lines)?;
            if routes.iter().any(|o| o.name == built.name) {
                return Err(lines.err(
                    built.line,
                    format!("duplicate route name \"{}\"", built.name),
                ));
            }
            if !channels.iter().any(|c| c.name == built.channel) {
                let known: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
                return Err(lines.err(
                    lines.at(&r.get_ref().channel),
                    format!(
                        "unknown channel \"{}\" in route \"{}\" (channels: {})",
                        built.channel,
                        built.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            routes.push(built);
        }
        let cfg = NotifyConfig {
            source_name: source_name.to_string(),
            settings,
            channels,
            routes,
        };
        Ok(cfg)
    }

    /// Reads every `*_env` secret through `lookup` (normally
    /// `|name| std::env::var(name).ok()`). A variable that is unset or empty
    /// is an error naming the channel, the variable and the line.
    pub fn resolve_secrets<F>(&mut self, lookup: F) -> Result<(), NotifyError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let source = self.source_name.clone();
        for ch in &mut self.channels {
            let name = ch.name.clone();
            let settings: Vec<(&'static str, &mut SecretSetting)> = match &mut ch.kind {
                ChannelKind::Webhook(w) => vec![("secret_env", &mut w.secret)],
                ChannelKind::Matrix(m) => vec![("access_token_env", &mut m.access_token)],
                ChannelKind::Smtp(s) => s
                    .password
                    .as_mut()
                    .map(|p| ("password_env", p))
                    .into_iter()
                    .collect(),
            };
            for (field, setting) in settings {
                let Some(var) = setting.env.clone() else {
                    continue;
                };
                match lookup(&var) {
                    Some(v) if !v.is_empty() => setting.value = Some(Secret::new(v)),
                    _ => {
                        return Err(NotifyError::Config(ConfigError {
                            source_name: source.clone(),
                            line: setting.line,
                            message: format!(
                                "channel \"{name}\": environment variable {var} ({field}) is not set or empty"
                            ),
                        }));
                    }
                }
            }
        }
        Ok(())
    }

    /// Names of the channels no route uses (worth a warning).
    pub fn unused_channels(&self) -> Vec<String> {
        let used: HashSet<&str> = self.routes.iter().map(|r| r.channel.as_str()).collect();
        self.channels
            .iter()
            .filter(|c| !used.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect()
    }
}
