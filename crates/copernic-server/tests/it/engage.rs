//! The care side over real HTTP: configuration applied through the API, 1,000 messages routed to
//! teams without anyone over capacity, SLA breaches escalating exactly once on a clock the test
//! moves, replies delivered exactly once through a connector that fails on purpose, a restart
//! that loses nothing, and every role refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use chrono::{DateTime, Utc};
use copernic_engage::ManualClock;
use copernic_server::ServerConfig;
use serde_json::{json, Value};

use crate::{eventually, Resp, TestServer};

const PASSWORD: &str = "correct horse battery";

fn start_time() -> DateTime<Utc> {
    "2026-12-01T09:00:00Z".parse().unwrap()
}

/// A Mastodon instance stand-in: `POST /api/v1/statuses` with an `Idempotency-Key`. It fails the
/// first `fail_first` requests on purpose: the first with a 503 before doing anything, the
/// second *after* creating the status (the answer is lost), as a real network does. A repeat of a
/// key answers with the status already made, as Mastodon does.
#[derive(Default)]
struct Mastodon {
    requests: Vec<(Option<String>, Value)>,
    /// Idempotency key → status id.
    statuses: HashMap<String, String>,
    fail_first: usize,
}

async fn start_mastodon(fail_first: usize) -> (String, Arc<Mutex<Mastodon>>) {
    let state = Arc::new(Mutex::new(Mastodon {
        fail_first,
        ..Mastodon::default()
    }));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/api/v1/statuses",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let s = s.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let auth_ok = headers.get("authorization").and_then(|v| v.to_str().ok())
                        == Some("Bearer masto-token");
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mut m = s.lock().unwrap();
                    m.requests.push((key.clone(), body));
                    let n = m.requests.len();
                    if !auth_ok {
                        return (axum::http::StatusCode::UNAUTHORIZED, "{}".to_string());
                    }
                    if n == 1 && m.fail_first >= 1 {
                        return (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "down".to_string(),
                        );
                    }
                    let key = key.unwrap_or_default();
                    let next = format!("1100{}", m.statuses.len() + 1);
                    let id = m.statuses.entry(key).or_insert(next).clone();
                    if n == 2 && m.fail_first >= 2 {
                        // Made, but the answer never arrives intact.
                        return (
                            axum::http::StatusCode::BAD_GATEWAY,
                            "upstream reset".to_string(),
                        );
                    }
                    (axum::http::StatusCode::OK, json!({"id": id}).to_string())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

fn config(mastodon: &str, hash: &str) -> String {
    let mut users = String::new();
    let agents: &[(&str, &str, &str, i64, &str)] = &[
        ("admin", "admin", "[]", 0, "[]"),
        (
            "sup",
            "supervisor",
            r#"["care", "billing", "logistics", "escalations"]"#,
            0,
            "[]",
        ),
        ("c1", "agent", r#"["care"]"#, 40, r#"["fr"]"#),
        ("c2", "agent", r#"["care"]"#, 40, r#"["en"]"#),
        ("c3", "agent", r#"["care"]"#, 30, "[]"),
        ("b1", "agent", r#"["billing"]"#, 25, "[]"),
        ("b2", "agent", r#"["billing"]"#, 25, "[]"),
        ("l1", "agent", r#"["logistics"]"#, 30, "[]"),
        ("l2", "agent", r#"["logistics"]"#, 30, r#"["fr"]"#),
        ("e1", "agent", r#"["escalations"]"#, 50, "[]"),
        ("v1", "viewer", r#"["care"]"#, 0, "[]"),
    ];
    for (name, role, teams, capacity, langs) in agents {
        users.push_str(&format!(
            "[[users]]\nname = \"{name}\"\nrole = \"{role}\"\nteams = {teams}\ncapacity = {capacity}\nlanguages = {langs}\npassword_hash = \"{hash}\"\n\n"
        ));
    }
    format!(
        r#"
[settings]
outbox_backoff = "10s"
outbox_max_attempts = 4

[[teams]]
name = "care"
[[teams]]
name = "billing"
private = true
[[teams]]
name = "logistics"
[[teams]]
name = "escalations"

{users}
[[rules]]
name = "spam"
when = '"gagnez un iphone"'
spam = true
stop = true

[[rules]]
name = "everyone to care"
team = "care"

[[rules]]
name = "refunds"
intents = ["refund"]
team = "billing"
priority = "high"

[[rules]]
name = "deliveries"
when = "colis OR livraison OR parcel OR delivery"
team = "logistics"

[[slas]]
name = "standard"
first_response = "1h"
next_response = "4h"
on_breach = {{ team = "escalations", priority = "urgent", tags = ["late"] }}

[[templates]]
name = "ack"
lang = "fr"
intents = ["refund"]
body = "Bonjour {{{{ customer.first_name }}}}, nous regardons votre remboursement (dossier {{{{ case.id }}}})."

[[templates]]
name = "ack"
lang = "en"
intents = ["refund"]
body = "Hello {{{{ customer.first_name }}}}, we are looking at your refund (case {{{{ case.id }}}})."

[[templates]]
name = "thanks"
body = "Merci {{{{ customer.first_name }}}} !"

[[connectors]]
name = "masto"
kind = "mastodon"
url = "{mastodon}"
token = "masto-token"
channels = ["mastodon"]
"#
    )
}

/// What customer `k` writes about, the team that should get it, and its language.
fn category(k: usize) -> (&'static str, &'static str, &'static str) {
    let lang = if k.is_multiple_of(2) { "fr" } else { "en" };
    match k % 5 {
        2 => ("je veux un remboursement de ma commande", "refund", lang),
        3 => ("mon colis n'est jamais arrivé", "delivery", lang),
        _ => ("une question sur mon compte", "question", lang),
    }
}

fn expected_team(k: usize) -> &'static str {
    match k % 5 {
        2 => "billing",
        3 => "logistics",
        _ => "care",
    }
}

/// `n` inbound Mastodon messages from `customers` customers, one every 10 seconds before `end`.
fn messages(n: usize, customers: usize, end: DateTime<Utc>) -> String {
    let mut out = String::new();
    for i in 0..n {
        let k = i % customers;
        let (text, intent, lang) = category(k);
        let at = end - chrono::Duration::seconds((n - i) as i64);
        out.push_str(
            &serde_json::to_string(&json!({
                "id": format!("st-{i}"),
                "text": format!("{text} (message {i})"),
                "author": format!("@customer{k}@masto.example"),
                "author_id": format!("acct-{k}"),
                "author_name": format!("Client{k} Nom"),
                "created_at": at.to_rfc3339(),
                "lang": lang,
                "intent": intent,
            }))
            .unwrap(),
        );
        out.push('\n');
    }
    out
}

struct Care {
    server: TestServer,
    clock: Arc<ManualClock>,
    mastodon: Arc<Mutex<Mastodon>>,
    tokens: HashMap<String, String>,
}

impl Care {
    async fn start(fail_first: usize) -> Care {
        let dir = tempfile::tempdir().unwrap();
        Care::start_in(dir, fail_first, true).await
    }

    async fn start_in(dir: tempfile::TempDir, fail_first: usize, apply: bool) -> Care {
        let clock = Arc::new(ManualClock::new(start_time()));
        let server = TestServer::start_with(dir, ServerConfig::default(), clock.clone()).await;
        let (url, mastodon) = start_mastodon(fail_first).await;
        let mut care = Care {
            server,
            clock,
            mastodon,
            tokens: HashMap::new(),
        };
        if apply {
            let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
            // No user exists yet: the fresh install is open, and applying creates the admin.
            let r = care
                .server
                .post("/api/v1/config", config(&url, &hash))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["applied"]["users"], 11);
        } else {
            // Same users, new stand-in address.
            let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
            care.login("admin").await;
            let r = care
                .call("admin", "POST", "/api/v1/config", Some(config(&url, &hash)))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        care
    }

    async fn login(&mut self, user: &str) -> String {
        if let Some(t) = self.tokens.get(user) {
            return t.clone();
        }
        let r = self
            .server
            .post(
                "/api/v1/login",
                json!({"name": user, "password": PASSWORD}).to_string(),
            )
            .await;
        assert_eq!(r.status, 200, "login {user}: {}", r.text());
        let cookie = r.header("set-cookie").expect("session cookie").to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let secret = cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .unwrap();
        self.tokens.insert(user.into(), secret.clone());
        secret
    }

    /// A request as `user`, with their session cookie.
    async fn call(&mut self, user: &str, method: &str, path: &str, body: Option<String>) -> Resp {
        let secret = self.login(user).await;
        let s = &self.server;
        let m: reqwest::Method = method.parse().unwrap();
        let mut req = s
            .client
            .request(m, s.url(path))
            .header("cookie", format!("copernic_session={secret}"));
        if let Some(b) = body {
            req = req.body(b);
        }
        s.send(req).await
    }

    /// Posts NDJSON messages as the admin, as statuses of the Mastodon source.
    async fn ingest(&mut self, ndjson: String) -> Resp {
        self.call(
            "admin",
            "POST",
            "/api/v1/messages?source=masto&channel=mastodon",
            Some(ndjson),
        )
        .await
    }

    async fn get_json(&mut self, user: &str, path: &str) -> Value {
        let r = self.call(user, "GET", path, None).await;
        assert_eq!(r.status, 200, "GET {path} as {user}: {}", r.text());
        r.json()
    }

    /// The view of case `id` (as `user`, signed in already) once its first reply is sent.
    async fn first_reply_sent(&self, user: &str, id: i64) -> Value {
        let token = self.tokens[user].clone();
        eventually(&format!("case {id}'s first reply sent"), || {
            let server = &self.server;
            let token = token.clone();
            async move {
                let url = server.url(&format!("/api/v1/cases/{id}"));
                let v = server
                    .send(server.client.get(url).bearer_auth(token))
                    .await
                    .json();
                (v["replies"][0]["status"] == "sent").then_some(v)
            }
        })
        .await
    }

    async fn all_cases(&mut self, user: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before = String::new();
        loop {
            let page = self
                .get_json(user, &format!("/api/v1/cases?limit=100&{query}{before}"))
                .await;
            out.extend(page["cases"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(n) => before = format!("&before={n}"),
                None => return out,
            }
        }
    }
}

fn holds(c: &Value) -> bool {
    matches!(
        c["status"].as_str(),
        Some("new") | Some("open") | Some("pending")
    )
}

/// Nobody holds more new or open cases than their capacity; every assignment is in the agent's
/// team and languages; a waiting case waits only because every agent who could take it is full.
async fn assert_capacity_respected(care: &mut Care) {
    let users = care.get_json("sup", "/api/v1/users").await["users"]
        .as_array()
        .unwrap()
        .clone();
    let cases = care.all_cases("sup", "active=true").await;
    let mut held: HashMap<String, i64> = HashMap::new();
    for c in cases.iter().filter(|c| holds(c)) {
        if let Some(a) = c["assignee"].as_str() {
            *held.entry(a.into()).or_default() += 1;
        }
    }
    let user = |n: &str| users.iter().find(|u| u["name"] == n).unwrap().clone();
    for (name, n) in &held {
        let u = user(name);
        assert!(
            *n <= u["capacity"].as_i64().unwrap(),
            "{name} holds {n} cases, capacity {}",
            u["capacity"]
        );
    }
    for c in cases.iter().filter(|c| holds(c)) {
        let team = c["team"].as_str().unwrap();
        let lang = c["lang"].as_str().unwrap();
        match c["assignee"].as_str() {
            Some(a) => {
                let u = user(a);
                assert!(
                    u["teams"].as_array().unwrap().iter().any(|t| t == team),
                    "{a} is not in {team}"
                );
                let langs = u["languages"].as_array().unwrap();
                assert!(
                    langs.is_empty() || langs.iter().any(|l| l == lang),
                    "{a} does not speak {lang}"
                );
                assert!(
                    u["available"].as_bool().unwrap(),
                    "{a} is away but holds case {}",
                    c["id"]
                );
            }
            None => {
                for u in &users {
                    let in_team = u["teams"].as_array().unwrap().iter().any(|t| t == team);
                    let langs = u["languages"].as_array().unwrap();
                    let speaks = langs.is_empty() || langs.iter().any(|l| l == lang);
                    if in_team && speaks && u["role"] == "agent" && u["available"] == true {
                        let name = u["name"].as_str().unwrap();
                        assert_eq!(
                            held.get(name).copied().unwrap_or(0),
                            u["capacity"].as_i64().unwrap(),
                            "case {} waits in {team} while {name} has room",
                            c["id"]
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_are_routed_to_teams_without_exceeding_capacity() {
    let mut care = Care::start(0).await;
    let body = messages(1000, 350, start_time());
    let r = care.ingest(body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 1000);
    // A replay adds nothing.
    let r = care.ingest(body).await;
    assert_eq!(r.json()["duplicates"], 1000);

    // Cases exist when the ingest answered: one per customer, every message in exactly one.
    let cases = care.all_cases("admin", "").await;
    assert_eq!(cases.len(), 350);
    assert_eq!(
        cases
            .iter()
            .map(|c| c["inbound"].as_i64().unwrap())
            .sum::<i64>(),
        1000
    );
    for c in &cases {
        let k: usize = c["customer"]
            .as_str()
            .unwrap()
            .trim_start_matches("acct-")
            .parse()
            .unwrap();
        assert_eq!(
            c["team"],
            expected_team(k),
            "case {} of customer {k}",
            c["id"]
        );
        assert_eq!(c["sla"], "standard");
        if expected_team(k) == "billing" {
            assert_eq!(c["priority"], "high");
        }
    }
    assert_capacity_respected(&mut care).await;
    // Care has 210 cases for 110 seats: the rest wait in the team's queue.
    let waiting = care.all_cases("sup", "team=care&unassigned=true").await;
    assert!(!waiting.is_empty());

    // c3 goes away: their cases go back to the queue (everyone else is full), and nobody
    // exceeds capacity; back again, they take waiting cases.
    let r = care
        .call(
            "c3",
            "PUT",
            "/api/v1/users/c3/availability",
            Some(r#"{"available": false}"#.into()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cases_moved"], 30);
    assert!(care
        .all_cases("sup", "assignee=c3&active=true")
        .await
        .is_empty());
    assert_capacity_respected(&mut care).await;
    let r = care
        .call(
            "c3",
            "PUT",
            "/api/v1/users/c3/availability",
            Some(r#"{"available": true}"#.into()),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        care.all_cases("sup", "assignee=c3&active=true").await.len(),
        30
    );
    assert_capacity_respected(&mut care).await;

    // Resolving a case frees a seat that the queue fills at once.
    let c1_case = care.all_cases("c1", "assignee=c1").await[0]["id"]
        .as_i64()
        .unwrap();
    let r = care
        .call(
            "c1",
            "PATCH",
            &format!("/api/v1/cases/{c1_case}"),
            Some(r#"{"status": "resolved"}"#.into()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        care.all_cases("sup", "assignee=c1&active=true")
            .await
            .iter()
            .filter(|c| holds(c))
            .count(),
        40
    );
    assert_capacity_respected(&mut care).await;

    // Private team: an agent of care neither lists nor opens billing's cases; the supervisor does.
    let billing = care.all_cases("sup", "team=billing").await;
    assert_eq!(billing.len(), 70);
    assert!(care.all_cases("c1", "team=billing").await.is_empty());
    let id = billing[0]["id"].as_i64().unwrap();
    care.call("c1", "GET", &format!("/api/v1/cases/{id}"), None)
        .await
        .assert_error(404, "not_found");
    // A logistics agent may read care's cases (care is not private) but not change them.
    let care_case = care.all_cases("sup", "team=care").await[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        care.call("l1", "GET", &format!("/api/v1/cases/{care_case}"), None)
            .await
            .status,
        200
    );
    care.call(
        "l1",
        "POST",
        &format!("/api/v1/cases/{care_case}/notes"),
        Some(r#"{"text": "x"}"#.into()),
    )
    .await
    .assert_error(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_breach_escalates_exactly_once() {
    let mut care = Care::start(0).await;
    let now = start_time();
    let body = messages(1, 1, now);
    let r = care.ingest(body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let case = care.all_cases("sup", "").await[0].clone();
    let id = case["id"].as_i64().unwrap();
    assert_eq!(
        (case["team"].as_str(), case["assignee"].as_str()),
        (Some("care"), Some("c1"))
    );
    assert!(care.get_json("sup", "/api/v1/alerts").await["alerts"]
        .as_array()
        .unwrap()
        .is_empty());

    // 59 minutes: nothing. 61 minutes: the first-response target is missed.
    care.clock.advance(chrono::Duration::minutes(59));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(care.get_json("sup", "/api/v1/alerts").await["alerts"]
        .as_array()
        .unwrap()
        .is_empty());
    care.clock.advance(chrono::Duration::minutes(2));
    let alerts = eventually("the breach alert", || {
        let server = &care.server;
        let token = care.tokens["sup"].clone();
        async move {
            let r = server
                .send(
                    server
                        .client
                        .get(server.url("/api/v1/alerts"))
                        .bearer_auth(token),
                )
                .await;
            let a = r.json()["alerts"].as_array().unwrap().clone();
            (!a.is_empty()).then_some(a)
        }
    })
    .await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["kind"], "sla_breach");
    assert_eq!(alerts[0]["case_id"], id);
    let view = care.get_json("sup", &format!("/api/v1/cases/{id}")).await;
    assert_eq!(view["priority"], "urgent");
    assert_eq!(view["team"], "escalations");
    assert_eq!(view["assignee"], "e1");
    assert_eq!(view["breaches"], json!(["first_response"]));
    let tags: Vec<&str> = view["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"sla-breach") && tags.contains(&"late"),
        "{tags:?}"
    );
    let breached = view["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "sla.breached")
        .count();
    assert_eq!(breached, 1);

    // Time goes on; the worker passes many times: still exactly one breach.
    care.clock.advance(chrono::Duration::hours(3));
    tokio::time::sleep(Duration::from_millis(500)).await;
    care.clock.advance(chrono::Duration::hours(3));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts = care.get_json("sup", "/api/v1/alerts").await["alerts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    // e1 answers: the case waits for the customer; the customer writes again, and the
    // next-response clock (4 h) starts from their message.
    let r = care
        .call(
            "e1",
            "POST",
            &format!("/api/v1/cases/{id}/replies"),
            Some(r#"{"text": "On s'en occupe."}"#.into()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let view = care.get_json("sup", &format!("/api/v1/cases/{id}")).await;
    assert_eq!(view["status"], "pending");
    assert!(view["first_response_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_connector_fails_twice_is_delivered_exactly_once() {
    let mut care = Care::start(2).await;
    let r = care.ingest(messages(3, 3, start_time())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Customer 2 asked for a refund (billing, b1).
    let case = care.all_cases("sup", "team=billing").await[0].clone();
    let id = case["id"].as_i64().unwrap();
    let suggestions = care
        .get_json("b1", &format!("/api/v1/cases/{id}/suggestions"))
        .await;
    let first = &suggestions["suggestions"][0];
    assert_eq!(first["template"], "ack", "{suggestions}");
    assert_eq!(first["lang"], "fr");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("Bonjour Client2,"),
        "{first}"
    );

    let r = care
        .call(
            "b1",
            "POST",
            &format!("/api/v1/cases/{id}/replies"),
            Some(json!({"template": "ack", "idempotency_key": "k1"}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let reply = r.json();
    // A retried POST with the same key is the same reply.
    let again = care
        .call(
            "b1",
            "POST",
            &format!("/api/v1/cases/{id}/replies"),
            Some(json!({"template": "ack", "idempotency_key": "k1"}).to_string()),
        )
        .await;
    assert_eq!(again.json()["id"], reply["id"]);

    // Attempt 1: 503. Attempt 2 (after the 10 s backoff): made, answer lost. Attempt 3 (20 s
    // later): the stand-in recognises the key and answers with the same status.
    let mastodon = care.mastodon.clone();
    let wait_requests = |n: usize| {
        let m = mastodon.clone();
        async move {
            eventually(&format!("{n} requests at the stand-in"), || {
                let m = m.clone();
                async move { (m.lock().unwrap().requests.len() >= n).then_some(()) }
            })
            .await
        }
    };
    // The clock moves only once the failed attempt is recorded (its retry time is set from the
    // clock as it was then).
    let engine = care.server.engine.clone();
    let requeued = |attempts: i64| {
        let engine = engine.clone();
        async move {
            eventually(&format!("attempt {attempts} recorded"), || {
                let engine = engine.clone();
                async move {
                    let q = engine
                        .outbox(copernic_core::engage::ReplyStatus::Queued, 10)
                        .unwrap();
                    q.first()
                        .is_some_and(|r| r.attempts == attempts)
                        .then_some(())
                }
            })
            .await
        }
    };
    wait_requests(1).await;
    requeued(1).await;
    care.clock.advance(chrono::Duration::seconds(11));
    wait_requests(2).await;
    requeued(2).await;
    care.clock.advance(chrono::Duration::seconds(21));
    wait_requests(3).await;
    let sent = care.first_reply_sent("b1", id).await;
    let r = &sent["replies"][0];
    assert_eq!(r["attempts"], 3);
    assert_eq!(r["remote_id"], "11001");
    // Later passes send nothing more.
    care.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let m = care.mastodon.lock().unwrap();
    assert_eq!(m.requests.len(), 3);
    assert_eq!(m.statuses.len(), 1, "exactly one status made");
    let keys: std::collections::HashSet<_> = m.requests.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), 1, "every attempt carried the same key");
    let status = &m.requests[2].1;
    assert!(
        status["status"]
            .as_str()
            .unwrap()
            .starts_with("@customer2@masto.example Bonjour Client2"),
        "{status}"
    );
    assert_eq!(status["in_reply_to_id"], "st-2");
    drop(m);
    let audit: Vec<String> = sent["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        audit.iter().filter(|a| *a == "reply.retry").count(),
        2,
        "{audit:?}"
    );
    assert_eq!(audit.iter().filter(|a| *a == "reply.sent").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_loses_nothing() {
    // The first process's connector is down: the reply it queues is still waiting at the stop.
    let mut care = Care::start(1).await;
    let body = messages(600, 200, start_time());
    let (first, second): (Vec<&str>, Vec<&str>) = {
        let lines: Vec<&str> = body.lines().collect();
        (lines[..300].to_vec(), lines[300..].to_vec())
    };
    let r = care.ingest(first.join("\n")).await;
    assert_eq!(r.json()["imported"], 300);
    // The rest reaches the store, but the process "dies" before turning it into cases: written
    // by the ingestor directly, with no catch-up, then the server stops.
    let ctx = copernic_pipeline::Context::new("masto", "crash-test");
    let mapping = copernic_pipeline::Mapping {
        channel: Some("mastodon".into()),
        ..Default::default()
    };
    let mut items = Vec::new();
    copernic_pipeline::sources::jsonl::parse_body(
        second.join("\n").as_bytes(),
        None,
        &mapping,
        &ctx,
        &mut |i| items.push(i),
    );
    care.server.ingestor.ingest(items).unwrap();
    // A reply queued before the stop, not yet attempted (its clock is in the future).
    let held = care.all_cases("sup", "team=care").await;
    let held = held.iter().find(|c| c["assignee"].is_string()).unwrap();
    let case = held["id"].as_i64().unwrap();
    let assignee = held["assignee"].as_str().unwrap().to_string();
    let r = care
        .call(
            &assignee,
            "POST",
            &format!("/api/v1/cases/{case}/replies"),
            Some(r#"{"template": "thanks"}"#.into()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let before = care.mastodon.clone();
    eventually("the first attempt", || {
        let m = before.clone();
        async move { (!m.lock().unwrap().requests.is_empty()).then_some(()) }
    })
    .await;
    let dir = care.server.stop().await;
    assert!(before.lock().unwrap().statuses.is_empty());

    let mut care = Care::start_in(dir, 0, false).await;
    // The retry falls due 10 s (of the engine's clock) after the failed attempt.
    care.clock.advance(chrono::Duration::seconds(11));
    eventually("all 600 messages in cases", || {
        let server = &care.server;
        let engine = care.server.engine.clone();
        async move {
            let _ = server;
            let cases = engine
                .cases(
                    &copernic_engage::Principal::open_install(),
                    copernic_store::engage::CaseQuery {
                        limit: 10_000,
                        ..Default::default()
                    },
                )
                .unwrap();
            (cases.iter().map(|c| c.inbound).sum::<i64>() == 600 && cases.len() == 200)
                .then_some(())
        }
    })
    .await;
    let view = care.first_reply_sent("admin", case).await;
    assert_eq!(view["replies"].as_array().unwrap().len(), 1);
    assert_eq!(care.mastodon.lock().unwrap().statuses.len(), 1);
    assert_capacity_respected(&mut care).await;
    // The SLA clocks survived the restart: two hours on, the unanswered cases breach.
    care.clock.advance(chrono::Duration::hours(2));
    let engine = care.server.engine.clone();
    eventually("breaches after the restart", || {
        let engine = engine.clone();
        async move {
            (engine
                .alerts(10)
                .unwrap()
                .iter()
                .any(|a| a.kind == "sla_breach"))
            .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_notes_merge_and_spam_are_audited() {
    let mut care = Care::start(0).await;
    let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
    let url = "http://127.0.0.1:9".to_string();
    // Refunds now need a supervisor's approval.
    let cfg = config(&url, &hash).replace(
        "priority = \"high\"\n",
        "priority = \"high\"\napproval = true\n",
    );
    let r = care
        .call("admin", "POST", "/api/v1/config", Some(cfg))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut body = messages(4, 4, start_time());
    body.push_str(&json!({"id": "spam-1", "text": "Gagnez un iPhone maintenant", "author": "@bot", "author_id": "bot", "created_at": start_time().to_rfc3339()}).to_string());
    body.push('\n');
    let r = care.ingest(body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let spam = care.all_cases("sup", "status=spam").await;
    assert_eq!(spam.len(), 1);
    assert!(spam[0]["assignee"].is_null());

    let billing = care.all_cases("sup", "team=billing").await[0]["id"]
        .as_i64()
        .unwrap();
    let r = care
        .call(
            "b1",
            "POST",
            &format!("/api/v1/cases/{billing}/replies"),
            Some(r#"{"text": "Remboursé."}"#.into()),
        )
        .await;
    assert_eq!(r.status, 201);
    let held = r.json();
    assert_eq!(held["status"], "awaiting_approval");
    care.call(
        "b1",
        "POST",
        &format!("/api/v1/replies/{}/approve", held["id"]),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    let r = care
        .call(
            "sup",
            "POST",
            &format!("/api/v1/replies/{}/approve", held["id"]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "queued");
    assert_eq!(r.json()["approved_by"], "sup");

    // Notes, and a merge of two care cases.
    let care_cases = care.all_cases("sup", "team=care").await;
    let (a, b) = (
        care_cases[0]["id"].as_i64().unwrap(),
        care_cases[1]["id"].as_i64().unwrap(),
    );
    let r = care
        .call(
            "sup",
            "POST",
            &format!("/api/v1/cases/{a}/notes"),
            Some(r#"{"text": "même client ?"}"#.into()),
        )
        .await;
    assert_eq!(r.status, 201);
    care.call(
        "c1",
        "POST",
        &format!("/api/v1/cases/{a}/merge"),
        Some(json!({"from": b}).to_string()),
    )
    .await
    .assert_error(403, "forbidden");
    let r = care
        .call(
            "sup",
            "POST",
            &format!("/api/v1/cases/{a}/merge"),
            Some(json!({"from": b}).to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let view = care.get_json("sup", &format!("/api/v1/cases/{a}")).await;
    assert_eq!(view["inbound"], 2);
    assert_eq!(view["messages"].as_array().unwrap().len(), 2);
    assert_eq!(view["notes"][0]["author"], "sup");
    let actions: Vec<&str> = view["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    for want in ["case.opened", "rules.fired", "note.added", "case.merged"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let audit = care
        .get_json("sup", &format!("/api/v1/audit?case={billing}"))
        .await;
    let who: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["actor"].as_str().unwrap(), x["action"].as_str().unwrap()))
        .collect();
    assert!(
        who.contains(&("b1", "reply.held")) && who.contains(&("sup", "reply.approved")),
        "{who:?}"
    );
    // Coverage, as a viewer: the approved reply answered the billing case's one message.
    let cov = care.get_json("v1", "/api/v1/coverage?by=team").await;
    let rows = cov["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["key"] == "billing")
        .expect("billing row");
    assert_eq!(
        (row["inbound"].as_i64(), row["answered"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(
        row["first_response_median_s"]
            .as_i64()
            .is_some_and(|s| s < 60),
        "{row}"
    );
    assert!(
        rows.iter().all(|r| r["key"] != "-"),
        "spam is not counted: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_reply_answers_first_then_a_person_takes_over() {
    let mut care = Care::start(0).await;
    let hash = copernic_engage::auth::hash_password(PASSWORD).unwrap();
    let url = {
        // The stand-in this Care started with.
        let r = care.get_json("admin", "/api/v1/config").await;
        r["policies"]["connectors"][0]["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let cfg = config(&url, &hash).replace(
        "name = \"refunds\"\nintents = [\"refund\"]\n",
        "name = \"refunds\"\nintents = [\"refund\"]\nauto_reply = \"ack\"\n",
    );
    assert!(cfg.contains("auto_reply = \"ack\""));
    let r = care
        .call("admin", "POST", "/api/v1/config", Some(cfg))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Customer 2 (French) asks for a refund.
    let first = messages(3, 3, start_time());
    let refund_line = first.lines().nth(2).unwrap().to_string();
    let r = care.ingest(refund_line).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let case = care.all_cases("sup", "team=billing").await[0].clone();
    let id = case["id"].as_i64().unwrap();
    assert_eq!(
        case["status"], "pending",
        "answered at once, waiting for the customer"
    );
    assert_eq!(case["auto_replied"], true);
    assert!(case["first_response_at"].is_string());
    assert_eq!(
        case["assignee"], "b1",
        "a person holds the case from the start"
    );
    let mastodon = care.mastodon.clone();
    eventually("the auto-reply at the stand-in", || {
        let m = mastodon.clone();
        async move { (m.lock().unwrap().statuses.len() == 1).then_some(()) }
    })
    .await;
    let sent = mastodon.lock().unwrap().requests[0].1["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sent.contains("Bonjour Client2") && sent.contains(&format!("dossier {id}")),
        "{sent}"
    );

    // The customer answers: the case reopens for b1, with no second auto-reply.
    let again = json!({"id": "st-again", "text": "toujours pas remboursé", "author": "@customer2@masto.example",
        "author_id": "acct-2", "lang": "fr", "intent": "refund", "in_reply_to": "st-2",
        "created_at": start_time().to_rfc3339()});
    let r = care.ingest(again.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let view = care.get_json("b1", &format!("/api/v1/cases/{id}")).await;
    assert_eq!(view["status"], "open");
    assert_eq!(view["assignee"], "b1");
    assert_eq!(view["inbound"], 2);
    assert_eq!(view["replies"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(care.mastodon.lock().unwrap().statuses.len(), 1);
}
