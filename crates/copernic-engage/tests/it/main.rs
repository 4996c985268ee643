//! The engine over a real store, without HTTP: the outbox's retry schedule and giving up,
//! suggestions learning from resolved cases.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use copernic_core::engage::{ReplyStatus, Status};
use copernic_engage::{ConfigFile, Engine, ManualClock, Principal, ReplyRequest};
use copernic_pipeline::transforms::neardup::NearDupConfig;
use copernic_pipeline::{Context, Ingestor, Mapping};
use copernic_store::engage::CaseQuery;
use copernic_store::{SqliteStore, Store};

fn t0() -> DateTime<Utc> {
    "2026-12-01T10:00:00Z".parse().unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    ingestor: Ingestor,
    engine: Engine,
    clock: Arc<ManualClock>,
}

fn world(config: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let ingestor = Ingestor::new(store.clone(), NearDupConfig::default()).unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = Engine::open(dir.path(), store, clock.clone()).unwrap();
    let config = config.replace("@DIR@", &dir.path().display().to_string());
    engine
        .apply(&ConfigFile::parse(&config).unwrap(), "test")
        .unwrap();
    World {
        _dir: dir,
        ingestor,
        engine,
        clock,
    }
}

impl World {
    fn ingest(&self, lines: &[serde_json::Value]) {
        let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let mapping = Mapping {
            channel: Some("api".into()),
            ..Default::default()
        };
        let ctx = Context::new("web", "test");
        let mut items = Vec::new();
        copernic_pipeline::sources::jsonl::parse_body(
            body.as_bytes(),
            None,
            &mapping,
            &ctx,
            &mut |i| items.push(i),
        );
        self.ingestor.ingest(items).unwrap();
        self.engine.catch_up().unwrap();
    }

    fn cases(&self) -> Vec<copernic_core::engage::Case> {
        self.engine
            .cases(
                &Principal::open_install(),
                CaseQuery {
                    limit: 100,
                    ..Default::default()
                },
            )
            .unwrap()
    }
}

fn msg(id: &str, author: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "author_id": author, "text": text, "created_at": t0().to_rfc3339()})
}

#[tokio::test]
async fn the_outbox_gives_up_after_the_last_attempt_with_an_alert() {
    // Port 9 on loopback: nothing listens, every attempt fails and is worth retrying.
    let w = world(
        r#"
[settings]
outbox_max_attempts = 3
outbox_backoff = "1m"
[[connectors]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/replies"
timeout = "2s"
"#,
    );
    w.ingest(&[msg("1", "u1", "hello")]);
    let case = w.cases()[0].id;
    let admin = Principal::open_install();
    let r = w
        .engine
        .reply(
            &admin,
            case,
            &ReplyRequest {
                text: Some("hi".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.status, ReplyStatus::Queued);
    assert_eq!(w.engine.outbox_once().await.unwrap(), 1);
    let after = |n: usize| {
        w.engine
            .outbox(ReplyStatus::Queued, 10)
            .unwrap()
            .get(n)
            .cloned()
    };
    let first = after(0).expect("queued again after a retryable failure");
    assert_eq!(first.attempts, 1);
    assert_eq!(first.next_attempt_at, t0() + Duration::minutes(1));
    assert!(
        first.last_error.as_deref().unwrap().contains("127.0.0.1:9"),
        "{:?}",
        first.last_error
    );
    // Not due yet: nothing is attempted.
    assert_eq!(w.engine.outbox_once().await.unwrap(), 0);
    w.clock.advance(Duration::minutes(1));
    assert_eq!(w.engine.outbox_once().await.unwrap(), 1);
    let second = after(0).unwrap();
    assert_eq!(
        (second.attempts, second.next_attempt_at),
        (2, t0() + Duration::minutes(3)),
        "the wait doubles"
    );
    w.clock.advance(Duration::minutes(2));
    assert_eq!(w.engine.outbox_once().await.unwrap(), 1);
    assert!(after(0).is_none());
    let failed = w.engine.outbox(ReplyStatus::Failed, 10).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 3);
    let alerts = w.engine.alerts(10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "reply_failed");
    assert!(
        alerts[0].message.contains("3 attempt"),
        "{}",
        alerts[0].message
    );
    // Given up means given up.
    w.clock.advance(Duration::hours(5));
    assert_eq!(w.engine.outbox_once().await.unwrap(), 0);
}

#[tokio::test]
async fn suggestions_prefer_templates_that_answered_similar_resolved_cases() {
    let w = world(
        r#"
[[templates]]
name = "password"
body = "To reset your password, open Settings."
[[templates]]
name = "delivery"
body = "Your parcel is on its way."
[[connectors]]
name = "file"
kind = "file"
path = "@DIR@/replies.jsonl"
"#,
    );
    w.ingest(&[msg("1", "a", "I forgot my password and cannot log in")]);
    let admin = Principal::open_install();
    let first = w.cases()[0].id;
    w.engine
        .reply(
            &admin,
            first,
            &ReplyRequest {
                template: Some("password".into()),
                status: Some(Status::Resolved),
                ..Default::default()
            },
        )
        .unwrap();
    w.engine.outbox_once().await.unwrap();
    assert_eq!(w.engine.outbox(ReplyStatus::Sent, 10).unwrap().len(), 1);
    w.ingest(&[msg("2", "b", "cannot log in, password forgotten again")]);
    let second = w.cases().iter().find(|c| c.id != first).unwrap().id;
    let s = w.engine.suggestions(&admin, second, 5).unwrap();
    assert_eq!(s[0].template, "password", "{s:?}");
    assert!(
        s[0].reasons[0].contains("like a message it answered"),
        "{:?}",
        s[0].reasons
    );
    assert!(s[0].score > s[1].score);
    // A merged or unrelated case does not teach it: the other template scores nothing.
    assert_eq!(s[1].score, 0.0);
}

#[tokio::test]
async fn only_confident_intents_get_the_auto_reply() {
    let w = world(
        r#"
[[teams]]
name = "billing"
[[rules]]
name = "confident refunds"
intents = ["refund"]
intent_score_min = 0.9
team = "billing"
auto_reply = "ack"
[[templates]]
name = "ack"
body = "We are on it."
[[connectors]]
name = "file"
kind = "file"
path = "@DIR@/replies.jsonl"
"#,
    );
    let item = |id: &str, author: &str, score: f32| {
        let mut m = copernic_core::Message::new("web", id, "api", "I want my money back".into());
        m.created_at = t0();
        m.author.id = Some(author.into());
        m.labels.intent = Some("refund".into());
        m.labels.intent_score = Some(score);
        copernic_pipeline::Item::Message(m)
    };
    w.ingestor
        .ingest(vec![item("1", "sure", 0.95), item("2", "unsure", 0.6)])
        .unwrap();
    w.engine.catch_up().unwrap();
    let cases = w.cases();
    let sure = cases.iter().find(|c| c.customer == "sure").unwrap();
    let unsure = cases.iter().find(|c| c.customer == "unsure").unwrap();
    assert!(sure.auto_replied && sure.status == Status::Pending);
    assert_eq!(sure.team.as_deref(), Some("billing"));
    // Below the threshold the rule does not fire at all: no team, no auto-reply.
    assert!(!unsure.auto_replied && unsure.status == Status::New);
    assert_eq!(unsure.team, None);
    w.engine.outbox_once().await.unwrap();
    let sent = w.engine.outbox(ReplyStatus::Sent, 10).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].author.as_str(), sent[0].text.as_str()),
        ("system", "We are on it.")
    );
}
