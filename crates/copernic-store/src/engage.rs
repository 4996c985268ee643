//! The care side's records (cases, people, replies, the outbox, the audit log), in their own
//! SQLite file, `engage.db`, beside the messages: answering never waits on a bulk import's
//! write lock, and an import never waits on an agent.
//!
//! The engine (copernic-engage) decides; this file only reads and writes. Every change runs in
//! one [`EngageTx`] (`BEGIN IMMEDIATE`), so a case, its audit entry and the follower's cursor land
//! together or not at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use copernic_core::engage::{
    Alert, AuditEntry, Case, CaseMessage, Note, Priority, Reply, ReplyStatus, Role, Status, Team,
    User,
};
use copernic_core::{Direction, MessageId};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::{lock, migrate_with};
use crate::{Result, StoreError};

/// The file in the data folder.
pub const ENGAGE_FILE: &str = "engage.db";

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    private INTEGER NOT NULL DEFAULT 0,
    hours TEXT NOT NULL DEFAULT 'null'
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT,
    email TEXT,
    role TEXT NOT NULL,
    password_hash TEXT,
    languages TEXT NOT NULL DEFAULT '[]',
    channels TEXT NOT NULL DEFAULT '[]',
    capacity INTEGER NOT NULL DEFAULT 10,
    available INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE memberships (
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    team TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    PRIMARY KEY (user_name, team)
);
-- Session cookies and API tokens, by the SHA-256 of the secret: a stolen database holds no
-- usable credential.
CREATE TABLE tokens (
    hash BLOB PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    label TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE TABLE customers (
    key TEXT PRIMARY KEY,
    attributes TEXT NOT NULL
);
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    customer TEXT NOT NULL,
    customer_name TEXT,
    customer_handle TEXT,
    thread BLOB,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    team TEXT,
    assignee TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    lang TEXT,
    intent TEXT,
    subject TEXT NOT NULL,
    sla TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_inbound_at INTEGER NOT NULL,
    first_response_at INTEGER,
    last_response_at INTEGER,
    resolved_at INTEGER,
    first_response_due INTEGER,
    next_response_due INTEGER,
    resolution_due INTEGER,
    breaches TEXT NOT NULL DEFAULT '[]',
    approval INTEGER NOT NULL DEFAULT 0,
    auto_replied INTEGER NOT NULL DEFAULT 0,
    merged_into INTEGER,
    inbound INTEGER NOT NULL DEFAULT 0,
    -- The earliest clock still running, for the timer scan.
    next_due INTEGER
);
-- The inbox is read newest activity first, whole or by one filter: each filter has its own
-- index in that order, so a page never sorts (a team's 100,000 cases sorted per page made p99
-- seconds under load).
CREATE INDEX cases_inbox ON cases(updated_at DESC, id DESC);
CREATE INDEX cases_team ON cases(team, updated_at DESC, id DESC);
CREATE INDEX cases_assignee ON cases(assignee, updated_at DESC, id DESC);
CREATE INDEX cases_status ON cases(status, updated_at DESC, id DESC);
CREATE INDEX cases_priority ON cases(priority, updated_at DESC, id DESC);
CREATE INDEX cases_customer ON cases(customer, channel, workspace, id DESC);
CREATE INDEX cases_thread ON cases(thread);
CREATE INDEX cases_due ON cases(next_due) WHERE next_due IS NOT NULL;
CREATE INDEX cases_queue ON cases(team, priority_rank DESC, created_at)
    WHERE assignee IS NULL AND status IN ('new', 'open');
CREATE INDEX cases_load ON cases(assignee)
    WHERE assignee IS NOT NULL AND status IN ('new', 'open', 'pending') AND merged_into IS NULL;
CREATE TABLE case_messages (
    case_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    message BLOB NOT NULL,
    direction TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE UNIQUE INDEX case_messages_message ON case_messages(message);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX notes_case ON notes(case_id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    case_id INTEGER,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_case ON audit(case_id, id);
CREATE TABLE replies (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    template TEXT,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL,
    target TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    approved_by TEXT,
    remote_id TEXT
);
CREATE INDEX replies_case ON replies(case_id, id);
CREATE INDEX replies_due ON replies(next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    case_id INTEGER,
    reply_id INTEGER,
    message TEXT NOT NULL
);
-- Rules, SLA policies, templates, connectors: documents the engine owns, by key.
CREATE TABLE config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Followers' positions in the message log (the last message seq they handled).
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"#];

/// The care side's database.
pub struct EngageDb {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl EngageDb {
    /// Opens (creating and migrating) `engage.db` in data folder `dir`.
    pub fn open(dir: &Path) -> Result<EngageDb> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(ENGAGE_FILE);
        let mut c = Connection::open(&path)?;
        configure(&c)?;
        // The writer keeps the case indexes and the message→case index in memory while catching
        // up on a large import (at 8 MiB, page spills and re-reads were a third of its time), and
        // checkpoints every 64 MiB of WAL rather than every 4.
        c.pragma_update(None, "cache_size", -65536)?;
        c.pragma_update(None, "wal_autocheckpoint", 16384)?;
        migrate_with(&mut c, MIGRATIONS)?;
        Ok(EngageDb {
            path,
            writer: Mutex::new(c),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` in one write transaction; nothing it did stays if it fails.
    pub fn write<T>(&self, f: impl FnOnce(&EngageTx<'_>) -> Result<T>) -> Result<T> {
        let mut c = lock(&self.writer);
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&EngageTx { c: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// [`EngageDb::write`] for catching up on the message log: the commit waits for the OS, not
    /// the disk. Safe because the follower's cursor is in the same transaction: a commit lost to
    /// a power cut takes its cursor with it, and the messages are handled again.
    pub fn write_bulk<T>(&self, f: impl FnOnce(&EngageTx<'_>) -> Result<T>) -> Result<T> {
        let mut c = lock(&self.writer);
        c.pragma_update(None, "synchronous", "NORMAL")?;
        let out = (|| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&EngageTx { c: &tx })?;
            tx.commit()?;
            Ok(out)
        })();
        c.pragma_update(None, "synchronous", "FULL")?;
        out
    }

    /// Runs `f` on a reader connection (a consistent snapshot; WAL lets it run beside writes).
    pub fn read<T>(&self, f: impl FnOnce(&EngageTx<'_>) -> Result<T>) -> Result<T> {
        let conn = lock(&self.readers).pop();
        let mut conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                configure(&c)?;
                c
            }
        };
        let out = {
            let tx = conn.transaction()?;
            let out = f(&EngageTx { c: &tx });
            tx.finish()?;
            out
        };
        let mut pool = lock(&self.readers);
        // Enough for the blocking pool's readers under load: a connection dropped and reopened
        // starts with a cold cache.
        if pool.len() < 64 {
            pool.push(conn);
        }
        out
    }
}

fn configure(c: &Connection) -> Result<()> {
    c.pragma_update(None, "journal_mode", "WAL")?;
    // What a person did (a reply, an assignment) is on disk when the API answers.
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    c.pragma_update(None, "cache_size", -8192)?;
    // Reads through the OS page cache, shared by every connection: a new reader starts warm.
    c.pragma_update(None, "mmap_size", 1i64 << 30)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(corrupt)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T> {
    s.parse().map_err(corrupt)
}

fn id_blob(id: &MessageId) -> &[u8] {
    &id.0
}

fn id_from(v: Option<Vec<u8>>) -> Option<MessageId> {
    v.and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok().map(MessageId))
}

const CASE_COLUMNS: &str = "id, workspace, channel, customer, customer_name, customer_handle, \
    thread, status, priority, team, assignee, tags, lang, intent, subject, sla, created_at, \
    updated_at, last_inbound_at, first_response_at, last_response_at, resolved_at, \
    first_response_due, next_response_due, resolution_due, breaches, approval, auto_replied, \
    merged_into, inbound";

fn case_from_row(r: &Row<'_>) -> Result<Case> {
    let status: String = r.get(7)?;
    let priority: String = r.get(8)?;
    let tags: String = r.get(11)?;
    let breaches: String = r.get(25)?;
    let t = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(from_ms))
    };
    Ok(Case {
        id: r.get(0)?,
        workspace: r.get(1)?,
        channel: r.get(2)?,
        customer: r.get(3)?,
        customer_name: r.get(4)?,
        customer_handle: r.get(5)?,
        thread: id_from(r.get(6)?),
        status: parse(&status)?,
        priority: parse(&priority)?,
        team: r.get(9)?,
        assignee: r.get(10)?,
        tags: json(&tags)?,
        lang: r.get(12)?,
        intent: r.get(13)?,
        subject: r.get(14)?,
        sla: r.get(15)?,
        created_at: from_ms(r.get(16)?),
        updated_at: from_ms(r.get(17)?),
        last_inbound_at: from_ms(r.get(18)?),
        first_response_at: t(19)?,
        last_response_at: t(20)?,
        resolved_at: t(21)?,
        first_response_due: t(22)?,
        next_response_due: t(23)?,
        resolution_due: t(24)?,
        breaches: json(&breaches)?,
        approval: r.get(26)?,
        auto_replied: r.get(27)?,
        merged_into: r.get(28)?,
        inbound: r.get(29)?,
    })
}

/// The earliest SLA clock of `c` still running and not yet breached.
fn next_due(c: &Case) -> Option<i64> {
    if !c.status.is_active() {
        return None;
    }
    let missed = |k: &str| c.breaches.iter().any(|b| b == k);
    [
        ("first_response", c.first_response_due),
        ("next_response", c.next_response_due),
        ("resolution", c.resolution_due),
    ]
    .into_iter()
    .filter(|(k, d)| d.is_some() && !missed(k))
    .filter_map(|(_, d)| d.map(ms))
    .min()
}

const REPLY_COLUMNS: &str = "id, case_id, author, text, template, status, idempotency_key, \
    connector, target, attempts, next_attempt_at, last_error, created_at, sent_at, approved_by, \
    remote_id";

fn reply_from_row(r: &Row<'_>) -> Result<Reply> {
    let status: String = r.get(5)?;
    let target: String = r.get(8)?;
    Ok(Reply {
        id: r.get(0)?,
        case_id: r.get(1)?,
        author: r.get(2)?,
        text: r.get(3)?,
        template: r.get(4)?,
        status: parse(&status)?,
        idempotency_key: r.get(6)?,
        connector: r.get(7)?,
        target: json(&target)?,
        attempts: r.get(9)?,
        next_attempt_at: from_ms(r.get(10)?),
        last_error: r.get(11)?,
        created_at: from_ms(r.get(12)?),
        sent_at: r.get::<_, Option<i64>>(13)?.map(from_ms),
        approved_by: r.get(14)?,
        remote_id: r.get(15)?,
    })
}

/// Which cases to list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct CaseQuery {
    pub status: Option<Status>,
    /// Only active cases (new, open, pending).
    pub active: bool,
    pub team: Option<String>,
    pub assignee: Option<String>,
    /// Only cases with no assignee.
    pub unassigned: bool,
    pub channel: Option<String>,
    pub customer: Option<String>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    /// Cases of teams outside this list that are private are left out (`None`: no restriction).
    pub visible_private: Option<Vec<String>>,
    /// Paging: only cases updated before this (updated_at, id) pair.
    pub before: Option<(DateTime<Utc>, i64)>,
    pub limit: usize,
}

/// One case's figures for coverage reports.
#[derive(Clone, Debug)]
pub struct CaseFacts {
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub channel: String,
    pub lang: Option<String>,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub breaches: Vec<String>,
    /// Whether any SLA applied.
    pub sla: bool,
    pub inbound: i64,
    /// Inbound messages with a response after them.
    pub answered: i64,
}

/// One transaction on the care side's database.
pub struct EngageTx<'a> {
    c: &'a Connection,
}

impl EngageTx<'_> {
    /// Runs a statement through the connection's statement cache (catch-up runs the same few
    /// statements a million times: parsing them each time was an eighth of its time).
    fn exec<P: rusqlite::Params>(&self, sql: &str, p: P) -> Result<usize> {
        Ok(self.c.prepare_cached(sql)?.execute(p)?)
    }

    // --- followers and configuration ------------------------------------------------------

    pub fn cursor(&self, name: &str) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT seq FROM cursors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    }

    /// Moves a cursor forward (never back: two processes catching up at once may finish out of
    /// order, and the later finisher must not undo the other's progress).
    pub fn set_cursor(&self, name: &str, seq: i64) -> Result<()> {
        self.exec(
            "INSERT INTO cursors (name, seq) VALUES (?1, ?2) \
             ON CONFLICT(name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            params![name, seq],
        )?;
        Ok(())
    }

    pub fn config(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .c
            .query_row("SELECT value FROM config WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        self.exec(
            "INSERT INTO config (key, value) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    // --- teams and users -----------------------------------------------------------------

    pub fn put_team(&self, t: &Team) -> Result<()> {
        self.exec(
            "INSERT INTO teams (name, private, hours) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET private = excluded.private, hours = excluded.hours",
            params![t.name, t.private, to_json(&t.hours)],
        )?;
        Ok(())
    }

    pub fn teams(&self) -> Result<Vec<Team>> {
        let mut stmt = self
            .c
            .prepare_cached("SELECT name, private, hours FROM teams ORDER BY name")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let hours: String = r.get(2)?;
            out.push(Team {
                name: r.get(0)?,
                private: r.get(1)?,
                hours: json(&hours)?,
            });
        }
        Ok(out)
    }

    /// Creates or updates a user (teams replaced); the password is kept unless `password_hash`
    /// is given.
    pub fn put_user(&self, u: &User, password_hash: Option<&str>) -> Result<()> {
        for t in &u.teams {
            let known: bool = self.c.query_row(
                "SELECT EXISTS(SELECT 1 FROM teams WHERE name = ?1)",
                [t],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::Query(format!(
                    "user {:?}: no team named {t:?}; create it first",
                    u.name
                )));
            }
        }
        self.exec(
            "INSERT INTO users (name, display_name, email, role, languages, channels, capacity, \
             available) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, \
             email = excluded.email, role = excluded.role, languages = excluded.languages, \
             channels = excluded.channels, capacity = excluded.capacity, \
             available = excluded.available",
            params![
                u.name,
                u.display_name,
                u.email,
                u.role.as_str(),
                to_json(&u.languages),
                to_json(&u.channels),
                u.capacity,
                u.available
            ],
        )?;
        if let Some(h) = password_hash {
            self.exec(
                "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                params![u.name, h],
            )?;
        }
        self.exec("DELETE FROM memberships WHERE user_name = ?1", [&u.name])?;
        for t in &u.teams {
            self.exec(
                "INSERT INTO memberships (user_name, team) VALUES (?1, ?2)",
                params![u.name, t],
            )?;
        }
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<User>> {
        self.users_where("", [])
    }

    pub fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.users_where("WHERE u.name = ?1", [name])?.pop())
    }

    pub fn user_count(&self) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
    }

    fn users_where<P: rusqlite::Params>(&self, filter: &str, p: P) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT u.name, u.display_name, u.email, u.role, u.languages, u.channels, \
             u.capacity, u.available, \
             (SELECT json_group_array(team) FROM (SELECT team FROM memberships m \
              WHERE m.user_name = u.name ORDER BY team)) \
             FROM users u {filter} ORDER BY u.name"
        );
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let role: String = r.get(3)?;
            let languages: String = r.get(4)?;
            let channels: String = r.get(5)?;
            let teams: String = r.get(8)?;
            out.push(User {
                name: r.get(0)?,
                display_name: r.get(1)?,
                email: r.get(2)?,
                role: parse::<Role>(&role)?,
                languages: json(&languages)?,
                channels: json(&channels)?,
                capacity: r.get(6)?,
                available: r.get(7)?,
                teams: json(&teams)?,
            });
        }
        Ok(out)
    }

    pub fn password_hash(&self, user: &str) -> Result<Option<String>> {
        Ok(self
            .c
            .query_row(
                "SELECT password_hash FROM users WHERE name = ?1",
                [user],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    pub fn set_available(&self, user: &str, available: bool) -> Result<bool> {
        Ok(self.exec(
            "UPDATE users SET available = ?2 WHERE name = ?1",
            params![user, available],
        )? > 0)
    }

    // --- credentials -----------------------------------------------------------------------

    pub fn add_token(
        &self,
        hash: &[u8],
        user: &str,
        kind: &str,
        label: Option<&str>,
        now: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO tokens (hash, user_name, kind, label, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![hash, user, kind, label, ms(now), opt_ms(expires)],
        )?;
        Ok(())
    }

    /// The user a token (or session) belongs to, if it is known and not expired.
    pub fn token_user(&self, hash: &[u8], now: DateTime<Utc>) -> Result<Option<User>> {
        let name: Option<String> = self
            .c
            .query_row(
                "SELECT user_name FROM tokens WHERE hash = ?1 \
                 AND (expires_at IS NULL OR expires_at > ?2)",
                params![hash, ms(now)],
                |r| r.get(0),
            )
            .optional()?;
        match name {
            Some(n) => self.user(&n),
            None => Ok(None),
        }
    }

    pub fn remove_token(&self, hash: &[u8]) -> Result<bool> {
        Ok(self.exec("DELETE FROM tokens WHERE hash = ?1", [hash])? > 0)
    }

    // --- customers -------------------------------------------------------------------------

    pub fn set_customer(&self, key: &str, attributes: &serde_json::Value) -> Result<()> {
        self.exec(
            "INSERT INTO customers (key, attributes) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET attributes = excluded.attributes",
            params![key, to_json(attributes)],
        )?;
        Ok(())
    }

    pub fn customer(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let v: Option<String> = self
            .c
            .query_row(
                "SELECT attributes FROM customers WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        v.map(|s| json(&s)).transpose()
    }

    // --- cases -----------------------------------------------------------------------------

    pub fn case(&self, id: i64) -> Result<Option<Case>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1");
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(case_from_row).transpose()
    }

    /// The case holding a message of this thread, if any (merged cases lead to their target).
    pub fn case_by_thread(&self, workspace: &str, thread: &MessageId) -> Result<Option<Case>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE thread = ?1 AND workspace = ?2 \
             AND merged_into IS NULL ORDER BY id DESC LIMIT 1"
        );
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![id_blob(thread), workspace])?;
        rows.next()?.map(case_from_row).transpose()
    }

    /// The case that holds this message.
    pub fn case_of_message(&self, id: &MessageId) -> Result<Option<i64>> {
        Ok(self
            .c
            .query_row(
                "SELECT case_id FROM case_messages WHERE message = ?1",
                [id_blob(id)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The customer's latest case on the channel (not merged away).
    pub fn latest_case(
        &self,
        workspace: &str,
        channel: &str,
        customer: &str,
    ) -> Result<Option<Case>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE workspace = ?1 AND channel = ?2 \
             AND customer = ?3 AND merged_into IS NULL ORDER BY id DESC LIMIT 1"
        );
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![workspace, channel, customer])?;
        rows.next()?.map(case_from_row).transpose()
    }

    /// Inserts a case (its `id` is ignored) and returns it with its id.
    pub fn insert_case(&self, c: &Case) -> Result<Case> {
        self.write_case(
            "INSERT INTO cases (workspace, channel, customer, customer_name, \
             customer_handle, thread, status, priority, priority_rank, team, assignee, tags, \
             lang, intent, subject, sla, created_at, updated_at, last_inbound_at, \
             first_response_at, last_response_at, resolved_at, first_response_due, \
             next_response_due, resolution_due, breaches, approval, auto_replied, merged_into, \
             inbound, next_due, id) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
             ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, \
             ?30, ?31, ?32, NULLIF(?1, 0))",
            c,
        )?;
        let mut c = c.clone();
        c.id = self.c.last_insert_rowid();
        Ok(c)
    }

    /// Writes every field of `c` (by id).
    pub fn update_case(&self, c: &Case) -> Result<()> {
        self.write_case(
            "UPDATE cases SET workspace = ?2, channel = ?3, customer = ?4, customer_name = ?5, \
             customer_handle = ?6, thread = ?7, status = ?8, priority = ?9, \
             priority_rank = ?10, team = ?11, assignee = ?12, tags = ?13, lang = ?14, \
             intent = ?15, subject = ?16, sla = ?17, created_at = ?18, updated_at = ?19, \
             last_inbound_at = ?20, first_response_at = ?21, last_response_at = ?22, \
             resolved_at = ?23, first_response_due = ?24, next_response_due = ?25, \
             resolution_due = ?26, breaches = ?27, approval = ?28, auto_replied = ?29, \
             merged_into = ?30, inbound = ?31, next_due = ?32 WHERE id = ?1",
            c,
        )
        .map(|_| ())
    }

    fn write_case(&self, sql: &str, c: &Case) -> Result<usize> {
        self.exec(
            sql,
            params![
                c.id,
                c.workspace,
                c.channel,
                c.customer,
                c.customer_name,
                c.customer_handle,
                c.thread.as_ref().map(id_blob),
                c.status.as_str(),
                c.priority.as_str(),
                c.priority as i64,
                c.team,
                c.assignee,
                to_json(&c.tags),
                c.lang,
                c.intent,
                c.subject,
                c.sla,
                ms(c.created_at),
                ms(c.updated_at),
                ms(c.last_inbound_at),
                opt_ms(c.first_response_at),
                opt_ms(c.last_response_at),
                opt_ms(c.resolved_at),
                opt_ms(c.first_response_due),
                opt_ms(c.next_response_due),
                opt_ms(c.resolution_due),
                to_json(&c.breaches),
                c.approval,
                c.auto_replied,
                c.merged_into,
                c.inbound,
                next_due(c),
            ],
        )
    }

    pub fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE merged_into IS NULL");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        use rusqlite::types::Value as V;
        if let Some(s) = q.status {
            arg(&mut sql, " AND status = ?", V::Text(s.as_str().into()));
        }
        if q.active {
            sql.push_str(" AND status IN ('new', 'open', 'pending')");
        }
        if let Some(t) = &q.team {
            arg(&mut sql, " AND team = ?", V::Text(t.clone()));
        }
        if let Some(a) = &q.assignee {
            arg(&mut sql, " AND assignee = ?", V::Text(a.clone()));
        }
        if q.unassigned {
            sql.push_str(" AND assignee IS NULL");
        }
        if let Some(c) = &q.channel {
            arg(&mut sql, " AND channel = ?", V::Text(c.clone()));
        }
        if let Some(c) = &q.customer {
            arg(&mut sql, " AND customer = ?", V::Text(c.clone()));
        }
        if let Some(p) = q.priority {
            arg(&mut sql, " AND priority = ?", V::Text(p.as_str().into()));
        }
        if let Some(t) = &q.tag {
            arg(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM json_each(cases.tags) WHERE value = ?)",
                V::Text(t.clone()),
            );
        }
        if let Some(visible) = &q.visible_private {
            // Cases of private teams the reader is not in are left out.
            arg(
                &mut sql,
                " AND (team IS NULL OR team NOT IN (SELECT name FROM teams WHERE private) \
                 OR team IN (SELECT value FROM json_each(?)))",
                V::Text(to_json(visible)),
            );
        }
        if let Some((at, id)) = q.before {
            args.push(V::Integer(ms(at)));
            args.push(V::Integer(id));
            sql.push_str(&format!(
                " AND (updated_at, id) < (?{}, ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        args.push(V::Integer(q.limit.clamp(1, 10_000) as i64));
        sql.push_str(&format!(
            " ORDER BY updated_at DESC, id DESC LIMIT ?{}",
            args.len()
        ));
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(case_from_row(r)?);
        }
        Ok(out)
    }

    pub fn add_case_message(&self, case_id: i64, m: &CaseMessage) -> Result<bool> {
        Ok(self.exec(
            "INSERT OR IGNORE INTO case_messages (case_id, seq, message, direction, at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                case_id,
                m.seq,
                id_blob(&m.message),
                m.direction.as_str(),
                ms(m.at)
            ],
        )? > 0)
    }

    pub fn case_messages(&self, case_id: i64) -> Result<Vec<CaseMessage>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT message, seq, direction, at FROM case_messages WHERE case_id = ?1 \
             ORDER BY seq",
        )?;
        let mut rows = stmt.query([case_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let direction: String = r.get(2)?;
            out.push(CaseMessage {
                message: id_from(r.get(0)?).ok_or_else(|| corrupt("message id"))?,
                seq: r.get(1)?,
                direction: direction.parse::<Direction>().map_err(corrupt)?,
                at: from_ms(r.get(3)?),
            });
        }
        Ok(out)
    }

    /// Moves every message of case `from` into case `to`.
    pub fn move_case_messages(&self, from: i64, to: i64) -> Result<usize> {
        self.exec(
            "UPDATE case_messages SET case_id = ?2 WHERE case_id = ?1",
            params![from, to],
        )
    }

    /// Active cases (new, open, pending) each user holds.
    pub fn open_load(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT assignee, COUNT(*) FROM cases WHERE assignee IS NOT NULL \
             AND status IN ('new', 'open', 'pending') AND merged_into IS NULL GROUP BY assignee",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            out.insert(r.get(0)?, r.get(1)?);
        }
        Ok(out)
    }

    /// A team's waiting cases, most pressing first, then oldest.
    pub fn queue(&self, team: &str, limit: usize) -> Result<Vec<Case>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE team = ?1 AND assignee IS NULL \
             AND status IN ('new', 'open') AND merged_into IS NULL \
             ORDER BY priority_rank DESC, created_at LIMIT ?2"
        );
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![team, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(case_from_row(r)?);
        }
        Ok(out)
    }

    /// Active cases with an SLA clock run out at `now`.
    pub fn due_cases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Case>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE next_due IS NOT NULL AND next_due <= ?1 \
             ORDER BY next_due LIMIT ?2"
        );
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![ms(now), limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(case_from_row(r)?);
        }
        Ok(out)
    }

    /// The figures of every case created in `[since, until)`, for coverage.
    pub fn case_facts(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<CaseFacts>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT team, assignee, channel, lang, created_at, first_response_at, breaches, \
             sla IS NOT NULL, inbound, first_response_due, \
             (SELECT COUNT(*) FROM case_messages m WHERE m.case_id = cases.id \
              AND m.direction = 'inbound' AND cases.last_response_at IS NOT NULL \
              AND m.at <= cases.last_response_at) \
             FROM cases WHERE merged_into IS NULL AND status != 'spam' \
             AND created_at >= ?1 AND created_at < ?2",
        )?;
        let mut rows = stmt.query(params![
            since.map_or(i64::MIN, ms),
            until.map_or(i64::MAX, ms)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let breaches: String = r.get(6)?;
            out.push(CaseFacts {
                team: r.get(0)?,
                assignee: r.get(1)?,
                channel: r.get(2)?,
                lang: r.get(3)?,
                created_at: from_ms(r.get(4)?),
                first_response_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                breaches: json(&breaches)?,
                sla: r.get(7)?,
                inbound: r.get(8)?,
                first_response_due: r.get::<_, Option<i64>>(9)?.map(from_ms),
                answered: r.get(10)?,
            });
        }
        Ok(out)
    }

    pub fn case_count(&self) -> Result<i64> {
        Ok(self
            .c
            .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))?)
    }

    // --- notes and audit -------------------------------------------------------------------

    pub fn add_note(
        &self,
        case_id: i64,
        author: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Note> {
        self.exec(
            "INSERT INTO notes (case_id, author, text, at) VALUES (?1, ?2, ?3, ?4)",
            params![case_id, author, text, ms(at)],
        )?;
        Ok(Note {
            id: self.c.last_insert_rowid(),
            case_id,
            author: author.into(),
            text: text.into(),
            at,
        })
    }

    pub fn notes(&self, case_id: i64) -> Result<Vec<Note>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT id, case_id, author, text, at FROM notes WHERE case_id = ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([case_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Note {
                id: r.get(0)?,
                case_id: r.get(1)?,
                author: r.get(2)?,
                text: r.get(3)?,
                at: from_ms(r.get(4)?),
            });
        }
        Ok(out)
    }

    /// Records who did what to which case.
    pub fn audit(
        &self,
        at: DateTime<Utc>,
        actor: &str,
        case_id: Option<i64>,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO audit (at, actor, case_id, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ms(at), actor, case_id, action, to_json(detail)],
        )?;
        Ok(())
    }

    /// The audit log, newest first: of one case, or of everything.
    pub fn audit_log(&self, case_id: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>> {
        // Two statements: `?1 IS NULL OR case_id = ?1` made SQLite scan the whole log for one
        // case (a case view took 74 ms on a million-message store).
        let mut stmt = match case_id {
            Some(_) => self.c.prepare_cached(
                "SELECT id, at, actor, case_id, action, detail FROM audit \
                 WHERE case_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?,
            None => self.c.prepare_cached(
                "SELECT id, at, actor, case_id, action, detail FROM audit \
                 WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2",
            )?,
        };
        let mut rows = stmt.query(params![case_id, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let detail: String = r.get(5)?;
            out.push(AuditEntry {
                id: r.get(0)?,
                at: from_ms(r.get(1)?),
                actor: r.get(2)?,
                case_id: r.get(3)?,
                action: r.get(4)?,
                detail: json(&detail)?,
            });
        }
        Ok(out)
    }

    // --- replies and the outbox ------------------------------------------------------------

    /// Inserts a reply; if one with the same idempotency key exists, returns that one instead
    /// (a client retrying its POST gets the first reply, not a second).
    pub fn insert_reply(&self, r: &Reply) -> Result<(Reply, bool)> {
        let inserted = self.exec(
            "INSERT OR IGNORE INTO replies (case_id, author, text, template, status, \
             idempotency_key, connector, target, attempts, next_attempt_at, last_error, \
             created_at, sent_at, approved_by, remote_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                r.case_id,
                r.author,
                r.text,
                r.template,
                r.status.as_str(),
                r.idempotency_key,
                r.connector,
                to_json(&r.target),
                r.attempts,
                ms(r.next_attempt_at),
                r.last_error,
                ms(r.created_at),
                opt_ms(r.sent_at),
                r.approved_by,
                r.remote_id,
            ],
        )? > 0;
        let sql = format!("SELECT {REPLY_COLUMNS} FROM replies WHERE idempotency_key = ?1");
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query([&r.idempotency_key])?;
        let stored = rows
            .next()?
            .map(reply_from_row)
            .transpose()?
            .ok_or_else(|| corrupt("reply vanished"))?;
        Ok((stored, inserted))
    }

    pub fn update_reply(&self, r: &Reply) -> Result<()> {
        self.exec(
            "UPDATE replies SET text = ?2, status = ?3, connector = ?4, target = ?5, \
             attempts = ?6, next_attempt_at = ?7, last_error = ?8, sent_at = ?9, \
             approved_by = ?10, remote_id = ?11 WHERE id = ?1",
            params![
                r.id,
                r.text,
                r.status.as_str(),
                r.connector,
                to_json(&r.target),
                r.attempts,
                ms(r.next_attempt_at),
                r.last_error,
                opt_ms(r.sent_at),
                r.approved_by,
                r.remote_id,
            ],
        )?;
        Ok(())
    }

    pub fn reply(&self, id: i64) -> Result<Option<Reply>> {
        let sql = format!("SELECT {REPLY_COLUMNS} FROM replies WHERE id = ?1");
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(reply_from_row).transpose()
    }

    pub fn replies(&self, case_id: i64) -> Result<Vec<Reply>> {
        self.replies_where("case_id = ?1 ORDER BY id", params![case_id])
    }

    pub fn replies_with_status(&self, status: ReplyStatus, limit: usize) -> Result<Vec<Reply>> {
        self.replies_where(
            "status = ?1 ORDER BY id LIMIT ?2",
            params![status.as_str(), limit as i64],
        )
    }

    /// Replies whose (next) attempt is due: queued ones, and sending ones whose lease ran out
    /// (the process died mid-send).
    pub fn due_replies(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Reply>> {
        self.replies_where(
            "status IN ('queued', 'sending') AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at, id LIMIT ?2",
            params![ms(now), limit as i64],
        )
    }

    /// Replies that were sent using a template, with the text they answered, for ranking
    /// suggestions (newest first).
    pub fn template_uses(&self, limit: usize) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT template, case_id FROM replies WHERE template IS NOT NULL \
             AND status = 'sent' ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((r.get(0)?, r.get(1)?));
        }
        Ok(out)
    }

    fn replies_where<P: rusqlite::Params>(&self, clause: &str, p: P) -> Result<Vec<Reply>> {
        let sql = format!("SELECT {REPLY_COLUMNS} FROM replies WHERE {clause}");
        let mut stmt = self.c.prepare_cached(&sql)?;
        let mut rows = stmt.query(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(reply_from_row(r)?);
        }
        Ok(out)
    }

    // --- alerts ----------------------------------------------------------------------------

    pub fn add_alert(
        &self,
        at: DateTime<Utc>,
        kind: &str,
        case_id: Option<i64>,
        reply_id: Option<i64>,
        message: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO alerts (at, kind, case_id, reply_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ms(at), kind, case_id, reply_id, message],
        )?;
        Ok(())
    }

    pub fn alerts(&self, limit: usize) -> Result<Vec<Alert>> {
        let mut stmt = self.c.prepare_cached(
            "SELECT id, at, kind, case_id, reply_id, message FROM alerts ORDER BY id DESC \
             LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Alert {
                id: r.get(0)?,
                at: from_ms(r.get(1)?),
                kind: r.get(2)?,
                case_id: r.get(3)?,
                reply_id: r.get(4)?,
                message: r.get(5)?,
            });
        }
        Ok(out)
    }
}
