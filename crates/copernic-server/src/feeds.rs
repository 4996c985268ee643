//! Feed polling: one task per feed, each on its own interval, with conditional requests so an
//! unchanged feed costs a 304.

use std::sync::Arc;

use copernic_pipeline::sources::feed::{poll_once, FeedConfig};
use copernic_pipeline::Ingestor;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts a poller per feed; each stops when `stop` turns true.
pub fn spawn_pollers(
    feeds: &[FeedConfig],
    ingestor: Arc<Ingestor>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("copernic/", env!("CARGO_PKG_VERSION")))
        // A feed that hangs must not hold its poller forever.
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    feeds
        .iter()
        .cloned()
        .map(|feed| {
            tokio::spawn(poll_loop(
                client.clone(),
                feed,
                ingestor.clone(),
                stop.clone(),
            ))
        })
        .collect()
}

async fn poll_loop(
    client: reqwest::Client,
    feed: FeedConfig,
    ingestor: Arc<Ingestor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Err(error) = poll_and_store(&client, &feed, &ingestor).await {
            tracing::warn!(message = "feed poll failed", url = %feed.url, %error);
        }
        tokio::select! {
            _ = tokio::time::sleep(feed.interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Polls a feed once and stores what it brought. Public for tests and `copernic poll`.
pub async fn poll_and_store(
    client: &reqwest::Client,
    feed: &FeedConfig,
    ingestor: &Arc<Ingestor>,
) -> Result<copernic_pipeline::Summary, String> {
    let store = ingestor.store().clone();
    let url = feed.url.clone();
    let state = tokio::task::spawn_blocking(move || store.feed_state(&url))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let outcome = poll_once(client, feed, state.as_ref())
        .await
        .map_err(|e| copernic_core::error_chain(&e))?;
    let ingestor = ingestor.clone();
    let url = feed.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut summary = copernic_pipeline::Summary::default();
        // Items first, then the new state: a crash between the two re-fetches, never skips.
        for o in ingestor.ingest(outcome.items).map_err(|e| copernic_core::error_chain(&e))? {
            summary.add(&o);
        }
        ingestor.store().set_feed_state(&url, &outcome.state).map_err(|e| copernic_core::error_chain(&e))?;
        if summary.read > 0 {
            tracing::info!(message = "feed polled", url = %url, imported = summary.imported, duplicates = summary.duplicates, rejected = summary.rejected);
        }
        Ok(summary)
    })
    .await
    .map_err(|e| e.to_string())?
}
