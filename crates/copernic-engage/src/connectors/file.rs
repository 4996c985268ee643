//! Replies appended as JSON lines to a file: for a channel that another system delivers (it
//! picks the file up), for audits, and for the demo, which has nowhere real to send to. Each
//! line is written whole and flushed to disk before the reply counts as sent.

use std::io::Write;

use super::{Delivered, Outgoing, SendError};
use crate::config::ConnectorConfig;

pub async fn send(config: &ConnectorConfig, o: &Outgoing) -> Result<Delivered, SendError> {
    let path = config
        .path
        .clone()
        .ok_or_else(|| SendError::fatal("the file connector has no path"))?;
    let mut line = serde_json::to_value(o).map_err(|e| SendError::fatal(e.to_string()))?;
    line["sent_at"] = serde_json::json!(chrono::Utc::now());
    let mut bytes = serde_json::to_vec(&line).map_err(|e| SendError::fatal(e.to_string()))?;
    bytes.push(b'\n');
    let key = o.idempotency_key.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(&bytes)?;
        f.sync_data()
    })
    .await
    .map_err(|e| SendError::retry(e.to_string()))?
    .map_err(|e| {
        SendError::retry(format!(
            "cannot append to {}: {e}",
            config.path.as_deref().unwrap_or("")
        ))
    })?;
    Ok(Delivered {
        remote_id: Some(key),
    })
}
