//! The store sink: every ingestion path (file import, HTTP API, webhooks, feed polling) ends here,
//! so deduplication, near-duplicate waves and dead-lettering behave the same whatever the source.

use std::sync::{Arc, Mutex};

use copernic_core::{Ingested, MessageId, Position};
use copernic_store::search::message_terms;
use copernic_store::{Store, StoreError, WriteBatch, WriteOutcome};
use serde::{Deserialize, Serialize};

use crate::sources::Item;
use crate::transforms::listen;
use crate::transforms::neardup::{fingerprint, NearDup, NearDupConfig};
use copernic_listen::Percolator;

/// An item with its pure, per-message work done (fingerprint, search terms), ready to be
/// written. Preparing is done off the writer thread so parsing and hashing overlap with writing.
#[derive(Debug)]
pub struct Prepared {
    pub item: Item,
    pub fingerprint: u64,
    pub terms: String,
    /// Standing queries matched.
    pub matches: Vec<String>,
}

impl Prepared {
    pub fn new(item: Item, config: &NearDupConfig, percolator: &Percolator) -> Prepared {
        let (fingerprint, terms, matches) = match &item {
            Item::Message(m) => (
                fingerprint(&m.text, config.min_words),
                message_terms(m),
                listen::matches(percolator, m),
            ),
            Item::Reject(_) => (0, String::new(), Vec::new()),
        };
        Prepared {
            item,
            fingerprint,
            terms,
            matches,
        }
    }
}

/// What became of one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ItemOutcome {
    /// Stored for the first time.
    Accepted {
        id: MessageId,
        #[serde(skip_serializing_if = "Option::is_none")]
        wave: Option<MessageId>,
        /// Standing queries it matched.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        matches: Vec<String>,
    },
    /// Already stored: a replay.
    Duplicate { id: MessageId },
    /// Refused, and kept in the dead-letter store.
    Rejected {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        position: Position,
    },
}

/// Counts over many items.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Records read (every message and every reject).
    pub read: u64,
    /// Stored for the first time.
    pub imported: u64,
    /// Already stored.
    pub duplicates: u64,
    /// Refused and kept in the dead-letter store.
    pub rejected: u64,
    /// Newly stored messages that joined a near-duplicate wave.
    pub in_waves: u64,
}

impl Summary {
    pub fn add(&mut self, outcome: &ItemOutcome) {
        self.read += 1;
        match outcome {
            ItemOutcome::Accepted { wave, .. } => {
                self.imported += 1;
                self.in_waves += u64::from(wave.is_some());
            }
            ItemOutcome::Duplicate { .. } => self.duplicates += 1,
            ItemOutcome::Rejected { .. } => self.rejected += 1,
        }
    }

    pub fn merge(&mut self, other: &Summary) {
        self.read += other.read;
        self.imported += other.imported;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.in_waves += other.in_waves;
    }
}

/// Writes items to a store, deciding near-duplicate waves on the way.
pub struct Ingestor {
    store: Arc<dyn Store>,
    // One lock over the detector *and* the write: waves are decided in the order messages are
    // stored, so a wave's head is always written before (or with) its members.
    neardup: Mutex<NearDup>,
    /// The standing queries, swapped whole when one changes: readers keep the snapshot they
    /// started with.
    listening: std::sync::RwLock<Arc<Percolator>>,
}

impl Ingestor {
    /// An ingestor over `store`, its near-duplicate window warmed from the latest stored messages.
    pub fn new(store: Arc<dyn Store>, config: NearDupConfig) -> Result<Ingestor, StoreError> {
        let mut neardup = NearDup::new(config);
        for f in store.recent_fingerprints(config.window)? {
            neardup.remember(f.id, f.fingerprint, f.wave);
        }
        let (percolator, _) = listen::load(&*store)?;
        Ok(Ingestor {
            store,
            neardup: Mutex::new(neardup),
            listening: std::sync::RwLock::new(Arc::new(percolator)),
        })
    }

    /// The standing queries as they are now.
    pub fn percolator(&self) -> Arc<Percolator> {
        self.listening
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads the standing queries from the store (after one was added or removed); returns the
    /// stored queries that no longer parse.
    pub fn reload_queries(&self) -> Result<Vec<(String, copernic_listen::ParseError)>, StoreError> {
        let (p, broken) = listen::load(&**self.store())?;
        *self.listening.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p);
        Ok(broken)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> NearDupConfig {
        *self.lock().config()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NearDup> {
        // The detector holds no invariant a panic elsewhere could break mid-way.
        self.neardup.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepares and writes items; one outcome per item, in order.
    pub fn ingest(&self, items: Vec<Item>) -> Result<Vec<ItemOutcome>, StoreError> {
        let config = self.config();
        let percolator = self.percolator();
        self.write(
            items
                .into_iter()
                .map(|i| Prepared::new(i, &config, &percolator))
                .collect(),
        )
    }

    /// Writes prepared items in one transaction; one outcome per item, in order.
    pub fn write(&self, items: Vec<Prepared>) -> Result<Vec<ItemOutcome>, StoreError> {
        let mut neardup = self.lock();
        let mut messages = Vec::with_capacity(items.len());
        let mut rejects = Vec::new();
        let mut heads = Vec::new();
        // For each item: Ok(index into messages) or Err(index into rejects).
        let mut order = Vec::with_capacity(items.len());
        for p in items {
            match p.item {
                Item::Message(message) => {
                    let a = neardup.assign(message.id, p.fingerprint);
                    heads.extend(a.new_head);
                    order.push(Ok(messages.len()));
                    messages.push(Ingested {
                        message,
                        fingerprint: p.fingerprint,
                        wave: a.wave,
                        terms: p.terms,
                        matches: p.matches,
                    });
                }
                Item::Reject(r) => {
                    order.push(Err(rejects.len()));
                    rejects.push(r);
                }
            }
        }
        let written = self.store.write(&WriteBatch {
            messages: &messages,
            rejects: &rejects,
            wave_heads: &heads,
        })?;
        drop(neardup);
        Ok(order
            .into_iter()
            .map(|o| match o {
                Ok(i) => {
                    let m = &messages[i];
                    match written[i] {
                        WriteOutcome::Inserted => ItemOutcome::Accepted {
                            id: m.message.id,
                            wave: m.wave,
                            matches: m.matches.clone(),
                        },
                        WriteOutcome::Duplicate => ItemOutcome::Duplicate { id: m.message.id },
                    }
                }
                Err(i) => {
                    let r = &rejects[i];
                    ItemOutcome::Rejected {
                        reason: r.reason.clone(),
                        field: r.field.clone(),
                        position: r.position.clone(),
                    }
                }
            })
            .collect())
    }
}
