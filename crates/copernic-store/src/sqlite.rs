//! The embedded back end: one SQLite file in the data folder, in WAL mode.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use copernic_core::{Author, Ingested, Labels, Message, MessageId, Position, Reject};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::indexer::{IndexDocs, Indexer};
use crate::rawlog::{RawLog, RawReader};
use crate::rawstmt::{Bind, RawStatement};
use crate::{
    search, Correction, DayCount, FeedState, Fingerprint, MessageQuery, RejectQuery, Result, Stats,
    Store, StoreError, StoredMessage, StoredQuery, StoredReject, Wave, WriteBatch, WriteOutcome,
    REJECT_RAW_LIMIT,
};

/// The file inside the data folder.
pub const DB_FILE: &str = "copernic.db";

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
-- Ids are the 16 bytes of MessageId: half the size of hex in rows and in the unique index.
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    author_id TEXT,
    author_handle TEXT,
    author_name TEXT,
    thread_id BLOB NOT NULL,
    in_reply_to BLOB,
    title TEXT,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    url TEXT,
    lang TEXT,
    tags TEXT,
    fingerprint INTEGER NOT NULL,
    wave BLOB,
    -- The payload as received, in raw.log (see rawlog.rs).
    raw_offset INTEGER NOT NULL,
    raw_len INTEGER NOT NULL
);
CREATE INDEX messages_wave ON messages(wave) WHERE wave IS NOT NULL;
-- Only replies are indexed by thread: roots are found by their id. Indexing every message's
-- (random) thread id doubled the cost of each insert once the table outgrew the page cache.
CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id != id;
-- The search index lives in its own file, search.db (see indexer.rs).
CREATE TABLE rejects (
    seq INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    position_key TEXT NOT NULL,
    position TEXT NOT NULL,
    field TEXT,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL,
    at INTEGER NOT NULL,
    -- A replayed bad record replaces its earlier reject instead of piling up copies.
    UNIQUE (source, position_key)
);
CREATE TABLE feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    checked_at INTEGER
);
"#,
    r#"
-- Sentiment, intent, topics (JSON of copernic_core::Labels); NULL when none.
ALTER TABLE messages ADD COLUMN labels TEXT;
-- Standing listening queries, by name within a workspace.
CREATE TABLE queries (
    id INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (workspace, name)
);
-- What each standing query matched; `at` (the message's created time) counts matches over time.
CREATE TABLE query_matches (
    query_id INTEGER NOT NULL,
    message_seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (query_id, message_seq)
) WITHOUT ROWID;
CREATE INDEX query_matches_message ON query_matches(message_seq);
"#,
    r#"
-- Labels people set on messages: the log that makes retraining reproducible.
CREATE TABLE label_corrections (
    seq INTEGER PRIMARY KEY,
    message_id BLOB NOT NULL,
    task TEXT NOT NULL,
    label TEXT NOT NULL,
    previous TEXT,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
);
"#,
    r#"
-- Versions of what the store holds that code computes: `fingerprint` (near-duplicate
-- fingerprints; none recorded means version 1).
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"#,
];

/// The SQLite store. One writer connection (SQLite allows one writer at a time anyway) and a
/// small pool of readers, which WAL lets run beside the writer.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The writing side; `None` when opened read-only.
    writing: Option<Writing>,
    raw_reader: RawReader,
    /// Whether commits wait for the disk (see `set_sync_on_commit`).
    sync_full: std::sync::atomic::AtomicBool,
    /// Rows a write transaction gathers before it commits (see `set_group_commit`); 0: every
    /// write commits.
    group_rows: std::sync::atomic::AtomicUsize,
    /// The write transaction left open by `write` while grouping. Locked after `writer`.
    open: Mutex<Option<OpenWrite>>,
    /// Whether this open created the database file (see `begin_first_load`).
    created: bool,
    /// A first load in progress (see `begin_first_load`).
    first_load: std::sync::atomic::AtomicBool,
    /// A write failed during the first load: without a journal, its rollback may have left the
    /// file inconsistent, so the load is never marked finished and the next open discards it.
    load_broken: std::sync::atomic::AtomicBool,
}

/// What a grouped write transaction holds until it commits.
struct OpenWrite {
    rows: usize,
    /// Whether earlier rows of this transaction went to the index thread as tentative: it then
    /// hears of the commit or the rollback (it never writes a message a rollback could remove).
    tentative: bool,
}

/// What only a writing process has: the index thread, the payload log, and the folder's lock.
struct Writing {
    indexer: Indexer,
    raw_log: Mutex<RawLog>,
    /// Held for the store's life: one writing process per data folder. The index and the payload
    /// log each assume a single writer (segment numbers, the index mark, append offsets).
    _lock: std::fs::File,
}

/// The lock file inside the data folder.
pub const LOCK_FILE: &str = "copernic.lock";

/// Present while a first import writes a new data folder without a journal (see
/// `SqliteStore::begin_first_load`). Found by the next writing open, it means that import was
/// interrupted: the files it wrote are thrown away.
pub const LOADING_FILE: &str = "copernic.loading";

/// The files of a data folder that a first load writes, and that an interrupted one leaves to be
/// thrown away (`engage.db` is not among them: a first load never writes it).
const LOADED_FILES: &[&str] = &[
    DB_FILE,
    "copernic.db-wal",
    "copernic.db-shm",
    "copernic.db-journal",
    crate::indexer::SEARCH_FILE,
    "search.db-wal",
    "search.db-shm",
    "search.db-journal",
    crate::rawlog::RAW_FILE,
];

impl SqliteStore {
    /// Opens (creating if needed) the store in data folder `dir` for writing, and migrates it.
    /// Fails with [`StoreError::Busy`] while another process writes to the same folder.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        let folder = |source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(folder)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(folder)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(folder(e)),
        }
        if dir.join(LOADING_FILE).exists() {
            discard_interrupted_load(dir)?;
        }
        let path = dir.join(DB_FILE);
        let created = !path.exists();
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        let indexer = Indexer::start(dir, &writer)?;
        let raw_log = RawLog::open(dir)?;
        let raw_reader = RawReader::open(dir)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            writing: Some(Writing {
                indexer,
                raw_log: Mutex::new(raw_log),
                _lock: lock_file,
            }),
            raw_reader,
            sync_full: std::sync::atomic::AtomicBool::new(true),
            group_rows: std::sync::atomic::AtomicUsize::new(0),
            open: Mutex::new(None),
            created,
            first_load: std::sync::atomic::AtomicBool::new(false),
            load_broken: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Opens an existing store for reading only, beside a process that may be writing to it:
    /// no lock, no index thread, nothing written. Searches see what the writer has indexed.
    pub fn open_read_only(dir: &Path) -> Result<SqliteStore> {
        if dir.join(LOADING_FILE).exists() {
            // Written without a journal, the file is only consistent once the load is done.
            return Err(StoreError::Loading {
                path: dir.to_path_buf(),
                interrupted: lock_is_free(dir),
            });
        }
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let writer = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = writer.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew {
                found: version,
                supported,
            });
        }
        if version < supported {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let raw_reader = RawReader::open(dir)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            writing: None,
            raw_reader,
            sync_full: std::sync::atomic::AtomicBool::new(true),
            group_rows: std::sync::atomic::AtomicUsize::new(0),
            open: Mutex::new(None),
            created: false,
            first_load: std::sync::atomic::AtomicBool::new(false),
            load_broken: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Starts a first load: when this open created the database and nothing has been written to
    /// it, the rows are written without a rollback journal or WAL until [`end_first_load`]
    /// (`journal_mode=OFF`), each page once instead of twice (WAL, then checkpoint). Returns
    /// whether it did.
    ///
    /// The load is all or nothing, like PostgreSQL's `COPY` into a table created in the same
    /// transaction, which skips its WAL too: a marker file ([`LOADING_FILE`]) is on disk before
    /// the first row and removed only once every row is; an open that finds it throws the
    /// folder's store away (there was nothing in it before), and read-only opens meanwhile are
    /// refused ([`StoreError::Loading`]). A killed first import therefore keeps nothing and its
    /// re-run starts over, where a WAL import keeps its commits; a re-run re-reads and
    /// deduplicates those anyway, which costs most of what importing them did.
    ///
    /// [`end_first_load`]: SqliteStore::end_first_load
    pub fn begin_first_load(&self) -> Result<bool> {
        if !self.created || self.first_load.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        let conn = self.writer()?;
        let empty: bool = conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM messages) AND NOT EXISTS (SELECT 1 FROM rejects) \
             AND NOT EXISTS (SELECT 1 FROM queries) AND NOT EXISTS (SELECT 1 FROM feed_state) \
             AND NOT EXISTS (SELECT 1 FROM label_corrections)",
            [],
            |r| r.get(0),
        )?;
        if !empty {
            return Ok(false);
        }
        let dir = self.dir();
        let folder = |source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        let marker = dir.join(LOADING_FILE);
        std::fs::write(
            &marker,
            "A first import is writing this data folder without a journal. If copernic finds \
             this file when it opens the folder, that import was interrupted and what it wrote \
             is thrown away.\n",
        )
        .and_then(|()| std::fs::File::open(&marker)?.sync_all())
        .and_then(|()| sync_dir(dir))
        .map_err(folder)?;
        // This process's idle readers would keep the journal mode from changing; they are
        // opened again when needed.
        lock(&self.readers).clear();
        // Refused or failed (another connection has the file open): the import goes on through
        // the WAL.
        let mode = conn.query_row("PRAGMA journal_mode=OFF", [], |r| r.get::<_, String>(0));
        if !mode.is_ok_and(|m| m.eq_ignore_ascii_case("off")) {
            std::fs::remove_file(&marker).map_err(folder)?;
            return Ok(false);
        }
        conn.pragma_update(None, "synchronous", "OFF")?;
        self.first_load
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(true)
    }

    /// Ends a first load: commits, puts the rows and payloads on disk, returns the database to
    /// WAL and removes the marker. Does nothing when no first load is in progress.
    pub fn end_first_load(&self) -> Result<()> {
        if !self.first_load.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let conn = self.writer()?;
        if self.load_broken.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Corrupt(
                "a write failed during the first import into this folder; it is thrown away \
                 when the folder is next opened: run the import again"
                    .into(),
            ));
        }
        let dir = self.dir();
        let folder = |source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        lock(&self.writing()?.raw_log).flush(true)?;
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(folder)?;
        let full = self.sync_full.load(std::sync::atomic::Ordering::Relaxed);
        conn.pragma_update(None, "synchronous", sync_level(full))?;
        lock(&self.readers).clear();
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "the store stayed in journal mode {mode} after its first import"
            )));
        }
        std::fs::remove_file(dir.join(LOADING_FILE))
            .and_then(|()| sync_dir(dir))
            .map_err(folder)?;
        self.first_load
            .store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Rolls the open write transaction back. During a first load, with no journal, that may
    /// leave the file inconsistent: the load is then never marked finished.
    fn roll_back(&self, conn: &Connection) {
        if self.first_load.load(std::sync::atomic::Ordering::Relaxed) {
            self.load_broken
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = conn.execute_batch("ROLLBACK");
    }

    /// The data folder.
    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn writing(&self) -> Result<&Writing> {
        self.writing.as_ref().ok_or(StoreError::ReadOnly)
    }

    /// Whether a commit waits for the disk (`synchronous=FULL`, the default) or only for the OS
    /// (`NORMAL`). With WAL, NORMAL survives a killed process but may lose the last commits on a
    /// power cut: right for a file import, whose file is replayed without duplicates, wrong for an
    /// HTTP client that was told "accepted" and will not send again.
    pub fn set_sync_on_commit(&self, full: bool) -> Result<()> {
        self.writer()?
            .pragma_update(None, "synchronous", sync_level(full))?;
        self.sync_full
            .store(full, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Lets one write transaction gather `rows` rows over several `write` calls before it
    /// commits (0, the default: every `write` commits). For bulk imports: the id index's pages,
    /// which random ids spread over the whole index, are written to the WAL once per commit, so
    /// fewer commits write far fewer bytes (BENCHMARKS.md). Until the commit, written rows are
    /// invisible to other processes and not yet searchable; `flush`, reads and other writes than
    /// `write` through this store, and dropping it commit them. A failed write rolls back every row since
    /// the last commit: the caller must then treat them all as not written (an import stops, and
    /// its replay deduplicates).
    ///
    /// While grouping, the WAL is checkpointed after each commit once the index thread has heard
    /// of it, not inside the commit (SQLite's automatic checkpoint): the index writes the group
    /// while the writer copies it into the database, instead of waiting for that copy, which
    /// left the index working alone at the end of an import.
    pub fn set_group_commit(&self, rows: usize) -> Result<()> {
        let conn = self.writer()?;
        let pages = if rows > 0 { 0 } else { WAL_AUTOCHECKPOINT };
        conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        self.group_rows
            .store(rows, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The writer connection, with any grouped write committed first: other statements never
    /// run inside an import's open transaction.
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        let conn = lock(&self.writer);
        let open = lock(&self.open).take();
        if let Some(open) = open {
            self.commit(&conn, open, IndexDocs::default())?;
        }
        Ok(conn)
    }

    /// Commits the grouped write transaction, if one is open.
    fn commit_open(&self) -> Result<()> {
        self.writer().map(drop)
    }

    /// Commits the open write transaction: payloads first, then the rows, then the index hears
    /// of them. On failure everything since the last commit is rolled back.
    /// `docs`: the searchable parts of the rows this transaction wrote that the index thread has
    /// not had yet.
    fn commit(&self, conn: &Connection, open: OpenWrite, docs: IndexDocs) -> Result<()> {
        let writing = self.writing()?;
        let mut raw_log = lock(&writing.raw_log);
        // The payloads reach the file before the rows that point at them commit.
        let committed = raw_log
            .flush(self.sync_full.load(std::sync::atomic::Ordering::Relaxed))
            .and_then(|()| Ok(conn.execute_batch("COMMIT")?));
        if let Err(e) = committed {
            raw_log.discard();
            self.roll_back(conn);
            if open.tentative {
                let _ = writing.indexer.rolled_back();
            }
            return Err(e);
        }
        // Still under the writer lock: the index receives messages in commit order.
        if open.tentative {
            writing.indexer.submit_tentative(docs)?;
            writing.indexer.committed()?;
        } else {
            writing.indexer.submit(docs)?;
        }
        if self.group_rows.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            // Passive: readers are never waited for. A failed checkpoint loses nothing (the
            // commit is in the WAL); the next one copies what this one did not.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(message = "WAL checkpoint failed", error = %e);
            }
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's integrity check of both files, and a check of every posting list: the problems found, none when sound.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let (mut problems, max_seq) = {
            let conn = self.writer()?;
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let problems: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .filter(|p| !matches!(p.as_deref(), Ok("ok")))
                .collect::<std::result::Result<_, _>>()?;
            let (max_seq, raw_end): (i64, i64) = conn.query_row(
                "SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(raw_offset + raw_len), 0) FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut problems = problems;
            let raw_len = self.raw_reader.len()?;
            if raw_end as u64 > raw_len {
                problems.push(format!(
                    "raw.log is {raw_len} bytes but messages point up to byte {raw_end}: payloads are missing"
                ));
            }
            (problems, max_seq)
        };
        // Every posting list decodes and names stored messages only.
        self.flush()?;
        self.with_reader(|c| {
            let mut stmt = c.prepare("SELECT term, docs FROM search.search_postings")?;
            let mut rows = stmt.query([])?;
            let mut seqs = Vec::new();
            while let Some(r) = rows.next()? {
                let term: String = r.get(0)?;
                seqs.clear();
                match search::decode(&r.get::<_, Vec<u8>>(1)?, &mut seqs) {
                    Ok(()) if seqs.iter().all(|&s| s > 0 && s <= max_seq) => {}
                    Ok(()) => problems.push(format!(
                        "search index: term {term:?} names a message that is not stored"
                    )),
                    Err(e) => problems.push(format!("search index: term {term:?}: {e}")),
                }
            }
            let mut check = c.prepare("PRAGMA search.integrity_check")?;
            let found: Vec<String> = check
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<std::result::Result<_, _>>()?;
            problems.extend(
                found
                    .into_iter()
                    .filter(|p| p != "ok")
                    .map(|p| format!("search index: {p}")),
            );
            Ok(())
        })?;
        Ok(problems)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        // Read-your-writes within the process: a grouped write still open commits first.
        if lock(&self.open).is_some() {
            self.commit_open()?;
        }
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                // The search index, read beside the messages as schema `search`.
                let index = self
                    .path
                    .with_file_name(crate::indexer::SEARCH_FILE)
                    .to_string_lossy()
                    .into_owned();
                c.execute("ATTACH DATABASE ?1 AS search", params![index])?;
                c
            }
        };
        let out = f(&conn);
        // Bounded so a burst of readers does not keep file handles forever.
        let mut pool = lock(&self.readers);
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a connection that is still valid: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checkpoint every 32768 pages (128 MiB of WAL) instead of 1000: the pages of the id index,
/// rewritten many times during a bulk import, are copied to the database once per checkpoint
/// (a million-message import: 16.2 s at 8192 pages, 14.0–14.8 s at 32768, no faster at 65536).
/// A grouped import checkpoints after each group instead (see `set_group_commit`).
const WAL_AUTOCHECKPOINT: i64 = 32768;

/// Throws away what an interrupted first load wrote (see `SqliteStore::begin_first_load`), under
/// the folder's lock.
fn discard_interrupted_load(dir: &Path) -> Result<()> {
    let folder = |source| StoreError::Folder {
        path: dir.to_path_buf(),
        source,
    };
    for name in LOADED_FILES {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(folder(e)),
            _ => {}
        }
    }
    std::fs::remove_file(dir.join(LOADING_FILE))
        .and_then(|()| sync_dir(dir))
        .map_err(folder)?;
    tracing::warn!(
        message = "the first import into this data folder was interrupted; what it wrote was thrown away: run it again",
        folder = %dir.display()
    );
    Ok(())
}

/// The `synchronous` setting of commits that wait for the disk (`full`) or not.
fn sync_level(full: bool) -> &'static str {
    if full {
        "FULL"
    } else {
        "NORMAL"
    }
}

/// Puts a folder's entries (files created or removed) on disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Whether no process holds the folder's lock (it is taken and released at once).
fn lock_is_free(dir: &Path) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(LOCK_FILE))
        .is_ok_and(|f| f.try_lock().is_ok())
}

fn configure(c: &Connection) -> Result<()> {
    // WAL: readers never block the writer. synchronous=FULL: what was acknowledged is on disk
    // (see set_sync_on_commit for the import's trade-off).
    // 8 KiB pages, for a database created now (an existing one keeps its own): half the pages
    // to find, fill and write per row. A first import of a million messages used 1-7 % less CPU
    // than with 4 KiB (16 KiB: about as much less, but 50 MB more peak memory). BENCHMARKS.md.
    c.pragma_update(None, "page_size", 8192)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    // 32 MiB page cache. A bulk import of a million messages was no faster with 64 MiB or 256 MiB
    // (within this machine's noise), and 64 MiB took the import's peak memory past 500 MB at two
    // million messages (BENCHMARKS.md).
    c.pragma_update(None, "cache_size", -32768)?;
    c.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

fn migrate(c: &mut Connection) -> Result<()> {
    migrate_with(c, MIGRATIONS)
}

/// Applies the migrations `c` has not had yet, each in its own transaction; `PRAGMA
/// user_version` counts those applied.
pub(crate) fn migrate_with(c: &mut Connection, migrations: &[&str]) -> Result<()> {
    let version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = migrations.len() as i64;
    if version > supported {
        return Err(StoreError::TooNew {
            found: version,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(version as usize) {
        let tx = c.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// `value` as JSON in `buf` (cleared first).
fn json_into<'b>(buf: &'b mut Vec<u8>, value: &impl serde::Serialize) -> Result<&'b str> {
    buf.clear();
    serde_json::to_writer(&mut *buf, value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    std::str::from_utf8(buf).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An optional message id as a bind: its 16 bytes, or NULL.
fn id_bind(id: &Option<MessageId>) -> Bind<'_> {
    id.as_ref().map_or(Bind::Null, |i| Bind::Blob(&i.0))
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn parse_id(b: &[u8]) -> Result<MessageId> {
    let bytes: [u8; 16] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("a message id has {} bytes, not 16", b.len())))?;
    Ok(MessageId(bytes))
}

fn opt_id(b: Option<Vec<u8>>) -> Result<Option<MessageId>> {
    b.as_deref().map(parse_id).transpose()
}

const MESSAGE_COLUMNS: &str = "seq, id, workspace, source, external_id, channel, direction, \
    author_id, author_handle, author_name, thread_id, in_reply_to, title, text, created_at, \
    received_at, url, lang, tags, fingerprint, wave, labels";

fn message_from_row(r: &Row<'_>) -> Result<StoredMessage> {
    let direction: String = r.get(6)?;
    let tags: Option<String> = r.get(18)?;
    let tags = match tags {
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => Vec::new(),
    };
    let labels: Option<String> = r.get(21)?;
    let labels = match labels {
        Some(l) => serde_json::from_str(&l).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => Labels::default(),
    };
    let thread: Vec<u8> = r.get(10)?;
    let message = Message {
        id: parse_id(&r.get::<_, Vec<u8>>(1)?)?,
        workspace: r.get(2)?,
        source: r.get(3)?,
        external_id: r.get(4)?,
        channel: r.get(5)?,
        direction: direction.parse().map_err(StoreError::Corrupt)?,
        author: Author {
            id: r.get(7)?,
            handle: r.get(8)?,
            name: r.get(9)?,
        },
        thread_id: Some(parse_id(&thread)?),
        in_reply_to: opt_id(r.get(11)?)?,
        title: r.get(12)?,
        text: r.get(13)?,
        created_at: from_ms(r.get(14)?),
        received_at: from_ms(r.get(15)?),
        url: r.get(16)?,
        lang: r.get(17)?,
        tags,
        labels,
        raw: Vec::new(),
    };
    Ok(StoredMessage {
        seq: r.get(0)?,
        ingested: Ingested {
            message,
            fingerprint: r.get::<_, i64>(19)? as u64,
            wave: opt_id(r.get(20)?)?,
            matches: Vec::new(),
            words: None,
        },
    })
}

fn query_messages(
    c: &Connection,
    sql: &str,
    args: &[rusqlite::types::Value],
    keep: impl Fn(&StoredMessage) -> bool,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let m = message_from_row(r)?;
        if keep(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // A grouped write still open is committed, not rolled back by closing the connection.
        if let Err(e) = self.writer() {
            eprintln!("copernic: the last writes could not be committed: {e}");
        }
        if let Err(e) = self.end_first_load() {
            eprintln!("copernic: the first import could not be finished: {e}");
        }
    }
}

/// Inserts `batch` inside the writer's open transaction, appending payloads to `raw_log` and
/// the inserted messages' searchable parts to `docs`.
fn write_rows(
    tx: &Connection,
    raw_log: &mut RawLog,
    batch: &WriteBatch<'_>,
    docs: &mut IndexDocs,
) -> Result<Vec<WriteOutcome>> {
    let mut outcomes = Vec::with_capacity(batch.messages.len());
    let mut inserted: Vec<i64> = Vec::new();
    // The thread: the one given, else the parent's, else the parent itself, else the message.
    // A message with no parent (most) skips the parent's look-up and the cursor it opens.
    // Prepared for each write (tens of microseconds, against a commit's milliseconds): the raw
    // statement is not kept in rusqlite's statement cache.
    let mut insert = RawStatement::prepare(
        tx,
        "INSERT INTO messages (id, workspace, source, external_id, channel, direction, \
         author_id, author_handle, author_name, thread_id, in_reply_to, title, text, \
         created_at, received_at, url, lang, tags, fingerprint, wave, raw_offset, raw_len, labels) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
           COALESCE(?10, CASE WHEN ?11 IS NULL THEN ?1 \
             ELSE COALESCE((SELECT thread_id FROM messages WHERE id = ?11), ?11) END), \
           ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23) \
         ON CONFLICT (id) DO NOTHING",
    )?;
    // Reused for every row: one JSON buffer each, not a new string per message.
    let (mut tags_json, mut labels_json) = (Vec::new(), String::new());
    for ing in batch.messages {
        let m = &ing.message;
        let tags = if m.tags.is_empty() {
            None
        } else {
            Some(json_into(&mut tags_json, &m.tags)?)
        };
        let labels = if m.labels.is_empty() {
            None
        } else {
            labels_json.clear();
            m.labels.write_json(&mut labels_json);
            Some(labels_json.as_str())
        };
        let changed = insert.execute(&[
            Bind::Blob(&m.id.0),
            Bind::Text(&m.workspace),
            Bind::Text(&m.source),
            Bind::Text(&m.external_id),
            Bind::Text(&m.channel),
            Bind::Text(m.direction.as_str()),
            m.author.id.as_deref().into(),
            m.author.handle.as_deref().into(),
            m.author.name.as_deref().into(),
            id_bind(&m.thread_id),
            id_bind(&m.in_reply_to),
            m.title.as_deref().into(),
            Bind::Text(&m.text),
            Bind::Int(ms(m.created_at)),
            Bind::Int(ms(m.received_at)),
            m.url.as_deref().into(),
            m.lang.as_deref().into(),
            tags.into(),
            Bind::Int(ing.fingerprint as i64),
            id_bind(&ing.wave),
            Bind::Int(raw_log.next_offset() as i64),
            Bind::Int(m.raw.len() as i64),
            labels.into(),
        ])?;
        if changed == 1 {
            if !ing.matches.is_empty() {
                let seq = tx.last_insert_rowid();
                let mut query_id =
                    tx.prepare_cached("SELECT id FROM queries WHERE workspace = ?1 AND name = ?2")?;
                let mut put = tx.prepare_cached(
                    "INSERT OR IGNORE INTO query_matches (query_id, message_seq, at) \
                         VALUES (?1, ?2, ?3)",
                )?;
                for name in &ing.matches {
                    // A query removed since the message was matched is skipped.
                    let id: Option<i64> = query_id
                        .query_row(params![m.workspace, name], |r| r.get(0))
                        .optional()?;
                    if let Some(id) = id {
                        put.execute(params![id, seq, ms(m.created_at)])?;
                    }
                }
            }
            // Appended only when the row was: a replay adds no bytes.
            raw_log.append(&m.raw);
            inserted.push(tx.last_insert_rowid());
            outcomes.push(WriteOutcome::Inserted);
        } else {
            outcomes.push(WriteOutcome::Duplicate);
        }
    }
    let mut head =
        tx.prepare_cached("UPDATE messages SET wave = ?1 WHERE id = ?1 AND wave IS NULL")?;
    for id in batch.wave_heads {
        head.execute(params![&id.0[..]])?;
    }
    // What the index thread gets: it writes them to the index once this transaction commits.
    for ((ing, _), seq) in batch
        .messages
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == WriteOutcome::Inserted)
        .zip(&inserted)
    {
        docs.push(*seq, &ing.message, ing.words.as_deref());
    }
    let mut reject = tx.prepare_cached(
        "INSERT INTO rejects (workspace, source, position_key, position, field, reason, raw, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (source, position_key) DO UPDATE SET \
           position = excluded.position, field = excluded.field, reason = excluded.reason, \
           raw = excluded.raw, at = excluded.at",
    )?;
    let now = ms(Utc::now());
    for r in batch.rejects {
        let raw = &r.raw[..r.raw.len().min(REJECT_RAW_LIMIT)];
        let position =
            serde_json::to_string(&r.position).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        reject.execute(params![
            r.workspace,
            r.source,
            r.position.key(),
            position,
            r.field,
            r.reason,
            raw,
            now
        ])?;
    }
    Ok(outcomes)
}

impl Store for SqliteStore {
    fn write(&self, batch: &WriteBatch<'_>) -> Result<Vec<WriteOutcome>> {
        let conn = lock(&self.writer);
        let writing = self.writing()?;
        let mut open = lock(&self.open);
        let group = self.group_rows.load(std::sync::atomic::Ordering::Relaxed);
        let mut current = match open.take() {
            Some(current) => current,
            None => {
                conn.execute_batch("BEGIN")?;
                OpenWrite {
                    rows: 0,
                    tentative: false,
                }
            }
        };
        let mut docs = IndexDocs::with_capacity(batch.messages.len());
        current.rows += batch.messages.len();
        let commit_now = current.rows >= group;
        let written = {
            let mut raw_log = lock(&writing.raw_log);
            let written = write_rows(&conn, &mut raw_log, batch, &mut docs);
            match written {
                Err(e) => {
                    raw_log.discard();
                    Err(e)
                }
                // A group still open passes its payloads on now (unsynced) rather than holding
                // them all in memory; a rollback leaves them unreferenced, which is harmless.
                Ok(o) if !commit_now => raw_log.flush(false).map(|()| o),
                Ok(o) => Ok(o),
            }
        };
        // A group still open hands its rows to the index thread now, to be written at the commit.
        let written = written.and_then(|o| {
            if !commit_now {
                current.tentative = true;
                writing
                    .indexer
                    .submit_tentative(std::mem::take(&mut docs))?;
            }
            Ok(o)
        });
        let outcomes = match written {
            Ok(o) => o,
            Err(e) => {
                self.roll_back(&conn);
                if current.tentative {
                    let _ = writing.indexer.rolled_back();
                }
                return Err(e);
            }
        };
        if commit_now {
            self.commit(&conn, current, docs)?;
        } else {
            *open = Some(current);
        }
        Ok(outcomes)
    }

    fn flush(&self) -> Result<()> {
        self.commit_open()?;
        match &self.writing {
            Some(w) => w.indexer.flush(),
            // A reader sees what the writing process has indexed so far.
            None => Ok(()),
        }
    }

    fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredMessage>> {
        let limit = if q.limit == 0 { 50 } else { q.limit };
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut add = |clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            // Each clause's `?`s all stand for the one value it adds.
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        use rusqlite::types::Value as V;
        if let Some(v) = &q.workspace {
            add(" AND workspace = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.source {
            add(" AND source = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.channel {
            add(" AND channel = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.author {
            let v = v.trim_start_matches('@').to_string();
            add(
                " AND (author_handle = ? OR author_id = ? OR author_handle = '@' || ?)",
                V::Text(v),
            );
        }
        if let Some(v) = q.wave {
            add(" AND wave = ?", V::Blob(v.0.to_vec()));
        }
        if let Some(v) = q.thread {
            add(
                " AND (id = ? OR (thread_id = ? AND thread_id != id))",
                V::Blob(v.0.to_vec()),
            );
        }
        if let Some(v) = q.since {
            add(" AND created_at >= ?", V::Integer(ms(v)));
        }
        if let Some(v) = q.until {
            add(" AND created_at < ?", V::Integer(ms(v)));
        }
        if let Some(v) = q.before_seq {
            add(" AND seq < ?", V::Integer(v));
        }
        for (task, label) in &q.labels {
            match task.as_str() {
                "topic" | "topics" => add(
                    " AND EXISTS (SELECT 1 FROM json_each(labels, '$.topics') WHERE value = ?)",
                    V::Text(label.clone()),
                ),
                "sentiment" => add(" AND json_extract(labels, '$.sentiment') = ?", V::Text(label.clone())),
                "intent" => add(" AND json_extract(labels, '$.intent') = ?", V::Text(label.clone())),
                "pii" => add(
                    " AND EXISTS (SELECT 1 FROM json_each(labels, '$.pii') WHERE value = ?)",
                    V::Text(label.clone()),
                ),
                "lang" => add(" AND lang = ?", V::Text(label.clone())),
                other => return Err(StoreError::Query(format!(
                    "cannot filter on label {other:?}; labels are sentiment, intent, topic, pii, lang"
                ))),
            }
        }
        if let Some(v) = q.min_urgency {
            add(
                " AND json_extract(labels, '$.urgency') >= ?",
                V::Real(f64::from(v)),
            );
        }
        if let Some(v) = &q.query {
            add(
                " AND seq IN (SELECT message_seq FROM query_matches WHERE query_id IN \
                 (SELECT id FROM queries WHERE name = ?))",
                V::Text(v.clone()),
            );
        }
        let Some(search_text) = q.search.as_deref() else {
            sql.push_str(&format!(" ORDER BY seq DESC LIMIT {limit}"));
            return self.with_reader(|c| query_messages(c, &sql, &args, |_| true));
        };
        // Nothing searchable in the words: nothing matches.
        let Some(search) = search::Search::parse(search_text) else {
            return Ok(Vec::new());
        };
        // Read what was written: the index may trail the last writes by a batch or two.
        self.flush()?;
        self.with_reader(|c| {
            let candidates = search::candidates(c, &search)?;
            let mut out = Vec::new();
            // Newest first, a chunk of candidates at a time, the other filters applied by SQL and
            // phrases checked on the text, until the page is full.
            for chunk in candidates.rchunks(512) {
                let list = chunk
                    .iter()
                    .rev()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let chunk_sql = format!("{sql} AND seq IN ({list}) ORDER BY seq DESC");
                let found = query_messages(c, &chunk_sql, &args, |m| {
                    search.phrases_match(
                        m.ingested.message.title.as_deref(),
                        &m.ingested.message.text,
                    )
                })?;
                out.extend(found);
                if out.len() >= limit {
                    out.truncate(limit);
                    break;
                }
            }
            Ok(out)
        })
    }

    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?;
            let mut rows = stmt.query(params![&id.0[..]])?;
            match rows.next()? {
                Some(r) => Ok(Some(message_from_row(r)?)),
                None => Ok(None),
            }
        })
    }

    fn message_raw(&self, id: MessageId) -> Result<Option<Vec<u8>>> {
        let place: Option<(i64, i64)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT raw_offset, raw_len FROM messages WHERE id = ?1",
                params![&id.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        place
            .map(|(offset, len)| self.raw_reader.read(offset as u64, len as usize))
            .transpose()
    }

    fn rejects(&self, q: &RejectQuery) -> Result<Vec<StoredReject>> {
        let limit = if q.limit == 0 { 50 } else { q.limit } as i64;
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, workspace, source, position, field, reason, length(raw), at FROM rejects \
                 WHERE (?1 IS NULL OR workspace = ?1) AND (?2 IS NULL OR source = ?2) \
                 ORDER BY seq DESC LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![q.workspace, q.source, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let position: String = r.get(3)?;
                let position: Position = serde_json::from_str(&position)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(StoredReject {
                    seq: r.get(0)?,
                    reject: Reject {
                        workspace: r.get(1)?,
                        source: r.get(2)?,
                        position,
                        field: r.get(4)?,
                        reason: r.get(5)?,
                        raw: Vec::new(),
                    },
                    raw_len: r.get::<_, i64>(6)? as usize,
                    at: from_ms(r.get(7)?),
                });
            }
            Ok(out)
        })
    }

    fn reject_raw(&self, seq: i64) -> Result<Option<Vec<u8>>> {
        self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT raw FROM rejects WHERE seq = ?1",
                params![seq],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn waves(&self, workspace: Option<&str>, limit: usize) -> Result<Vec<Wave>> {
        let limit = if limit == 0 { 50 } else { limit } as i64;
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT w.wave, w.size, w.authors, w.first_at, w.last_at, COALESCE(h.text, '') FROM ( \
                   SELECT wave, COUNT(*) AS size, \
                     COUNT(DISTINCT COALESCE(author_id, author_handle, author_name)) AS authors, \
                     MIN(created_at) AS first_at, MAX(created_at) AS last_at \
                   FROM messages WHERE wave IS NOT NULL AND (?1 IS NULL OR workspace = ?1) \
                   GROUP BY wave) w \
                 LEFT JOIN messages h ON h.id = w.wave \
                 ORDER BY w.size DESC, w.first_at LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![workspace, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(Wave {
                    head: parse_id(&r.get::<_, Vec<u8>>(0)?)?,
                    size: r.get::<_, i64>(1)? as u64,
                    distinct_authors: r.get::<_, i64>(2)? as u64,
                    first_at: from_ms(r.get(3)?),
                    last_at: from_ms(r.get(4)?),
                    sample: r.get(5)?,
                });
            }
            Ok(out)
        })
    }

    fn upgrade_fingerprints(&self, version: u32, f: &dyn Fn(&str) -> u64) -> Result<u64> {
        self.writing()?;
        let mut conn = self.writer()?;
        let tx = conn.transaction()?;
        let stored: u32 = tx
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'fingerprint'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(1);
        if stored == version {
            return Ok(0);
        }
        let mut done = 0u64;
        let mut after = 0i64;
        // By slices of the table: a whole history's texts are not held at once.
        loop {
            let slice: Vec<(i64, String)> = {
                let mut read = tx.prepare_cached(
                    "SELECT seq, text FROM messages WHERE seq > ?1 ORDER BY seq LIMIT 10000",
                )?;
                let rows = read.query_map(params![after], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let Some(&(last, _)) = slice.last() else {
                break;
            };
            let mut update =
                tx.prepare_cached("UPDATE messages SET fingerprint = ?1 WHERE seq = ?2")?;
            for (seq, text) in &slice {
                update.execute(params![f(text) as i64, seq])?;
            }
            done += slice.len() as u64;
            after = last;
        }
        tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('fingerprint', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![version],
        )?;
        tx.commit()?;
        Ok(done)
    }

    fn recent_fingerprints(&self, limit: usize) -> Result<Vec<Fingerprint>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, fingerprint, wave FROM messages ORDER BY seq DESC LIMIT ?1",
            )?;
            let mut rows = stmt.query(params![limit as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(Fingerprint {
                    id: parse_id(&r.get::<_, Vec<u8>>(0)?)?,
                    fingerprint: r.get::<_, i64>(1)? as u64,
                    wave: opt_id(r.get(2)?)?,
                });
            }
            out.reverse();
            Ok(out)
        })
    }

    fn stats(&self, workspace: Option<&str>) -> Result<Stats> {
        self.with_reader(|c| {
            let (messages, waves, in_waves) = c.query_row(
                "SELECT COUNT(*), COUNT(DISTINCT wave), COUNT(wave) FROM messages \
                 WHERE ?1 IS NULL OR workspace = ?1",
                params![workspace],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            let rejects: i64 = c.query_row(
                "SELECT COUNT(*) FROM rejects WHERE ?1 IS NULL OR workspace = ?1",
                params![workspace],
                |r| r.get(0),
            )?;
            Ok(Stats {
                messages: messages as u64,
                rejects: rejects as u64,
                waves: waves as u64,
                messages_in_waves: in_waves as u64,
            })
        })
    }

    fn feed_state(&self, url: &str) -> Result<Option<FeedState>> {
        self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT etag, last_modified, checked_at FROM feed_state WHERE url = ?1",
                params![url],
                |r| {
                    Ok(FeedState {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                        checked_at: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    })
                },
            )
            .optional()?)
        })
    }

    fn set_feed_state(&self, url: &str, state: &FeedState) -> Result<()> {
        let conn = self.writer()?;
        conn.execute(
            "INSERT INTO feed_state (url, etag, last_modified, checked_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, \
               last_modified = excluded.last_modified, checked_at = excluded.checked_at",
            params![url, state.etag, state.last_modified, state.checked_at.map(ms)],
        )?;
        Ok(())
    }

    fn put_query(&self, workspace: &str, name: &str, query: &str) -> Result<StoredQuery> {
        self.writing()?;
        let mut conn = self.writer()?;
        let tx = conn.transaction()?;
        let old: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, query FROM queries WHERE workspace = ?1 AND name = ?2",
                params![workspace, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match old {
            Some((_, text)) if text == query => {}
            Some((id, _)) => {
                // New words, new matches: the old ones answered another question.
                tx.execute("DELETE FROM query_matches WHERE query_id = ?1", params![id])?;
                tx.execute(
                    "UPDATE queries SET query = ?2, created_at = ?3 WHERE id = ?1",
                    params![id, query, ms(Utc::now())],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO queries (workspace, name, query, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![workspace, name, query, ms(Utc::now())],
                )?;
            }
        }
        tx.commit()?;
        drop(conn);
        self.queries(Some(workspace))?
            .into_iter()
            .find(|q| q.name == name)
            .ok_or_else(|| StoreError::Corrupt(format!("query {name} vanished")))
    }

    fn add_query_matches(&self, workspace: &str, name: &str, seqs: &[i64]) -> Result<u64> {
        self.writing()?;
        let mut conn = self.writer()?;
        let tx = conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM queries WHERE workspace = ?1 AND name = ?2",
                params![workspace, name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(0);
        };
        let mut added = 0u64;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO query_matches (query_id, message_seq, at) \
                 SELECT ?1, seq, created_at FROM messages WHERE seq = ?2",
            )?;
            for &seq in seqs {
                added += put.execute(params![id, seq])? as u64;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn correct_label(&self, id: MessageId, task: &str, label: &str) -> Result<Option<Correction>> {
        self.writing()?;
        let mut conn = self.writer()?;
        let tx = conn.transaction()?;
        let row: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT labels, text FROM messages WHERE id = ?1",
                params![&id.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((labels, text)) = row else {
            return Ok(None);
        };
        let mut labels: Labels = match labels {
            Some(l) => serde_json::from_str(&l).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => Labels::default(),
        };
        let previous = match task {
            "sentiment" => {
                labels.sentiment_score = None;
                labels.sentiment.replace(label.to_string())
            }
            "intent" => {
                labels.intent_score = None;
                labels.intent.replace(label.to_string())
            }
            "topics" | "topic" => {
                let p = Some(labels.topics.join(";"));
                labels.topics = label
                    .split(';')
                    .map(str::to_string)
                    .filter(|t| !t.is_empty())
                    .collect();
                p
            }
            other => {
                return Err(StoreError::Query(format!(
                    "cannot correct {other:?}; the tasks are sentiment, intent, topics"
                )))
            }
        };
        let json =
            serde_json::to_string(&labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "UPDATE messages SET labels = ?2 WHERE id = ?1",
            params![&id.0[..], json],
        )?;
        let at = Utc::now();
        tx.execute(
            "INSERT INTO label_corrections (message_id, task, label, previous, text, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![&id.0[..], task, label, previous, text, ms(at)],
        )?;
        tx.commit()?;
        Ok(Some(Correction {
            message: id,
            task: task.to_string(),
            label: label.to_string(),
            previous,
            text,
            at,
        }))
    }

    fn corrections(&self) -> Result<Vec<Correction>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT message_id, task, label, previous, text, at FROM label_corrections ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(Correction {
                    message: parse_id(&r.get::<_, Vec<u8>>(0)?)?,
                    task: r.get(1)?,
                    label: r.get(2)?,
                    previous: r.get(3)?,
                    text: r.get(4)?,
                    at: from_ms(r.get(5)?),
                });
            }
            Ok(out)
        })
    }

    fn remove_query(&self, workspace: &str, name: &str) -> Result<bool> {
        self.writing()?;
        let mut conn = self.writer()?;
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM query_matches WHERE query_id IN \
             (SELECT id FROM queries WHERE workspace = ?1 AND name = ?2)",
            params![workspace, name],
        )?;
        let n = tx.execute(
            "DELETE FROM queries WHERE workspace = ?1 AND name = ?2",
            params![workspace, name],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn queries(&self, workspace: Option<&str>) -> Result<Vec<StoredQuery>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT q.workspace, q.name, q.query, q.created_at, \
                   (SELECT COUNT(*) FROM query_matches m WHERE m.query_id = q.id) \
                 FROM queries q WHERE ?1 IS NULL OR q.workspace = ?1 ORDER BY q.name",
            )?;
            let mut rows = stmt.query(params![workspace])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(StoredQuery {
                    workspace: r.get(0)?,
                    name: r.get(1)?,
                    query: r.get(2)?,
                    created_at: from_ms(r.get(3)?),
                    matches: r.get::<_, i64>(4)? as u64,
                });
            }
            Ok(out)
        })
    }

    fn query_counts(
        &self,
        workspace: &str,
        name: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayCount>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT m.at / 86400000 AS day, COUNT(*) FROM query_matches m \
                 JOIN queries q ON q.id = m.query_id \
                 WHERE q.workspace = ?1 AND q.name = ?2 AND (?3 IS NULL OR m.at >= ?3) \
                 GROUP BY day ORDER BY day",
            )?;
            let mut rows = stmt.query(params![workspace, name, since.map(ms)])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let day = from_ms(r.get::<_, i64>(0)? * 86_400_000).date_naive();
                out.push(DayCount {
                    day,
                    count: r.get::<_, i64>(1)? as u64,
                });
            }
            Ok(out)
        })
    }

    fn candidates(&self, plan: &search::Plan) -> Result<Option<Vec<i64>>> {
        self.flush()?;
        self.with_reader(|c| search::plan_candidates(c, plan))
    }

    fn messages_by_seq(&self, seqs: &[i64]) -> Result<Vec<StoredMessage>> {
        self.with_reader(|c| {
            let mut out = Vec::with_capacity(seqs.len());
            for chunk in seqs.chunks(512) {
                let list = chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq IN ({list})");
                let mut found = query_messages(c, &sql, &[], |_| true)?;
                let order: std::collections::HashMap<i64, usize> =
                    chunk.iter().enumerate().map(|(i, s)| (*s, i)).collect();
                found.sort_by_key(|m| order.get(&m.seq).copied().unwrap_or(usize::MAX));
                out.extend(found);
            }
            Ok(out)
        })
    }

    fn messages_after(&self, seq: i64, limit: usize) -> Result<Vec<StoredMessage>> {
        self.with_reader(|c| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            );
            let mut out = query_messages(
                c,
                &sql,
                &[
                    rusqlite::types::Value::Integer(seq),
                    rusqlite::types::Value::Integer(limit as i64),
                ],
                |_| true,
            )?;
            if let (Some(first), Some(last)) = (out.first(), out.last()) {
                let mut stmt = c.prepare_cached(
                    "SELECT m.message_seq, q.name FROM query_matches m \
                     JOIN queries q ON q.id = m.query_id \
                     WHERE m.message_seq BETWEEN ?1 AND ?2 ORDER BY m.message_seq, q.name",
                )?;
                let mut rows = stmt.query(params![first.seq, last.seq])?;
                let at: std::collections::HashMap<i64, usize> =
                    out.iter().enumerate().map(|(i, m)| (m.seq, i)).collect();
                while let Some(r) = rows.next()? {
                    let (s, name): (i64, String) = (r.get(0)?, r.get(1)?);
                    if let Some(&i) = at.get(&s) {
                        out[i].ingested.matches.push(name);
                    }
                }
            }
            Ok(out)
        })
    }
}
