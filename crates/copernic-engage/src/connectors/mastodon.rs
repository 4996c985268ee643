//! A reply as a Mastodon status: `POST /api/v1/statuses` with `in_reply_to_id`, the customer's
//! handle mentioned (Mastodon threads a reply only for those it mentions), and the reply's
//! idempotency key as `Idempotency-Key` — Mastodon answers a repeat with the status it already
//! made.

use super::{Delivered, Outgoing, SendError};
use crate::config::ConnectorConfig;

/// The status text: the reply, starting with the customer's `@handle` when it does not already.
pub fn status_text(o: &Outgoing) -> String {
    match o.to_handle.as_deref().map(|h| h.trim_start_matches('@')) {
        Some(h) if !h.is_empty() && !o.text.contains(&format!("@{h}")) => {
            format!("@{h} {}", o.text)
        }
        _ => o.text.clone(),
    }
}

pub async fn send(
    http: &reqwest::Client,
    config: &ConnectorConfig,
    o: &Outgoing,
) -> Result<Delivered, SendError> {
    let base = config
        .url
        .as_deref()
        .ok_or_else(|| SendError::fatal("the mastodon connector has no url"))?
        .trim_end_matches('/');
    let token = ConnectorConfig::resolve(&config.token, &config.token_env)
        .ok_or_else(|| SendError::fatal("the mastodon connector's token is not set"))?;
    let url = format!("{base}/api/v1/statuses");
    let mut body = serde_json::json!({ "status": status_text(o), "visibility": "public" });
    if let Some(id) = &o.in_reply_to {
        body["in_reply_to_id"] = serde_json::Value::String(id.clone());
    }
    let resp = http
        .post(&url)
        .bearer_auth(token)
        .header("idempotency-key", &o.idempotency_key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| SendError::retry(format!("POST {url}: {}", copernic_core::error_chain(&e))))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(SendError::from_status(status, &text));
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        SendError::retry(format!("{url} answered {status} with no status JSON: {e}"))
    })?;
    Ok(Delivered {
        remote_id: v.get("id").and_then(|i| i.as_str()).map(str::to_string),
    })
}
