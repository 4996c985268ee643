//! Where replies leave Copernic: one file per connector, all behind [`Connector::send`]. A
//! connector says whether a failure is worth retrying (a timeout, a 5xx, an SMTP 4xx) or final (a
//! 4xx, an SMTP 5xx); the outbox decides when. Every attempt carries the reply's idempotency key
//! so the far side can drop a repeat when an answer was lost on the way back.

pub mod file;
pub mod mastodon;
pub mod smtp;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::config::{ConnectorConfig, ConnectorKind};

/// One reply, addressed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub idempotency_key: String,
    pub case_id: i64,
    pub channel: String,
    /// The customer: their id on the channel (e-mail address for mail), handle and name.
    pub to_id: Option<String>,
    pub to_handle: Option<String>,
    pub to_name: Option<String>,
    /// The external id of the message answered (status id, Message-ID).
    pub in_reply_to: Option<String>,
    /// Mail: the subject of the message answered.
    pub subject: Option<String>,
    pub text: String,
}

/// Delivered: what the far side calls it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivered {
    pub remote_id: Option<String>,
}

/// A failed attempt.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Worth trying again later.
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError {
            retryable: true,
            message: message.into(),
        }
    }

    pub fn fatal(message: impl Into<String>) -> SendError {
        SendError {
            retryable: false,
            message: message.into(),
        }
    }

    /// From an HTTP status: 408, 425, 429 and 5xx are worth retrying; other 4xx are not.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> SendError {
        let retryable = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
        let body: String = body.chars().take(300).collect();
        SendError {
            retryable,
            message: format!("HTTP {status}: {body}"),
        }
    }
}

/// A configured connector.
pub struct Connector {
    pub config: ConnectorConfig,
    http: reqwest::Client,
}

impl Connector {
    pub fn new(config: ConnectorConfig) -> Connector {
        let timeout = config
            .timeout
            .and_then(|d| d.to_std().ok())
            .unwrap_or(std::time::Duration::from_secs(20));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("copernic/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Connector { config, http }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether it carries replies of `channel` (named, or a catch-all with no channels).
    pub fn carries(&self, channel: &str) -> bool {
        self.config
            .channels
            .iter()
            .any(|c| c.eq_ignore_ascii_case(channel))
    }

    pub async fn send(&self, o: &Outgoing) -> Result<Delivered, SendError> {
        match self.config.kind {
            ConnectorKind::Webhook => webhook::send(&self.http, &self.config, o).await,
            ConnectorKind::Mastodon => mastodon::send(&self.http, &self.config, o).await,
            ConnectorKind::Smtp => smtp::send(&self.config, o).await,
            ConnectorKind::File => file::send(&self.config, o).await,
        }
    }
}

/// The connector for a channel: the first that names it, else the first that names none.
pub fn pick<'a>(connectors: &'a [Connector], channel: &str) -> Option<&'a Connector> {
    connectors
        .iter()
        .find(|c| c.carries(channel))
        .or_else(|| connectors.iter().find(|c| c.config.channels.is_empty()))
}
