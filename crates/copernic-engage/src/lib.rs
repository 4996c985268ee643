//! Engage: every inbound message that deserves an answer gets one, from the right person, in time.
//!
//! The [`Engine`] follows the message store with a cursor (like any other follower, it can
//! restart anywhere: the cursor moves in the same transaction as the cases it produced), groups
//! messages into cases, runs the routing rules, assigns within teams by load and skills, keeps SLA
//! clocks as due times in the database (so they survive restarts), and sends replies through a
//! persistent outbox. Time comes from a [`Clock`] that tests move.

pub mod auth;
pub mod clock;
pub mod config;
pub mod connectors;
mod coverage;
pub mod hours;
pub mod replies;
pub mod rules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use copernic_core::engage::{
    Alert, AuditEntry, Case, CaseMessage, Note, Priority, Reply, ReplyStatus, Role, Status, Team,
    User,
};
use copernic_core::{Direction, Message};
use copernic_store::engage::{CaseQuery, EngageDb, EngageTx};
use copernic_store::{Store, StoreError, StoredMessage};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use auth::Principal;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigFile, Policies};
pub use coverage::{CoverageRow, GroupBy};

use connectors::{Connector, Outgoing};
use hours::Schedule;
use rules::Rules;

/// Everything the care side can refuse.
#[derive(Debug, thiserror::Error)]
pub enum EngageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
    /// The caller's role or team does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Well-formed but refused; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
    /// Wrong name or password, unknown or expired token.
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed sign-ins for one name: wait.
    #[error("{0}")]
    TooMany(String),
}

pub type Result<T, E = EngageError> = std::result::Result<T, E>;

/// The configuration in force, compiled.
struct Loaded {
    policies: Policies,
    rules: Rules,
    connectors: Vec<Connector>,
    schedules: HashMap<String, Schedule>,
}

impl Loaded {
    fn schedule(&self, team: Option<&str>) -> Schedule {
        team.and_then(|t| self.schedules.get(t))
            .cloned()
            .unwrap_or_else(Schedule::always)
    }
}

/// The follower's cursor name in `engage.db`.
const CURSOR: &str = "cases";
const SYSTEM: &str = "system";
/// Messages per catch-up transaction.
const BATCH: usize = 5000;

pub struct Engine {
    db: Arc<EngageDb>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    loaded: RwLock<Arc<Loaded>>,
    /// One catch-up at a time: the cursor is read and moved by one thread.
    following: Mutex<()>,
    /// One outbox run at a time.
    sending: tokio::sync::Mutex<()>,
    /// Recent failed sign-ins by user name, to slow down password guessing.
    failed_logins: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

/// Failed sign-ins for one name within [`LOGIN_WINDOW`] before it is refused outright.
const LOGIN_ATTEMPTS: usize = 5;
const LOGIN_WINDOW: Duration = Duration::minutes(5);

/// A change to a case from a person.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseUpdate {
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub team: Option<String>,
    /// A user name; `""` unassigns.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
}

/// A reply a person writes: text, or a template rendered for the case.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    /// The client's key: a retried POST returns the first reply instead of making a second.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Where the case goes after the reply (default `pending`: waiting for the customer).
    #[serde(default)]
    pub status: Option<Status>,
}

/// A case with everything around it.
#[derive(Clone, Debug, Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    pub messages: Vec<StoredMessage>,
    pub notes: Vec<Note>,
    pub replies: Vec<Reply>,
    pub audit: Vec<AuditEntry>,
}

/// What `apply` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplyReport {
    pub teams: usize,
    pub users: usize,
    pub rules: usize,
    pub slas: usize,
    pub templates: usize,
    pub connectors: usize,
    pub queries: usize,
    pub customers: usize,
    pub sources: bool,
}

/// What one pass of the SLA clocks did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TickReport {
    pub breaches: usize,
}

fn customer_key(m: &Message) -> String {
    m.author
        .id
        .clone()
        .or_else(|| m.author.handle.clone())
        .or_else(|| m.author.name.clone())
        .unwrap_or_else(|| format!("anonymous:{}", m.id))
}

fn subject_of(m: &Message) -> String {
    let s = m.title.as_deref().unwrap_or(&m.text);
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > 160 {
        out = out.chars().take(159).collect::<String>() + "…";
    }
    out
}

fn base_lang(l: &str) -> &str {
    l.split(['-', '_']).next().unwrap_or(l)
}

/// Per-batch state for routing: the users and who holds how much.
struct Roster {
    users: Vec<User>,
    load: HashMap<String, i64>,
}

impl Roster {
    fn load(tx: &EngageTx<'_>) -> Result<Roster, StoreError> {
        Ok(Roster {
            users: tx.users()?,
            load: tx.open_load()?,
        })
    }

    /// The least loaded available agent of the case's team whose skills cover its language and
    /// channel, with room under their capacity.
    fn pick(&self, case: &Case) -> Option<String> {
        let team = case.team.as_deref()?;
        let lang = case.lang.as_deref().map(base_lang);
        self.users
            .iter()
            .filter(|u| u.available && u.role >= Role::Agent && u.capacity > 0)
            .filter(|u| u.teams.iter().any(|t| t == team))
            .filter(|u| {
                u.languages.is_empty()
                    || lang.is_some_and(|l| u.languages.iter().any(|x| base_lang(x) == l))
            })
            .filter(|u| {
                u.channels.is_empty()
                    || u.channels
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&case.channel))
            })
            .map(|u| (u, *self.load.get(&u.name).unwrap_or(&0)))
            .filter(|(u, load)| *load < u.capacity)
            .min_by(|(a, la), (b, lb)| {
                // Share of capacity in use, then absolute load, then name (stable).
                (la * b.capacity)
                    .cmp(&(lb * a.capacity))
                    .then(la.cmp(lb))
                    .then(a.name.cmp(&b.name))
            })
            .map(|(u, _)| u.name.clone())
    }

    fn took(&mut self, user: &str) {
        *self.load.entry(user.to_string()).or_insert(0) += 1;
    }

    fn released(&mut self, user: &str) {
        if let Some(n) = self.load.get_mut(user) {
            *n = (*n - 1).max(0);
        }
    }
}

/// Whether a case counts against its assignee's capacity: every case not yet closed, pending
/// ones included, so that a customer's answer reopening a case never puts its agent over.
fn holds_capacity(s: Status) -> bool {
    s.is_active()
}

impl Engine {
    /// Opens the care side of data folder `dir` over `store`.
    pub fn open(
        dir: &std::path::Path,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine> {
        let db = Arc::new(EngageDb::open(dir)?);
        let loaded = load(&db)?;
        Ok(Engine {
            db,
            store,
            clock,
            loaded: RwLock::new(Arc::new(loaded)),
            following: Mutex::new(()),
            sending: tokio::sync::Mutex::new(()),
            failed_logins: Mutex::new(HashMap::new()),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn db(&self) -> &EngageDb {
        &self.db
    }

    /// The last message (by store sequence) turned into case activity.
    pub fn cursor(&self) -> Result<i64> {
        Ok(self.db.read(|tx| tx.cursor(CURSOR))?)
    }

    /// Where catching up starts and about where it ends: the cursor, and the number of stored
    /// messages (message numbers count up from 1 and are never reused), for a progress bar.
    pub fn backlog(&self) -> Result<(i64, i64)> {
        let cursor = self.cursor()?;
        let stored = self.store.stats(None)?.messages as i64;
        Ok((cursor, stored.max(cursor)))
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn reload(&self) -> Result<()> {
        let l = load(&self.db)?;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(l);
        Ok(())
    }

    pub fn policies(&self) -> Policies {
        self.loaded().policies.clone()
    }

    /// Feeds and webhooks applied from a configuration file (`[sources]`), as JSON.
    pub fn sources(&self) -> Result<Option<serde_json::Value>> {
        let v = self.db.read(|tx| tx.config("sources"))?;
        Ok(v.and_then(|s| serde_json::from_str(&s).ok()))
    }

    // --- configuration -----------------------------------------------------------------------

    /// Creates or updates what the file names; nothing is written if anything is refused.
    /// Listening queries go to the message store (the caller reloads the percolator).
    pub fn apply(&self, file: &ConfigFile, actor: &str) -> Result<ApplyReport> {
        let now = self.now();
        for u in &file.users {
            if let Some(h) = &u.password_hash {
                auth::check_hash(h)
                    .map_err(|e| EngageError::Invalid(format!("users {:?}: {e}", u.name)))?;
            }
        }
        let mut report = ApplyReport::default();
        self.db
            .write(|tx| {
                for t in &file.teams {
                    tx.put_team(&Team {
                        name: t.name.clone(),
                        private: t.private,
                        hours: serde_json::to_value(&t.hours).unwrap_or_default(),
                    })?;
                    report.teams += 1;
                }
                let known: Vec<String> = tx.teams()?.into_iter().map(|t| t.name).collect();
                let need_team = |what: String, t: &str| -> Result<(), StoreError> {
                    if known.iter().any(|k| k == t) {
                        Ok(())
                    } else {
                        Err(StoreError::Query(format!(
                            "{what}: no team named {t:?}; add it under [[teams]]"
                        )))
                    }
                };
                for r in &file.rules {
                    if let Some(t) = &r.team {
                        need_team(format!("rules {:?}", r.name), t)?;
                    }
                }
                for s in &file.slas {
                    if let Some(t) = &s.on_breach.team {
                        need_team(format!("slas {:?} on_breach", s.name), t)?;
                    }
                }
                for u in &file.users {
                    tx.put_user(
                        &User {
                            name: u.name.clone(),
                            display_name: u.display_name.clone(),
                            email: u.email.clone(),
                            role: u.role,
                            teams: u.teams.clone(),
                            languages: u.languages.clone(),
                            channels: u.channels.clone(),
                            capacity: u.capacity,
                            available: u.available,
                        },
                        u.password_hash.as_deref(),
                    )?;
                    report.users += 1;
                }
                for c in &file.customers {
                    tx.set_customer(
                        &c.key,
                        &serde_json::to_value(&c.attributes).unwrap_or_default(),
                    )?;
                    report.customers += 1;
                }
                let policies = Policies {
                    settings: file.settings.clone().unwrap_or_default(),
                    rules: file.rules.clone(),
                    slas: file.slas.clone(),
                    templates: file.templates.clone(),
                    connectors: file.connectors.clone(),
                };
                report.rules = policies.rules.len();
                report.slas = policies.slas.len();
                report.templates = policies.templates.len();
                report.connectors = policies.connectors.len();
                tx.set_config(
                    "policies",
                    &serde_json::to_string(&policies).unwrap_or_default(),
                )?;
                if let Some(s) = &file.sources {
                    tx.set_config("sources", &serde_json::to_string(s).unwrap_or_default())?;
                    report.sources = true;
                }
                tx.audit(
                    now,
                    actor,
                    None,
                    "config.applied",
                    &serde_json::to_value(&report).unwrap_or_default(),
                )?;
                Ok(())
            })
            .map_err(|e| match e {
                StoreError::Query(m) => EngageError::Invalid(m),
                other => other.into(),
            })?;
        for q in &file.queries {
            self.store
                .put_query(copernic_core::DEFAULT_WORKSPACE, &q.name, &q.query)?;
            report.queries += 1;
        }
        self.reload()?;
        // New agents and teams take waiting cases.
        self.db.write(|tx| {
            let mut roster = Roster::load(tx)?;
            for t in tx.teams()? {
                drain(tx, &t.name, &mut roster, now)?;
            }
            Ok(())
        })?;
        Ok(report)
    }

    // --- following the message store ---------------------------------------------------------

    /// Turns every message stored since the last call into case activity; returns how many
    /// messages it handled. Safe to call from anywhere at any time.
    pub fn catch_up(&self) -> Result<usize> {
        self.catch_up_with(&|_| {})
    }

    /// [`Engine::catch_up`], telling `progress` the sequence number reached after each batch
    /// (compare with [`Engine::backlog`] for a progress bar).
    pub fn catch_up_with(&self, progress: &dyn Fn(i64)) -> Result<usize> {
        let _one = self.following.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = 0;
        loop {
            let cursor = self.db.read(|tx| tx.cursor(CURSOR))?;
            let batch = self.store.messages_after(cursor, BATCH)?;
            let Some(last) = batch.last().map(|m| m.seq) else {
                return Ok(done);
            };
            let l = self.loaded();
            let now = self.now();
            self.db.write_bulk(|tx| {
                let mut roster = Roster::load(tx)?;
                // Each case the batch changes is written once, at the end: a full-row write per
                // message rewrote every index of the case table each time.
                let mut dirty = HashMap::new();
                for m in &batch {
                    self.handle(tx, &l, m, now, &mut roster, &mut dirty)?;
                }
                for c in dirty.values() {
                    tx.update_case(c)?;
                }
                tx.set_cursor(CURSOR, last)
            })?;
            done += batch.len();
            progress(last);
        }
    }

    fn handle(
        &self,
        tx: &EngageTx<'_>,
        l: &Loaded,
        sm: &StoredMessage,
        now: DateTime<Utc>,
        roster: &mut Roster,
        dirty: &mut HashMap<i64, Case>,
    ) -> Result<(), StoreError> {
        let m = &sm.ingested.message;
        if tx.case_of_message(&m.id)?.is_some() {
            return Ok(());
        }
        let threaded = self.threaded_case(tx, m, dirty)?;
        let entry = CaseMessage {
            message: m.id,
            seq: sm.seq,
            direction: m.direction,
            at: m.created_at,
        };
        if m.direction == Direction::Outbound {
            // The brand's own message (an import of history, another tool): a response in the
            // case it answers; outside any case, nothing to do.
            if let Some(mut case) = threaded {
                tx.add_case_message(case.id, &entry)?;
                let was = case.status;
                responded(&mut case, m.created_at, None);
                release_if_freed(&mut case, was, roster);
                tx.audit(
                    now,
                    "channel",
                    Some(case.id),
                    "response.recorded",
                    &json!({"message": m.id}),
                )?;
                dirty.insert(case.id, case);
            }
            return Ok(());
        }
        let settings = &l.policies.settings;
        let customer = customer_key(m);
        let candidate = match threaded {
            Some(c) => Some(c),
            None => tx
                .latest_case(&m.workspace, &m.channel, &customer)?
                .map(|c| dirty.get(&c.id).cloned().unwrap_or(c))
                .filter(|c| {
                    (c.status.is_active() || c.status == Status::Spam)
                        && m.created_at - c.last_inbound_at <= settings.case_gap
                }),
        };
        let history = now - m.created_at > settings.backlog;
        let attrs = tx.customer(&customer)?;
        let opening = candidate.is_none();
        let decision = l
            .rules
            .decide(m, &sm.ingested.matches, attrs.as_ref(), opening);
        let mut case = match candidate {
            Some(c) => c,
            None => Case {
                id: 0,
                workspace: m.workspace.clone(),
                channel: m.channel.clone(),
                customer,
                customer_name: m.author.name.clone(),
                customer_handle: m.author.handle.clone(),
                thread: m.thread_id.or(Some(m.id)),
                status: Status::New,
                priority: Priority::Normal,
                team: None,
                assignee: None,
                tags: Vec::new(),
                lang: m.lang.clone(),
                intent: m.labels.intent.clone(),
                subject: subject_of(m),
                sla: None,
                created_at: m.created_at,
                updated_at: m.created_at,
                last_inbound_at: m.created_at,
                first_response_at: None,
                last_response_at: None,
                resolved_at: None,
                first_response_due: None,
                next_response_due: None,
                resolution_due: None,
                breaches: Vec::new(),
                approval: false,
                auto_replied: false,
                merged_into: None,
                inbound: 0,
            },
        };
        let was = case.status;
        case.inbound += 1;
        case.last_inbound_at = case.last_inbound_at.max(m.created_at);
        case.updated_at = case.updated_at.max(m.created_at);
        if case.lang.is_none() {
            case.lang = m.lang.clone();
        }
        if case.intent.is_none() {
            case.intent = m.labels.intent.clone();
        }
        let schedule = l.schedule(case.team.as_deref());
        if !opening {
            match case.status {
                Status::Resolved | Status::Pending => {
                    if case.status == Status::Resolved {
                        case.resolved_at = None;
                        tx.audit(
                            now,
                            SYSTEM,
                            Some(case.id),
                            "case.reopened",
                            &json!({"message": m.id}),
                        )?;
                    }
                    case.status = Status::Open;
                }
                _ => {}
            }
            // The customer wrote again after an answer: the next-response clock starts.
            if case.first_response_at.is_some()
                && case.next_response_due.is_none()
                && !history
                && case.status != Status::Spam
            {
                if let Some(p) = case
                    .sla
                    .as_ref()
                    .and_then(|n| l.policies.slas.iter().find(|s| &s.name == n))
                {
                    case.next_response_due = p.next_response.map(|d| schedule.add(m.created_at, d));
                }
            }
        }
        // Routing.
        if opening {
            case.team = decision.team.clone();
            if let Some(p) = decision.priority {
                case.priority = p;
            } else if m.labels.urgency.is_some_and(|u| u >= 0.8) {
                // Urgent words and anger with no rule about them still come first.
                case.priority = Priority::High;
            }
        } else if let Some(p) = decision.priority {
            case.priority = case.priority.max(p);
        }
        for t in &decision.tags {
            if !case.tags.contains(t) {
                case.tags.push(t.clone());
            }
        }
        case.approval |= decision.approval;
        if decision.escalate {
            case.priority = Priority::Urgent;
            if !case.tags.iter().any(|t| t == "escalated") {
                case.tags.push("escalated".into());
            }
            if !opening {
                if let Some(t) = &decision.team {
                    if case.team.as_ref() != Some(t) {
                        if let Some(a) = case.assignee.take() {
                            roster.released(&a);
                        }
                        case.team = Some(t.clone());
                    }
                }
            }
        }
        if decision.spam {
            case.status = Status::Spam;
        }
        // SLA clocks start with the case (not for history, not for spam).
        if opening && !history && case.status != Status::Spam {
            let schedule = l.schedule(case.team.as_deref());
            if let Some(p) = l.policies.slas.iter().find(|p| {
                (p.priorities.is_empty() || p.priorities.contains(&case.priority))
                    && (p.channels.is_empty()
                        || p.channels
                            .iter()
                            .any(|c| c.eq_ignore_ascii_case(&case.channel)))
            }) {
                case.sla = Some(p.name.clone());
                case.first_response_due = p.first_response.map(|d| schedule.add(m.created_at, d));
                case.resolution_due = p.resolution.map(|d| schedule.add(m.created_at, d));
            }
        }
        release_if_freed(&mut case, was, roster);
        if case.assignee.is_none() && holds_capacity(case.status) {
            if let Some(a) = roster.pick(&case) {
                roster.took(&a);
                case.assignee = Some(a);
            }
        } else if !opening && !holds_capacity(was) && holds_capacity(case.status) {
            if let Some(a) = &case.assignee {
                roster.took(a);
            }
        }
        if opening {
            case = tx.insert_case(&case)?;
            tx.audit(
                now,
                SYSTEM,
                Some(case.id),
                "case.opened",
                &json!({
                    "message": m.id, "team": case.team, "assignee": case.assignee,
                    "priority": case.priority, "sla": case.sla, "history": history,
                }),
            )?;
        }
        if !decision.fired.is_empty() {
            tx.audit(
                now,
                &format!("rule:{}", decision.fired.join(",")),
                Some(case.id),
                "rules.fired",
                &json!({
                    "rules": decision.fired, "team": decision.team, "priority": decision.priority,
                    "tags": decision.tags, "spam": decision.spam, "approval": decision.approval,
                    "escalate": decision.escalate,
                }),
            )?;
        }
        if decision.escalate {
            tx.add_alert(
                now,
                "escalation",
                Some(case.id),
                None,
                &format!(
                    "case {} escalated by rule {}",
                    case.id,
                    decision.fired.join(", ")
                ),
            )?;
        }
        tx.add_case_message(case.id, &entry)?;
        // Auto-reply: once per case, never for history or spam.
        if let Some(name) = decision.auto_reply.as_deref() {
            if !case.auto_replied && !history && case.status != Status::Spam {
                match self.compose(tx, l, &case, m, name, None) {
                    Ok((text, conn, outgoing)) => {
                        let key = format!("auto-{}-{}", case.id, m.id);
                        let reply = new_reply(
                            &case,
                            SYSTEM,
                            text,
                            Some(name.into()),
                            ReplyStatus::Queued,
                            key,
                            conn,
                            outgoing,
                            now,
                        );
                        let (r, inserted) = tx.insert_reply(&reply)?;
                        if inserted {
                            case.auto_replied = true;
                            let was = case.status;
                            responded(&mut case, now, Some(Status::Pending));
                            release_if_freed(&mut case, was, roster);
                            tx.audit(
                                now,
                                SYSTEM,
                                Some(case.id),
                                "reply.auto",
                                &json!({"reply": r.id, "template": name}),
                            )?;
                        }
                    }
                    Err(e) => {
                        tx.add_alert(
                            now,
                            "auto_reply",
                            Some(case.id),
                            None,
                            &format!("auto-reply {name:?} not sent: {e}"),
                        )?;
                    }
                }
            }
        }
        dirty.insert(case.id, case);
        Ok(())
    }

    /// The case a message belongs to by its thread (parent or root), following merges.
    fn threaded_case(
        &self,
        tx: &EngageTx<'_>,
        m: &Message,
        dirty: &HashMap<i64, Case>,
    ) -> Result<Option<Case>, StoreError> {
        let mut id = None;
        if let Some(p) = &m.in_reply_to {
            id = tx.case_of_message(p)?;
        }
        if id.is_none() {
            if let Some(t) = &m.thread_id {
                id = tx.case_of_message(t)?;
                if id.is_none() {
                    id = tx.case_by_thread(&m.workspace, t)?.map(|c| c.id);
                }
            }
        }
        let Some(mut id) = id else { return Ok(None) };
        for _ in 0..16 {
            let found = match dirty.get(&id) {
                Some(c) => Some(c.clone()),
                None => tx.case(id)?,
            };
            match found {
                Some(c) => match c.merged_into {
                    Some(next) => id = next,
                    None => return Ok(Some(c)),
                },
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The text, connector and address of a reply to `case` answering `m`: `template` rendered
    /// in the case's language, or `text` as given.
    fn compose(
        &self,
        _tx: &EngageTx<'_>,
        l: &Loaded,
        case: &Case,
        m: &Message,
        template: &str,
        agent: Option<&User>,
    ) -> Result<(String, String, Outgoing), String> {
        let t = replies::variant(&l.policies.templates, template, case.lang.as_deref())
            .ok_or_else(|| format!("no template named {template:?}"))?;
        let text = replies::render(&t.body, &vars(case, m, agent))?;
        let (conn, out) = address(l, case, m, &text)?;
        Ok((text, conn, out))
    }

    // --- SLA clocks --------------------------------------------------------------------------

    /// Records every SLA target missed by now, once each, and runs its escalation.
    pub fn tick(&self) -> Result<TickReport> {
        let now = self.now();
        let l = self.loaded();
        let mut report = TickReport::default();
        self.db.write(|tx| {
            let mut roster = Roster::load(tx)?;
            for mut case in tx.due_cases(now, 1000)? {
                let policy = case
                    .sla
                    .as_ref()
                    .and_then(|n| l.policies.slas.iter().find(|p| &p.name == n));
                let mut missed = Vec::new();
                for (kind, due) in [
                    ("first_response", case.first_response_due),
                    ("next_response", case.next_response_due),
                    ("resolution", case.resolution_due),
                ] {
                    if due.is_some_and(|d| d <= now) && !case.breaches.iter().any(|b| b == kind) {
                        missed.push(kind);
                    }
                }
                if missed.is_empty() {
                    tx.update_case(&case)?;
                    continue;
                }
                for kind in &missed {
                    case.breaches.push(kind.to_string());
                    report.breaches += 1;
                    tx.add_alert(
                        now,
                        "sla_breach",
                        Some(case.id),
                        None,
                        &format!(
                            "case {}: {} target of SLA {} missed",
                            case.id,
                            kind.replace('_', " "),
                            case.sla.as_deref().unwrap_or("?")
                        ),
                    )?;
                }
                if !case.tags.iter().any(|t| t == "sla-breach") {
                    case.tags.push("sla-breach".into());
                }
                let mut moved = false;
                if let Some(p) = policy {
                    let a = &p.on_breach;
                    if let Some(pr) = a.priority {
                        case.priority = case.priority.max(pr);
                    }
                    for t in &a.tags {
                        if !case.tags.contains(t) {
                            case.tags.push(t.clone());
                        }
                    }
                    if let Some(t) = &a.team {
                        if case.team.as_ref() != Some(t) {
                            if let Some(old) = case.assignee.take() {
                                if holds_capacity(case.status) {
                                    roster.released(&old);
                                }
                            }
                            case.team = Some(t.clone());
                            moved = true;
                            if holds_capacity(case.status) {
                                if let Some(a) = roster.pick(&case) {
                                    roster.took(&a);
                                    case.assignee = Some(a);
                                }
                            }
                        }
                    }
                }
                case.updated_at = case.updated_at.max(now);
                tx.audit(
                    now,
                    SYSTEM,
                    Some(case.id),
                    "sla.breached",
                    &json!({
                        "targets": missed, "sla": case.sla, "priority": case.priority,
                        "team": case.team, "assignee": case.assignee, "moved": moved,
                    }),
                )?;
                tx.update_case(&case)?;
            }
            Ok(())
        })?;
        Ok(report)
    }

    // --- the outbox --------------------------------------------------------------------------

    /// Attempts every reply due now; returns how many attempts were made. Each attempt is
    /// recorded (`sending`, with a lease) before the connector is called, so a crash mid-send
    /// retries after the lease instead of losing the reply.
    pub async fn outbox_once(&self) -> Result<usize> {
        let _one = self.sending.lock().await;
        let now = self.now();
        let l = self.loaded();
        let lease = l.policies.settings.outbox_lease;
        let due = self.db.write(|tx| {
            let mut due = tx.due_replies(now, 32)?;
            for r in &mut due {
                r.status = ReplyStatus::Sending;
                r.attempts += 1;
                r.next_attempt_at = now + lease;
                tx.update_reply(r)?;
            }
            Ok(due)
        })?;
        for r in &due {
            let result = match l.connectors.iter().find(|c| c.name() == r.connector) {
                Some(c) => match serde_json::from_value::<Outgoing>(r.target.clone()) {
                    Ok(mut o) => {
                        o.text = r.text.clone();
                        o.idempotency_key = r.idempotency_key.clone();
                        c.send(&o).await
                    }
                    Err(e) => Err(connectors::SendError::fatal(format!(
                        "stored address is not valid: {e}"
                    ))),
                },
                None => Err(connectors::SendError::retry(format!(
                    "no connector named {:?} is configured (add it under [[connectors]])",
                    r.connector
                ))),
            };
            let settings = &l.policies.settings;
            let done_at = self.now();
            self.db.write(|tx| {
                let Some(mut cur) = tx.reply(r.id)? else {
                    return Ok(());
                };
                if cur.status != ReplyStatus::Sending || cur.attempts != r.attempts {
                    return Ok(());
                }
                match &result {
                    Ok(d) => {
                        cur.status = ReplyStatus::Sent;
                        cur.sent_at = Some(done_at);
                        cur.remote_id = d.remote_id.clone();
                        cur.last_error = None;
                        tx.audit(
                            done_at,
                            SYSTEM,
                            Some(cur.case_id),
                            "reply.sent",
                            &json!({
                            "reply": cur.id, "attempt": cur.attempts, "connector": cur.connector,
                            "remote_id": cur.remote_id}),
                        )?;
                    }
                    Err(e) if e.retryable && cur.attempts < settings.outbox_max_attempts => {
                        let wait = settings.outbox_backoff
                            * 2i32.pow((cur.attempts - 1).clamp(0, 16) as u32);
                        cur.status = ReplyStatus::Queued;
                        cur.next_attempt_at = done_at + wait.min(Duration::hours(1));
                        cur.last_error = Some(e.message.clone());
                        tx.audit(
                            done_at,
                            SYSTEM,
                            Some(cur.case_id),
                            "reply.retry",
                            &json!({
                            "reply": cur.id, "attempt": cur.attempts, "error": e.message,
                            "next_attempt_at": cur.next_attempt_at}),
                        )?;
                    }
                    Err(e) => {
                        cur.status = ReplyStatus::Failed;
                        cur.last_error = Some(e.message.clone());
                        tx.add_alert(
                            done_at,
                            "reply_failed",
                            Some(cur.case_id),
                            Some(cur.id),
                            &format!(
                                "reply {} to case {} given up after {} attempt(s): {}",
                                cur.id, cur.case_id, cur.attempts, e.message
                            ),
                        )?;
                        tx.audit(
                            done_at,
                            SYSTEM,
                            Some(cur.case_id),
                            "reply.failed",
                            &json!({
                            "reply": cur.id, "attempt": cur.attempts, "error": e.message}),
                        )?;
                    }
                }
                tx.update_reply(&cur)
            })?;
        }
        Ok(due.len())
    }

    /// Replies being attempted or waiting for their next attempt.
    pub fn outbox(&self, status: ReplyStatus, limit: usize) -> Result<Vec<Reply>> {
        Ok(self.db.read(|tx| tx.replies_with_status(status, limit))?)
    }

    // --- people and access -------------------------------------------------------------------

    /// Whether access control is on (some user exists).
    pub fn has_users(&self) -> Result<bool> {
        Ok(self.db.read(|tx| tx.user_count())? > 0)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.db.read(|tx| tx.users())?)
    }

    pub fn teams(&self) -> Result<Vec<Team>> {
        Ok(self.db.read(|tx| tx.teams())?)
    }

    /// Creates or updates a user, with a password when given.
    pub fn put_user(&self, actor: &str, u: &User, password: Option<&str>) -> Result<()> {
        let hash = password
            .map(|p| {
                if p.chars().count() < 8 {
                    return Err(EngageError::Invalid(
                        "a password has at least 8 characters".into(),
                    ));
                }
                auth::hash_password(p).map_err(EngageError::Invalid)
            })
            .transpose()?;
        let now = self.now();
        self.db
            .write(|tx| {
                tx.put_user(u, hash.as_deref())?;
                tx.audit(
                    now,
                    actor,
                    None,
                    "user.saved",
                    &json!({"user": u.name, "role": u.role, "teams": u.teams}),
                )?;
                let mut roster = Roster::load(tx)?;
                for t in &u.teams {
                    drain(tx, t, &mut roster, now)?;
                }
                Ok(())
            })
            .map_err(|e| match e {
                StoreError::Query(m) => EngageError::Invalid(m),
                other => other.into(),
            })
    }

    pub fn put_team(&self, actor: &str, t: &Team) -> Result<()> {
        if !t.hours.is_null() {
            let h: hours::BusinessHours = serde_json::from_value(t.hours.clone())
                .map_err(|e| EngageError::Invalid(format!("hours: {e}")))?;
            h.schedule().map_err(EngageError::Invalid)?;
        }
        let now = self.now();
        self.db.write(|tx| {
            tx.put_team(t)?;
            tx.audit(now, actor, None, "team.saved", &json!({"team": t.name}))
        })?;
        self.reload()
    }

    /// Checks a name and password; returns a session secret (for the cookie) and its user.
    pub fn login(&self, name: &str, password: &str) -> Result<(String, User)> {
        let refused = || EngageError::Unauthenticated("wrong user name or password".into());
        let now = self.now();
        {
            let mut failed = self.failed_logins.lock().unwrap_or_else(|e| e.into_inner());
            let recent = failed.entry(name.to_string()).or_default();
            recent.retain(|t| now - *t < LOGIN_WINDOW);
            if recent.len() >= LOGIN_ATTEMPTS {
                // Refused before the password is even checked: guessing gains nothing.
                return Err(EngageError::TooMany(format!(
                    "{LOGIN_ATTEMPTS} failed sign-ins for {name:?} in the last {} minutes; wait, or ask an admin",
                    LOGIN_WINDOW.num_minutes()
                )));
            }
        }
        let hash = self.db.read(|tx| tx.password_hash(name))?;
        let ok = match &hash {
            Some(h) => auth::verify_password(password, h),
            None => {
                // Same work for unknown users, so timing does not tell which names exist.
                let _ = auth::verify_password(password, DUMMY_HASH);
                false
            }
        };
        let mut failed = self.failed_logins.lock().unwrap_or_else(|e| e.into_inner());
        if !ok {
            if failed.len() > 10_000 {
                // Names sprayed by a guesser: keep only those still being counted.
                failed.retain(|_, t| t.iter().any(|t| now - *t < LOGIN_WINDOW));
            }
            failed.entry(name.to_string()).or_default().push(now);
            return Err(refused());
        }
        failed.remove(name);
        drop(failed);
        let secret = auth::new_secret().map_err(EngageError::Invalid)?;
        let ttl = self.loaded().policies.settings.session_ttl;
        let user = self.db.write(|tx| {
            tx.add_token(
                &auth::secret_hash(&secret),
                name,
                "session",
                None,
                now,
                Some(now + ttl),
            )?;
            tx.audit(now, name, None, "user.login", &json!({}))?;
            tx.user(name)
        })?;
        Ok((secret, user.ok_or_else(refused)?))
    }

    /// A new API token for `user` (shown once; only its hash is kept).
    pub fn create_token(&self, actor: &str, user: &str, label: Option<&str>) -> Result<String> {
        let secret = auth::new_secret().map_err(EngageError::Invalid)?;
        let now = self.now();
        self.db
            .write(|tx| {
                if tx.user(user)?.is_none() {
                    return Err(StoreError::Query(format!("no user named {user:?}")));
                }
                tx.add_token(&auth::secret_hash(&secret), user, "api", label, now, None)?;
                tx.audit(
                    now,
                    actor,
                    None,
                    "token.created",
                    &json!({"user": user, "label": label}),
                )
            })
            .map_err(|e| match e {
                StoreError::Query(m) => EngageError::NotFound(m),
                other => other.into(),
            })?;
        Ok(secret)
    }

    /// The user a session or API token belongs to.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        let now = self.now();
        Ok(self
            .db
            .read(|tx| tx.token_user(&auth::secret_hash(secret), now))?
            .map(|user| Principal { user }))
    }

    pub fn logout(&self, secret: &str) -> Result<()> {
        self.db
            .write(|tx| tx.remove_token(&auth::secret_hash(secret)).map(|_| ()))?;
        Ok(())
    }

    /// Marks a user available or not; going away hands their new and open cases to others of
    /// their team (or back to the team's queue), coming back takes waiting cases.
    pub fn set_available(&self, who: &Principal, user: &str, available: bool) -> Result<usize> {
        if who.name() != user && !who.at_least(Role::Supervisor) {
            return Err(EngageError::Forbidden(
                "only supervisors change someone else's availability".into(),
            ));
        }
        let now = self.now();
        let moved = self
            .db
            .write(|tx| {
                let Some(u) = tx.user(user)? else {
                    return Err(StoreError::Query(format!("no user named {user:?}")));
                };
                tx.set_available(user, available)?;
                tx.audit(
                    now,
                    who.name(),
                    None,
                    "user.availability",
                    &json!({"user": user, "available": available}),
                )?;
                let mut roster = Roster::load(tx)?;
                let mut moved = 0;
                if !available {
                    let held = tx.cases(&CaseQuery {
                        assignee: Some(user.into()),
                        limit: 10_000,
                        ..Default::default()
                    })?;
                    for mut c in held.into_iter().filter(|c| holds_capacity(c.status)) {
                        c.assignee = None;
                        roster.released(user);
                        if let Some(a) = roster.pick(&c) {
                            roster.took(&a);
                            c.assignee = Some(a);
                        }
                        tx.audit(
                            now,
                            SYSTEM,
                            Some(c.id),
                            "case.reassigned",
                            &json!({"from": user, "to": c.assignee, "why": "unavailable"}),
                        )?;
                        tx.update_case(&c)?;
                        moved += 1;
                    }
                }
                for t in &u.teams {
                    moved += drain(tx, t, &mut roster, now)?;
                }
                Ok(moved)
            })
            .map_err(|e| match e {
                StoreError::Query(m) => EngageError::NotFound(m),
                other => other.into(),
            })?;
        Ok(moved)
    }

    // --- cases -------------------------------------------------------------------------------

    /// Cases visible to `who`, newest activity first.
    pub fn cases(&self, who: &Principal, mut q: CaseQuery) -> Result<Vec<Case>> {
        q.visible_private = who.visible_private();
        Ok(self.db.read(|tx| tx.cases(&q))?)
    }

    fn visible_case(&self, tx: &EngageTx<'_>, who: &Principal, id: i64) -> Result<Case> {
        let not_found = || EngageError::NotFound(format!("no case {id}"));
        let case = tx.case(id)?.ok_or_else(not_found)?;
        let teams = tx.teams()?;
        // A case one may not see answers like one that does not exist.
        if !who.can_see(&case, &teams) {
            return Err(not_found());
        }
        Ok(case)
    }

    fn workable_case(&self, tx: &EngageTx<'_>, who: &Principal, id: i64) -> Result<Case> {
        let case = self.visible_case(tx, who, id)?;
        if !who.can_work(&case, &tx.teams()?) {
            return Err(EngageError::Forbidden(format!(
                "{} ({}) cannot change case {id}: it belongs to team {}",
                who.name(),
                who.role(),
                case.team.as_deref().unwrap_or("-")
            )));
        }
        Ok(case)
    }

    /// A case with its messages, notes, replies and history.
    pub fn case_view(&self, who: &Principal, id: i64) -> Result<CaseView> {
        let (case, entries, notes, replies, audit) = self
            .db
            .read(|tx| {
                let case = match self.visible_case(tx, who, id) {
                    Ok(c) => c,
                    Err(EngageError::NotFound(m)) => return Err(StoreError::Query(m)),
                    Err(EngageError::Store(e)) => return Err(e),
                    Err(other) => return Err(StoreError::Query(other.to_string())),
                };
                Ok((
                    case,
                    tx.case_messages(id)?,
                    tx.notes(id)?,
                    tx.replies(id)?,
                    tx.audit_log(Some(id), 200)?,
                ))
            })
            .map_err(|e| match e {
                StoreError::Query(m) => EngageError::NotFound(m),
                other => other.into(),
            })?;
        // The latest 200 messages.
        let start = entries.len().saturating_sub(200);
        let seqs: Vec<i64> = entries[start..].iter().map(|e| e.seq).collect();
        let messages = self.store.messages_by_seq(&seqs)?;
        Ok(CaseView {
            case,
            messages,
            notes,
            replies,
            audit,
        })
    }

    /// Applies a person's change to a case, recorded in the audit log.
    pub fn update_case(&self, who: &Principal, id: i64, u: &CaseUpdate) -> Result<Case> {
        let now = self.now();
        let mut err = None;
        let out = self.db.write(|tx| {
            let mut case = match self.workable_case(tx, who, id) {
                Ok(c) => c,
                Err(e) => {
                    err = Some(e);
                    return Ok(None);
                }
            };
            let mut roster = Roster::load(tx)?;
            let before = case.clone();
            if let Some(t) = &u.team {
                if !who.at_least(Role::Supervisor) {
                    err = Some(EngageError::Forbidden("only supervisors move cases between teams".into()));
                    return Ok(None);
                }
                if !tx.teams()?.iter().any(|x| &x.name == t) {
                    err = Some(EngageError::Invalid(format!("no team named {t:?}")));
                    return Ok(None);
                }
                if case.team.as_ref() != Some(t) {
                    case.team = Some(t.clone());
                    if let Some(a) = case.assignee.take() {
                        if holds_capacity(case.status) {
                            roster.released(&a);
                        }
                    }
                }
            }
            if let Some(a) = &u.assignee {
                let target = (!a.is_empty()).then(|| a.clone());
                let own = target.as_deref() == Some(who.name())
                    || (target.is_none() && case.assignee.as_deref() == Some(who.name()));
                if !own && !who.at_least(Role::Supervisor) {
                    err = Some(EngageError::Forbidden("agents assign cases only to themselves".into()));
                    return Ok(None);
                }
                if let Some(t) = &target {
                    match tx.user(t)? {
                        Some(user) if user.role >= Role::Agent => {}
                        _ => {
                            err = Some(EngageError::Invalid(format!("{t:?} is not an agent")));
                            return Ok(None);
                        }
                    }
                }
                if let Some(old) = &case.assignee {
                    if holds_capacity(case.status) {
                        roster.released(old);
                    }
                }
                case.assignee = target;
                if let (Some(n), true) = (&case.assignee, holds_capacity(case.status)) {
                    roster.took(n);
                }
            }
            if let Some(p) = u.priority {
                case.priority = p;
            }
            for t in &u.add_tags {
                if !case.tags.contains(t) {
                    case.tags.push(t.clone());
                }
            }
            case.tags.retain(|t| !u.remove_tags.contains(t));
            if let Some(s) = u.status {
                let was = case.status;
                case.status = s;
                if s == Status::Resolved {
                    case.resolved_at = Some(now);
                    case.next_response_due = None;
                } else if was == Status::Resolved {
                    case.resolved_at = None;
                }
                release_if_freed(&mut case, was, &mut roster);
                if !holds_capacity(was) && holds_capacity(s) {
                    if let Some(a) = &case.assignee {
                        roster.took(a);
                    }
                }
            }
            if case.assignee.is_none() && holds_capacity(case.status) && u.assignee.is_none() {
                if let Some(a) = roster.pick(&case) {
                    roster.took(&a);
                    case.assignee = Some(a);
                }
            }
            case.updated_at = case.updated_at.max(now);
            tx.update_case(&case)?;
            tx.audit(now, who.name(), Some(id), "case.updated", &json!({
                "change": u,
                "before": {"status": before.status, "priority": before.priority, "team": before.team, "assignee": before.assignee, "tags": before.tags},
            }))?;
            // Freed capacity takes the next waiting case.
            for t in [before.team.as_deref(), case.team.as_deref()].into_iter().flatten() {
                drain(tx, t, &mut roster, now)?;
            }
            Ok(Some(case))
        })?;
        match (out, err) {
            (Some(c), _) => Ok(c),
            (None, Some(e)) => Err(e),
            (None, None) => Err(EngageError::NotFound(format!("no case {id}"))),
        }
    }

    pub fn add_note(&self, who: &Principal, id: i64, text: &str) -> Result<Note> {
        if text.trim().is_empty() {
            return Err(EngageError::Invalid("a note needs text".into()));
        }
        let now = self.now();
        let mut err = None;
        let note = self.db.write(|tx| {
            if let Err(e) = self.workable_case(tx, who, id) {
                err = Some(e);
                return Ok(None);
            }
            let n = tx.add_note(id, who.name(), text, now)?;
            tx.audit(
                now,
                who.name(),
                Some(id),
                "note.added",
                &json!({"note": n.id}),
            )?;
            Ok(Some(n))
        })?;
        note.ok_or_else(|| err.unwrap_or_else(|| EngageError::NotFound(format!("no case {id}"))))
    }

    /// Merges case `from` into case `into` (same customer or not): messages, tags and inbound
    /// counts move; `from` stays as a pointer, resolved.
    pub fn merge(&self, who: &Principal, into: i64, from: i64) -> Result<Case> {
        if !who.at_least(Role::Supervisor) {
            return Err(EngageError::Forbidden(
                "only supervisors merge cases".into(),
            ));
        }
        if into == from {
            return Err(EngageError::Invalid(
                "a case cannot be merged into itself".into(),
            ));
        }
        let now = self.now();
        let mut err = None;
        let out = self.db.write(|tx| {
            let (mut a, mut b) = match (
                self.workable_case(tx, who, into),
                self.workable_case(tx, who, from),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    err = Some(e);
                    return Ok(None);
                }
            };
            if a.merged_into.is_some() || b.merged_into.is_some() {
                err = Some(EngageError::Invalid(
                    "one of the cases was already merged".into(),
                ));
                return Ok(None);
            }
            let moved = tx.move_case_messages(b.id, a.id)?;
            a.inbound += b.inbound;
            a.created_at = a.created_at.min(b.created_at);
            a.last_inbound_at = a.last_inbound_at.max(b.last_inbound_at);
            a.updated_at = a.updated_at.max(now);
            for t in &b.tags {
                if !a.tags.contains(t) {
                    a.tags.push(t.clone());
                }
            }
            a.priority = a.priority.max(b.priority);
            b.merged_into = Some(a.id);
            b.status = Status::Resolved;
            b.resolved_at = Some(now);
            b.updated_at = now;
            tx.update_case(&a)?;
            tx.update_case(&b)?;
            tx.audit(
                now,
                who.name(),
                Some(a.id),
                "case.merged",
                &json!({"from": b.id, "messages": moved}),
            )?;
            tx.audit(
                now,
                who.name(),
                Some(b.id),
                "case.merged_into",
                &json!({"into": a.id}),
            )?;
            Ok(Some(a))
        })?;
        out.ok_or_else(|| err.unwrap_or_else(|| EngageError::NotFound("no such case".into())))
    }

    // --- replies -----------------------------------------------------------------------------

    /// A person's reply: queued in the outbox at once, or held for approval when a rule asked
    /// for it and the author is not a supervisor.
    pub fn reply(&self, who: &Principal, id: i64, req: &ReplyRequest) -> Result<Reply> {
        let l = self.loaded();
        let now = self.now();
        let view = self.case_view(who, id)?;
        let last_in = view
            .messages
            .iter()
            .rev()
            .find(|m| m.ingested.message.direction == Direction::Inbound)
            .map(|m| m.ingested.message.clone())
            .ok_or_else(|| {
                EngageError::Invalid(format!("case {id} has no customer message to answer"))
            })?;
        let agent = self.db.read(|tx| tx.user(who.name()))?;
        let (text, conn, out) = match (&req.text, &req.template) {
            (Some(t), None) if !t.trim().is_empty() => {
                let (conn, out) =
                    address(&l, &view.case, &last_in, t).map_err(EngageError::Invalid)?;
                (t.trim().to_string(), conn, out)
            }
            (None, Some(name)) => {
                let t = replies::variant(&l.policies.templates, name, view.case.lang.as_deref())
                    .ok_or_else(|| EngageError::Invalid(format!("no template named {name:?}")))?;
                let text = replies::render(&t.body, &vars(&view.case, &last_in, agent.as_ref()))
                    .map_err(EngageError::Invalid)?;
                let (conn, out) =
                    address(&l, &view.case, &last_in, &text).map_err(EngageError::Invalid)?;
                (text, conn, out)
            }
            _ => {
                return Err(EngageError::Invalid(
                    "a reply has either text or template".into(),
                ))
            }
        };
        let held = view.case.approval && !who.at_least(Role::Supervisor);
        let key = match &req.idempotency_key {
            Some(k) if !k.trim().is_empty() => format!("case-{id}-{}", k.trim()),
            _ => format!(
                "case-{id}-{}",
                auth::new_secret()
                    .map_err(EngageError::Invalid)?
                    .trim_start_matches("cpn_")
            ),
        };
        let reply = new_reply(
            &view.case,
            who.name(),
            text,
            req.template.clone(),
            if held {
                ReplyStatus::AwaitingApproval
            } else {
                ReplyStatus::Queued
            },
            key,
            conn,
            out,
            now,
        );
        let mut err = None;
        let r = self.db.write(|tx| {
            let mut case = match self.workable_case(tx, who, id) {
                Ok(c) => c,
                Err(e) => {
                    err = Some(e);
                    return Ok(None);
                }
            };
            let (r, inserted) = tx.insert_reply(&reply)?;
            if inserted {
                tx.audit(
                    now,
                    who.name(),
                    Some(id),
                    if held { "reply.held" } else { "reply.queued" },
                    &json!({"reply": r.id, "template": r.template}),
                )?;
                if !held {
                    let mut roster = Roster::load(tx)?;
                    let was = case.status;
                    responded(&mut case, now, Some(req.status.unwrap_or(Status::Pending)));
                    release_if_freed(&mut case, was, &mut roster);
                    tx.update_case(&case)?;
                    if let Some(t) = case.team.clone() {
                        drain(tx, &t, &mut roster, now)?;
                    }
                }
            }
            Ok(Some(r))
        })?;
        r.ok_or_else(|| err.unwrap_or_else(|| EngageError::NotFound(format!("no case {id}"))))
    }

    /// A supervisor lets a held reply go (or refuses it).
    pub fn decide_reply(&self, who: &Principal, reply_id: i64, approve: bool) -> Result<Reply> {
        if !who.at_least(Role::Supervisor) {
            return Err(EngageError::Forbidden(
                "only supervisors approve replies".into(),
            ));
        }
        let now = self.now();
        let mut err = None;
        let out = self.db.write(|tx| {
            let Some(mut r) = tx.reply(reply_id)? else {
                err = Some(EngageError::NotFound(format!("no reply {reply_id}")));
                return Ok(None);
            };
            let mut case = match self.workable_case(tx, who, r.case_id) {
                Ok(c) => c,
                Err(e) => {
                    err = Some(e);
                    return Ok(None);
                }
            };
            if r.status != ReplyStatus::AwaitingApproval {
                err = Some(EngageError::Invalid(format!(
                    "reply {reply_id} is {}, not awaiting approval",
                    r.status
                )));
                return Ok(None);
            }
            r.approved_by = Some(who.name().to_string());
            if approve {
                r.status = ReplyStatus::Queued;
                r.next_attempt_at = now;
                let mut roster = Roster::load(tx)?;
                let was = case.status;
                responded(&mut case, now, Some(Status::Pending));
                release_if_freed(&mut case, was, &mut roster);
                tx.update_case(&case)?;
            } else {
                r.status = ReplyStatus::Rejected;
            }
            tx.update_reply(&r)?;
            tx.audit(
                now,
                who.name(),
                Some(r.case_id),
                if approve {
                    "reply.approved"
                } else {
                    "reply.rejected"
                },
                &json!({"reply": r.id}),
            )?;
            Ok(Some(r))
        })?;
        out.ok_or_else(|| {
            err.unwrap_or_else(|| EngageError::NotFound(format!("no reply {reply_id}")))
        })
    }

    /// Templates ranked for the case, rendered.
    pub fn suggestions(
        &self,
        who: &Principal,
        id: i64,
        limit: usize,
    ) -> Result<Vec<replies::Suggestion>> {
        let l = self.loaded();
        let view = self.case_view(who, id)?;
        let Some(last) = view
            .messages
            .iter()
            .rev()
            .find(|m| m.ingested.message.direction == Direction::Inbound)
        else {
            return Ok(Vec::new());
        };
        let m = &last.ingested.message;
        let answered = self.db.read(|tx| {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for (template, case_id) in tx.template_uses(500)? {
                if let Some(c) = tx.case(case_id)? {
                    if c.status == Status::Resolved && c.id != id {
                        map.entry(template).or_default().push(c.subject);
                    }
                }
            }
            Ok(map)
        })?;
        let agent = self.db.read(|tx| tx.user(who.name()))?;
        Ok(replies::suggest(
            &l.policies.templates,
            &view.case,
            &m.text,
            m.labels.intent_score,
            &answered,
            &vars(&view.case, m, agent.as_ref()),
            limit,
        ))
    }

    // --- reports -----------------------------------------------------------------------------

    pub fn coverage(
        &self,
        by: GroupBy,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<CoverageRow>> {
        let facts = self.db.read(|tx| tx.case_facts(since, until))?;
        Ok(coverage::report(&facts, by, self.now()))
    }

    pub fn alerts(&self, limit: usize) -> Result<Vec<Alert>> {
        Ok(self.db.read(|tx| tx.alerts(limit))?)
    }

    pub fn audit_log(&self, case: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(self.db.read(|tx| tx.audit_log(case, limit))?)
    }

    pub fn set_customer(
        &self,
        actor: &str,
        key: &str,
        attributes: &serde_json::Value,
    ) -> Result<()> {
        let now = self.now();
        self.db.write(|tx| {
            tx.set_customer(key, attributes)?;
            tx.audit(
                now,
                actor,
                None,
                "customer.saved",
                &json!({"customer": key}),
            )
        })?;
        Ok(())
    }

    pub fn customer(&self, key: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.db.read(|tx| tx.customer(key))?)
    }
}

/// An argon2 hash of a random password, verified against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Oq+Hc0Uwz5wzQ4pPRbCOsdIo/V2yXHmW1gHxxBZ6nQ";

fn load(db: &EngageDb) -> Result<Loaded> {
    let (policies, teams) = db.read(|tx| {
        let p = match tx.config("policies")? {
            Some(s) => serde_json::from_str(&s)
                .map_err(|e| StoreError::Corrupt(format!("policies: {e}")))?,
            None => Policies::default(),
        };
        Ok((p, tx.teams()?))
    })?;
    let mut schedules = HashMap::new();
    for t in &teams {
        if !t.hours.is_null() {
            if let Ok(h) = serde_json::from_value::<hours::BusinessHours>(t.hours.clone()) {
                if let Ok(s) = h.schedule() {
                    schedules.insert(t.name.clone(), s);
                }
            }
        }
    }
    Ok(Loaded {
        rules: Rules::new(policies.rules.clone()),
        connectors: policies
            .connectors
            .iter()
            .cloned()
            .map(Connector::new)
            .collect(),
        policies,
        schedules,
    })
}

/// Records a response to the customer at `at`: first and last response times, the next-response
/// clock stopped, and the case set to `status` (or pending).
fn responded(case: &mut Case, at: DateTime<Utc>, status: Option<Status>) {
    case.first_response_at.get_or_insert(at);
    case.last_response_at = Some(case.last_response_at.map_or(at, |l| l.max(at)));
    case.next_response_due = None;
    case.updated_at = case.updated_at.max(at);
    match status {
        Some(s) => {
            case.status = s;
            if s == Status::Resolved {
                case.resolved_at = Some(at);
            }
        }
        None if matches!(case.status, Status::New | Status::Open) => case.status = Status::Pending,
        None => {}
    }
}

/// Gives the assignee's capacity back when the case left new/open.
fn release_if_freed(case: &mut Case, was: Status, roster: &mut Roster) {
    if holds_capacity(was) && !holds_capacity(case.status) {
        if let Some(a) = &case.assignee {
            roster.released(a);
        }
    }
}

/// Assigns a team's waiting cases while someone has room; returns how many.
fn drain(
    tx: &EngageTx<'_>,
    team: &str,
    roster: &mut Roster,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    loop {
        let queue = tx.queue(team, 100)?;
        if queue.is_empty() {
            return Ok(n);
        }
        let mut progressed = false;
        for mut c in queue {
            if let Some(a) = roster.pick(&c) {
                roster.took(&a);
                c.assignee = Some(a);
                tx.update_case(&c)?;
                tx.audit(
                    now,
                    SYSTEM,
                    Some(c.id),
                    "case.assigned",
                    &json!({"to": c.assignee, "why": "capacity"}),
                )?;
                n += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Ok(n);
        }
    }
}

fn vars(case: &Case, m: &Message, agent: Option<&User>) -> replies::Vars {
    let first = case
        .customer_name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_string);
    replies::Vars {
        customer: json!({
            "name": case.customer_name, "first_name": first,
            "handle": case.customer_handle, "id": case.customer,
        }),
        message: json!({
            "text": m.text, "title": m.title, "channel": m.channel, "lang": m.lang,
            "intent": m.labels.intent, "sentiment": m.labels.sentiment, "url": m.url,
        }),
        case: json!({
            "id": case.id, "priority": case.priority, "team": case.team, "tags": case.tags,
            "status": case.status, "channel": case.channel,
        }),
        agent: match agent {
            Some(u) => {
                json!({"name": u.name, "display_name": u.display_name.as_ref().unwrap_or(&u.name)})
            }
            None => json!({"name": "", "display_name": ""}),
        },
    }
}

/// The connector for the case's channel and the reply's address (text and key filled later).
fn address(l: &Loaded, case: &Case, m: &Message, text: &str) -> Result<(String, Outgoing), String> {
    let conn = connectors::pick(&l.connectors, &case.channel).ok_or_else(|| {
        format!(
            "no connector carries replies on channel {:?}; add a [[connectors]] entry naming it (webhook, smtp or mastodon) and apply the configuration",
            case.channel
        )
    })?;
    Ok((
        conn.name().to_string(),
        Outgoing {
            idempotency_key: String::new(),
            case_id: case.id,
            channel: case.channel.clone(),
            to_id: m.author.id.clone(),
            to_handle: m.author.handle.clone(),
            to_name: m.author.name.clone(),
            in_reply_to: Some(m.external_id.clone()),
            subject: m.title.clone(),
            text: text.to_string(),
        },
    ))
}

#[allow(clippy::too_many_arguments)]
fn new_reply(
    case: &Case,
    author: &str,
    text: String,
    template: Option<String>,
    status: ReplyStatus,
    key: String,
    connector: String,
    out: Outgoing,
    now: DateTime<Utc>,
) -> Reply {
    let mut target = serde_json::to_value(&out).unwrap_or_default();
    if let Some(o) = target.as_object_mut() {
        // Text and key live in their own columns.
        o.insert("text".into(), json!(""));
        o.insert("idempotency_key".into(), json!(""));
    }
    Reply {
        id: 0,
        case_id: case.id,
        author: author.to_string(),
        text,
        template,
        status,
        idempotency_key: key,
        connector,
        target,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
        approved_by: None,
        remote_id: None,
    }
}
