//! A reply POSTed as JSON to a URL the brand runs, signed like the webhooks Copernic receives:
//! `X-Copernic-Signature: sha256=HMAC(secret, timestamp "." body)` with `X-Copernic-Timestamp`.

use super::{Delivered, Outgoing, SendError};
use crate::config::ConnectorConfig;

pub async fn send(
    http: &reqwest::Client,
    config: &ConnectorConfig,
    o: &Outgoing,
) -> Result<Delivered, SendError> {
    let url = config
        .url
        .as_deref()
        .ok_or_else(|| SendError::fatal("the webhook connector has no url"))?;
    let body = serde_json::to_vec(o).map_err(|e| SendError::fatal(e.to_string()))?;
    let ts = chrono::Utc::now().timestamp();
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", &o.idempotency_key)
        .header("x-copernic-timestamp", ts.to_string());
    if let Some(secret) = ConnectorConfig::resolve(&config.secret, &config.secret_env) {
        req = req.header(
            "x-copernic-signature",
            copernic_core::hash::sign(&secret, Some(ts), &body),
        );
    }
    let resp =
        req.body(body).send().await.map_err(|e| {
            SendError::retry(format!("POST {url}: {}", copernic_core::error_chain(&e)))
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(SendError::from_status(status, &text));
    }
    let remote_id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("id")
                .map(|id| id.as_str().map_or(id.to_string(), str::to_string))
        });
    Ok(Delivered { remote_id })
}
