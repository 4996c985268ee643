//! Where Copernic keeps what it hears. One trait, [`Store`], and its back ends: SQLite embedded in
//! a data folder (the default), PostgreSQL for scale-out (a later change). Every back end passes
//! the same [`conformance`] suite. Only this crate knows SQL.

pub mod conformance;
pub mod engage;
mod indexer;
mod rawlog;
mod rawstmt;
pub mod search;
mod sqlite;

use chrono::{DateTime, Utc};
use copernic_core::{Ingested, MessageId, Reject};
use serde::{Deserialize, Serialize};

pub use sqlite::{SqliteStore, LOADING_FILE};

/// Everything that can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine refused or failed an operation.
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The data folder could not be created or read.
    #[error("cannot use data folder {path}")]
    Folder {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process is writing to the same data folder.
    #[error("another copernic process (import or serve) is writing to {path}; wait for it, or send the messages to its HTTP API (POST /api/v1/messages)")]
    Busy { path: std::path::PathBuf },
    /// There is no store in the folder yet.
    #[error("no store in {path} yet; import something first (copernic import FILE) or name the folder with --data")]
    Missing { path: std::path::PathBuf },
    /// A first import is writing the folder all at once (see `SqliteStore::begin_first_load`),
    /// or was interrupted doing so.
    #[error("{}", loading_message(path, *interrupted))]
    Loading {
        path: std::path::PathBuf,
        interrupted: bool,
    },
    /// A write on a store opened read-only.
    #[error("this store was opened read-only")]
    ReadOnly,
    /// The store was written by a newer Copernic.
    #[error("the store is at schema version {found}, newer than this copernic ({supported}); upgrade copernic")]
    TooNew { found: i64, supported: i64 },
    /// The search index could not keep up; it catches up when the store is reopened.
    #[error("{0}")]
    Index(String),
    /// A read that asks for something that does not exist (an unknown label task).
    #[error("{0}")]
    Query(String),
    /// A row could not be read back into a domain value.
    #[error("stored row is not valid: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn loading_message(path: &std::path::Path, interrupted: bool) -> String {
    let path = path.display();
    if interrupted {
        format!(
            "the first import into {path} was interrupted before it finished, and nothing of it \
             was kept; run that import again"
        )
    } else {
        format!(
            "the first import into {path} is still running; a first import is written all at \
             once, so its messages can be read when it finishes"
        )
    }
}

/// What writing one message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteOutcome {
    /// Stored for the first time.
    Inserted,
    /// Already stored (same source and external id): nothing changed.
    Duplicate,
}

/// One write: messages and rejects land together, in one transaction, so a crash keeps both or
/// neither. The batch borrows them where they are: a bulk import's messages are too large to
/// move again into an array of their own (each is several hundred bytes).
#[derive(Debug, Default)]
pub struct WriteBatch<'a> {
    pub messages: &'a [&'a Ingested],
    pub rejects: &'a [&'a Reject],
    /// Messages that became the head of a near-duplicate wave: their own `wave` is set to their id.
    pub wave_heads: &'a [MessageId],
}

/// A stored message with its place in the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Increasing with insertion order; a cursor for paging and tailing.
    pub seq: i64,
    #[serde(flatten)]
    pub ingested: Ingested,
}

/// Which messages to list. Empty fields do not filter.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MessageQuery {
    pub workspace: Option<String>,
    /// Words that must all appear (case and accents ignored); `word*` is a prefix; `"a b"` a phrase.
    pub search: Option<String>,
    pub source: Option<String>,
    pub channel: Option<String>,
    pub author: Option<String>,
    pub wave: Option<MessageId>,
    pub thread: Option<MessageId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only messages with `seq` below this (paging backwards from newest).
    pub before_seq: Option<i64>,
    /// Only messages the standing query of this name matched.
    pub query: Option<String>,
    /// Only messages with these labels: (`sentiment`|`intent`|`topic`|`pii`|`lang`, value).
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    /// Only messages at least this urgent.
    pub min_urgency: Option<f32>,
    pub limit: usize,
}

/// A standing listening query as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQuery {
    pub workspace: String,
    pub name: String,
    /// As the user wrote it (the store does not parse it: the caller checked it).
    pub query: String,
    pub created_at: DateTime<Utc>,
    /// Messages it matched since it was added (or last changed).
    pub matches: u64,
}

/// A label a person set on a message: logged, so that retraining with corrections is
/// reproducible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub message: MessageId,
    /// `sentiment`, `intent` or `topics`.
    pub task: String,
    pub label: String,
    /// What the message had before.
    pub previous: Option<String>,
    /// The message's text when corrected (what a retraining learns from).
    pub text: String,
    pub at: DateTime<Utc>,
}

/// Matches of one query in one day (UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub count: u64,
}

/// A reject as kept in the dead-letter store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredReject {
    pub seq: i64,
    #[serde(flatten)]
    pub reject: Reject,
    /// When it was (last) refused.
    pub at: DateTime<Utc>,
    /// How many bytes of the record were kept (see [`REJECT_RAW_LIMIT`]).
    pub raw_len: usize,
}

/// Which rejects to list.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RejectQuery {
    pub workspace: Option<String>,
    pub source: Option<String>,
    pub limit: usize,
}

/// A near-duplicate wave: many messages that say the same thing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    /// The first message of the wave, which names it.
    pub head: MessageId,
    pub size: u64,
    pub distinct_authors: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The head message's text.
    pub sample: String,
}

/// A message's near-duplicate fingerprint, to warm the detector's window after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub id: MessageId,
    pub fingerprint: u64,
    pub wave: Option<MessageId>,
}

/// Counts for a summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub messages: u64,
    pub rejects: u64,
    pub waves: u64,
    pub messages_in_waves: u64,
}

/// What a polled feed answered last time, for conditional requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Rejected records keep at most this many raw bytes: enough to see and replay any sane record,
/// bounded so that a 2 GB garbage line cannot fill the disk twice.
pub const REJECT_RAW_LIMIT: usize = 1 << 20;

/// The storage back end. Synchronous on purpose: writes are CPU-bound batches on a dedicated
/// writer thread, and the server calls it from `spawn_blocking`; an async trait would only move
/// the same blocking into the back end.
pub trait Store: Send + Sync {
    /// Writes a batch atomically: one outcome per message, in order.
    fn write(&self, batch: &WriteBatch<'_>) -> Result<Vec<WriteOutcome>>;
    /// Waits until everything written is searchable (indexing may trail the write).
    fn flush(&self) -> Result<()>;
    /// Messages matching `q`, newest first.
    fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredMessage>>;
    /// One message by id.
    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;
    /// The raw bytes a message arrived as.
    fn message_raw(&self, id: MessageId) -> Result<Option<Vec<u8>>>;
    /// Rejected records, newest first.
    fn rejects(&self, q: &RejectQuery) -> Result<Vec<StoredReject>>;
    /// The raw bytes of a rejected record.
    fn reject_raw(&self, seq: i64) -> Result<Option<Vec<u8>>>;
    /// Near-duplicate waves, largest first.
    fn waves(&self, workspace: Option<&str>, limit: usize) -> Result<Vec<Wave>>;
    /// Makes the stored near-duplicate fingerprints those of `version`: when they were made by
    /// another version, every stored message is fingerprinted again from its text with `f`, and
    /// `version` is recorded. Returns how many messages were. (New messages are compared with the
    /// stored ones: both must be fingerprinted alike.)
    fn upgrade_fingerprints(&self, version: u32, f: &dyn Fn(&str) -> u64) -> Result<u64>;
    /// The fingerprints of the `limit` most recently stored messages, oldest first.
    fn recent_fingerprints(&self, limit: usize) -> Result<Vec<Fingerprint>>;
    /// Counts of what is stored.
    fn stats(&self, workspace: Option<&str>) -> Result<Stats>;
    /// The last conditional-request state of a polled feed.
    fn feed_state(&self, url: &str) -> Result<Option<FeedState>>;
    fn set_feed_state(&self, url: &str, state: &FeedState) -> Result<()>;

    /// Adds the standing query `name`, or changes its text (forgetting the old text's matches).
    fn put_query(&self, workspace: &str, name: &str, query: &str) -> Result<StoredQuery>;
    /// Records that the stored messages `seqs` match the standing query `name` (a back-fill of
    /// history); returns how many were new. Unknown numbers are skipped.
    fn add_query_matches(&self, workspace: &str, name: &str, seqs: &[i64]) -> Result<u64>;
    /// Sets a message's label for one task (`sentiment`, `intent`, `topics` — several topics
    /// separated by `;`) and logs the correction; `None` when there is no such message.
    fn correct_label(&self, id: MessageId, task: &str, label: &str) -> Result<Option<Correction>>;
    /// Every correction, oldest first.
    fn corrections(&self) -> Result<Vec<Correction>>;
    /// Removes a standing query and its matches; false when there was none.
    fn remove_query(&self, workspace: &str, name: &str) -> Result<bool>;
    /// Standing queries, by name.
    fn queries(&self, workspace: Option<&str>) -> Result<Vec<StoredQuery>>;
    /// Matches per day of one query, oldest first, days without matches left out.
    fn query_counts(
        &self,
        workspace: &str,
        name: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayCount>>;
    /// Message numbers that may match `plan` (a superset, ascending), from the search index;
    /// `None` when the plan cannot be answered from the index (the caller scans instead).
    fn candidates(&self, plan: &search::Plan) -> Result<Option<Vec<i64>>>;
    /// Messages by number, in the order given (missing numbers skipped).
    fn messages_by_seq(&self, seqs: &[i64]) -> Result<Vec<StoredMessage>>;
    /// Up to `limit` messages stored after `seq`, in order, each with the names of the standing
    /// queries it matched: the feed that followers (cases, routing) tail with a cursor.
    fn messages_after(&self, seq: i64, limit: usize) -> Result<Vec<StoredMessage>>;
}
