//! vigie notifications.
//!
//! One [`Alert`] (an incident opened, grown or resolved, a watch target that
//! failed or recovered, a warning) is dispatched by a [`Notifier`] to every
//! configured route that matches it (by severity, establishment and region),
//! once per route, honouring each route's rate limit. Routes send through
//! channels: signed JSON webhooks, Matrix rooms (Tchap) and SMTP e-mail.
//!
//! The configuration is TOML ([`NotifyConfig::from_toml_str`]); secrets are
//! read from the environment at load time through an injectable lookup
//! ([`NotifyConfig::resolve_secrets`]). See `docs/notifications.md`.
//!
//! TLS is rustls with the ring provider, configured explicitly: nothing here
//! depends on the process-wide default provider (lettre falls back to ring
//! when none is installed).

mod alert;
mod channel;
mod config;
mod error;
mod notifier;
mod render;
mod routing;
mod signature;

pub use alert::{Alert, AlertKind, ParseSeverityError, Severity};
pub use config::{
    ChannelConfig, ChannelKind, MatrixConfig, NotifyConfig, RateLimit, RouteConfig, Secret,
    SecretSetting, Settings, SmtpConfig, SmtpTls, WebhookConfig,
};
pub use error::{ConfigError, NotifyError};
pub use notifier::{Delivery, DeliveryOutcome, Notifier};
pub use render::format_utc;
pub use signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature};

/// `vigie/<version>`, sent as the HTTP User-Agent.
pub const USER_AGENT: &str = concat!("vigie/", env!("CARGO_PKG_VERSION"));
