//! Classification over HTTP: every ingested message is classified; a person's correction is
//! logged, changes the message's labels and moves the next prediction.

use copernic_server::ServerConfig;
use serde_json::json;

use crate::{assert_id, TestServer};

#[tokio::test]
async fn messages_are_classified_and_a_correction_moves_the_model() {
    let s = TestServer::start(ServerConfig::default()).await;
    let text = "My new card arrived this morning and works great";
    let r = s
        .post(
            "/api/v1/messages",
            json!({"id": "1", "text": text}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = assert_id(&r.json()["results"][0]["id"]);
    let m = s.get(&format!("/api/v1/messages/{id}")).await.json();
    assert_eq!(m["lang"], "en", "{m}");
    assert!(m["labels"]["intent"].is_string(), "{m}");
    assert!(m["labels"]["sentiment"].is_string(), "{m}");
    assert!(m["labels"]["urgency"].is_number(), "{m}");

    let before = s
        .post("/api/v1/classify", json!({"text": text}).to_string())
        .await
        .json();
    assert_ne!(before["intent"]["label"], "praise", "{before}");
    // A few corrections of the same kind turn the model's answer for this text.
    let mut now = before.clone();
    for _ in 0..8 {
        let r = s
            .post(
                &format!("/api/v1/messages/{id}/labels"),
                json!({"intent": "praise"}).to_string(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        assert_eq!(j["learned"][0]["learned"], true, "{j}");
        assert_eq!(j["message"]["labels"]["intent"], "praise");
        let previous = now["intent"]["score"].as_f64().unwrap();
        now = j["model_now"].clone();
        if now["intent"]["label"] == before["intent"]["label"] {
            // Each correction lowers the model's confidence in its old answer.
            assert!(now["intent"]["score"].as_f64().unwrap() < previous, "{now}");
        }
        if now["intent"]["label"] == "praise" {
            break;
        }
    }
    assert_eq!(
        now["intent"]["label"], "praise",
        "before {before}, now {now}"
    );
    let again = s
        .post("/api/v1/classify", json!({"text": text}).to_string())
        .await
        .json();
    assert_eq!(again["intent"]["label"], "praise");

    // The correction is logged with the text it was made on, and the label is filterable.
    let log = s.get("/api/v1/corrections").await.json();
    assert_eq!(log["corrections"][0]["task"], "intent");
    assert_eq!(log["corrections"][0]["label"], "praise");
    assert_eq!(log["corrections"][0]["text"], text);
    let praised = s.get("/api/v1/messages?label=intent:praise").await.json();
    assert_eq!(praised["messages"].as_array().unwrap().len(), 1);
    s.get("/api/v1/messages?label=colour:red")
        .await
        .assert_error(400, "bad_request");
    s.post(
        &format!("/api/v1/messages/{id}/labels"),
        json!({"mood": "x"}).to_string(),
    )
    .await
    .assert_error(400, "bad_request");
    s.post(
        "/api/v1/messages/00000000000000000000000000000000/labels",
        json!({"intent": "praise"}).to_string(),
    )
    .await
    .assert_error(404, "not_found");
    s.stop().await;
}

#[tokio::test]
async fn french_messages_get_the_french_sentiment_model_and_personal_data_is_flagged() {
    let s = TestServer::start(ServerConfig::default()).await;
    let r = s
        .post(
            "/api/v1/messages",
            json!({"id": "1", "text": "Colis jamais arrivé, service client nul, je suis très déçu. Appelez-moi au 06 12 34 56 78"}).to_string(),
        )
        .await;
    let id = assert_id(&r.json()["results"][0]["id"]);
    let m = s.get(&format!("/api/v1/messages/{id}")).await.json();
    assert_eq!(m["lang"], "fr", "{m}");
    assert_eq!(m["labels"]["sentiment"], "negative", "{m}");
    assert_eq!(m["labels"]["pii"], json!(["phone"]), "{m}");
    let flagged = s.get("/api/v1/messages?label=pii:phone").await.json();
    assert_eq!(flagged["messages"].as_array().unwrap().len(), 1);
    s.stop().await;
}
