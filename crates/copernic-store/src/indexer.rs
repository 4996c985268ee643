//! The search index's own database file and the thread that writes it.
//!
//! Why a second file and thread: SQLite has one writer per database, and indexing costs about as
//! much as storing the rows. With the index in `search.db`, written by its own thread, a bulk
//! import stores rows and indexes them on both cores at once.
//!
//! Consistency: the index records `indexed_through`, the highest message number whose index it
//! committed, in the same transaction as the postings. Messages are handed over in commit order,
//! and a segment is written only from messages whose own commit the thread has heard of, so the
//! index always covers exactly committed messages up to that mark. Whatever a crash left
//! unindexed is indexed again when the store opens ([`catch_up`]).
//!
//! A grouped write transaction (a bulk import's) hands its messages over as it writes them,
//! before its commit ([`Indexer::submit_tentative`]): the thread cuts their words while the
//! writer goes on, and writes them only once told of the commit ([`Indexer::committed`]), or drops
//! them on a rollback. Handed over only at the commit, a group's words were all cut after it:
//! the index thread idled through the group and the import ended with it working alone.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{params, Connection};

use crate::search::{merge_full_tiers, write_segment, Postings};
use crate::{Result, StoreError};

/// The index file inside the data folder.
pub const SEARCH_FILE: &str = "search.db";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS search_postings (
    term TEXT NOT NULL,
    segment INTEGER NOT NULL,
    docs BLOB NOT NULL,
    PRIMARY KEY (term, segment)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search_segments (
    segment INTEGER PRIMARY KEY,
    docs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"#;

/// What the index thread needs of written messages: their numbers, texts, titles and field
/// terms, packed into one buffer. One allocation per write rather than three per message: the
/// writer allocates them and the index thread frees them, and glibc's allocator makes a block
/// freed on another thread wait for the lock of the arena it came from. Words are cut into terms
/// on the index thread: during a bulk import the classify thread and the writer are the busier
/// ones.
#[derive(Default)]
pub struct IndexDocs {
    buf: String,
    docs: Vec<PackedDoc>,
}

/// One message in [`IndexDocs::buf`]: its text, then its title, then its field terms (one per
/// line), each part ending where the next begins; or, when `cut`, its terms (its words and its
/// field terms, one per line), then its title, with no field terms after.
struct PackedDoc {
    seq: i64,
    /// The text's words were given: the index thread need not cut the text.
    cut: bool,
    text_end: usize,
    title_end: Option<usize>,
    fields_end: usize,
}

impl IndexDocs {
    pub fn with_capacity(docs: usize) -> IndexDocs {
        // Room for a typical social message's text and field terms (about 300 bytes): a bulk
        // import's buffer is allocated once per write, not grown.
        IndexDocs {
            buf: String::with_capacity(docs * 320),
            docs: Vec::with_capacity(docs),
        }
    }

    /// Adds the searchable parts of message number `seq`: its terms when they were made already
    /// (see `Ingested::words`), else its text and its fields.
    pub fn push(&mut self, seq: i64, m: &copernic_core::Message, words: Option<&str>) {
        self.buf.push_str(words.unwrap_or(&m.text));
        let text_end = self.buf.len();
        let title_end = m.title.as_deref().map(|t| {
            self.buf.push_str(t);
            self.buf.len()
        });
        if words.is_none() {
            Postings::push_field_terms(&mut self.buf, &copernic_core::text::indexed_fields(m));
        }
        self.docs.push(PackedDoc {
            seq,
            cut: words.is_some(),
            text_end,
            title_end,
            fields_end: self.buf.len(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Adds every message to `postings`, in order.
    fn add_to(&self, postings: &mut Postings) {
        let mut at = 0;
        for d in &self.docs {
            let text = &self.buf[at..d.text_end];
            let title = d.title_end.map(|end| &self.buf[d.text_end..end]);
            let fields_start = d.title_end.unwrap_or(d.text_end);
            let fields = &self.buf[fields_start..d.fields_end];
            if d.cut {
                postings.add_cut(d.seq, title, text, fields);
            } else {
                postings.add(d.seq, title, text, fields);
            }
            at = d.fields_end;
        }
    }
}

enum Job {
    /// Index these committed messages; numbers ascending, after every earlier job's.
    Docs(IndexDocs),
    /// Messages of the open write transaction: gathered, not written until `Committed`.
    Tentative(IndexDocs),
    /// The open write transaction committed: its tentative messages can be written.
    Committed,
    /// The open write transaction rolled back: drop its tentative messages.
    RolledBack,
    /// Answer once every earlier job is committed.
    Flush(SyncSender<Result<(), String>>),
}

/// Handle to the index thread.
pub struct Indexer {
    jobs: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn open_index(path: &Path) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    // The index can always be rebuilt from the messages (catch_up), so it never waits for the disk.
    c.pragma_update(None, "synchronous", "NORMAL")?;
    // 16 MiB: segments are written in term order and merged by streaming, so a larger cache
    // only raised a bulk import's peak memory (by about 50 MB), not its speed.
    c.pragma_update(None, "cache_size", -16384)?;
    c.pragma_update(None, "wal_autocheckpoint", 8192)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.execute_batch(SCHEMA)?;
    Ok(c)
}

/// The highest message number the index covers.
pub fn indexed_through(c: &Connection) -> Result<i64> {
    Ok(c.query_row(
        "SELECT value FROM search_meta WHERE key = 'indexed_through'",
        [],
        |r| r.get(0),
    )
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        e => Err(e),
    })?)
}

fn index(c: &mut Connection, postings: &mut Postings) -> Result<()> {
    let last = postings.last();
    let tx = c.transaction()?;
    write_segment(&tx, postings)?;
    if let Some(last) = last {
        tx.execute(
            "INSERT INTO search_meta (key, value) VALUES ('indexed_through', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![last],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Merges the segments of full tiers, in a transaction of its own; false when `stop` stopped it
/// (rolled back). Merging only makes searches read fewer rows: it must not hold up a flush or the
/// end of a process.
fn merge(c: &mut Connection, stop: &mut dyn FnMut() -> bool) -> Result<bool> {
    let tx = c.transaction()?;
    let done = merge_full_tiers(&tx, stop)?;
    if done {
        tx.commit()?;
    }
    Ok(done)
}

/// Jobs a merge takes off the queue while it runs, looking for a flush or the store closing;
/// beyond that the writer waits, as it does for a busy index thread.
const JOBS_HELD_DURING_MERGE: usize = 4;

/// Indexes the messages of `main` above the index's mark, in chunks.
fn catch_up(main: &Connection, idx: &mut Connection) -> Result<()> {
    let mut from = indexed_through(idx)?;
    let mut postings = Postings::default();
    let mut fields = String::new();
    loop {
        {
            let mut stmt = main.prepare(
                "SELECT seq, title, text, lang, channel, labels FROM messages \
                 WHERE seq > ?1 ORDER BY seq LIMIT 20000",
            )?;
            let mut rows = stmt.query(params![from])?;
            while let Some(r) = rows.next()? {
                let title: Option<String> = r.get(1)?;
                let text: String = r.get(2)?;
                // Only what indexed_fields reads; the rest of the message is not needed.
                let mut m = copernic_core::Message::new("", "", "", String::new());
                m.lang = r.get(3)?;
                m.channel = r.get(4)?;
                if let Some(l) = r.get::<_, Option<String>>(5)? {
                    m.labels = serde_json::from_str(&l).unwrap_or_default();
                }
                fields.clear();
                Postings::push_field_terms(&mut fields, &copernic_core::text::indexed_fields(&m));
                postings.add(r.get(0)?, title.as_deref(), &text, &fields);
            }
        }
        let Some(last) = postings.last() else {
            return Ok(());
        };
        from = last;
        index(idx, &mut postings)?;
    }
}

impl Indexer {
    /// Opens the index beside `main`, brings it up to date, and starts its thread.
    pub fn start(dir: &Path, main: &Connection) -> Result<Indexer> {
        let path = dir.join(SEARCH_FILE);
        let mut idx = open_index(&path)?;
        catch_up(main, &mut idx)?;
        // A few jobs in flight let the writer run ahead; the bound keeps memory flat when the
        // index is slower than the writer.
        let (tx, rx) = sync_channel::<Job>(4);
        let thread = std::thread::Builder::new()
            .name("copernic-index".into())
            .spawn(move || run(idx, rx))
            .map_err(|source| StoreError::Folder {
                path: path.clone(),
                source,
            })?;
        Ok(Indexer {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn sender(&self) -> Result<SyncSender<Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Index("the index thread has stopped".into()))
    }

    /// Queues committed messages for indexing.
    pub fn submit(&self, docs: IndexDocs) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        self.send(Job::Docs(docs))
    }

    /// Hands over messages of the open write transaction, before its commit: their words are cut
    /// now, and they are written once [`Indexer::committed`] is called, or dropped by
    /// [`Indexer::rolled_back`].
    pub fn submit_tentative(&self, docs: IndexDocs) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        self.send(Job::Tentative(docs))
    }

    /// The open write transaction committed.
    pub fn committed(&self) -> Result<()> {
        self.send(Job::Committed)
    }

    /// The open write transaction rolled back.
    pub fn rolled_back(&self) -> Result<()> {
        self.send(Job::RolledBack)
    }

    fn send(&self, job: Job) -> Result<()> {
        self.sender()?.send(job).map_err(|_| {
            StoreError::Index("the index thread has stopped; reopen the store to catch up".into())
        })
    }

    /// Waits until everything submitted is indexed.
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        let stopped = || {
            StoreError::Index("the index thread has stopped; reopen the store to catch up".into())
        };
        self.sender()?.send(Job::Flush(tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?.map_err(StoreError::Index)
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the queued jobs and exit.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// Messages gathered into one segment during a bulk import: fewer, larger segments mean fewer
/// rows per term and fewer merges. About 50 MB of terms at most.
const SEGMENT_DOCS: usize = 100_000;
/// How long gathered messages wait for more before they are indexed anyway: a message sent
/// alone through the API is searchable this soon (and at once for anyone who searches), as
/// Elasticsearch's default refresh interval. Shorter cut a bulk import's index into many small
/// segments (the writer's commits are often more than 200 ms apart), each costing a merge later.
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

fn run(mut idx: Connection, jobs: Receiver<Job>) {
    // The first failure is kept and reported to every flush: the index is behind until the store
    // is reopened and catches up.
    let mut failed: Option<String> = None;
    let mut pending = Postings::default();
    // Messages of the writer's open transaction, numbered after all of `pending`'s.
    let mut tentative = Postings::default();
    let commit = |idx: &mut Connection, pending: &mut Postings, failed: &mut Option<String>| {
        if pending.docs() == 0 {
            return;
        }
        if failed.is_some() {
            *pending = Postings::default();
            return;
        }
        if let Err(e) = index(idx, pending) {
            tracing::error!(message = "search indexing failed", error = %e);
            *failed = Some(format!("search indexing failed: {e}"));
            *pending = Postings::default();
        }
    };
    // Merges run when no job is waiting, and stop (rolled back, to be redone when next idle) when a
    // flush arrives or the store closes: the next process that writes finishes them. Merged
    // inside the segment's transaction, the last segment of a million-message import made the
    // import wait about a second for the merge of the eight before it. Due at start (an earlier
    // process may have left some) and after any job that may have written a segment.
    let mut merge_due = true;
    // Jobs a merge took off the queue, handled before the queue's next ones.
    let mut held: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    let mut closed = false;
    loop {
        let job = if let Some(job) = held.pop_front() {
            job
        } else if closed {
            break;
        } else if pending.docs() == 0 && merge_due {
            match jobs.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty) => {
                    let mut stop = || {
                        while held.len() < JOBS_HELD_DURING_MERGE {
                            match jobs.try_recv() {
                                Ok(job) => {
                                    let flush = matches!(job, Job::Flush(_));
                                    held.push_back(job);
                                    if flush {
                                        return true;
                                    }
                                }
                                Err(TryRecvError::Empty) => return false,
                                Err(TryRecvError::Disconnected) => {
                                    closed = true;
                                    return true;
                                }
                            }
                        }
                        false
                    };
                    merge_due = match merge(&mut idx, &mut stop) {
                        Ok(done) => !done,
                        Err(e) => {
                            // Nothing is lost: the segments stay as they were, and searches read
                            // them. Tried again after the next segment.
                            tracing::warn!(message = "merging search segments failed", error = %e);
                            false
                        }
                    };
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        } else if pending.docs() == 0 {
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        } else {
            match jobs.recv_timeout(IDLE) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    commit(&mut idx, &mut pending, &mut failed);
                    merge_due = true;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        merge_due |= !matches!(job, Job::Tentative(_) | Job::RolledBack);
        match job {
            Job::Docs(docs) => {
                docs.add_to(&mut pending);
                drop(docs);
                if pending.docs() >= SEGMENT_DOCS {
                    commit(&mut idx, &mut pending, &mut failed);
                }
            }
            Job::Tentative(docs) => {
                docs.add_to(&mut tentative);
                drop(docs);
            }
            Job::Committed => {
                if tentative.docs() > 0 {
                    // Posting lists cannot be joined cheaply: those gathered before the group
                    // are written as a segment of their own, and the group's become `pending`.
                    commit(&mut idx, &mut pending, &mut failed);
                    std::mem::swap(&mut pending, &mut tentative);
                    if pending.docs() >= SEGMENT_DOCS {
                        commit(&mut idx, &mut pending, &mut failed);
                    }
                }
            }
            Job::RolledBack => tentative = Postings::default(),
            Job::Flush(reply) => {
                commit(&mut idx, &mut pending, &mut failed);
                let _ = reply.send(match &failed {
                    None => Ok(()),
                    Some(e) => Err(e.clone()),
                });
            }
        }
    }
    commit(&mut idx, &mut pending, &mut failed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(first: i64, texts: &[&str]) -> IndexDocs {
        let mut d = IndexDocs::default();
        for (k, t) in texts.iter().enumerate() {
            // Every other message with its terms made already, as the classify step gives them:
            // both are indexed alike.
            let m = copernic_core::Message::new("t", "x", "web", t.to_string());
            let mut words: String = copernic_core::text::tokens(t)
                .map(|w| format!("{w}\n"))
                .collect();
            Postings::push_field_terms(&mut words, &copernic_core::text::indexed_fields(&m));
            d.push(first + k as i64, &m, (k % 2 == 1).then_some(words.as_str()));
        }
        d
    }

    fn terms(c: &Connection) -> Vec<String> {
        let mut s = c
            .prepare(
                "SELECT DISTINCT term FROM search_postings WHERE term NOT LIKE ':%' ORDER BY term",
            )
            .unwrap();
        let rows = s.query_map([], |r| r.get(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    fn flush(jobs: &SyncSender<Job>) {
        let (tx, rx) = sync_channel(1);
        jobs.send(Job::Flush(tx)).unwrap();
        rx.recv().unwrap().unwrap();
    }

    /// An index thread on a fresh index file: its folder, its queue, its handle, and a connection
    /// to look at what it wrote.
    fn start() -> (
        tempfile::TempDir,
        SyncSender<Job>,
        std::thread::JoinHandle<()>,
        Connection,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEARCH_FILE);
        let idx = open_index(&path).unwrap();
        let (jobs, rx) = sync_channel::<Job>(4);
        let thread = std::thread::spawn(move || run(idx, rx));
        let check = Connection::open(&path).unwrap();
        (dir, jobs, thread, check)
    }

    /// The message numbers of `term`, over every segment.
    fn postings(c: &Connection, term: &str) -> Vec<i64> {
        let mut s = c
            .prepare("SELECT docs FROM search_postings WHERE term = ?1 ORDER BY segment")
            .unwrap();
        let mut all = Vec::new();
        for blob in s.query_map([term], |r| r.get::<_, Vec<u8>>(0)).unwrap() {
            crate::search::decode(&blob.unwrap(), &mut all).unwrap();
        }
        all
    }

    /// Tentative messages are written only once their commit is announced, dropped on a
    /// rollback, and never mixed into a segment with messages gathered before them.
    #[test]
    fn tentative_messages_wait_for_their_commit() {
        let (_dir, jobs, thread, check) = start();

        jobs.send(Job::Docs(docs(1, &["alpha"]))).unwrap();
        jobs.send(Job::Tentative(docs(2, &["bravo"]))).unwrap();
        jobs.send(Job::RolledBack).unwrap();
        flush(&jobs);
        assert_eq!(
            terms(&check),
            ["alpha"],
            "a rolled-back message is never written"
        );

        jobs.send(Job::Docs(docs(2, &["charlie"]))).unwrap();
        jobs.send(Job::Tentative(docs(3, &["delta", "echo"])))
            .unwrap();
        flush(&jobs);
        assert_eq!(
            terms(&check),
            ["alpha", "charlie"],
            "a flush writes committed messages, not the open transaction's"
        );
        assert_eq!(indexed_through(&check).unwrap(), 2);

        jobs.send(Job::Tentative(docs(5, &["foxtrot"]))).unwrap();
        jobs.send(Job::Committed).unwrap();
        flush(&jobs);
        assert_eq!(
            terms(&check),
            ["alpha", "charlie", "delta", "echo", "foxtrot"]
        );
        assert_eq!(indexed_through(&check).unwrap(), 5);
        let segments: i64 = check
            .query_row("SELECT COUNT(*) FROM search_segments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(segments, 3, "one segment per flush or commit");
        drop(jobs);
        thread.join().unwrap();
    }

    /// A merge told to stop leaves the segments as they were; told nothing, it merges the tier.
    #[test]
    fn a_stopped_merge_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = open_index(&dir.path().join(SEARCH_FILE)).unwrap();
        // More distinct terms than a merge handles between two questions to `stop`.
        let text: String = (0..1500).map(|k| format!("mot{k} ")).collect();
        for seq in 1..=8 {
            let mut p = Postings::default();
            p.add(seq, None, &text, "");
            index(&mut c, &mut p).unwrap();
        }
        let segments = |c: &Connection| -> i64 {
            c.query_row("SELECT COUNT(*) FROM search_segments", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(segments(&c), 8);
        let mut asked = 0;
        assert!(!merge(&mut c, &mut || {
            asked += 1;
            true
        })
        .unwrap());
        assert_eq!(asked, 1);
        assert_eq!(segments(&c), 8, "a stopped merge changes nothing");
        assert!(merge(&mut c, &mut || false).unwrap());
        assert_eq!(segments(&c), 1);
        assert_eq!(postings(&c, "mot1499"), (1..=8).collect::<Vec<i64>>());
    }

    /// A full tier of segments is merged once the thread is idle, and searches read the same.
    #[test]
    fn full_tiers_are_merged_when_idle() {
        let (_dir, jobs, thread, check) = start();
        let words = [
            "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit",
        ];
        for (k, w) in words.iter().enumerate() {
            jobs.send(Job::Docs(docs(k as i64 + 1, &[&format!("{w} commun")])))
                .unwrap();
            flush(&jobs);
        }
        let segments = || -> (i64, i64) {
            check
                .query_row("SELECT COUNT(*), SUM(docs) FROM search_segments", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
        };
        // The merge runs on the index thread after the last flush was answered: waited for here.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while segments().0 > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            segments(),
            (1, 8),
            "eight one-message segments merged into one"
        );
        assert_eq!(postings(&check, "commun"), (1..=8).collect::<Vec<i64>>());
        let mut sorted = words.to_vec();
        sorted.push("commun");
        sorted.sort();
        assert_eq!(terms(&check), sorted);
        drop(jobs);
        thread.join().unwrap();
    }
}
