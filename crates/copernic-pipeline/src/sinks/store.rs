//! The store sink: every ingestion path (file import, HTTP API, webhooks, feed polling) ends here,
//! so deduplication, near-duplicate waves and dead-lettering behave the same whatever the source.

use std::sync::{Arc, Mutex};

use copernic_core::{Ingested, MessageId, Position};
use copernic_store::{Store, StoreError, WriteBatch, WriteOutcome};
use serde::{Deserialize, Serialize};

use crate::sources::Item;
use crate::transforms::classify::{self, Redaction};
use crate::transforms::listen;
use crate::transforms::neardup::{fingerprint, NearDup, NearDupConfig, FINGERPRINT_VERSION};
use copernic_classify::defaults::Classifier;
use copernic_listen::Percolator;

/// How many messages ahead of its assignment the near-duplicate detector's lists are fetched.
const NEARDUP_AHEAD: usize = 8;

/// An item with its pure, per-message work done (labels, fingerprint, standing queries), ready to
/// be written. Preparing is done off the writer thread so parsing and hashing overlap with
/// writing. A message is prepared into the [`Ingested`] the store writes (its wave decided at
/// the write), so the writer does not move it again.
#[derive(Debug)]
// Rejects are rare and messages are most items: boxing the message would cost an allocation per
// message to save bytes on the few rejects.
#[allow(clippy::large_enum_variant)]
pub enum Prepared {
    Message(Ingested),
    Reject(copernic_core::Reject),
}

/// The owned parts of [`Transforms`], to move into an import's classify thread.
pub struct TransformParts {
    pub neardup: NearDupConfig,
    pub percolator: Arc<Percolator>,
    pub classifier: Option<Arc<std::sync::RwLock<Classifier>>>,
    pub redaction: Redaction,
}

impl TransformParts {
    /// Runs `f` with borrowed transforms (the classifier read-locked meanwhile).
    pub fn with<T>(&self, f: impl FnOnce(&Transforms<'_>) -> T) -> T {
        let guard = self
            .classifier
            .as_ref()
            .map(|c| c.read().unwrap_or_else(|e| e.into_inner()));
        f(&Transforms {
            neardup: self.neardup,
            percolator: &self.percolator,
            classifier: guard.as_deref(),
            redaction: self.redaction,
        })
    }
}

/// What every message goes through before it is written, shared by the ingestion paths.
pub struct Transforms<'a> {
    pub neardup: NearDupConfig,
    pub percolator: &'a Percolator,
    pub classifier: Option<&'a Classifier>,
    pub redaction: Redaction,
}

impl Prepared {
    pub fn new(item: Item, t: &Transforms<'_>) -> Prepared {
        let min_words = t.neardup.min_words;
        let mut message = match item {
            Item::Message(m) => m,
            Item::Reject(r) => return Prepared::Reject(r),
        };
        // Before percolation: queries filter on sentiment, intent and topics.
        let cut = match t.classifier {
            Some(c) => classify::classify(c, &mut message, t.redaction, min_words),
            None => classify::Cut {
                fingerprint: fingerprint(&message.text, min_words),
                ..classify::Cut::default()
            },
        };
        let matches = listen::matches(t.percolator, &message);
        Prepared::Message(Ingested {
            message,
            fingerprint: cut.fingerprint,
            wave: None,
            matches,
            words: cut.words,
        })
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
    /// The models every message is classified with; corrections update them in place.
    classifier: Option<Arc<std::sync::RwLock<Classifier>>>,
    redaction: Redaction,
}

impl Ingestor {
    /// An ingestor over `store`, its near-duplicate window warmed from the latest stored messages.
    pub fn new(store: Arc<dyn Store>, config: NearDupConfig) -> Result<Ingestor, StoreError> {
        let mut neardup = NearDup::new(config);
        // Stored fingerprints made another way would never match new ones: made again, once.
        let upgraded = store.upgrade_fingerprints(FINGERPRINT_VERSION, &|text| {
            fingerprint(text, config.min_words)
        });
        match upgraded {
            Ok(_) | Err(StoreError::ReadOnly) => {}
            Err(e) => return Err(e),
        }
        for f in store.recent_fingerprints(config.window)? {
            neardup.remember(f.id, f.fingerprint, f.wave);
        }
        let (percolator, _) = listen::load(&*store)?;
        // The shipped models are embedded in the binary: failing to read them is a build error,
        // caught by the tests, not something a user can cause.
        let classifier = Classifier::shipped()
            .ok()
            .map(|c| Arc::new(std::sync::RwLock::new(c)));
        Ok(Ingestor {
            store,
            neardup: Mutex::new(neardup),
            listening: std::sync::RwLock::new(Arc::new(percolator)),
            classifier,
            redaction: Redaction(false),
        })
    }

    /// Replaces personal data in stored messages (see [`Redaction`]).
    pub fn with_redaction(mut self, on: bool) -> Ingestor {
        self.redaction = Redaction(on);
        self
    }

    /// Installs the brand's topic model (multi-label, from `copernic train`): every message is
    /// then given its topics, and corrections of topics teach it.
    pub fn with_topics(self, model: copernic_classify::Model) -> Ingestor {
        if let Some(c) = &self.classifier {
            c.write().unwrap_or_else(|e| e.into_inner()).topics = Some(model);
        }
        self
    }

    /// The models messages are classified with.
    pub fn classifier(&self) -> Option<&Arc<std::sync::RwLock<Classifier>>> {
        self.classifier.as_ref()
    }

    /// What an import's classify thread needs to build [`Transforms`] on its own.
    pub fn transform_parts(&self) -> TransformParts {
        TransformParts {
            neardup: self.config(),
            percolator: self.percolator(),
            classifier: self.classifier.clone(),
            redaction: self.redaction,
        }
    }

    /// Runs `f` with the per-message transforms as they are now.
    pub fn with_transforms<T>(&self, f: impl FnOnce(&Transforms<'_>) -> T) -> T {
        let percolator = self.percolator();
        let guard = self
            .classifier
            .as_ref()
            .map(|c| c.read().unwrap_or_else(|e| e.into_inner()));
        f(&Transforms {
            neardup: self.config(),
            percolator: &percolator,
            classifier: guard.as_deref(),
            redaction: self.redaction,
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
        let prepared =
            self.with_transforms(|t| items.into_iter().map(|i| Prepared::new(i, t)).collect());
        self.write(prepared)
    }

    /// Writes prepared items in one transaction; one outcome per item, in order.
    pub fn write(&self, items: Vec<Prepared>) -> Result<Vec<ItemOutcome>, StoreError> {
        self.write_keeping(vec![items])
            .map(|(outcomes, _spent)| outcomes)
    }

    /// [`Ingestor::write`] of several batches in one call, in order, handing back what was
    /// written so that the thread that allocated it can free it (see [`Spent`]). The batches are
    /// not joined first: each join moved every item again into a fresh, larger array.
    pub fn write_keeping(
        &self,
        mut batches: Vec<Vec<Prepared>>,
    ) -> Result<(Vec<ItemOutcome>, Spent), StoreError> {
        let mut neardup = self.lock();
        let count = batches.iter().map(Vec::len).sum();
        let mut heads = Vec::new();
        // Rejects have no fingerprint; they are not looked ahead for.
        let fingerprints: Vec<u64> = batches
            .iter()
            .flatten()
            .map(|p| match p {
                Prepared::Message(m) => m.fingerprint,
                Prepared::Reject(_) => 0,
            })
            .collect();
        for (i, p) in batches.iter_mut().flatten().enumerate() {
            // The detector's lists fetched ahead: headers first, then where they point.
            if let Some(&f) = fingerprints.get(i + NEARDUP_AHEAD) {
                neardup.prefetch(f, NEARDUP_AHEAD, false);
            }
            if let Some(&f) = fingerprints.get(i + NEARDUP_AHEAD / 2) {
                neardup.prefetch(f, NEARDUP_AHEAD / 2, true);
            }
            if let Prepared::Message(m) = p {
                let a = neardup.assign(m.message.id, m.fingerprint);
                heads.extend(a.new_head);
                m.wave = a.wave;
            }
        }
        let mut messages = Vec::with_capacity(count);
        let mut rejects = Vec::new();
        // For each item: Ok(index into messages) or Err(index into rejects).
        let mut order = Vec::with_capacity(count);
        for p in batches.iter().flatten() {
            match p {
                Prepared::Message(m) => {
                    order.push(Ok(messages.len()));
                    messages.push(m);
                }
                Prepared::Reject(r) => {
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
        let outcomes = order
            .into_iter()
            .map(|o| match o {
                Ok(i) => {
                    let m = messages[i];
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
            .collect();
        Ok((outcomes, Spent { batches }))
    }
}

/// Written messages and rejects, to be dropped. A bulk import parses on one thread and writes on
/// another; glibc's allocator frees a block into the arena of the thread that allocated it, under
/// that arena's lock, so freeing millions of small strings on the writer fought the reader for
/// its lock (a tenth of the writer's time went to `free`). The import sends them back instead.
pub struct Spent {
    #[allow(dead_code)] // Held only to be dropped where it was allocated.
    batches: Vec<Vec<Prepared>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use copernic_core::Message;
    use copernic_store::SqliteStore;

    /// A store whose fingerprints an earlier version made has them made again when an ingestor
    /// opens it: new messages are compared with them.
    #[test]
    fn an_ingestor_upgrades_fingerprints_made_another_way() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let text = "Stop testing on animals now! Brand X must sign the cruelty free pledge today";
        let old = Ingested {
            message: Message::new("t", "1", "api", text.to_string()),
            fingerprint: 12345,
            wave: None,
            matches: Vec::new(),
            words: None,
        };
        store
            .write(&WriteBatch {
                messages: &[&old],
                ..WriteBatch::default()
            })
            .unwrap();
        let config = NearDupConfig::default();
        let ingestor = Ingestor::new(store.clone(), config).unwrap();
        let stored = store.recent_fingerprints(1).unwrap();
        assert_eq!(stored[0].fingerprint, fingerprint(text, config.min_words));
        // A copy that arrives now joins the stored message's wave.
        let copy = Message::new("t", "2", "api", format!("{text} https://t.co/xyz"));
        let outcomes = ingestor.ingest(vec![Item::Message(copy)]).unwrap();
        assert!(
            matches!(&outcomes[0], ItemOutcome::Accepted { wave: Some(_), .. }),
            "{outcomes:?}"
        );
    }
}
