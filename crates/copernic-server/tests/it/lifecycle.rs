//! The server as a whole: the UI page, health, waves, graceful shutdown.

use copernic_core::MessageId;
use copernic_server::ServerConfig;
use copernic_store::{MessageQuery, SqliteStore, Store};

use crate::{assert_id, TestServer};

#[tokio::test]
async fn serves_the_ui_and_health() {
    let s = TestServer::start(ServerConfig::default()).await;
    let page = s.get("/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(page.text().contains("<title>Copernic</title>"));

    let health = s.get("/api/v1/health").await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
}

#[tokio::test]
async fn near_identical_messages_form_one_wave() {
    let s = TestServer::start(ServerConfig::default()).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        // Numbers and @mentions are what bots vary; the words are the same.
        let body = serde_json::json!({
            "id": format!("copy-{i}"),
            "author": format!("@bot{i}"),
            "text": format!(
                "@brand{i} your company charged my card twice for order {} and nobody answers the phone, this is a scam",
                1000 + i
            ),
        })
        .to_string();
        let r = s.post("/api/v1/messages", body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["results"][0]["status"], "accepted");
        ids.push(assert_id(&r.json()["results"][0]["id"]));
    }
    // Something unrelated stays out of the wave.
    let r = s
        .post(
            "/api/v1/messages",
            r#"{"id": "other", "author": "@ana", "text": "I would like to change the delivery address of my parcel please"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let waves = s.get("/api/v1/waves").await;
    assert_eq!(waves.status, 200, "{}", waves.text());
    let waves = waves.json()["waves"].as_array().unwrap().clone();
    assert_eq!(waves.len(), 1, "{waves:?}");
    assert_eq!(waves[0]["size"], 10, "{waves:?}");
    assert_eq!(waves[0]["distinct_authors"], 10, "{waves:?}");
    assert_eq!(waves[0]["head"], ids[0].as_str(), "{waves:?}");

    let members = s.messages(&format!("wave={}&limit=100", ids[0])).await;
    assert_eq!(members.len(), 10);
    assert!(members.iter().all(|m| m["wave"] == ids[0].as_str()));
    let other = MessageId::derive("api", "other");
    let other = s.get(&format!("/api/v1/messages/{other}")).await.json();
    assert!(other["wave"].is_null(), "{other}");

    let stats = s.get("/api/v1/stats").await.json();
    assert_eq!(stats["waves"], 1, "{stats}");
    assert_eq!(stats["messages_in_waves"], 10, "{stats}");
}

#[tokio::test]
async fn graceful_shutdown_finishes_and_the_store_reopens() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/messages",
            r#"{"id": "keep", "text": "Still here after a restart"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The client keeps an idle keep-alive connection: shutdown must not wait on it forever.
    assert_eq!(s.get("/api/v1/health").await.status, 200);

    let dir = s.stop().await;

    let store = SqliteStore::open(dir.path()).expect("the store reopens after shutdown");
    let kept = store
        .message(MessageId::derive("api", "keep"))
        .unwrap()
        .expect("the message survived");
    assert_eq!(kept.ingested.message.text, "Still here after a restart");
    let all = store
        .messages(&MessageQuery {
            limit: 10,
            ..MessageQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 1);
    // One writing process per data folder: a second writer is refused while this one is open.
    let busy = SqliteStore::open(dir.path())
        .err()
        .expect("a second writer is refused");
    assert!(
        busy.to_string().contains("another copernic process"),
        "{busy}"
    );
    drop(store);

    // And a new server over the same folder serves it.
    let s = TestServer::start_in(dir, ServerConfig::default()).await;
    let again = s.messages("search=restart").await;
    assert_eq!(again.len(), 1);
    s.stop().await;
}
