//! `/hooks/{name}`: the verification handshake, signatures, the replay window, body formats.

use copernic_core::MessageId;
use copernic_server::{sign, ServerConfig, WebhookConfig};
use serde_json::json;

use crate::TestServer;

const SECRET: &str = "meta-app-secret";
const TOKEN: &str = "verify-me-please";

fn webhook(v: serde_json::Value) -> WebhookConfig {
    serde_json::from_value(v).expect("webhook config")
}

fn config() -> ServerConfig {
    ServerConfig {
        webhooks: vec![
            webhook(json!({
                "name": "meta",
                "secret": SECRET,
                "verify_token": TOKEN,
                "items": "entry.*.changes.*.value",
                "map": "text=message,author=from.name,id=post_id",
            })),
            webhook(json!({
                "name": "stamped",
                "secret": "stamp-secret",
                "timestamp_header": "X-Timestamp",
            })),
            webhook(json!({
                "name": "masto",
                "secret": "masto-secret",
                "format": "mastodon",
            })),
        ],
        ..ServerConfig::default()
    }
}

const META_BODY: &str = r#"{"object": "page", "entry": [{"id": "111", "time": 1714640000, "changes": [
  {"field": "feed", "value": {"item": "comment", "verb": "add", "post_id": "111_222",
   "message": "Where is my order? It has been two weeks", "from": {"id": "9", "name": "Ana"},
   "created_time": 1714640000}},
  {"field": "feed", "value": {"item": "status", "verb": "add", "post_id": "111_333",
   "message": "Great service today, thank you", "from": {"id": "10", "name": "Bob"},
   "created_time": 1714640001}}
]}]}"#;

#[tokio::test]
async fn verification_handshake() {
    let s = TestServer::start(config()).await;

    let ok = s
        .get(&format!(
            "/hooks/meta?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=123"
        ))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), "123");

    let wrong = s
        .get("/hooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=123")
        .await;
    let message = wrong.assert_error(401, "unauthorized");
    assert!(!message.contains("123"), "{message}");

    let no_token = s
        .get("/hooks/meta?hub.mode=subscribe&hub.challenge=123")
        .await;
    no_token.assert_error(401, "unauthorized");

    let bad_mode = s
        .get(&format!(
            "/hooks/meta?hub.mode=unsubscribe&hub.verify_token={TOKEN}&hub.challenge=123"
        ))
        .await;
    bad_mode.assert_error(400, "bad_request");

    let unknown = s
        .get(&format!(
            "/hooks/nope?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=123"
        ))
        .await;
    assert!(unknown.assert_error(404, "not_found").contains("nope"));

    // A webhook with no verify_token has no handshake.
    s.get("/hooks/stamped?hub.mode=subscribe&hub.verify_token=&hub.challenge=1")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn signed_meta_delivery_stores_every_change() {
    let s = TestServer::start(config()).await;
    let url = s.url("/hooks/meta");

    // Signed with another secret: refused, and nothing stored.
    let forged = s
        .send(
            s.client
                .post(&url)
                .header(
                    "X-Hub-Signature-256",
                    sign("not-the-secret", None, META_BODY.as_bytes()),
                )
                .body(META_BODY),
        )
        .await;
    assert!(forged
        .assert_error(401, "unauthorized")
        .contains("does not match"));
    // A good signature over another body: refused too.
    let tampered = s
        .send(
            s.client
                .post(&url)
                .header("X-Hub-Signature-256", sign(SECRET, None, b"{}"))
                .body(META_BODY),
        )
        .await;
    tampered.assert_error(401, "unauthorized");
    let unsigned = s.send(s.client.post(&url).body(META_BODY)).await;
    assert!(unsigned
        .assert_error(401, "unauthorized")
        .contains("missing"));
    assert!(s.messages("").await.is_empty());
    assert_eq!(s.get("/api/v1/stats").await.json()["rejects"], 0);

    let good = s
        .send(
            s.client
                .post(&url)
                .header(
                    "X-Hub-Signature-256",
                    sign(SECRET, None, META_BODY.as_bytes()),
                )
                .body(META_BODY),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.text());
    let j = good.json();
    assert_eq!(j["imported"], 2, "{j}");
    assert_eq!(
        j["results"][0]["id"],
        MessageId::derive("meta", "111_222").to_hex(),
        "{j}"
    );
    assert_eq!(
        j["results"][1]["id"],
        MessageId::derive("meta", "111_333").to_hex(),
        "{j}"
    );

    let mut stored = s.messages("source=meta").await;
    stored.sort_by_key(|m| m["external_id"].as_str().unwrap().to_string());
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(
        stored[0]["text"],
        "Where is my order? It has been two weeks"
    );
    assert_eq!(stored[0]["author"]["handle"], "Ana");
    assert_eq!(stored[0]["channel"], "meta");
    assert_eq!(stored[1]["text"], "Great service today, thank you");
    assert_eq!(stored[1]["author"]["handle"], "Bob");

    // A platform retry of the same delivery is a duplicate.
    let retry = s
        .send(
            s.client
                .post(&url)
                .header(
                    "X-Hub-Signature-256",
                    sign(SECRET, None, META_BODY.as_bytes()),
                )
                .body(META_BODY),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["duplicates"], 2, "{}", retry.text());
    assert_eq!(s.messages("").await.len(), 2);

    // Unknown hooks are 404 even when signed.
    let unknown = s
        .send(
            s.client
                .post(s.url("/hooks/nope"))
                .header(
                    "X-Hub-Signature-256",
                    sign(SECRET, None, META_BODY.as_bytes()),
                )
                .body(META_BODY),
        )
        .await;
    unknown.assert_error(404, "not_found");
}

#[tokio::test]
async fn timestamped_deliveries_have_a_replay_window() {
    let s = TestServer::start(config()).await;
    let url = s.url("/hooks/stamped");
    let deliver = |ts: i64, signed_ts: Option<i64>, body: &'static str| {
        s.client
            .post(&url)
            .header("X-Timestamp", ts.to_string())
            .header(
                "X-Hub-Signature-256",
                sign("stamp-secret", signed_ts, body.as_bytes()),
            )
            .body(body)
    };
    let now = chrono::Utc::now().timestamp();

    let fresh_body = r#"{"id": "fresh", "text": "Delivered just now"}"#;
    let fresh = s.send(deliver(now, Some(now), fresh_body)).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(fresh.json()["imported"], 1, "{}", fresh.text());

    let old = now - 600;
    let old_body = r#"{"id": "old", "text": "Captured ten minutes ago"}"#;
    let stale = s.send(deliver(old, Some(old), old_body)).await;
    let message = stale.assert_error(401, "unauthorized");
    assert!(message.contains("replay window"), "{message}");

    // The timestamp is part of what is signed: an old signature under a fresh timestamp fails.
    let moved = s.send(deliver(now, Some(old), old_body)).await;
    assert!(moved
        .assert_error(401, "unauthorized")
        .contains("does not match"));
    // A signature over the body alone does not do either.
    s.send(deliver(now, None, old_body))
        .await
        .assert_error(401, "unauthorized");
    // No timestamp at all.
    let bare = s
        .send(
            s.client
                .post(&url)
                .header(
                    "X-Hub-Signature-256",
                    sign("stamp-secret", None, old_body.as_bytes()),
                )
                .body(old_body),
        )
        .await;
    assert!(bare
        .assert_error(401, "unauthorized")
        .contains("missing X-Timestamp"));

    let ids: Vec<_> = s
        .messages("source=stamped")
        .await
        .iter()
        .map(|m| m["external_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["fresh"]);
}

#[tokio::test]
async fn mastodon_webhook_reads_statuses() {
    let s = TestServer::start(config()).await;
    let body = r##"[
      {"id": "109", "url": "https://m.example/@ana/109", "created_at": "2024-05-02T09:30:00.000Z",
       "language": "fr", "content": "<p>Bonjour <a href=\"https://m.example/@brand\">@brand</a>, ma commande n&#39;est pas arriv&eacute;e</p>",
       "account": {"id": "7", "acct": "ana@m.example", "display_name": "Ana"},
       "tags": [], "media_attachments": []},
      {"id": "110", "in_reply_to_id": "109", "created_at": "2024-05-02T09:40:00Z",
       "content": "<p>Merci, on regarde</p>", "account": {"id": "1", "acct": "brand"}},
      {"id": "111", "created_at": "2024-05-02T09:45:00Z", "content": ""}
    ]"##;
    let r = s
        .send(
            s.client
                .post(s.url("/hooks/masto"))
                .header(
                    "X-Hub-Signature-256",
                    sign("masto-secret", None, body.as_bytes()),
                )
                .body(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["imported"], 2, "{j}");
    assert_eq!(j["rejected"], 1, "{j}");
    assert_eq!(j["results"][2]["status"], "rejected", "{j}");
    assert_eq!(j["results"][2]["field"], "content", "{j}");

    let m109 = MessageId::derive("masto", "109");
    let m = s.get(&format!("/api/v1/messages/{m109}")).await;
    assert_eq!(m.status, 200, "{}", m.text());
    let m = m.json();
    assert_eq!(m["text"], "Bonjour @brand, ma commande n'est pas arrivée");
    assert_eq!(m["channel"], "mastodon");
    assert_eq!(m["author"]["handle"], "@ana@m.example");
    assert_eq!(m["lang"], "fr");

    let reply = s
        .get(&format!(
            "/api/v1/messages/{}",
            MessageId::derive("masto", "110")
        ))
        .await
        .json();
    assert_eq!(reply["in_reply_to"], m109.to_hex(), "{reply}");
    assert_eq!(reply["thread_id"], m109.to_hex(), "{reply}");

    // Mastodon bodies are signed like any other.
    let forged = s
        .send(
            s.client
                .post(s.url("/hooks/masto"))
                .header("X-Hub-Signature-256", sign("wrong", None, body.as_bytes()))
                .body(body),
        )
        .await;
    forged.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn an_oversized_delivery_is_413() {
    let mut config = config();
    config.limits.max_document_bytes = 1000;
    let s = TestServer::start(config).await;
    let body = format!("{{\"text\": \"{}\"}}", "b".repeat(2000));
    let r = s
        .send(
            s.client
                .post(s.url("/hooks/stamped"))
                .header(
                    "X-Hub-Signature-256",
                    sign("stamp-secret", None, body.as_bytes()),
                )
                .body(body),
        )
        .await;
    assert!(r.assert_error(413, "payload_too_large").contains("1000"));
    assert!(s.messages("").await.is_empty());
}
